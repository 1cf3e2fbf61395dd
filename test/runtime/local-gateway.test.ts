import { execFile } from 'child_process';
import { createHash } from 'crypto';
import * as net from 'net';
import { promisify } from 'util';
import { Sha256 } from '@aws-crypto/sha256-js';
import { SignatureV4 } from '@smithy/signature-v4';
import OpenAI from 'openai';
import { sigv4Fetch } from '../../runtime/client/sigv4-fetch';
import { BedrockInvoker } from '../../runtime/gateway/bedrock';
import { createGateway } from '../../runtime/gateway/gateway';
import { GatewayRuntimeConfigSchema } from '../../runtime/gateway/runtime-config';
import { LocalGateway, startLocalGateway } from '../../runtime/local/local-gateway';
import { BedrockFake } from '../fakes/bedrock-fake';
import { RunningCli, startCli } from '../helpers/cli';

const CALLER = { accessKeyId: 'AKIACHINADEV000001', secretAccessKey: 'china-dev-secret', arn: 'arn:aws-cn:iam::111122223333:user/dev' };

describe('local runner with IAM (SigV4) authorization, like the deployed API', () => {
  let fake: BedrockFake;
  let gateway: LocalGateway;
  const logs: Record<string, unknown>[] = [];

  beforeAll(async () => {
    fake = await new BedrockFake().start();
    const config = GatewayRuntimeConfigSchema.parse({ bedrockEndpoint: fake.url, models: [{ alias: 'nova-lite', modelId: 'us.amazon.nova-lite-v1:0' }] });
    gateway = await startLocalGateway({
      gateway: createGateway({ config, bedrock: new BedrockInvoker(config, { get: async () => ({ accessKeyId: 'AKIAGLOBAL', secretAccessKey: 's' }), invalidate: () => undefined }), log: (l) => logs.push(l) }),
      mode: 'stream',
      iam: { region: 'cn-northwest-1', callers: [CALLER] },
    });
  });
  afterAll(async () => {
    await gateway.close();
    await fake.stop();
  });

  const curl = (secret: string) =>
    promisify(execFile)('curl', [
      '-sS',
      '-w',
      '\n%{http_code}',
      '--aws-sigv4',
      'aws:amz:cn-northwest-1:execute-api',
      '--user',
      `${CALLER.accessKeyId}:${secret}`,
      '-H',
      'content-type: application/json',
      '-d',
      JSON.stringify({ model: 'nova-lite', messages: [{ role: 'user', content: '你好' }] }),
      `${gateway.url}/v1/chat/completions`,
    ]);

  test('curl --aws-sigv4 with China IAM credentials gets a completion, and the caller is logged', async () => {
    const { stdout } = await curl(CALLER.secretAccessKey);
    const [body, status] = stdout.trim().split('\n');
    expect(status).toBe('200');
    expect(JSON.parse(body).choices[0].message.content).toBe('You said: 你好');
    expect(logs.at(-1)).toEqual(expect.objectContaining({ caller: CALLER.arn, status: 200 }));
  });

  test('a wrong secret or no signature is refused with 403 before the gateway runs', async () => {
    const before = fake.requests.length;
    const { stdout } = await curl('not-the-secret');
    const [body, status] = stdout.trim().split('\n');
    expect(status).toBe('403');
    expect(JSON.parse(body).platform.message).toMatch(/signature we calculated does not match/);
    const unsigned = await fetch(`${gateway.url}/v1/models`);
    expect(unsigned.status).toBe(403);
    expect(fake.requests.length).toBe(before);
  });

  /** A request signed for `signedBody` with the given x-amz-content-sha256 (signed too), then sent with `sentBody`. */
  async function signedThenSent(signedBody: string, sentBody: string, contentSha256: string): Promise<Response> {
    const url = new URL(`${gateway.url}/v1/chat/completions`);
    const signer = new SignatureV4({ credentials: CALLER, region: 'cn-northwest-1', service: 'execute-api', sha256: Sha256 });
    const signed = await signer.sign({
      method: 'POST',
      protocol: 'http:',
      hostname: url.hostname,
      port: Number(url.port),
      path: url.pathname,
      headers: { host: url.host, 'content-type': 'application/json', 'x-amz-content-sha256': contentSha256 },
      body: signedBody,
    });
    return fetch(url, { method: 'POST', headers: signed.headers as Record<string, string>, body: sentBody });
  }
  const chat = (content: string) => JSON.stringify({ model: 'nova-lite', messages: [{ role: 'user', content }] });
  const sha256 = (text: string) => createHash('sha256').update(text).digest('hex');

  test('the payload hash is computed from the body received: a body changed after signing is refused, UNSIGNED-PAYLOAD included', async () => {
    const before = fake.requests.length;
    expect((await signedThenSent(chat('signed'), chat('signed'), sha256(chat('signed')))).status).toBe(200);
    const tampered = await signedThenSent(chat('signed'), chat('tampered'), sha256(chat('signed')));
    expect(tampered.status).toBe(403);
    expect(tampered.headers.get('x-amzn-errortype')).toBe('InvalidSignatureException');
    expect((await signedThenSent(chat('anything'), chat('tampered'), 'UNSIGNED-PAYLOAD')).status).toBe(403);
    expect(fake.requests.length).toBe(before + 1);
  });

  test('X-Amz-Date that is not a SigV4 date is a 403, as API Gateway answers', async () => {
    const res = await fetch(`${gateway.url}/v1/models`, {
      headers: { authorization: `AWS4-HMAC-SHA256 Credential=${CALLER.accessKeyId}/20260101/cn-northwest-1/execute-api/aws4_request, SignedHeaders=host;x-amz-date, Signature=${'0'.repeat(64)}`, 'x-amz-date': 'garbage' },
      signal: AbortSignal.timeout(5000),
    });
    expect(res.status).toBe(403);
    expect(res.headers.get('x-amzn-errortype')).toBe('IncompleteSignatureException');
    expect(((await res.json()) as { platform: { message: string } }).platform.message).toMatch(/ISO-8601/);
  });

  test('the official OpenAI SDK with a SigV4-signing fetch: chat and streaming', async () => {
    const openai = new OpenAI({ baseURL: `${gateway.url}/v1`, apiKey: 'iam', maxRetries: 0, fetch: sigv4Fetch({ region: 'cn-northwest-1', credentials: CALLER }) });
    const res = await openai.chat.completions.create({ model: 'nova-lite', messages: [{ role: 'user', content: 'signed' }] });
    expect(res.choices[0].message.content).toBe('You said: signed');
    const stream = await openai.chat.completions.create({ model: 'nova-lite', messages: [{ role: 'user', content: 'signed stream' }], stream: true });
    let text = '';
    for await (const chunk of stream) text += chunk.choices[0]?.delta?.content ?? '';
    expect(text).toBe('You said: signed stream');
    expect((await openai.models.list()).data.map((m) => m.id)).toEqual(['nova-lite']);
  });
});

describe('npm run gateway:local (the CLI)', () => {
  let cli: RunningCli | undefined;
  let fake: BedrockFake;
  beforeAll(async () => {
    fake = await new BedrockFake().start();
  });
  afterAll(async () => {
    await cli?.stop();
    await fake.stop();
  });

  test('with --iam, a caller that hangs up mid-body or sends X-Amz-Date: garbage does not take it down', async () => {
    cli = await startCli('scripts/gateway-local.ts', ['--port', '0', '--bedrock-endpoint', fake.url, '--iam', `${CALLER.accessKeyId}:${CALLER.secretAccessKey}:${CALLER.arn}`], /gateway on (http:\/\/[0-9.:]+)/);
    const url = cli.match[1];
    const exits: (number | null)[] = [];
    cli.child.on('exit', (code) => exits.push(code));
    await new Promise<void>((resolve) => {
      const socket = net.connect(Number(new URL(url).port), '127.0.0.1', () => {
        socket.write('POST /v1/chat/completions HTTP/1.1\r\nhost: local\r\ncontent-length: 1000\r\n\r\n{"model":');
        setTimeout(() => socket.destroy(), 100);
      });
      socket.on('close', () => resolve());
    });
    const garbage = await fetch(`${url}/v1/models`, { headers: { authorization: `AWS4-HMAC-SHA256 Credential=${CALLER.accessKeyId}/20260101/cn-northwest-1/execute-api/aws4_request, SignedHeaders=host;x-amz-date, Signature=${'0'.repeat(64)}`, 'x-amz-date': 'garbage' } });
    expect(garbage.status).toBe(403);
    await new Promise((r) => setTimeout(r, 300));
    expect(exits).toEqual([]);
    const openai = new OpenAI({ baseURL: `${url}/v1`, apiKey: 'iam', maxRetries: 0, fetch: sigv4Fetch({ region: 'cn-northwest-1', credentials: CALLER }) });
    expect((await openai.models.list()).data.length).toBeGreaterThan(0);
    expect(await cli.stop()).toBe(0);
    cli = undefined;
  }, 60_000);

  test('serves the configured allow-list against --bedrock-endpoint and stops on SIGTERM', async () => {
    cli = await startCli('scripts/gateway-local.ts', ['--port', '0', '--bedrock-endpoint', fake.url, '--stream'], /gateway on (http:\/\/[0-9.:]+)/);
    const openai = new OpenAI({ baseURL: `${cli.match[1]}/v1`, apiKey: 'local', maxRetries: 0 });
    expect((await openai.models.list()).data.map((m) => m.id)).toEqual(['nova-micro', 'nova-lite', 'nova-pro', 'nova-2-lite']);
    const res = await openai.chat.completions.create({ model: 'nova-pro', messages: [{ role: 'user', content: 'cli' }] });
    expect(res.choices[0].message.content).toBe('You said: cli');
    expect(fake.requests.at(-1)!.modelId).toBe('us.amazon.nova-pro-v1:0');
    expect(await cli.stop()).toBe(0);
    cli = undefined;
  });
});
