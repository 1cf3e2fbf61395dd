import * as http from 'http';
import * as net from 'net';
import { AddressInfo } from 'net';
import { BedrockInvoker } from '../../runtime/gateway/bedrock';
import { createGateway, Gateway } from '../../runtime/gateway/gateway';
import { GatewayRuntimeConfigSchema } from '../../runtime/gateway/runtime-config';
import { ApiKeyAuthenticator, ApiKeyTable, keyLookupClient, newApiKey } from '../../runtime/server/api-keys';
import { StreamingServer, startStreamingServer } from '../../runtime/server/server';
import { BedrockFake } from '../fakes/bedrock-fake';

const { key, record } = newApiKey('robustness');
let bedrock: BedrockFake;
let gateway: Gateway;
let door: StreamingServer;
const logs: Record<string, unknown>[] = [];

beforeAll(async () => {
  bedrock = await new BedrockFake().start();
  const config = GatewayRuntimeConfigSchema.parse({ bedrockEndpoint: bedrock.url, models: [{ alias: 'nova-lite', modelId: 'us.amazon.nova-lite-v1:0' }] });
  gateway = createGateway({ config, bedrock: new BedrockInvoker(config, { get: async () => ({ accessKeyId: 'AKIAGLOBAL', secretAccessKey: 's' }), invalidate: () => undefined }), log: () => undefined });
  door = await startStreamingServer({
    gateway,
    authenticators: [new ApiKeyAuthenticator({ get: async () => record }, 3600)],
    port: 0,
    host: '127.0.0.1',
    maxRequestBytes: 64 * 1024,
    requestTimeoutSeconds: 1,
    log: (l) => logs.push(l),
  });
});
afterAll(async () => {
  await door.drain();
  await bedrock.stop();
});

/** Sends raw bytes on a fresh socket and collects everything the server answers until it closes the connection. */
function exchange(raw: string, opts: { hangUpAfterMs?: number } = {}): Promise<{ text: string; closedAfterMs: number }> {
  const { port } = new URL(door.url);
  return new Promise((resolve, reject) => {
    const started = Date.now();
    let text = '';
    const socket = net.connect(Number(port), '127.0.0.1', () => socket.write(raw));
    socket.on('data', (d) => (text += d));
    socket.on('error', reject);
    socket.on('close', () => resolve({ text, closedAfterMs: Date.now() - started }));
    if (opts.hangUpAfterMs !== undefined) setTimeout(() => socket.destroy(), opts.hangUpAfterMs);
  });
}

/** The door counts a request done once its handler has unwound, a moment after the socket closed. */
async function settled(): Promise<number> {
  for (let i = 0; i < 50 && door.inFlight() > 0; i++) await new Promise((r) => setTimeout(r, 20));
  return door.inFlight();
}

const head = (length: number) => `POST /v1/chat/completions HTTP/1.1\r\nhost: door\r\nauthorization: Bearer ${key}\r\ncontent-type: application/json\r\ncontent-length: ${length}\r\n\r\n`;
const errorBody = (text: string) => JSON.parse(text.slice(text.indexOf('\r\n\r\n') + 4)) as { error: { message: string; type: string; param: unknown; code: string } };

describe('streaming door: request receiving is bounded, response streaming is not', () => {
  test('a caller that sends part of its body and stalls gets a 408 OpenAI error within the limit, and the socket is closed', async () => {
    const { text, closedAfterMs } = await exchange(`${head(200)}{"model":"nova-lite",`);
    expect(text).toMatch(/^HTTP\/1\.1 408 /);
    expect(text.toLowerCase()).toContain('connection: close');
    expect(errorBody(text).error).toEqual({ message: expect.stringMatching(/not received in time/), type: 'invalid_request_error', param: null, code: 'request_timeout' });
    // Limit 1 s, checked every 250 ms; the margin is for a busy machine (without the limit it never closes).
    expect(closedAfterMs).toBeLessThan(4000);
    expect(await settled()).toBe(0);
  }, 10_000);

  test('a stream that runs three times longer than the request limit is delivered whole', async () => {
    bedrock.push({ kind: 'reply', text: 'a b c d e f', interTokenDelayMs: 500 });
    const res = await fetch(`${door.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${key}` },
      body: JSON.stringify({ model: 'nova-lite', stream: true, messages: [{ role: 'user', content: 'slow' }] }),
    });
    const text = await res.text();
    expect([...text.matchAll(/"content":"([^"]*)"/g)].map((m) => m[1]).join('')).toBe('a b c d e f');
    expect(text.trimEnd().endsWith('data: [DONE]')).toBe(true);
  }, 15_000);
});

describe('streaming door: a key store that fails', () => {
  test('is a 503 auth_unavailable OpenAI error (retry), not a 500, and the log names no key', async () => {
    const failing = await startStreamingServer({
      gateway,
      authenticators: [new ApiKeyAuthenticator({ get: async () => Promise.reject(Object.assign(new Error(`connect ETIMEDOUT while reading ${key}`), { name: 'TimeoutError' })) }, 0)],
      port: 0,
      host: '127.0.0.1',
      log: (l) => logs.push(l),
    });
    try {
      const res = await fetch(`${failing.url}/v1/models`, { headers: { authorization: `Bearer ${key}` } });
      expect(res.status).toBe(503);
      expect(await res.json()).toEqual({ error: { message: expect.stringMatching(/could not be checked/), type: 'api_error', param: null, code: 'auth_unavailable' } });
      expect(logs.at(-1)).toEqual(expect.objectContaining({ msg: 'authentication unavailable', error: 'TimeoutError' }));
      expect(JSON.stringify(logs)).not.toContain(key);
    } finally {
      await failing.drain();
    }
  });
});

describe('streaming door: a key store that does not answer', () => {
  test('a key lookup is bounded: 503 auth_unavailable after two attempts, not a hang', async () => {
    const silent = http.createServer(() => undefined);
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    const table = new ApiKeyTable(keyLookupClient({ region: 'cn-northwest-1', endpoint: `http://127.0.0.1:${(silent.address() as AddressInfo).port}`, credentials: { accessKeyId: 'a', secretAccessKey: 'b' } }, 300), 'cnllm-api-keys');
    const stalled = await startStreamingServer({ gateway, authenticators: [new ApiKeyAuthenticator(table, 0)], port: 0, host: '127.0.0.1', log: () => undefined });
    try {
      const started = Date.now();
      const res = await fetch(`${stalled.url}/v1/models`, { headers: { authorization: `Bearer ${key}` } });
      expect(res.status).toBe(503);
      expect(((await res.json()) as { error: { code: string } }).error.code).toBe('auth_unavailable');
      // Two attempts of 300 ms plus the SDK's backoff; the margin is for a busy machine (unbounded, it never ends).
      expect(Date.now() - started).toBeLessThan(5000);
    } finally {
      await stalled.drain();
      silent.closeAllConnections();
      silent.close();
    }
  }, 15_000);
});

describe('streaming door: callers that misbehave never take it down', () => {
  test('hanging up mid-body, malformed HTTP and an oversized body: each gets its answer (or nothing), and the door keeps serving', async () => {
    await exchange(`${head(500)}{"model":"nova-lite","mess`, { hangUpAfterMs: 50 });

    const garbage = await exchange('GET / HTTP/1.1\r\nhost door\r\n\r\n');
    expect(garbage.text).toMatch(/^HTTP\/1\.1 400 /);
    expect(errorBody(garbage.text).error).toMatchObject({ type: 'invalid_request_error', code: 'malformed_request' });

    const oversized = await fetch(`${door.url}/v1/chat/completions`, { method: 'POST', headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' }, body: 'x'.repeat(65 * 1024) });
    expect(oversized.status).toBe(413);
    expect(oversized.headers.get('connection')).toBe('close');
    expect(((await oversized.json()) as { error: { code: string } }).error.code).toBe('request_too_large');

    const ok = await fetch(`${door.url}/v1/models`, { headers: { authorization: `Bearer ${key}` } });
    expect(ok.status).toBe(200);
    expect(await settled()).toBe(0);
    expect(logs.filter((l) => l.level === 'error')).toEqual([]);
  });
});
