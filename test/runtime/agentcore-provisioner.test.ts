import { agentRuntimeRequest, lambdaTargetRequest, toolGatewayRequest } from '../../lib/constructs/agentcore-spec';
import type { ProvisionEvent } from '../../runtime/agentcore-provisioner/handler';
import { AgentCoreControlFake } from '../fakes/agentcore-control-fake';

/**
 * The agentcore-api custom resource handler against a loopback AgentCore control plane: the SDK's
 * real requests, the service's asynchronous statuses, and CloudFormation's create/update/delete.
 */

const fake = new AgentCoreControlFake();
let handler: typeof import('../../runtime/agentcore-provisioner/handler').handler;
const env = { ...process.env };
const plenty = { getRemainingTimeInMillis: () => 600_000 };

beforeAll(async () => {
  await fake.start();
  Object.assign(process.env, { AWS_REGION: 'cn-northwest-1', AWS_ACCESS_KEY_ID: 'AKIAPROVISIONER', AWS_SECRET_ACCESS_KEY: 's', AWS_ENDPOINT_URL_BEDROCK_AGENTCORE_CONTROL: fake.url, CNLLM_PROVISION_POLL_MS: '10' });
  ({ handler } = await import('../../runtime/agentcore-provisioner/handler'));
});
afterAll(async () => {
  process.env = env;
  await fake.stop();
});
beforeEach(() => {
  fake.createOutcome = {};
  fake.pendingPolls = 2;
});

const runtimeRequest = (name = 'cnllm_agents', image = 'tag1') =>
  JSON.stringify(agentRuntimeRequest({ name, description: 'd', containerUri: `111122223333.dkr.ecr.cn-northwest-1.amazonaws.com.cn/a:${image}`, roleArn: 'arn:aws-cn:iam::111122223333:role/r', subnetIds: ['subnet-0123456789abcdef0'], securityGroupIds: ['sg-0123456789abcdef0'], environment: { CNLLM_AGENTS_CONFIG: '{}' }, idleSessionTimeoutSeconds: 900, maxLifetimeSeconds: 28800 }));
const event = (e: Partial<ProvisionEvent> & Pick<ProvisionEvent, 'RequestType' | 'ResourceProperties'>): ProvisionEvent => ({ RequestId: `req-${Math.random().toString(16).slice(2)}-0000-0000-0000-000000000000`, ...e });

describe('Runtime', () => {
  test('create sends the control-plane request, waits through CREATING until READY, and returns id and ARN', async () => {
    const result = await handler(event({ RequestType: 'Create', ResourceProperties: { Kind: 'Runtime', Request: runtimeRequest() } }), plenty);
    expect(result.PhysicalResourceId).toMatch(/^cnllm_agents-\d{10}$/);
    expect(result.Data).toEqual({ AgentRuntimeId: result.PhysicalResourceId, AgentRuntimeArn: `arn:aws-cn:bedrock-agentcore:cn-northwest-1:111122223333:runtime/${result.PhysicalResourceId}`, AgentRuntimeVersion: '1' });
    expect(fake.resources.get(result.PhysicalResourceId)!.status).toBe('READY');
    const put = fake.calls.find((c) => c.method === 'PUT' && c.path === '/runtimes/')!;
    expect(put.body).toEqual({ ...JSON.parse(runtimeRequest()), clientToken: expect.stringMatching(/^req-/) });
    expect(fake.calls.filter((c) => c.method === 'GET' && c.path === `/runtimes/${result.PhysicalResourceId}/`).length).toBeGreaterThanOrEqual(3);
  });

  test('a create that fails reports the service\'s reason and leaves no runtime behind', async () => {
    fake.createOutcome = { runtime: 'CREATE_FAILED' };
    const before = fake.resources.size;
    await expect(handler(event({ RequestType: 'Create', ResourceProperties: { Kind: 'Runtime', Request: runtimeRequest('cnllm_failing') } }), plenty)).rejects.toThrow(/agent runtime cnllm_failing-\d+ is CREATE_FAILED: image manifest not found for linux\/arm64/);
    const failed = [...fake.resources.values()].find((r) => r.id.startsWith('cnllm_failing-'));
    expect(failed?.deleting ?? true).toBe(true);
    expect(fake.calls.filter((c) => c.method === 'DELETE' && /^\/runtimes\/cnllm_failing-\d{10}\/$/.test(c.path))).toHaveLength(1);
    expect(fake.resources.size).toBeLessThanOrEqual(before + 1);
  });

  test('update in place keeps the id (no name in the request); a new name replaces the runtime', async () => {
    const created = await handler(event({ RequestType: 'Create', ResourceProperties: { Kind: 'Runtime', Request: runtimeRequest('cnllm_upd') } }), plenty);
    const updated = await handler(event({ RequestType: 'Update', PhysicalResourceId: created.PhysicalResourceId, ResourceProperties: { Kind: 'Runtime', Request: runtimeRequest('cnllm_upd', 'tag2') }, OldResourceProperties: { Kind: 'Runtime', Request: runtimeRequest('cnllm_upd') } }), plenty);
    expect(updated.PhysicalResourceId).toBe(created.PhysicalResourceId);
    const put = fake.calls.filter((c) => c.method === 'PUT' && c.path === `/runtimes/${created.PhysicalResourceId}/`).at(-1)!;
    expect(put.body.agentRuntimeName).toBeUndefined();
    expect(put.body.agentRuntimeArtifact.containerConfiguration.containerUri).toMatch(/:tag2$/);
    const replaced = await handler(event({ RequestType: 'Update', PhysicalResourceId: created.PhysicalResourceId, ResourceProperties: { Kind: 'Runtime', Request: runtimeRequest('cnllm_renamed') }, OldResourceProperties: { Kind: 'Runtime', Request: runtimeRequest('cnllm_upd') } }), plenty);
    expect(replaced.PhysicalResourceId).toMatch(/^cnllm_renamed-/);
  });

  test('delete waits until the runtime is gone; an id this handler never made is not touched', async () => {
    const created = await handler(event({ RequestType: 'Create', ResourceProperties: { Kind: 'Runtime', Request: runtimeRequest('cnllm_del') } }), plenty);
    await handler(event({ RequestType: 'Delete', PhysicalResourceId: created.PhysicalResourceId, ResourceProperties: { Kind: 'Runtime', Request: runtimeRequest('cnllm_del') } }), plenty);
    expect(fake.resources.has(created.PhysicalResourceId)).toBe(false);
    const calls = fake.calls.length;
    // After a failed create the provider framework hands CloudFormation an id of its own.
    await handler(event({ RequestType: 'Delete', PhysicalResourceId: '2026/12/02/[$LATEST]0123456789abcdef', ResourceProperties: { Kind: 'Runtime', Request: runtimeRequest() } }), plenty);
    expect(fake.calls.length).toBe(calls);
    // Deleting one already gone succeeds (a retried delete).
    await expect(handler(event({ RequestType: 'Delete', PhysicalResourceId: created.PhysicalResourceId, ResourceProperties: { Kind: 'Runtime', Request: runtimeRequest('cnllm_del') } }), plenty)).resolves.toEqual({ PhysicalResourceId: created.PhysicalResourceId });
  });

  test('gives up before the Lambda deadline with a message that says what to do', async () => {
    fake.pendingPolls = 1000;
    const short = { getRemainingTimeInMillis: () => 20_005 };
    await expect(handler(event({ RequestType: 'Create', ResourceProperties: { Kind: 'Runtime', Request: runtimeRequest('cnllm_slow') } }), short)).rejects.toThrow(/is still CREATING; gave up before the handler's deadline/);
  });
});

describe('Gateway and targets', () => {
  const gatewayRequest = JSON.stringify(toolGatewayRequest({ name: 'cnllm-agent-tools', description: 'tools', roleArn: 'arn:aws-cn:iam::111122223333:role/g' }));
  const targetRequest = (lambda = 'docs') => JSON.stringify(lambdaTargetRequest({ name: 'docs', description: 'docs', lambdaArn: `arn:aws-cn:lambda:cn-northwest-1:111122223333:function:${lambda}`, tools: [{ name: 'search_docs', description: 'd', inputSchema: { type: 'object', properties: { q: { type: 'string' } } } }] }));

  test('gateway READY with its MCP URL; a target on it is `<gateway>/<target>`; update and delete follow the ids', async () => {
    const gateway = await handler(event({ RequestType: 'Create', ResourceProperties: { Kind: 'Gateway', Request: gatewayRequest } }), plenty);
    expect(gateway.Data).toEqual({ GatewayId: gateway.PhysicalResourceId, GatewayArn: expect.stringMatching(/^arn:aws-cn:bedrock-agentcore:cn-northwest-1:111122223333:gateway\//), GatewayUrl: `https://${gateway.PhysicalResourceId}.gateway.bedrock-agentcore.cn-northwest-1.amazonaws.com.cn/mcp` });
    const target = await handler(event({ RequestType: 'Create', ResourceProperties: { Kind: 'GatewayTarget', GatewayId: gateway.PhysicalResourceId, Request: targetRequest() } }), plenty);
    expect(target.PhysicalResourceId).toMatch(new RegExp(`^${gateway.PhysicalResourceId}/T\\d{9}$`));
    const post = fake.calls.find((c) => c.method === 'POST' && c.path === `/gateways/${gateway.PhysicalResourceId}/targets/`)!;
    expect(post.body.targetConfiguration.mcp.lambda.toolSchema.inlinePayload[0].name).toBe('search_docs');
    expect(post.body.credentialProviderConfigurations).toEqual([{ credentialProviderType: 'GATEWAY_IAM_ROLE' }]);

    const updated = await handler(event({ RequestType: 'Update', PhysicalResourceId: target.PhysicalResourceId, ResourceProperties: { Kind: 'GatewayTarget', GatewayId: gateway.PhysicalResourceId, Request: targetRequest('docs-v2') }, OldResourceProperties: { Kind: 'GatewayTarget', GatewayId: gateway.PhysicalResourceId, Request: targetRequest() } }), plenty);
    expect(updated.PhysicalResourceId).toBe(target.PhysicalResourceId);
    expect(fake.resources.get(target.PhysicalResourceId)!.body.targetConfiguration.mcp.lambda.lambdaArn).toMatch(/function:docs-v2$/);

    await handler(event({ RequestType: 'Delete', PhysicalResourceId: target.PhysicalResourceId, ResourceProperties: { Kind: 'GatewayTarget', GatewayId: gateway.PhysicalResourceId, Request: targetRequest() } }), plenty);
    await handler(event({ RequestType: 'Delete', PhysicalResourceId: gateway.PhysicalResourceId, ResourceProperties: { Kind: 'Gateway', Request: gatewayRequest } }), plenty);
    expect(fake.resources.has(target.PhysicalResourceId)).toBe(false);
    expect(fake.resources.has(gateway.PhysicalResourceId)).toBe(false);
  });

  test('a target the gateway cannot use fails the deploy with the service\'s reasons', async () => {
    const gateway = await handler(event({ RequestType: 'Create', ResourceProperties: { Kind: 'Gateway', Request: gatewayRequest } }), plenty);
    fake.createOutcome = { target: 'FAILED' };
    await expect(handler(event({ RequestType: 'Create', ResourceProperties: { Kind: 'GatewayTarget', GatewayId: gateway.PhysicalResourceId, Request: targetRequest() } }), plenty)).rejects.toThrow(/gateway target T\d+ is FAILED: lambda not invokable by the gateway role/);
  });
});
