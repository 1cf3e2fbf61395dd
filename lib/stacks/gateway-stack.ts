import { CfnOutput, Duration, Validations } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import * as s3 from 'aws-cdk-lib/aws-s3';
import { Construct } from 'constructs';
import { BedrockCredentialSecret } from '../constructs/bedrock-credential-secret';
import { GatewayFunction } from '../constructs/gateway-function';
import { OpenAiRestApi } from '../constructs/openai-rest-api';
import { StreamingGatewayService } from '../constructs/streaming-gateway-service';
import { names } from '../config/names';
import { grantSecretRead } from '../china/secret-read';
import { routeRegistryEnabled } from '../config/vllm-routes';
import { grantRouteRegistryRead } from '../constructs/route-registry';
import { gatewayRuntimeSettings } from '../gateway/runtime-settings';
import { ChinaStack, ChinaStackProps } from './china-stack';
import { kitKey } from '../constructs/kit-key';
import { AlarmTopic } from '../constructs/alarm-topic';
import { InternalTls } from '../constructs/internal-tls';
import { UsageLedger } from '../constructs/usage-ledger';
import { spendWidgets } from '../constructs/spend-widgets';
import { isoDay } from '../bedrock/catalog';
import { warnAboutLifecycles } from './bedrock-access-stack';
import { QuotaStore } from '../constructs/quota-store';
import { budgetedGroups, quotasEnforced } from '../config/schema/quotas';

export interface GatewayStackProps extends ChinaStackProps {
  readonly vpc: ec2.IVpc;
  readonly subnets: ec2.SubnetSelection;
  /** The Network stack's execute-api endpoint (PRIVATE APIs). */
  readonly executeApiEndpoint?: ec2.IInterfaceVpcEndpoint;
  /** For the streaming door: the VPC's literal CIDR, the model store's registry and access log bucket. */
  readonly vpcCidr: string;
  readonly registryHost?: string;
  readonly accessLogBucket?: s3.IBucket;
  /** The Network stack's private zone and CA: the streaming door's HTTPS name, and the CA the gateway trusts for self-hosted routes. */
  readonly internalTls: InternalTls;
}

/** Seconds the Lambda keeps working for the caller: API Gateway gives up at the integration timeout, a stream can run up to 15 minutes. */
function lambdaTimeoutSeconds(streaming: boolean, integrationTimeoutSeconds: number): number {
  return streaming ? 900 : integrationTimeoutSeconds + 1;
}

/**
 * The China side of the cross-region path: an OpenAI-compatible REST API (REGIONAL or PRIVATE, IAM
 * auth) whose Lambda calls Bedrock in the global region with a credential kept in Secrets Manager.
 */
export class GatewayStack extends ChinaStack {
  public readonly key: kms.Key;
  public readonly credential: BedrockCredentialSecret;
  public readonly gatewayFunction: GatewayFunction;
  public readonly restApi: OpenAiRestApi;
  public readonly streamingDoor?: StreamingGatewayService;
  public readonly ledger?: UsageLedger;
  /** The shared quota counters; only when quotas are enforced (a limit configured, or quotas.enabled). */
  public readonly quotaStore?: QuotaStore;

  constructor(scope: Construct, id: string, props: GatewayStackProps) {
    super(scope, id, props);
    const { config } = props;
    const gw = config.gateway;
    const n = names(config);
    // Without the BedrockAccess stack in this app, the gateway is where the allow-list's lifecycle shows.
    if (!config.stacks.bedrockAccess) warnAboutLifecycles(this, config.bedrock.models, isoDay(new Date()));

    this.key = kitKey(this, 'Key', { description: `Encrypts the ${config.prefix} gateway's credential, environment and logs` });
    this.credential = new BedrockCredentialSecret(this, 'BedrockCredential', { key: this.key, secretName: n.credentialSecret });

    // Domestic providers' keys: secrets the operator fills (aws secretsmanager put-secret-value); never in the template.
    const providerSecrets = Object.fromEntries(
      config.routing.providers.map((p) => {
        const secret = new secretsmanager.Secret(this, `Provider-${p.name}`, {
          secretName: n.providerSecret(p.name),
          description: `API key of the ${p.name} model service: put {"apiKey":"..."} after deploy`,
          encryptionKey: this.key,
          // A placeholder, not a key: the gateway answers 503 upstream_key_not_set until the operator puts one.
          generateSecretString: { secretStringTemplate: JSON.stringify({ set: false }), generateStringKey: 'placeholder' },
        });
        Validations.of(secret).acknowledge({ id: 'AwsSolutions-SMG4', reason: `The key is issued by ${p.name}, outside AWS: rotate it in the provider's console and put the new value; the gateway reads it at run time.` });
        return [p.name, secret];
      }),
    );
    if (quotasEnforced(config.quotas)) {
      this.quotaStore = new QuotaStore(this, 'Quotas', { tableName: n.quotaTable, key: this.key, budgetGroups: budgetedGroups(config.quotas), budgetAlarmPercent: config.quotas.budgetAlarmPercent });
    }
    const routing = {
      ...(this.quotaStore && { quotaTableName: n.quotaTable }),
      providerSecretIds: Object.fromEntries(Object.entries(providerSecrets).map(([name, secret]) => [name, secret.secretArn])),
      // Self-hosted routes registered at run time are HTTPS to load balancers with certificates from the kit's private CA.
      internalCaCertificatePem: props.internalTls.rootCertificatePem,
    };

    const timeoutSeconds = lambdaTimeoutSeconds(gw.streaming, gw.integrationTimeoutSeconds);
    const lambdaSettings = gatewayRuntimeSettings(config, { credentialSecretId: this.credential.secret.secretArn, upstreamTimeoutSeconds: timeoutSeconds - 2, integrationTimeoutSeconds: gw.integrationTimeoutSeconds, ...routing });
    this.gatewayFunction = new GatewayFunction(this, 'Gateway', {
      vpc: props.vpc,
      subnets: props.subnets,
      credentialSecret: this.credential.secret,
      key: this.key,
      runtimeSettings: lambdaSettings,
      runtime: config.lambda.runtime,
      architecture: config.lambda.architecture,
      memoryMb: gw.lambdaMemoryMb,
      timeout: Duration.seconds(timeoutSeconds),
      streaming: gw.streaming,
      logRetentionDays: gw.logRetentionDays,
    });

    this.restApi = new OpenAiRestApi(this, 'OpenAi', {
      name: `${config.prefix}-openai`,
      handler: this.gatewayFunction.function,
      endpointType: gw.endpointType,
      executeApiEndpoint: props.executeApiEndpoint,
      authorization: gw.authorization,
      icpLicence: gw.icpLicence,
      streaming: gw.streaming,
      integrationTimeout: Duration.seconds(gw.integrationTimeoutSeconds),
      rateLimit: gw.rateLimit,
      burstLimit: gw.burstLimit,
      wafRequestsPer5MinPerIp: gw.wafRequestsPer5MinPerIp,
      key: this.key,
      logRetentionDays: gw.logRetentionDays,
      maxBodyBytes: lambdaSettings.maxBodyBytes!,
      streamingDoor: gw.streamingDoor.enabled,
    });

    this.addAlarms();
    this.addUsageDashboard();
    new AlarmTopic(this, 'Alarms', { key: this.key, recipients: config.alarms, displayName: `${config.prefix} gateway` }).notifyOnEveryAlarm(this);

    // Every gateway host reads the upstream keys and reaches the vLLM load balancers inside the VPC.
    // Self-hosted routes come from the route registry at run time: the vLLM stacks may deploy later.
    const connectToUpstreams = (role: iam.IRole, securityGroup: ec2.SecurityGroup) => {
      for (const secret of Object.values(providerSecrets)) grantSecretRead(secret, this.key, role);
      if (!routeRegistryEnabled(config)) return;
      grantRouteRegistryRead(role, config);
      // HTTPS (443) is open already; plain HTTP only where a route may use it (internalTls.mode plain-http, the EKS NLBs).
      if (config.internalTls.mode === 'plain-http' || config.stacks.vllmEks) {
        securityGroup.addEgressRule(ec2.Peer.ipv4(props.vpcCidr), ec2.Port.tcp(80), 'HTTP to vLLM load balancers inside the VPC');
      }
    };
    connectToUpstreams(this.gatewayFunction.function.role!, this.gatewayFunction.securityGroup);
    this.quotaStore?.grantCounters(this.gatewayFunction.function.role!);

    const door = gw.streamingDoor;
    if (door.enabled) {
      if (!props.registryHost || !props.accessLogBucket) throw new Error('GatewayStack: the streaming door needs the model store (registry and access log bucket)');
      this.streamingDoor = new StreamingGatewayService(this, 'StreamingDoor', {
        settings: door,
        vpc: props.vpc,
        subnets: props.subnets,
        vpcCidr: props.vpcCidr,
        key: this.key,
        credentialSecret: this.credential.secret,
        // A container is not bound by API Gateway's 29 s: generations may run for minutes.
        runtimeSettings: gatewayRuntimeSettings(config, { credentialSecretId: this.credential.secret.secretArn, upstreamTimeoutSeconds: 600, ...routing }),
        baseImage: n.pinnedImage(props.registryHost, 'node'),
        apiKeyTableName: n.apiKeyTable,
        stsAudience: config.prefix,
        stsAllowedAccounts: door.stsAllowedAccounts ?? [config.china.account],
        accessLogBucket: props.accessLogBucket,
        logRetentionDays: gw.logRetentionDays,
        internalTls: props.internalTls,
      });
      connectToUpstreams(this.streamingDoor.service.taskDefinition.taskRole, this.streamingDoor.securityGroup);
      this.quotaStore?.grantCounters(this.streamingDoor.service.taskDefinition.taskRole);
      new CfnOutput(this, 'StreamingBaseUrl', { value: this.streamingDoor.baseUrl, description: 'OpenAI base URL of the in-VPC streaming door (Bearer API key or STS token)' });
      new CfnOutput(this, 'ApiKeyTableName', { value: this.streamingDoor.apiKeys.tableName, description: 'Caller keys of the streaming door: npm run api-keys -- issue --caller <name>' });
    }

    if (config.ledger.enabled) {
      this.ledger = new UsageLedger(this, 'UsageLedger', {
        settings: config.ledger,
        sources: [{ name: 'Lambda', logGroup: this.gatewayFunction.logGroup }, ...(this.streamingDoor ? [{ name: 'StreamingDoor', logGroup: this.streamingDoor.logGroup }] : [])],
        bucketName: n.ledgerBucket,
        databaseName: n.ledgerDatabase,
        tableName: n.ledgerTable,
        workGroupName: n.ledgerWorkGroup,
        lambdaRuntime: config.lambda.runtime,
        lambdaArchitecture: config.lambda.architecture,
        logRetentionDays: gw.logRetentionDays,
      });
    }

    const url = this.restApi.api.url;
    new CfnOutput(this, 'InvokeUrl', { value: url, description: 'Stage URL of the gateway API' });
    new CfnOutput(this, 'OpenAiBaseUrl', { value: `${url}v1`, description: 'base_url for OpenAI SDKs (requests must be SigV4-signed for execute-api)' });
    new CfnOutput(this, 'CredentialSecretArn', { value: this.credential.secret.secretArn, description: 'Secret npm run link-credentials writes the global access key into' });
    new CfnOutput(this, 'CurlExample', {
      value: `curl --aws-sigv4 "aws:amz:${this.region}:execute-api" --user "$AWS_ACCESS_KEY_ID:$AWS_SECRET_ACCESS_KEY" -H "x-amz-security-token: $AWS_SESSION_TOKEN" -H "content-type: application/json" -d '{"model":"${config.bedrock.models[0].alias}","messages":[{"role":"user","content":"你好"}]}' ${url}v1/chat/completions`,
      description: 'Call the gateway with China IAM credentials',
    });
  }

  /** Usage metering: tokens and latency per model and per caller, from the gateway's embedded metrics. */
  private addUsageDashboard() {
    const search = (dimension: string, metric: string, stat: string) =>
      new cloudwatch.MathExpression({ expression: `SEARCH('{cn-llm-kit/Gateway,${dimension}} MetricName="${metric}"', '${stat}', 300)`, label: `${metric} by ${dimension}`, period: Duration.minutes(5) });
    const dashboard = new cloudwatch.Dashboard(this, 'UsageDashboard', { dashboardName: `${this.config.prefix}-gateway-usage` });
    dashboard.addWidgets(
      new cloudwatch.GraphWidget({ title: 'Output tokens by model', left: [search('Model', 'OutputTokens', 'Sum')], width: 12 }),
      new cloudwatch.GraphWidget({ title: 'Input tokens by model', left: [search('Model', 'InputTokens', 'Sum')], width: 12 }),
      new cloudwatch.GraphWidget({ title: 'Output tokens by caller', left: [search('Caller', 'OutputTokens', 'Sum')], width: 12 }),
      new cloudwatch.GraphWidget({ title: 'Latency p99 by model (ms)', left: [search('Model', 'LatencyMs', 'p99')], width: 12 }),
      ...spendWidgets(quotasEnforced(this.config.quotas)),
    );
  }

  private addAlarms() {
    const { alarms } = this.config.gateway;
    const api = this.restApi.api;
    const period = Duration.minutes(5);
    new cloudwatch.Alarm(this, 'ErrorRateAlarm', {
      alarmDescription: `Gateway 5xx responses above ${alarms.errorRatePercent}% of requests`,
      metric: new cloudwatch.MathExpression({
        expression: '100 * errors / MAX([requests, 1])',
        usingMetrics: { errors: api.metricServerError({ period, statistic: 'Sum' }), requests: api.metricCount({ period, statistic: 'Sum' }) },
        period,
      }),
      threshold: alarms.errorRatePercent,
      evaluationPeriods: 1,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
      treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
    });
    new cloudwatch.Alarm(this, 'ThrottleAlarm', {
      alarmDescription: `More than ${alarms.throttlesPer5Min} requests throttled by Bedrock in 5 minutes (after retries)`,
      metric: new cloudwatch.Metric({ namespace: 'cn-llm-kit/Gateway', metricName: 'Throttled', statistic: 'Sum', period }),
      threshold: alarms.throttlesPer5Min,
      evaluationPeriods: 1,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
      treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
    });
    new cloudwatch.Alarm(this, 'LatencyP99Alarm', {
      alarmDescription: `Gateway p99 latency above ${alarms.p99LatencyMs} ms`,
      metric: api.metricLatency({ period, statistic: 'p99' }),
      threshold: alarms.p99LatencyMs,
      evaluationPeriods: 3,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
      treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
    });
  }
}
