import * as http from 'http';
import { BedrockInvoker } from '../../runtime/gateway/bedrock';
import { createGateway } from '../../runtime/gateway/gateway';
import { decodeStreamEvents } from '../../runtime/gateway/native-wire';
import { OpenAiUpstream } from '../../runtime/gateway/openai-upstream';
import { MAX_JSON_DEPTH } from '../../runtime/gateway/request-body';
import { GatewayRuntimeConfigSchema } from '../../runtime/gateway/runtime-config';
import { withRetries } from '../../runtime/gateway/retry';
import { upstreamChat } from '../../runtime/gateway/upstream-chat';
import { LocalGateway, startLocalGateway } from '../../runtime/local/local-gateway';
import { BedrockFake } from '../fakes/bedrock-fake';
import { LoopbackServer } from '../fakes/loopback-server';

const MODELS = [
  { alias: 'nova-lite', modelId: 'us.amazon.nova-lite-v1:0' },
  { alias: 'qwen', modelId: 'qwen-plus', route: 'dashscope' },
];
const PNG_1X1 = 'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg==';
const CREDENTIALS = { get: async () => ({ accessKeyId: 'AKIATEST', secretAccessKey: 'secret' }), invalidate: () => undefined };

/** An OpenAI-compatible upstream whose stream misbehaves as told: complete, without [DONE], or silent after two chunks. */
class SseUpstream extends LoopbackServer {
  mode: 'complete' | 'noDone' | 'stall' = 'complete';
  closedEarly = 0;
  protected async serve(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    for await (const _ of req);
    res.writeHead(200, { 'content-type': 'text/event-stream' });
    const chunk = (content: string) => `data: ${JSON.stringify({ id: 'c', object: 'chat.completion.chunk', created: 1, model: 'qwen-plus', choices: [{ index: 0, delta: { content }, finish_reason: null }] })}\n\n`;
    res.write(chunk('one '));
    res.write(chunk('two '));
    if (this.mode === 'complete') return void res.end('data: [DONE]\n\n');
    if (this.mode === 'noDone') return void res.end();
    res.on('close', () => {
      if (!res.writableFinished) this.closedEarly++;
    });
  }
}

interface Rig {
  fake: BedrockFake;
  upstream: SseUpstream;
  gateway: LocalGateway;
  logs: Record<string, any>[];
  post(path: string, body: unknown, headers?: Record<string, string>): Promise<Response>;
}

async function rig(overrides: Record<string, unknown> = {}, mode: 'stream' | 'buffered' = 'stream'): Promise<Rig> {
  const fake = await new BedrockFake().start();
  const upstream = await new SseUpstream().start();
  const config = GatewayRuntimeConfigSchema.parse({
    bedrockEndpoint: fake.url,
    models: MODELS,
    upstreams: [{ name: 'dashscope', kind: 'provider', baseUrl: `${upstream.url}/v1`, maxAttempts: 1 }],
    retry: { maxAttempts: 3, baseDelayMs: 1, maxDelayMs: 5 },
    ...overrides,
  });
  const logs: Record<string, any>[] = [];
  const gateway = await startLocalGateway({ gateway: createGateway({ config, bedrock: new BedrockInvoker(config, CREDENTIALS, async () => undefined), log: (l) => logs.push(l) }), mode });
  const post = (path: string, body: unknown, headers: Record<string, string> = {}) =>
    fetch(`${gateway.url}${path}`, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: typeof body === 'string' ? body : JSON.stringify(body) });
  return { fake, upstream, gateway, logs, post };
}

async function teardown(r: Rig) {
  await r.gateway.close();
  await r.fake.stop();
  await r.upstream.stop();
}

const chat = (extra: Record<string, unknown> = {}) => ({ model: 'nova-lite', messages: [{ role: 'user', content: 'hi' }], ...extra });
const converse = { messages: [{ role: 'user', content: [{ text: 'hi' }] }] };

/** The SSE events of a body, [DONE] as the string. */
function sseEvents(text: string): any[] {
  return text
    .trim()
    .split('\n\n')
    .map((e) => e.replace(/^data: /, ''))
    .map((d) => (d === '[DONE]' ? d : JSON.parse(d)));
}

async function expectError(res: Response, status: number, code: string) {
  const body = (await res.json()) as { error: { message: string; type: string; code: string; param: unknown } };
  expect({ status: res.status, code: body.error.code }).toEqual({ status, code });
  expect(typeof body.error.message).toBe('string');
  expect(typeof body.error.type).toBe('string');
  return body.error;
}

describe('data residency: one gate for every route that can leave China', () => {
  let r: Rig;
  afterEach(() => teardown(r));

  test.each([
    ['config residency: china-only', { residency: 'china-only' }, {}],
    ['header x-cnllm-residency: china-only', {}, { 'x-cnllm-residency': 'China-Only' }],
  ])('%s: chat, converse and converse-stream are refused with 403 and Bedrock sees no connection', async (_name, overrides, headers) => {
    r = await rig(overrides);
    await expectError(await r.post('/v1/chat/completions', chat(), headers), 403, 'residency_violation');
    await expectError(await r.post('/v1/chat/completions', chat({ stream: true }), headers), 403, 'residency_violation');
    await expectError(await r.post('/model/nova-lite/converse', converse, headers), 403, 'residency_violation');
    await expectError(await r.post(`/model/${encodeURIComponent('us.amazon.nova-lite-v1:0')}/converse-stream`, converse, headers), 403, 'residency_violation');
    expect(r.fake.connections).toBe(0);
    // A route that stays in China still serves the same request.
    expect((await r.post('/v1/chat/completions', chat({ model: 'qwen', stream: true }), headers)).status).toBe(200);
  });

  test('a residency header the gateway does not know is refused rather than ignored', async () => {
    r = await rig();
    const error = await expectError(await r.post('/model/nova-lite/converse', converse, { 'x-cnllm-residency': 'china' }), 400, 'invalid_residency');
    expect(error.param).toBe('x-cnllm-residency');
    expect(r.fake.connections).toBe(0);
  });

  test('the Bedrock invoker and the upstream route open no connection for a model that did not pass the gate', async () => {
    r = await rig();
    const config = GatewayRuntimeConfigSchema.parse({ bedrockEndpoint: r.fake.url, models: MODELS.slice(0, 1) });
    const invoker = new BedrockInvoker(config, CREDENTIALS);
    const sent = jest.fn();
    await expect(invoker.call(async () => sent(), { model: config.models[0] as never })).rejects.toMatchObject({ status: 500, code: 'residency_not_checked' });
    expect(sent).not.toHaveBeenCalled();
    expect(r.fake.connections).toBe(0);

    // The same for an OpenAI-compatible upstream.
    const withUpstream = GatewayRuntimeConfigSchema.parse({ models: MODELS.slice(1), upstreams: [{ name: 'dashscope', kind: 'provider', baseUrl: `${r.upstream.url}/v1` }] });
    const upstream = new OpenAiUpstream(withUpstream.upstreams[0]);
    const { BufferedSink } = await import('../../runtime/gateway/types');
    const call = { req: { method: 'POST', path: '/v1/chat/completions', headers: {}, body: '{}', caller: 't', requestId: 'r' }, sink: new BufferedSink(), outcome: { route: 'x', status: 200 } };
    const ctx = { config: withUpstream, now: Date.now } as never;
    await expect(upstreamChat(ctx, call, chat({ model: 'qwen' }) as never, withUpstream.models[0] as never, upstream)).rejects.toMatchObject({ code: 'residency_not_checked' });
    expect(r.upstream.connections).toBe(0);
  });
});

describe('bad input is a 4xx before any upstream call', () => {
  let r: Rig;
  beforeEach(async () => {
    r = await rig();
  });
  afterEach(() => teardown(r));

  test('malformed percent-encoding in a path is a 400, not a 502', async () => {
    await expectError(await r.post('/model/%E0%A4%A/converse', converse), 400, 'invalid_path');
    await expectError(await fetch(`${r.gateway.url}/v1/models/%ZZ`), 400, 'invalid_path');
    expect(r.fake.connections).toBe(0);
  });

  test(`JSON nested deeper than ${MAX_JSON_DEPTH} levels is a 400 that says so (chat tools, native additional fields, anywhere)`, async () => {
    // Built as text: JSON.stringify itself recurses and could not even write these.
    const deep = (levels: number) => '{"a":'.repeat(levels) + '1' + '}'.repeat(levels);
    const toolsBody = (levels: number) => `{"model":"nova-lite","messages":[{"role":"user","content":"hi"}],"tools":[{"type":"function","function":{"name":"f","parameters":${deep(levels)}}}]}`;
    const e1 = await expectError(await r.post('/v1/chat/completions', toolsBody(50_000)), 400, 'json_too_deep');
    expect(e1.message).toContain(String(MAX_JSON_DEPTH));
    await expectError(await r.post('/model/nova-lite/converse', `{"messages":[{"role":"user","content":[{"text":"hi"}]}],"additionalModelRequestFields":${deep(50_000)}}`), 400, 'json_too_deep');
    await expectError(await r.post('/v1/chat/completions', '['.repeat(100_000) + ']'.repeat(100_000)), 400, 'json_too_deep');
    expect(r.fake.connections).toBe(0);
    // Right at the limit is still fine.
    expect((await r.post('/v1/chat/completions', toolsBody(MAX_JSON_DEPTH - 5))).status).toBe(200);
  });

  test.each([
    ['invalid base64', 'data:image/png;base64,!!!', 'invalid_media'],
    ['empty', 'data:image/png;base64,', 'invalid_media'],
    ['bytes that are not the declared type', `data:image/jpeg;base64,${PNG_1X1}`, 'invalid_media'],
    ['over Bedrock per-image limit', `data:image/png;base64,${Buffer.concat([Buffer.from(PNG_1X1, 'base64'), Buffer.alloc(3.8 * 1024 * 1024)]).toString('base64')}`, 'media_too_large'],
  ])('chat image %s: 400 and nothing sent', async (_name, url, code) => {
    const error = await expectError(await r.post('/v1/chat/completions', chat({ messages: [{ role: 'user', content: [{ type: 'image_url', image_url: { url } }] }] })), 400, code);
    expect(error.param).toBe('messages[0].content[0]');
    expect(r.fake.connections).toBe(0);
  });

  test('native Converse image and document bytes are checked the same way', async () => {
    const withBlock = (block: object) => ({ messages: [{ role: 'user', content: [{ text: 'look' }, block] }] });
    await expectError(await r.post('/model/nova-lite/converse', withBlock({ image: { format: 'png', source: { bytes: '!!!' } } })), 400, 'invalid_media');
    await expectError(await r.post('/model/nova-lite/converse', withBlock({ image: { format: 'gif', source: { bytes: PNG_1X1 } } })), 400, 'invalid_media');
    await expectError(await r.post('/model/nova-lite/converse', withBlock({ document: { format: 'pdf', name: 'x', source: { bytes: '' } } })), 400, 'invalid_media');
    await expectError(await r.post('/model/nova-lite/converse', withBlock({ document: { format: 'pdf', name: 'x', source: { bytes: 42 } } })), 400, 'invalid_media');
    expect(r.fake.connections).toBe(0);
    const pdf = Buffer.from('%PDF-1.4\n%%EOF').toString('base64');
    expect((await r.post('/model/nova-lite/converse', withBlock({ document: { format: 'pdf', name: 'x', source: { bytes: pdf } } }))).status).toBe(200);
    expect(r.fake.requests[0].body.messages[0].content[1].document.source.bytes).toBe(pdf);
  });

  test('a native Converse body of the wrong shape is a 400, not a serializer crash', async () => {
    for (const body of [{ messages: 'hi' }, { messages: [{ role: 'user', content: 'hi' }] }, { messages: [1] }, { system: {} }, { inferenceConfig: { maxTokens: 'many' } }, { toolConfig: { tools: 'all' } }]) {
      const res = await r.post('/model/nova-lite/converse', body);
      expect([JSON.stringify(body), res.status]).toEqual([JSON.stringify(body), 400]);
    }
    expect(r.fake.connections).toBe(0);
  });

  test('4xx and the gateway own failures do not count as UpstreamErrors; upstream failures do', async () => {
    await r.post('/v1/chat/completions', '{');
    await r.post('/model/%ZZ/converse', converse);
    r.fake.push(...Array(3).fill({ kind: 'error', status: 500, type: 'InternalServerException' }));
    expect((await r.post('/v1/chat/completions', chat())).status).toBe(502);
    expect(r.logs.map((l) => [l.status, l.UpstreamErrors])).toEqual([
      [400, 0],
      [400, 0],
      [502, 1],
    ]);
    expect(r.logs[2].errorMessage).toMatch(/Bedrock failed/);
  });

  test('a 4xx log line names the error but does not quote the request (the JSON parser quotes it)', async () => {
    const res = await r.post('/v1/chat/completions', 'secret plans for the launch');
    expect(((await res.json()) as { error: { message: string } }).error.message).toContain('secret pla');
    expect(r.logs[0]).toEqual(expect.objectContaining({ status: 400, error: 'invalid_json' }));
    expect(JSON.stringify(r.logs)).not.toContain('secret pla');
  });
});

describe('streams end honestly', () => {
  let r: Rig;
  afterEach(() => teardown(r));

  test('a Bedrock stream that goes silent ends with an SSE error after streamIdleMs, the connection is closed, and it is logged', async () => {
    r = await rig({ timeouts: { streamIdleMs: 1000 } });
    r.fake.push({ kind: 'cut', afterTokens: 2, how: 'stall', ms: 20_000 });
    const started = Date.now();
    const res = await r.post('/v1/chat/completions', chat({ messages: [{ role: 'user', content: 'a b c d' }], stream: true }));
    const events = sseEvents(await res.text());
    expect(Date.now() - started).toBeLessThan(5000);
    expect(events.at(-1)).toEqual({ error: expect.objectContaining({ code: 'upstream_stream_idle', type: 'timeout_error', message: expect.stringContaining('1000 ms') }) });
    expect(events).not.toContain('[DONE]');
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(r.fake.abandonedStreams).toEqual([{ tokensSent: 2 }]);
    expect(r.fake.requests).toHaveLength(1);
    expect(r.logs[0]).toEqual(expect.objectContaining({ level: 'error', error: 'upstream_stream_idle', UpstreamErrors: 1 }));
  });

  test('native converse-stream: silence becomes an exception event', async () => {
    r = await rig({ timeouts: { streamIdleMs: 1000 } });
    r.fake.push({ kind: 'cut', afterTokens: 1, how: 'stall', ms: 20_000 });
    const res = await r.post('/model/nova-lite/converse-stream', converse);
    const events = decodeStreamEvents(new Uint8Array(await res.arrayBuffer()));
    expect(events.at(-1)).toEqual({ kind: 'exception', type: 'modelStreamErrorException', payload: { message: expect.stringContaining('upstream_stream_idle') } });
  });

  test('a Bedrock stream that ends without messageStop is a truncation, not a success', async () => {
    r = await rig();
    r.fake.push({ kind: 'cut', afterTokens: 2, how: 'end' });
    const events = sseEvents(await (await r.post('/v1/chat/completions', chat({ messages: [{ role: 'user', content: 'a b c d' }], stream: true }))).text());
    expect(events.at(-1)).toEqual({ error: expect.objectContaining({ code: 'upstream_truncated' }) });
    expect(events).not.toContain('[DONE]');
    expect(r.fake.requests).toHaveLength(1);

    r.fake.push({ kind: 'cut', afterTokens: 1, how: 'end' });
    const native = decodeStreamEvents(new Uint8Array(await (await r.post('/model/nova-lite/converse-stream', converse)).arrayBuffer()));
    expect(native.at(-1)).toEqual({ kind: 'exception', type: 'modelStreamErrorException', payload: { message: expect.stringContaining('upstream_truncated') } });
    expect(native.map((e) => e.type)).not.toContain('messageStop');
  });

  test('a truncation before the first token reached the caller is retried', async () => {
    r = await rig();
    r.fake.push({ kind: 'cut', afterTokens: 0, how: 'end' });
    const events = sseEvents(await (await r.post('/v1/chat/completions', chat({ stream: true }))).text());
    expect(events.at(-1)).toBe('[DONE]');
    expect(r.fake.requests).toHaveLength(2);
  });

  test('an OpenAI-compatible stream without data: [DONE] ends with an SSE error; a silent one is cut after streamIdleMs', async () => {
    r = await rig({ timeouts: { streamIdleMs: 1000 } });
    r.upstream.mode = 'noDone';
    const cut = sseEvents(await (await r.post('/v1/chat/completions', chat({ model: 'qwen', stream: true }))).text());
    expect(cut.at(-1)).toEqual({ error: expect.objectContaining({ code: 'upstream_truncated' }) });

    r.upstream.mode = 'stall';
    const silent = sseEvents(await (await r.post('/v1/chat/completions', chat({ model: 'qwen', stream: true }))).text());
    expect(silent.at(-1)).toEqual({ error: expect.objectContaining({ code: 'upstream_stream_idle' }) });
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(r.upstream.closedEarly).toBe(1);

    r.upstream.mode = 'complete';
    expect(sseEvents(await (await r.post('/v1/chat/completions', chat({ model: 'qwen', stream: true }))).text()).at(-1)).toBe('[DONE]');
  });


  test('a connection reset is a 502 upstream_connection (retried), not a 504 timeout', async () => {
    r = await rig();
    r.fake.push({ kind: 'reset' }, { kind: 'reset' }, { kind: 'reset' });
    const error = await expectError(await r.post('/v1/chat/completions', chat()), 502, 'upstream_connection');
    expect(error.type).toBe('api_error');
    expect(r.fake.requests).toHaveLength(3);
  });
});

describe('deadline-aware retries', () => {
  let r: Rig;
  afterEach(() => teardown(r));

  test('a request that outlasts integrationTimeoutMs ends with 504 deadline_exceeded before it, logged and counted', async () => {
    r = await rig({ integrationTimeoutMs: 2500, retry: { maxAttempts: 5, baseDelayMs: 1, maxDelayMs: 5 } });
    r.fake.push({ kind: 'hang', ms: 10_000 });
    const started = Date.now();
    await expectError(await r.post('/v1/chat/completions', chat()), 504, 'deadline_exceeded');
    // The deadline minus the safety margin, not the 10 s the upstream would take.
    expect(Date.now() - started).toBeLessThan(2500);
    expect(r.fake.requests).toHaveLength(1);
    expect(r.logs[0]).toEqual(expect.objectContaining({ level: 'error', error: 'deadline_exceeded', DeadlineExceeded: 1, UpstreamErrors: 0 }));
  });

  test('a stream still running at the deadline ends with an SSE error instead of being cut off', async () => {
    r = await rig({ integrationTimeoutMs: 2000 });
    r.fake.push({ kind: 'reply', text: 'a b c d e f g h i j k l m n o p', interTokenDelayMs: 200 });
    const events = sseEvents(await (await r.post('/v1/chat/completions', chat({ stream: true }))).text());
    expect(events.at(-1)).toEqual({ error: expect.objectContaining({ code: 'deadline_exceeded' }) });
    expect(r.fake.requests).toHaveLength(1);
  });

  test('no retry or backoff starts that cannot finish before the deadline: the last upstream answer is returned', async () => {
    const sleeps: number[] = [];
    let now = 0;
    const attempts: number[] = [];
    const failing = async (attempt: number) => {
      attempts.push(attempt);
      now += 4000;
      throw Object.assign(new Error('slow down'), { name: 'ThrottlingException' });
    };
    const error = await withRetries(failing, { maxAttempts: 5, baseDelayMs: 1000, maxDelayMs: 1000 }, { deadline: 10_000, now: () => now, sleep: async (ms) => void sleeps.push(ms) }).catch((e) => e);
    // 4 s used by the first attempt, 8 s by the second: 10 s - 1 s margin leaves no room for a third.
    expect(attempts).toEqual([1, 2]);
    expect(error).toMatchObject({ status: 429, code: 'rate_limit_exceeded' });
    expect(sleeps).toHaveLength(1);
  });

  test('the Lambda handler passes its remaining run time as the deadline', async () => {
    r = await rig();
    r.fake.push({ kind: 'hang', ms: 10_000 });
    const env = { CNLLM_GATEWAY_CONFIG: JSON.stringify({ bedrockEndpoint: r.fake.url, models: MODELS.slice(0, 1), retry: { maxAttempts: 3, baseDelayMs: 1, maxDelayMs: 5 } }), AWS_ACCESS_KEY_ID: 'AKIATEST', AWS_SECRET_ACCESS_KEY: 'x' };
    const saved = { ...process.env };
    Object.assign(process.env, env);
    const write = jest.spyOn(process.stdout, 'write').mockImplementation(() => true);
    try {
      const { handler } = await import('../../runtime/gateway/lambda');
      const started = Date.now();
      const result = await handler(
        { httpMethod: 'POST', path: '/v1/chat/completions', body: JSON.stringify(chat()), requestContext: { requestId: 'r1' } },
        { getRemainingTimeInMillis: () => 2500 - (Date.now() - started) },
      );
      expect(result.statusCode).toBe(504);
      expect(JSON.parse(result.body).error.code).toBe('deadline_exceeded');
      expect(Date.now() - started).toBeLessThan(2500);
    } finally {
      write.mockRestore();
      process.env = saved;
    }
  });
});

test('an upstream that answers a non-stream call with something other than a JSON object is a 502 upstream_bad_response', async () => {
  const bad = new (class extends LoopbackServer {
    protected async serve(req: http.IncomingMessage, res: http.ServerResponse) {
      for await (const _ of req);
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(req.url?.includes('x') ? 'null' : 'not json');
    }
  })();
  await bad.start();
  try {
    const config = GatewayRuntimeConfigSchema.parse({ models: [{ alias: 'qwen', modelId: 'q', route: 'u' }], upstreams: [{ name: 'u', kind: 'provider', baseUrl: `${bad.url}/v1`, maxAttempts: 1 }] });
    const logs: any[] = [];
    const gw = createGateway({ config, bedrock: new BedrockInvoker(config), upstreams: new Map([['u', new OpenAiUpstream(config.upstreams[0])]]), log: (l) => logs.push(l) });
    const { BufferedSink } = await import('../../runtime/gateway/types');
    const sink = new BufferedSink();
    await gw.handle({ method: 'POST', path: '/v1/chat/completions', headers: {}, body: JSON.stringify(chat({ model: 'qwen' })), caller: 't', requestId: 'r' }, sink);
    expect(sink.status).toBe(502);
    expect(JSON.parse(sink.body.toString()).error.code).toBe('upstream_bad_response');
  } finally {
    await bad.stop();
  }
});

test('the gateway own 5xx (a secret it cannot read, a bug) is logged as an error but not as an upstream error', async () => {
  const config = GatewayRuntimeConfigSchema.parse({ models: MODELS.slice(0, 1), bedrockEndpoint: 'http://127.0.0.1:9' });
  const { GatewayError } = await import('../../runtime/gateway/errors');
  const unreadable = { get: async () => Promise.reject(new GatewayError(500, 'api_error', 'no secret', 'credential_unavailable')), invalidate: () => undefined };
  const logs: any[] = [];
  const gw = createGateway({ config, bedrock: new BedrockInvoker(config, unreadable), log: (l) => logs.push(l) });
  const { BufferedSink } = await import('../../runtime/gateway/types');
  const sink = new BufferedSink();
  await gw.handle({ method: 'POST', path: '/v1/chat/completions', headers: {}, body: JSON.stringify(chat()), caller: 't', requestId: 'r' }, sink);
  expect(sink.status).toBe(500);
  expect(logs[0]).toEqual(expect.objectContaining({ level: 'error', status: 500, error: 'credential_unavailable', UpstreamErrors: 0 }));
});
