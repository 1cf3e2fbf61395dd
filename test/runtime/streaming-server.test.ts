import { ChildProcessWithoutNullStreams, spawn } from 'child_process';
import * as net from 'net';
import * as path from 'path';
import OpenAI from 'openai';
import { stsBearerToken } from '../../runtime/client/sts-token';
import { BedrockInvoker } from '../../runtime/gateway/bedrock';
import { createGateway } from '../../runtime/gateway/gateway';
import { GatewayRuntimeConfigSchema } from '../../runtime/gateway/runtime-config';
import { ApiKeyAuthenticator, ApiKeyTable, newApiKey } from '../../runtime/server/api-keys';
import { StreamingServer, startStreamingServer } from '../../runtime/server/server';
import { StsPresignedAuthenticator } from '../../runtime/server/sts-auth';
import { AwsPartitionFake } from '../fakes/aws-partition-fake';
import { BedrockFake } from '../fakes/bedrock-fake';
import { DynamoDbLocal } from '../fakes/dynamodb-local';

const CHINA_ACCOUNT = '111122223333';
const models = [{ alias: 'nova-lite', modelId: 'us.amazon.nova-lite-v1:0' }];
const credentials = { get: async () => ({ accessKeyId: 'AKIAGLOBAL', secretAccessKey: 's' }), invalidate: () => undefined };

let bedrock: BedrockFake;
let dynamo: DynamoDbLocal;
let sts: AwsPartitionFake;
let table: ApiKeyTable;
let server: StreamingServer;
const logs: Record<string, unknown>[] = [];

beforeAll(async () => {
  bedrock = await new BedrockFake().start();
  dynamo = await (await new DynamoDbLocal().start()).createApiKeyTable('cnllm-api-keys');
  sts = await new AwsPartitionFake('aws-cn', CHINA_ACCOUNT).addKey('AKIACHINADEV', 'dev').start();
  table = new ApiKeyTable(dynamo.client(), 'cnllm-api-keys');
  const config = GatewayRuntimeConfigSchema.parse({ bedrockEndpoint: bedrock.url, models });
  server = await startStreamingServer({
    gateway: createGateway({ config, bedrock: new BedrockInvoker(config, credentials), log: (l) => logs.push(l) }),
    authenticators: [
      new ApiKeyAuthenticator(table, 0),
      new StsPresignedAuthenticator({ allowedEndpoints: [sts.url], audience: 'cnllm', allowedAccounts: [CHINA_ACCOUNT] }),
    ],
    port: 0,
    host: '127.0.0.1',
    log: () => undefined,
  });
});
afterAll(async () => {
  await server.drain();
  await Promise.all([bedrock.stop(), dynamo.stop(), sts.stop()]);
});

async function issue(caller: string): Promise<string> {
  const { key, record } = newApiKey(caller);
  await table.put(record);
  return key;
}
const client = (apiKey: string) => new OpenAI({ baseURL: `${server.url}/v1`, apiKey, maxRetries: 0 });

describe('in-VPC streaming door: per-caller API keys', () => {
  test('a key issued to a caller works, and its name is what the gateway logs and meters', async () => {
    const key = await issue('team-search');
    const res = await client(key).chat.completions.create({ model: 'nova-lite', messages: [{ role: 'user', content: 'hello' }] });
    expect(res.choices[0].message.content).toBe('You said: hello');
    expect(logs.at(-1)).toEqual(expect.objectContaining({ caller: 'team-search', status: 200 }));
    // The table keeps a hash, never the key.
    const stored = await dynamo.items('cnllm-api-keys');
    expect(stored.length).toBeGreaterThan(0);
    expect(JSON.stringify(stored)).not.toContain(key);
  });

  test('a wrong, malformed or missing key is a 401 OpenAI error, and a revoked key stops working without a redeploy', async () => {
    const key = await issue('team-chat');
    const forged = key.slice(0, -4) + (key.endsWith('AAAA') ? 'BBBB' : 'AAAA');
    for (const bad of [forged, 'sk-not-ours']) {
      await expect(client(bad).models.list()).rejects.toBeInstanceOf(OpenAI.AuthenticationError);
    }
    const anonymous = await fetch(`${server.url}/v1/models`);
    expect(anonymous.status).toBe(401);
    expect(((await anonymous.json()) as { error: { code: string } }).error.code).toBe('invalid_api_key');
    expect((await client(key).models.list()).data).toHaveLength(1);
    await table.revoke(key.split('_')[1]);
    const revoked = await client(key).models.list().catch((e: InstanceType<typeof OpenAI.APIError>) => e);
    expect(revoked).toMatchObject({ status: 401, error: { code: 'invalid_api_key' } });
    // The door's own refusals carry a request id as the gateway's answers do (the SDK's error.requestID).
    expect((revoked as InstanceType<typeof OpenAI.APIError>).requestID).toMatch(/^[0-9a-f-]{36}$/);
    expect(anonymous.headers.get('x-request-id')).toMatch(/^[0-9a-f-]{36}$/);
  });
});

describe('in-VPC streaming door: STS tokens from China IAM credentials', () => {
  const token = (extra: Partial<Parameters<typeof stsBearerToken>[0]> = {}) =>
    stsBearerToken({ region: 'cn-northwest-1', endpoint: sts.url, audience: 'cnllm', credentials: { accessKeyId: 'AKIACHINADEV', secretAccessKey: 's' }, ...extra });

  test('a presigned GetCallerIdentity token authenticates as the IAM principal, with no shared secret', async () => {
    const res = await client(await token()).chat.completions.create({ model: 'nova-lite', messages: [{ role: 'user', content: 'iam' }] });
    expect(res.choices[0].message.content).toBe('You said: iam');
    expect(logs.at(-1)).toEqual(expect.objectContaining({ caller: `arn:aws-cn:iam::${CHINA_ACCOUNT}:user/dev` }));
  });

  test('tokens for another STS endpoint (no SSRF), unknown principals, or an over-long lifetime are refused', async () => {
    await expect(client(await token({ endpoint: 'http://169.254.169.254' })).models.list()).rejects.toBeInstanceOf(OpenAI.AuthenticationError);
    await expect(client(await token({ credentials: { accessKeyId: 'AKIAUNKNOWN', secretAccessKey: 's' } })).models.list()).rejects.toBeInstanceOf(OpenAI.AuthenticationError);
    await expect(client(await token({ expiresSeconds: 3600 })).models.list()).rejects.toBeInstanceOf(OpenAI.AuthenticationError);
  });
});

describe('in-VPC streaming door: real streaming', () => {
  test('chunks arrive one by one, as Bedrock produces them (arrival times, not only the text)', async () => {
    const key = await issue('timing');
    bedrock.push({ kind: 'reply', text: 'one two three four five six', interTokenDelayMs: 80 });
    const stream = await client(key).chat.completions.create({ model: 'nova-lite', messages: [{ role: 'user', content: 'x' }], stream: true });
    const arrivals: number[] = [];
    let text = '';
    for await (const chunk of stream) {
      const content = chunk.choices[0]?.delta?.content;
      if (content) {
        arrivals.push(Date.now());
        text += content;
      }
    }
    expect(text).toBe('one two three four five six');
    expect(arrivals).toHaveLength(6);
    const gaps = arrivals.slice(1).map((t, i) => t - arrivals[i]);
    // Buffering would deliver everything at once; each token must come about one delay after the previous.
    for (const gap of gaps) expect(gap).toBeGreaterThanOrEqual(40);
    expect(arrivals[5] - arrivals[0]).toBeGreaterThanOrEqual(300);
  });

  test('a caller that hangs up cancels the upstream Bedrock stream', async () => {
    const key = await issue('impatient');
    bedrock.push({ kind: 'reply', text: Array.from({ length: 40 }, (_, i) => `t${i}`).join(' '), interTokenDelayMs: 50 });
    const abort = new AbortController();
    const stream = await client(key).chat.completions.create({ model: 'nova-lite', messages: [{ role: 'user', content: 'long' }], stream: true }, { signal: abort.signal });
    let received = 0;
    await (async () => {
      for await (const chunk of stream) {
        if (chunk.choices[0]?.delta?.content && ++received === 3) abort.abort();
      }
    })().catch(() => undefined);
    await new Promise((r) => setTimeout(r, 400));
    expect(bedrock.abandonedStreams).toHaveLength(1);
    expect(bedrock.abandonedStreams[0].tokensSent).toBeLessThan(15);
  });
});

describe('the container entry point', () => {
  let child: ChildProcessWithoutNullStreams;
  let url: string;
  let exited: Promise<number | null>;
  let key: string;

  beforeAll(async () => {
    key = await issue('entry-point');
    child = spawn(process.execPath, [require.resolve('ts-node/dist/bin.js'), '--transpile-only', 'runtime/server/main.ts'], {
      cwd: path.join(__dirname, '..', '..'),
      env: {
        PATH: process.env.PATH,
        CNLLM_GATEWAY_CONFIG: JSON.stringify({ bedrockEndpoint: bedrock.url, models }),
        CNLLM_SERVER_CONFIG: JSON.stringify({ port: 0, region: 'cn-northwest-1', apiKeyTable: 'cnllm-api-keys', apiKeyCacheSeconds: 0, drainSeconds: 20, keepAliveTimeoutSeconds: 905 }),
        AWS_ENDPOINT_URL_DYNAMODB: dynamo.url,
        AWS_ACCESS_KEY_ID: 'AKIAGLOBAL',
        AWS_SECRET_ACCESS_KEY: 's',
        AWS_REGION: 'cn-northwest-1',
      },
    });
    exited = new Promise((resolve) => child.on('exit', resolve));
    url = await new Promise<string>((resolve, reject) => {
      let out = '';
      child.stdout.on('data', (d) => {
        out += d;
        const m = /"url":"(http:\/\/[^"]+)"/.exec(out);
        if (m) resolve(m[1]);
      });
      child.on('exit', (code) => reject(new Error(`exited ${code}`)));
    });
  }, 60_000);
  afterAll(() => {
    if (child.exitCode === null) child.kill('SIGKILL');
  });

  test('callers that hang up mid-body or send garbage do not take the process down', async () => {
    const { port } = new URL(url);
    const hangUp = (raw: string) =>
      new Promise<void>((resolve) => {
        const socket = net.connect(Number(port), '127.0.0.1', () => {
          socket.write(raw);
          setTimeout(() => socket.destroy(), 100);
        });
        socket.on('error', () => undefined);
        socket.on('close', () => resolve());
      });
    await hangUp(`POST /v1/chat/completions HTTP/1.1\r\nhost: door\r\nauthorization: Bearer ${key}\r\ncontent-length: 1000\r\n\r\n{"model":"nova-lite"`);
    await hangUp('POST /v1/chat/completions HTTP/1.1\r\nhost: door\r\ncontent-length: nope\r\n\r\n');
    await hangUp('\x00\x01\x02 garbage\r\n\r\n');
    const garbled = await fetch(`${url}/v1/models`, { headers: { authorization: `Bearer ${key}`, 'x-amz-date': 'garbage', 'content-type': '\u00ff' } });
    expect(garbled.status).toBe(200);
    await new Promise((r) => setTimeout(r, 200));
    expect(child.exitCode).toBeNull();
    expect((await fetch(`${url}/healthz`)).status).toBe(200);
  });

  test('idle connections are kept as long as configured (past the load balancer idle timeout, so the load balancer closes first)', async () => {
    const res = await fetch(`${url}/healthz`);
    expect(res.headers.get('keep-alive')).toBe('timeout=905');
  });

  test('SIGTERM: health checks answer 503 and new requests a 503 OpenAI error while the in-flight stream finishes, then exit 0', async () => {
    bedrock.push({ kind: 'reply', text: 'a b c d e f g h', interTokenDelayMs: 150 });
    const stream = await new OpenAI({ baseURL: `${url}/v1`, apiKey: key, maxRetries: 0 }).chat.completions.create({ model: 'nova-lite', messages: [{ role: 'user', content: 'x' }], stream: true });
    let text = '';
    let signalled = false;
    for await (const chunk of stream) {
      text += chunk.choices[0]?.delta?.content ?? '';
      if (!signalled && text.length > 0) {
        signalled = true;
        child.kill('SIGTERM');
        await new Promise((r) => setTimeout(r, 100));
        // The listener stays open: the load balancer sees the 503 rather than a refused connection.
        const health = await fetch(`${url}/healthz`);
        expect(health.status).toBe(503);
        expect(await health.json()).toEqual({ status: 'draining' });
        const refused = await fetch(`${url}/v1/models`, { headers: { authorization: `Bearer ${key}` } });
        expect(refused.status).toBe(503);
        expect(refused.headers.get('connection')).toBe('close');
        expect(await refused.json()).toEqual({ error: { message: expect.stringMatching(/shutting down/), type: 'api_error', param: null, code: 'draining' } });
      }
    }
    expect(text).toBe('a b c d e f g h');
    const streamEnded = Date.now();
    expect(await exited).toBe(0);
    // Nothing else was in flight (the callers that hung up earlier included): no wait for drainSeconds (20).
    expect(Date.now() - streamEnded).toBeLessThan(10_000);
    await expect(fetch(`${url}/healthz`)).rejects.toThrow();
  });
});
