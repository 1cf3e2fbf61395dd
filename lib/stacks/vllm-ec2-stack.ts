import { CfnOutput, Validations } from 'aws-cdk-lib';
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
import { names } from '../config/names';
import { registeredRoutes } from '../config/vllm-routes';
import { VllmRouteRegistration } from '../constructs/route-registry';
import { VllmEc2Service } from '../constructs/vllm-ec2-service';
import { ChinaStack, ChinaStackProps } from './china-stack';
import { kitKey } from '../constructs/kit-key';
import { AlarmTopic } from '../constructs/alarm-topic';
import { InternalTls } from '../constructs/internal-tls';

export interface VllmEc2StackProps extends ChinaStackProps {
  readonly vpc: ec2.IVpc;
  readonly subnets: ec2.SubnetSelection;
  readonly vpcCidr: string;
  readonly weightsKey: kms.IKey;
  readonly vllmRepository: ecr.IRepository;
  readonly registryHost: string;
  readonly accessLogBucket: s3.IBucket;
  /** The Network stack's private zone and CA for the load balancers' HTTPS names. */
  readonly internalTls: InternalTls;
}

export const VLLM_METRIC_NAMESPACE = 'cn-llm-kit/vLLM';

/** Open models served by vLLM on EC2 GPU instances in China, one Auto Scaling group and internal load balancer per model. */
export class VllmEc2Stack extends ChinaStack {
  public readonly services: Record<string, VllmEc2Service> = {};
  public readonly apiKeys: Record<string, secretsmanager.Secret> = {};
  /** Encrypts the API key secrets. */
  public readonly key: kms.Key;

  constructor(scope: Construct, id: string, props: VllmEc2StackProps) {
    super(scope, id, props);
    const { config } = props;
    const n = names(config);

    const key = (this.key = kitKey(this, 'Key', { description: `Encrypts ${config.prefix} vLLM API keys and notifications` }));
    const notifications = new sns.Topic(this, 'ScalingNotifications', { displayName: `${config.prefix} vLLM scaling events`, masterKey: key, enforceSSL: true });
    // Auto Scaling publishes to the encrypted topic.
    key.grant(new iam.ServicePrincipal('autoscaling.amazonaws.com'), 'kms:GenerateDataKey*', 'kms:Decrypt');
    new AlarmTopic(this, 'Alarms', { key, recipients: config.alarms, displayName: `${config.prefix} vLLM` }).notifyOnEveryAlarm(this);

    const imageRef = n.pinnedImage(props.registryHost, 'vllm');
    const dashboard = new cloudwatch.Dashboard(this, 'Dashboard', { dashboardName: `${config.prefix}-vllm` });

    const routes = registeredRoutes(config, 'ec2');
    for (const model of config.models) {
      const apiKey = new secretsmanager.Secret(this, `ApiKey-${model.servedName}`, {
        // Under the prefix the gateway may read: it finds this secret through the route registry, not by reference.
        secretName: n.vllmApiKeySecret('ec2', model.servedName),
        description: `vLLM --api-key for ${model.servedName} (callers send it as a Bearer token)`,
        encryptionKey: key,
        generateSecretString: { passwordLength: 48, excludePunctuation: true },
      });
      Validations.of(apiKey).acknowledge({
        id: 'AwsSolutions-SMG4',
        reason: 'vLLM reads its API key once at start: rotate by putting a new value and refreshing the instances (a new launch template version rolls them one by one).',
      });
      this.apiKeys[model.servedName] = apiKey;

      const service = new VllmEc2Service(this, `Model-${model.servedName}`, {
        model,
        vpc: props.vpc,
        subnets: props.subnets,
        vpcCidr: props.vpcCidr,
        registryHost: props.registryHost,
        image: imageRef,
        repository: props.vllmRepository,
        weightsBucketName: n.weightsBucket,
        weightsKey: props.weightsKey,
        modelPrefix: n.modelPrefix(model),
        apiKeySecret: apiKey,
        apiKeyKey: key,
        accessLogBucket: props.accessLogBucket,
        notifications,
        settings: config.vllmEc2,
        metricNamespace: VLLM_METRIC_NAMESPACE,
        internalTls: props.internalTls,
      });
      this.services[model.servedName] = service;
      // The model's own route and one per LoRA adapter it loads: same server, the adapter's name as the model.
      for (const route of routes.filter((r) => r.host === model.servedName)) {
        const id = route.servedName === model.servedName ? `Route-${model.servedName}` : `Route-${model.servedName}-lora-${route.servedName}`;
        new VllmRouteRegistration(this, id, { config, route, baseUrl: service.baseUrl, apiKeySecretArn: apiKey.secretArn });
      }

      const lb = service.loadBalancer.metrics;
      const gpuMetric = (name: string, label: string) =>
        new cloudwatch.Metric({ namespace: VLLM_METRIC_NAMESPACE, metricName: name, dimensionsMap: { AutoScalingGroupName: service.autoScalingGroup.autoScalingGroupName }, statistic: 'Average', label });
      dashboard.addWidgets(
        new cloudwatch.GraphWidget({ title: `${model.servedName}: requests and 5xx`, left: [lb.requestCount({ statistic: 'Sum' })], right: [service.targetGroup.metrics.httpCodeTarget(elbv2.HttpCodeTarget.TARGET_5XX_COUNT, { statistic: 'Sum' })] }),
        new cloudwatch.GraphWidget({ title: `${model.servedName}: latency`, left: [lb.targetResponseTime({ statistic: 'p50' }), lb.targetResponseTime({ statistic: 'p99' })] }),
        new cloudwatch.GraphWidget({ title: `${model.servedName}: GPU`, left: [gpuMetric('nvidia_smi_utilization_gpu', 'GPU utilisation %')], right: [gpuMetric('nvidia_smi_memory_used', 'GPU memory used')] }),
        new cloudwatch.GraphWidget({
          title: `${model.servedName}: healthy hosts, boot to ready`,
          left: [service.targetGroup.metrics.healthyHostCount()],
          right: [new cloudwatch.Metric({ namespace: VLLM_METRIC_NAMESPACE, metricName: 'BootToReadySeconds', dimensionsMap: { ServedModel: model.servedName }, statistic: 'Maximum' })],
        }),
      );

      const baseUrlOutput = new CfnOutput(this, `BaseUrl-${model.servedName}`, { value: service.baseUrl, description: `OpenAI base URL of ${model.servedName} (inside the VPC)` });
      // Descriptions must be literal text (CloudFormation refuses a function there): name the base URL's output, not its value.
      new CfnOutput(this, `ServedModelName-${model.servedName}`, { value: model.servedName, description: `The "model" callers send to the base URL in output ${this.resolve(baseUrlOutput.logicalId)}` });
      new CfnOutput(this, `ApiKeySecretArn-${model.servedName}`, { value: apiKey.secretArn, description: `Secret holding the API key of ${model.servedName}` });
      // The load balancer's certificate comes from the kit's private CA, which no system trust store holds.
      const caFile = props.internalTls.caCertificateFile;
      new CfnOutput(this, `ExampleCall-${model.servedName}`, {
        value: `curl ${caFile ? `--cacert ${caFile} ` : ''}${service.baseUrl}/chat/completions -H "Authorization: Bearer $(aws secretsmanager get-secret-value --region ${this.region} --secret-id ${apiKey.secretArn} --query SecretString --output text)" -H 'content-type: application/json' -d '{"model":"${model.servedName}","messages":[{"role":"user","content":"你好"}]}'`,
        description: caFile
          ? `Call ${model.servedName} from inside the VPC, with the CA certificate the Network stack's InternalCaCertificateCommand output saves as ${caFile}`
          : `Call ${model.servedName} from inside the VPC`,
      });
    }
  }
}
