import { GatewayRequest } from '../../runtime/gateway/types';
import { MemoryCounterStore } from '../../runtime/quota/counter-store';
import { estimateRequest, MAX_ESTIMATED_OUTPUT_TOKENS } from '../../runtime/quota/estimate';
import { costOf } from '../../runtime/quota/pricing';
import { Quota } from '../../runtime/quota/quota';
import { QuotaRuntimeConfigSchema } from '../../runtime/quota/quota-config';
import { Outcome } from '../../runtime/gateway/request-log';

/**
 * What the route fuzzing (fuzz-routes.test.ts) found, pinned down one case each: requests that broke
 * a quota counter for good, so that the whole group was refused until its window (a month) ended.
 */
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
