import { randomUUID } from 'crypto';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { parseConfig } from '../../../lib/config/load';
import { AgentsConfig, parseAgentsConfig } from '../../../runtime/agents/agents-config';
import { AgentTeam, InvocationOutcome } from '../../../runtime/agents/agent-team';
import { GatewayModels } from '../../../runtime/agents/gateway-model';
import { DynamoSessionStorage, MEMORY_TABLE_KEY, MEMORY_TABLE_TTL_ATTRIBUTE, sessionKey } from '../../../runtime/agents/memory';
import { formatTraceTree } from '../../../runtime/agents/trace-tree';
import { DEMO_DOCS, demoLedger } from '../../../scripts/local/agents-demo-data';
import { LocalAgents, localAgentsConfig, startLocalAgents } from '../../../scripts/local/local-agents';
import { AgentModelFake } from '../../fakes/agent-model-fake';
import { AwsPartitionFake } from '../../fakes/aws-partition-fake';
import { BedrockFake } from '../../fakes/bedrock-fake';
import { DynamoDbLocal } from '../../fakes/dynamodb-local';
import { S3Local } from '../../fakes/s3-local';

/**
 * The agents end to end on loopback, as `npm run agents:local` runs them: every model call goes
 * through the kit's gateway (gateway:local over HTTP) to a stand-in model that plays each role, the
 * tools through a real MCP client and server (streamable HTTP) to the tool Lambdas over S3 (s3rver),
 * sessions in DynamoDB (dynalite).
 */
const TODAY = '2026-12-01';
const BUCKET = 'cnllm-agents-e2e';
const USAGE_QUESTION = 'How many tokens did each team use on 2026-11-30, and what do the docs say about residency?';

type Overrides = Partial<Omit<AgentsConfig, 'collaborators'>> & { collaborators?: Partial<AgentsConfig['collaborators'][number]>[] };

describe('agents end to end (gateway:local, MCP tools, DynamoDB memory)', () => {
  const model = new AgentModelFake(TODAY);
  const s3 = new S3Local([BUCKET]);
  const dynamo = new DynamoDbLocal();
  const bedrock = new BedrockFake();
  const running: LocalAgents[] = [];
  const logged: Record<string, unknown>[] = [];

  beforeAll(async () => {
    await Promise.all([model.start(), s3.start(), dynamo.start(), bedrock.start()]);
    for (const object of [...demoLedger(TODAY), ...DEMO_DOCS]) await s3.put(BUCKET, object.key, object.body);
  });
  afterEach(async () => {
    while (running.length > 0) await running.pop()!.close();
  });
  afterAll(async () => {
    await Promise.all([model.stop(), s3.stop(), dynamo.stop(), bedrock.stop()]);
  });

  async function agents(mode: AgentsConfig['mode'], overrides: Overrides = {}, kit: Record<string, unknown> = {}, memory = false): Promise<LocalAgents> {
    const started = await startLocalAgents({
      kitConfig: parseConfig(kit),
      routingArgs: ['--bedrock-endpoint', bedrock.url],
      standInUrl: model.url,
      agents: (urls) => {
        const base = localAgentsConfig(mode, urls, 'cn-northwest-1', memory ? { tableName: 'agent-sessions' } : undefined);
        return parseAgentsConfig({ ...base, ...overrides, collaborators: base.collaborators.map((c, i) => ({ ...c, ...overrides.collaborators?.[i] })) });
      },
      tools: { s3: s3.client(), bucket: BUCKET },
      memory: memory ? { client: dynamo.client() } : undefined,
      log: (line) => logged.push(line),
      gatewayLog: () => undefined,
    });
    running.push(started);
    return started;
  }

  const ask = (team: LocalAgents, prompt: string, sessionId: string = randomUUID()) => team.team.invoke({ prompt, sessionId, requestId: randomUUID() });
  const answered = (outcome: InvocationOutcome) => {
    if (!outcome.ok) throw new Error(`the invocation failed: ${outcome.status} ${outcome.code} ${outcome.message}`);
    return outcome;
  };
  const callsOf = (alias: string, since: number) => model.requests.slice(since).filter((r) => r.model === alias);

  test('supervisor: delegates to both collaborators in one turn, each calls its MCP tool, the answer combines them; the trace says who did what with how many tokens', async () => {
    const team = await agents('supervisor');
    const before = model.requests.length;
    const outcome = answered(await ask(team, USAGE_QUESTION));

    // The analyst's figures come from the ledger for the day asked (the demo's day-6 records), through usage_summary.
    expect(outcome.answer).toContain('- analyst: The usage analyst found with usage-summary___usage_summary: group search, model qwen-max, requests 3, inputTokens 127530');
    expect(outcome.answer).toContain('- librarian: The librarian found with doc-search___doc_search: key docs/residency.md, title Data residency');
    // One supervisor turn delegated to both (parallel tool calls kept), one more wrote the answer.
    const supervisorCalls = callsOf('local-supervisor', before);
    expect(supervisorCalls).toHaveLength(2);
    expect(supervisorCalls[1].body.messages.filter((m: { role: string }) => m.role === 'tool')).toHaveLength(2);
    // Every model call went through the gateway: streamed, with the usage chunk asked for.
    expect(model.requests.slice(before).every((r) => r.body.stream === true && r.body.stream_options?.include_usage === true)).toBe(true);

    const events = outcome.trace.map((e) => [e.agent, e.event, e.to ?? e.tool ?? '']);
    expect(events).toEqual(
      expect.arrayContaining([
        ['supervisor', 'delegate', 'analyst'],
        ['supervisor', 'delegate', 'librarian'],
        ['analyst', 'tool', 'usage-summary___usage_summary'],
        ['librarian', 'tool', 'doc-search___doc_search'],
        ['analyst', 'answer', ''],
        ['librarian', 'answer', ''],
      ]),
    );
    expect(events[events.length - 1]).toEqual(['supervisor', 'answer', '']);
    expect(outcome.trace.find((e) => e.event === 'tool' && e.agent === 'analyst')!.detail).toBe('{"from":"2026-11-30","to":"2026-11-30"}');
    // Tokens per agent are the stand-in's usage figures, summed over each agent's model calls.
    const tokens = (alias: string) => callsOf(alias, before).length;
    for (const [agent, alias] of [['supervisor', 'local-supervisor'], ['analyst', 'local-analyst'], ['librarian', 'local-librarian']]) {
      const answer = outcome.trace.find((e) => e.agent === agent && e.event === 'answer')!;
      expect(answer.inputTokens).toBeGreaterThan(0);
      expect(answer.outputTokens).toBeGreaterThan(0);
      expect(tokens(alias)).toBe(2);
    }
    // One JSON log line per event, without the content (logContent is off).
    const lines = logged.filter((l) => l.msg === 'agent_trace' && l.sessionId === outcome.sessionId);
    expect(lines).toHaveLength(outcome.trace.length);
    expect(lines.some((l) => 'detail' in l)).toBe(false);

    const tree = formatTraceTree(outcome.trace, 'supervisor');
    expect(tree).toMatch(/├─ delegate → analyst \[\d+ ms\]: How many tokens/);
    expect(tree).toMatch(/│ {2}├─ tool usage-summary___usage_summary \[\d+ ms\]/);
    expect(tree).toMatch(/^tokens \(in\/out\): .*analyst \d+\/\d+.*total \d+\/\d+$/m);
  });

  test('routing: the router hands the request to exactly one collaborator, whose answer is returned as it is', async () => {
    const team = await agents('routing');
    const before = model.requests.length;
    const outcome = answered(await ask(team, 'What do the documents say about data residency?'));
    expect(outcome.trace.filter((e) => e.event === 'delegate').map((e) => e.to)).toEqual(['librarian']);
    const librarianAnswer = outcome.trace.find((e) => e.agent === 'librarian' && e.event === 'answer')!.detail;
    expect(outcome.answer).toBe(librarianAnswer);
    expect(outcome.answer).toMatch(/^The librarian found with doc-search___doc_search: key docs\/residency\.md/);
    // Each event belongs to the agent that did it: the librarian's tool call and answer are not the
    // router's too (Strands surfaces a delegate's events in the router's stream), and the router's
    // tokens are its own model call's.
    expect(outcome.trace.filter((e) => e.agent === 'supervisor').map((e) => e.event)).toEqual(['delegate', 'answer']);
    expect(outcome.trace.filter((e) => e.event === 'tool').map((e) => e.agent)).toEqual(['librarian']);
    const routerUsage = outcome.trace.find((e) => e.agent === 'supervisor' && e.event === 'answer')!;
    const routerCall = callsOf('local-supervisor', before)[0].body;
    // The stand-in's count for the one router call (test/fakes/agent-model-fake.ts: 4 characters a token).
    expect(routerUsage.inputTokens).toBe(Math.ceil((JSON.stringify(routerCall.messages).length + JSON.stringify(routerCall.tools ?? []).length) / 4));
    // No second router call: the delegate's answer ended the turn.
    expect(callsOf('local-supervisor', before)).toHaveLength(1);
    expect(callsOf('local-analyst', before)).toHaveLength(0);
    const router = callsOf('local-supervisor', before)[0].body;
    expect(router.tools.map((t: { function: { description: string } }) => t.function.description)).toEqual([
      expect.stringContaining('It should be the only tool called in the turn.'),
      expect.stringContaining('It should be the only tool called in the turn.'),
    ]);
  });

  test('memory: a session remembers earlier turns (DynamoDB item per session, TTL, bounded history); another session does not', async () => {
    const team = await agents('supervisor', { memory: { tableName: 'agent-sessions', ttlSeconds: 3600, maxTurns: 2 } }, {}, true);
    const session = `sess-${randomUUID()}`;
    const first = answered(await ask(team, 'What do the docs say about streaming?', session));
    expect(first.answer).not.toContain('Earlier in this session');
    const second = answered(await ask(team, 'And about quotas?', session));
    expect(second.answer).toContain('Earlier in this session: "What do the docs say about streaming?"');
    const third = answered(await ask(team, 'And residency?', session));
    expect(third.answer).toContain('Earlier in this session: "What do the docs say about streaming?", "And about quotas?"');
    // Only the last two turns are kept: the first prompt is gone from the fourth turn's history.
    const fourth = answered(await ask(team, 'Thanks.', session));
    expect(fourth.answer).toContain('Earlier in this session: "And about quotas?", "And residency?"');

    const other = answered(await ask(team, 'And about quotas?', `other-${randomUUID()}`));
    expect(other.answer).not.toContain('Earlier in this session');

    const item = (await dynamo.items('agent-sessions')).find((i) => i[MEMORY_TABLE_KEY].S === sessionKey(session))!;
    const expiresAt = Number(item[MEMORY_TABLE_TTL_ATTRIBUTE].N);
    expect(expiresAt).toBeGreaterThan(Date.now() / 1000 + 3500);
    expect(expiresAt).toBeLessThanOrEqual(Date.now() / 1000 + 3600);
    const snapshot = JSON.parse(item.snapshot.S!);
    // The instructions come from the deployment, not from the session.
    expect(snapshot.data).not.toHaveProperty('systemPrompt');
    const prompts = snapshot.data.messages.filter((m: { role: string; content: object[] }) => m.role === 'user' && m.content.some((b) => 'text' in b));
    expect(prompts.map((m: { content: { text: string }[] }) => m.content[0].text)).toEqual(['And residency?', 'Thanks.']);
  });

  test('session memory out of reach: the turn fails saying so (502 memory_unavailable), rather than answering without the session', async () => {
    const { config } = await agents('supervisor');
    const unreachable = new DynamoDBClient({ region: 'cn-northwest-1', endpoint: 'http://127.0.0.1:9', credentials: { accessKeyId: 'AKIALOCAL', secretAccessKey: 'local' }, maxAttempts: 1 });
    const models = new GatewayModels({ gateway: config.gateway, timeoutMs: 5000 });
    const team = new AgentTeam(config, { model: (alias) => models.model(alias), sessions: new DynamoSessionStorage({ client: unreachable, tableName: 'agent-sessions', ttlSeconds: 60, maxTurns: 2 }), log: () => undefined });
    const outcome = await team.invoke({ prompt: 'hello', sessionId: 'sess-1', requestId: 'r-1' });
    expect(outcome).toMatchObject({ ok: false, status: 502, code: 'memory_unavailable' });
    if (!outcome.ok) expect(outcome.message).toMatch(/^supervisor failed: cannot read the session from session memory \(DynamoDB table agent-sessions\): /);
  });

  test('a collaborator whose model fails (5xx): the supervisor reports it in its answer and the trace, and answers with the other', async () => {
    model.fail('local-failing', { kind: 'status', status: 503, message: 'the model service is down' });
    const team = await agents('supervisor', { collaborators: [{ model: 'local-failing' }] });
    const outcome = answered(await ask(team, USAGE_QUESTION));
    expect(outcome.answer).toMatch(/- analyst failed: 50\d .*the model service is down/);
    expect(outcome.answer).toContain('- librarian: The librarian found with doc-search___doc_search');
    const error = outcome.trace.find((e) => e.event === 'error')!;
    expect(error).toMatchObject({ agent: 'analyst', event: 'error' });
    expect(error.detail).toMatch(/the model service is down/);
    expect(logged).toContainEqual(expect.objectContaining({ level: 'error', msg: 'agent_trace', agent: 'analyst', event: 'error', detail: error.detail }));
  });

  test('a collaborator whose model hangs is cut off at its time limit; the supervisor still answers, in bounded time', async () => {
    model.fail('local-hanging', { kind: 'hang' });
    const team = await agents('supervisor', { timeouts: { agentSeconds: 10, overallSeconds: 30 }, collaborators: [{ model: 'local-hanging', timeoutSeconds: 2 }] });
    const started = Date.now();
    const outcome = answered(await ask(team, USAGE_QUESTION));
    expect(Date.now() - started).toBeLessThan(8000);
    expect(outcome.answer).toContain('- analyst failed: analyst did not finish within 2 s (timed out)');
    expect(outcome.trace).toContainEqual(expect.objectContaining({ agent: 'analyst', event: 'error', detail: 'analyst did not finish within 2 s (timed out)' }));
    expect(outcome.trace.find((e) => e.event === 'delegate' && e.to === 'analyst')!.ms).toBeGreaterThanOrEqual(1900);
  });

  test('a failing MCP tool is the collaborator\'s error in the trace; the collaborator reports it', async () => {
    const team = await agents('supervisor');
    // 2026-02-30 is no day: usage_summary refuses it, and the analyst reads the refusal.
    const outcome = answered(await ask(team, 'How many tokens did each team use on 2026-02-30?'));
    expect(outcome.trace).toContainEqual(expect.objectContaining({ agent: 'analyst', event: 'error', tool: 'usage-summary___usage_summary', detail: expect.stringContaining('from must be a day as YYYY-MM-DD') }));
    expect(outcome.answer).toContain('The usage analyst could not use usage-summary___usage_summary: from must be a day as YYYY-MM-DD');
  });

  test('a tool the configuration names but the MCP gateway does not offer is an error in the trace, not silently missing', async () => {
    const team = await agents('supervisor', { collaborators: [{ tools: ['usage_summary', 'cost_forecast'] }] });
    const outcome = answered(await ask(team, USAGE_QUESTION));
    expect(outcome.trace[0]).toEqual({ agent: 'analyst', event: 'error', tool: 'cost_forecast', ms: 0, detail: 'the MCP gateway offers no tool cost_forecast; it offers usage-summary___usage_summary, doc-search___doc_search' });
    // The tools it does have still work, and the answer is not marked as a failed delegation.
    expect(outcome.trace).toContainEqual(expect.objectContaining({ agent: 'analyst', event: 'tool', tool: 'usage-summary___usage_summary' }));
    expect(outcome.answer).not.toContain('failed');
  });

  test('the overall deadline ends an invocation that would outlast it: 504 with the trace so far, never a hang', async () => {
    model.fail('local-stuck', { kind: 'hang' });
    const team = await agents('supervisor', { timeouts: { agentSeconds: 2, overallSeconds: 2 }, collaborators: [{ model: 'local-stuck', timeoutSeconds: 60 }] });
    const started = Date.now();
    const outcome = await ask(team, USAGE_QUESTION);
    expect(Date.now() - started).toBeLessThan(6000);
    expect(outcome).toMatchObject({ ok: false, status: 504, code: 'deadline_exceeded', message: 'the agents did not finish within timeouts.overallSeconds (2 s)' });
    expect(outcome.trace.map((e) => e.event)).toEqual(expect.arrayContaining(['delegate', 'error']));
  });

  test('deployed auth: model calls are SigV4-signed for execute-api and tool calls for bedrock-agentcore, both verified; a wrong secret is refused, not hung on', async () => {
    const caller = { accessKeyId: 'AKIAAGENTSRUNTIME01', secretAccessKey: 'agents-runtime-secret', arn: 'arn:aws-cn:iam::111122223333:role/agents-runtime' };
    const start = (secretAccessKey: string) =>
      startLocalAgents({
        kitConfig: parseConfig({}),
        standInUrl: model.url,
        agents: (urls) => {
          const base = localAgentsConfig('supervisor', urls, 'cn-northwest-1');
          return parseAgentsConfig({ ...base, gateway: { ...base.gateway, auth: 'sigv4' }, tools: { ...base.tools, auth: 'sigv4' } });
        },
        tools: { s3: s3.client(), bucket: BUCKET },
        iam: { callers: [caller], credentials: { accessKeyId: caller.accessKeyId, secretAccessKey } },
        log: () => undefined,
        gatewayLog: () => undefined,
      }).then((started) => (running.push(started), started));

    const signed = answered(await ask(await start(caller.secretAccessKey), USAGE_QUESTION));
    expect(signed.trace.map((e) => `${e.agent} ${e.event} ${e.tool ?? e.to ?? ''}`)).toEqual(expect.arrayContaining(['analyst tool usage-summary___usage_summary', 'librarian tool doc-search___doc_search']));
    expect(signed.trace.some((e) => e.event === 'error')).toBe(false);

    const refused = await ask(await start('not-the-secret'), USAGE_QUESTION);
    expect(refused).toMatchObject({ ok: false, status: 502 });
    if (refused.ok) return;
    expect(refused.message).toMatch(/^supervisor failed: 403 .*signature/i);
    expect(refused.trace[0].detail).toMatch(/^the MCP tools could not be listed, the agents answer without them: .*signature we calculated does not match/);
  });

  test('deployed identity: each agent assumes its own role (CNLLM_AGENT_ROLE_ARNS) at the regional STS with the runtime\'s credentials and the gateway sees that role as the caller of its model calls', async () => {
    const sts = new AwsPartitionFake('aws-cn', '111122223333');
    await sts.start();
    try {
      const runtime = { accessKeyId: 'AKIAAGENTSRUNTIME02', secretAccessKey: 'operator-secret', arn: 'arn:aws-cn:iam::111122223333:user/agents-runtime' };
      sts.addKey(runtime.accessKeyId, 'agents-runtime');
      const agentNames = ['supervisor', 'analyst', 'librarian'];
      const roleArn = (agent: string) => `arn:aws-cn:iam::111122223333:role/cnllm-agent-${agent}`;
      const roleCallers = agentNames.map((agent) => ({ accessKeyId: `ASIA${agent.toUpperCase()}`, secretAccessKey: `${agent}-session-secret`, arn: `arn:aws-cn:sts::111122223333:assumed-role/cnllm-agent-${agent}/${agent}` }));
      agentNames.forEach((agent, i) => sts.addRole(roleArn(agent), ['agents-runtime'], { accessKeyId: roleCallers[i].accessKeyId, secretAccessKey: roleCallers[i].secretAccessKey, sessionToken: `token-${agent}` }));
      const gatewayLines: Record<string, unknown>[] = [];
      const start = (roles: Record<string, string>) =>
        startLocalAgents({
          kitConfig: parseConfig({}),
          standInUrl: model.url,
          agents: (urls) => {
            const base = localAgentsConfig('supervisor', urls, 'cn-northwest-1');
            return parseAgentsConfig({ ...base, gateway: { ...base.gateway, auth: 'sigv4' }, tools: { ...base.tools, auth: 'sigv4' } });
          },
          tools: { s3: s3.client(), bucket: BUCKET },
          // The gateway knows the runtime (which the MCP tool server checks too) and the agents' role sessions.
          iam: { callers: [runtime, ...roleCallers], credentials: { accessKeyId: runtime.accessKeyId, secretAccessKey: runtime.secretAccessKey }, agentRoles: { roles, stsEndpoint: sts.url } },
          log: () => undefined,
          gatewayLog: (line) => gatewayLines.push(line),
        }).then((started) => (running.push(started), started));

      const team = await start(Object.fromEntries(agentNames.map((a) => [a, roleArn(a)])));
      answered(await ask(team, USAGE_QUESTION));
      answered(await ask(team, USAGE_QUESTION));
      const callers = new Map<string, Set<unknown>>();
      for (const line of gatewayLines.filter((l) => l.msg === 'request')) {
        if (!callers.has(String(line.model))) callers.set(String(line.model), new Set());
        callers.get(String(line.model))!.add(line.caller);
      }
      expect(Object.fromEntries([...callers].map(([alias, set]) => [alias, [...set]]))).toEqual({
        'local-supervisor': [roleCallers[0].arn],
        'local-analyst': [roleCallers[1].arn],
        'local-librarian': [roleCallers[2].arn],
      });
      // One AssumeRole per role across both invocations: the sessions are cached until shortly before they expire.
      expect([...sts.assumed].sort()).toEqual(agentNames.map(roleArn).sort());

      // A role that does not trust the runtime: the agent's model call fails with STS's refusal, not as the runtime.
      sts.addRole('arn:aws-cn:iam::111122223333:role/cnllm-agent-untrusting', ['someone-else'], { accessKeyId: 'ASIAUNTRUSTING', secretAccessKey: 'x', sessionToken: 'x' });
      const refused = await ask(await start({ ...Object.fromEntries(agentNames.map((a) => [a, roleArn(a)])), supervisor: 'arn:aws-cn:iam::111122223333:role/cnllm-agent-untrusting' }), USAGE_QUESTION);
      expect(refused).toMatchObject({ ok: false });
      if (refused.ok) return;
      expect(refused.message).toMatch(/not authorized to perform: sts:AssumeRole/);
    } finally {
      await sts.stop();
    }
  });

  test('china-only residency: a collaborator on a cross-border model is refused by the gateway, never reaching Bedrock; the supervisor says so', async () => {
    const team = await agents('supervisor', { collaborators: [{ model: 'nova-lite' }] }, { routing: { residency: 'china-only' } });
    const outcome = answered(await ask(team, USAGE_QUESTION));
    expect(outcome.answer).toMatch(/- analyst failed: 403 .*residency/i);
    const error = outcome.trace.find((e) => e.event === 'error')!;
    expect(error.agent).toBe('analyst');
    expect(error.detail).toMatch(/^403 "nova-lite" is served outside mainland China and this request must stay in China \(residency\)/);
    expect(bedrock.connections).toBe(0);
  });

  test('china-only residency on the supervisor\'s own model: the invocation fails with the gateway\'s code (502 residency_violation)', async () => {
    const team = await agents('supervisor', { supervisor: { name: 'supervisor', model: 'nova-pro', instructions: 'Answer.' } }, { routing: { residency: 'china-only' } });
    const outcome = await ask(team, USAGE_QUESTION);
    expect(outcome).toMatchObject({ ok: false, status: 502, code: 'residency_violation' });
    if (outcome.ok) return;
    expect(outcome.message).toMatch(/^supervisor failed: 403 /);
    expect(outcome.trace).toEqual([expect.objectContaining({ agent: 'supervisor', event: 'error' })]);
    expect(bedrock.connections).toBe(0);
  });
});
