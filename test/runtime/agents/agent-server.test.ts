import { ChildProcess, execFile, spawn } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { promisify } from 'util';
import { parseConfig } from '../../../lib/config/load';
import { AGENTS_CONFIG_ENV } from '../../../runtime/agents/agents-config';
import { AgentServer, SESSION_HEADER, startAgentServer } from '../../../runtime/agents/server';
import { LocalAgents, localAgentsConfig, startLocalAgents } from '../../../scripts/local/local-agents';
import { invokeOnFargate } from '../../../runtime/agents-client/invoke';
import { StsPresignedAuthenticator } from '../../../runtime/server/sts-auth';
import { AgentModelFake } from '../../fakes/agent-model-fake';
import { AwsPartitionFake } from '../../fakes/aws-partition-fake';
import { REPO_ROOT } from '../../helpers/cli';

// eslint-disable-next-line @typescript-eslint/no-explicit-any
const json = async (res: Response): Promise<any> => res.json();

/** AgentCore Runtime's HTTP contract: /ping, /invocations, OpenAI-style 4xx bodies, 502/504 with the trace, drain. */
describe('agent server (AgentCore Runtime contract)', () => {
  const model = new AgentModelFake('2026-12-01');
  let agents: LocalAgents;
  let server: AgentServer;
  const logged: Record<string, unknown>[] = [];

  beforeAll(async () => {
    await model.start();
    model.fail('local-broken', { kind: 'status', status: 500, message: 'broken model' });
    agents = await startLocalAgents({
      kitConfig: parseConfig({}),
      standInUrl: model.url,
      agents: (urls) => ({ ...localAgentsConfig('supervisor', urls, 'cn-northwest-1'), timeouts: { agentSeconds: 5, overallSeconds: 10 } }),
      log: () => undefined,
      gatewayLog: () => undefined,
    });
    server = await startAgentServer({ team: agents.team, port: 0, host: '127.0.0.1', maxRequestBytes: 64 * 1024, log: (line) => logged.push(line) });
  });
  afterAll(async () => {
    await server.drain(1000);
    await agents.close();
    await model.stop();
  });

  const post = (body: string | object, headers: Record<string, string> = {}) =>
    fetch(`${server.url}/invocations`, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: typeof body === 'string' ? body : JSON.stringify(body) });

  test('GET /ping answers Healthy', async () => {
    const res = await fetch(`${server.url}/ping`);
    expect(res.status).toBe(200);
    expect(await json(res)).toEqual({ status: 'Healthy' });
  });

  test('POST /invocations answers with the answer, the session id and the trace', async () => {
    const res = await post({ prompt: 'What do the docs say about residency?', sessionId: 'session-0001' });
    expect(res.status).toBe(200);
    const body = await json(res);
    expect(body).toEqual({ answer: expect.stringContaining('Answer to "What do the docs say about residency?"'), sessionId: 'session-0001', trace: expect.any(Array) });
    for (const event of body.trace) {
      expect(Object.keys(event).every((k) => ['agent', 'event', 'to', 'tool', 'inputTokens', 'outputTokens', 'ms', 'detail'].includes(k))).toBe(true);
      expect(['delegate', 'tool', 'answer', 'error']).toContain(event.event);
      expect(typeof event.ms).toBe('number');
    }
    expect(logged).toContainEqual(expect.objectContaining({ level: 'info', msg: 'invocation', sessionId: 'session-0001', status: 200 }));
  });

  test('the session id comes from the AgentCore header when the body has none, and is generated when neither has one', async () => {
    const fromHeader = await json(await post({ prompt: 'hello' }, { [SESSION_HEADER]: 'runtime-session-1234567890-abcdefghijkl' }));
    expect(fromHeader.sessionId).toBe('runtime-session-1234567890-abcdefghijkl');
    const generated = await json(await post({ prompt: 'hello' }));
    expect(generated.sessionId).toMatch(/^[0-9a-f-]{36}$/);
  });

  test.each([
    ['not JSON', '{"prompt": ', 'invalid_json', null],
    ['not an object', '["hello"]', 'invalid_request', null],
    ['no prompt', { sessionId: 'abc' }, 'missing_required_parameter', 'prompt'],
    ['an empty prompt', { prompt: '   ' }, 'invalid_type', 'prompt'],
    ['a prompt that is not a string', { prompt: 42 }, 'invalid_type', 'prompt'],
    ['a bad session id', { prompt: 'hi', sessionId: 'a b/c' }, 'invalid_session_id', 'sessionId'],
  ])('400 with an OpenAI error body for %s', async (_case, body, code, param) => {
    const res = await post(body as string | object);
    expect(res.status).toBe(400);
    expect(await json(res)).toEqual({ error: { message: expect.any(String), type: 'invalid_request_error', param, code } });
  });

  test('413 for a body over the limit, 404 for other paths, 405 for other methods', async () => {
    const big = await post({ prompt: 'x'.repeat(70 * 1024) });
    expect(big.status).toBe(413);
    expect((await json(big)).error.code).toBe('request_too_large');
    const unknown = await fetch(`${server.url}/v1/chat/completions`, { method: 'POST', body: '{}' });
    expect(unknown.status).toBe(404);
    expect((await json(unknown)).error).toMatchObject({ type: 'invalid_request_error', code: 'not_found' });
    const getInvocations = await fetch(`${server.url}/invocations`);
    expect(getInvocations.status).toBe(405);
    expect(getInvocations.headers.get('allow')).toBe('POST');
  });
});

describe('agent server failures and shutdown', () => {
  const model = new AgentModelFake('2026-12-01');
  afterAll(() => model.stop());

  test('a supervisor whose model fails: 502 agent_error with the session id and the trace; a collaborator hanging past the deadline: 504; drain lets the invocation under way finish', async () => {
    await model.start();
    model.fail('local-broken', { kind: 'status', status: 500, message: 'broken model' }).fail('local-slow', { kind: 'hang' });
    const broken = await startLocalAgents({
      kitConfig: parseConfig({}),
      standInUrl: model.url,
      agents: (urls) => {
        const base = localAgentsConfig('supervisor', urls, 'cn-northwest-1');
        return { ...base, supervisor: { ...base.supervisor, model: 'local-broken' } };
      },
      log: () => undefined,
      gatewayLog: () => undefined,
    });
    const slow = await startLocalAgents({
      kitConfig: parseConfig({}),
      standInUrl: model.url,
      agents: (urls) => {
        const base = localAgentsConfig('supervisor', urls, 'cn-northwest-1');
        return { ...base, collaborators: base.collaborators.map((c) => ({ ...c, model: 'local-slow', timeoutSeconds: 30 })), timeouts: { agentSeconds: 1, overallSeconds: 1 } };
      },
      log: () => undefined,
      gatewayLog: () => undefined,
    });
    const brokenServer = await startAgentServer({ team: broken.team, port: 0, host: '127.0.0.1', log: () => undefined });
    const slowServer = await startAgentServer({ team: slow.team, port: 0, host: '127.0.0.1', log: () => undefined });
    try {
      const failed = await fetch(`${brokenServer.url}/invocations`, { method: 'POST', body: JSON.stringify({ prompt: 'hello', sessionId: 's-1' }) });
      expect(failed.status).toBe(502);
      const body = await json(failed);
      // The gateway's own verdict on the upstream's 500 (upstream_error) is what the caller reads.
      expect(body).toEqual({
        error: { message: 'supervisor failed: 502 provider upstream "agents-stand-in" failed (500): broken model', type: 'agent_error', param: null, code: 'upstream_error' },
        sessionId: 's-1',
        trace: [expect.objectContaining({ agent: 'supervisor', event: 'error' })],
      });

      const started = Date.now();
      const inFlight = fetch(`${slowServer.url}/invocations`, { method: 'POST', body: JSON.stringify({ prompt: 'How many tokens and what about residency?' }) });
      await new Promise((r) => setTimeout(r, 200));
      const drained = slowServer.drain(10000);
      const late = await inFlight;
      expect(late.status).toBe(504);
      expect((await json(late)).error).toMatchObject({ type: 'timeout_error', code: 'deadline_exceeded' });
      await drained;
      expect(Date.now() - started).toBeLessThan(5000);
      // After the drain the server takes no more connections.
      await expect(fetch(`${slowServer.url}/ping`)).rejects.toThrow();
    } finally {
      await brokenServer.drain(100);
      await slowServer.drain(100);
      await broken.close();
      await slow.close();
    }
  });
});

describe('the container entry (runtime/agents/main.ts run as the image runs it)', () => {
  const model = new AgentModelFake('2026-12-01');
  let agents: LocalAgents;
  let child: ChildProcess | undefined;
  beforeAll(async () => {
    await model.start();
    agents = await startLocalAgents({ kitConfig: parseConfig({}), standInUrl: model.url, agents: (urls) => localAgentsConfig('routing', urls, 'cn-northwest-1'), log: () => undefined, gatewayLog: () => undefined });
  });
  afterAll(async () => {
    child?.kill('SIGKILL');
    await agents.close();
    await model.stop();
  });

  function start(env: NodeJS.ProcessEnv, entry = [path.join(REPO_ROOT, 'scripts', 'run-ts.cjs'), 'runtime/agents/main.ts']): { child: ChildProcess; out: () => string; exited: Promise<number | null> } {
    const launched = spawn(process.execPath, entry, { cwd: REPO_ROOT, env: { PATH: process.env.PATH, HOME: process.env.HOME, AWS_REGION: 'cn-northwest-1', ...env } });
    let out = '';
    launched.stdout!.on('data', (d) => (out += d));
    launched.stderr!.on('data', (d) => (out += d));
    return { child: launched, out: () => out, exited: new Promise((resolve) => launched.on('exit', resolve)) };
  }

  /** The URL of the server's "listening" log line (on all interfaces: reached on loopback). */
  function listening(running: ReturnType<typeof start>): Promise<string> {
    return new Promise<string>((resolve, reject) => {
      const timer = setInterval(() => {
        const m = /"msg":"listening","url":"(http:\/\/[^"]+)"/.exec(running.out());
        if (m) {
          clearInterval(timer);
          resolve(m[1].replace('0.0.0.0', '127.0.0.1'));
        }
      }, 50);
      void running.exited.then(() => {
        clearInterval(timer);
        reject(new Error(`the server exited: ${running.out()}`));
      });
    });
  }

  test('reads $CNLLM_AGENTS_CONFIG and $PORT, serves the contract, exits 0 on SIGTERM', async () => {
    const running = start({ PORT: '0', [AGENTS_CONFIG_ENV]: JSON.stringify(agents.config) });
    child = running.child;
    const url = await listening(running);
    expect(await json(await fetch(`${url}/ping`))).toEqual({ status: 'Healthy' });
    const res = await fetch(`${url}/invocations`, { method: 'POST', body: JSON.stringify({ prompt: 'What do the docs say about streaming?' }) });
    expect(res.status).toBe(200);
    expect((await json(res)).answer).toMatch(/^The librarian found with doc-search___doc_search|^The librarian answers/);
    // One JSON line per trace event and per invocation on stdout (CloudWatch Logs), no prompt text.
    expect(running.out()).toMatch(/"msg":"agent_trace".*"event":"delegate"/);
    expect(running.out()).not.toContain('What do the docs say about streaming?');
    running.child.kill('SIGTERM');
    expect(await running.exited).toBe(0);
  }, 60000);

  test('with callerAuth (the Fargate platform) the entry checks STS tokens: 401 without one, the answer with npm run agents -- invoke\'s; an agent missing from CNLLM_AGENT_ROLE_ARNS stops the start', async () => {
    const sts = await new AwsPartitionFake('aws-cn', '111122223333').addKey('AKIACHINADEV', 'dev').start();
    try {
      const callerAuth = { audience: 'cnllm-agents', allowedAccounts: ['111122223333'], stsEndpoints: [sts.url] };
      const running = start({ PORT: '0', [AGENTS_CONFIG_ENV]: JSON.stringify({ ...agents.config, callerAuth }) });
      child = running.child;
      const url = await listening(running);
      expect((await fetch(`${url}/invocations`, { method: 'POST', body: JSON.stringify({ prompt: 'What do the docs say about streaming?' }) })).status).toBe(401);
      const answer = await invokeOnFargate({ region: 'cn-northwest-1', credentials: { accessKeyId: 'AKIACHINADEV', secretAccessKey: 'operator-secret' }, url: `${url}/invocations`, prompt: 'What do the docs say about streaming?', audience: 'cnllm-agents', stsEndpoint: sts.url, timeoutMs: 20000 });
      expect(answer.answer).toMatch(/librarian/);
      running.child.kill('SIGTERM');
      expect(await running.exited).toBe(0);

      const roles = { supervisor: 'arn:aws-cn:iam::111122223333:role/cnllm-agent-supervisor' };
      const refused = start({ PORT: '0', [AGENTS_CONFIG_ENV]: JSON.stringify(agents.config), CNLLM_AGENT_ROLE_ARNS: JSON.stringify(roles) });
      child = refused.child;
      expect(await refused.exited).toBe(1);
      expect(refused.out()).toContain('CNLLM_AGENT_ROLE_ARNS has no role for agent \\"analyst\\"');
    } finally {
      await sts.stop();
    }
  }, 60000);

  test('the image\'s bundle (the Dockerfile\'s esbuild step, ES-module framework included) starts and serves', async () => {
    const dockerfile = fs.readFileSync(path.join(REPO_ROOT, 'runtime/agents/Dockerfile'), 'utf8');
    const step = /^RUN (npx esbuild runtime\/agents\/main\.ts(?:[^\n\\]|\\\n)*)/m.exec(dockerfile)![1].replace(/\\\n\s*/g, ' ');
    const out = fs.mkdtempSync(path.join(os.tmpdir(), 'cnllm-agents-image-'));
    try {
      await promisify(execFile)('bash', ['-c', step.replace('--outfile=dist/agents.js', `--outfile=${out}/agents.js`)], { cwd: REPO_ROOT, timeout: 60000 });
      const running = start({ PORT: '0', [AGENTS_CONFIG_ENV]: JSON.stringify(agents.config), NODE_OPTIONS: '--enable-source-maps' }, [path.join(out, 'agents.js')]);
      child = running.child;
      const url = await listening(running);
      const res = await fetch(`${url}/invocations`, { method: 'POST', body: JSON.stringify({ prompt: 'What do the docs say about streaming?' }) });
      expect(res.status).toBe(200);
      running.child.kill('SIGTERM');
      expect(await running.exited).toBe(0);
    } finally {
      fs.rmSync(out, { recursive: true, force: true });
    }
  }, 90000);

  test('a bad configuration stops the start with the field and the fix', async () => {
    const running = start({ [AGENTS_CONFIG_ENV]: JSON.stringify({ ...agents.config, mode: 'swarm' }) });
    expect(await running.exited).toBe(1);
    expect(running.out()).toContain('mode: must be \\"supervisor\\" or \\"routing\\"');
  }, 60000);
});

/** On Fargate only the load balancer stands before the server: `npm run agents -- invoke --url` sends an STS token, the server checks it. */
describe('agent server on Fargate: callers authenticate with an STS bearer token', () => {
  const CHINA_ACCOUNT = '111122223333';
  const model = new AgentModelFake('2026-12-01');
  const sts = new AwsPartitionFake('aws-cn', CHINA_ACCOUNT).addKey('AKIACHINADEV', 'dev');
  const otherAccount = new AwsPartitionFake('aws-cn', '999988887777').addKey('AKIAOTHERDEV', 'intruder');
  let agents: LocalAgents;
  let server: AgentServer;
  const logged: Record<string, unknown>[] = [];

  beforeAll(async () => {
    await Promise.all([model.start(), sts.start(), otherAccount.start()]);
    agents = await startLocalAgents({ kitConfig: parseConfig({}), standInUrl: model.url, agents: (urls) => localAgentsConfig('supervisor', urls, 'cn-northwest-1'), log: () => undefined, gatewayLog: () => undefined });
    const auth = new StsPresignedAuthenticator({ allowedEndpoints: [sts.url, otherAccount.url], audience: 'cnllm-agents', allowedAccounts: [CHINA_ACCOUNT] });
    server = await startAgentServer({ team: agents.team, port: 0, host: '127.0.0.1', log: (line) => logged.push(line), authenticate: (bearer) => auth.authenticate(bearer) });
  });
  afterAll(async () => {
    await server.drain(1000);
    await agents.close();
    await Promise.all([model.stop(), sts.stop(), otherAccount.stop()]);
  });

  const invoke = (opts: { keyId?: string; endpoint?: string } = {}) =>
    invokeOnFargate({ region: 'cn-northwest-1', credentials: { accessKeyId: opts.keyId ?? 'AKIACHINADEV', secretAccessKey: 'operator-secret' }, url: `${server.url}/invocations`, prompt: 'What do the docs say about residency?', audience: 'cnllm-agents', stsEndpoint: opts.endpoint ?? sts.url, timeoutMs: 20000 });

  test('npm run agents -- invoke\'s token of a China-account principal is accepted; the caller is logged', async () => {
    const answer = await invoke();
    expect(answer.answer).toContain('Answer to "What do the docs say about residency?"');
    expect(logged).toContainEqual(expect.objectContaining({ msg: 'invocation', status: 200, caller: `arn:aws-cn:iam::${CHINA_ACCOUNT}:user/dev` }));
  });

  test('no token, a token that is not an STS token, one STS refuses, one of another account: 401 with an OpenAI error body, and no agent runs', async () => {
    const before = model.requests.length;
    const res = await fetch(`${server.url}/invocations`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ prompt: 'hi' }) });
    expect(res.status).toBe(401);
    expect(await json(res)).toEqual({ error: { message: expect.stringContaining('Authorization: Bearer <STS token>'), type: 'invalid_request_error', param: null, code: 'invalid_api_key' } });
    const garbage = await fetch(`${server.url}/invocations`, { method: 'POST', headers: { 'content-type': 'application/json', authorization: 'Bearer sk-not-an-sts-token' }, body: JSON.stringify({ prompt: 'hi' }) });
    expect(garbage.status).toBe(401);
    await expect(invoke({ keyId: 'AKIAUNKNOWN' })).rejects.toThrow(/answered HTTP 401: Missing or invalid credentials/);
    await expect(invoke({ keyId: 'AKIAOTHERDEV', endpoint: otherAccount.url })).rejects.toThrow(/answered HTTP 401/);
    expect(model.requests.length).toBe(before);
    // The load balancer's health check needs no token.
    expect((await fetch(`${server.url}/ping`)).status).toBe(200);
  });
});
