import { Duration, Stack, Validations } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import { NodejsFunction, OutputFormat } from 'aws-cdk-lib/aws-lambda-nodejs';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import { Construct } from 'constructs';
import { RUNTIME_CONFIG_ENV } from '../../runtime/gateway/runtime-config';
import { CHINA_REGIONS, ChinaRegion } from '../china/china';
import { grantSecretRead } from '../china/secret-read';
import { GATEWAY_BUNDLE } from '../gateway/bundle';
import { EncryptedLogGroup } from './encrypted-log-group';

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

    this.function = new NodejsFunction(this, 'Function', {
      entry: GATEWAY_BUNDLE.entry,
      handler: props.streaming ? 'streamingHandler' : 'handler',
      runtime: new lambda.Runtime(props.runtime, lambda.RuntimeFamily.NODEJS, { supportsInlineCode: true }),
      architecture: props.architecture === 'arm64' ? lambda.Architecture.ARM_64 : lambda.Architecture.X86_64,
      memorySize: props.memoryMb,
      timeout: props.timeout,
      role,
      vpc: props.vpc,
      vpcSubnets: props.subnets,
      securityGroups: [this.securityGroup],
      logGroup: this.logGroup,
      environment: { [RUNTIME_CONFIG_ENV]: JSON.stringify(props.runtimeSettings), NODE_OPTIONS: '--enable-source-maps' },
      environmentEncryption: props.key,
      description: `cn-llm-kit OpenAI-compatible gateway to Bedrock in ${CHINA_REGIONS[stack.region as ChinaRegion].displayName}`,
      bundling: {
        externalModules: GATEWAY_BUNDLE.external,
        minify: GATEWAY_BUNDLE.minify,
        sourceMap: GATEWAY_BUNDLE.sourceMap,
        format: OutputFormat.CJS,
        target: GATEWAY_BUNDLE.target,
      },
    });
  }
}
