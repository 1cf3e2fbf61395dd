import * as http from 'http';
import { stsBearerToken } from '../../runtime/client/sts-token';
import { BedrockInvoker } from '../../runtime/gateway/bedrock';
import { createGateway, Gateway } from '../../runtime/gateway/gateway';
import { GatewayRuntimeConfigSchema } from '../../runtime/gateway/runtime-config';
import { BufferedSink } from '../../runtime/gateway/types';
import { DynamoCounterStore } from '../../runtime/quota/dynamo-counter-store';
import { DynamoJsonClient } from '../../runtime/quota/dynamo-json-client';
import { Quota } from '../../runtime/quota/quota';
import { QuotaRuntimeConfigSchema } from '../../runtime/quota/quota-config';
import { ApiKeyAuthenticator, ApiKeyTable, keyLookupClient, newApiKey } from '../../runtime/server/api-keys';
import { startStreamingServer, StreamingServer } from '../../runtime/server/server';
import { StsPresignedAuthenticator } from '../../runtime/server/sts-auth';
import { BedrockFake } from '../fakes/bedrock-fake';
import { DynamoDbLocal } from '../fakes/dynamodb-local';
import { DynamoFault, DynamoFaultProxy } from '../fakes/dynamodb-fault-proxy';
import { LoopbackServer } from '../fakes/loopback-server';

/**
 * Faults of the stores the front doors depend on: the quota counter table (slow, erroring, silent:
 * the outage policy decides within storeTimeoutMs), the streaming door's API-key table and STS
 * (503 auth_unavailable with retry-after, never a hang, never the key in a log).
 */
const QUOTA_TABLE = 'cnllm-quotas';
const KEY_TABLE = 'cnllm-api-keys';
const STORE_TIMEOUT_MS = 300;
const credentials = { accessKeyId: 'AKIALOCAL', secretAccessKey: 'local' };

let dynamo: DynamoDbLocal;
let quotaStore: DynamoFaultProxy;
let keyStore: DynamoFaultProxy;
let bedrock: BedrockFake;
const unhandled: unknown[] = [];
const onUnhandled = (reason: unknown) => unhandled.push(reason);

beforeAll(async () => {
  process.on('unhandledRejection', onUnhandled);
  dynamo = await new DynamoDbLocal().start();
  await dynamo.createQuotaTable(QUOTA_TABLE);
  await dynamo.createApiKeyTable(KEY_TABLE);
  quotaStore = await new DynamoFaultProxy(dynamo.url).start();
  keyStore = await new DynamoFaultProxy(dynamo.url).start();
  bedrock = await new BedrockFake().start();
});
afterAll(async () => {
  await Promise.all([quotaStore.stop(), keyStore.stop(), bedrock.stop()]);
  await dynamo.stop();
  process.off('unhandledRejection', onUnhandled);
});
beforeEach(() => {
  quotaStore.reset();
  keyStore.reset();
});
afterEach(() => expect(unhandled).toEqual([]));

const gatewayConfig = () => GatewayRuntimeConfigSchema.parse({ bedrockEndpoint: bedrock.url, models: [{ alias: 'nova-lite', modelId: 'us.amazon.nova-lite-v1:0' }] });
const bedrockCredentials = { get: async () => ({ accessKeyId: 'AKIAGLOBAL', secretAccessKey: 's' }), invalidate: () => undefined };

const OUTAGES: [string, DynamoFault][] = [
  ['answers 500 InternalServerError', { kind: 'error', status: 500, type: 'InternalServerError' }],
  ['throttles (ProvisionedThroughputExceededException)', { kind: 'error', status: 400, type: 'ProvisionedThroughputExceededException' }],
  ['throttles (ThrottlingException)', { kind: 'error', status: 400, type: 'ThrottlingException' }],
  ['drops the connection', { kind: 'reset' }],
  ['never answers', { kind: 'hang' }],
  ['answers later than the timeout', { kind: 'slow', ms: 4 * STORE_TIMEOUT_MS }],
];

describe('quota store outages: the policy decides, after one bounded wait', () => {
  let caller = 0;
  function quotaGateway(policy: 'open' | 'closed', limitsCacheSeconds = 0) {
    const logs: Record<string, unknown>[] = [];
    const config = QuotaRuntimeConfigSchema.parse({ enforce: true, default: { requestsPerMinute: 1000 }, onStoreFailure: policy, storeTimeoutMs: STORE_TIMEOUT_MS, limitsCacheSeconds });
    const store = new DynamoCounterStore(new DynamoJsonClient({ region: 'cn-northwest-1', endpoint: quotaStore.url, credentials, timeoutMs: STORE_TIMEOUT_MS }), QUOTA_TABLE);
    const quota = new Quota(config, { store, log: (l) => logs.push(l) });
    const gateway = createGateway({ config: gatewayConfig(), bedrock: new BedrockInvoker(gatewayConfig(), bedrockCredentials), log: (l) => logs.push(l), quota });
    return { gateway, logs };
  }
  async function chat(gateway: Gateway) {
    const sink = new BufferedSink();
    const started = Date.now();
    await gateway.handle({ method: 'POST', path: '/v1/chat/completions', headers: {}, body: JSON.stringify({ model: 'nova-lite', messages: [{ role: 'user', content: 'hello' }] }), caller: `store-outage-${++caller}`, requestId: 'r' }, sink);
    return { status: sink.status, headers: sink.headers, body: JSON.parse(sink.body.toString('utf8')), ms: Date.now() - started };
  }

  test.each(OUTAGES)('a store that %s: fail open serves, fail closed answers 503 quota_unavailable with retry-after; one store call either way', async (_what, fault) => {
    for (const policy of ['open', 'closed'] as const) {
      quotaStore.reset().always = fault;
      const { gateway, logs } = quotaGateway(policy);
      const res = await chat(gateway);
      // One wait for the store (the limits read), not one per step: a store that failed is not asked again within the request.
      expect(quotaStore.operations).toEqual(['Query']);
      expect(res.ms).toBeLessThan(STORE_TIMEOUT_MS + 1500);
      expect(logs.filter((l) => l.msg === 'quota store failed')).toEqual([expect.objectContaining({ policy, step: 'limits', QuotaStoreFailures: 1 })]);
      const line = logs.find((l) => l.msg === 'request')!;
      if (policy === 'open') {
        expect(res.status).toBe(200);
        expect(res.body.choices[0].message.content).toBe('You said: hello');
      } else {
        expect(res.status).toBe(503);
        expect(res.body).toEqual({ error: { message: expect.stringMatching(/could not be read/), type: 'api_error', param: null, code: 'quota_unavailable' } });
        expect(res.headers['retry-after']).toBe('1');
        // The gateway's own dependency failed, not an upstream: the upstream alarms stay quiet.
        expect(line).toEqual(expect.objectContaining({ UpstreamErrors: 0, Throttled: 0 }));
      }
    }
  });

  test('limits read from the cache, then the counter update fails: the policy decides after that one wait', async () => {
    for (const policy of ['open', 'closed'] as const) {
      quotaStore.reset();
      const { gateway, logs } = quotaGateway(policy, 300);
      expect((await chat(gateway)).status).toBe(200);
      quotaStore.reset().always = { kind: 'hang' };
      const res = await chat(gateway);
      expect(quotaStore.operations).toEqual(['UpdateItem']);
      expect(res.status).toBe(policy === 'open' ? 200 : 503);
      expect(res.ms).toBeLessThan(STORE_TIMEOUT_MS + 1500);
      expect(logs.filter((l) => l.msg === 'quota store failed')).toEqual([expect.objectContaining({ policy, step: 'check' })]);
      if (policy === 'closed') expect(res.headers['retry-after']).toBe('1');
    }
  });

  test('a store that fails after admitting (settlement): the answer stands, the failure is logged, nothing waits past the timeout', async () => {
    const { gateway, logs } = quotaGateway('closed');
    quotaStore.push({ kind: 'pass' }, { kind: 'pass' }).always = { kind: 'hang' };
    const res = await chat(gateway);
    expect(res.status).toBe(200);
    expect(quotaStore.operations).toEqual(['Query', 'UpdateItem', 'UpdateItem']);
    expect(res.ms).toBeLessThan(STORE_TIMEOUT_MS + 1500);
    expect(logs.filter((l) => l.msg === 'quota store failed')).toEqual([expect.objectContaining({ step: 'settle' })]);
  });

  test('a slow store that answers within the timeout: limits enforced as usual, no failure logged', async () => {
    quotaStore.always = { kind: 'slow', ms: STORE_TIMEOUT_MS / 3 };
    const { gateway, logs } = quotaGateway('closed');
    const res = await chat(gateway);
    expect(res.status).toBe(200);
    expect(res.headers['x-ratelimit-limit-requests']).toBe('1000');
    // Counted: the default group's counter is shared by every caller of this file.
    expect(Number(res.headers['x-ratelimit-remaining-requests'])).toBeLessThan(1000);
    expect(logs.filter((l) => l.msg === 'quota store failed')).toEqual([]);
  });
});

/** STS that fails: an InternalFailure, a throttle, or no answer. */
class FailingSts extends LoopbackServer {
  mode: 'fail' | 'throttle' | 'hang' = 'fail';
  protected async serve(_req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    if (this.mode === 'hang') return;
    const throttled = this.mode === 'throttle';
    res.writeHead(throttled ? 400 : 500, { 'content-type': 'text/xml' });
    res.end(`<ErrorResponse><Error><Code>${throttled ? 'Throttling' : 'InternalFailure'}</Code><Message>x</Message></Error></ErrorResponse>`);
  }
}

describe('the streaming door\'s credential checks: the key table or STS slow or failing', () => {
  let door: StreamingServer;
  let sts: FailingSts;
  let key: string;
  const logs: Record<string, unknown>[] = [];

  beforeAll(async () => {
    const issued = newApiKey('team-faults');
    key = issued.key;
    // Straight into the table, not through the proxy: the faults are for the door's lookups.
    await new ApiKeyTable(dynamo.client(), KEY_TABLE).put(issued.record);
    sts = await new FailingSts().start();
    const table = new ApiKeyTable(keyLookupClient({ region: 'cn-northwest-1', endpoint: keyStore.url, credentials }, STORE_TIMEOUT_MS), KEY_TABLE);
    door = await startStreamingServer({
      gateway: createGateway({ config: gatewayConfig(), bedrock: new BedrockInvoker(gatewayConfig(), bedrockCredentials), log: () => undefined }),
      authenticators: [new ApiKeyAuthenticator(table, 0), new StsPresignedAuthenticator({ allowedEndpoints: [sts.url], audience: 'cnllm', allowedAccounts: ['111122223333'], timeoutMs: STORE_TIMEOUT_MS })],
      port: 0,
      host: '127.0.0.1',
      log: (l) => logs.push(l),
    });
  });
  afterAll(async () => {
    await door.drain();
    await sts.stop();
  });

  async function models(bearer: string) {
    const started = Date.now();
    const res = await fetch(`${door.url}/v1/models`, { headers: { authorization: `Bearer ${bearer}` } });
    return { status: res.status, retryAfter: res.headers.get('retry-after'), body: (await res.json()) as any, ms: Date.now() - started };
  }

  test.each<[string, DynamoFault]>([...OUTAGES, ['says the table does not exist', { kind: 'error', status: 400, type: 'ResourceNotFoundException' }]])(
    'a key table that %s: 503 auth_unavailable with retry-after, bounded, and no log names the key',
    async (_what, fault) => {
      keyStore.always = fault;
      const res = await models(key);
      expect(res.status).toBe(503);
      expect(res.body).toEqual({ error: { message: expect.stringMatching(/could not be checked/), type: 'api_error', param: null, code: 'auth_unavailable' } });
      expect(res.retryAfter).toBe('1');
      // Two attempts of the timeout each, plus the SDK's backoff and a busy machine's slack.
      expect(res.ms).toBeLessThan(2 * STORE_TIMEOUT_MS + 2500);
      expect(JSON.stringify(logs)).not.toContain(key);
    },
  );

  test('a key table that throttles once: the second attempt of the lookup gets through', async () => {
    keyStore.push({ kind: 'error', status: 400, type: 'ThrottlingException' });
    const res = await models(key);
    expect(res.status).toBe(200);
    expect(keyStore.operations).toEqual(['GetItem', 'GetItem']);
  });

  test('a slow key table within the timeout: served', async () => {
    keyStore.always = { kind: 'slow', ms: STORE_TIMEOUT_MS / 3 };
    expect((await models(key)).status).toBe(200);
  });

  test.each(['fail', 'throttle', 'hang'] as const)('STS that answers %s: 503 auth_unavailable with retry-after, bounded', async (mode) => {
    sts.mode = mode;
    const token = await stsBearerToken({ region: 'cn-northwest-1', endpoint: sts.url, audience: 'cnllm', credentials: { accessKeyId: 'AKIACHINADEV', secretAccessKey: 's' } });
    const res = await models(token);
    expect(res.status).toBe(503);
    expect(res.body.error).toEqual(expect.objectContaining({ code: 'auth_unavailable', type: 'api_error' }));
    expect(res.retryAfter).toBe('1');
    expect(res.ms).toBeLessThan(STORE_TIMEOUT_MS + 2500);
  });
});
