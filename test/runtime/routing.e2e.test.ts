import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import OpenAI from 'openai';
import { BedrockInvoker } from '../../runtime/gateway/bedrock';
import { createGateway } from '../../runtime/gateway/gateway';
import { OpenAiUpstream } from '../../runtime/gateway/openai-upstream';
import { GatewayRuntimeConfigSchema } from '../../runtime/gateway/runtime-config';
import { LocalGateway, startLocalGateway } from '../../runtime/local/local-gateway';
import { AwsPartitionFake } from '../fakes/aws-partition-fake';
import { BedrockFake } from '../fakes/bedrock-fake';
import { OpenAiUpstreamFake } from '../fakes/openai-upstream-fake';

let bedrock: BedrockFake;
let vllm: OpenAiUpstreamFake;
let provider: OpenAiUpstreamFake;
let secrets: AwsPartitionFake;
let gateway: LocalGateway;
let logs: Record<string, unknown>[];

async function start(overrides: Record<string, unknown> = {}) {
  logs = [];
  const config = GatewayRuntimeConfigSchema.parse({
    bedrockEndpoint: bedrock.url,
    models: [
      { alias: 'nova-pro', modelId: 'us.amazon.nova-pro-v1:0' },
      { alias: 'qwen-7b', modelId: 'qwen2.5-7b-instruct', route: 'vllm-qwen' },
      { alias: 'qwen-max', modelId: 'qwen-max', route: 'dashscope' },
    ],
    upstreams: [
      { name: 'vllm-qwen', kind: 'vllm', baseUrl: `${vllm.url}/v1`, apiKeySecretId: 'cnllm/vllm-key', maxAttempts: 1 },
      { name: 'dashscope', kind: 'provider', baseUrl: `${provider.url}/v1`, apiKeySecretId: 'cnllm/dashscope-key', maxAttempts: 1 },
    ],
    fallbacks: { 'qwen-7b': ['qwen-max', 'nova-pro'], 'nova-pro': ['qwen-7b'] },
    retry: { baseDelayMs: 1, maxDelayMs: 2 },
    ...overrides,
  });
  const secretsClient = new SecretsManagerClient({ region: 'cn-northwest-1', endpoint: secrets.url, credentials: { accessKeyId: 'AKIACHINA', secretAccessKey: 's' } });
  gateway = await startLocalGateway({
    gateway: createGateway({
      config,
      bedrock: new BedrockInvoker(config, { get: async () => ({ accessKeyId: 'AKIAGLOBAL', secretAccessKey: 's' }), invalidate: () => undefined }),
      upstreams: new Map(config.upstreams.map((u) => [u.name, new OpenAiUpstream(u, secretsClient)])),
      log: (l) => logs.push(l),
    }),
    mode: 'stream',
  });
}

beforeEach(async () => {
  bedrock = await new BedrockFake().start();
  vllm = await new OpenAiUpstreamFake('vllm', 'vllm-key-123').start();
  provider = await new OpenAiUpstreamFake('dashscope', 'sk-dashscope-456').start();
  secrets = await new AwsPartitionFake('aws-cn', '111122223333').addKey('AKIACHINA', 'gateway').start();
  secrets.secrets.set('cnllm/vllm-key', 'vllm-key-123');
  secrets.secrets.set('cnllm/dashscope-key', JSON.stringify({ apiKey: 'sk-dashscope-456' }));
  await start();
});
afterEach(async () => {
  await gateway.close();
  await Promise.all([bedrock.stop(), vllm.stop(), provider.stop(), secrets.stop()]);
});

const client = () => new OpenAI({ baseURL: `${gateway.url}/v1`, apiKey: 'local', maxRetries: 0 });
const ask = (model: string, extra: object = {}, headers: Record<string, string> = {}) =>
  client().chat.completions.create({ model, messages: [{ role: 'user', content: 'hi' }], ...extra }, { headers });

describe('one endpoint, three kinds of route', () => {
  test('/v1/models lists every routed model with its route kind and whether it leaves China', async () => {
    const models = (await client().models.list()).data as unknown as Record<string, unknown>[];
    expect(models.map((m) => [m.id, m.route, m.cross_border])).toEqual([
      ['nova-pro', 'bedrock', true],
      ['qwen-7b', 'vllm', false],
      ['qwen-max', 'provider', false],
    ]);
  });

  test('the model name picks the route: vLLM and the provider get the upstream model name and their key from Secrets Manager', async () => {
    expect((await ask('qwen-7b')).choices[0].message.content).toBe('vllm: hi');
    expect(vllm.requests[0]).toEqual({ body: expect.objectContaining({ model: 'qwen2.5-7b-instruct' }), authorization: 'Bearer vllm-key-123' });
    const fromProvider = await ask('qwen-max');
    expect(fromProvider.choices[0].message.content).toBe('dashscope: hi');
    expect(fromProvider.model).toBe('qwen-max');
    expect(provider.requests[0].authorization).toBe('Bearer sk-dashscope-456');
    expect((await ask('nova-pro')).choices[0].message.content).toBe('You said: hi');
  });

  test('streams from vLLM pass through unbuffered, with usage metered per caller and model', async () => {
    vllm.push({ kind: 'reply', tokens: ['a ', 'b ', 'c ', 'd'], delayMs: 60 });
    const stream = await ask('qwen-7b', { stream: true, stream_options: { include_usage: true } });
    const arrivals: number[] = [];
    let text = '';
    for await (const chunk of stream as unknown as AsyncIterable<OpenAI.ChatCompletionChunk>) {
      const content = chunk.choices[0]?.delta?.content;
      if (content) {
        arrivals.push(Date.now());
        text += content;
      }
    }
    expect(text).toBe('a b c d');
    for (let i = 1; i < arrivals.length; i++) expect(arrivals[i] - arrivals[i - 1]).toBeGreaterThanOrEqual(30);
    expect(logs.at(-1)).toEqual(expect.objectContaining({ model: 'qwen-7b', servedBy: 'vllm-qwen', caller: 'local', inputTokens: 7, outputTokens: 4, Model: 'qwen-7b', Caller: 'local' }));
  });

  test('usage is metered from the end of a long stream (many KB, multi-byte text)', async () => {
    const tokens = Array.from({ length: 500 }, (_, i) => `词${i} `);
    vllm.push({ kind: 'reply', tokens });
    let text = '';
    for await (const chunk of (await ask('qwen-7b', { stream: true, stream_options: { include_usage: true } })) as unknown as AsyncIterable<OpenAI.ChatCompletionChunk>) text += chunk.choices[0]?.delta?.content ?? '';
    expect(text).toBe(tokens.join(''));
    expect(logs.at(-1)).toEqual(expect.objectContaining({ servedBy: 'vllm-qwen', inputTokens: 7, outputTokens: 500 }));
  });
});

describe('fallback and residency', () => {
  test('a retryable failure (503, 429, reset) moves to the next route in the chain', async () => {
    vllm.push({ kind: 'status', status: 503 });
    expect((await ask('qwen-7b')).choices[0].message.content).toBe('dashscope: hi');
    expect(logs.at(-1)).toEqual(expect.objectContaining({ servedBy: 'dashscope', fallbacks: 1, status: 200 }));
    vllm.push({ kind: 'reset' });
    provider.push({ kind: 'status', status: 429 });
    expect((await ask('qwen-7b')).choices[0].message.content).toBe('You said: hi');
    expect(logs.at(-1)).toEqual(expect.objectContaining({ servedBy: 'bedrock', fallbacks: 2 }));
  });

  test('a request the upstream rejects (400) does not fall back', async () => {
    vllm.push({ kind: 'status', status: 400 });
    await expect(ask('qwen-7b')).rejects.toMatchObject({ status: 400, error: { code: 'upstream_rejected' } });
    expect(provider.requests).toHaveLength(0);
  });

  test('a request that must stay in China never reaches Bedrock: refused, or served by an in-China fallback', async () => {
    expect((await ask('nova-pro', {}, { 'x-cnllm-residency': 'china-only' })).choices[0].message.content).toBe('vllm: hi');
    expect(bedrock.requests).toHaveLength(0);
    expect(logs.at(-1)).toEqual(expect.objectContaining({ servedBy: 'vllm-qwen' }));
    vllm.push({ kind: 'status', status: 503 });
    provider.push({ kind: 'status', status: 503 });
    await expect(ask('qwen-7b', {}, { 'x-cnllm-residency': 'china-only' })).rejects.toMatchObject({ status: 502 });
    expect(bedrock.requests).toHaveLength(0);
  });

  test('residency china-only in config refuses cross-border models outright', async () => {
    await gateway.close();
    await start({ residency: 'china-only', fallbacks: {} });
    await expect(ask('nova-pro')).rejects.toMatchObject({ status: 403, error: { code: 'residency_violation' } });
    expect((await ask('qwen-max')).choices[0].message.content).toBe('dashscope: hi');
    expect(bedrock.requests).toHaveLength(0);
  });

  test('a provider whose key the operator has not put yet answers 503 with the command to fix it', async () => {
    secrets.secrets.set('cnllm/dashscope-key', JSON.stringify({ set: false, placeholder: 'x' }));
    await gateway.close();
    await start({ fallbacks: {} });
    await expect(ask('qwen-max')).rejects.toMatchObject({ status: 503, error: { code: 'upstream_key_not_set', message: expect.stringContaining('aws secretsmanager put-secret-value --secret-id cnllm/dashscope-key') } });
    expect(provider.requests).toHaveLength(0);
  });

  test('an upstream that cannot be reached or whose key cannot be read is named in the error (not reported as Bedrock)', async () => {
    await gateway.close();
    await start({ fallbacks: {} });
    secrets.secrets.delete('cnllm/vllm-key');
    await expect(ask('qwen-7b')).rejects.toMatchObject({ status: 500, error: { code: 'credential_unavailable', message: expect.stringContaining('could not read the key of vllm upstream "vllm-qwen"') } });
    secrets.secrets.set('cnllm/vllm-key', 'vllm-key-123');
    await vllm.stop();
    await expect(ask('qwen-7b')).rejects.toMatchObject({ status: 502, error: { code: 'upstream_connection', message: expect.stringMatching(/^Connection to vllm upstream "vllm-qwen" failed/) } });
  });

  test('a model that names an unknown route is a startup error, not a runtime surprise', () => {
    const config = GatewayRuntimeConfigSchema.parse({ models: [{ alias: 'x', modelId: 'x', route: 'nowhere' }] });
    expect(() => createGateway({ config, bedrock: new BedrockInvoker(config) })).toThrow('model x names route "nowhere", which is not among the upstreams');
  });
});
