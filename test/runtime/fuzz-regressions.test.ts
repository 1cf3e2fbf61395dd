import { toGatewayRequest } from '../../runtime/gateway/api-gateway';
import { BedrockInvoker } from '../../runtime/gateway/bedrock';
import { createGateway, Gateway } from '../../runtime/gateway/gateway';
import { GatewayRuntimeConfigSchema } from '../../runtime/gateway/runtime-config';
import { BufferedSink, GatewayRequest } from '../../runtime/gateway/types';
import { MemoryCounterStore } from '../../runtime/quota/counter-store';
import { estimateRequest, MAX_ESTIMATED_OUTPUT_TOKENS } from '../../runtime/quota/estimate';
import { costOf } from '../../runtime/quota/pricing';
import { Quota } from '../../runtime/quota/quota';
import { QuotaRuntimeConfigSchema } from '../../runtime/quota/quota-config';
import { Outcome } from '../../runtime/gateway/request-log';
import { verifySigV4 } from '../../runtime/local/sigv4-verifier';
import { BedrockFake } from '../fakes/bedrock-fake';

/**
 * What the fuzzing (fuzz.test.ts, fuzz-routes.test.ts) found, pinned down one case each: names every
 * JavaScript object answers to ("constructor", "__proto__"...) looked up in the gateway's tables (a
 * 500), and requests that broke a quota counter for good, so that the whole group was refused until
 * its window (a month) ended.
 */
describe('names of Object.prototype members where a caller chooses a name are a 400, not a 500', () => {
  let bedrock: BedrockFake;
  let gateway: Gateway;
  const PNG = 'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg==';
  beforeAll(async () => {
    bedrock = await new BedrockFake().start();
    const config = GatewayRuntimeConfigSchema.parse({
      bedrockEndpoint: bedrock.url,
      models: [{ alias: 'nova-lite', modelId: 'us.amazon.nova-lite-v1:0' }, { alias: 'nova-2-lite', modelId: 'us.amazon.nova-2-lite-v1:0', reasoning: 'effort' }],
      retry: { maxAttempts: 1, baseDelayMs: 1, maxDelayMs: 1 },
    });
    gateway = createGateway({ config, bedrock: new BedrockInvoker(config, { get: async () => ({ accessKeyId: 'AKIAFUZZ', secretAccessKey: 's' }), invalidate: () => undefined }), log: () => undefined });
  });
  afterAll(() => bedrock.stop());

  async function answer(path: string, body: string) {
    const sink = new BufferedSink();
    await gateway.handle(toGatewayRequest({ httpMethod: 'POST', path, headers: { 'content-type': 'application/json' }, body, requestContext: { identity: { userArn: 'arn:aws-cn:iam::111122223333:user/dev' } } }), sink);
    return { status: sink.status, error: (JSON.parse(sink.body.toString('utf8')) as { error?: { code: string; param: string | null } }).error };
  }
  const chat = (extra: object, content: unknown = 'hi', role = 'user', model = 'nova-lite') => JSON.stringify({ model, messages: [{ role, content }], ...extra });
  const converse = (block: object) => JSON.stringify({ messages: [{ role: 'user', content: [block] }] });

  test.each(['constructor', '__proto__', 'toString', 'hasOwnProperty'])('"%s"', async (name) => {
    // [path, body, code and param of the 400; undefined: Bedrock's to judge (the stand-in takes any format), not a 5xx]
    const cases: [string, string, string | undefined, string | null][] = [
      // (A field named "__proto__" does not survive validation: it is served without it.)
      ...(name === '__proto__' ? [] : [['/v1/chat/completions', `${chat({}).slice(0, -1)},${JSON.stringify(name)}:1}`, 'unsupported_parameter', name] as [string, string, string, string]]),
      ['/v1/chat/completions', chat({}, [{ type: 'text', text: 'hi' }], name), 'unsupported_value', 'messages[0]'],
      ['/v1/chat/completions', chat({}, [{ type: 'image_url', image_url: { url: `data:${name};base64,${PNG}` } }]), /^[a-z]+$/.test(name) ? 'unsupported_image_type' : 'unsupported_image_url', 'messages[0].content[0]'],
      ['/v1/chat/completions', chat({ reasoning_effort: name }, 'hi', 'user', 'nova-2-lite'), 'unsupported_value', 'reasoning_effort'],
      ['/model/nova-lite/converse', converse({ image: { format: name, source: { bytes: PNG } } }), undefined, null],
      ['/model/nova-lite/converse', converse({ document: { format: name, name: 'd', source: { bytes: 'aGVsbG8=' } } }), undefined, null],
    ];
    for (const [path, body, code, param] of cases) {
      const got = await answer(path, body);
      expect([body, got.status < 500, got.error?.code]).toEqual([body, true, code]);
      if (code) expect([body, got.status, got.error?.param]).toEqual([body, 400, expect.stringContaining(param!)]);
    }
  });
});

describe('quota counters survive what a caller writes in its request', () => {
  const START = Date.UTC(2026, 11, 2, 3, 0, 0);
  function quota() {
    let now = START;
    const store = new MemoryCounterStore(undefined, () => now);
    const config = QuotaRuntimeConfigSchema.parse({
      enforce: true,
      limitsCacheSeconds: 0,
      default: { tokensPerMinute: 100_000, monthlyBudget: 100, models: { qwen: { requestsPerMinute: 50 } } },
      prices: { qwen: { input: 2, output: 6, currency: 'CNY' } },
    });
    return { quota: new Quota(config, { store, now: () => now, log: () => undefined }), store, later: (ms: number) => (now += ms) };
  }
  const request = (body: string): GatewayRequest => ({ method: 'POST', path: '/v1/chat/completions', headers: {}, body, caller: 'arn:aws-cn:iam::111122223333:user/dev', requestId: 'r' });
  const chat = (model: string, maxTokens = '16') => request(`{"model":${JSON.stringify(model)},"messages":[{"role":"user","content":"hi"}],"max_tokens":${maxTokens}}`);
  /** The gateway refused it (400/404): settled as using nothing. */
  const refused = (model: string): Outcome => ({ route: 'chat.completions', status: 400, model }) as Outcome;

  async function expectCountersFinite(store: MemoryCounterStore, ids: string[]) {
    expect(ids.length).toBeGreaterThan(0);
    for (const id of ids) {
      const values = await store.read(id);
      expect([id, Object.values(values).every(Number.isFinite)]).toEqual([id, true]);
    }
  }

  test('a max_tokens of 400 digits (Infinity to JSON.parse) is estimated at the cap, and the group is served afterwards', async () => {
    expect(estimateRequest(chat('qwen', '9'.repeat(400)), 1024).outputTokens).toBe(MAX_ESTIMATED_OUTPUT_TOKENS);
    expect(estimateRequest(chat('qwen', `1${'0'.repeat(20)}`), 1024).outputTokens).toBe(MAX_ESTIMATED_OUTPUT_TOKENS);
    const { quota: q, store, later } = quota();
    const admission = await q.admit(chat('qwen', '9'.repeat(400)));
    expect(Object.values(admission.headers).every((v) => /^\d+$|^\d+(m\d+)?s$|^\d+ms$/.test(v))).toBe(true);
    await q.settle(admission, refused('qwen'));
    await expectCountersFinite(store, admission.reservations.map((r) => r.id));
    later(61_000);
    await expect(q.admit(chat('qwen'))).resolves.toMatchObject({ group: 'default' });
  });

  test.each(['__proto__', 'constructor', 'toString', 'hasOwnProperty'])('a model named "%s" costs nothing (it has no price), and the group is served afterwards', async (model) => {
    expect(costOf({ qwen: { input: 1, output: 1, currency: 'CNY' } }, model, 10, 10)).toBeUndefined();
    const { quota: q, store, later } = quota();
    const admission = await q.admit(chat(model));
    expect(admission.estimatedCost).toBe(0);
    expect(admission.reservations.map((r) => r.scope)).toEqual(['g#default', 'g#default']);
    await q.settle(admission, refused(model));
    await expectCountersFinite(store, admission.reservations.map((r) => r.id));
    later(61_000);
    await expect(q.admit(chat('qwen'))).resolves.toMatchObject({ group: 'default' });
  });
});

describe('the local runner\'s SigV4 check', () => {
  test.each(['host;constructor', '__proto__', 'toString;x-amz-date'])('SignedHeaders=%s is a signature mismatch (403), not a TypeError (500)', async (signedHeaders) => {
    const amzDate = new Date().toISOString().replace(/[-:]/g, '').replace(/\.\d+/, '');
    const authorization = `AWS4-HMAC-SHA256 Credential=AKIALOCAL/${amzDate.slice(0, 8)}/cn-northwest-1/execute-api/aws4_request, SignedHeaders=${signedHeaders}, Signature=${'0'.repeat(64)}`;
    const verdict = await verifySigV4({ method: 'POST', path: '/v1/embeddings', query: {}, headers: { host: 'localhost', 'x-amz-date': amzDate, authorization }, body: '{}' }, [{ accessKeyId: 'AKIALOCAL', secretAccessKey: 's', arn: 'arn:aws-cn:iam::111122223333:user/dev' }], 'cn-northwest-1');
    expect(verdict).toEqual({ ok: false, message: expect.stringContaining('signature'), errorType: 'InvalidSignatureException' });
  });
});
