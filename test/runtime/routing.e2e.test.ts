import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import OpenAI from 'openai';
import { BedrockInvoker } from '../../runtime/gateway/bedrock';
import { createGateway, Gateway } from '../../runtime/gateway/gateway';
import { OpenAiUpstream } from '../../runtime/gateway/openai-upstream';
import { GatewayRuntimeConfigSchema } from '../../runtime/gateway/runtime-config';
import { BufferedSink } from '../../runtime/gateway/types';
import { LocalGateway, startLocalGateway } from '../../runtime/local/local-gateway';
import { AwsPartitionFake } from '../fakes/aws-partition-fake';
import { BedrockFake } from '../fakes/bedrock-fake';
import { OpenAiUpstreamFake } from '../fakes/openai-upstream-fake';

let bedrock: BedrockFake;
let vllm: OpenAiUpstreamFake;
let provider: OpenAiUpstreamFake;
let secrets: AwsPartitionFake;
let gateway: LocalGateway;
/** The gateway core behind the local runner, for requests from identities the runner does not sign. */
let core: Gateway;
let logs: Record<string, unknown>[];

async function start(overrides: Record<string, unknown> = {}) {
  logs = [];
  const config = GatewayRuntimeConfigSchema.parse({
    bedrockEndpoint: bedrock.url,
    models: [
      { alias: 'nova-pro', modelId: 'us.amazon.nova-pro-v1:0' },
      { alias: 'qwen-7b', modelId: 'qwen2.5-7b-instruct', route: 'vllm-qwen' },
      { alias: 'qwen-max', modelId: 'qwen-max-2025-01-25', route: 'dashscope' },
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
  core = createGateway({
    config,
    bedrock: new BedrockInvoker(config, { get: async () => ({ accessKeyId: 'AKIAGLOBAL', secretAccessKey: 's' }), invalidate: () => undefined }),
    upstreams: new Map(config.upstreams.map((u) => [u.name, new OpenAiUpstream(u, secretsClient)])),
    log: (l) => logs.push(l),
  });
  gateway = await startLocalGateway({ gateway: core, mode: 'stream' });
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

const chunksOf = async (stream: unknown) => {
  const chunks: OpenAI.ChatCompletionChunk[] = [];
  for await (const chunk of stream as AsyncIterable<OpenAI.ChatCompletionChunk>) chunks.push(chunk);
  return chunks;
};

describe('OpenAI-compatible routes get the request as sent', () => {
  // Fields vLLM and providers support that Converse has no equivalent for (vLLM's guided decoding among them).
  const upstreamOnly = {
    n: 2,
    logprobs: true,
    top_logprobs: 3,
    seed: 42,
    frequency_penalty: 0.5,
    response_format: { type: 'json_schema', json_schema: { name: 'answer', schema: { type: 'object' } } },
    guided_json: { type: 'object', properties: { city: { type: 'string' } } },
    top_k: 20,
    chat_template_kwargs: { enable_thinking: false },
  };
  const mediaMessages = [
    {
      role: 'user',
      content: [
        { type: 'text', text: 'describe' },
        { type: 'video_url', video_url: { url: 'data:video/mp4;base64,AAAA' } },
        { type: 'input_audio', input_audio: { data: 'UklGRg==', format: 'wav' } },
      ],
    },
  ];

  test('n, logprobs, seed, response_format, vLLM extras and audio/video parts reach vLLM unchanged', async () => {
    const res = await client().chat.completions.create({ model: 'qwen-7b', messages: mediaMessages, ...upstreamOnly } as never);
    expect(res.choices).toHaveLength(2);
    expect(vllm.requests[0].body).toEqual({ model: 'qwen2.5-7b-instruct', messages: mediaMessages, ...upstreamOnly });
    expect(logs.at(-1)).toEqual(expect.objectContaining({ status: 200, servedBy: 'vllm-qwen' }));
  });

  test('the gateway still checks what it reads itself, for every route', async () => {
    const post = (body: object) => fetch(`${gateway.url}/v1/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
    for (const [body, param] of [
      [{ model: 'qwen-7b', messages: [{ content: 'no role' }] }, 'messages.0.role'],
      [{ model: 'qwen-7b', messages: [] }, 'messages'],
      [{ model: 'qwen-7b', messages: [{ role: 'user', content: 'x' }], stream: 'yes' }, 'stream'],
      [{ model: 'qwen-7b', messages: [{ role: 'user', content: 'x' }], stream_options: { include_usage: 1 } }, 'stream_options.include_usage'],
    ] as const) {
      const res = await post(body);
      expect([param, res.status, ((await res.json()) as { error: { param: string } }).error.param]).toEqual([param, 400, param]);
    }
    expect(vllm.requests).toHaveLength(0);
  });

  test('a Bedrock route refuses what Converse cannot honour with a 400 naming the parameter and the route; neutral values pass', async () => {
    const refused = (extra: object, messages?: object[]) => client().chat.completions.create({ model: 'nova-pro', messages: messages ?? [{ role: 'user', content: 'hi' }], ...extra } as never).catch((e) => e);
    for (const [extra, param] of [
      [{ logprobs: true }, 'logprobs'],
      [{ n: 2 }, 'n'],
      [{ seed: 42 }, 'seed'],
      [{ prediction: { type: 'content', content: 'hi' } }, 'prediction'],
      [{ reasoning_effort: 'low' }, 'reasoning_effort'],
      [{ frequency_penalty: 0.5 }, 'frequency_penalty'],
      [{ guided_json: { type: 'object' } }, 'guided_json'],
    ] as const) {
      const error = await refused(extra);
      expect([param, error.status, error.error?.param]).toEqual([param, 400, param]);
      expect(error.error.message).toContain(`"${param}"`);
      expect(error.error.message).toContain('the Bedrock route of "nova-pro"');
    }
    const audio = await refused({}, mediaMessages);
    expect(audio).toMatchObject({ status: 400, error: { param: 'messages[0].content[1]', message: expect.stringContaining('"video_url" parts in user messages are not supported on the Bedrock route of "nova-pro"') } });
    expect(bedrock.requests).toHaveLength(0);

    const neutral = await ask('nova-pro', { n: 1, frequency_penalty: 0, presence_penalty: 0, logprobs: false, seed: null, response_format: { type: 'text' }, user: 'u-1' });
    expect(neutral.choices[0].message.content).toBe('You said: hi');
  });

  test('a fallback that cannot express the request is skipped: the next route serves it, or the caller gets the failure that caused the fallback', async () => {
    // qwen-7b -> qwen-max -> nova-pro: both upstreams fail, and Bedrock cannot return log probabilities.
    vllm.push({ kind: 'status', status: 503 });
    provider.push({ kind: 'status', status: 503 });
    await expect(ask('qwen-7b', { logprobs: true })).rejects.toMatchObject({ status: 502, error: { code: 'upstream_error', message: expect.stringContaining('provider upstream "dashscope" failed (503)') } });
    expect(bedrock.requests).toHaveLength(0);

    await gateway.close();
    await start({ fallbacks: { 'qwen-7b': ['nova-pro', 'qwen-max'] } });
    vllm.push({ kind: 'status', status: 503 });
    expect((await ask('qwen-7b', { logprobs: true })).choices[0].message.content).toBe('dashscope: hi');
    expect(provider.requests.at(-1)!.body.logprobs).toBe(true);
    expect(logs.at(-1)).toEqual(expect.objectContaining({ servedBy: 'dashscope', fallbacks: 2, status: 200 }));
    expect(bedrock.requests).toHaveLength(0);
  });
});

describe('answers from OpenAI-compatible routes carry the alias and are metered from their usage', () => {
  test.each([
    ['vLLM', 'qwen-7b'],
    ['the provider', 'qwen-max'],
  ])('every streamed chunk from %s names the alias, not the upstream model', async (_name, alias) => {
    const chunks = await chunksOf(await ask(alias, { stream: true, stream_options: { include_usage: true } }));
    expect(chunks.length).toBeGreaterThan(3);
    expect(new Set(chunks.map((c) => c.model))).toEqual(new Set([alias]));
    expect((await ask(alias)).model).toBe(alias);
  });

  const dashscopeUsage = { prompt_tokens: 3019, completion_tokens: 2, total_tokens: 3021, prompt_tokens_details: { cached_tokens: 2048 }, completion_tokens_details: { reasoning_tokens: 0 } };

  test('usage with nested details is metered (cached tokens too), streamed and not, and the request logged as the 200 it was', async () => {
    provider.push({ kind: 'reply', usage: dashscopeUsage }, { kind: 'reply', usage: dashscopeUsage });
    const streamed = await chunksOf(await ask('qwen-max', { stream: true, stream_options: { include_usage: true } }));
    expect(streamed.at(-1)!.usage).toEqual(dashscopeUsage);
    const metered = { status: 200, level: 'info', inputTokens: 3019, outputTokens: 2, cachedTokens: 2048, InputTokens: 3019, OutputTokens: 2, CachedInputTokens: 2048 };
    expect(logs.at(-1)).toEqual(expect.objectContaining({ stream: true, ...metered }));
    expect((await ask('qwen-max')).usage).toEqual(dashscopeUsage);
    expect(logs.at(-1)).toEqual(expect.objectContaining({ stream: false, ...metered }));
    const metrics = (logs.at(-1)!._aws as { CloudWatchMetrics: { Metrics: { Name: string }[] }[] }).CloudWatchMetrics[0].Metrics.map((m) => m.Name);
    expect(metrics).toContain('CachedInputTokens');
  });

  test('events split anywhere, CRLF endings and a malformed event: the caller gets every chunk with the alias and the request stays a metered 200', async () => {
    const event = (o: object) => `data: ${JSON.stringify({ id: 'x', object: 'chat.completion.chunk', created: 1, model: 'Qwen/Qwen2.5-7B-Instruct', ...o })}\r\n\r\n`;
    const stream = [
      event({ choices: [{ index: 0, delta: { role: 'assistant', content: '' }, finish_reason: null }] }),
      ': keep-alive\r\n\r\n',
      event({ choices: [{ index: 0, delta: { content: '宁夏' }, finish_reason: null }] }),
      'data: {"truncated": \r\n\r\n',
      event({ choices: [{ index: 0, delta: {}, finish_reason: 'stop' }] }),
      event({ choices: [], usage: { prompt_tokens: 11, completion_tokens: 1, prompt_tokens_details: { cached_tokens: 0 } } }),
      'data: [DONE]\r\n\r\n',
    ].join('');
    const bytes = Buffer.from(stream);
    const pieces = [];
    for (let at = 0; at < bytes.length; at += 37) pieces.push(bytes.subarray(at, at + 37));
    vllm.push({ kind: 'sse', pieces, delayMs: 2 });
    const res = await fetch(`${gateway.url}/v1/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ model: 'qwen-7b', messages: [{ role: 'user', content: 'x' }], stream: true }) });
    expect(await res.text()).toBe(stream.replaceAll('"model":"Qwen/Qwen2.5-7B-Instruct"', '"model":"qwen-7b"'));
    expect(logs.at(-1)).toEqual(expect.objectContaining({ status: 200, level: 'info', inputTokens: 11, outputTokens: 1, cachedTokens: 0 }));
    expect(logs.at(-1)).not.toHaveProperty('error');
  });
});

describe('the caller as a metric dimension', () => {
  const handle = async (caller: string) => {
    const sink = new BufferedSink();
    await core.handle({ method: 'POST', path: '/v1/chat/completions', headers: {}, body: JSON.stringify({ model: 'qwen-7b', messages: [{ role: 'user', content: 'hi' }] }), caller, requestId: caller }, sink);
    expect(sink.status).toBe(200);
    return logs.at(-1)!;
  };

  test('sessions of one assumed role are one Caller value; the log line keeps the full identity', async () => {
    for (const session of ['ci-job-1', 'ci-job-2', 'alice@example.com']) {
      const caller = `arn:aws-cn:sts::123456789012:assumed-role/Analysts/${session}`;
      expect(await handle(caller)).toEqual(expect.objectContaining({ caller, Caller: 'arn:aws-cn:iam::123456789012:role/Analysts' }));
    }
  });

  test('beyond 100 distinct callers per process, new ones are counted as "other"', async () => {
    for (let i = 0; i < 100; i++) expect((await handle(`api-key:k${i}`)).Caller).toBe(`api-key:k${i}`);
    expect(await handle('api-key:k100')).toEqual(expect.objectContaining({ caller: 'api-key:k100', Caller: 'other' }));
    expect((await handle('api-key:k7')).Caller).toBe('api-key:k7');
  });
});

describe('upstream errors keep whose fault they are', () => {
  beforeEach(async () => {
    await gateway.close();
    await start({ fallbacks: {} });
  });

  test.each([
    // The caller's request: the 4xx is kept, with the upstream's code and param.
    [{ status: 400, body: '{"error":{"message":"This model\'s maximum context length is 32768 tokens","code":"context_length_exceeded","param":"messages"}}' }, 400, 'context_length_exceeded', 'messages'],
    [{ status: 413, body: '{"error":{"message":"payload too large"}}' }, 413, 'upstream_rejected', null],
    [{ status: 422, body: '{"detail":[{"loc":["body","top_k"],"msg":"must be positive"}]}' }, 422, 'upstream_rejected', null],
    // The route's fault (wrong model name or address, account): a 5xx, not a caller error.
    [{ status: 404, body: '{"error":{"message":"The model `qwen2.5-7b-instruct` does not exist.","type":"NotFoundError","code":404}}' }, 502, 'upstream_not_found', null],
    [{ status: 402, body: '{"error":{"message":"Insufficient Balance"}}' }, 502, 'upstream_quota_exhausted', null],
    [{ status: 408, body: 'request timeout' }, 504, 'upstream_timeout', null],
    [{ status: 500, body: '<html>Internal Server Error</html>' }, 502, 'upstream_error', null],
  ])('upstream %j -> %i %s', async (answer, status, code, param) => {
    vllm.push({ kind: 'status', ...answer });
    const error = await ask('qwen-7b').catch((e) => e);
    expect({ status: error.status, code: error.error?.code, param: error.error?.param }).toEqual({ status, code, param });
    // A 5xx no retry can fix (wrong model name, account out of balance) tells the OpenAI SDKs not to send it again.
    expect(error.headers.get('x-should-retry')).toBe(['upstream_not_found', 'upstream_quota_exhausted'].includes(code) ? 'false' : null);
    expect(logs.at(-1)).toEqual(expect.objectContaining({ status, level: status >= 500 ? 'error' : 'warn' }));
  });

  test('a route failure that another route can fix falls back (quota, timeout); a rejected request does not', async () => {
    await gateway.close();
    await start({ fallbacks: { 'qwen-7b': ['qwen-max'] } });
    vllm.push({ kind: 'status', status: 402 });
    expect((await ask('qwen-7b')).choices[0].message.content).toBe('dashscope: hi');
    vllm.push({ kind: 'status', status: 408 });
    expect((await ask('qwen-7b')).choices[0].message.content).toBe('dashscope: hi');
    vllm.push({ kind: 'status', status: 422 });
    await expect(ask('qwen-7b')).rejects.toMatchObject({ status: 422 });
    expect(provider.requests).toHaveLength(2);
  });

  test('a redirect is reported as the route misconfigured, not followed (the key is not sent elsewhere)', async () => {
    vllm.push({ kind: 'status', status: 307, body: '', headers: { location: `${provider.url}/v1/chat/completions` } });
    await expect(ask('qwen-7b')).rejects.toMatchObject({ status: 502, error: { code: 'upstream_redirect', message: expect.stringContaining(`redirects (307 to ${provider.url}/v1/chat/completions)`) } });
    expect(provider.requests).toHaveLength(0);
  });

  test('an error body that never ends is read only up to a bound: the caller gets its start, at once', async () => {
    vllm.push({ kind: 'status', status: 500, endless: true });
    const error = await ask('qwen-7b').catch((e) => e);
    expect(error).toMatchObject({ status: 502, error: { code: 'upstream_error', message: expect.stringMatching(/^vllm upstream "vllm-qwen" failed \(500\): \{"error":\{"message":"vllm says 500 x+$/) } });
    // The gateway let go of the connection: the upstream stopped long before its 1 GiB.
    await new Promise((r) => setTimeout(r, 100));
    expect(vllm.endlessBytesWritten).toBeLessThan(64 * 1024 * 1024);
  }, 20000);
});
