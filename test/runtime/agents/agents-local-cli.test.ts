import { execFile } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { promisify } from 'util';
import { cliEnv, REPO_ROOT } from '../../helpers/cli';

/** `npm run agents:local -- "question"`: the whole local stack in one command, as a developer runs it. */
describe('npm run agents:local', () => {
  const workDir = fs.mkdtempSync(path.join(os.tmpdir(), 'cnllm-agents-local-'));
  afterAll(() => fs.rmSync(workDir, { recursive: true, force: true }));

  // From a directory of its own: the session store (.cnllm-local/agents-memory) lands there, not in the repository.
  const run = (args: string[]) => promisify(execFile)(process.execPath, [path.join(REPO_ROOT, 'scripts', 'run-ts.cjs'), path.join(REPO_ROOT, 'scripts', 'agents-local.ts'), ...args], { cwd: workDir, env: cliEnv(), timeout: 90000 });

  test('supervisor mode prints the answer and the trace as a tree; a session is remembered across runs', async () => {
    const first = await run(['How many tokens did each team use, and what do the docs say about residency?', '--session', 'demo-1']);
    expect(first.stdout).toMatch(/^Answer to "How many tokens did each team use, and what do the docs say about residency\?":\n- analyst: The usage analyst found with usage-summary___usage_summary: group search, model qwen-max/);
    expect(first.stdout).toMatch(/\nsupervisor mode, session demo-1 \(remembered\)\nsupervisor\n├─ delegate → analyst \[\d+ ms\]: How many tokens/);
    expect(first.stdout).toMatch(/│ {2}├─ tool usage-summary___usage_summary \[\d+ ms\]: \{"from":"\d{4}-\d{2}-\d{2}","to":"\d{4}-\d{2}-\d{2}"\}/);
    expect(first.stdout).toMatch(/└─ answer \(supervisor\) \[\d+ ms \d+\/\d+ tokens\]/);
    expect(first.stdout).toMatch(/^tokens \(in\/out\): .*total \d+\/\d+$/m);
    expect(fs.existsSync(path.join(workDir, '.cnllm-local', 'agents-memory'))).toBe(true);

    const second = await run(['And about streaming?', '--session', 'demo-1']);
    expect(second.stdout).toContain('Earlier in this session: "How many tokens did each team use, and what do the docs say about residency?"');
  }, 180000);

  test('--mode routing hands the question to one collaborator; --json prints the /invocations body', async () => {
    const { stdout } = await run(['What do the docs say about streaming?', '--mode', 'routing', '--json']);
    const body = JSON.parse(stdout);
    expect(body.answer).toMatch(/^The librarian found with doc-search___doc_search: key docs\/streaming\.md, title Streaming in China/);
    expect(body.trace.filter((e: { event: string }) => e.event === 'delegate')).toEqual([expect.objectContaining({ agent: 'supervisor', to: 'librarian' })]);
  }, 120000);

  test('a bad --mode is refused with the choices', async () => {
    await expect(run(['hello', '--mode', 'swarm'])).rejects.toMatchObject({ code: 1, stderr: expect.stringContaining('agents:local: --mode swarm: use supervisor or routing') });
  }, 60000);
});
