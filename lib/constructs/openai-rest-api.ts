import { ArnFormat, Duration, Stack, Validations } from 'aws-cdk-lib';
import * as apigw from 'aws-cdk-lib/aws-apigateway';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as wafv2 from 'aws-cdk-lib/aws-wafv2';
import { Construct } from 'constructs';
import { gatewayResponseTemplate, PLATFORM_ERROR_TYPES, platformErrors } from '../../runtime/gateway/platform-errors';
import { EncryptedLogGroup } from './encrypted-log-group';

export interface OpenAiRestApiProps {
  readonly name: string;
  readonly handler: lambda.IFunction;
  readonly endpointType: 'REGIONAL' | 'PRIVATE';
  /** PRIVATE only: the VPC endpoint (execute-api) through which alone the API can be called. */
  readonly executeApiEndpoint?: ec2.IInterfaceVpcEndpoint;
  readonly authorization: 'IAM' | 'API_KEY';
  readonly icpLicence?: string;
  readonly streaming: boolean;
  readonly integrationTimeout: Duration;
  readonly rateLimit: number;
  readonly burstLimit: number;
  readonly wafRequestsPer5MinPerIp: number;
  readonly key: kms.IKey;
  readonly logRetentionDays: number;
  /** The largest body the gateway Lambda takes (said in the REQUEST_TOO_LARGE hint). */
  readonly maxBodyBytes: number;
  /** The in-VPC streaming door is deployed: timeout hints point callers to it. @default false */
  readonly streamingDoor?: boolean;
}

interface ManagedRuleGroup {
  readonly name: string;
  /** The group's rules that inspect the request body: counted, never blocking. */
  readonly bodyRules: readonly string[];
}

/**
 * AWS managed rule groups, on what they are for: headers, URI path and query string. Their body
 * rules would block prompts that merely contain code (`<script>`, `../`, `${jndi:`, a metadata URL
 * such as 169.254.169.254, JSON bigger than 8 KB), so they only count; the gateway validates and
 * bounds bodies itself. Rule names: AWS WAF developer guide, "Baseline rule groups".
 */
export const MANAGED_RULE_GROUPS: readonly ManagedRuleGroup[] = [
  {
    name: 'AWSManagedRulesCommonRuleSet',
    bodyRules: ['SizeRestrictions_BODY', 'CrossSiteScripting_BODY', 'GenericLFI_BODY', 'GenericRFI_BODY', 'EC2MetaDataSSRF_BODY'],
  },
  { name: 'AWSManagedRulesKnownBadInputsRuleSet', bodyRules: ['JavaDeserializationRCE_BODY', 'Log4JRCE_BODY'] },
];

/** WAF delivers to CloudWatch Logs only into log groups whose name starts with this. */
const WAF_LOG_GROUP_PREFIX = 'aws-waf-logs-';

/** Request headers that carry credentials (SigV4 signature, session token, API key). */
const CREDENTIAL_HEADERS = ['authorization', 'x-amz-security-token', 'x-api-key'];

/** Bedrock's event stream: API Gateway must pass it as binary (callers send Accept: application/vnd.amazon.eventstream). */
const EVENT_STREAM = 'application/vnd.amazon.eventstream';

/**
 * The OpenAI-compatible REST API in front of the gateway Lambda. REGIONAL or PRIVATE only (EDGE does
 * not exist in China); IAM authorization by default because it works without an ICP licence.
 */
export class OpenAiRestApi extends Construct {
  public readonly api: apigw.RestApi;
  public readonly accessLogs: logs.LogGroup;
  public readonly webAcl: wafv2.CfnWebACL;
  /** WAF's request logs (no bodies; credential headers redacted). */
  public readonly wafLogs: logs.LogGroup;

  constructor(scope: Construct, id: string, props: OpenAiRestApiProps) {
    super(scope, id);
    this.accessLogs = new EncryptedLogGroup(this, 'AccessLogs', {
      retentionDays: props.logRetentionDays as logs.RetentionDays,
      purpose: 'gateway API access logs',
      retain: true,
      key: props.key,
    }).logGroup;

    let policy: iam.PolicyDocument | undefined;
    const endpoint = props.executeApiEndpoint;
    if (props.endpointType === 'PRIVATE') {
      if (!endpoint) throw new Error('OpenAiRestApi: a PRIVATE API needs the execute-api VPC endpoint');
      // Only calls that come through this VPC's endpoint reach the API.
      policy = new iam.PolicyDocument({
        statements: [
          new iam.PolicyStatement({
            principals: [new iam.AnyPrincipal()],
            actions: ['execute-api:Invoke'],
            resources: ['execute-api:/*'],
            conditions: { StringEquals: { 'aws:SourceVpce': endpoint.vpcEndpointId } },
          }),
        ],
      });
    }

    const iamAuth = props.authorization === 'IAM';
    this.api = new apigw.RestApi(this, 'Api', {
      restApiName: props.name,
      description: 'cn-llm-kit OpenAI-compatible endpoint (Bedrock cross-region path)',
      endpointConfiguration: {
        types: [props.endpointType === 'PRIVATE' ? apigw.EndpointType.PRIVATE : apigw.EndpointType.REGIONAL],
        ...(props.endpointType === 'PRIVATE' && endpoint && { vpcEndpoints: [endpoint] }),
      },
      policy,
      binaryMediaTypes: [EVENT_STREAM],
      cloudWatchRole: true,
      deployOptions: {
        stageName: 'prod',
        accessLogDestination: new apigw.LogGroupLogDestination(this.accessLogs),
        accessLogFormat: apigw.AccessLogFormat.custom(
          JSON.stringify({
            requestId: '$context.requestId',
            caller: '$context.identity.userArn',
            apiKeyId: '$context.identity.apiKeyId',
            sourceIp: '$context.identity.sourceIp',
            method: '$context.httpMethod',
            path: '$context.resourcePath',
            status: '$context.status',
            latencyMs: '$context.responseLatency',
            integrationLatencyMs: '$context.integration.latency',
            responseBytes: '$context.responseLength',
            wafStatus: '$context.waf.status',
          }),
        ),
        // Execution logs without request/response bodies: prompts must not land in logs.
        loggingLevel: apigw.MethodLoggingLevel.ERROR,
        dataTraceEnabled: false,
        metricsEnabled: true,
        throttlingRateLimit: props.rateLimit,
        throttlingBurstLimit: props.burstLimit,
      },
      defaultMethodOptions: iamAuth
        ? { authorizationType: apigw.AuthorizationType.IAM }
        : { authorizationType: apigw.AuthorizationType.NONE, apiKeyRequired: true },
    });

    this.answerPlatformErrorsInOpenAiShape(props);

    const validator = this.api.addRequestValidator('JsonBody', { validateRequestBody: true, validateRequestParameters: true });
    const chatModel = this.api.addModel('ChatCompletionRequest', {
      contentType: 'application/json',
      schema: {
        schema: apigw.JsonSchemaVersion.DRAFT4,
        type: apigw.JsonSchemaType.OBJECT,
        required: ['model', 'messages'],
        properties: { model: { type: apigw.JsonSchemaType.STRING }, messages: { type: apigw.JsonSchemaType.ARRAY, minItems: 1 } },
      },
    });
    const converseModel = this.api.addModel('ConverseRequest', {
      contentType: 'application/json',
      schema: {
        schema: apigw.JsonSchemaVersion.DRAFT4,
        type: apigw.JsonSchemaType.OBJECT,
        required: ['messages'],
        properties: { messages: { type: apigw.JsonSchemaType.ARRAY } },
      },
    });

    const integration = new apigw.LambdaIntegration(props.handler, {
      proxy: true,
      timeout: props.integrationTimeout,
      responseTransferMode: props.streaming ? apigw.ResponseTransferMode.STREAM : apigw.ResponseTransferMode.BUFFERED,
    });
    const v1 = this.api.root.addResource('v1');
    const models = v1.addResource('models');
    models.addMethod('GET', integration, { requestValidator: validator });
    models.addResource('{id}').addMethod('GET', integration, { requestValidator: validator, requestParameters: { 'method.request.path.id': true } });
    v1.addResource('chat')
      .addResource('completions')
      .addMethod('POST', integration, { requestValidator: validator, requestModels: { 'application/json': chatModel } });
    const embeddingsModel = this.api.addModel('EmbeddingsRequest', {
      contentType: 'application/json',
      schema: { schema: apigw.JsonSchemaVersion.DRAFT4, type: apigw.JsonSchemaType.OBJECT, required: ['model', 'input'], properties: { model: { type: apigw.JsonSchemaType.STRING } } },
    });
    v1.addResource('embeddings').addMethod('POST', integration, { requestValidator: validator, requestModels: { 'application/json': embeddingsModel } });
    const rerankModel = this.api.addModel('RerankRequest', {
      contentType: 'application/json',
      schema: { schema: apigw.JsonSchemaVersion.DRAFT4, type: apigw.JsonSchemaType.OBJECT, required: ['model', 'query', 'documents'], properties: { model: { type: apigw.JsonSchemaType.STRING }, documents: { type: apigw.JsonSchemaType.ARRAY } } },
    });
    // vLLM, Jina and Cohere clients post rerank requests to these three paths.
    for (const parent of [v1, this.api.root, this.api.root.addResource('v2')]) {
      parent.addResource('rerank').addMethod('POST', integration, { requestValidator: validator, requestModels: { 'application/json': rerankModel } });
    }
    const model = this.api.root.addResource('model').addResource('{modelId}');
    for (const op of ['converse', 'converse-stream']) {
      model.addResource(op).addMethod('POST', integration, {
        requestValidator: validator,
        requestModels: { 'application/json': converseModel },
        requestParameters: { 'method.request.path.modelId': true },
      });
    }

    if (!iamAuth) {
      const plan = this.api.addUsagePlan('UsagePlan', {
        name: `${props.name}-callers`,
        throttle: { rateLimit: props.rateLimit, burstLimit: props.burstLimit },
        apiStages: [{ api: this.api, stage: this.api.deploymentStage }],
      });
      // API Gateway generates the key value: nothing secret is in the template.
      plan.addApiKey(this.api.addApiKey('DefaultKey', { description: 'First caller key; add more in API Gateway' }));
      Validations.of(this.api).acknowledge({
        id: 'ChinaRegion-IamAuthorizedApi',
        reason: `API key authorization chosen in config (gateway.authorization=API_KEY) for an account with ICP licence ${props.icpLicence}.`,
      });
      Validations.of(this.api).acknowledge({
        id: 'AwsSolutions-APIG4',
        reason: `Callers authenticate with API keys and a usage plan (gateway.authorization=API_KEY, ICP licence ${props.icpLicence}); IAM is the default.`,
      });
    }
    Validations.of(this.api).acknowledge({
      id: 'AwsSolutions-COG4',
      reason: 'Cognito user pool authorizers are not supported by API Gateway in the AWS China regions; methods use IAM (SigV4) authorization.',
    });
    const cloudWatchRole = this.api.node.tryFindChild('CloudWatchRole');
    if (cloudWatchRole) {
      Validations.of(cloudWatchRole).acknowledge({
        id: 'AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AmazonAPIGatewayPushToCloudWatchLogs]',
        reason: 'API Gateway\'s account-level logging role writes to log groups API Gateway names itself (API-Gateway-Execution-Logs_<api>/<stage>); the AWS managed policy is the documented grant.',
      });
    }

    this.webAcl = new wafv2.CfnWebACL(this, 'WebAcl', {
      scope: 'REGIONAL',
      defaultAction: { allow: {} },
      visibilityConfig: { cloudWatchMetricsEnabled: true, metricName: `${props.name}-waf`, sampledRequestsEnabled: false },
      rules: [
        {
          name: 'rate-per-ip',
          priority: 0,
          action: { block: {} },
          statement: { rateBasedStatement: { limit: props.wafRequestsPer5MinPerIp, aggregateKeyType: 'IP' } },
          visibilityConfig: { cloudWatchMetricsEnabled: true, metricName: `${props.name}-rate`, sampledRequestsEnabled: false },
        },
        ...MANAGED_RULE_GROUPS.map((group, i) => managedRule(group, i + 1, props.name)),
      ],
    });
    this.wafLogs = new EncryptedLogGroup(this, 'WafLogs', {
      logGroupName: `${WAF_LOG_GROUP_PREFIX}${props.name}`,
      retentionDays: props.logRetentionDays as logs.RetentionDays,
      purpose: 'gateway WAF logs',
      retain: true,
      key: props.key,
    }).logGroup;
    new wafv2.CfnLoggingConfiguration(this, 'WafLogging', {
      resourceArn: this.webAcl.attrArn,
      // WAF wants the log group's ARN without CloudWatch's trailing ":*".
      logDestinationConfigs: [Stack.of(this).formatArn({ service: 'logs', resource: 'log-group', resourceName: this.wafLogs.logGroupName, arnFormat: ArnFormat.COLON_RESOURCE_NAME })],
      // WAF logs carry request headers: credentials must not land in them.
      redactedFields: CREDENTIAL_HEADERS.map((name) => ({ singleHeader: { Name: name } })),
    });
    new wafv2.CfnWebACLAssociation(this, 'WebAclAssociation', { resourceArn: this.api.deploymentStage.stageArn, webAclArn: this.webAcl.attrArn });
  }

  /** API Gateway's own rejections (signature, throttling, size, WAF, timeouts) answer OpenAI-shaped bodies with a hint, not `{"message": ...}`. */
  private answerPlatformErrorsInOpenAiShape(props: OpenAiRestApiProps) {
    const errors = platformErrors({
      region: Stack.of(this).region,
      authorization: props.authorization,
      rateLimit: props.rateLimit,
      burstLimit: props.burstLimit,
      integrationTimeoutSeconds: props.integrationTimeout.toSeconds(),
      maxBodyBytes: props.maxBodyBytes,
      wafRequestsPer5MinPerIp: props.wafRequestsPer5MinPerIp,
      streamingDoor: props.streamingDoor ?? false,
    });
    for (const type of PLATFORM_ERROR_TYPES) {
      const error = errors[type];
      this.api.addGatewayResponse(`PlatformError-${type}`, {
        type: apigw.ResponseType.of(type),
        ...(error.status !== undefined && { statusCode: String(error.status) }),
        responseHeaders: Object.fromEntries(Object.entries(error.headers ?? {}).map(([name, value]) => [name, `'${value}'`])),
        templates: { 'application/json': gatewayResponseTemplate(error) },
      });
    }
  }
}

function managedRule(group: ManagedRuleGroup, priority: number, prefix: string): wafv2.CfnWebACL.RuleProperty {
  const overrides = group.bodyRules.map((rule) => ({ name: rule, actionToUse: { count: {} } }));
  return {
    name: group.name,
    priority,
    overrideAction: { none: {} },
    statement: { managedRuleGroupStatement: { vendorName: 'AWS', name: group.name, ...(overrides.length > 0 && { ruleActionOverrides: overrides }) } },
    visibilityConfig: { cloudWatchMetricsEnabled: true, metricName: `${prefix}-${group.name}`, sampledRequestsEnabled: false },
  };
}
