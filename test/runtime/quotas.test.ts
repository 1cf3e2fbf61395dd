import * as net from 'net';
import OpenAI from 'openai';
import { BedrockInvoker } from '../../runtime/gateway/bedrock';
import { createGateway } from '../../runtime/gateway/gateway';
import { GatewayRuntimeConfigSchema } from '../../runtime/gateway/runtime-config';
import { BufferedSink, GatewayRequest } from '../../runtime/gateway/types';
import { DynamoCounterStore } from '../../runtime/quota/dynamo-counter-store';
import { DynamoJsonClient } from '../../runtime/quota/dynamo-json-client';
import { LimitTable } from '../../runtime/quota/limit-table';
import { Quota } from '../../runtime/quota/quota';
import { QuotaRuntimeConfigSchema } from '../../runtime/quota/quota-config';
import { AuthenticatedCaller, startStreamingServer, StreamingServer } from '../../runtime/server/server';
import { BedrockFake } from '../fakes/bedrock-fake';
import { DynamoDbLocal } from '../fakes/dynamodb-local';

const TABLE = 'cnllm-quotas';
const ROLE_SESSION = (role: string, session: string) => `arn:aws-cn:sts::111122223333:assumed-role/${role}/${session}`;
const models = [{ alias: 'nova-lite', modelId: 'us.amazon.nova-lite-v1:0' }];
const credentials = { get: async () => ({ accessKeyId: 'AKIAGLOBAL', secretAccessKey: 's' }), invalidate: () => undefined };

let bedrock: BedrockFake;
let dynamo: DynamoDbLocal;
const servers: StreamingServer[] = [];

beforeAll(async () => {
  bedrock = await new BedrockFake().start();
  dynamo = await (await new DynamoDbLocal().start()).createQuotaTable(TABLE);
});
afterAll(async () => {
  await Promise.all(servers.map((s) => s.drain()));
  await Promise.all([bedrock.stop(), dynamo.stop()]);
});

/** A gateway with quotas over the shared dynalite table; every test uses its own groups, so counters never mix. */
function quotaGateway(quotas: Record<string, unknown>, opts: { now?: () => number; store?: DynamoCounterStore } = {}) {
  // Real time, shifted to 5 s into a minute: no test crosses a minute boundary by chance.
  const t0 = Date.now();
  const start = (Math.floor(t0 / 60_000) + 10) * 60_000 + 5000;
  opts = { now: () => start + (Date.now() - t0), ...opts };
  const logs: Record<string, unknown>[] = [];
  const quotaConfig = QuotaRuntimeConfigSchema.parse({ enforce: true, limitsCacheSeconds: 0, ...quotas });
  const store = opts.store ?? new DynamoCounterStore(dynamo.jsonClient(1000), TABLE);
  const quota = new Quota(quotaConfig, { store, now: opts.now, log: (l) => logs.push(l) });
  const config = GatewayRuntimeConfigSchema.parse({ bedrockEndpoint: bedrock.url, models });
  const gateway = createGateway({ config, bedrock: new BedrockInvoker(config, credentials), log: (l) => logs.push(l), quota, now: opts.now });
  return { gateway, logs, quota };
}

/** The gateway behind the door's HTTP server; the bearer token is the caller's identity (the auth is not under test here). */
async function serve(gateway: ReturnType<typeof quotaGateway>['gateway'], auth: (token: string) => AuthenticatedCaller = (caller) => ({ caller })): Promise<string> {
  const server = await startStreamingServer({ gateway, authenticators: [{ authenticate: async (t) => auth(t) }], port: 0, host: '127.0.0.1', log: () => undefined });
  servers.push(server);
  return `${server.url}/v1`;
}

const chat = (content: string, extra: Record<string, unknown> = {}) => JSON.stringify({ model: 'nova-lite', messages: [{ role: 'user', content }], ...extra });
async function call(gateway: ReturnType<typeof quotaGateway>['gateway'], caller: string, body = chat('hello'), extra: Partial<GatewayRequest> = {}) {
  const sink = new BufferedSink();
  await gateway.handle({ method: 'POST', path: '/v1/chat/completions', headers: {}, body, caller, requestId: 'r', ...extra }, sink);
  return { status: sink.status, headers: sink.headers, body: JSON.parse(sink.body.toString('utf8') || 'null') };
}
const requestLines = (logs: Record<string, unknown>[]) => logs.filter((l) => l.msg === 'request');
/** The request line is written once the request is settled, just after its answer ended. */
async function settledLines(logs: Record<string, unknown>[], count: number) {
  for (let i = 0; i < 200 && requestLines(logs).length < count; i++) await new Promise((r) => setTimeout(r, 10));
  return requestLines(logs);
}

describe('rate limits (requests and tokens per minute)', () => {
  test('requests per minute: OpenAI headers on every answer, then 429 rate_limit_exceeded (type requests) with retry-after', async () => {
    const { gateway } = quotaGateway({ groups: { rpm: { requestsPerMinute: 3 } }, principals: [{ pattern: 'rpm-*', group: 'rpm' }] });
    const seen = [];
    for (let i = 0; i < 3; i++) seen.push(await call(gateway, `rpm-caller-${i}`));
    expect(seen.map((r) => r.status)).toEqual([200, 200, 200]);
    expect(seen.map((r) => r.headers['x-ratelimit-remaining-requests'])).toEqual(['2', '1', '0']);
    expect(seen[0].headers['x-ratelimit-limit-requests']).toBe('3');
    expect(seen[0].headers['x-ratelimit-reset-requests']).toMatch(/^(\d+ms|\d+s)$/);
    // No tokens limit applies: no tokens headers.
    expect(seen[0].headers['x-ratelimit-limit-tokens']).toBeUndefined();

    const refused = await call(gateway, 'rpm-caller-9');
    expect(refused.status).toBe(429);
    expect(refused.body.error).toEqual(expect.objectContaining({ type: 'requests', code: 'rate_limit_exceeded' }));
    expect(refused.body.error.message).toMatch(/group rpm on requests per minute: limit 3/);
    expect(Number(refused.headers['retry-after'])).toBeGreaterThanOrEqual(1);
    expect(Number(refused.headers['retry-after'])).toBeLessThanOrEqual(60);
    expect(refused.headers['x-ratelimit-remaining-requests']).toBe('0');
    // The group's members share it: the whole group is at its limit.
    expect((await call(gateway, 'rpm-caller-0')).status).toBe(429);
    // Another group is not.
    expect((await call(gateway, 'someone-else')).status).toBe(200);
  });

  test('tokens per minute: the estimate (request size + max_tokens) is reserved before the call, the real usage settled after it', async () => {
    const { gateway, logs } = quotaGateway({ groups: { tpm: { tokensPerMinute: 1000 } }, principals: [{ pattern: 'tpm-*', group: 'tpm' }] });
    const first = await call(gateway, 'tpm-a', chat('one two three', { max_tokens: 600 }));
    expect(first.status).toBe(200);
    // Reserved: ~ body bytes / 3 + 600; settled to the real 3 + 3 tokens (the fake echoes "You said: ..." word by word).
    const settled = requestLines(logs).at(-1)!;
    expect(settled).toEqual(expect.objectContaining({ inputTokens: 3, identity: 'tpm-a', group: 'tpm' }));
    const used = 3 + (settled.outputTokens as number);
    const second = await call(gateway, 'tpm-b', chat('x', { max_tokens: 600 }));
    expect(second.status).toBe(200);
    // Headers show the second reservation on top of the first request's settled usage.
    expect(Number(second.headers['x-ratelimit-remaining-tokens'])).toBeLessThanOrEqual(1000 - used - 600);
    expect(second.headers['x-ratelimit-limit-tokens']).toBe('1000');
    // Not settled yet when its headers went out; now it is: 1000 - both real usages leaves too little for 900 more.
    const refused = await call(gateway, 'tpm-c', chat('y', { max_tokens: 990 }));
    expect(refused.status).toBe(429);
    expect(refused.body.error).toEqual(expect.objectContaining({ type: 'tokens', code: 'rate_limit_exceeded' }));
    expect(refused.headers['x-ratelimit-remaining-tokens']).toBe('0');
  });

  test('with both limits, the refusal names the one that was hit', async () => {
    const { gateway } = quotaGateway({ groups: { both: { requestsPerMinute: 1, tokensPerMinute: 100000 } }, principals: [{ pattern: 'both-*', group: 'both' }] });
    expect((await call(gateway, 'both-a')).status).toBe(200);
    const refused = await call(gateway, 'both-a');
    expect(refused.body.error.type).toBe('requests');
  });

  test('per-identity limits inside a group, and limits set in the table (npm run api-keys -- limits) without a redeploy', async () => {
    const { gateway } = quotaGateway({ groups: { pi: { perIdentity: { requestsPerMinute: 1 } } }, principals: [{ pattern: 'pi-*', group: 'pi' }] });
    expect((await call(gateway, 'pi-a')).status).toBe(200);
    expect((await call(gateway, 'pi-a')).status).toBe(429);
    expect((await call(gateway, 'pi-b')).status).toBe(200);

    const limits = new LimitTable(dynamo.jsonClient(), TABLE);
    await limits.put({ kind: 'identity', name: 'pi-c' }, { requestsPerMinute: 3 });
    await limits.put({ kind: 'identity', name: 'moved-1' }, {}, 'pi');
    expect((await call(gateway, 'pi-c')).headers['x-ratelimit-limit-requests']).toBe('3');
    // An identity the table puts in group pi gets pi's per-identity limit.
    expect((await call(gateway, 'moved-1')).headers['x-ratelimit-limit-requests']).toBe('1');
    await limits.clear({ kind: 'identity', name: 'pi-c' });
    await limits.clear({ kind: 'identity', name: 'moved-1' });
  });

  test('an assumed-role session counts as its role: sessions share the identity and match quotas.principals by the role ARN', async () => {
    const { gateway, logs } = quotaGateway({ groups: { 'team-a': { perIdentity: { requestsPerMinute: 2 } } }, principals: [{ pattern: 'arn:aws-cn:iam::*:role/team-a-*', group: 'team-a' }] });
    expect((await call(gateway, ROLE_SESSION('team-a-ci', 'job-1'))).status).toBe(200);
    expect(requestLines(logs).at(-1)).toEqual(expect.objectContaining({ identity: 'arn:aws-cn:iam::111122223333:role/team-a-ci', group: 'team-a' }));
    expect((await call(gateway, ROLE_SESSION('team-a-ci', 'job-2'))).status).toBe(200);
    expect((await call(gateway, ROLE_SESSION('team-a-ci', 'job-3'))).status).toBe(429);
    // Another role of the team has its own per-identity allowance; a role outside the pattern is in default (no limits).
    expect((await call(gateway, ROLE_SESSION('team-a-web', 'x'))).status).toBe(200);
    expect((await call(gateway, ROLE_SESSION('team-b-web', 'x'))).headers['x-ratelimit-limit-requests']).toBeUndefined();
    expect(requestLines(logs).at(-1)).toEqual(expect.objectContaining({ group: 'default' }));
  });
});

describe('budgets (tokens and money per day and month)', () => {
  test('a stream that crosses the daily budget finishes; the overrun is settled; the next request is refused with insufficient_quota', async () => {
    const { gateway, logs } = quotaGateway({ groups: { day: { dailyTokens: 20 } }, principals: [{ pattern: 'day-*', group: 'day' }] });
    const url = await serve(gateway);
    const words = Array.from({ length: 30 }, (_, i) => `w${i}`).join(' ');
    bedrock.push({ kind: 'reply', text: words, interTokenDelayMs: 2 });
    const stream = await new OpenAI({ baseURL: url, apiKey: 'day-a', maxRetries: 0 }).chat.completions.create({ model: 'nova-lite', messages: [{ role: 'user', content: 'go' }], stream: true, max_tokens: 5 });
    let text = '';
    for await (const chunk of stream) text += chunk.choices[0]?.delta?.content ?? '';
    expect(text).toBe(words);
    const line = (await settledLines(logs, 1)).at(-1)!;
    expect(line).toEqual(expect.objectContaining({ status: 200, outputTokens: 30, group: 'day' }));
    const item = (await dynamo.items(TABLE)).find((i) => i.pk.S!.startsWith('c#g#day#d'))!;
    expect(Number(item.tk.N)).toBe(31);

    // The SDK's default retries (2) are not spent on a budget: x-should-retry false makes it give up at once.
    const before = requestLines(logs).length;
    const refusal = await new OpenAI({ baseURL: url, apiKey: 'day-b' }).chat.completions.create({ model: 'nova-lite', messages: [{ role: 'user', content: 'again' }] }).catch((e: unknown) => e);
    expect(refusal).toBeInstanceOf(OpenAI.RateLimitError);
    expect(refusal).toMatchObject({ status: 429, code: 'insufficient_quota', type: 'insufficient_quota' });
    expect((await settledLines(logs, before + 1)).length - before).toBe(1);
    expect((refusal as InstanceType<typeof OpenAI.RateLimitError>).headers.get('x-should-retry')).toBe('false');
    expect(requestLines(logs).at(-1)).toEqual(expect.objectContaining({ status: 429, quotaRefused: true, Throttled: 0, QuotaRefused: 1, identity: 'day-b', group: 'day' }));
  });

  test('money: each request is priced (Outcome.cost), the monthly budget is enforced, and BudgetUsedPercent is emitted per group', async () => {
    const { gateway, logs } = quotaGateway({
      groups: { spend: { monthlyBudget: 0.05 } },
      principals: [{ pattern: 'spend-*', group: 'spend' }],
      prices: { 'nova-lite': { input: 1000, output: 2000, currency: 'CNY' } },
    });
    const ok = await call(gateway, 'spend-a', chat('a b c d e', { max_tokens: 10 }));
    expect(ok.status).toBe(200);
    const line = requestLines(logs).at(-1)!;
    // 5 input tokens at 1000 per million, 7 output ("You said: a b c d e") at 2000 per million.
    expect(line.cost).toEqual({ amount: 0.019, currency: 'CNY' });
    const metric = logs.filter((l) => l.msg === 'budget').at(-1)!;
    expect(metric).toEqual(expect.objectContaining({ Group: 'spend', BudgetUsedPercent: 38 }));
    expect(metric._aws).toEqual(expect.objectContaining({ CloudWatchMetrics: [{ Namespace: 'cn-llm-kit/Gateway', Dimensions: [['Group']], Metrics: [{ Name: 'BudgetUsedPercent', Unit: 'Percent' }] }] }));
    expect((await call(gateway, 'spend-b', chat('a b c d e', { max_tokens: 10 }))).status).toBe(200);
    expect((await call(gateway, 'spend-c', chat('a b c d e', { max_tokens: 10 }))).status).toBe(200);
    expect(logs.filter((l) => l.msg === 'budget').at(-1)!.BudgetUsedPercent).toBe(114);
    const refused = await call(gateway, 'spend-a');
    expect(refused.status).toBe(429);
    expect(refused.body.error.code).toBe('insufficient_quota');
    expect(refused.body.error.message).toMatch(/monthly budget of group spend is used up/);
  });

  test('a per-model budget applies to that model only', async () => {
    const { gateway } = quotaGateway({ groups: { pm: { models: { 'nova-lite': { dailyTokens: 1 } } } }, principals: [{ pattern: 'pm-*', group: 'pm' }] });
    expect((await call(gateway, 'pm-a')).status).toBe(200);
    const refused = await call(gateway, 'pm-a');
    expect(refused.status).toBe(429);
    expect(refused.body.error.message).toMatch(/group pm on model nova-lite/);
    // Listing models is not metered.
    const sink = new BufferedSink();
    await gateway.handle({ method: 'GET', path: '/v1/models', headers: {}, body: undefined, caller: 'pm-a', requestId: 'r' }, sink);
    expect(sink.status).toBe(200);
  });
});

describe('what the OpenAI SDK does with the answers', () => {
  test('streams carry the rate-limit headers before the first byte', async () => {
    const { gateway } = quotaGateway({ groups: { hs: { requestsPerMinute: 10, tokensPerMinute: 100000 } }, principals: [{ pattern: 'hs-*', group: 'hs' }] });
    const url = await serve(gateway);
    bedrock.push({ kind: 'reply', text: 'a slow stream of words', interTokenDelayMs: 300 });
    const started = Date.now();
    const res = await fetch(`${url}/chat/completions`, { method: 'POST', headers: { authorization: 'Bearer hs-a', 'content-type': 'application/json' }, body: chat('x', { stream: true }) });
    // fetch resolves on the headers: well before the stream ends.
    expect(Date.now() - started).toBeLessThan(1000);
    expect(res.headers.get('content-type')).toMatch(/text\/event-stream/);
    expect(res.headers.get('x-ratelimit-limit-requests')).toBe('10');
    expect(res.headers.get('x-ratelimit-remaining-requests')).toBe('9');
    expect(res.headers.get('x-ratelimit-limit-tokens')).toBe('100000');
    expect(Number(res.headers.get('x-ratelimit-remaining-tokens'))).toBeLessThan(100000);
    await res.text();
  });

  test('a rate limit is retried by the SDK after retry-after-ms, and then succeeds', async () => {
    // The quota's clock is 2 s before a minute ends: the window turns while the SDK waits.
    const t0 = Date.now();
    const base = (Math.floor(t0 / 60_000) + 5) * 60_000 - 2000;
    const { gateway, logs } = quotaGateway({ groups: { rt: { requestsPerMinute: 1 } }, principals: [{ pattern: 'rt-*', group: 'rt' }] }, { now: () => base + (Date.now() - t0) });
    const url = await serve(gateway);
    const client = new OpenAI({ baseURL: url, apiKey: 'rt-a', maxRetries: 2 });
    expect((await client.chat.completions.create({ model: 'nova-lite', messages: [{ role: 'user', content: 'one' }] })).choices[0].message.content).toBe('You said: one');
    const res = await client.chat.completions.create({ model: 'nova-lite', messages: [{ role: 'user', content: 'two' }] });
    expect(res.choices[0].message.content).toBe('You said: two');
    expect((await settledLines(logs, 3)).map((l) => l.status)).toEqual([200, 429, 200]);
  });
});

describe('counter store outages: bounded, then the configured policy', () => {
  let hanging: net.Server;
  const sockets: net.Socket[] = [];
  let hangingUrl: string;
  let downUrl: string;
  beforeAll(async () => {
    // Accepts connections and never answers.
    hanging = net.createServer((socket) => sockets.push(socket));
    await new Promise<void>((r) => hanging.listen(0, '127.0.0.1', r));
    hangingUrl = `http://127.0.0.1:${(hanging.address() as net.AddressInfo).port}`;
    const closed = net.createServer();
    await new Promise<void>((r) => closed.listen(0, '127.0.0.1', r));
    downUrl = `http://127.0.0.1:${(closed.address() as net.AddressInfo).port}`;
    await new Promise((r) => closed.close(r));
  });
  afterAll(async () => {
    for (const socket of sockets) socket.destroy();
    await new Promise((r) => hanging.close(r));
  });

  const storeAt = (endpoint: string) =>
    new DynamoCounterStore(new DynamoJsonClient({ region: 'cn-northwest-1', endpoint, timeoutMs: 300, credentials: { accessKeyId: 'AKIALOCAL', secretAccessKey: 'local' } }), TABLE);

  test.each([
    ['hangs', () => hangingUrl],
    ['is down', () => downUrl],
  ])('a store that %s: fail open serves within the timeout and emits QuotaStoreFailures; fail closed answers 503 quota_unavailable', async (_what, url) => {
    for (const policy of ['open', 'closed'] as const) {
      const { gateway, logs } = quotaGateway({ default: { requestsPerMinute: 100 }, onStoreFailure: policy, storeTimeoutMs: 300 }, { store: storeAt(url()) });
      const started = Date.now();
      const res = await call(gateway, 'outage-a');
      const took = Date.now() - started;
      // Two bounded steps at most (the limits read, then the check), never a hang.
      expect(took).toBeLessThan(1500);
      const failures = logs.filter((l) => l.msg === 'quota store failed');
      expect(failures.length).toBeGreaterThan(0);
      expect(failures[0]).toEqual(expect.objectContaining({ policy, QuotaStoreFailures: 1 }));
      if (policy === 'open') {
        expect(res.status).toBe(200);
        expect(res.headers['x-ratelimit-limit-requests']).toBeUndefined();
      } else {
        expect(res.status).toBe(503);
        expect(res.body.error).toEqual(expect.objectContaining({ code: 'quota_unavailable', type: 'api_error' }));
      }
    }
  }, 20_000);
});
