import OpenAI from 'openai';
import { loadConfig } from '../../lib/config/load';
import { names } from '../../lib/config/names';
import { KitConfig } from '../../lib/config/schema';
import { selfHostedRoutes } from '../../lib/config/vllm-routes';
import { routeEntry } from '../../lib/constructs/route-registry';
import { gatewayRuntimeSettings } from '../../lib/gateway/runtime-settings';
import { gatewayFromEnv } from '../../runtime/gateway/from-env';
import { RUNTIME_CONFIG_ENV } from '../../runtime/gateway/runtime-config';
import { LocalGateway, startLocalGateway } from '../../runtime/local/local-gateway';
import { startStreamingServer } from '../../runtime/server/server';
import { SsmParameterReader, ssmEndpoint } from '../../runtime/gateway/ssm-parameters';
import { AwsPartitionFake } from '../fakes/aws-partition-fake';
import { BedrockFake } from '../fakes/bedrock-fake';
import { OpenAiUpstreamFake } from '../fakes/openai-upstream-fake';
import { SsmFake } from '../fakes/ssm-fake';

/**
 * The gateway as the Lambda and the streaming door build it (gatewayFromEnv), with the settings the
 * kit derives, against loopback stand-ins of Parameter Store, Secrets Manager, Bedrock and vLLM. The
 * registry entries are the ones the vLLM stacks write (routeEntry).
 */

const REFRESH_MS = 60_000;
let bedrock: BedrockFake;
let vllm: OpenAiUpstreamFake;
let secrets: AwsPartitionFake;
let ssm: SsmFake;
let gateway: LocalGateway;
let logs: Record<string, unknown>[];
let clock: number;
const savedEnv = { ...process.env };

beforeAll(() => {
  // The SDK clients and the Parameter Store reader take the host's credentials from the environment, as in Lambda.
  Object.assign(process.env, { AWS_ACCESS_KEY_ID: 'AKIACHINA', AWS_SECRET_ACCESS_KEY: 's', AWS_REGION: 'cn-northwest-1' });
  delete process.env.AWS_PROFILE;
});
afterAll(() => {
  process.env = savedEnv;
});

beforeEach(async () => {
  bedrock = await new BedrockFake().start();
  vllm = await new OpenAiUpstreamFake('vllm', 'vllm-key-123').start();
  secrets = await new AwsPartitionFake('aws-cn', '111122223333').addKey('AKIACHINA', 'gateway').start();
  ssm = await new SsmFake([{ accessKeyId: 'AKIACHINA', secretAccessKey: 's', arn: 'arn:aws-cn:iam::111122223333:role/gateway' }]).start();
  secrets.secrets.set('cnllm/vllm/ec2/qwen2.5-1.5b-instruct', 'vllm-key-123');
  logs = [];
  clock = 1_000_000;
});
afterEach(async () => {
  await gateway?.close();
  await Promise.all([bedrock.stop(), vllm.stop(), secrets.stop(), ssm.stop()]);
});

/** The environment the Gateway stack gives its Lambda for `context`, pointed at the stand-ins. */
function gatewayEnv(kit: KitConfig): NodeJS.ProcessEnv {
  const settings = gatewayRuntimeSettings(kit, { upstreamTimeoutSeconds: 10 });
  return {
    [RUNTIME_CONFIG_ENV]: JSON.stringify({
      ...settings,
      bedrockEndpoint: bedrock.url,
      secretsEndpoint: secrets.url,
      retry: { baseDelayMs: 1, maxDelayMs: 2 },
      ...(settings.routeRegistry && { routeRegistry: { ...settings.routeRegistry, endpoint: ssm.url } }),
    }),
  };
}

async function start(context: Record<string, string> = {}) {
  const kit = loadConfig(context);
  gateway = await startLocalGateway({ gateway: gatewayFromEnv(gatewayEnv(kit), { now: () => clock, log: (l) => logs.push(l) }), mode: 'stream' });
  return kit;
}

/** What the VllmEc2 (or VllmEks) stack writes for the kit's first model. */
function register(kit: KitConfig, platform: 'ec2' | 'eks', address: { baseUrl: string; apiKeySecretArn: string }, on = { ec2: true, eks: false }) {
  const route = selfHostedRoutes([kit.models[0].servedName], on).find((r) => r.platform === platform)!;
  ssm.parameters.set(names(kit).routeParameter(route.alias), JSON.stringify(routeEntry(route, address)));
  return route;
}
const ec2Address = () => ({ baseUrl: `${vllm.url}/v1`, apiKeySecretArn: secrets.secretArn('cnllm/vllm/ec2/qwen2.5-1.5b-instruct') });

const client = () => new OpenAI({ baseURL: `${gateway.url}/v1`, apiKey: 'local', maxRetries: 0 });
const ask = (model: string, headers: Record<string, string> = {}) => client().chat.completions.create({ model, messages: [{ role: 'user', content: 'hi' }] }, { headers });
const modelIds = async () => (await client().models.list()).data.map((m) => m.id);
const SERVED = 'qwen2.5-1.5b-instruct';

describe('routes registered in Parameter Store', () => {
  test('a route registered after the gateway started is served once the refresh interval has passed, without a restart', async () => {
    const kit = await start();
    await expect(ask(SERVED)).rejects.toMatchObject({ status: 404, error: { code: 'model_not_found' } });
    register(kit, 'ec2', ec2Address());
    // Within the interval the gateway keeps its last read.
    await expect(ask(SERVED)).rejects.toMatchObject({ status: 404 });
    clock += REFRESH_MS;
    expect((await ask(SERVED)).choices[0].message.content).toBe('vllm: hi');
    expect(vllm.requests.at(-1)).toEqual({ body: expect.objectContaining({ model: SERVED }), authorization: 'Bearer vllm-key-123' });
    expect(logs.at(-1)).toEqual(expect.objectContaining({ model: SERVED, servedBy: `vllm-${SERVED}`, status: 200 }));
    const listed = (await client().models.list()).data.find((m) => m.id === SERVED) as unknown as Record<string, unknown>;
    expect(listed).toEqual(expect.objectContaining({ route: 'vllm', cross_border: false, owned_by: `vllm-${SERVED}` }));
    // Signed for Parameter Store in the China region, one recursive read of the kit's hierarchy per interval.
    expect(ssm.calls.map((c) => [c.operation, c.credentialScope, c.input.Path, c.input.Recursive])).toEqual([
      ['GetParametersByPath', 'cn-northwest-1/ssm/aws4_request', '/cnllm/routes', true],
      ['GetParametersByPath', 'cn-northwest-1/ssm/aws4_request', '/cnllm/routes', true],
    ]);
  });

  test('a removed route stops being served after the interval; the static routes never move', async () => {
    const kit = await start();
    const route = register(kit, 'ec2', ec2Address());
    clock += REFRESH_MS;
    expect(await modelIds()).toContain(SERVED);
    ssm.parameters.delete(names(kit).routeParameter(route.alias));
    clock += REFRESH_MS;
    await expect(ask(SERVED)).rejects.toMatchObject({ status: 404, error: { code: 'model_not_found' } });
    expect(await modelIds()).toEqual(['nova-micro', 'nova-lite', 'nova-pro', 'nova-2-lite']);
  });

  test('an unreachable registry keeps the last good routes and the static ones, logs, and is retried once per interval', async () => {
    const kit = await start();
    register(kit, 'ec2', ec2Address());
    expect((await ask(SERVED)).choices[0].message.content).toBe('vllm: hi');
    const callsBefore = ssm.calls.length;
    for (const outage of ['error', 'reset'] as const) {
      ssm.outage = outage;
      clock += REFRESH_MS;
      expect((await ask(SERVED)).choices[0].message.content).toBe('vllm: hi');
      expect((await ask('nova-lite')).choices[0].message.content).toBe('You said: hi');
      expect(await modelIds()).toContain(SERVED);
    }
    // Three requests per interval, one read attempt each.
    expect(ssm.calls.length - callsBefore).toBe(2);
    const warnings = logs.filter((l) => l.msg === 'route registry unreachable: keeping the last good routes');
    expect(warnings).toHaveLength(2);
    expect(warnings[0]).toEqual(expect.objectContaining({ level: 'warn', path: '/cnllm/routes', kept: [SERVED], error: expect.stringContaining('InternalServerError') }));

    // Back: the next read after the interval brings changes again.
    ssm.outage = undefined;
    ssm.parameters.clear();
    clock += REFRESH_MS;
    await expect(ask(SERVED)).rejects.toMatchObject({ status: 404 });
  });

  test('a registry that cannot be read at start leaves the static routes serving; registered routes arrive with the next good read', async () => {
    ssm.outage = 'error';
    const kit = await start();
    register(kit, 'ec2', ec2Address());
    expect((await ask('nova-pro')).choices[0].message.content).toBe('You said: hi');
    await expect(ask(SERVED)).rejects.toMatchObject({ status: 404 });
    ssm.outage = undefined;
    clock += REFRESH_MS;
    expect((await ask(SERVED)).choices[0].message.content).toBe('vllm: hi');
  });

  test('fallbacks and residency treat a registered route like a configured one', async () => {
    const kit = await start({ 'routing.fallbacks': JSON.stringify({ [SERVED]: ['nova-lite'], 'nova-pro': [SERVED] }) });
    register(kit, 'ec2', ec2Address());
    clock += REFRESH_MS;
    vllm.push({ kind: 'status', status: 503 }, { kind: 'status', status: 503 });
    expect((await ask(SERVED)).choices[0].message.content).toBe('You said: hi');
    expect(logs.at(-1)).toEqual(expect.objectContaining({ servedBy: 'bedrock', fallbacks: 1 }));
    // A request that must stay in China skips Bedrock and lands on the registered vLLM route.
    const before = bedrock.requests.length;
    expect((await ask('nova-pro', { 'x-cnllm-residency': 'china-only' })).choices[0].message.content).toBe('vllm: hi');
    expect(bedrock.requests).toHaveLength(before);
    expect(logs.at(-1)).toEqual(expect.objectContaining({ model: 'nova-pro', servedBy: `vllm-${SERVED}` }));
  });

  test('EC2 and EKS side by side: eks/<name> reaches the EKS service with its own key, and the EC2 name falls back to it', async () => {
    const eks = await new OpenAiUpstreamFake('eks', 'eks-key-789').start();
    try {
      secrets.secrets.set('cnllm/vllm/eks/qwen2.5-1.5b-instruct', 'eks-key-789');
      const kit = await start({ 'stacks.vllmEks': 'true', 'routing.fallbacks': JSON.stringify({ [SERVED]: [`eks/${SERVED}`] }) });
      register(kit, 'ec2', ec2Address(), { ec2: true, eks: true });
      register(kit, 'eks', { baseUrl: `${eks.url}/v1`, apiKeySecretArn: secrets.secretArn('cnllm/vllm/eks/qwen2.5-1.5b-instruct') }, { ec2: true, eks: true });
      clock += REFRESH_MS;
      expect([...ssm.parameters.keys()].sort()).toEqual([`/cnllm/routes/eks/${SERVED}`, `/cnllm/routes/${SERVED}`]);

      expect((await ask(`eks/${SERVED}`)).choices[0].message.content).toBe('eks: hi');
      expect(eks.requests.at(-1)).toEqual({ body: expect.objectContaining({ model: SERVED }), authorization: 'Bearer eks-key-789' });
      expect(logs.at(-1)).toEqual(expect.objectContaining({ model: `eks/${SERVED}`, servedBy: `vllm-eks-${SERVED}` }));
      vllm.push({ kind: 'status', status: 503 }, { kind: 'status', status: 503 });
      expect((await ask(SERVED)).choices[0].message.content).toBe('eks: hi');
      expect(logs.at(-1)).toEqual(expect.objectContaining({ servedBy: `vllm-eks-${SERVED}`, fallbacks: 1 }));
    } finally {
      await eks.stop();
    }
  });

  test('entries that are malformed or claim a configured alias are skipped and logged; the rest are served, across pages', async () => {
    const kit = await start();
    const route = selfHostedRoutes([SERVED], { ec2: true, eks: false })[0];
    // More entries than one GetParametersByPath page (10) holds.
    for (let i = 0; i < 12; i++) ssm.parameters.set(`/cnllm/routes/extra-${String(i).padStart(2, '0')}`, JSON.stringify(routeEntry({ ...route, alias: `extra-${i}`, routeName: `vllm-extra-${i}` }, ec2Address())));
    ssm.parameters.set('/cnllm/routes/broken', '{"alias":"broken"');
    ssm.parameters.set('/cnllm/routes/no-url', JSON.stringify({ ...routeEntry(route, ec2Address()), alias: 'no-url', baseUrl: 'not a url' }));
    ssm.parameters.set('/cnllm/routes/nova-pro', JSON.stringify(routeEntry({ ...route, alias: 'nova-pro', routeName: 'vllm-hijack' }, ec2Address())));
    clock += REFRESH_MS;
    const ids = await modelIds();
    expect(ids.filter((id) => id.startsWith('extra-'))).toHaveLength(12);
    expect(ids).not.toContain('broken');
    expect(ids).not.toContain('no-url');
    expect((await ask('nova-pro')).choices[0].message.content).toBe('You said: hi');
    expect((await ask('extra-11')).choices[0].message.content).toBe('vllm: hi');
    expect(vllm.requests.at(-1)!.body.model).toBe(SERVED);
    const ignored = logs.filter((l) => l.msg === 'route registry entry ignored');
    expect(ignored).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ parameter: '/cnllm/routes/broken', error: 'not JSON' }),
        expect.objectContaining({ parameter: '/cnllm/routes/no-url', error: expect.stringContaining('baseUrl') }),
        expect.objectContaining({ alias: 'nova-pro', error: expect.stringContaining('already routed') }),
      ]),
    );
    expect(ssm.calls.filter((c) => c.input.NextToken !== undefined).length).toBeGreaterThan(0);
    expect(kit.routing.registerVllm).toBe(true);
  });

  test('the streaming door builds the same gateway: registered routes stream through it', async () => {
    const kit = loadConfig({});
    register(kit, 'ec2', ec2Address());
    const server = await startStreamingServer({
      gateway: gatewayFromEnv(gatewayEnv(kit), { now: () => clock, log: (l) => logs.push(l) }),
      authenticators: [{ authenticate: async (token) => (token === 'door-key' ? { caller: 'team-a' } : undefined) }],
      port: 0,
      host: '127.0.0.1',
      drainSeconds: 0,
    });
    try {
      vllm.push({ kind: 'reply', tokens: ['a ', 'b'] });
      const stream = await new OpenAI({ baseURL: `${server.url}/v1`, apiKey: 'door-key', maxRetries: 0 }).chat.completions.create({ model: SERVED, messages: [{ role: 'user', content: 'x' }], stream: true });
      let text = '';
      for await (const chunk of stream) text += chunk.choices[0]?.delta?.content ?? '';
      expect(text).toBe('a b');
      expect(logs.at(-1)).toEqual(expect.objectContaining({ caller: 'team-a', servedBy: `vllm-${SERVED}` }));
    } finally {
      await server.drain();
    }
  });
});

describe('the Parameter Store reader', () => {
  const reader = (secretAccessKey: string) => new SsmParameterReader({ region: 'cn-northwest-1', endpoint: ssm.url, credentials: async () => ({ accessKeyId: 'AKIACHINA', secretAccessKey }) });

  test('reads every parameter under the path, page by page, with a valid SigV4 signature', async () => {
    for (let i = 0; i < 23; i++) ssm.parameters.set(`/cnllm/routes/m${String(i).padStart(2, '0')}`, `v${i}`);
    ssm.parameters.set('/cnllm/routes/eks/deep', 'nested');
    ssm.parameters.set('/other/routes/x', 'not ours');
    const found = await reader('s').getByPath('/cnllm/routes');
    expect(found).toHaveLength(24);
    expect(found).toContainEqual({ name: '/cnllm/routes/eks/deep', value: 'nested' });
    expect(ssm.calls.map((c) => c.input.NextToken)).toEqual([undefined, '10', '20']);
  });

  test('a refused or failed call is an SsmError naming the service\'s error type', async () => {
    await expect(reader('wrong').getByPath('/cnllm/routes')).rejects.toMatchObject({ name: 'SsmError', code: 'InvalidSignatureException' });
    ssm.outage = 'error';
    await expect(reader('s').getByPath('/cnllm/routes')).rejects.toMatchObject({ code: 'InternalServerError' });
    expect(ssmEndpoint('cn-northwest-1')).toBe('https://ssm.cn-northwest-1.amazonaws.com.cn');
  });
});

describe('routing.registerVllm false', () => {
  test('the gateway reads no registry: registered routes are ignored', async () => {
    const kit = await start({ 'routing.registerVllm': 'false' });
    register(kit, 'ec2', ec2Address());
    clock += REFRESH_MS;
    await expect(ask(SERVED)).rejects.toMatchObject({ status: 404 });
    expect(ssm.calls).toEqual([]);
  });
});
