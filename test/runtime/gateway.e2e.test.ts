import OpenAI from 'openai';
import { BedrockInvoker, CredentialSource } from '../../runtime/gateway/bedrock';
import { createGateway } from '../../runtime/gateway/gateway';
import { decodeStreamEvents } from '../../runtime/gateway/native-wire';
import { GatewayRuntimeConfigSchema } from '../../runtime/gateway/runtime-config';
import { LocalGateway, startLocalGateway } from '../../runtime/local/local-gateway';
import { BedrockFake } from '../fakes/bedrock-fake';

const MODELS = [
  { alias: 'nova-lite', modelId: 'us.amazon.nova-lite-v1:0' },
  { alias: 'nova-pro', modelId: 'us.amazon.nova-pro-v1:0' },
];

/** A fixed credential, like the one the Lambda reads from Secrets Manager. */
class FixedCredentials implements CredentialSource {
  loads = 0;
  constructor(public keys: string[]) {}
  async get() {
    const key = this.keys[Math.min(this.loads, this.keys.length - 1)];
    this.loads++;
    return { accessKeyId: key, secretAccessKey: 'secret' };
  }
  invalidate() {}
}

interface Rig {
  fake: BedrockFake;
  gateway: LocalGateway;
  openai: OpenAI;
  logs: Record<string, unknown>[];
  credentials: FixedCredentials;
}

async function rig(mode: 'buffered' | 'stream' = 'stream', overrides: Record<string, unknown> = {}): Promise<Rig> {
  const fake = await new BedrockFake().start();
  const config = GatewayRuntimeConfigSchema.parse({ bedrockEndpoint: fake.url, models: MODELS, retry: { maxAttempts: 3, baseDelayMs: 1, maxDelayMs: 5 }, ...overrides });
  const credentials = new FixedCredentials(['AKIAGATEWAYKEY1']);
  const logs: Record<string, unknown>[] = [];
  const gateway = await startLocalGateway({
    gateway: createGateway({ config, bedrock: new BedrockInvoker(config, credentials, async () => undefined), log: (l) => logs.push(l) }),
    mode,
  });
  const openai = new OpenAI({ baseURL: `${gateway.url}/v1`, apiKey: 'not-used-iam-signs-in-aws', maxRetries: 0 });
  return { fake, gateway, openai, logs, credentials };
}

async function teardown(r: Rig) {
  await r.gateway.close();
  await r.fake.stop();
}

describe('OpenAI-compatible gateway, end to end with the official openai client', () => {
  let r: Rig;
  beforeEach(async () => {
    r = await rig();
  });
  afterEach(() => teardown(r));

  test('chat completion: messages and parameters become a Converse request; usage comes back', async () => {
    const res = await r.openai.chat.completions.create({
      model: 'nova-lite',
      messages: [
        { role: 'system', content: 'Be brief.' },
        { role: 'user', content: 'Hello Ningxia' },
      ],
      temperature: 0.2,
      top_p: 0.9,
      max_tokens: 64,
      stop: ['END'],
    });
    expect(res.object).toBe('chat.completion');
    expect(res.model).toBe('nova-lite');
    expect(res.choices[0].message).toEqual(expect.objectContaining({ role: 'assistant', content: 'You said: Hello Ningxia' }));
    expect(res.choices[0].finish_reason).toBe('stop');
    expect(res.usage!.completion_tokens).toBe(4);
    expect(res.usage!.total_tokens).toBe(res.usage!.prompt_tokens + 4);

    const sent = r.fake.requests[0];
    expect(sent.modelId).toBe('us.amazon.nova-lite-v1:0');
    expect(sent.accessKeyId).toBe('AKIAGATEWAYKEY1');
    expect(sent.body).toEqual({
      system: [{ text: 'Be brief.' }],
      messages: [{ role: 'user', content: [{ text: 'Hello Ningxia' }] }],
      inferenceConfig: { maxTokens: 64, temperature: 0.2, topP: 0.9, stopSequences: ['END'] },
    });
  });

  test('streaming: role chunk, content chunks, finish reason, usage chunk, [DONE]', async () => {
    r.fake.push({ kind: 'reply', text: 'one two three four' });
    const stream = await r.openai.chat.completions.create({ model: 'nova-pro', messages: [{ role: 'user', content: 'count' }], stream: true, stream_options: { include_usage: true } });
    const chunks = [];
    for await (const chunk of stream) chunks.push(chunk);
    expect(chunks[0].choices[0].delta).toEqual({ role: 'assistant', content: '' });
    expect(chunks.map((c) => c.choices[0]?.delta?.content ?? '').join('')).toBe('one two three four');
    expect(chunks.filter((c) => c.choices[0]?.delta?.content).length).toBe(4);
    expect(chunks.find((c) => c.choices[0]?.finish_reason)!.choices[0].finish_reason).toBe('stop');
    const last = chunks[chunks.length - 1];
    expect(last.choices).toEqual([]);
    expect(last.usage).toEqual({ prompt_tokens: expect.any(Number), completion_tokens: 4, total_tokens: expect.any(Number) });
    expect(r.fake.requests[0].operation).toBe('converse-stream');
  });

  test('tool calls out and tool results back in', async () => {
    r.fake.push({ kind: 'reply', toolUse: { name: 'get_weather', input: { city: 'Yinchuan' } } });
    const tools: OpenAI.ChatCompletionFunctionTool[] = [
      { type: 'function', function: { name: 'get_weather', description: 'Weather by city', parameters: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] } } },
    ];
    const first = await r.openai.chat.completions.create({ model: 'nova-lite', messages: [{ role: 'user', content: 'Weather in Yinchuan?' }], tools, tool_choice: 'required' });
    const call = first.choices[0].message.tool_calls![0] as OpenAI.ChatCompletionMessageFunctionToolCall;
    expect(first.choices[0].finish_reason).toBe('tool_calls');
    expect(first.choices[0].message.content).toBeNull();
    expect(call).toEqual({ id: 'tooluse_1', type: 'function', function: { name: 'get_weather', arguments: '{"city":"Yinchuan"}' } });
    expect(r.fake.requests[0].body.toolConfig).toEqual({
      tools: [{ toolSpec: { name: 'get_weather', description: 'Weather by city', inputSchema: { json: tools[0].function.parameters } } }],
      toolChoice: { any: {} },
    });

    const second = await r.openai.chat.completions.create({
      model: 'nova-lite',
      tools,
      messages: [
        { role: 'user', content: 'Weather in Yinchuan?' },
        first.choices[0].message,
        { role: 'tool', tool_call_id: call.id, content: 'sunny, 12C' },
      ],
    });
    expect(second.choices[0].message.content).toBe('You said: tool said sunny, 12C');
    expect(r.fake.requests[1].body.messages).toEqual([
      { role: 'user', content: [{ text: 'Weather in Yinchuan?' }] },
      { role: 'assistant', content: [{ toolUse: { toolUseId: 'tooluse_1', name: 'get_weather', input: { city: 'Yinchuan' } } }] },
      { role: 'user', content: [{ toolResult: { toolUseId: 'tooluse_1', content: [{ text: 'sunny, 12C' }] } }] },
    ]);
  });

  test('streamed tool calls arrive as OpenAI tool_call deltas with their own index', async () => {
    r.fake.push({ kind: 'reply', text: 'Checking. ', toolUse: { name: 'get_weather', input: { city: 'Beijing' } } });
    const stream = await r.openai.chat.completions.create({
      model: 'nova-lite',
      messages: [{ role: 'user', content: 'Weather?' }],
      tools: [{ type: 'function', function: { name: 'get_weather', parameters: { type: 'object' } } }],
      stream: true,
    });
    let args = '';
    const heads = [];
    for await (const chunk of stream) {
      for (const tc of chunk.choices[0]?.delta?.tool_calls ?? []) {
        expect(tc.index).toBe(0);
        if (tc.id) heads.push(tc);
        args += tc.function?.arguments ?? '';
      }
    }
    expect(heads).toEqual([{ index: 0, id: 'tooluse_1', type: 'function', function: { name: 'get_weather', arguments: '' } }]);
    expect(JSON.parse(args)).toEqual({ city: 'Beijing' });
  });

  test('images as data URLs become Converse image blocks; remote URLs are refused', async () => {
    // A real 1x1 PNG: the gateway checks the bytes against the declared type.
    const png = 'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg==';
    await r.openai.chat.completions.create({
      model: 'nova-lite',
      messages: [{ role: 'user', content: [{ type: 'text', text: 'What is this?' }, { type: 'image_url', image_url: { url: `data:image/png;base64,${png}` } }] }],
    });
    expect(r.fake.requests[0].body.messages[0].content[1]).toEqual({ image: { format: 'png', source: { bytes: png } } });

    await expect(
      r.openai.chat.completions.create({ model: 'nova-lite', messages: [{ role: 'user', content: [{ type: 'image_url', image_url: { url: 'https://example.com/cat.png' } }] }] }),
    ).rejects.toMatchObject({ status: 400, error: { type: 'invalid_request_error', param: 'messages[0].content[0]' } });
  });

  test('GET /v1/models lists the allow-listed models under their aliases', async () => {
    const list = await r.openai.models.list();
    expect(list.data.map((m) => m.id)).toEqual(['nova-lite', 'nova-pro']);
    expect(await r.openai.models.retrieve('nova-pro')).toEqual(expect.objectContaining({ id: 'nova-pro', bedrock_model_id: 'us.amazon.nova-pro-v1:0' }));
  });

  test('a model outside the allow-list is a 404 that names the available ones, and never reaches Bedrock', async () => {
    await expect(r.openai.chat.completions.create({ model: 'us.anthropic.claude-v2', messages: [{ role: 'user', content: 'hi' }] })).rejects.toMatchObject({
      status: 404,
      error: { code: 'model_not_found', param: 'model', message: expect.stringContaining('Available: nova-lite, nova-pro') },
    });
    expect(r.fake.requests).toHaveLength(0);
  });

  test('a full model id in the allow-list works like its alias', async () => {
    const res = await r.openai.chat.completions.create({ model: 'us.amazon.nova-pro-v1:0', messages: [{ role: 'user', content: 'x' }] });
    expect(res.choices[0].message.content).toBe('You said: x');
  });
});

describe('errors and retries', () => {
  let r: Rig;
  beforeEach(async () => {
    r = await rig();
  });
  afterEach(() => teardown(r));

  test('throttling and 5xx are retried before the first byte, then succeed', async () => {
    r.fake.push({ kind: 'error', status: 429, type: 'ThrottlingException' }, { kind: 'error', status: 503, type: 'ServiceUnavailableException' });
    const res = await r.openai.chat.completions.create({ model: 'nova-lite', messages: [{ role: 'user', content: 'retry me' }] });
    expect(res.choices[0].message.content).toBe('You said: retry me');
    expect(r.fake.requests).toHaveLength(3);
  });

  test('throttling that outlasts the retries becomes a 429 RateLimitError', async () => {
    r.fake.push(...Array(3).fill({ kind: 'error', status: 429, type: 'ThrottlingException', message: 'Too many tokens' }));
    const error = await r.openai.chat.completions.create({ model: 'nova-lite', messages: [{ role: 'user', content: 'x' }] }).catch((e) => e);
    expect(error).toBeInstanceOf(OpenAI.RateLimitError);
    expect(error.error).toEqual(expect.objectContaining({ type: 'rate_limit_error', code: 'rate_limit_exceeded' }));
    expect(r.fake.requests).toHaveLength(3);
  });

  test('validation is a 400 and not retried; access denied is a 403 with a hint about the credential', async () => {
    r.fake.push({ kind: 'error', status: 400, type: 'ValidationException', message: 'maxTokens too large' });
    await expect(r.openai.chat.completions.create({ model: 'nova-lite', messages: [{ role: 'user', content: 'x' }] })).rejects.toBeInstanceOf(OpenAI.BadRequestError);
    expect(r.fake.requests).toHaveLength(1);

    r.fake.push({ kind: 'error', status: 403, type: 'AccessDeniedException', message: 'not authorized' });
    const denied = await r.openai.chat.completions.create({ model: 'nova-lite', messages: [{ role: 'user', content: 'x' }] }).catch((e) => e);
    expect(denied).toBeInstanceOf(OpenAI.PermissionDeniedError);
    expect(denied.error.message).toMatch(/link-credentials/);
  });

  test('a connection reset is retried', async () => {
    r.fake.push({ kind: 'reset' });
    const res = await r.openai.chat.completions.create({ model: 'nova-lite', messages: [{ role: 'user', content: 'again' }] });
    expect(res.choices[0].message.content).toBe('You said: again');
    expect(r.fake.requests).toHaveLength(2);
  });

  test('an exception inside the stream after tokens were sent becomes an SSE error the client raises; no retry', async () => {
    r.fake.push({ kind: 'streamError', afterTokens: 2, type: 'modelStreamErrorException', message: 'model crashed' });
    const stream = await r.openai.chat.completions.create({ model: 'nova-lite', messages: [{ role: 'user', content: 'a b c d e' }], stream: true });
    const seen: string[] = [];
    const error = await (async () => {
      for await (const chunk of stream) seen.push(chunk.choices[0]?.delta?.content ?? '');
    })().catch((e) => e);
    expect(error).toBeInstanceOf(OpenAI.APIError);
    expect(String(error.message)).toMatch(/model crashed/);
    expect(seen.join('')).toBe('You said: ');
    expect(r.fake.requests).toHaveLength(1);
  });

  test('throttling inside the stream before any token is retried', async () => {
    r.fake.push({ kind: 'streamError', afterTokens: 0, type: 'throttlingException' });
    const stream = await r.openai.chat.completions.create({ model: 'nova-lite', messages: [{ role: 'user', content: 'hi' }], stream: true });
    let text = '';
    for await (const chunk of stream) text += chunk.choices[0]?.delta?.content ?? '';
    // The first attempt sent messageStart only inside the gateway: nothing reached the caller, so it retried.
    expect(text).toBe('You said: hi');
    expect(r.fake.requests).toHaveLength(2);
  });

  test('a rejected credential is reloaded once (rotation) and the call succeeds', async () => {
    r.fake.acceptsKey = (id) => id === 'AKIAROTATEDKEY2';
    r.credentials.keys = ['AKIAGATEWAYKEY1', 'AKIAROTATEDKEY2'];
    const res = await r.openai.chat.completions.create({ model: 'nova-lite', messages: [{ role: 'user', content: 'after rotation' }] });
    expect(res.choices[0].message.content).toBe('You said: after rotation');
    expect(r.fake.requests.map((q) => q.accessKeyId)).toEqual(['AKIAGATEWAYKEY1', 'AKIAROTATEDKEY2']);
  });

  test('bad input gets a 4xx with an OpenAI-style error body, never a crash', async () => {
    const post = (body: string) => fetch(`${r.gateway.url}/v1/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
    const cases: [string, number, string][] = [
      ['{"model": "nova-lite", "messages": [', 400, 'not valid JSON'],
      ['', 400, 'empty'],
      ['{"model": "nova-lite", "messages": "hi"}', 400, 'messages'],
      ['{"model": 7, "messages": [{"role":"user","content":"x"}]}', 400, 'model'],
      ['{"model": "nova-lite", "messages": [{"role":"user","content":"x"}], "temperature": 9}', 400, 'temperature'],
      ['{"model": "nova-lite", "messages": [{"role":"user","content":"x"}], "n": 2}', 400, 'n=1'],
      ['{"model": "nova-lite", "messages": [{"role":"assistant","content":"x"}]}', 400, 'user message'],
      [JSON.stringify({ model: 'nova-lite', messages: [{ role: 'user', content: 'x'.repeat(7 * 1024 * 1024) }] }), 413, 'larger than'],
    ];
    for (const [body, status, message] of cases) {
      const res = await post(body);
      expect([body.slice(0, 60), res.status]).toEqual([body.slice(0, 60), status]);
      const json = (await res.json()) as { error: { message: string; type: string } };
      expect(json.error.type).toBe('invalid_request_error');
      expect(json.error.message).toContain(message);
    }
    expect((await fetch(`${r.gateway.url}/v1/chat/completions`)).status).toBe(405);
    const unknown = await fetch(`${r.gateway.url}/v2/nothing`);
    expect(unknown.status).toBe(404);
    // The 404 names every route, the ones added later (embeddings, the three rerank paths) included.
    const { error } = (await unknown.json()) as { error: { message: string; code: string } };
    expect(error.code).toBe('unknown_url');
    for (const route of ['GET /v1/models/{id}', 'POST /v1/embeddings', 'POST /rerank', 'POST /v2/rerank', 'POST /model/{modelId}/converse-stream']) expect(error.message).toContain(route);
    expect(r.fake.requests).toHaveLength(0);
  });

  test('each request logs caller, model, tokens, latency and status, and no prompt or completion text', async () => {
    await r.openai.chat.completions.create({ model: 'nova-lite', messages: [{ role: 'user', content: 'secret plans' }] });
    expect(r.logs).toHaveLength(1);
    expect(r.logs[0]).toEqual(expect.objectContaining({ msg: 'request', caller: 'local', model: 'nova-lite', status: 200, route: 'chat.completions', inputTokens: expect.any(Number), outputTokens: 4, latencyMs: expect.any(Number) }));
    expect(JSON.stringify(r.logs)).not.toContain('secret plans');
    // CloudWatch embedded metrics: tokens and latency per model and per caller.
    expect(r.logs[0]).toEqual(expect.objectContaining({ Model: 'nova-lite', Caller: 'local', OutputTokens: 4 }));
    expect((r.logs[0]._aws as { CloudWatchMetrics: { Dimensions: string[][] }[] }).CloudWatchMetrics[0].Dimensions).toEqual([['Model'], ['Caller'], []]);
  });
});

describe('slow upstream and content logging', () => {
  test('a Bedrock call that outlasts the request timeout becomes a 504, not a hang', async () => {
    const r = await rig('stream', { retry: { maxAttempts: 1 }, timeouts: { requestMs: 1000 } });
    try {
      r.fake.push({ kind: 'hang', ms: 3000 });
      const started = Date.now();
      const error = await r.openai.chat.completions.create({ model: 'nova-lite', messages: [{ role: 'user', content: 'slow' }] }).catch((e) => e);
      expect(error).toBeInstanceOf(OpenAI.APIError);
      expect(error.status).toBe(504);
      expect(error.error).toEqual(expect.objectContaining({ type: 'timeout_error', code: 'upstream_timeout' }));
      expect(Date.now() - started).toBeLessThan(2500);
    } finally {
      await teardown(r);
    }
  });

  test('prompt and completion text are logged only when logContent is switched on', async () => {
    const r = await rig('stream', { logContent: true });
    try {
      await r.openai.chat.completions.create({ model: 'nova-lite', messages: [{ role: 'user', content: 'audited words' }] });
      expect(r.logs[0]).toEqual(expect.objectContaining({ prompt: [{ role: 'user', content: 'audited words' }], completion: 'You said: audited words' }));
    } finally {
      await teardown(r);
    }
  });
});

describe('buffered mode (API Gateway + Lambda in China)', () => {
  test('a stream: true request still gets a correct SSE body, delivered at the end', async () => {
    const r = await rig('buffered');
    try {
      r.fake.push({ kind: 'reply', text: 'alpha beta gamma' });
      const res = await fetch(`${r.gateway.url}/v1/chat/completions`, {
        method: 'POST',
        body: JSON.stringify({ model: 'nova-lite', messages: [{ role: 'user', content: 'x' }], stream: true }),
      });
      expect(res.headers.get('content-type')).toBe('text/event-stream; charset=utf-8');
      const text = await res.text();
      const events = text.trim().split('\n\n');
      expect(events[events.length - 1]).toBe('data: [DONE]');
      const deltas = events.slice(0, -1).map((e) => JSON.parse(e.slice('data: '.length)).choices[0].delta.content ?? '');
      expect(deltas.join('')).toBe('alpha beta gamma');

      const stream = await r.openai.chat.completions.create({ model: 'nova-lite', messages: [{ role: 'user', content: 'same via sdk' }], stream: true });
      let all = '';
      for await (const c of stream) all += c.choices[0]?.delta?.content ?? '';
      expect(all).toBe('You said: same via sdk');
    } finally {
      await teardown(r);
    }
  });
});

describe('native Converse passthrough', () => {
  let r: Rig;
  beforeEach(async () => {
    r = await rig('buffered');
  });
  afterEach(() => teardown(r));

  test('POST /model/{modelId}/converse takes and returns Bedrock shapes', async () => {
    const res = await fetch(`${r.gateway.url}/model/${encodeURIComponent('us.amazon.nova-lite-v1:0')}/converse`, {
      method: 'POST',
      body: JSON.stringify({ messages: [{ role: 'user', content: [{ text: 'native' }] }], inferenceConfig: { maxTokens: 10 } }),
    });
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({
      output: { message: { role: 'assistant', content: [{ text: 'You said: native' }] } },
      stopReason: 'end_turn',
      usage: expect.objectContaining({ outputTokens: 3 }),
      metrics: { latencyMs: 5 },
    });
    expect(r.fake.requests[0].body).toEqual({ messages: [{ role: 'user', content: [{ text: 'native' }] }], inferenceConfig: { maxTokens: 10 } });
  });

  test('POST /model/{alias}/converse-stream returns AWS event stream messages', async () => {
    const res = await fetch(`${r.gateway.url}/model/nova-lite/converse-stream`, { method: 'POST', body: JSON.stringify({ messages: [{ role: 'user', content: [{ text: 'ev' }] }] }) });
    expect(res.headers.get('content-type')).toBe('application/vnd.amazon.eventstream');
    const events = decodeStreamEvents(new Uint8Array(await res.arrayBuffer()));
    expect(events.map((e) => e.type)).toEqual(['messageStart', 'contentBlockDelta', 'contentBlockDelta', 'contentBlockDelta', 'contentBlockStop', 'messageStop', 'metadata']);
    expect(events.slice(1, 4).map((e) => (e.payload as { delta: { text: string } }).delta.text).join('')).toBe('You said: ev');
  });

  test('a model outside the allow-list is refused', async () => {
    const res = await fetch(`${r.gateway.url}/model/amazon.titan-text-express-v1/converse`, { method: 'POST', body: '{"messages":[]}' });
    expect(res.status).toBe(404);
    expect(((await res.json()) as { error: { code: string } }).error.code).toBe('model_not_found');
  });
});
