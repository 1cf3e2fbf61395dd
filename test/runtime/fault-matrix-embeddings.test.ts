import { BedrockInvoker } from '../../runtime/gateway/bedrock';
import { createGateway } from '../../runtime/gateway/gateway';
import { OpenAiUpstream } from '../../runtime/gateway/openai-upstream';
import { GatewayRuntimeConfigSchema } from '../../runtime/gateway/runtime-config';
import { LocalGateway, startLocalGateway } from '../../runtime/local/local-gateway';
import { Behaviour, BedrockFake, fakeVector } from '../fakes/bedrock-fake';
import { OpenAiUpstreamFake, UpstreamBehaviour } from '../fakes/openai-upstream-fake';

/**
 * Upstream faults on the non-chat paths: embeddings (Bedrock InvokeModel fan-out for Titan and Nova,
 * Cohere batches, vLLM and a provider's split batches) and rerank (Bedrock's Rerank API, an
 * OpenAI-compatible upstream). Each fault ends in an OpenAI error with the right status, type and
 * code within its timeout, with retry-after where a retry can help; a fan-out with a failed part
 * answers no partial result and leaves no part running; upstream faults count as upstream errors,
 * the caller's 4xx do not.
 */
const REQUEST_MS = 1000;
const ATTEMPTS = 3;
/** Longest any case may take: every attempt timing out, plus a busy machine's slack. */
const BOUND_MS = ATTEMPTS * REQUEST_MS + 2500;

let bedrock: BedrockFake;
let vllm: OpenAiUpstreamFake;
let provider: OpenAiUpstreamFake;
let gateway: LocalGateway;
const logs: Record<string, unknown>[] = [];
const unhandled: unknown[] = [];
const onUnhandled = (reason: unknown) => unhandled.push(reason);

beforeAll(async () => {
  process.on('unhandledRejection', onUnhandled);
  bedrock = await new BedrockFake().start();
  vllm = await new OpenAiUpstreamFake('vllm', '').start();
  provider = await new OpenAiUpstreamFake('provider', '').start();
  const config = GatewayRuntimeConfigSchema.parse({
    bedrockEndpoint: bedrock.url,
    models: [
      { alias: 'titan-embed-v2', modelId: 'amazon.titan-embed-text-v2:0', kind: 'embed' },
      { alias: 'nova-2-embed', modelId: 'amazon.nova-2-multimodal-embeddings-v1:0', kind: 'embed' },
      { alias: 'cohere-embed', modelId: 'cohere.embed-multilingual-v3', kind: 'embed' },
      { alias: 'cohere-rerank', modelId: 'cohere.rerank-v3-5:0', kind: 'rerank' },
      { alias: 'bge-m3', modelId: 'bge-m3', route: 'vllm', kind: 'embed' },
      { alias: 'bge-m3-or-titan', modelId: 'bge-m3', route: 'vllm', kind: 'embed' },
      { alias: 'text-embedding-v3', modelId: 'text-embedding-v3', route: 'provider', kind: 'embed', maxInputsPerCall: 10 },
      { alias: 'gte-rerank', modelId: 'gte-rerank-v2', route: 'provider', kind: 'rerank' },
    ],
    upstreams: [
      { name: 'vllm', kind: 'vllm', baseUrl: `${vllm.url}/v1`, maxAttempts: ATTEMPTS, timeoutMs: REQUEST_MS },
      { name: 'provider', kind: 'provider', baseUrl: `${provider.url}/v1`, maxAttempts: ATTEMPTS, timeoutMs: REQUEST_MS },
    ],
    retry: { maxAttempts: ATTEMPTS, baseDelayMs: 1, maxDelayMs: 5 },
    timeouts: { requestMs: REQUEST_MS, streamIdleMs: REQUEST_MS },
    embeddingConcurrency: 4,
    fallbacks: { 'bge-m3-or-titan': ['titan-embed-v2'] },
  });
  const credentials = { get: async () => ({ accessKeyId: 'AKIAFAULT', secretAccessKey: 's' }), invalidate: () => undefined };
  gateway = await startLocalGateway({
    gateway: createGateway({
      config,
      bedrock: new BedrockInvoker(config, credentials, async () => undefined),
      upstreams: new Map(config.upstreams.map((u) => [u.name, new OpenAiUpstream(u)])),
      log: (line) => logs.push(line),
    }),
    // Buffered, as API Gateway in China: the request's log line is written before its answer leaves.
    mode: 'buffered',
  });
});
afterAll(async () => {
  await gateway.close();
  await Promise.all([bedrock.stop(), vllm.stop(), provider.stop()]);
  process.off('unhandledRejection', onUnhandled);
});
/**
 * Every test's inputs carry its own tag: a part aborted just after its bytes left may reach a fake
 * after the test ended, and must not count as a request of the next one.
 */
let tag = '';
let cases = 0;
beforeEach(() => {
  tag = `case${++cases}`;
  for (const fake of [bedrock, vllm, provider]) fake.clear();
  logs.length = 0;
});
/** This test's requests to a fake. */
const mine = (fake: BedrockFake | OpenAiUpstreamFake) => fake.requests.filter((r) => JSON.stringify(r.body).includes(tag));
afterEach(() => expect(unhandled).toEqual([]));

interface Seen {
  readonly status: number;
  readonly json: any;
  readonly retryAfter: string | null;
  readonly ms: number;
}

async function post(path: string, body: object): Promise<Seen> {
  const started = Date.now();
  const res = await fetch(`${gateway.url}${path}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  const json = await res.json();
  return { status: res.status, json, retryAfter: res.headers.get('retry-after'), ms: Date.now() - started };
}

/** The request's log line (metrics included). */
const requestLine = () => logs.filter((l) => l.msg === 'request').at(-1)!;

/** An OpenAI error body with this status and code; a retry-after exactly when the caller should retry (429, 503); counted as an upstream error only when the upstream failed. */
function expectFailure(seen: Seen, status: number, code: string) {
  expect({ status: seen.status, code: seen.json.error?.code }).toEqual({ status, code });
  expect(seen.json).toEqual({ error: { message: expect.any(String), type: expect.any(String), param: null, code } });
  expect(seen.json.error.type).toBe(status === 429 ? 'rate_limit_error' : status === 504 ? 'timeout_error' : status >= 500 ? 'api_error' : 'invalid_request_error');
  if (status === 429 || status === 503) expect(Number(seen.retryAfter)).toBeGreaterThan(0);
  else expect(seen.retryAfter).toBeNull();
  expect(requestLine()).toEqual(expect.objectContaining({ status, error: code, UpstreamErrors: status >= 500 ? 1 : 0 }));
  expect(seen.ms).toBeLessThan(BOUND_MS);
}

/**
 * Once the answer is out, nothing is left at the upstream: a part of a failed fan-out is let go at
 * once. `maxRequests`: and none is retried or started later (checked after a left-over part would
 * have timed out and been retried).
 */
async function expectNothingLeftRunning(fake: BedrockFake | OpenAiUpstreamFake, maxRequests?: number) {
  for (let i = 0; i < 20 && fake.inFlight > 0; i++) await new Promise((r) => setTimeout(r, 10));
  expect(fake.inFlight).toBe(0);
  if (maxRequests === undefined) return;
  await new Promise((r) => setTimeout(r, REQUEST_MS + 100));
  expect(mine(fake).length).toBeLessThanOrEqual(maxRequests);
}

const times = <T>(n: number, b: T): T[] => Array<T>(n).fill(b);
const WORDS = ['alpha one', 'beta two', 'gamma three', 'delta four'];
/** The four inputs of this test. */
const texts = () => WORDS.map((w) => `${w} ${tag}`);
/** This test's input that starts with `word`. */
const text = (word: string) => `${word} ${tag}`;
const requestsFor = (fake: BedrockFake, input: string) => fake.requests.filter((r) => JSON.stringify(r.body).includes(input)).length;

/** A fault, what Bedrock answers each attempt, the status and code the caller gets, and how many attempts Bedrock sees. */
type FaultCase = [string, Behaviour[], number, string, number];
/** The same faults for every Bedrock operation the gateway calls (InvokeModel per embedding input, Rerank). */
const BEDROCK_FAULTS: FaultCase[] = [
    ['throttling on every attempt', times(ATTEMPTS, { kind: 'error', status: 429, type: 'ThrottlingException' }), 429, 'rate_limit_exceeded', ATTEMPTS],
    ['a 5xx on every attempt', times(ATTEMPTS, { kind: 'error', status: 500, type: 'InternalServerException' }), 502, 'upstream_error', ATTEMPTS],
    ['service unavailable on every attempt', times(ATTEMPTS, { kind: 'error', status: 503, type: 'ServiceUnavailableException' }), 503, 'upstream_unavailable', ATTEMPTS],
    ['a reset on every attempt', times(ATTEMPTS, { kind: 'reset' }), 502, 'upstream_connection', ATTEMPTS],
    ['no answer within the request timeout', times(ATTEMPTS, { kind: 'hang', ms: 10 * REQUEST_MS }), 504, 'upstream_timeout', ATTEMPTS],
    ['a validation error (the caller\'s input)', [{ kind: 'error', status: 400, type: 'ValidationException' }], 400, 'bedrock_validation', 1],
    ['a 200 whose body is not JSON', [{ kind: 'body', status: 200, body: '<html>proxy error</html>' }], 502, 'upstream_bad_response', 1],
];

describe('embeddings on Bedrock: one InvokeModel per input (Titan, Nova), several in flight', () => {
  test.each<FaultCase>(BEDROCK_FAULTS)('Titan, %s for one of four inputs: the whole request fails, no partial result', async (_name, faults, status, code, attempts) => {
    bedrock.pushFor(text('beta two'), ...faults);
    const seen = await post('/v1/embeddings', { model: 'titan-embed-v2', input: texts() });
    expectFailure(seen, status, code);
    expect(seen.json.data).toBeUndefined();
    expect(requestsFor(bedrock, text('beta two'))).toBe(attempts);
    await expectNothingLeftRunning(bedrock);
  });

  test('a 5xx once is retried for that input alone, and the vectors come back whole and in input order', async () => {
    bedrock.pushFor(text('beta two'), { kind: 'error', status: 500, type: 'InternalServerException' });
    // The first input answers last: reassembly is by position, not by arrival.
    bedrock.pushFor(text('alpha one'), { kind: 'slow', ms: 200 });
    const seen = await post('/v1/embeddings', { model: 'titan-embed-v2', input: texts(), dimensions: 256 });
    expect(seen.status).toBe(200);
    expect(seen.json.data.map((d: { index: number; embedding: number[] }) => [d.index, d.embedding])).toEqual(texts().map((t, i) => [i, fakeVector(t, 256)]));
    expect(texts().map((t) => requestsFor(bedrock, t))).toEqual([1, 2, 1, 1]);
    expect(requestLine()).toEqual(expect.objectContaining({ status: 200, UpstreamErrors: 0 }));
  });

  test('Nova: one input that fails at once while the others hang ends the request at once and lets the others go', async () => {
    bedrock.pushFor(text('alpha one'), { kind: 'hang', ms: 20 * REQUEST_MS });
    bedrock.pushFor(text('gamma three'), { kind: 'hang', ms: 20 * REQUEST_MS });
    bedrock.pushFor(text('beta two'), { kind: 'error', status: 400, type: 'ValidationException' });
    const seen = await post('/v1/embeddings', { model: 'nova-2-embed', input: texts(), dimensions: 256 });
    expectFailure(seen, 400, 'bedrock_validation');
    // Not after the hanging parts time out.
    expect(seen.ms).toBeLessThan(REQUEST_MS);
    await expectNothingLeftRunning(bedrock, texts().length);
  });

  test('Nova: the caller hanging up cancels every part in flight', async () => {
    for (const t of texts()) bedrock.pushFor(t, { kind: 'hang', ms: 20 * REQUEST_MS });
    const abort = new AbortController();
    const pending = fetch(`${gateway.url}/v1/embeddings`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ model: 'nova-2-embed', input: texts() }), signal: abort.signal });
    for (let i = 0; i < 100 && bedrock.inFlight < texts().length; i++) await new Promise((r) => setTimeout(r, 10));
    expect(bedrock.inFlight).toBe(texts().length);
    abort.abort();
    await expect(pending).rejects.toThrow();
    await expectNothingLeftRunning(bedrock, texts().length);
  });
});

describe('embeddings on Bedrock: Cohere batches of 96', () => {
  const batchOf150 = () => Array.from({ length: 150 }, (_, i) => `text number ${i} end ${tag}`);

  test('a 5xx on every attempt of the second batch fails the whole request, the first batch\'s vectors are not returned', async () => {
    bedrock.pushFor(`text number 120 end ${tag}`, ...times<Behaviour>(ATTEMPTS, { kind: 'error', status: 500, type: 'InternalServerException' }));
    const seen = await post('/v1/embeddings', { model: 'cohere-embed', input: batchOf150() });
    expectFailure(seen, 502, 'upstream_error');
    expect(seen.json.data).toBeUndefined();
    expect(mine(bedrock)).toHaveLength(1 + ATTEMPTS);
  });

  test('a batch answered with fewer vectors than texts is a 502 upstream_bad_response, not a short list', async () => {
    bedrock.pushFor(`text number 120 end ${tag}`, { kind: 'body', status: 200, body: JSON.stringify({ id: 'e', response_type: 'embeddings_by_type', embeddings: { float: [[0.1, 0.2]] } }) });
    expectFailure(await post('/v1/embeddings', { model: 'cohere-embed', input: batchOf150() }), 502, 'upstream_bad_response');
  });
});

describe('embeddings on an OpenAI-compatible upstream (vLLM task embed, a provider)', () => {
  test.each<[string, UpstreamBehaviour[], number, string, number]>([
    ['a 5xx on every attempt', times(ATTEMPTS, { kind: 'status', status: 503 }), 502, 'upstream_error', ATTEMPTS],
    ['a reset on every attempt', times(ATTEMPTS, { kind: 'reset' }), 502, 'upstream_connection', ATTEMPTS],
    ['no answer within the upstream timeout', times(ATTEMPTS, { kind: 'hang', ms: 10 * REQUEST_MS }), 504, 'upstream_timeout', ATTEMPTS],
    ['a 200 whose body is not JSON', [{ kind: 'status', status: 200, body: '<html>bad gateway</html>' }], 502, 'upstream_bad_response', 1],
    ['a 400 (the caller\'s input)', [{ kind: 'status', status: 400, body: JSON.stringify({ error: { message: 'too long', code: 'context_length_exceeded' } }) }], 400, 'context_length_exceeded', 1],
    ['a 429 on every attempt', times(ATTEMPTS, { kind: 'status', status: 429 }), 429, 'rate_limit_exceeded', ATTEMPTS],
  ])('vLLM: %s', async (_name, faults, status, code, attempts) => {
    vllm.push(...faults);
    const seen = await post('/v1/embeddings', { model: 'bge-m3', input: texts() });
    expectFailure(seen, status, code);
    expect(mine(vllm)).toHaveLength(attempts);
    await expectNothingLeftRunning(vllm);
  });

  test('vLLM: the upstream\'s own Retry-After reaches the caller with its 429', async () => {
    vllm.push(...times(ATTEMPTS, { kind: 'status', status: 429, headers: { 'retry-after': '7' } } as UpstreamBehaviour));
    const seen = await post('/v1/embeddings', { model: 'bge-m3', input: `one text ${tag}` });
    expectFailure(seen, 429, 'rate_limit_exceeded');
    expect(seen.retryAfter).toBe('7');
  });

  test('vLLM: a 5xx, then an answer', async () => {
    vllm.push({ kind: 'status', status: 500 });
    const seen = await post('/v1/embeddings', { model: 'bge-m3', input: texts() });
    expect(seen.status).toBe(200);
    expect(seen.json.data).toHaveLength(texts().length);
    expect(mine(vllm)).toHaveLength(2);
  });

  const batchOf25 = () => Array.from({ length: 25 }, (_, i) => `doc ${i} end ${tag}`);

  test('a provider\'s split batch (3 calls of at most 10): one call failing on every attempt while the others hang fails at once, lets the others go, no partial result', async () => {
    provider.pushFor(`doc 3 end ${tag}`, { kind: 'hang', ms: 20 * REQUEST_MS });
    provider.pushFor(`doc 22 end ${tag}`, { kind: 'hang', ms: 20 * REQUEST_MS });
    provider.pushFor(`doc 12 end ${tag}`, ...times(ATTEMPTS, { kind: 'status', status: 502 } as UpstreamBehaviour));
    const seen = await post('/v1/embeddings', { model: 'text-embedding-v3', input: batchOf25() });
    expectFailure(seen, 502, 'upstream_error');
    expect(seen.json.data).toBeUndefined();
    expect(seen.ms).toBeLessThan(REQUEST_MS);
    // Three calls, the failing one tried ATTEMPTS times.
    await expectNothingLeftRunning(provider, 2 + ATTEMPTS);
  });

  test('a provider\'s split batch: one call answered with fewer items is a 502 upstream_bad_response', async () => {
    provider.pushFor(`doc 12 end ${tag}`, { kind: 'status', status: 200, body: JSON.stringify({ object: 'list', data: [{ object: 'embedding', index: 0, embedding: [0.5] }], usage: { prompt_tokens: 1, total_tokens: 1 } }) });
    expectFailure(await post('/v1/embeddings', { model: 'text-embedding-v3', input: batchOf25() }), 502, 'upstream_bad_response');
  });
});

describe('rerank: Bedrock\'s Rerank API (signed JSON) and an OpenAI-compatible upstream', () => {
  const rerankBody = (model: string) => ({ model, query: `which is about cats ${tag}`, documents: ['cats purr', 'dogs bark', 'cats and dogs'] });

  test.each<FaultCase>([
    ...BEDROCK_FAULTS,
    ['a result whose index names no document', [{ kind: 'body', status: 200, body: JSON.stringify({ results: [{ index: 7, relevanceScore: 0.9 }] }) }], 502, 'upstream_bad_response', 1],
  ])('Bedrock: %s', async (_name, faults, status, code, attempts) => {
    bedrock.push(...faults);
    const seen = await post('/v1/rerank', rerankBody('cohere-rerank'));
    expectFailure(seen, status, code);
    expect(mine(bedrock)).toHaveLength(attempts);
    await expectNothingLeftRunning(bedrock);
  });

  test.each<[string, UpstreamBehaviour[], number, string, number]>([
    ['a 5xx on every attempt', times(ATTEMPTS, { kind: 'status', status: 500 }), 502, 'upstream_error', ATTEMPTS],
    ['a reset on every attempt', times(ATTEMPTS, { kind: 'reset' }), 502, 'upstream_connection', ATTEMPTS],
    ['no answer within the upstream timeout', times(ATTEMPTS, { kind: 'hang', ms: 10 * REQUEST_MS }), 504, 'upstream_timeout', ATTEMPTS],
    ['a 200 whose body is not JSON', [{ kind: 'status', status: 200, body: 'not json' }], 502, 'upstream_bad_response', 1],
    ['a 400 (the caller\'s input)', [{ kind: 'status', status: 400 }], 400, 'upstream_rejected', 1],
    ['a 429 on every attempt', times(ATTEMPTS, { kind: 'status', status: 429 }), 429, 'rate_limit_exceeded', ATTEMPTS],
  ])('provider: %s', async (_name, faults, status, code, attempts) => {
    provider.push(...faults);
    const seen = await post('/v1/rerank', rerankBody('gte-rerank'));
    expectFailure(seen, status, code);
    expect(mine(provider)).toHaveLength(attempts);
    await expectNothingLeftRunning(provider);
  });

  test('Bedrock: a 5xx once, then the ranking', async () => {
    bedrock.push({ kind: 'error', status: 500, type: 'InternalServerException' });
    const seen = await post('/v1/rerank', rerankBody('cohere-rerank'));
    expect(seen.status).toBe(200);
    expect(seen.json.results.map((r: { index: number }) => r.index)).toEqual([0, 2, 1]);
    expect(mine(bedrock)).toHaveLength(2);
  });
});

describe('faults with a fallback route', () => {
  test('vLLM failing on every attempt: the fallback (Titan on Bedrock) serves the whole request', async () => {
    vllm.push(...times<UpstreamBehaviour>(ATTEMPTS, { kind: 'status', status: 503 }));
    const seen = await post('/v1/embeddings', { model: 'bge-m3-or-titan', input: texts() });
    expect(seen.status).toBe(200);
    expect(seen.json.data.map((d: { embedding: number[] }) => d.embedding)).toEqual(texts().map((t) => fakeVector(t, 1024)));
    expect(mine(vllm)).toHaveLength(ATTEMPTS);
    expect(requestLine()).toEqual(expect.objectContaining({ status: 200, servedBy: 'bedrock', fallbacks: 1, UpstreamErrors: 0 }));
  });

  test('the caller\'s own 4xx from the first route is the answer: no fallback', async () => {
    vllm.push({ kind: 'status', status: 400, body: JSON.stringify({ error: { message: 'too long', code: 'context_length_exceeded' } }) });
    expectFailure(await post('/v1/embeddings', { model: 'bge-m3-or-titan', input: texts() }), 400, 'context_length_exceeded');
    expect(mine(bedrock)).toHaveLength(0);
  });

  test('the fallback failing too: the last route\'s failure is the answer (as for chat and rerank), with nothing left running', async () => {
    vllm.push(...times<UpstreamBehaviour>(ATTEMPTS, { kind: 'status', status: 503 }));
    bedrock.pushFor(text('gamma three'), ...times<Behaviour>(ATTEMPTS, { kind: 'error', status: 500, type: 'InternalServerException' }));
    bedrock.pushFor(text('alpha one'), { kind: 'hang', ms: 20 * REQUEST_MS });
    const seen = await post('/v1/embeddings', { model: 'bge-m3-or-titan', input: texts() });
    expectFailure(seen, 502, 'upstream_error');
    expect(seen.json.error.message).toMatch(/^Bedrock failed/);
    await expectNothingLeftRunning(bedrock, texts().length + ATTEMPTS - 1);
  });
});

describe('rerank on Bedrock: results in pages', () => {
  test('a second page that fails on every attempt fails the request: the first page is not returned as the ranking', async () => {
    bedrock.push({ kind: 'body', status: 200, body: JSON.stringify({ results: [{ index: 0, relevanceScore: 0.9 }], nextToken: 'page-2' }) });
    bedrock.push(...times<Behaviour>(ATTEMPTS, { kind: 'error', status: 500, type: 'InternalServerException' }));
    const seen = await post('/v1/rerank', { model: 'cohere-rerank', query: `cats ${tag}`, documents: ['cats purr', 'dogs bark'] });
    expectFailure(seen, 502, 'upstream_error');
    expect(seen.json.results).toBeUndefined();
    expect(mine(bedrock).map((r) => r.body.nextToken)).toEqual([undefined, 'page-2', 'page-2', 'page-2']);
  });
});

describe('the host\'s deadline (API Gateway\'s integration timeout) comes before the upstream timeouts', () => {
  let hosted: LocalGateway;
  const INTEGRATION_MS = 2000;
  beforeAll(async () => {
    const config = GatewayRuntimeConfigSchema.parse({
      bedrockEndpoint: bedrock.url,
      models: [
        { alias: 'titan-embed-v2', modelId: 'amazon.titan-embed-text-v2:0', kind: 'embed' },
        { alias: 'cohere-rerank', modelId: 'cohere.rerank-v3-5:0', kind: 'rerank' },
        { alias: 'text-embedding-v3', modelId: 'text-embedding-v3', route: 'provider', kind: 'embed', maxInputsPerCall: 2 },
      ],
      upstreams: [{ name: 'provider', kind: 'provider', baseUrl: `${provider.url}/v1`, maxAttempts: ATTEMPTS, timeoutMs: 10 * INTEGRATION_MS }],
      retry: { maxAttempts: ATTEMPTS, baseDelayMs: 1, maxDelayMs: 5 },
      timeouts: { requestMs: 10 * INTEGRATION_MS, streamIdleMs: 10 * INTEGRATION_MS },
      integrationTimeoutMs: INTEGRATION_MS,
    });
    const credentials = { get: async () => ({ accessKeyId: 'AKIAFAULT', secretAccessKey: 's' }), invalidate: () => undefined };
    hosted = await startLocalGateway({
      gateway: createGateway({ config, bedrock: new BedrockInvoker(config, credentials, async () => undefined), upstreams: new Map(config.upstreams.map((u) => [u.name, new OpenAiUpstream(u)])), log: (line) => logs.push(line) }),
      mode: 'buffered',
    });
  });
  afterAll(() => hosted.close());

  const postHosted = async (path: string, body: object) => {
    const started = Date.now();
    const res = await fetch(`${hosted.url}${path}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
    return { status: res.status, json: (await res.json()) as any, ms: Date.now() - started };
  };

  test.each([
    ['Titan fan-out with two inputs silent', () => {
      bedrock.pushFor(text('beta two'), { kind: 'hang', ms: 20 * INTEGRATION_MS });
      bedrock.pushFor(text('delta four'), { kind: 'hang', ms: 20 * INTEGRATION_MS });
      return ['/v1/embeddings', { model: 'titan-embed-v2', input: texts() }, bedrock] as const;
    }],
    ['a provider\'s split batch with one call silent', () => {
      provider.pushFor(text('gamma three'), { kind: 'hang', ms: 20 * INTEGRATION_MS });
      return ['/v1/embeddings', { model: 'text-embedding-v3', input: texts() }, provider] as const;
    }],
    ['Bedrock rerank silent', () => {
      bedrock.push({ kind: 'hang', ms: 20 * INTEGRATION_MS });
      return ['/v1/rerank', { model: 'cohere-rerank', query: `cats ${tag}`, documents: ['cats purr', 'dogs bark'] }, bedrock] as const;
    }],
  ])('%s: 504 deadline_exceeded before the host cuts the connection, DeadlineExceeded counted, nothing left running', async (_name, arrange) => {
    const [path, body, fake] = arrange();
    const seen = await postHosted(path, body);
    expect([seen.status, seen.json.error?.code]).toEqual([504, 'deadline_exceeded']);
    expect(seen.ms).toBeLessThan(INTEGRATION_MS);
    expect(requestLine()).toEqual(expect.objectContaining({ DeadlineExceeded: 1 }));
    await expectNothingLeftRunning(fake);
  });
});
