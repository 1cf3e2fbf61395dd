import { Duration, Stack, Token, Validations } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import { NodejsFunction, OutputFormat } from 'aws-cdk-lib/aws-lambda-nodejs';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import { Construct } from 'constructs';
import { RUNTIME_CONFIG_ENV } from '../../runtime/gateway/runtime-config';
import { CHINA_REGIONS, ChinaRegion } from '../china/china';
import { grantSecretRead } from '../china/secret-read';
import { GATEWAY_BUNDLE } from '../gateway/bundle';
import { EncryptedLogGroup } from './encrypted-log-group';
import { nodeLambdaPlatform } from './lambda-platform';

export interface GatewayFunctionProps {
  readonly vpc: ec2.IVpc;
  readonly subnets: ec2.SubnetSelection;
  readonly credentialSecret: secretsmanager.ISecret;
  readonly key: kms.IKey;
  /** The runtime settings (no secrets), passed as one JSON environment variable. */
  readonly runtimeSettings: object;
  readonly runtime: string;
  readonly architecture: 'x86_64' | 'arm64';
  readonly memoryMb: number;
  readonly timeout: Duration;
  /** Use the response-streaming entry point (API Gateway ResponseTransferMode.STREAM). */
  readonly streaming: boolean;
  readonly logRetentionDays: number;
}

/** The Lambda behind the API: bundled locally with esbuild, in the private subnets so its egress is the NAT IPs. */
export class GatewayFunction extends Construct {
  public readonly function: NodejsFunction;
  public readonly securityGroup: ec2.SecurityGroup;
  public readonly logGroup: logs.LogGroup;
  /** The environment's size once deployed (deploy-time values at their largest likely size), checked against Lambda's 4 KB. */
  public readonly environmentBytes: number;

  constructor(scope: Construct, id: string, props: GatewayFunctionProps) {
    super(scope, id);
    const stack = Stack.of(this);

    this.logGroup = new EncryptedLogGroup(this, 'Logs', {
      retentionDays: props.logRetentionDays as logs.RetentionDays,
      purpose: 'gateway Lambda logs',
      retain: true,
      key: props.key,
    }).logGroup;

    this.securityGroup = new ec2.SecurityGroup(this, 'SecurityGroup', {
      vpc: props.vpc,
      description: 'Gateway Lambda: HTTPS out only (Bedrock through NAT, AWS services through VPC endpoints)',
      allowAllOutbound: false,
    });
    this.securityGroup.addEgressRule(ec2.Peer.anyIpv4(), ec2.Port.tcp(443), 'HTTPS to Bedrock and AWS endpoints');

    // An own role instead of the AWS managed Lambda policies: logs only to its log group.
    const role = new iam.Role(this, 'Role', { assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com'), description: 'cn-llm-kit gateway Lambda' });
    role.addToPolicy(new iam.PolicyStatement({ actions: ['logs:CreateLogStream', 'logs:PutLogEvents'], resources: [this.logGroup.logGroupArn] }));
    role.addToPolicy(
      new iam.PolicyStatement({
        actions: ['ec2:CreateNetworkInterface', 'ec2:DescribeNetworkInterfaces', 'ec2:DescribeSubnets', 'ec2:DeleteNetworkInterface', 'ec2:AssignPrivateIpAddresses', 'ec2:UnassignPrivateIpAddresses'],
        resources: ['*'],
      }),
    );
    Validations.of(role).acknowledge({
      id: 'AwsSolutions-IAM5[Resource::*]',
      reason: 'A Lambda in a VPC manages its network interfaces; EC2 supports no resource-level permissions for these Describe/Create ENI actions.',
    });
    grantSecretRead(props.credentialSecret, props.key, role);

    const environment = { [RUNTIME_CONFIG_ENV]: JSON.stringify(props.runtimeSettings), NODE_OPTIONS: '--enable-source-maps' };
    const size = (this.environmentBytes = deployedEnvironmentBytes(environment, props.runtimeSettings));
    if (size > LAMBDA_ENVIRONMENT_LIMIT_BYTES) {
      throw new Error(
        `cn-llm-kit configuration is too large for the gateway Lambda: its settings take about ${size} bytes of environment once deployed, over Lambda's limit of ${LAMBDA_ENVIRONMENT_LIMIT_BYTES} bytes for all variables (the deploy would fail). ` +
          'They grow with bedrock.models, routing.providers[].models, routing.fallbacks and quotas (groups, principals, prices); the internal CA certificate of internalTls.mode private-ca takes about 1.4 KB. ' +
          'Trim those lists (shorter aliases, fewer models per provider), or serve the rest through the streaming door (gateway.streamingDoor), which has no such limit.',
      );
    }

    this.function = new NodejsFunction(this, 'Function', {
      entry: GATEWAY_BUNDLE.entry,
      handler: props.streaming ? 'streamingHandler' : 'handler',
      ...nodeLambdaPlatform(props.runtime, props.architecture),
      memorySize: props.memoryMb,
      timeout: props.timeout,
      role,
      vpc: props.vpc,
      vpcSubnets: props.subnets,
      securityGroups: [this.securityGroup],
      logGroup: this.logGroup,
      environment,
      environmentEncryption: props.key,
      description: `cn-llm-kit OpenAI-compatible gateway to Bedrock in ${CHINA_REGIONS[stack.region as ChinaRegion].displayName}`,
      bundling: {
        externalModules: GATEWAY_BUNDLE.external,
        minify: GATEWAY_BUNDLE.minify,
        sourceMap: GATEWAY_BUNDLE.sourceMap,
        format: OutputFormat.CJS,
        target: GATEWAY_BUNDLE.target,
        mainFields: GATEWAY_BUNDLE.mainFields,
      },
    });
  }
}

/** Lambda refuses a function whose environment variables (names and values together) exceed 4 KB. */
export const LAMBDA_ENVIRONMENT_LIMIT_BYTES = 4096;

/**
 * The environment's size as deployed. Values that are known only at deploy time count at their
 * largest likely size: a PEM certificate (the kit CA's, under caCertificates) about 1.4 KB, any
 * other (an ARN, a table or secret name) 128 bytes.
 */
export function deployedEnvironmentBytes(environment: Record<string, string>, settings: unknown): number {
  const pemTokens = new Set<string>();
  const visit = (value: unknown, underCa: boolean): void => {
    if (typeof value === 'string' && underCa && Token.isUnresolved(value)) pemTokens.add(value);
    else if (Array.isArray(value)) value.forEach((v) => visit(v, underCa));
    else if (value && typeof value === 'object') for (const [k, v] of Object.entries(value)) visit(v, underCa || k === 'caCertificates');
  };
  visit(settings, false);
  let bytes = 0;
  for (const [name, value] of Object.entries(environment)) {
    let text = value;
    for (const pem of pemTokens) text = text.split(pem).join('x'.repeat(1400));
    bytes += Buffer.byteLength(name) + Buffer.byteLength(text.replace(/\$\{Token\[[^\]]+\]\}/g, 'x'.repeat(128)));
  }
  return bytes;
}
