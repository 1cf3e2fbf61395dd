import { ChildProcess, spawn } from 'child_process';
import * as http from 'http';
import * as path from 'path';
import { toGatewayRequest } from '../../runtime/gateway/api-gateway';
import { gatewayFromEnv } from '../../runtime/gateway/from-env';
import { RUNTIME_CONFIG_ENV } from '../../runtime/gateway/runtime-config';
import { BufferedSink } from '../../runtime/gateway/types';
import { ApiKeyTable, newApiKey } from '../../runtime/server/api-keys';
import { SERVER_CONFIG_ENV } from '../../runtime/server/server-config';
import { BedrockFake } from '../fakes/bedrock-fake';
import { DynamoDbLocal } from '../fakes/dynamodb-local';
import { REPO_ROOT } from '../helpers/cli';

const CALLERS = 200;
const DOORS = 2;
const PER_DOOR = 60;
const HANDLERS = 4;
const REQUESTS_PER_MINUTE = 50;
const BODY = JSON.stringify({ model: 'nova-lite', max_tokens: 40, messages: [{ role: 'user', content: 'count me' }] });

/**
 * Bedrock that holds every call until released: no admitted request settles (gives back its
 * estimate) before every caller was checked, so the reservations alone decide who gets in.
 */
class HeldBedrock extends BedrockFake {
  held = 0;
  private release!: () => void;
  private released = new Promise<void>((resolve) => (this.release = resolve));

  letGo(): void {
    this.release();
  }

  rearm(): void {
    this.held = 0;
    this.released = new Promise<void>((resolve) => (this.release = resolve));
  }

  protected async serve(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    this.held++;
    await this.released;
    await super.serve(req, res);
  }
}

/**
 * Two streaming-door processes (runtime/server/main.ts as the container runs it) and four Lambda
 * handler instances (gatewayFromEnv, as runtime/gateway/lambda.ts builds it) share one counter
 * table; 200 callers arrive at once against a group limit of 50 requests per minute.
 */
describe('quotas under concurrency: two door processes and four handler instances share the counters', () => {
  let bedrock: HeldBedrock;
  let dynamo: DynamoDbLocal;
  const doors: { child: ChildProcess; url: string }[] = [];
  let key: string;

  const gatewayConfig = (quotas: Record<string, unknown>) =>
    JSON.stringify({ bedrockEndpoint: bedrock.url, models: [{ alias: 'nova-lite', modelId: 'us.amazon.nova-lite-v1:0' }], quotas: { enforce: true, tableName: 'cnllm-quotas', region: 'cn-northwest-1', endpoint: dynamo.url, storeTimeoutMs: 30_000, onStoreFailure: 'closed', ...quotas } });
  const awsEnv = () => ({ AWS_ACCESS_KEY_ID: 'AKIALOCAL', AWS_SECRET_ACCESS_KEY: 'local', AWS_REGION: 'cn-northwest-1' });

  async function startDoor(quotas: Record<string, unknown>): Promise<{ child: ChildProcess; url: string }> {
    const child = spawn(process.execPath, [path.join(REPO_ROOT, 'scripts', 'run-ts.cjs'), 'runtime/server/main.ts'], {
      cwd: REPO_ROOT,
      env: {
        PATH: process.env.PATH,
        ...awsEnv(),
        // The key table's client takes its endpoint from the SDK's service-specific variable.
        AWS_ENDPOINT_URL_DYNAMODB: dynamo.url,
        [RUNTIME_CONFIG_ENV]: gatewayConfig(quotas),
        [SERVER_CONFIG_ENV]: JSON.stringify({ port: 0, region: 'cn-northwest-1', apiKeyTable: 'cnllm-api-keys', apiKeyCacheSeconds: 600, drainSeconds: 1 }),
      },
    });
    let out = '';
    const url = await new Promise<string>((resolve, reject) => {
      child.stdout!.on('data', (d) => {
        out += d;
        const m = /"msg":"listening","url":"([^"]+)"/.exec(out);
        if (m) resolve(m[1]);
      });
      child.stderr!.on('data', (d) => (out += d));
      child.on('exit', (code) => reject(new Error(`door exited ${code}: ${out}`)));
    });
    // Keep reading its request log, or the pipe fills and the door blocks.
    child.stdout!.removeAllListeners('data').on('data', () => undefined);
    const door = { child, url };
    doors.push(door);
    return door;
  }

  beforeAll(async () => {
    // The handler instances resolve credentials from this process's environment, as a Lambda does from its own.
    Object.assign(process.env, awsEnv());
    bedrock = await new HeldBedrock().start();
    dynamo = await (await (await new DynamoDbLocal().start()).createApiKeyTable('cnllm-api-keys')).createQuotaTable('cnllm-quotas');
    const issued = newApiKey('load');
    key = issued.key;
    await new ApiKeyTable(dynamo.client(), 'cnllm-api-keys').put(issued.record);
  });
  afterEach(async () => {
    await Promise.all(doors.splice(0).map((d) => new Promise((r) => (d.child.exitCode !== null ? r(null) : (d.child.once('exit', r), d.child.kill('SIGTERM'))))));
  });
  afterAll(async () => {
    await Promise.all([bedrock.stop(), dynamo.stop()]);
  });

  /** Fires every caller at once; the statuses, in arrival order. */
  async function burst(quotas: Record<string, unknown>): Promise<number[]> {
    const started = await Promise.all(Array.from({ length: DOORS }, () => startDoor(quotas)));
    const handlers = Array.from({ length: HANDLERS }, () => gatewayFromEnv({ ...awsEnv(), [RUNTIME_CONFIG_ENV]: gatewayConfig(quotas) }, { log: () => undefined }));
    // dynalite serialises writes to one item in one process (DynamoDB does not): 200 at once take seconds,
    // hence the long store timeout above. The doors' key lookups are warmed by an unmetered call first.
    for (const door of started) expect((await fetch(`${door.url}/v1/models`, { headers: { authorization: `Bearer ${key}` } })).status).toBe(200);
    bedrock.rearm();
    // A minute window must not turn during the burst (real clocks in the door processes).
    const intoMinute = Date.now() % 60_000;
    if (intoMinute > 40_000) await new Promise((r) => setTimeout(r, 60_500 - intoMinute));
    const viaDoor = (door: { url: string }) =>
      fetch(`${door.url}/v1/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${key}` }, body: BODY }).then(async (r) => (await r.text(), r.status));
    const viaHandler = async (i: number) => {
      const sink = new BufferedSink();
      await handlers[i % HANDLERS].handle(toGatewayRequest({ httpMethod: 'POST', path: '/v1/chat/completions', headers: { 'content-type': 'application/json' }, body: BODY, requestContext: { requestId: `r${i}`, identity: { userArn: `arn:aws-cn:iam::111122223333:user/caller-${i}` } } }), sink);
      return sink.status;
    };
    const calls = [...started.flatMap((door) => Array.from({ length: PER_DOOR }, () => viaDoor(door))), ...Array.from({ length: CALLERS - DOORS * PER_DOOR }, (_, i) => viaHandler(i))];
    expect(calls).toHaveLength(CALLERS);
    let finished = 0;
    for (const c of calls) void c.then(() => finished++);
    while (finished + bedrock.held < CALLERS) await new Promise((r) => setTimeout(r, 20));
    bedrock.letGo();
    const statuses = await Promise.all(calls);
    bedrock.rearm();
    return statuses;
  }

  test(`requests per minute: exactly ${REQUESTS_PER_MINUTE} of ${CALLERS} concurrent callers get through (stated bound: no overshoot), the rest 429`, async () => {
    const statuses = await burst({ default: { requestsPerMinute: REQUESTS_PER_MINUTE } });
    const admitted = statuses.filter((s) => s === 200).length;
    expect(statuses.filter((s) => s !== 200 && s !== 429)).toEqual([]);
    // Each check is one conditional atomic ADD on the shared item: no two callers take the last unit.
    expect(admitted).toBe(REQUESTS_PER_MINUTE);
    const counter = (await dynamo.items('cnllm-quotas')).filter((i) => i.pk.S!.startsWith('c#g#default#m'));
    expect(counter.map((c) => Number(c.rq.N))).toEqual([REQUESTS_PER_MINUTE]);
  }, 180_000);

  test('tokens per minute: reservations never pass the limit; after settlement the counter holds the real usage, at or under the limit', async () => {
    // Each request reserves ceil(bytes / 3) + 40 tokens; the limit fits 30 such reservations.
    const estimate = Math.ceil(Buffer.byteLength(BODY) / 3) + 40;
    const limit = 30 * estimate;
    // Everyone in group tok (its own counters, apart from the first test's).
    const statuses = await burst({ groups: { tok: { tokensPerMinute: limit } }, principals: [{ pattern: '*', group: 'tok' }] });
    const admitted = statuses.filter((s) => s === 200).length;
    expect(statuses.filter((s) => s !== 200 && s !== 429)).toEqual([]);
    // Exactly 30 reservations fit, whichever process made them: the stated bound is no overshoot.
    expect(admitted).toBe(30);
    // Settled: 2 input + 4 output tokens each ("You said: count me"), the estimates given back.
    const settled = async () => (await dynamo.items('cnllm-quotas')).filter((x) => x.pk.S!.startsWith('c#g#tok#m')).map((x) => Number(x.tk.N));
    for (let i = 0; i < 100 && (await settled())[0] !== admitted * 6; i++) await new Promise((r) => setTimeout(r, 50));
    expect(await settled()).toEqual([admitted * 6]);
  }, 180_000);
});
