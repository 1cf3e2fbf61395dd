import * as http from 'http';
import { stsBearerToken } from '../../runtime/client/sts-token';
import { BedrockInvoker } from '../../runtime/gateway/bedrock';
import { createGateway } from '../../runtime/gateway/gateway';
import { GatewayRuntimeConfigSchema } from '../../runtime/gateway/runtime-config';
import { StreamingServer, startStreamingServer } from '../../runtime/server/server';
import { STS_TOKEN_PREFIX, StsPresignedAuthenticator } from '../../runtime/server/sts-auth';
import { AwsPartitionFake } from '../fakes/aws-partition-fake';
import { BedrockFake } from '../fakes/bedrock-fake';
import { LoopbackServer } from '../fakes/loopback-server';

const CHINA_ACCOUNT = '111122223333';
const TIMEOUT_MS = 300;

/** An STS endpoint that misbehaves: never answers, redirects elsewhere, or fails. */
class MisbehavingSts extends LoopbackServer {
  mode: 'hang' | 'redirect' | 'fail' | 'throttle' = 'hang';
  calls = 0;

  protected async serve(_req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    this.calls++;
    if (this.mode === 'hang') return;
    if (this.mode === 'redirect') {
      res.writeHead(302, { location: 'http://169.254.169.254/latest/meta-data/' });
      return void res.end();
    }
    const throttled = this.mode === 'throttle';
    res.writeHead(throttled ? 400 : 500, { 'content-type': 'text/xml' });
    res.end(`<ErrorResponse><Error><Code>${throttled ? 'Throttling' : 'InternalFailure'}</Code><Message>x</Message></Error></ErrorResponse>`);
  }
}

let sts: AwsPartitionFake;
let badSts: MisbehavingSts;
let bedrock: BedrockFake;
let door: StreamingServer;
let stsCalls = 0;
const logs: Record<string, unknown>[] = [];
const tokensSeen: string[] = [];

const token = async (endpoint = sts.url) => {
  const t = await stsBearerToken({ region: 'cn-northwest-1', endpoint, audience: 'cnllm', credentials: { accessKeyId: 'AKIACHINADEV', secretAccessKey: 's' } });
  tokensSeen.push(t);
  return t;
};
const presignedUrl = (t: string) => new URL(Buffer.from(t.slice(STS_TOKEN_PREFIX.length), 'base64url').toString('utf8'));
const asToken = (url: URL) => {
  const t = STS_TOKEN_PREFIX + Buffer.from(url.toString()).toString('base64url');
  tokensSeen.push(t);
  return t;
};
const amzDate = (ms: number) => new Date(ms).toISOString().replace(/[-:]/g, '').replace(/\.\d{3}/, '');
const authenticator = () =>
  new StsPresignedAuthenticator({
    allowedEndpoints: [sts.url, badSts.url],
    audience: 'cnllm',
    allowedAccounts: [CHINA_ACCOUNT],
    timeoutMs: TIMEOUT_MS,
    fetch: (input, init) => {
      stsCalls++;
      return fetch(input, init);
    },
  });
const models = (t: string) => fetch(`${door.url}/v1/models`, { headers: { authorization: `Bearer ${t}` } });

beforeAll(async () => {
  sts = await new AwsPartitionFake('aws-cn', CHINA_ACCOUNT).addKey('AKIACHINADEV', 'dev').start();
  badSts = await new MisbehavingSts().start();
  bedrock = await new BedrockFake().start();
  const config = GatewayRuntimeConfigSchema.parse({ bedrockEndpoint: bedrock.url, models: [{ alias: 'nova-lite', modelId: 'us.amazon.nova-lite-v1:0' }] });
  door = await startStreamingServer({
    gateway: createGateway({ config, bedrock: new BedrockInvoker(config), log: (l) => logs.push(l) }),
    authenticators: [authenticator()],
    port: 0,
    host: '127.0.0.1',
    log: (l) => logs.push(l),
  });
});
afterAll(async () => {
  await door.drain();
  await Promise.all([sts.stop(), badSts.stop(), bedrock.stop()]);
});

describe('STS tokens: what is refused (401) before or after asking STS', () => {
  test('a token signed more than 5 minutes ahead is refused without asking STS; within the skew it is accepted', async () => {
    const future = presignedUrl(await token());
    future.searchParams.set('X-Amz-Date', amzDate(Date.now() + 60 * 60 * 1000));
    const before = stsCalls;
    expect((await models(asToken(future))).status).toBe(401);
    expect(stsCalls).toBe(before);

    const slightlyAhead = presignedUrl(await token());
    slightlyAhead.searchParams.set('X-Amz-Date', amzDate(Date.now() + 2 * 60 * 1000));
    expect((await models(asToken(slightlyAhead))).status).toBe(200);
  });

  test('a URL with user:password@ or an STS that redirects is a 401 OpenAI error, not a 500', async () => {
    const withUserinfo = presignedUrl(await token());
    withUserinfo.username = 'user';
    withUserinfo.password = 'pass';
    const userinfo = await models(asToken(withUserinfo));
    expect(userinfo.status).toBe(401);
    expect(((await userinfo.json()) as { error: { code: string } }).error.code).toBe('invalid_api_key');

    badSts.mode = 'redirect';
    const redirected = await models(await token(badSts.url));
    expect(redirected.status).toBe(401);
    expect(((await redirected.json()) as { error: { code: string } }).error.code).toBe('invalid_api_key');
  });
});

describe('STS tokens: STS slow or failing is a bounded 503, never a hang', () => {
  test.each([
    ['never answers', 'hang'],
    ['fails (5xx)', 'fail'],
    ['throttles', 'throttle'],
  ] as const)('STS that %s: 503 auth_unavailable within the timeout, asked again next time', async (_, mode) => {
    badSts.mode = mode;
    const t = await token(badSts.url);
    const started = Date.now();
    const res = await models(t);
    expect(res.status).toBe(503);
    expect(await res.json()).toEqual({ error: { message: expect.stringMatching(/STS token could not be checked/), type: 'api_error', param: null, code: 'auth_unavailable' } });
    // The margin is for a busy machine: without the bound the request never ends.
    expect(Date.now() - started).toBeLessThan(TIMEOUT_MS + 3000);
    // A failure is not remembered: the same token is checked again.
    const calls = badSts.calls;
    expect((await models(t)).status).toBe(503);
    expect(badSts.calls).toBe(calls + 1);
  }, 10_000);

  test('STS unreachable: 503 auth_unavailable', async () => {
    const closed = await new MisbehavingSts().start();
    const url = closed.url;
    await closed.stop();
    const auth = new StsPresignedAuthenticator({ allowedEndpoints: [url], audience: 'cnllm', allowedAccounts: [] });
    await expect(auth.authenticate(await token(url))).rejects.toMatchObject({ status: 503, code: 'auth_unavailable' });
  }, 10_000);
});

describe('STS tokens: one STS call per token', () => {
  test('concurrent requests with one token share one STS call; the confirmed identity is reused', async () => {
    const auth = authenticator();
    const t = await token();
    const before = stsCalls;
    const results = await Promise.all(Array.from({ length: 20 }, () => auth.authenticate(t)));
    expect(results.every((r) => r?.caller === `arn:aws-cn:iam::${CHINA_ACCOUNT}:user/dev`)).toBe(true);
    expect(stsCalls - before).toBe(1);
    await auth.authenticate(t);
    expect(stsCalls - before).toBe(1);
  });
});

describe('STS tokens: nothing replayable in the logs', () => {
  test('after every case above, no log line holds a token, a signature or a presigned URL', () => {
    const text = JSON.stringify(logs);
    expect(logs.some((l) => l.msg === 'authentication unavailable')).toBe(true);
    expect(text).not.toMatch(/X-Amz-Signature|X-Amz-Credential|cnllm-sts-v1\.|user:pass/i);
    for (const t of tokensSeen) {
      expect(text).not.toContain(t.slice(STS_TOKEN_PREFIX.length, STS_TOKEN_PREFIX.length + 40));
      expect(text).not.toContain(presignedUrl(t).searchParams.get('X-Amz-Signature'));
    }
  });
});
