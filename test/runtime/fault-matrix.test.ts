import { BedrockInvoker } from '../../runtime/gateway/bedrock';
import { createGateway } from '../../runtime/gateway/gateway';
import { decodeStreamEvents } from '../../runtime/gateway/native-wire';
import { GatewayRuntimeConfigSchema } from '../../runtime/gateway/runtime-config';
import { LocalGateway, startLocalGateway } from '../../runtime/local/local-gateway';
import { OpenAiUpstream } from '../../runtime/gateway/openai-upstream';
import { Behaviour, BedrockFake } from '../fakes/bedrock-fake';
import { OpenAiUpstreamFake, UpstreamBehaviour } from '../fakes/openai-upstream-fake';

/**
 * Upstream faults, one by one: each ends in a clear status (before the first byte) or an SSE error
 * event (after it) within its timeout, and nothing is retried once bytes reached the caller.
 */
const IDLE_MS = 1000;
const REQUEST_MS = 1000;
const ATTEMPTS = 3;

let bedrock: BedrockFake;
let upstream: OpenAiUpstreamFake;
let gateway: LocalGateway;

beforeAll(async () => {
  bedrock = await new BedrockFake().start();
  upstream = await new OpenAiUpstreamFake('vllm', '').start();
  const config = GatewayRuntimeConfigSchema.parse({
    bedrockEndpoint: bedrock.url,
    models: [
      { alias: 'nova-lite', modelId: 'us.amazon.nova-lite-v1:0' },
      { alias: 'llama', modelId: 'llama', route: 'vllm' },
    ],
    upstreams: [{ name: 'vllm', kind: 'vllm', baseUrl: `${upstream.url}/v1`, maxAttempts: ATTEMPTS, timeoutMs: 10 * REQUEST_MS }],
    retry: { maxAttempts: ATTEMPTS, baseDelayMs: 1, maxDelayMs: 5 },
    timeouts: { requestMs: REQUEST_MS, streamIdleMs: IDLE_MS },
  });
  const credentials = { get: async () => ({ accessKeyId: 'AKIAFAULT', secretAccessKey: 's' }), invalidate: () => undefined };
  gateway = await startLocalGateway({
    gateway: createGateway({ config, bedrock: new BedrockInvoker(config, credentials, async () => undefined), upstreams: new Map([['vllm', new OpenAiUpstream(config.upstreams[0])]]), log: () => undefined }),
    mode: 'stream',
  });
});
afterAll(async () => {
  await gateway.close();
  await Promise.all([bedrock.stop(), upstream.stop()]);
});
beforeEach(() => {
  bedrock.requests.length = 0;
  upstream.requests.length = 0;
});

const post = (path: string, body: object) => fetch(`${gateway.url}${path}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
const chat = (model: string, stream: boolean) => ({ model, messages: [{ role: 'user', content: 'a b c d e f' }], stream });
const times = (n: number, b: Behaviour) => Array<Behaviour>(n).fill(b);

/** What the caller saw: a status and error code, or (after a 200 stream) the text received and the SSE error that ended it. */
async function outcome(res: Response): Promise<{ status: number; code?: string; text?: string; done?: boolean }> {
  const body = await res.text();
  if (!res.headers.get('content-type')?.startsWith('text/event-stream')) return { status: res.status, code: JSON.parse(body).error?.code };
  const events = body.trim().split('\n\n').map((e) => e.replace(/^data: /, ''));
  const last = events.at(-1)!;
  const text = events
    .filter((e) => e.startsWith('{') && !e.startsWith('{"error"'))
    .map((e) => JSON.parse(e).choices?.[0]?.delta?.content ?? '')
    .join('');
  if (last === '[DONE]') return { status: res.status, text, done: true };
  const error = JSON.parse(last).error as { code: unknown; message: unknown; type: unknown };
  expect([typeof error.code, typeof error.message, typeof error.type]).toEqual(['string', 'string', 'string']);
  return { status: res.status, code: error.code as string, text };
}

describe('Bedrock faults: chat completions', () => {
  test.each<[string, boolean, Behaviour[], { status: number; code?: string; text?: string }, number]>([
    ['throttling on every attempt', false, times(ATTEMPTS, { kind: 'error', status: 429, type: 'ThrottlingException' }), { status: 429, code: 'rate_limit_exceeded' }, ATTEMPTS],
    ['5xx on every attempt', true, times(ATTEMPTS, { kind: 'error', status: 500, type: 'InternalServerException' }), { status: 502, code: 'upstream_error' }, ATTEMPTS],
    ['reset before the first byte on every attempt', true, times(ATTEMPTS, { kind: 'reset' }), { status: 502, code: 'upstream_connection' }, ATTEMPTS],
    ['no answer within the request timeout', false, times(ATTEMPTS, { kind: 'hang', ms: 3 * REQUEST_MS }), { status: 504, code: 'upstream_timeout' }, ATTEMPTS],
    ['reset after the first byte', true, [{ kind: 'cut', afterTokens: 2, how: 'reset' }], { status: 200, code: 'upstream_connection', text: 'You said: ' }, 1],
    ['an exception inside the stream', true, [{ kind: 'streamError', afterTokens: 2, type: 'modelStreamErrorException' }], { status: 200, code: 'upstream_error', text: 'You said: ' }, 1],
    ['an event whose checksum does not match', true, [{ kind: 'badChecksum', afterTokens: 2 }], { status: 200, code: 'upstream_error', text: 'You said: ' }, 1],
    ['a stream that ends without messageStop', true, [{ kind: 'cut', afterTokens: 2, how: 'end' }], { status: 200, code: 'upstream_truncated', text: 'You said: ' }, 1],
    ['a stream that goes silent', true, [{ kind: 'cut', afterTokens: 2, how: 'stall', ms: 30_000 }], { status: 200, code: 'upstream_stream_idle', text: 'You said: ' }, 1],
    ['a bad checksum before the first token (retried, then served)', true, [{ kind: 'badChecksum', afterTokens: 0 }], { status: 200, text: 'You said: a b c d e f' }, 2],
  ])('%s (stream: %s)', async (_name, stream, faults, expected, attempts) => {
    bedrock.push(...faults);
    const started = Date.now();
    const seen = await outcome(await post('/v1/chat/completions', chat('nova-lite', stream)));
    expect(seen).toEqual(expect.objectContaining(expected));
    // Bytes that reached the caller are never repeated: at most the attempts made before the first one.
    expect(bedrock.requests).toHaveLength(attempts);
    expect(Date.now() - started).toBeLessThan(ATTEMPTS * REQUEST_MS + IDLE_MS + 3000);
  });

  test('native converse-stream: a fault after the first byte is an exception event, not a retry', async () => {
    bedrock.push({ kind: 'cut', afterTokens: 2, how: 'reset' });
    const events = decodeStreamEvents(new Uint8Array(await (await post('/model/nova-lite/converse-stream', { messages: [{ role: 'user', content: [{ text: 'a b c d' }] }] })).arrayBuffer()));
    expect(events.at(-1)).toEqual(expect.objectContaining({ kind: 'exception' }));
    expect(events.filter((e) => e.type === 'contentBlockDelta')).toHaveLength(2);
    expect(bedrock.requests).toHaveLength(1);
  });
});

describe('OpenAI-compatible upstream faults', () => {
  test.each<[string, boolean, UpstreamBehaviour[], { status: number; code?: string }, number]>([
    ['429 on every attempt', false, Array(ATTEMPTS).fill({ kind: 'status', status: 429 }), { status: 429, code: 'rate_limit_exceeded' }, ATTEMPTS],
    ['5xx on every attempt', true, Array(ATTEMPTS).fill({ kind: 'status', status: 503 }), { status: 502, code: 'upstream_error' }, ATTEMPTS],
    ['reset on every attempt', true, Array(ATTEMPTS).fill({ kind: 'reset' }), { status: 502, code: 'upstream_connection' }, ATTEMPTS],
    ['a 5xx, then an answer', true, [{ kind: 'status', status: 500 }], { status: 200 }, 2],
  ])('%s (stream: %s)', async (_name, stream, faults, expected, attempts) => {
    upstream.push(...faults);
    const seen = await outcome(await post('/v1/chat/completions', chat('llama', stream)));
    expect(seen).toEqual(expect.objectContaining(expected));
    expect(upstream.requests).toHaveLength(attempts);
  });

  test('throttled: the 429 tells the caller when to retry, the upstream\'s own Retry-After when it sent one (else 1 s)', async () => {
    upstream.push(...Array(ATTEMPTS).fill({ kind: 'status', status: 429, headers: { 'retry-after': '4' } }));
    const throttled = await post('/v1/chat/completions', chat('llama', false));
    expect([throttled.status, throttled.headers.get('retry-after')]).toEqual([429, '4']);
    await throttled.text();
    bedrock.push(...times(ATTEMPTS, { kind: 'error', status: 429, type: 'ThrottlingException' }));
    const bedrockThrottled = await post('/v1/chat/completions', chat('nova-lite', false));
    expect([bedrockThrottled.status, bedrockThrottled.headers.get('retry-after')]).toEqual([429, '1']);
    await bedrockThrottled.text();
    // A failure a retry does not help (the caller's 4xx) or that clients retry anyway (502) carries none.
    upstream.push(...Array(ATTEMPTS).fill({ kind: 'status', status: 503 }));
    const failed = await post('/v1/chat/completions', chat('llama', false));
    expect([failed.status, failed.headers.get('retry-after')]).toEqual([502, null]);
    await failed.text();
  });

  test('a stream slower than the idle timeout between tokens is cut with an SSE error, once', async () => {
    upstream.push({ kind: 'reply', tokens: ['one ', 'two ', 'three'], delayMs: IDLE_MS + 500 });
    const seen = await outcome(await post('/v1/chat/completions', chat('llama', true)));
    expect(seen).toEqual(expect.objectContaining({ status: 200, code: 'upstream_stream_idle' }));
    expect(upstream.requests).toHaveLength(1);
  });
});
