import { CfnResource } from 'aws-cdk-lib';
import { acknowledgementReason, StandingAcknowledgement } from './compliance-ledger';

/**
 * Why the kit leaves some NIST 800-53 rev 5 findings open by design. The pack is informational (it
 * never fails synth); these reasons appear next to each finding in the compliance report. A
 * finding not covered here stays open in the report for a reviewer to judge.
 */

const NIST = 'NIST.800.53.R5';

const when = (ruleId: string, applies: (node: CfnResource) => boolean, reason: string): StandingAcknowledgement => ({
  ruleId: `${NIST}-${ruleId}`,
  reason: (node) => (applies(node) ? reason : undefined),
});

const ofType = (...types: string[]) => (node: CfnResource) => types.includes(node.cfnResourceType);
const pathEndsWith = (pattern: RegExp) => (node: CfnResource) => pattern.test(node.node.path);

/** A NIST rule that asks what an AwsSolutions rule asks: the construct's acknowledgement of that rule answers both. */
const sameAs = (ruleId: string, awsSolutionsRuleId: string): StandingAcknowledgement => ({
  ruleId: `${NIST}-${ruleId}`,
  reason: (node) => acknowledgementReason(node, awsSolutionsRuleId),
});

export const NIST_ACKNOWLEDGEMENTS: readonly StandingAcknowledgement[] = [
  sameAs('SecretsManagerRotationEnabled', 'AwsSolutions-SMG4'),
  when(
    'IAMNoInlinePolicy',
    ofType('AWS::IAM::Policy'),
    'Each policy is the grant of one role or user, scoped to named resources; a customer managed policy would be a second, separately attachable object with the same statements.',
  ),
  when(
    'VPCNoUnrestrictedRouteToIGW',
    pathEndsWith(/\/EgressSubnet\d+\/DefaultRoute$/),
    'The egress subnets hold only the NAT gateways, whose route to the internet gateway is their purpose; workloads run in private subnets that reach the internet only through NAT.',
  ),
  when(
    'S3DefaultEncryptionKMS',
    pathEndsWith(/\/AccessLogs\/Resource$/),
    'Target bucket of S3 server access logs, which S3 delivers only to buckets encrypted with SSE-S3 (SSE-KMS is not supported for log delivery).',
  ),
  when(
    'S3BucketReplicationEnabled',
    pathEndsWith(/\/(Weights|AccessLogs)\/Resource$/),
    'Weights are a versioned copy that npm run stage-model restages from their source; access logs are kept for the retention period. A replica in the other China region would double multi-GB storage without a recovery need.',
  ),
  when(
    'ELBDeletionProtectionEnabled',
    ofType('AWS::ElasticLoadBalancingV2::LoadBalancer'),
    'Internal load balancers hold no data and are replaced with their stack; deletion protection would block the replacement and cdk destroy.',
  ),
  when(
    'ALBWAFEnabled',
    ofType('AWS::ElasticLoadBalancingV2::LoadBalancer'),
    'Internal load balancer reachable only from the VPC CIDR, called by the kit\'s gateway (itself behind the WAF) with the model\'s API key; the AWS managed rule sets block prompts that quote code.',
  ),
  when(
    'LambdaDLQ',
    ofType('AWS::Lambda::Function'),
    'Invoked synchronously (API Gateway, custom resources): the caller receives the error; a dead-letter queue applies only to asynchronous invocations.',
  ),
  when(
    'LambdaConcurrency',
    ofType('AWS::Lambda::Function'),
    'Concurrency is bounded upstream by the API Gateway stage throttling (gateway.rateLimit, gateway.burstLimit); reserved concurrency would take from the account pool, small by default in China accounts.',
  ),
  when(
    'APIGWCacheEnabledAndEncrypted',
    ofType('AWS::ApiGateway::Stage'),
    'Chat completions are POST requests that are not cacheable; a cache would also store prompts and completions (customer data).',
  ),
  when(
    'APIGWSSLEnabled',
    ofType('AWS::ApiGateway::Stage'),
    'The rule asks for a client certificate towards an HTTP backend; the backend is a Lambda proxy integration, which API Gateway calls with IAM, not TLS client authentication.',
  ),
];
