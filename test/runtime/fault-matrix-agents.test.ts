import * as http from 'http';
import { randomUUID } from 'crypto';
import { APIConnectionError, APIConnectionTimeoutError } from 'openai';
import { AgentTeam, describeFailure } from '../../runtime/agents/agent-team';
import { parseAgentsConfig } from '../../runtime/agents/agents-config';
import { GatewayModels } from '../../runtime/agents/gateway-model';
import { GatewayTools } from '../../runtime/agents/mcp-tools';
import { DynamoSessionStorage } from '../../runtime/agents/memory';
import { AgentServer, startAgentServer } from '../../runtime/agents/server';
import { keyLookupClient } from '../../runtime/server/api-keys';
import { DynamoDbLocal } from '../fakes/dynamodb-local';
import { DynamoFault, DynamoFaultProxy } from '../fakes/dynamodb-fault-proxy';
import { LoopbackServer } from '../fakes/loopback-server';
import { OpenAiUpstreamFake, UpstreamBehaviour } from '../fakes/openai-upstream-fake';

/**
 * Faults of what the agents runtime calls: its models through the kit's gateway (here an
 * OpenAI-compatible stand-in answering as the gateway does), the MCP gateway's tools and the
 * DynamoDB session memory. Each ends the invocation with a clear status and an OpenAI error body
 * within the agents' time limits (retry-after where the caller should retry), never a hang.
 */
const AGENT_SECONDS = 1;
const SESSIONS_TABLE = 'agent-sessions';

/** An MCP endpoint that accepts connections and never answers. */
class SilentMcp extends LoopbackServer {
  protected async serve(_req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    await new Promise<void>((resolve) => res.on('close', resolve));
  }
}

let gateway: OpenAiUpstreamFake;
let silentMcp: SilentMcp;
let dynamo: DynamoDbLocal;
let memoryStore: DynamoFaultProxy;
const servers: AgentServer[] = [];
const unhandled: unknown[] = [];
const onUnhandled = (reason: unknown) => unhandled.push(reason);

beforeAll(async () => {
  process.on('unhandledRejection', onUnhandled);
  gateway = await new OpenAiUpstreamFake('gateway', '').start();
  silentMcp = await new SilentMcp().start();
  dynamo = await new DynamoDbLocal().start();
  await dynamo.client().send(
    new (await import('@aws-sdk/client-dynamodb')).CreateTableCommand({ TableName: SESSIONS_TABLE, AttributeDefinitions: [{ AttributeName: 'sessionId', AttributeType: 'S' }], KeySchema: [{ AttributeName: 'sessionId', KeyType: 'HASH' }], BillingMode: 'PAY_PER_REQUEST' }),
  );
  memoryStore = await new DynamoFaultProxy(dynamo.url).start();
});
afterAll(async () => {
  await Promise.all(servers.map((s) => s.drain(1000)));
  await Promise.all([gateway.stop(), silentMcp.stop(), memoryStore.stop()]);
  await dynamo.stop();
  process.off('unhandledRejection', onUnhandled);
});
beforeEach(() => {
  gateway.clear();
  memoryStore.reset();
});
afterEach(() => expect(unhandled).toEqual([]));

/** The agents' HTTP server (AgentCore Runtime's contract) over a team whose dependencies are the stand-ins. */
async function agents(opts: { tools?: boolean; memory?: boolean } = {}): Promise<string> {
  const config = parseAgentsConfig({
    mode: 'supervisor',
    gateway: { baseUrl: `${gateway.url}/v1`, auth: 'none', region: 'cn-northwest-1' },
    supervisor: { name: 'supervisor', model: 'nova-lite', instructions: 'Answer.' },
    collaborators: [{ name: 'researcher', model: 'nova-lite', description: 'Finds things.', instructions: 'Find.' }],
    ...(opts.tools && { tools: { mcpUrl: `${silentMcp.url}/mcp`, auth: 'none' } }),
    ...(opts.memory && { memory: { tableName: SESSIONS_TABLE } }),
    timeouts: { agentSeconds: AGENT_SECONDS, overallSeconds: 4 * AGENT_SECONDS },
  });
  const models = new GatewayModels({ gateway: config.gateway, timeoutMs: AGENT_SECONDS * 1000 });
  const team = new AgentTeam(config, {
    model: (alias, agent) => models.model(alias, agent),
    tools: config.tools && new GatewayTools(config.tools, config.gateway.region),
    // The client the container builds (bounded lookups), at a short timeout.
    sessions: config.memory && new DynamoSessionStorage({ client: keyLookupClient({ region: 'cn-northwest-1', endpoint: memoryStore.url, credentials: { accessKeyId: 'a', secretAccessKey: 'b' } }, 300), tableName: SESSIONS_TABLE, ttlSeconds: 3600, maxTurns: 5 }),
    log: () => undefined,
  });
  const server = await startAgentServer({ team, port: 0, host: '127.0.0.1', log: () => undefined });
  servers.push(server);
  return server.url;
}

/** Each invocation's own prompt: a model call of an earlier test that ends late is not counted as this one's. */
let prompt = '';
beforeEach(() => {
  prompt = `What is new? (${randomUUID()})`;
});
const mine = () => gateway.requests.filter((r) => JSON.stringify(r.body).includes(prompt));

async function invoke(url: string) {
  const started = Date.now();
  const res = await fetch(`${url}/invocations`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ prompt, sessionId: randomUUID() }) });
  return { status: res.status, retryAfter: res.headers.get('retry-after'), body: (await res.json()) as any, ms: Date.now() - started };
}

const times = (n: number, b: UpstreamBehaviour) => Array<UpstreamBehaviour>(n).fill(b);

describe('agents: the supervisor\'s model call through the gateway fails', () => {
  test.each<[string, UpstreamBehaviour[], number, string, string | null]>([
    ['the gateway throttles (429)', times(3, { kind: 'status', status: 429, body: JSON.stringify({ error: { message: 'slow down', type: 'rate_limit_error', param: null, code: 'rate_limit_exceeded' } }), headers: { 'retry-after': '3' } }), 429, 'rate_limit_exceeded', '3'],
    ['the gateway\'s quota store is out (503)', times(3, { kind: 'status', status: 503, body: JSON.stringify({ error: { message: 'retry shortly', type: 'api_error', param: null, code: 'quota_unavailable' } }), headers: { 'retry-after': '1' } }), 503, 'quota_unavailable', '1'],
    ['the gateway answers 502 (its upstream failed)', times(3, { kind: 'status', status: 502, body: JSON.stringify({ error: { message: 'upstream failed', type: 'api_error', param: null, code: 'upstream_error' } }) }), 502, 'upstream_error', null],
    ['the gateway resets the connection', times(3, { kind: 'reset' }), 502, 'gateway_connection', null],
  ])('%s: the invocation ends with that status and code, an OpenAI error body, bounded', async (_name, faults, status, code, retryAfter) => {
    gateway.push(...faults);
    const url = await agents();
    const seen = await invoke(url);
    expect(seen.status).toBe(status);
    expect(seen.body.error).toEqual({ message: expect.any(String), type: expect.any(String), param: null, code });
    expect(seen.retryAfter).toBe(retryAfter);
    expect(seen.ms).toBeLessThan(4 * AGENT_SECONDS * 1000 + 2000);
    // The agents' model client does not retry on top of the gateway's own retries.
    expect(mine()).toHaveLength(1);
  });
});

describe('agents: the gateway\'s stream breaks after the first byte', () => {
  const chunk = (delta: object, finish: string | null = null) => `data: ${JSON.stringify({ id: 'c', object: 'chat.completion.chunk', created: 1, model: 'nova-lite', choices: [{ index: 0, delta, finish_reason: finish }] })}\n\n`;

  test('an SSE error event (the gateway\'s upstream went silent): 502 with the gateway\'s code, bounded', async () => {
    const error = { error: { message: 'The upstream stream went silent', type: 'timeout_error', param: null, code: 'upstream_stream_idle' } };
    gateway.push({ kind: 'sse', pieces: [chunk({ role: 'assistant', content: '' }), chunk({ content: 'Part of ' }), `data: ${JSON.stringify(error)}\n\n`] });
    const seen = await invoke(await agents());
    expect(seen.status).toBe(502);
    expect(seen.body.error).toEqual({ message: expect.any(String), type: 'agent_error', param: null, code: 'upstream_stream_idle' });
    expect(mine()).toHaveLength(1);
  });

  test('a stream cut off without its end: the invocation fails, never answers with the fragment', async () => {
    gateway.push({ kind: 'sse', pieces: [chunk({ role: 'assistant', content: '' }), chunk({ content: 'Part of ' })] });
    const seen = await invoke(await agents());
    expect(seen.status).toBe(502);
    expect(seen.body.error).toEqual({ message: expect.stringMatching(/Stream ended without completing a message/), type: 'agent_error', param: null, code: 'agent_error' });
    expect(seen.body.answer).toBeUndefined();
  });
});

describe('agents: the gateway does not answer', () => {
  test('the model call ends at the agent time limit with an OpenAI error body, never a hang', async () => {
    gateway.push({ kind: 'hang', ms: 20_000 });
    const seen = await invoke(await agents());
    // Under jest the client sees its own timeout's AbortError from another realm and reports a
    // connection error (502); in node it is its timeout error (504, below).
    expect([[504, 'timeout'], [502, 'gateway_connection']]).toContainEqual([seen.status, seen.body.error.code]);
    expect(seen.ms).toBeLessThan(AGENT_SECONDS * 1000 + 2000);
    expect(mine()).toHaveLength(1);
  });

  test('the client\'s timeout error, as Strands wraps it, is a 504 timeout; a refused connection a 502 gateway_connection', () => {
    const wrapped = (cause: Error) => Object.assign(new Error('model failed'), { name: 'ModelError', cause });
    expect(describeFailure(wrapped(new APIConnectionTimeoutError()))).toEqual(expect.objectContaining({ status: 504, code: 'timeout' }));
    const refused = new APIConnectionError({ cause: Object.assign(new Error('fetch failed'), { cause: Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' }) }) });
    expect(describeFailure(wrapped(refused))).toEqual(expect.objectContaining({ status: 502, code: 'gateway_connection' }));
  });
});

describe('agents: the MCP gateway does not answer', () => {
  test('listing its tools is bounded by the agent time limit: the agents answer without tools, and the trace says why', async () => {
    const url = await agents({ tools: true });
    const seen = await invoke(url);
    expect(seen.status).toBe(200);
    expect(seen.ms).toBeLessThan(4 * AGENT_SECONDS * 1000 + 2000);
    expect(seen.body.trace).toEqual(expect.arrayContaining([expect.objectContaining({ event: 'error', detail: expect.stringMatching(/MCP tools could not be listed/) })]));
  }, 20_000);
});

describe('agents: the session memory table fails', () => {
  test.each<[string, DynamoFault]>([
    ['answers 500', { kind: 'error', status: 500, type: 'InternalServerError' }],
    ['throttles', { kind: 'error', status: 400, type: 'ThrottlingException' }],
    ['never answers', { kind: 'hang' }],
  ])('a table that %s: 502 memory_unavailable, bounded, no answer without the session', async (_name, fault) => {
    memoryStore.always = fault;
    const url = await agents({ memory: true });
    const seen = await invoke(url);
    expect(seen.status).toBe(502);
    expect(seen.body.error).toEqual(expect.objectContaining({ code: 'memory_unavailable' }));
    expect(seen.ms).toBeLessThan(4 * AGENT_SECONDS * 1000 + 2000);
  });
});
