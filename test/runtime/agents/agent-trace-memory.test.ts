import type { Snapshot } from '@strands-agents/sdk';
import { withFailuresNoted } from '../../../runtime/agents/agent-team';
import { DynamoSessionStorage, MEMORY_TABLE_KEY } from '../../../runtime/agents/memory';
import { InvocationTrace, TraceEvent } from '../../../runtime/agents/trace';
import { formatTraceTree } from '../../../runtime/agents/trace-tree';
import { ensureSessionTable } from '../../../scripts/local/local-agents';
import { DynamoDbLocal } from '../../fakes/dynamodb-local';

const TRACE: TraceEvent[] = [
  { agent: 'supervisor', event: 'delegate', to: 'analyst', ms: 900, detail: 'tokens per team?' },
  { agent: 'supervisor', event: 'delegate', to: 'librarian', ms: 400, detail: 'residency docs?' },
  { agent: 'analyst', event: 'tool', tool: 'usage-summary___usage_summary', ms: 300, detail: '{"from":"2026-11-30","to":"2026-11-30"}' },
  { agent: 'librarian', event: 'error', inputTokens: 10, outputTokens: 0, ms: 400, detail: '502 the model service is down' },
  { agent: 'analyst', event: 'answer', inputTokens: 800, outputTokens: 100, ms: 880, detail: 'search used 127530 tokens' },
  { agent: 'supervisor', event: 'answer', inputTokens: 1000, outputTokens: 200, ms: 1500, detail: 'Search used 127530 tokens.' },
];

describe('trace', () => {
  test('as a tree: each collaborator\'s steps under the delegation to it, then tokens per agent', () => {
    expect(formatTraceTree(TRACE, 'supervisor')).toBe(
      [
        'supervisor',
        '├─ delegate → analyst [900 ms]: tokens per team?',
        '│  ├─ tool usage-summary___usage_summary [300 ms]: {"from":"2026-11-30","to":"2026-11-30"}',
        '│  └─ answer (analyst) [880 ms 800/100 tokens]: search used 127530 tokens',
        '├─ delegate → librarian [400 ms]: residency docs?',
        '│  └─ ERROR (librarian) [400 ms 10/0 tokens]: 502 the model service is down',
        '└─ answer (supervisor) [1500 ms 1000/200 tokens]: Search used 127530 tokens.',
        'tokens (in/out): librarian 10/0, analyst 800/100, supervisor 1000/200; total 1810/300',
      ].join('\n'),
    );
  });

  test('log lines carry the content only with logContent; errors always say what failed', () => {
    for (const logContent of [false, true]) {
      const lines: Record<string, unknown>[] = [];
      let clock = 1000;
      const trace = new InvocationTrace({ requestId: 'r', sessionId: 's', logContent, log: (l) => lines.push(l) }, () => clock);
      const step = trace.begin({ agent: 'supervisor', event: 'delegate', to: 'analyst', detail: 'the customer\'s question' });
      clock += 250;
      expect(step.end()).toBe(250);
      trace.add({ agent: 'analyst', event: 'error', ms: 0, detail: 'timed out' });
      expect(trace.events[0]).toEqual({ agent: 'supervisor', event: 'delegate', to: 'analyst', detail: 'the customer\'s question', ms: 250 });
      expect(lines[0]).toEqual({ level: 'info', msg: 'agent_trace', requestId: 'r', sessionId: 's', agent: 'supervisor', event: 'delegate', to: 'analyst', ms: 250, ...(logContent && { detail: 'the customer\'s question' }) });
      expect(lines[1]).toMatchObject({ level: 'error', agent: 'analyst', event: 'error', detail: 'timed out' });
    }
  });

  test('a collaborator failure the supervisor\'s answer leaves out is added to it; one it names is not repeated', () => {
    const collaborators = new Set(['analyst', 'librarian']);
    expect(withFailuresNoted('Search used 127530 tokens.', TRACE, collaborators)).toBe('Search used 127530 tokens.\n\n(librarian failed: 502 the model service is down)');
    expect(withFailuresNoted('The librarian was unavailable. Search used 127530 tokens.', TRACE, collaborators)).toBe('The librarian was unavailable. Search used 127530 tokens.');
    // A tool error inside a collaborator is the collaborator's to report.
    expect(withFailuresNoted('ok', [{ agent: 'analyst', event: 'error', tool: 'x', ms: 0, detail: 'bad input' }], collaborators)).toBe('ok');
  });
});

describe('session memory (DynamoDB)', () => {
  const dynamo = new DynamoDbLocal();
  beforeAll(async () => {
    await dynamo.start();
    await ensureSessionTable(dynamo.client(), 'sessions');
    // Creating it again (a second local run) is not an error.
    await ensureSessionTable(dynamo.client(), 'sessions');
  });
  afterAll(() => dynamo.stop());

  const turn = (n: number, answerChars = 10) => [
    { role: 'user', content: [{ text: `prompt ${n}` }] },
    { role: 'assistant', content: [{ toolUse: { name: 'analyst', toolUseId: `t${n}`, input: { input: `prompt ${n}` } } }] },
    { role: 'user', content: [{ toolResult: { toolUseId: `t${n}`, status: 'success', content: [{ text: 'figures' }] } }] },
    { role: 'assistant', content: [{ text: `answer ${n} ${'x'.repeat(answerChars)}` }] },
  ];
  const snapshot = (messages: object[]): Snapshot => ({ scope: 'agent', schemaVersion: '1.0', createdAt: '2026-12-01T00:00:00Z', data: { messages: messages as never, systemPrompt: 'old instructions', state: {} }, appData: {} });
  const location = { sessionId: 's-abc', scope: 'agent' as const, scopeId: 'supervisor' };

  test('keeps the last maxTurns turns (a turn: the prompt and everything up to the next), and never an item DynamoDB would refuse', async () => {
    let now = Date.parse('2026-12-01T00:00:00Z');
    const storage = new DynamoSessionStorage({ client: dynamo.client(), tableName: 'sessions', ttlSeconds: 600, maxTurns: 2, now: () => now });
    await storage.saveSnapshot({ location, snapshotId: 'latest', isLatest: true, snapshot: snapshot([...turn(1), ...turn(2), ...turn(3)]) });
    const loaded = (await storage.loadSnapshot({ location }))!;
    expect((loaded.data.messages as { content: { text?: string }[] }[]).map((m) => m.content[0].text).filter(Boolean)).toEqual(['prompt 2', 'answer 2 xxxxxxxxxx', 'prompt 3', 'answer 3 xxxxxxxxxx']);
    expect(loaded.data).not.toHaveProperty('systemPrompt');

    // Two turns of 200 KB each: over DynamoDB's 400 KB item limit, so the older one goes too.
    await storage.saveSnapshot({ location, snapshotId: 'latest', isLatest: true, snapshot: snapshot([...turn(4, 200 * 1024), ...turn(5, 200 * 1024)]) });
    const bounded = (await storage.loadSnapshot({ location }))!;
    expect((bounded.data.messages as object[]).length).toBe(4);
    expect(JSON.stringify(bounded.data.messages)).toContain('prompt 5');

    // Another agent's scope, or an expired item DynamoDB has not deleted yet, is not this session's memory.
    expect(await storage.loadSnapshot({ location: { ...location, scopeId: 'router' } })).toBeNull();
    now += 601 * 1000;
    expect(await storage.loadSnapshot({ location })).toBeNull();
    expect((await dynamo.items('sessions')).map((i) => i[MEMORY_TABLE_KEY].S)).toEqual(['s-abc']);
    await storage.deleteSession({ sessionId: 's-abc' });
    expect(await dynamo.items('sessions')).toEqual([]);
  });
});
