import * as path from 'path';
import { Duration, RemovalPolicy, Stack, Validations } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as ecrAssets from 'aws-cdk-lib/aws-ecr-assets';
import * as ecs from 'aws-cdk-lib/aws-ecs';
import * as elbv2 from 'aws-cdk-lib/aws-elasticloadbalancingv2';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as s3 from 'aws-cdk-lib/aws-s3';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import { Construct } from 'constructs';
import type { z } from 'zod';
import { RUNTIME_CONFIG_ENV } from '../../runtime/gateway/runtime-config';
import { SERVER_CONFIG_ENV, type ServerConfigSchema } from '../../runtime/server/server-config';
import { chinaServiceEndpoint } from '../china/china';
import { grantSecretRead } from '../china/secret-read';
import { KitConfig } from '../config/schema';
import { EncryptedLogGroup } from './encrypted-log-group';
import { InternalEndpoint, InternalTls } from './internal-tls';

const PORT = 8080;
/** The door's name in the private hosted zone: streaming.<internalTls.domain>. */
export const STREAMING_DOOR_LABEL = 'streaming';
const REPOSITORY_ROOT = path.join(__dirname, '..', '..');

export interface StreamingGatewayServiceProps {
  readonly settings: KitConfig['gateway']['streamingDoor'];
  readonly vpc: ec2.IVpc;
  readonly subnets: ec2.SubnetSelection;
  readonly vpcCidr: string;
  readonly key: kms.IKey;
  readonly credentialSecret: secretsmanager.ISecret;
  /** Same gateway settings as the Lambda's, with a container's longer upstream timeout. */
  readonly runtimeSettings: object;
  /** The Node.js base image in the private ECR of the region. */
  readonly baseImage: string;
  readonly apiKeyTableName: string;
  readonly stsAudience: string;
  readonly stsAllowedAccounts: readonly string[];
  readonly accessLogBucket: s3.IBucket;
  readonly logRetentionDays: number;
  /** HTTPS on a private name, or plain HTTP when config chose it. */
  readonly internalTls: InternalTls;
}

/**
 * The gateway as a long-running container on ECS Fargate behind an internal load balancer: the way
 * in for callers inside the VPC that need real token streaming (API Gateway + Lambda buffer in China).
 */
export class StreamingGatewayService extends Construct {
  public readonly service: ecs.FargateService;
  public readonly loadBalancer: elbv2.ApplicationLoadBalancer;
  public readonly apiKeys: dynamodb.Table;
  /** The tasks' security group (the stack opens routes to upstreams on it). */
  public readonly securityGroup: ec2.SecurityGroup;
  public readonly baseUrl: string;
  /** The containers' log group (their request-log lines feed the usage ledger). */
  public readonly logGroup: logs.ILogGroup;

  constructor(scope: Construct, id: string, props: StreamingGatewayServiceProps) {
    super(scope, id);
    const { settings } = props;
    const stack = Stack.of(this);
    const useKeys = settings.auth !== 'STS';
    const useSts = settings.auth !== 'API_KEY';

    this.apiKeys = new dynamodb.Table(this, 'ApiKeys', {
      tableName: props.apiKeyTableName,
      partitionKey: { name: 'keyId', type: dynamodb.AttributeType.STRING },
      billingMode: dynamodb.BillingMode.PAY_PER_REQUEST,
      encryption: dynamodb.TableEncryption.CUSTOMER_MANAGED,
      encryptionKey: props.key,
      pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
      removalPolicy: RemovalPolicy.RETAIN,
    });

    const image = new ecrAssets.DockerImageAsset(this, 'Image', {
      directory: REPOSITORY_ROOT,
      file: 'runtime/server/Dockerfile',
      buildArgs: { BASE_IMAGE: props.baseImage, NPM_REGISTRY: settings.npmRegistry },
      platform: ecrAssets.Platform.LINUX_AMD64,
      // Only what the image build reads: synth copies this context into cdk.out.
      exclude: ['**', '!package.json', '!package-lock.json', '!tsconfig.json', '!runtime/**'],
    });

    const logGroup = (this.logGroup = new EncryptedLogGroup(this, 'Logs', { retentionDays: props.logRetentionDays as logs.RetentionDays, purpose: 'streaming gateway container logs', retain: true, key: props.key }).logGroup);
    const serverConfig: z.input<typeof ServerConfigSchema> = {
      port: PORT,
      region: stack.region,
      ...(useKeys && { apiKeyTable: props.apiKeyTableName, apiKeyCacheSeconds: settings.apiKeyCacheSeconds }),
      ...(useSts && { sts: { audience: props.stsAudience, allowedAccounts: [...props.stsAllowedAccounts], endpoints: [chinaServiceEndpoint('sts', stack.region)] } }),
      drainSeconds: settings.drainSeconds,
      // Longer than the load balancer's idle timeout: it must be the side that closes an idle connection.
      keepAliveTimeoutSeconds: settings.idleTimeoutSeconds + 5,
    };
    const task = new ecs.FargateTaskDefinition(this, 'Task', {
      cpu: settings.cpu,
      memoryLimitMiB: settings.memoryMiB,
      runtimePlatform: { cpuArchitecture: ecs.CpuArchitecture.X86_64, operatingSystemFamily: ecs.OperatingSystemFamily.LINUX },
    });
    task.addContainer('gateway', {
      image: ecs.ContainerImage.fromDockerImageAsset(image),
      readonlyRootFilesystem: true,
      user: '1000',
      portMappings: [{ containerPort: PORT }],
      environment: {
        [RUNTIME_CONFIG_ENV]: JSON.stringify(props.runtimeSettings),
        [SERVER_CONFIG_ENV]: JSON.stringify(serverConfig),
        AWS_REGION: stack.region,
      },
      logging: ecs.LogDrivers.awsLogs({ streamPrefix: 'gateway', logGroup }),
      // SIGTERM, then this long to drain in-flight streams before SIGKILL (Fargate allows up to 120 s).
      stopTimeout: Duration.seconds(Math.min(120, settings.drainSeconds + 10)),
    });
    grantSecretRead(props.credentialSecret, props.key, task.taskRole);
    if (useKeys) {
      this.apiKeys.grant(task.taskRole, 'dynamodb:GetItem');
      // The table is encrypted with the kit's key: reading an item needs kms:Decrypt (grant() alone adds none).
      props.key.grantDecrypt(task.taskRole);
    }
    Validations.of(task.obtainExecutionRole()).acknowledge({
      id: 'AwsSolutions-IAM5[Resource::*]',
      reason: 'ecr:GetAuthorizationToken has no resource-level permissions; image pulls are limited to the asset repository.',
    });
    Validations.of(task).acknowledge({
      id: 'AwsSolutions-ECS2',
      reason: 'The environment holds only non-secret settings (model allow-list, table name, timeouts); the Bedrock key is read from Secrets Manager at run time.',
    });

    const cluster = new ecs.Cluster(this, 'Cluster', { vpc: props.vpc, containerInsightsV2: ecs.ContainerInsights.ENABLED });
    const serviceSg = (this.securityGroup = new ec2.SecurityGroup(this, 'ServiceSecurityGroup', { vpc: props.vpc, description: 'Streaming gateway tasks: from their load balancer only', allowAllOutbound: false }));
    serviceSg.addEgressRule(ec2.Peer.anyIpv4(), ec2.Port.tcp(443), 'HTTPS to Bedrock (NAT) and AWS endpoints');
    this.service = new ecs.FargateService(this, 'Service', {
      cluster,
      taskDefinition: task,
      desiredCount: settings.minTasks,
      assignPublicIp: false,
      vpcSubnets: props.subnets,
      securityGroups: [serviceSg],
      circuitBreaker: { rollback: true },
      minHealthyPercent: 100,
      maxHealthyPercent: 200,
    });

    const albSg = new ec2.SecurityGroup(this, 'LoadBalancerSecurityGroup', { vpc: props.vpc, description: 'Streaming gateway load balancer: callers inside the VPC', allowAllOutbound: false });
    albSg.addIngressRule(ec2.Peer.ipv4(props.vpcCidr), ec2.Port.tcp(props.internalTls.listenerPort), 'Callers inside the VPC');
    albSg.addEgressRule(serviceSg, ec2.Port.tcp(PORT), 'To the gateway tasks');
    serviceSg.addIngressRule(albSg, ec2.Port.tcp(PORT), 'From the load balancer');
    this.loadBalancer = new elbv2.ApplicationLoadBalancer(this, 'LoadBalancer', {
      vpc: props.vpc,
      vpcSubnets: props.subnets,
      internetFacing: false,
      securityGroup: albSg,
      idleTimeout: Duration.seconds(settings.idleTimeoutSeconds),
      dropInvalidHeaderFields: true,
    });
    this.loadBalancer.logAccessLogs(props.accessLogBucket, 'alb/streaming-gateway');
    const targets = new elbv2.ApplicationTargetGroup(this, 'Targets', {
      vpc: props.vpc,
      port: PORT,
      protocol: elbv2.ApplicationProtocol.HTTP,
      targetType: elbv2.TargetType.IP,
      targets: [this.service],
      healthCheck: { path: '/healthz', healthyHttpCodes: '200', interval: Duration.seconds(15), healthyThresholdCount: 2, unhealthyThresholdCount: 3 },
      // Matches the drain: a stopping task finishes its streams while no new request reaches it.
      deregistrationDelay: Duration.seconds(settings.drainSeconds),
    });
    const endpoint = new InternalEndpoint(this, 'Endpoint', {
      tls: props.internalTls,
      loadBalancer: this.loadBalancer,
      label: STREAMING_DOOR_LABEL,
      certificateArn: settings.certificateArn,
      defaultTargetGroups: [targets],
      what: 'streaming door',
    });

    const scaling = this.service.autoScaleTaskCount({ minCapacity: settings.minTasks, maxCapacity: settings.maxTasks });
    scaling.scaleOnCpuUtilization('Cpu', { targetUtilizationPercent: settings.targetCpuPercent });
    scaling.scaleOnRequestCount('Requests', { requestsPerTarget: settings.requestsPerTaskPerMinute, targetGroup: targets });

    this.baseUrl = `${endpoint.origin}/v1`;

    new cloudwatch.Alarm(this, 'UnhealthyTasksAlarm', {
      alarmDescription: 'Streaming door: unhealthy tasks behind its load balancer for 10 minutes',
      metric: targets.metrics.unhealthyHostCount({ period: Duration.minutes(5), statistic: 'Maximum' }),
      threshold: 0,
      evaluationPeriods: 2,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
      treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
    });
    new cloudwatch.Alarm(this, 'ServerErrorsAlarm', {
      alarmDescription: 'Streaming door: more than 10 5xx responses from its tasks in 5 minutes',
      metric: targets.metrics.httpCodeTarget(elbv2.HttpCodeTarget.TARGET_5XX_COUNT, { period: Duration.minutes(5), statistic: 'Sum' }),
      threshold: 10,
      evaluationPeriods: 1,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
      treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
    });
  }
}
