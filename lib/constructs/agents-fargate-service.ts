import { Duration, Validations } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as ecrAssets from 'aws-cdk-lib/aws-ecr-assets';
import * as ecs from 'aws-cdk-lib/aws-ecs';
import * as elbv2 from 'aws-cdk-lib/aws-elasticloadbalancingv2';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as s3 from 'aws-cdk-lib/aws-s3';
import { Construct } from 'constructs';
import { AGENTS_LABEL } from '../config/names';
import { KitConfig } from '../config/schema';
import { InternalEndpoint, InternalTls } from './internal-tls';

/** The AgentCore Runtime HTTP contract's port, kept on Fargate so one image serves both. */
export const AGENT_PORT = 8080;
/** The audience of the STS tokens callers present to the agents on Fargate (npm run agents -- invoke makes them). */
export const agentsAudience = (prefix: string) => `${prefix}-agents`;

export interface AgentsFargateServiceProps {
  readonly settings: KitConfig['agents']['fargate'];
  readonly image: ecrAssets.DockerImageAsset;
  readonly environment: Record<string, string>;
  readonly vpc: ec2.IVpc;
  readonly subnets: ec2.SubnetSelection;
  readonly vpcCidr: string;
  /** The agents' security group (egress decided by the stack). */
  readonly securityGroup: ec2.SecurityGroup;
  readonly taskRole: iam.IRole;
  readonly logGroup: logs.ILogGroup;
  readonly accessLogBucket: s3.IBucket;
  readonly internalTls: InternalTls;
  readonly invocationTimeoutSeconds: number;
}

/**
 * The agent container on ECS Fargate behind an internal load balancer (agents.platform fargate):
 * the same image and contract as on AgentCore Runtime (POST /invocations, GET /ping), reached over
 * HTTPS on agents.<internalTls.domain> from inside the VPC, like the streaming door.
 */
export class AgentsFargateService extends Construct {
  public readonly service: ecs.FargateService;
  public readonly loadBalancer: elbv2.ApplicationLoadBalancer;
  /** `https://agents.<domain>` (or the load balancer's own name with internalTls.mode plain-http). */
  public readonly origin: string;

  constructor(scope: Construct, id: string, props: AgentsFargateServiceProps) {
    super(scope, id);
    const { settings } = props;
    const task = new ecs.FargateTaskDefinition(this, 'Task', {
      cpu: settings.cpu,
      memoryLimitMiB: settings.memoryMiB,
      taskRole: props.taskRole,
      // AgentCore Runtime needs arm64 images; Fargate runs the same image on Graviton.
      runtimePlatform: { cpuArchitecture: ecs.CpuArchitecture.ARM64, operatingSystemFamily: ecs.OperatingSystemFamily.LINUX },
    });
    task.addContainer('agents', {
      image: ecs.ContainerImage.fromDockerImageAsset(props.image),
      readonlyRootFilesystem: true,
      user: '1000',
      portMappings: [{ containerPort: AGENT_PORT }],
      environment: props.environment,
      logging: ecs.LogDrivers.awsLogs({ streamPrefix: 'agents', logGroup: props.logGroup }),
    });
    Validations.of(task.obtainExecutionRole()).acknowledge({ id: 'AwsSolutions-IAM5[Resource::*]', reason: 'ecr:GetAuthorizationToken has no resource-level permissions; image pulls are limited to the asset repository.' });
    Validations.of(task).acknowledge({ id: 'AwsSolutions-ECS2', reason: 'The environment holds only non-secret settings (agents, model aliases, gateway URL, table name, role ARNs); the agents hold no secret.' });

    const cluster = new ecs.Cluster(this, 'Cluster', { vpc: props.vpc, containerInsightsV2: ecs.ContainerInsights.ENABLED });
    this.service = new ecs.FargateService(this, 'Service', {
      cluster,
      taskDefinition: task,
      desiredCount: settings.tasks,
      assignPublicIp: false,
      vpcSubnets: props.subnets,
      securityGroups: [props.securityGroup],
      circuitBreaker: { rollback: true },
      minHealthyPercent: 100,
      maxHealthyPercent: 200,
    });

    const albSg = new ec2.SecurityGroup(this, 'LoadBalancerSecurityGroup', { vpc: props.vpc, description: 'Agents load balancer: callers inside the VPC', allowAllOutbound: false });
    albSg.addIngressRule(ec2.Peer.ipv4(props.vpcCidr), ec2.Port.tcp(props.internalTls.listenerPort), 'Callers inside the VPC');
    albSg.addEgressRule(props.securityGroup, ec2.Port.tcp(AGENT_PORT), 'To the agent tasks');
    props.securityGroup.addIngressRule(albSg, ec2.Port.tcp(AGENT_PORT), 'From the agents load balancer');
    this.loadBalancer = new elbv2.ApplicationLoadBalancer(this, 'LoadBalancer', {
      vpc: props.vpc,
      vpcSubnets: props.subnets,
      internetFacing: false,
      securityGroup: albSg,
      // An invocation runs all agents of one question before the first byte of the answer.
      idleTimeout: Duration.seconds(Math.max(60, props.invocationTimeoutSeconds + 10)),
      dropInvalidHeaderFields: true,
    });
    this.loadBalancer.logAccessLogs(props.accessLogBucket, 'alb/agents');
    const targets = new elbv2.ApplicationTargetGroup(this, 'Targets', {
      vpc: props.vpc,
      port: AGENT_PORT,
      protocol: elbv2.ApplicationProtocol.HTTP,
      targetType: elbv2.TargetType.IP,
      targets: [this.service],
      healthCheck: { path: '/ping', healthyHttpCodes: '200', interval: Duration.seconds(15), healthyThresholdCount: 2, unhealthyThresholdCount: 3 },
      deregistrationDelay: Duration.seconds(Math.min(300, props.invocationTimeoutSeconds)),
    });
    const endpoint = new InternalEndpoint(this, 'Endpoint', {
      tls: props.internalTls,
      loadBalancer: this.loadBalancer,
      label: AGENTS_LABEL,
      certificateArn: settings.certificateArn,
      defaultTargetGroups: [targets],
      what: 'agents',
    });
    this.origin = endpoint.origin;
  }
}
