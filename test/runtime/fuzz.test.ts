import { BedrockInvoker } from '../../runtime/gateway/bedrock';
import { createGateway } from '../../runtime/gateway/gateway';
import { GatewayRuntimeConfigSchema } from '../../runtime/gateway/runtime-config';
import { LocalGateway, startLocalGateway } from '../../runtime/local/local-gateway';
import { StreamingServer, startStreamingServer } from '../../runtime/server/server';
import { BedrockFake } from '../fakes/bedrock-fake';
import { OpenAiUpstreamFake } from '../fakes/openai-upstream-fake';
import { Answer, httpSend, lambdaHostFromEnv, onTheWire, problem, run as runCases, withTimeout } from './fuzz-harness';
import { FuzzRequest, fuzzRequests } from './fuzz-requests';

/**
 * Thousands of malformed requests against every host the gateway runs in: none may get a 5xx, crash
 * the process, hang, or answer with an error body an OpenAI client cannot read. The upstreams are
 * healthy stand-ins, so any 5xx is the gateway's own fault.
 */
const SEED = 20261202;
/** Smaller than the default 6 MB so that size cases stay quick; the limit's handling is the same. */
const MAX_BODY_BYTES = 512 * 1024;
const MODELS = [
  { alias: 'nova-lite', modelId: 'us.amazon.nova-lite-v1:0' },
  { alias: 'qwen', modelId: 'qwen-plus', route: 'dashscope' },
];

let bedrock: BedrockFake;
let upstream: OpenAiUpstreamFake;
const rejections: unknown[] = [];
const onRejection = (reason: unknown) => rejections.push(reason);

function configJson() {
  return {
    bedrockEndpoint: bedrock.url,
    models: MODELS,
    upstreams: [{ name: 'dashscope', kind: 'provider', baseUrl: `${upstream.url}/v1`, maxAttempts: 1 }],
    retry: { maxAttempts: 3, baseDelayMs: 1, maxDelayMs: 5 },
    timeouts: { requestMs: 10_000, streamIdleMs: 5000 },
    maxBodyBytes: MAX_BODY_BYTES,
  };
}

function gateway() {
  const config = GatewayRuntimeConfigSchema.parse(configJson());
  return createGateway({ config, bedrock: new BedrockInvoker(config, { get: async () => ({ accessKeyId: 'AKIAFUZZ', secretAccessKey: 's' }), invalidate: () => undefined }), log: () => undefined });
}

beforeAll(async () => {
  bedrock = await new BedrockFake().start();
  upstream = await new OpenAiUpstreamFake('dashscope', '').start();
  process.on('unhandledRejection', onRejection);
});
afterAll(async () => {
  process.off('unhandledRejection', onRejection);
  await Promise.all([bedrock.stop(), upstream.stop()]);
});

/** One valid request per route first: loading the SDK on the first call must not count as a hang. */
const WARM_UP: FuzzRequest[] = [
  { kind: 'warm-up', method: 'POST', path: '/v1/chat/completions', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ model: 'nova-lite', messages: [{ role: 'user', content: 'x' }], stream: true }) },
  { kind: 'warm-up', method: 'POST', path: '/v1/chat/completions', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ model: 'qwen', messages: [{ role: 'user', content: 'x' }] }) },
  { kind: 'warm-up', method: 'POST', path: '/model/nova-lite/converse', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ messages: [{ role: 'user', content: [{ text: 'x' }] }] }) },
];

const run = (requests: FuzzRequest[], send: (req: FuzzRequest) => Promise<Answer>, concurrency: number, warmUp = true) => runCases(requests, send, concurrency, warmUp ? WARM_UP : []);

describe('fuzz: malformed requests never get a 5xx, a crash, a hang or an unreadable error', () => {
  test('(a) the Lambda host: API Gateway proxy events, configuration from the environment', async () => {
    const host = await lambdaHostFromEnv(configJson());
    try {
      const requests = fuzzRequests(SEED, Number(process.env.FUZZ_COUNT ?? 2000), { maxBodyBytes: MAX_BODY_BYTES });
      expect(await run(requests, host.send, 8)).toEqual([]);
      expect(rejections).toEqual([]);
    } finally {
      host.restore();
    }
  });

  test('(b) the local runner (HTTP, stream mode)', async () => {
    const local: LocalGateway = await startLocalGateway({ gateway: gateway(), mode: 'stream' });
    try {
      const requests = fuzzRequests(SEED + 1, 300, { maxBodyBytes: MAX_BODY_BYTES }).filter((r) => !r.partialBody && onTheWire(r));
      expect(await run(requests, httpSend(local.url), 6)).toEqual([]);
      expect(rejections).toEqual([]);
    } finally {
      await local.close();
    }
  });

  test('(c) the streaming door (HTTP with a bearer token)', async () => {
    const door: StreamingServer = await startStreamingServer({
      gateway: gateway(),
      authenticators: [{ authenticate: async (token) => (token === 'fuzz-token' ? { caller: 'fuzz' } : undefined) }],
      port: 0,
      host: '127.0.0.1',
      maxRequestBytes: 2 * MAX_BODY_BYTES,
      log: () => undefined,
    });
    try {
      const requests = fuzzRequests(SEED + 2, 300, { maxBodyBytes: MAX_BODY_BYTES }).filter((r) => !r.partialBody && onTheWire(r));
      expect(await run(requests, httpSend(door.url, { authorization: 'Bearer fuzz-token' }), 6)).toEqual([]);
      expect(await run(fuzzRequests(SEED + 3, 40).filter(onTheWire), httpSend(door.url, { authorization: 'Bearer wrong' }), 6, false)).toEqual([]);
      expect(rejections).toEqual([]);
    } finally {
      await door.drain();
    }
  });
});

/** Host-level faults: a caller that hangs up mid-body, and a signed request with a garbage date (they live in the hosts, not the gateway core). */
describe('fuzz: host-level faults', () => {
  const partials = () => fuzzRequests(SEED + 4, 300, { partialBodies: true, maxBodyBytes: MAX_BODY_BYTES }).filter((r) => r.partialBody).slice(0, 10);
  const valid = WARM_UP[0];

  async function survivesPartialBodies(url: string, headers: Record<string, string> = {}) {
    for (const req of partials()) await withTimeout(httpSend(url, headers)(req)).catch(() => undefined);
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(rejections).toEqual([]);
    expect((await httpSend(url, headers)(valid)).status).toBe(200);
  }

  test('(b) the local runner: callers that hang up mid-body', async () => {
    const local = await startLocalGateway({ gateway: gateway(), mode: 'stream' });
    try {
      await survivesPartialBodies(local.url);
    } finally {
      await local.close();
    }
  });

  test('(c) the streaming door: callers that hang up mid-body', async () => {
    const door = await startStreamingServer({ gateway: gateway(), authenticators: [{ authenticate: async () => ({ caller: 'fuzz' }) }], port: 0, host: '127.0.0.1', log: () => undefined });
    try {
      await survivesPartialBodies(door.url, { authorization: 'Bearer x' });
    } finally {
      await door.drain();
    }
  });

  test('(b) the local runner with IAM on: X-Amz-Date garbage is a 403, not a crash', async () => {
    const local = await startLocalGateway({ gateway: gateway(), iam: { region: 'cn-northwest-1', callers: [{ accessKeyId: 'AKIALOCAL', secretAccessKey: 's', arn: 'arn:aws-cn:iam::111122223333:user/dev' }] } });
    try {
      const authorization = `AWS4-HMAC-SHA256 Credential=AKIALOCAL/20261202/cn-northwest-1/execute-api/aws4_request, SignedHeaders=host;x-amz-date, Signature=${'0'.repeat(64)}`;
      for (const date of ['garbage', '', '2026', '99999999T999999Z']) {
        const answer = await withTimeout(httpSend(local.url, { authorization, 'x-amz-date': date })(valid), 3000).catch((e: Error) => e);
        expect([date, problem(valid, answer)]).toEqual([date, undefined]);
        expect([date, (answer as Answer).status]).toEqual([date, 403]);
      }
      expect(rejections).toEqual([]);
    } finally {
      await local.close();
    }
  });
});
