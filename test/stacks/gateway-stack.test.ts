import { execFile } from 'child_process';
import { promisify } from 'util';
import * as fs from 'fs';
import * as path from 'path';
import { Match, Template } from 'aws-cdk-lib/assertions';
import { BedrockFake } from '../fakes/bedrock-fake';
import { checkChinaPartition } from '../helpers/partition';
import { kitApp } from '../helpers/kit-app';
import { referencedStacks, resourcesOf } from '../helpers/template';

/** The gateway Lambda's run-time settings (its environment); tokens (ARNs, imported values) read as `placeholder`. */
function gatewaySettingsOf(template: Template, placeholder = 'TOKEN') {
  const fn = resourcesOf(template, 'AWS::Lambda::Function').find((f) => f.Properties.Handler === 'index.handler')!.Properties;
  const parts: unknown[] = fn.Environment.Variables.CNLLM_GATEWAY_CONFIG['Fn::Join'][1];
  return { settings: JSON.parse(parts.map((p) => (typeof p === 'string' ? p : placeholder)).join('')), tokens: parts.filter((p) => typeof p !== 'string').map((p) => JSON.stringify(p)) };
}
import { chinaFindings, nagFindings } from '../helpers/nag';

const ROUTE_PATH = 'arn:aws-cn:ssm:cn-northwest-1:111122223333:parameter/cnllm/routes';
const VLLM_KEYS = 'arn:aws-cn:secretsmanager:cn-northwest-1:111122223333:secret:cnllm/vllm/*';

/** The route registry read, granted by literal China ARNs: the kit's route hierarchy, its vLLM keys, decrypted only through Secrets Manager. */
function expectRegistryRead(statements: any[]) {
  expect(statements).toContainEqual({ Action: 'ssm:GetParametersByPath', Effect: 'Allow', Resource: ROUTE_PATH });
  expect(statements.find((s) => JSON.stringify(s.Action).includes('secretsmanager:GetSecretValue')).Resource).toContain(VLLM_KEYS);
  expect(statements).toContainEqual({
    Action: 'kms:Decrypt',
    Effect: 'Allow',
    Resource: 'arn:aws-cn:kms:cn-northwest-1:111122223333:key/*',
    Condition: {
      StringLike: { 'kms:EncryptionContext:SecretARN': VLLM_KEYS },
      StringEquals: { 'kms:ViaService': ['secretsmanager.cn-northwest-1.amazonaws.com', 'secretsmanager.cn-northwest-1.amazonaws.com.cn'] },
    },
  });
}


describe('Gateway stack (default: REGIONAL, IAM, buffered)', () => {
  const { kit } = kitApp();
  const stack = kit.gateway!;
  const template = Template.fromStack(stack);
  const json = template.toJSON();

  test('a REGIONAL REST API whose every method is IAM-authorized and validated', () => {
    template.hasResourceProperties('AWS::ApiGateway::RestApi', { EndpointConfiguration: { Types: ['REGIONAL'] }, BinaryMediaTypes: ['application/vnd.amazon.eventstream'] });
    const methods = resourcesOf(template, 'AWS::ApiGateway::Method');
    // models, models/{id}; chat/completions, converse, converse-stream, embeddings, and rerank under /v1, / and /v2.
    expect(methods.map((m) => m.Properties.HttpMethod).sort()).toEqual(['GET', 'GET', 'POST', 'POST', 'POST', 'POST', 'POST', 'POST', 'POST']);
    for (const m of methods) {
      expect(m.Properties.AuthorizationType).toBe('AWS_IAM');
      expect(m.Properties.RequestValidatorId).toBeDefined();
      expect(m.Properties.Integration).toEqual(expect.objectContaining({ Type: 'AWS_PROXY', TimeoutInMillis: 29000 }));
    }
    template.hasResourceProperties('AWS::ApiGateway::Model', { Schema: Match.objectLike({ required: ['model', 'messages'] }) });
    template.hasResourceProperties('AWS::ApiGateway::Model', { Schema: Match.objectLike({ required: ['model', 'input'] }) });
    template.hasResourceProperties('AWS::ApiGateway::Model', { Schema: Match.objectLike({ required: ['model', 'query', 'documents'] }) });
  });

  test('access logs, execution logs without bodies, metrics and throttling on the stage', () => {
    template.hasResourceProperties('AWS::ApiGateway::Stage', {
      StageName: 'prod',
      AccessLogSetting: { DestinationArn: Match.anyValue(), Format: Match.stringLikeRegexp('\\$context.identity.userArn') },
      MethodSettings: [Match.objectLike({ LoggingLevel: 'ERROR', DataTraceEnabled: false, MetricsEnabled: true, ThrottlingRateLimit: 20, ThrottlingBurstLimit: 40 })],
    });
  });

  test('a regional WAF web ACL with a per-IP rate limit and AWS managed rules, attached to the stage', () => {
    const acl = resourcesOf(template, 'AWS::WAFv2::WebACL')[0].Properties;
    expect(acl.Scope).toBe('REGIONAL');
    expect(acl.Rules.map((r: any) => r.Name)).toEqual(['rate-per-ip', 'AWSManagedRulesCommonRuleSet', 'AWSManagedRulesKnownBadInputsRuleSet']);
    expect(acl.Rules[0].Statement.RateBasedStatement).toEqual({ Limit: 3000, AggregateKeyType: 'IP' });
    template.resourceCountIs('AWS::WAFv2::WebACLAssociation', 1);
  });

  test('prompts with code in them are not blocked: every body-inspecting managed rule only counts', () => {
    const acl = resourcesOf(template, 'AWS::WAFv2::WebACL')[0].Properties;
    const counted = (group: string) => {
      const rule = acl.Rules.find((r: any) => r.Name === group);
      expect(rule.OverrideAction).toEqual({ None: {} });
      return Object.fromEntries(rule.Statement.ManagedRuleGroupStatement.RuleActionOverrides.map((o: any) => [o.Name, o.ActionToUse]));
    };
    // The rules that inspect the body (AWS WAF developer guide, baseline rule groups): <script>, ../, http:// includes, 169.254.169.254, > 8 KB, ${jndi:, Java serialisation.
    expect(counted('AWSManagedRulesCommonRuleSet')).toEqual({
      SizeRestrictions_BODY: { Count: {} },
      CrossSiteScripting_BODY: { Count: {} },
      GenericLFI_BODY: { Count: {} },
      GenericRFI_BODY: { Count: {} },
      EC2MetaDataSSRF_BODY: { Count: {} },
    });
    expect(counted('AWSManagedRulesKnownBadInputsRuleSet')).toEqual({ Log4JRCE_BODY: { Count: {} }, JavaDeserializationRCE_BODY: { Count: {} } });
  });

  test('WAF logs go to a KMS-encrypted aws-waf-logs- group that CloudWatch Logs of the China region may use, credentials redacted', () => {
    const logging = resourcesOf(template, 'AWS::WAFv2::LoggingConfiguration')[0].Properties;
    expect(logging.RedactedFields).toEqual([{ SingleHeader: { Name: 'authorization' } }, { SingleHeader: { Name: 'x-amz-security-token' } }, { SingleHeader: { Name: 'x-api-key' } }]);
    const [groupId, group] = Object.entries(template.findResources('AWS::Logs::LogGroup')).find(([, g]) => g.Properties.LogGroupName === 'aws-waf-logs-cnllm-openai')!;
    // The group's ARN without CloudWatch's ":*" (WAF refuses that form); the Ref also orders the deploy.
    expect(logging.LogDestinationConfigs).toEqual([{ 'Fn::Join': ['', ['arn:aws-cn:logs:cn-northwest-1:111122223333:log-group:', { Ref: groupId }]] }]);
    const keyId = group.Properties.KmsKeyId['Fn::GetAtt'][0];
    const keyPolicy = JSON.stringify(json.Resources[keyId].Properties.KeyPolicy);
    expect(keyPolicy).toContain('"Service":"logs.cn-northwest-1.amazonaws.com.cn"');
  });

  test('API Gateway\'s own rejections answer OpenAI-shaped bodies with a hint and the right status', () => {
    const responses: Record<string, any> = Object.fromEntries(resourcesOf(template, 'AWS::ApiGateway::GatewayResponse').map((r) => [r.Properties.ResponseType, r.Properties]));
    expect(Object.keys(responses)).toEqual(expect.arrayContaining(['MISSING_AUTHENTICATION_TOKEN', 'INVALID_SIGNATURE', 'EXPIRED_TOKEN', 'ACCESS_DENIED', 'THROTTLED', 'REQUEST_TOO_LARGE', 'WAF_FILTERED', 'INTEGRATION_TIMEOUT', 'DEFAULT_4XX', 'DEFAULT_5XX']));
    expect(responses.THROTTLED).toEqual(expect.objectContaining({ StatusCode: '429', ResponseParameters: { 'gatewayresponse.header.Retry-After': "'1'" } }));
    expect(responses.DEFAULT_4XX.StatusCode).toBeUndefined();
    for (const response of Object.values(responses)) {
      const body = JSON.parse(response.ResponseTemplates['application/json'].replace('$context.error.messageString', '"Forbidden"').replace('$context.requestId', 'r-1'));
      expect(Object.keys(body.error).sort()).toEqual(['code', 'message', 'param', 'type']);
    }
    expect(responses.MISSING_AUTHENTICATION_TOKEN.ResponseTemplates['application/json']).toContain('curl --aws-sigv4 \\"aws:amz:cn-northwest-1:execute-api\\"');
  });

  test('the Lambda runs the China-confirmed runtime in the private subnets, with HTTPS-only egress', () => {
    const fn = resourcesOf(template, 'AWS::Lambda::Function').find((f) => f.Properties.Handler === 'index.handler')!.Properties;
    expect(fn.Runtime).toBe('nodejs22.x');
    expect(fn.Architectures).toEqual(['x86_64']);
    expect(fn.Timeout).toBe(30);
    expect(fn.VpcConfig.SubnetIds).toHaveLength(3);
    for (const id of fn.VpcConfig.SubnetIds) expect(JSON.stringify(id)).toMatch(/WorkloadsSubnet/);
    expect(fn.KmsKeyArn).toBeDefined();
    template.hasResourceProperties('AWS::EC2::SecurityGroup', {
      GroupDescription: Match.stringLikeRegexp('^Gateway Lambda'),
      // The registered vLLM service answers HTTPS on its private name (internalTls): no plain-HTTP egress.
      SecurityGroupEgress: [{ CidrIp: '0.0.0.0/0', FromPort: 443, ToPort: 443, IpProtocol: 'tcp', Description: 'HTTPS to Bedrock and AWS endpoints' }],
    });
  });

  test('the credential lives only in a KMS-encrypted secret: the environment names it, never holds it', () => {
    const secret = resourcesOf(template, 'AWS::SecretsManager::Secret')[0].Properties;
    expect(secret.KmsKeyId).toBeDefined();
    expect(secret.GenerateSecretString).toEqual({ SecretStringTemplate: '{"linked":false}', GenerateStringKey: 'placeholder' });
    const fn = resourcesOf(template, 'AWS::Lambda::Function').find((f) => f.Properties.Handler === 'index.handler')!.Properties;
    const env = JSON.stringify(fn.Environment);
    expect(env).toContain('credentialSecretId');
    expect(env).not.toMatch(/secretAccessKey|AKIA|accessKeyId/);
    const { settings } = gatewaySettingsOf(template, 'ARN');
    expect(settings).toEqual(
      expect.objectContaining({
        bedrockRegion: 'us-east-1',
        secretRegion: 'cn-northwest-1',
        logContent: false,
        models: [
          // What each model can be asked beyond plain chat (Nova: a forced tool for JSON, no prompt caching unless listed).
          { alias: 'nova-micro', modelId: 'us.amazon.nova-micro-v1:0', created: 0, route: 'bedrock', reasoning: 'none', structuredOutput: 'tool', promptCaching: 'off', kind: 'chat' },
          { alias: 'nova-lite', modelId: 'us.amazon.nova-lite-v1:0', created: 0, route: 'bedrock', reasoning: 'none', structuredOutput: 'tool', promptCaching: 'off', kind: 'chat' },
          { alias: 'nova-pro', modelId: 'us.amazon.nova-pro-v1:0', created: 0, route: 'bedrock', reasoning: 'none', structuredOutput: 'tool', promptCaching: 'off', kind: 'chat' },
          { alias: 'nova-2-lite', modelId: 'us.amazon.nova-2-lite-v1:0', created: 0, route: 'bedrock', reasoning: 'effort', structuredOutput: 'tool', promptCaching: 'off', kind: 'chat' },
        ],
        // Self-hosted routes are read from Parameter Store at run time, not fixed in the environment; they are
        // HTTPS on private names, trusting the kit's private CA (its root certificate, a deploy-time value).
        upstreams: [],
        routeRegistry: { parameterPath: '/cnllm/routes', region: 'cn-northwest-1', refreshSeconds: 60, timeoutMs: 28000, maxAttempts: 2, caCertificates: ['ARN'] },
        residency: 'any',
        timeouts: { connectMs: 3000, requestMs: 28000 },
      }),
    );
  });

  test('the Lambda role reads only its secrets (the Bedrock credential, its kit\'s vLLM keys) and route parameters, and writes only its log group; no AWS managed policies', () => {
    const role = resourcesOf(template, 'AWS::IAM::Role').find((r) => r.Properties.Description === 'cn-llm-kit gateway Lambda')!.Properties;
    expect(role.ManagedPolicyArns).toBeUndefined();
    const policy = resourcesOf(template, 'AWS::IAM::Policy').find((p) => JSON.stringify(p.Properties.Roles).includes('GatewayRole'))!.Properties.PolicyDocument;
    const secretReads = policy.Statement.filter((s: any) => JSON.stringify(s.Action).includes('secretsmanager:GetSecretValue'));
    // One statement (CDK merges them) naming exactly the two secrets.
    expect(secretReads).toHaveLength(1);
    expect(secretReads[0].Resource).toHaveLength(2);
    const resources = secretReads[0].Resource.map((r: unknown) => JSON.stringify(r));
    expect(resources.filter((r: string) => /BedrockCredentialSecret/.test(r))).toHaveLength(1);
    expectRegistryRead(policy.Statement);
    // Values come from the network only: the vLLM stacks may deploy before, after or never.
    expect(referencedStacks(json)).toEqual(['cnllm-Network']);
    expect(JSON.stringify(json)).not.toMatch(/VllmEc2|VllmEks/);
  });

  test('alarms on 5xx rate, Bedrock throttles and p99 latency', () => {
    const alarms = resourcesOf(template, 'AWS::CloudWatch::Alarm').map((a) => a.Properties);
    for (const alarm of alarms) expect([alarm.AlarmActions, alarm.OKActions]).toEqual([[{ Ref: expect.stringMatching(/^AlarmsTopic/) }], [{ Ref: expect.stringMatching(/^AlarmsTopic/) }]]);
    expect(alarms.map((a) => a.AlarmDescription)).toEqual([
      'Gateway 5xx responses above 5% of requests',
      'More than 10 requests throttled by Bedrock in 5 minutes (after retries)',
      'Gateway p99 latency above 20000 ms',
    ]);
    expect(alarms[1]).toEqual(expect.objectContaining({ Namespace: 'cn-llm-kit/Gateway', MetricName: 'Throttled' }));
    expect(alarms[2]).toEqual(expect.objectContaining({ MetricName: 'Latency', ExtendedStatistic: 'p99' }));
  });

  test('outputs the invoke URL, the OpenAI base URL, the secret and a curl example with SigV4', () => {
    expect(Object.keys(json.Outputs)).toEqual(expect.arrayContaining(['InvokeUrl', 'OpenAiBaseUrl', 'CredentialSecretArn', 'CurlExample']));
    const url = JSON.stringify(json.Outputs.InvokeUrl.Value);
    expect(url).toContain('.execute-api.cn-northwest-1.');
    expect(url).toContain('AWS::URLSuffix');
    expect(JSON.stringify(json.Outputs.CurlExample.Value)).toContain('--aws-sigv4 \\"aws:amz:cn-northwest-1:execute-api\\"');
  });

  test('every ARN is arn:aws-cn:, zero unacknowledged findings, ChinaRegion clean', () => {
    expect(checkChinaPartition(json, { region: 'cn-northwest-1', account: '111122223333', globalAccounts: ['444455556666'] }).wrong).toEqual([]);
    expect(nagFindings(stack).filter((f) => f.severity === 'error')).toEqual([]);
    expect(chinaFindings(stack)).toEqual([]);
  });

  test('template snapshot', () => {
    expect(json).toMatchSnapshot();
  });
});

describe('Gateway stack options', () => {
  test('streaming: the response-streaming integration and entry point, and a 15-minute Lambda', () => {
    const t = Template.fromStack(kitApp({ 'gateway.streaming': 'true' }).kit.gateway!);
    const fn = resourcesOf(t, 'AWS::Lambda::Function').find((f) => f.Properties.Handler === 'index.streamingHandler')!.Properties;
    expect(fn.Timeout).toBe(900);
    for (const m of resourcesOf(t, 'AWS::ApiGateway::Method')) {
      expect(m.Properties.Integration.ResponseTransferMode).toBe('STREAM');
      expect(JSON.stringify(m.Properties.Integration.Uri)).toContain('response-streaming-invocations');
    }
  });

  test('API keys (with an ICP licence): key + usage plan, and the ICP finding acknowledged with the licence', () => {
    const { kit, ledger, app } = kitApp({ 'gateway.authorization': 'API_KEY', 'gateway.icpLicence': '宁ICP备12345678号' });
    const t = Template.fromStack(kit.gateway!);
    for (const m of resourcesOf(t, 'AWS::ApiGateway::Method')) expect(m.Properties).toEqual(expect.objectContaining({ AuthorizationType: 'NONE', ApiKeyRequired: true }));
    t.resourceCountIs('AWS::ApiGateway::UsagePlan', 1);
    t.resourceCountIs('AWS::ApiGateway::ApiKey', 1);
    expect(resourcesOf(t, 'AWS::ApiGateway::ApiKey')[0].Properties.Value).toBeUndefined();
    app.synth();
    const icp = ledger.evaluations.filter((e) => e.ruleId === 'ChinaRegion-IamAuthorizedApi' && e.stackName === 'cnllm-Gateway' && e.outcome !== 'not-applicable');
    expect(icp).toHaveLength(9);
    for (const e of icp) expect(e).toEqual(expect.objectContaining({ outcome: 'acknowledged', reason: expect.stringContaining('宁ICP备12345678号') }));
  });

  test('PRIVATE: only the VPC\'s execute-api endpoint may call the API', () => {
    const { kit } = kitApp({ 'gateway.endpointType': 'PRIVATE' });
    const t = Template.fromStack(kit.gateway!);
    const api = resourcesOf(t, 'AWS::ApiGateway::RestApi')[0].Properties;
    expect(api.EndpointConfiguration.Types).toEqual(['PRIVATE']);
    expect(api.Policy.Statement[0]).toEqual(expect.objectContaining({ Action: 'execute-api:Invoke', Condition: { StringEquals: { 'aws:SourceVpce': expect.anything() } } }));
    Template.fromStack(kit.network!).hasResourceProperties('AWS::EC2::VPCEndpoint', {
      ServiceName: 'cn.com.amazonaws.cn-northwest-1.execute-api',
      PrivateDnsEnabled: true,
      // The endpoint itself admits only this account's APIs.
      PolicyDocument: { Statement: [Match.objectLike({ Action: 'execute-api:Invoke', Resource: 'arn:aws-cn:execute-api:cn-northwest-1:111122223333:*' })] },
    });
    expect(api.EndpointConfiguration.VpcEndpointIds).toHaveLength(1);
  });
});

describe('the bundled Lambda', () => {
  const fake = new BedrockFake();
  beforeAll(() => fake.start());
  afterAll(() => fake.stop());

  test('esbuild bundles it under 1 MB, and the bundle answers a proxy event through Bedrock', async () => {
    const { app, kit } = kitApp({}, { bundle: true });
    const assembly = app.synth();
    const fn = resourcesOf(Template.fromStack(kit.gateway!), 'AWS::Lambda::Function').find((f) => f.Properties.Handler === 'index.handler')!;
    const assetHash = (fn.Properties.Code.S3Key as string).replace(/\.zip$/, '');
    const bundle = path.join(assembly.directory, `asset.${assetHash}`, 'index.js');
    expect(fs.statSync(bundle).size).toBeLessThan(1024 * 1024);

    const settings = JSON.stringify({ bedrockEndpoint: fake.url, models: [{ alias: 'nova-lite', modelId: 'us.amazon.nova-lite-v1:0' }] });
    const script = `require(${JSON.stringify(bundle)}).handler({ httpMethod: 'POST', path: '/v1/chat/completions', headers: {}, requestContext: { requestId: 'r1', identity: { userArn: 'arn:aws-cn:iam::111122223333:user/dev' } }, body: JSON.stringify({ model: 'nova-lite', messages: [{ role: 'user', content: 'from the bundle' }] }) }).then((r) => console.log(JSON.stringify(r)))`;
    // Asynchronous: the Bedrock stand-in answers from this process's event loop.
    const { stdout: out } = await promisify(execFile)(process.execPath, ['-e', script], {
      env: { PATH: process.env.PATH, CNLLM_GATEWAY_CONFIG: settings, AWS_ACCESS_KEY_ID: 'AKIALOCAL', AWS_SECRET_ACCESS_KEY: 'local', AWS_REGION: 'cn-northwest-1' },
      encoding: 'utf8',
      timeout: 30000,
    });
    const lines = out.trim().split('\n');
    const result = JSON.parse(lines[lines.length - 1]);
    expect(result.statusCode).toBe(200);
    expect(JSON.parse(result.body).choices[0].message.content).toBe('You said: from the bundle');
    expect(JSON.parse(lines[0])).toEqual(expect.objectContaining({ msg: 'request', caller: 'arn:aws-cn:iam::111122223333:user/dev', status: 200 }));
  });
});

describe('Gateway stack: the in-VPC streaming door (ECS Fargate)', () => {
  const { kit } = kitApp({ 'gateway.streamingDoor.enabled': 'true', 'gateway.streamingDoor.auth': 'BOTH' });
  const stack = kit.gateway!;
  const t = Template.fromStack(stack);

  test('a Fargate service in the private subnets with no public IP, behind an internal load balancer with a long idle timeout', () => {
    const [service] = resourcesOf(t, 'AWS::ECS::Service');
    expect(service.Properties).toEqual(expect.objectContaining({ LaunchType: 'FARGATE', DesiredCount: 2, DeploymentConfiguration: expect.objectContaining({ DeploymentCircuitBreaker: { Enable: true, Rollback: true } }) }));
    expect(service.Properties.NetworkConfiguration.AwsvpcConfiguration.AssignPublicIp).toBe('DISABLED');
    const lb = resourcesOf(t, 'AWS::ElasticLoadBalancingV2::LoadBalancer')[0].Properties;
    expect(lb.Scheme).toBe('internal');
    expect(lb.LoadBalancerAttributes).toEqual(expect.arrayContaining([{ Key: 'idle_timeout.timeout_seconds', Value: '900' }, { Key: 'access_logs.s3.enabled', Value: 'true' }]));
    // The load balancer must close idle connections before the server does, or it sends requests on closing ones (502).
    const lbIdle = Number(lb.LoadBalancerAttributes.find((a: any) => a.Key === 'idle_timeout.timeout_seconds').Value);
    const env = resourcesOf(t, 'AWS::ECS::TaskDefinition')[0].Properties.ContainerDefinitions[0].Environment;
    expect(JSON.parse(env.find((e: any) => e.Name === 'CNLLM_SERVER_CONFIG').Value).keepAliveTimeoutSeconds).toBeGreaterThan(lbIdle);
    t.hasResourceProperties('AWS::ElasticLoadBalancingV2::TargetGroup', {
      TargetType: 'ip',
      HealthCheckPath: '/healthz',
      TargetGroupAttributes: Match.arrayWith([{ Key: 'deregistration_delay.timeout_seconds', Value: '100' }]),
    });
    // HTTPS on streaming.cnllm.internal by default (internalTls): test/stacks/internal-tls.test.ts.
    t.hasResourceProperties('AWS::EC2::SecurityGroup', { GroupDescription: 'Streaming gateway load balancer: callers inside the VPC', SecurityGroupIngress: [Match.objectLike({ CidrIp: '10.80.0.0/16', FromPort: 443 })] });
    t.hasResourceProperties('AWS::ECS::Cluster', { ClusterSettings: [{ Name: 'containerInsights', Value: 'enabled' }] });
  });

  test('the container: image from the region\'s private ECR, read-only root filesystem, non-root, drains before SIGKILL, no secrets in its environment', () => {
    const container = resourcesOf(t, 'AWS::ECS::TaskDefinition')[0].Properties.ContainerDefinitions[0];
    expect(container.Image['Fn::Sub']).toMatch(/^111122223333\.dkr\.ecr\.cn-northwest-1\.\$\{AWS::URLSuffix\}\/cdk-hnb659fds-container-assets-/);
    expect(container).toEqual(expect.objectContaining({ ReadonlyRootFilesystem: true, User: '1000', StopTimeout: 110 }));
    const env = Object.fromEntries(container.Environment.map((e: any) => [e.Name, e.Value]));
    const server = JSON.parse(env.CNLLM_SERVER_CONFIG);
    expect(server).toEqual({
      port: 8080,
      region: 'cn-northwest-1',
      apiKeyTable: 'cnllm-api-keys',
      apiKeyCacheSeconds: 30,
      sts: { audience: 'cnllm', allowedAccounts: ['111122223333'], endpoints: ['https://sts.cn-northwest-1.amazonaws.com.cn'] },
      drainSeconds: 100,
      keepAliveTimeoutSeconds: 905,
    });
    expect(JSON.stringify(container.Environment)).not.toMatch(/secretAccessKey|AKIA/);
    expect(container.LogConfiguration.LogDriver).toBe('awslogs');
  });

  test('the image is built at deploy time from runtime/server/Dockerfile on the mirrored Node.js base; synth only stages a small context', () => {
    const { app } = kitApp({ 'gateway.streamingDoor.enabled': 'true' });
    const assembly = app.synth();
    const assets = JSON.parse(fs.readFileSync(path.join(assembly.directory, 'cnllm-Gateway.assets.json'), 'utf8'));
    const [docker] = Object.values(assets.dockerImages) as any[];
    expect(docker.source.dockerFile).toBe('runtime/server/Dockerfile');
    expect(docker.source.dockerBuildArgs).toEqual({ BASE_IMAGE: '111122223333.dkr.ecr.cn-northwest-1.amazonaws.com.cn/cnllm/node:22-slim', NPM_REGISTRY: 'https://registry.npmmirror.com' });
    const context = path.join(assembly.directory, docker.source.directory);
    expect(fs.readdirSync(context).sort()).toEqual(['package-lock.json', 'package.json', 'runtime', 'tsconfig.json']);
    const dockerfile = fs.readFileSync(path.join(context, 'runtime/server/Dockerfile'), 'utf8');
    expect(dockerfile).toMatch(/^FROM \$\{BASE_IMAGE\} AS build$/m);
    expect(dockerfile).toMatch(/^USER 1000$/m);
    expect(dockerfile).not.toMatch(/docker\.io|FROM node/);
  });

  test('task role: only its credential secret and key lookups; a KMS-encrypted key table with point-in-time recovery', () => {
    t.hasResourceProperties('AWS::DynamoDB::Table', {
      TableName: 'cnllm-api-keys',
      KeySchema: [{ AttributeName: 'keyId', KeyType: 'HASH' }],
      PointInTimeRecoverySpecification: { PointInTimeRecoveryEnabled: true },
      SSESpecification: Match.objectLike({ SSEEnabled: true, SSEType: 'KMS' }),
    });
    const policy = resourcesOf(t, 'AWS::IAM::Policy').find((p) => JSON.stringify(p.Properties.Roles).includes('TaskTaskRole'))!.Properties.PolicyDocument;
    // Its secrets (the Bedrock credential, its kit's vLLM keys), each decryptable only by its encryption context,
    // the route registry, and key lookups in the KMS-encrypted table (grant() alone adds no kms:Decrypt).
    expect(policy.Statement.map((s: any) => s.Action).flat().sort()).toEqual([
      'dynamodb:GetItem',
      'kms:Decrypt',
      'kms:Decrypt',
      'kms:Decrypt',
      'secretsmanager:DescribeSecret',
      'secretsmanager:GetSecretValue',
      'ssm:GetParametersByPath',
    ]);
    // CDK merges the two secret reads into one statement: the credential and the vLLM key prefix.
    expect(policy.Statement.find((s: any) => JSON.stringify(s.Action).includes('secretsmanager:GetSecretValue')).Resource).toHaveLength(2);
    const decrypts = policy.Statement.filter((s: any) => s.Action === 'kms:Decrypt');
    expect(decrypts.filter((s: any) => s.Condition === undefined)).toHaveLength(1);
    expect(decrypts.filter((s: any) => s.Condition?.StringEquals?.['kms:EncryptionContext:SecretARN'])).toHaveLength(1);
    expectRegistryRead(policy.Statement);
    // The door's tasks reach the vLLM load balancers too: HTTPS (internal TLS is on by default), no plain HTTP.
    const egress = resourcesOf(t, 'AWS::EC2::SecurityGroup').find((g) => g.Properties.GroupDescription === 'Streaming gateway tasks: from their load balancer only')!.Properties.SecurityGroupEgress;
    expect(egress).toEqual(expect.arrayContaining([expect.objectContaining({ FromPort: 443, ToPort: 443 })]));
    expect(egress).not.toEqual(expect.arrayContaining([expect.objectContaining({ FromPort: 80 })]));
  });

  test('scales on CPU and requests per task; outputs the base URL and the key table', () => {
    const policies = resourcesOf(t, 'AWS::ApplicationAutoScaling::ScalingPolicy').map((p) => p.Properties.TargetTrackingScalingPolicyConfiguration.PredefinedMetricSpecification.PredefinedMetricType);
    expect(policies.sort()).toEqual(['ALBRequestCountPerTarget', 'ECSServiceAverageCPUUtilization']);
    expect(Object.keys(t.toJSON().Outputs)).toEqual(expect.arrayContaining(['StreamingBaseUrl', 'ApiKeyTableName']));
  });

  test('ChinaRegion and AwsSolutions clean, every ARN arn:aws-cn:', () => {
    expect(chinaFindings(stack)).toEqual([]);
    expect(nagFindings(stack).filter((f) => f.severity === 'error')).toEqual([]);
    expect(checkChinaPartition(t.toJSON(), { region: 'cn-northwest-1', account: '111122223333', globalAccounts: ['444455556666'] }).wrong).toEqual([]);
  });
});

describe('secret access that does not depend on kms:ViaService naming in China', () => {
  test('the gateway Lambda may decrypt with the key only for its credential secret (encryption context)', () => {
    const t = Template.fromStack(kitApp().kit.gateway!);
    const policy = resourcesOf(t, 'AWS::IAM::Policy').find((p) => JSON.stringify(p.Properties.Roles).includes('GatewayRole'))!.Properties.PolicyDocument;
    expect(policy.Statement).toContainEqual({
      Action: 'kms:Decrypt',
      Effect: 'Allow',
      Resource: { 'Fn::GetAtt': [expect.stringMatching(/^Key/), 'Arn'] },
      Condition: { StringEquals: { 'kms:EncryptionContext:SecretARN': { Ref: expect.stringMatching(/^BedrockCredentialSecret/) } } },
    });
  });
});

describe('unified routing in the Gateway stack', () => {
  const providers = JSON.stringify([
    { name: 'dashscope', baseUrl: 'https://dashscope.aliyuncs.com/compatible-mode/v1', models: [{ alias: 'qwen-max', model: 'qwen-max' }] },
    { name: 'deepseek', baseUrl: 'https://api.deepseek.com/v1', models: [{ alias: 'deepseek-chat', model: 'deepseek-chat' }], timeoutSeconds: 120 },
  ]);
  const { kit } = kitApp({ 'routing.providers': providers, 'routing.fallbacks': '{"qwen2.5-1.5b-instruct":["qwen-max","nova-pro"]}', 'routing.residency': 'china-only' });
  const t = Template.fromStack(kit.gateway!);

  test('every route kind reaches the runtime: Bedrock models, the route registry (vLLM), each provider, fallbacks and residency', () => {
    const { settings } = gatewaySettingsOf(t);
    expect(settings.models.map((m: any) => `${m.alias}->${m.route}`)).toEqual([
      'nova-micro->bedrock',
      'nova-lite->bedrock',
      'nova-pro->bedrock',
      'nova-2-lite->bedrock',
      'qwen-max->dashscope',
      'deepseek-chat->deepseek',
    ]);
    expect(settings.routeRegistry).toEqual(expect.objectContaining({ parameterPath: '/cnllm/routes', timeoutMs: 28000 }));
    expect(settings.upstreams.map((u: any) => [u.name, u.kind, u.crossBorder, u.timeoutMs])).toEqual([
      ['dashscope', 'provider', false, 28000],
      ['deepseek', 'provider', false, 28000],
    ]);
    expect(settings.fallbacks).toEqual({ 'qwen2.5-1.5b-instruct': ['qwen-max', 'nova-pro'] });
    expect(settings.residency).toBe('china-only');
  });

  test('a KMS secret per provider key, filled by the operator, readable by the gateway only for that secret', () => {
    t.hasResourceProperties('AWS::SecretsManager::Secret', { Name: 'cnllm/provider/dashscope', KmsKeyId: Match.anyValue() });
    t.hasResourceProperties('AWS::SecretsManager::Secret', { Name: 'cnllm/provider/deepseek' });
    expect(resourcesOf(t, 'AWS::SecretsManager::Secret').find((s) => s.Properties.Name === 'cnllm/provider/dashscope')!.Properties.GenerateSecretString).toEqual({
      SecretStringTemplate: '{"set":false}',
      GenerateStringKey: 'placeholder',
    });
  });

  test('a usage dashboard: tokens per model and per caller, latency per model', () => {
    const body = JSON.stringify(resourcesOf(t, 'AWS::CloudWatch::Dashboard')[0].Properties.DashboardBody);
    for (const widget of ['Output tokens by model', 'Input tokens by model', 'Output tokens by caller', 'Latency p99 by model']) expect(body).toContain(widget);
    expect(body).toContain('{cn-llm-kit/Gateway,Caller}');
  });

  test('nag and ChinaRegion clean with routing', () => {
    expect(nagFindings(kit.gateway!).filter((f) => f.severity === 'error')).toEqual([]);
    expect(chinaFindings(kit.gateway!)).toEqual([]);
  });
});

describe('vLLM on EKS registers its routes in Parameter Store, not in the Gateway stack', () => {
  test('EKS alone: the gateway reads the registry; no reference either way, so the gateway deploys first without starting GPUs', () => {
    const { app, kit } = kitApp({ 'stacks.vllmEc2': 'false', 'stacks.vllmEks': 'true' });
    expect(kit.stacks.map((s) => s.stackName)).toEqual(['cnllm-Network', 'cnllm-ModelStore', 'cnllm-BedrockAccess', 'cnllm-Gateway', 'cnllm-VllmEks']);
    app.synth();
    expect(kit.gateway!.dependencies).not.toContain(kit.vllmEks!);
    expect(kit.vllmEks!.dependencies).not.toContain(kit.gateway!);
    const t = Template.fromStack(kit.gateway!);
    expect(referencedStacks(t.toJSON())).toEqual(['cnllm-Network']);
    expect(JSON.stringify(t.toJSON())).not.toMatch(/VllmEks/);
    const { settings, tokens } = gatewaySettingsOf(t);
    expect(settings.models.filter((m: any) => m.route !== 'bedrock')).toEqual([]);
    expect(settings.routeRegistry).toEqual({ parameterPath: '/cnllm/routes', region: 'cn-northwest-1', refreshSeconds: 60, timeoutMs: 28000, maxAttempts: 2 });
    expect(tokens).toEqual([expect.stringContaining('BedrockCredentialSecret')]);

    const policy = resourcesOf(t, 'AWS::IAM::Policy').find((p) => JSON.stringify(p.Properties.Roles).includes('GatewayRole'))!.Properties.PolicyDocument;
    expectRegistryRead(policy.Statement);
    t.hasResourceProperties('AWS::EC2::SecurityGroup', { SecurityGroupEgress: Match.arrayWith([Match.objectLike({ FromPort: 80, ToPort: 80, Description: 'HTTP to vLLM load balancers inside the VPC' })]) });
    expect(nagFindings(kit.gateway!).filter((f) => f.severity === 'error')).toEqual([]);
    expect(chinaFindings(kit.gateway!)).toEqual([]);
  });

  test('routing.registerVllm false: the gateway reads no registry and gets no access to it', () => {
    const { kit } = kitApp({ 'stacks.vllmEks': 'true', 'routing.registerVllm': 'false' });
    const t = Template.fromStack(kit.gateway!);
    const { settings } = gatewaySettingsOf(t);
    expect(settings.routeRegistry).toBeUndefined();
    expect(settings.upstreams).toEqual([]);
    expect(JSON.stringify(t.toJSON())).not.toMatch(/ssm:GetParametersByPath|cnllm\/vllm\//);
  });
});
