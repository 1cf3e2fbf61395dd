import { Duration, Stack, Validations } from 'aws-cdk-lib';
import * as autoscaling from 'aws-cdk-lib/aws-autoscaling';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as ecr from 'aws-cdk-lib/aws-ecr';
import * as elbv2 from 'aws-cdk-lib/aws-elasticloadbalancingv2';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as s3 from 'aws-cdk-lib/aws-s3';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import * as sns from 'aws-cdk-lib/aws-sns';
import { Construct } from 'constructs';
import { grantSecretRead } from '../china/secret-read';
import { KitConfig } from '../config/schema';
import { GPU_INSTANCES } from '../gpu/instances';
import { effectiveDtype, nodeVolumeGiB, tensorParallelSize } from '../gpu/sizing';
import { VLLM_PORT, vllmTaskArgs } from '../vllm/server';
import { gpuMetricsAgentConfig, renderBootScript } from '../vllm/boot-script';
import { adapterSyncList, loraArgs, servedAdapters } from '../vllm/adapters';
import { DISTILL_PATHS } from '../../runtime/operator/distill-layout';
import { grantModelRead } from './grant-model-read';
import { InternalEndpoint, InternalTls } from './internal-tls';

type ServedModel = KitConfig['models'][number];

export interface VllmEc2ServiceProps {
  readonly model: ServedModel;
  readonly vpc: ec2.IVpc;
  readonly subnets: ec2.SubnetSelection;
  /** Literal VPC CIDR: who may call the internal load balancer. */
  readonly vpcCidr: string;
  readonly registryHost: string;
  /** Full image reference in the private ECR (by digest when pinned). */
  readonly image: string;
  readonly repository: ecr.IRepository;
  /** The weights bucket's physical name: policies name literal ARNs that reviewers can read. */
  readonly weightsBucketName: string;
  readonly weightsKey: kms.IKey;
  readonly modelPrefix: string;
  readonly apiKeySecret: secretsmanager.ISecret;
  /** The key encrypting the API key secret. */
  readonly apiKeyKey: kms.IKey;
  readonly accessLogBucket: s3.IBucket;
  readonly notifications: sns.ITopic;
  readonly settings: KitConfig['vllmEc2'];
  readonly metricNamespace: string;
  /** HTTPS on a private name, or plain HTTP when config chose it. */
  readonly internalTls: InternalTls;
}

/** ECS GPU-optimised AL2023: NVIDIA driver, Docker and the NVIDIA container toolkit are already there. */
export const GPU_AMI_PARAMETER = '/aws/service/ecs/optimized-ami/amazon-linux-2023/gpu/recommended/image_id';

/**
 * One served model: GPU instances in an Auto Scaling group behind an internal Application Load
 * Balancer. Instances boot with runtime/vllm/boot-vllm.sh; only Session Manager reaches them.
 */
export class VllmEc2Service extends Construct {
  public readonly autoScalingGroup: autoscaling.AutoScalingGroup;
  public readonly loadBalancer: elbv2.ApplicationLoadBalancer;
  public readonly targetGroup: elbv2.ApplicationTargetGroup;
  public readonly role: iam.Role;
  public readonly baseUrl: string;

  constructor(scope: Construct, id: string, props: VllmEc2ServiceProps) {
    super(scope, id);
    const { model, settings } = props;
    const stack = Stack.of(this);
    const gpu = GPU_INSTANCES[model.instanceType];
    const spec = { ...model, ...model.vllm };
    const s3Uri = `s3://${props.weightsBucketName}/${props.modelPrefix}`;
    const adapters = servedAdapters(model, props.weightsBucketName);

    this.role = new iam.Role(this, 'InstanceRole', {
      assumedBy: new iam.ServicePrincipal('ec2.amazonaws.com'),
      description: `vLLM instances serving ${model.servedName}`,
      managedPolicies: [iam.ManagedPolicy.fromAwsManagedPolicyName('AmazonSSMManagedInstanceCore')],
    });
    Validations.of(this.role).acknowledge({
      id: 'AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/AmazonSSMManagedInstanceCore]',
      reason: 'Session Manager is the only way onto the GPU instances (no key pair, no SSH); this is the AWS managed policy its agent needs.',
    });
    grantModelRead(this.role, {
      bucketName: props.weightsBucketName,
      prefix: props.modelPrefix,
      sids: { read: 'ReadOwnModel', list: 'ListOwnModel' },
      reason: 'Read access is limited to this model\'s own prefix in the weights bucket; the wildcard covers the files of that one model revision.',
    });
    for (const adapter of model.adapters) {
      grantModelRead(this.role, {
        bucketName: props.weightsBucketName,
        prefix: DISTILL_PATHS.adapter(adapter.name, adapter.version),
        reason: `Read access is limited to the prefix of adapter ${adapter.name} ${adapter.version}; the wildcard covers its files.`,
      });
    }
    props.weightsKey.grantDecrypt(this.role);
    props.repository.grantPull(this.role);
    grantSecretRead(props.apiKeySecret, props.apiKeyKey, this.role);
    this.role.addToPolicy(
      new iam.PolicyStatement({ sid: 'PublishMetrics', actions: ['cloudwatch:PutMetricData'], resources: ['*'], conditions: { StringEquals: { 'cloudwatch:namespace': props.metricNamespace } } }),
    );
    Validations.of(this.role).acknowledge({
      id: 'AwsSolutions-IAM5[Resource::*]',
      reason: 'ecr:GetAuthorizationToken and cloudwatch:PutMetricData have no resource-level permissions; PutMetricData is limited to the kit\'s namespace by condition.',
    });

    const instanceSg = new ec2.SecurityGroup(this, 'InstanceSecurityGroup', { vpc: props.vpc, description: `vLLM ${model.servedName}: port ${VLLM_PORT} from its load balancer only`, allowAllOutbound: false });
    instanceSg.addEgressRule(ec2.Peer.anyIpv4(), ec2.Port.tcp(443), 'HTTPS to ECR, S3, Secrets Manager, CloudWatch (VPC endpoints) and package repositories');
    const albSg = new ec2.SecurityGroup(this, 'LoadBalancerSecurityGroup', { vpc: props.vpc, description: `Internal load balancer of vLLM ${model.servedName}`, allowAllOutbound: false });
    albSg.addIngressRule(ec2.Peer.ipv4(props.vpcCidr), ec2.Port.tcp(props.internalTls.listenerPort), 'Callers inside the VPC');

    // boot-vllm.sh puts the weights on the instance-store NVMe disk when the instance has one.
    const volumeGiB = nodeVolumeGiB(settings.baseVolumeGiB, spec, model.vllm.loadFormat === 'local' && gpu.nvmeGB === 0);
    const launchTemplate = new ec2.LaunchTemplate(this, 'LaunchTemplate', {
      machineImage: ec2.MachineImage.fromSsmParameter(GPU_AMI_PARAMETER, { os: ec2.OperatingSystemType.LINUX }),
      instanceType: new ec2.InstanceType(model.instanceType),
      role: this.role,
      securityGroup: instanceSg,
      userData: ec2.UserData.custom(
        renderBootScript({
          REGION: stack.region,
          ECR_REGISTRY: props.registryHost,
          VLLM_IMAGE: props.image,
          MODEL_S3_URI: s3Uri,
          SERVED_MODEL_NAME: model.servedName,
          API_KEY_SECRET_ID: props.apiKeySecret.secretArn,
          MAX_MODEL_LEN: String(model.vllm.maxModelLen),
          GPU_MEMORY_UTILIZATION: String(model.vllm.gpuMemoryUtilization),
          DTYPE: effectiveDtype(spec),
          TENSOR_PARALLEL_SIZE: String(tensorParallelSize(spec)),
          LOAD_FORMAT: model.vllm.loadFormat,
          VLLM_PORT: String(VLLM_PORT),
          METRIC_NAMESPACE: props.metricNamespace,
          HEALTH_TIMEOUT_SECONDS: String(settings.healthCheckGraceSeconds),
          EXTRA_ARGS: [...vllmTaskArgs(model.task), ...model.vllm.extraArgs].join(' '),
          ADAPTERS: adapterSyncList(adapters),
          LORA_ARGS: loraArgs(adapters, model.vllm).join(' '),
          CLOUDWATCH_AGENT_CONFIG: gpuMetricsAgentConfig(props.metricNamespace),
        }),
      ),
      requireImdsv2: true,
      // The Run:ai streamer reads S3 from inside the container, one network hop further from IMDS.
      httpPutResponseHopLimit: model.vllm.loadFormat === 'runai_streamer' ? 2 : 1,
      detailedMonitoring: true,
      associatePublicIpAddress: false,
      blockDevices: [{ deviceName: '/dev/xvda', volume: ec2.BlockDeviceVolume.ebs(volumeGiB, { volumeType: ec2.EbsDeviceVolumeType.GP3, encrypted: true, deleteOnTermination: true }) }],
    });

    const grace = Duration.seconds(settings.healthCheckGraceSeconds);
    this.autoScalingGroup = new autoscaling.AutoScalingGroup(this, 'Instances', {
      vpc: props.vpc,
      vpcSubnets: props.subnets,
      ...(model.spot
        ? {
            mixedInstancesPolicy: {
              launchTemplate,
              instancesDistribution: { onDemandPercentageAboveBaseCapacity: 0, spotAllocationStrategy: autoscaling.SpotAllocationStrategy.PRICE_CAPACITY_OPTIMIZED },
            },
            capacityRebalance: true,
          }
        : { launchTemplate }),
      minCapacity: model.minInstances,
      maxCapacity: model.maxInstances,
      ...(model.desiredInstances !== undefined && { desiredCapacity: model.desiredInstances }),
      healthChecks: autoscaling.HealthChecks.withAdditionalChecks({ additionalTypes: [autoscaling.AdditionalHealthCheckType.ELB], gracePeriod: grace }),
      defaultInstanceWarmup: grace,
      cooldown: Duration.minutes(5),
      notifications: [{ topic: props.notifications, scalingEvents: autoscaling.ScalingEvents.ALL }],
      // A new launch template version (image, model, arguments) replaces instances one at a time.
      updatePolicy: autoscaling.UpdatePolicy.rollingUpdate({ maxBatchSize: 1, minInstancesInService: Math.max(0, model.minInstances - 1), pauseTime: grace }),
    });

    if (model.spot) {
      Validations.of(this.autoScalingGroup).acknowledge({
        id: 'AwsSolutions-EC26',
        reason: 'cdk-nag 3.0.2\'s EC26 throws on Auto Scaling groups with a mixed instances policy (Spot); the launch template it would read encrypts its only EBS volume (gp3, Encrypted: true).',
      });
    }

    this.loadBalancer = new elbv2.ApplicationLoadBalancer(this, 'LoadBalancer', {
      vpc: props.vpc,
      vpcSubnets: props.subnets,
      internetFacing: false,
      securityGroup: albSg,
      // Non-streaming generations send nothing until done: the idle timeout must outlast them.
      idleTimeout: Duration.seconds(600),
      dropInvalidHeaderFields: true,
    });
    this.loadBalancer.logAccessLogs(props.accessLogBucket, `alb/${model.servedName}`);

    this.targetGroup = new elbv2.ApplicationTargetGroup(this, 'Targets', {
      vpc: props.vpc,
      port: VLLM_PORT,
      protocol: elbv2.ApplicationProtocol.HTTP,
      targets: [this.autoScalingGroup],
      // vLLM answers /health only once the model is loaded.
      healthCheck: { path: '/health', healthyHttpCodes: '200', interval: Duration.seconds(30), timeout: Duration.seconds(5), healthyThresholdCount: 2, unhealthyThresholdCount: 5 },
      // Let in-flight generations finish before an instance leaves.
      deregistrationDelay: Duration.seconds(120),
    });
    instanceSg.addIngressRule(albSg, ec2.Port.tcp(VLLM_PORT), 'vLLM from its load balancer');
    albSg.addEgressRule(instanceSg, ec2.Port.tcp(VLLM_PORT), 'To the vLLM instances');

    const endpoint = new InternalEndpoint(this, 'Endpoint', {
      tls: props.internalTls,
      loadBalancer: this.loadBalancer,
      label: model.servedName,
      certificateArn: settings.certificateArn,
      defaultTargetGroups: [this.targetGroup],
      what: `vLLM ${model.servedName}`,
    });
    this.autoScalingGroup.scaleOnRequestCount('RequestsPerInstance', { targetRequestsPerMinute: settings.requestsPerInstancePerMinute, estimatedInstanceWarmup: grace });
    this.baseUrl = `${endpoint.origin}/v1`;

    new cloudwatch.Alarm(this, 'UnhealthyHostsAlarm', {
      alarmDescription: `vLLM ${model.servedName}: unhealthy instances for 15 minutes`,
      metric: this.targetGroup.metrics.unhealthyHostCount({ period: Duration.minutes(5), statistic: 'Maximum' }),
      threshold: 0,
      evaluationPeriods: 3,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
      treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
    });
    new cloudwatch.Alarm(this, 'ServerErrorsAlarm', {
      alarmDescription: `vLLM ${model.servedName}: more than 10 5xx responses in 5 minutes`,
      metric: this.targetGroup.metrics.httpCodeTarget(elbv2.HttpCodeTarget.TARGET_5XX_COUNT, { period: Duration.minutes(5), statistic: 'Sum' }),
      threshold: 10,
      evaluationPeriods: 1,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
      treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
    });
  }
}
