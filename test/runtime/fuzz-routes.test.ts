import { Sha256 } from '@aws-crypto/sha256-js';
import { SignatureV4 } from '@smithy/signature-v4';
import { toGatewayRequest, toProxyResult } from '../../runtime/gateway/api-gateway';
import { BedrockInvoker } from '../../runtime/gateway/bedrock';
import { createGateway, Gateway } from '../../runtime/gateway/gateway';
import { GatewayRuntimeConfigSchema } from '../../runtime/gateway/runtime-config';
import { BufferedSink } from '../../runtime/gateway/types';
import { startLocalGateway } from '../../runtime/local/local-gateway';
import { MemoryCounterStore } from '../../runtime/quota/counter-store';
import { Quota } from '../../runtime/quota/quota';
import { QuotaRuntimeConfigSchema } from '../../runtime/quota/quota-config';
import { startStreamingServer } from '../../runtime/server/server';
import { startAgentServer } from '../../runtime/agents/server';
import { BedrockFake } from '../fakes/bedrock-fake';
import { OpenAiUpstreamFake } from '../fakes/openai-upstream-fake';
import { Answer, AnswerCheck, httpSend, lambdaHostFromEnv, onTheWire, proxySend, run, withTimeout } from './fuzz-harness';
import { FuzzRequest, ROUTE_MODELS, ROUTE_SPECS, RouteFuzzSpec, routeFuzzRequests } from './fuzz-requests';

/**
 * Every route besides chat to Bedrock and native Converse (fuzz.test.ts): /v1/embeddings, rerank
 * under its three paths, chat passed through to vLLM and a provider, the same with quotas enforced
 * (x-ratelimit headers, 429s), on the Lambda host, the local runner and the streaming door; and the
 * agents server's AgentCore contract. Malformed requests by the thousand: no 5xx, no crash, no hang,
 * every error body OpenAI-shaped. The upstreams are healthy stand-ins, so a 5xx is the host's fault.
 */
const SEED = 20261203;
/** Smaller than the default 6 MB so that size cases stay quick; the limit's handling is the same. */
const MAX_BODY_BYTES = 512 * 1024;
const GATEWAY_ROUTES: readonly RouteFuzzSpec[] = [ROUTE_SPECS.embeddings, ROUTE_SPECS.rerank, ROUTE_SPECS.passthrough];
const json = { 'content-type': 'application/json' };

let bedrock: BedrockFake;
let vllm: OpenAiUpstreamFake;
let provider: OpenAiUpstreamFake;
const rejections: unknown[] = [];
const onRejection = (reason: unknown) => rejections.push(reason);

function configJson(extra: Record<string, unknown> = {}) {
  return {
    bedrockEndpoint: bedrock.url,
    models: [{ alias: 'nova-lite', modelId: 'us.amazon.nova-lite-v1:0' }, { alias: 'qwen', modelId: 'qwen-plus', route: 'dashscope' }, ...ROUTE_MODELS],
    upstreams: [
      { name: 'vllm', kind: 'vllm', baseUrl: `${vllm.url}/v1`, maxAttempts: 1 },
      { name: 'dashscope', kind: 'provider', baseUrl: `${provider.url}/v1`, maxAttempts: 1 },
    ],
    // A route that cannot take the request (token ids, dimensions) on the fallback is skipped, not a 5xx.
    fallbacks: { 'bge-m3': ['titan-embed'], 'gte-rerank': ['cohere-rerank'] },
    retry: { maxAttempts: 2, baseDelayMs: 1, maxDelayMs: 5 },
    timeouts: { requestMs: 10_000, streamIdleMs: 5000 },
    embeddingConcurrency: 8,
    maxBodyBytes: MAX_BODY_BYTES,
    ...extra,
  };
}

/**
 * Limits every fuzz run trips partway: a request rate per identity (x-ratelimit-* on every admitted
 * answer, 429 rate_limit_exceeded past it), tokens per minute (huge bodies), a model's own rate, and
 * a tiny daily budget on one model (429 insufficient_quota).
 */
const QUOTAS = {
  enforce: true,
  limitsCacheSeconds: 0,
  default: {
    tokensPerMinute: 400_000,
    monthlyBudget: 1000,
    perIdentity: { requestsPerMinute: 150 },
    models: { 'bge-m3': { requestsPerMinute: 10 }, 'gte-rerank': { dailyBudget: 0.000_01 } },
  },
  prices: { 'gte-rerank': { input: 1, output: 0, currency: 'CNY' }, qwen: { input: 2, output: 6, currency: 'CNY' }, 'qwen-vllm': { input: 1, output: 2, currency: 'CNY' } },
};

/** The quotas' clock: moved on a window to see what a fuzz run left in the counters. */
interface Clock {
  shiftMs: number;
}

function gateway(opts: { quota?: Clock } = {}): Gateway {
  const config = GatewayRuntimeConfigSchema.parse(configJson());
  const clock = opts.quota;
  const now = () => Date.now() + (clock?.shiftMs ?? 0);
  const quota = clock ? new Quota(QuotaRuntimeConfigSchema.parse(QUOTAS), { store: new MemoryCounterStore(undefined, now), now, log: () => undefined }) : undefined;
  return createGateway({ config, bedrock: new BedrockInvoker(config, { get: async () => ({ accessKeyId: 'AKIAFUZZ', secretAccessKey: 's' }), invalidate: () => undefined }), log: () => undefined, quota });
}

/** One valid request per route and upstream first, so SDK loading and connection set-up never count as a hang. */
const WARM_UP: FuzzRequest[] = [
  { kind: 'warm-up', method: 'POST', path: '/v1/embeddings', headers: json, body: JSON.stringify({ model: 'titan-embed', input: 'x' }) },
  { kind: 'warm-up', method: 'POST', path: '/v1/embeddings', headers: json, body: JSON.stringify({ model: 'bge-m3', input: ['x', 'y'] }) },
  { kind: 'warm-up', method: 'POST', path: '/v1/rerank', headers: json, body: JSON.stringify({ model: 'amazon-rerank', query: 'q', documents: ['q', 'r'] }) },
  { kind: 'warm-up', method: 'POST', path: '/v1/chat/completions', headers: json, body: JSON.stringify({ model: 'qwen-vllm', messages: [{ role: 'user', content: 'x' }], stream: true }) },
];

/** Requests for every gateway route, interleaved (so quotas see them mixed as a real caller sends them). */
function gatewayRequests(seed: number, perRoute: number, opts: { partialBodies?: boolean } = {}): FuzzRequest[] {
  const lists = GATEWAY_ROUTES.map((spec, i) => routeFuzzRequests(spec, seed + i, perRoute, { maxBodyBytes: MAX_BODY_BYTES, ...opts }));
  return lists[0].flatMap((_, i) => lists.map((l) => l[i]));
}

/** API Gateway's REST proxy integration: the path decoded as it arrived, the body as text or base64. */
/**
 * What a 200 owes the request it answers: the alias asked for as its model, an embedding per input
 * in input order, rerank results that point at documents that were sent.
 */
const servedWhatWasAsked: AnswerCheck = (req, answer) => {
  if (answer.status !== 200 || req.method !== 'POST' || !answer.contentType.startsWith('application/json')) return undefined;
  const asked = JSON.parse(req.body!) as { model: string; input?: unknown; documents?: unknown[] };
  const body = JSON.parse(answer.body) as { model?: string; data?: { index: number; embedding: unknown }[]; results?: { index: number; relevance_score: number }[] };
  if (body.model !== asked.model) return `200 names model ${JSON.stringify(body.model)}, not the alias ${JSON.stringify(asked.model)}`;
  if (req.kind.startsWith('embeddings')) {
    const count = typeof asked.input === 'string' || typeof (asked.input as unknown[])[0] === 'number' ? 1 : (asked.input as unknown[]).length;
    if (body.data?.length !== count || body.data.some((d, i) => d.index !== i || (!Array.isArray(d.embedding) && typeof d.embedding !== 'string'))) return `200 with ${body.data?.length} embeddings for ${count} inputs, or out of order`;
  }
  if (req.kind.startsWith('rerank') && (!Array.isArray(body.results) || body.results.some((r) => !Number.isInteger(r.index) || r.index < 0 || r.index >= asked.documents!.length || typeof r.relevance_score !== 'number'))) {
    return '200 with a rerank result that points at no document';
  }
  return undefined;
};

/** What quotas owe every answer: x-ratelimit-* on an admitted request, retry-after (and the limit that was hit) on a 429. */
const quotaHeaders: AnswerCheck = (req, answer) => {
  const h = answer.headers;
  const unreadable = Object.entries(h).find(([k, v]) => /^x-ratelimit-(limit|remaining)-|^retry-after/.test(k) && !/^\d+$/.test(v));
  if (unreadable) return `${unreadable[0]}: ${unreadable[1]} is not a whole number`;
  if (answer.status === 200 && req.method === 'POST' && h['x-ratelimit-limit-requests'] === undefined) return `200 without x-ratelimit-limit-requests (${Object.keys(h).join(',')})`;
  if (answer.status !== 429) return servedWhatWasAsked(req, answer);
  const code = (JSON.parse(answer.body) as { error: { code: string } }).error.code;
  if (!/^\d+$/.test(h['retry-after'] ?? '')) return `429 ${code} without a whole-second retry-after`;
  if (code === 'rate_limit_exceeded' && !Object.keys(h).some((k) => /^x-ratelimit-limit-(requests|tokens)$/.test(k))) return '429 rate_limit_exceeded without x-ratelimit-limit-*';
  if (code === 'insufficient_quota' && h['x-should-retry'] !== 'false') return '429 insufficient_quota without x-should-retry: false';
  return undefined;
};

beforeAll(async () => {
  bedrock = await new BedrockFake().start();
  vllm = await new OpenAiUpstreamFake('vllm', '').start();
  vllm.embeddingDimensions = [8, 256, 1024];
  provider = await new OpenAiUpstreamFake('dashscope', '').start();
  provider.maxEmbeddingInputs = 10;
  process.on('unhandledRejection', onRejection);
});
afterAll(async () => {
  process.off('unhandledRejection', onRejection);
  await Promise.all([bedrock.stop(), vllm.stop(), provider.stop()]);
});

describe('fuzz: embeddings, rerank and passthrough chat never get a 5xx, a crash, a hang or an unreadable error', () => {
  test('(a) the Lambda host: API Gateway proxy events, configuration from the environment', async () => {
    const host = await lambdaHostFromEnv(configJson());
    try {
      expect(await run(gatewayRequests(SEED, Number(process.env.FUZZ_COUNT ?? 400)), host.send, 8, WARM_UP, servedWhatWasAsked)).toEqual([]);
      expect(rejections).toEqual([]);
    } finally {
      host.restore();
    }
  });

  test('(b) the local runner (HTTP, stream mode)', async () => {
    const local = await startLocalGateway({ gateway: gateway(), mode: 'stream' });
    try {
      expect(await run(gatewayRequests(SEED + 10, 100).filter(onTheWire), httpSend(local.url), 6, WARM_UP, servedWhatWasAsked)).toEqual([]);
      expect(rejections).toEqual([]);
    } finally {
      await local.close();
    }
  });

  test('(c) the streaming door (HTTP with a bearer token)', async () => {
    const door = await startStreamingServer({ gateway: gateway(), authenticators: [{ authenticate: async (token) => (token === 'fuzz-token' ? { caller: 'fuzz' } : undefined) }], port: 0, host: '127.0.0.1', maxRequestBytes: 2 * MAX_BODY_BYTES, log: () => undefined });
    try {
      expect(await run(gatewayRequests(SEED + 20, 100).filter(onTheWire), httpSend(door.url, { authorization: 'Bearer fuzz-token' }), 6, WARM_UP, servedWhatWasAsked)).toEqual([]);
      expect(rejections).toEqual([]);
    } finally {
      await door.drain();
    }
  });
});

describe('fuzz: with quotas enforced, every answer carries its rate-limit headers and every refusal is a readable 429', () => {
  /** A window later, the run's refusals are behind: only a counter the run broke still refuses. */
  async function admittedAgain(clock: Clock, send: (req: FuzzRequest) => Promise<Answer>) {
    clock.shiftMs += 61_000;
    const answers = await Promise.all(WARM_UP.map((r) => send(r)));
    expect(answers.map((a) => [a.status, a.status === 200 ? '' : a.body])).toEqual(WARM_UP.map(() => [200, '']));
  }

  test('(a) the Lambda adapter', async () => {
    const clock = { shiftMs: 0 };
    const gw = gateway({ quota: clock });
    const send = proxySend(async (event) => {
      const sink = new BufferedSink();
      await gw.handle(toGatewayRequest(event, undefined, Date.now() + 28_000), sink);
      return toProxyResult(sink);
    });
    const requests = gatewayRequests(SEED + 30, 100);
    expect(await run(requests, send, 8, WARM_UP, quotaHeaders)).toEqual([]);
    // Both sides of the limit were fuzzed: requests admitted and requests refused.
    const statuses = await Promise.all(WARM_UP.map((r) => send(r).then((a) => a.status)));
    expect(statuses).toEqual(WARM_UP.map(() => 429));
    await admittedAgain(clock, send);
    expect(rejections).toEqual([]);
  });

  test('(b) the local runner and (c) the streaming door', async () => {
    const clocks = { local: { shiftMs: 0 }, door: { shiftMs: 0 } };
    const local = await startLocalGateway({ gateway: gateway({ quota: clocks.local }), mode: 'buffered' });
    const door = await startStreamingServer({ gateway: gateway({ quota: clocks.door }), authenticators: [{ authenticate: async () => ({ caller: 'fuzz', identity: 'key-1', group: 'default' }) }], port: 0, host: '127.0.0.1', log: () => undefined });
    try {
      expect(await run(gatewayRequests(SEED + 40, 80).filter(onTheWire), httpSend(local.url), 6, WARM_UP, quotaHeaders)).toEqual([]);
      await admittedAgain(clocks.local, httpSend(local.url));
      expect(await run(gatewayRequests(SEED + 50, 80).filter(onTheWire), httpSend(door.url, { authorization: 'Bearer k' }), 6, WARM_UP, quotaHeaders)).toEqual([]);
      await admittedAgain(clocks.door, httpSend(door.url, { authorization: 'Bearer k' }));
      expect(rejections).toEqual([]);
    } finally {
      await Promise.all([local.close(), door.drain()]);
    }
  });
});

describe('fuzz: the local runner with IAM on (as API Gateway authorizes)', () => {
  const CALLER = { accessKeyId: 'AKIALOCAL', secretAccessKey: 'local-secret', arn: 'arn:aws-cn:iam::111122223333:user/dev' };
  const signer = new SignatureV4({ credentials: CALLER, region: 'cn-northwest-1', service: 'execute-api', sha256: Sha256, uriEscapePath: true, applyChecksum: false });
  /** Headers the client names in SignedHeaders, Object.prototype members among them. */
  const SIGNED_HEADER_LISTS = ['host;x-amz-date', 'host;constructor', '__proto__', 'toString;x-amz-date', 'host;x-amz-date;hasOwnProperty', 'x-amz-date;content-type;host'];

  test('signed, unsigned and forged requests: a 403 or the route\'s own answer, never a 5xx', async () => {
    const local = await startLocalGateway({ gateway: gateway(), mode: 'stream', iam: { region: 'cn-northwest-1', callers: [CALLER] } });
    const host = new URL(local.url).host;
    let n = 0;
    const send = async (req: FuzzRequest): Promise<Answer> => {
      const amzDate = new Date().toISOString().replace(/[-:]/g, '').replace(/\.\d+/, '');
      const way = n++ % 3;
      if (way === 1) return httpSend(local.url)(req);
      if (way === 2) {
        const signedHeaders = SIGNED_HEADER_LISTS[n % SIGNED_HEADER_LISTS.length];
        return httpSend(local.url, { 'x-amz-date': amzDate, authorization: `AWS4-HMAC-SHA256 Credential=${CALLER.accessKeyId}/${amzDate.slice(0, 8)}/cn-northwest-1/execute-api/aws4_request, SignedHeaders=${signedHeaders}, Signature=${'0'.repeat(64)}` })(req);
      }
      const [path, search = ''] = req.path.split('?');
      const signed = await signer.sign({ method: req.method, protocol: 'http:', hostname: host, path, query: Object.fromEntries(new URLSearchParams(search)), headers: { host, ...req.headers }, body: req.body ?? '' });
      return httpSend(local.url, signed.headers as Record<string, string>)(req);
    };
    try {
      const signedWarmUp = async (req: FuzzRequest) => ((n = 0), send(req));
      expect(await run(gatewayRequests(SEED + 80, 60).filter(onTheWire), send, 6, [], servedWhatWasAsked)).toEqual([]);
      expect((await signedWarmUp(WARM_UP[0])).status).toBe(200);
      expect(rejections).toEqual([]);
    } finally {
      await local.close();
    }
  });
});

describe('fuzz: host-level faults on the new routes', () => {
  test('callers that hang up mid-body leave the local runner and the door serving', async () => {
    const local = await startLocalGateway({ gateway: gateway(), mode: 'stream' });
    const door = await startStreamingServer({ gateway: gateway(), authenticators: [{ authenticate: async () => ({ caller: 'fuzz' }) }], port: 0, host: '127.0.0.1', log: () => undefined });
    try {
      const partials = gatewayRequests(SEED + 60, 60, { partialBodies: true }).filter((r) => r.partialBody);
      expect(partials.length).toBeGreaterThan(5);
      for (const [url, headers] of [[local.url, {}], [door.url, { authorization: 'Bearer x' }]] as const) {
        for (const req of partials) await withTimeout(httpSend(url, headers)(req)).catch(() => undefined);
        expect(await run([], httpSend(url, headers), 1, WARM_UP)).toEqual([]);
      }
      await new Promise((resolve) => setTimeout(resolve, 200));
      expect(rejections).toEqual([]);
    } finally {
      await Promise.all([local.close(), door.drain()]);
    }
  });
});

describe('fuzz: the agents server (AgentCore Runtime contract: GET /ping, POST /invocations)', () => {
  /** The team is a stand-in: what is fuzzed is the server's reading of requests, not the agents. */
  const team = { invoke: async (r: { prompt: string; sessionId: string }) => ({ ok: true as const, answer: `echo ${r.prompt.length}`, sessionId: r.sessionId, trace: [] }) };
  const ping: FuzzRequest = { kind: 'ping', method: 'GET', path: '/ping', headers: {} };

  test.each([
    ['without authentication (AgentCore Runtime authenticates callers)', undefined],
    ['with bearer authentication (Fargate)', async (token: string) => (token === 'fuzz-token' ? { caller: 'fuzz' } : undefined)],
  ])('%s', async (_name, authenticate) => {
    const server = await startAgentServer({ team, port: 0, host: '127.0.0.1', maxRequestBytes: 64 * 1024, log: () => undefined, authenticate });
    const headers: Record<string, string> = authenticate ? { authorization: 'Bearer fuzz-token' } : {};
    try {
      const requests = routeFuzzRequests(ROUTE_SPECS.invocations, SEED + 70, 600, { maxBodyBytes: 64 * 1024, partialBodies: true });
      const partials = requests.filter((r) => r.partialBody);
      for (const req of partials) await withTimeout(httpSend(server.url, headers)(req)).catch(() => undefined);
      const whole = requests.filter((r) => !r.partialBody && onTheWire(r));
      expect(await run(whole, httpSend(server.url, headers), 6, [ping])).toEqual([]);
      if (authenticate) expect(await run(whole.slice(0, 50), httpSend(server.url, { authorization: 'Bearer wrong' }), 6, [ping])).toEqual([]);
      expect((await httpSend(server.url, headers)({ kind: 'valid', method: 'POST', path: '/invocations', headers: json, body: '{"prompt":"hi"}' })).status).toBe(200);
      expect(rejections).toEqual([]);
    } finally {
      await server.drain(1000);
    }
  });
});
