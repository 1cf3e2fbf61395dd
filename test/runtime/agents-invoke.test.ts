import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { formatTrace, invokeOnAgentCore } from '../../runtime/agents-client/invoke';
import { AgentCoreFake } from '../fakes/agentcore-fake';
import { runCli } from '../helpers/cli';

const REGION = 'cn-northwest-1';
const ARN = 'arn:aws-cn:bedrock-agentcore:cn-northwest-1:111122223333:runtime/cnllm_agents-AbCdE12345';
const CALLER = { accessKeyId: 'AKIACHINA', secretAccessKey: 'china-secret', arn: 'arn:aws-cn:iam::111122223333:user/operator' };

const TRACE = [
  { agent: 'supervisor', event: 'delegate', to: 'researcher', ms: 3 },
  { agent: 'researcher', event: 'tool', tool: 'docs___search_docs', ms: 120.4, detail: '2 passages' },
  { agent: 'researcher', event: 'answer', inputTokens: 812, outputTokens: 95, ms: 1500 },
  { agent: 'supervisor', event: 'answer', inputTokens: 1200, outputTokens: 150, ms: 2100 },
];

describe('npm run agents -- invoke, against a loopback AgentCore (InvokeAgentRuntime wire format, SigV4)', () => {
  let fake: AgentCoreFake;
  let home: string;
  const run = (...args: string[]) => runCli('scripts/agents.ts', args, { PATH: process.env.PATH, HOME: home, AWS_CONFIG_FILE: path.join(home, 'config'), AWS_SHARED_CREDENTIALS_FILE: path.join(home, 'credentials') });

  beforeAll(async () => {
    fake = await new AgentCoreFake([CALLER], REGION).start();
    fake.runtimes = [{ agentRuntimeName: 'other_agents', agentRuntimeArn: 'arn:aws-cn:bedrock-agentcore:cn-northwest-1:111122223333:runtime/other_agents-ZzZzZ99999' }, { agentRuntimeName: 'cnllm_agents', agentRuntimeArn: ARN }];
    fake.answer = (req, sessionId) => ({ status: 200, body: { answer: `42 (${req.prompt})`, sessionId, trace: TRACE } });
    home = fs.mkdtempSync(path.join(os.tmpdir(), 'cnllm-agents-'));
    fs.writeFileSync(path.join(home, 'config'), `[profile china]\nregion = ${REGION}\nendpoint_url = ${fake.url}\n`);
    fs.writeFileSync(path.join(home, 'credentials'), `[china]\naws_access_key_id = ${CALLER.accessKeyId}\naws_secret_access_key = ${CALLER.secretAccessKey}\n`);
  });
  afterAll(() => fake.stop());

  test('finds the kit\'s runtime by name across ListAgentRuntimes pages, invokes it signed, prints answer, session and trace', async () => {
    const out = await run('invoke', 'How', 'many', 'tokens?');
    const call = fake.invocations.at(-1)!;
    expect(call.runtimeArn).toBe(ARN);
    expect(call.caller).toBe(CALLER.arn);
    expect(call.headers['content-type']).toBe('application/json');
    expect(call.headers.authorization).toMatch(new RegExp(`Credential=AKIACHINA/\\d{8}/${REGION}/bedrock-agentcore/aws4_request`));
    const sessionId = call.headers['x-amzn-bedrock-agentcore-runtime-session-id'];
    expect(sessionId).toMatch(/^[0-9a-f-]{36}$/);
    expect(JSON.parse(call.body)).toEqual({ prompt: 'How many tokens?', sessionId });
    expect(out.stdout).toContain('42 (How many tokens?)');
    expect(out.stdout).toContain(`session: ${sessionId}`);
    expect(out.stdout).toMatch(/supervisor\s+delegate -> researcher\s+3 ms/);
    expect(out.stdout).toMatch(/researcher\s+tool docs___search_docs\s+120 ms {2}2 passages/);
    expect(out.stdout).toMatch(/supervisor\s+answer\s+2100 ms {2}tokens in 1200 \/ out 150/);
  });

  test('--session continues a session; --runtime-arn skips the lookup', async () => {
    const session = 'a'.repeat(20) + '-session-continued-0001';
    const before = fake.invocations.length;
    await run('invoke', 'and now?', '--session', session, '--runtime-arn', ARN);
    expect(fake.invocations).toHaveLength(before + 1);
    expect(fake.invocations.at(-1)!.headers['x-amzn-bedrock-agentcore-runtime-session-id']).toBe(session);
  });

  test('failures exit 1 with one line that says what went wrong', async () => {
    const missing = await run('invoke', 'hi', '--runtime-arn', 'arn:aws-cn:bedrock-agentcore:cn-northwest-1:111122223333:runtime/gone-AbCdE00000').catch((e) => e);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(/^agents: invoke failed: ResourceNotFoundException: Runtime arn:aws-cn:.*gone-AbCdE00000 not found/m);
    const noQuestion = await run('invoke').catch((e) => e);
    expect(noQuestion.stderr).toMatch(/^agents: invoke needs the question/m);
    const wrongKey = fs.readFileSync(path.join(home, 'credentials'), 'utf8');
    fs.writeFileSync(path.join(home, 'credentials'), wrongKey.replace(CALLER.secretAccessKey, 'wrong'));
    try {
      const denied = await run('invoke', 'hi', '--runtime-arn', ARN).catch((e) => e);
      expect(denied.code).toBe(1);
      expect(denied.stderr).toMatch(/^agents: invoke failed: InvalidSignatureException/m);
    } finally {
      fs.writeFileSync(path.join(home, 'credentials'), wrongKey);
    }
  });

  test('an answer outside the contract is reported, not printed as if it were one', async () => {
    fake.answer = () => ({ status: 200, body: { text: 'hello' } });
    await expect(invokeOnAgentCore({ region: REGION, credentials: CALLER, endpoint: fake.url, runtimeArn: ARN, prompt: 'x', timeoutMs: 5000 })).rejects.toThrow(/answered outside the agents contract \(answer: .*; sessionId: .*; trace: /);
  });
});

test('formatTrace aligns agents and shows tokens only where the runtime reported them', () => {
  expect(formatTrace([{ agent: 'a', event: 'delegate', to: 'writer', ms: 1 }, { agent: 'writer', event: 'error', ms: 2, detail: 'model timeout' }])).toEqual([
    `  a       ${'delegate -> writer'.padEnd(36)}       1 ms`,
    `  writer  ${'error'.padEnd(36)}       2 ms  model timeout`,
  ]);
});
