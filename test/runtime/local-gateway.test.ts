import { execFile } from 'child_process';
import { promisify } from 'util';
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
    expect(JSON.parse(body).message).toMatch(/signature we calculated does not match/);
    const unsigned = await fetch(`${gateway.url}/v1/models`);
    expect(unsigned.status).toBe(403);
    expect(fake.requests.length).toBe(before);
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
