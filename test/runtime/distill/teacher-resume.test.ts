import { spawn } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { collectAnswers, readAnswers } from '../../../runtime/distill/answer-log';
import { parsePrompts, promptHash } from '../../../runtime/distill/dataset';
import { GatewayClient, retryAfterMs } from '../../../runtime/distill/gateway-client';
import { LocalDirStorage } from '../../../runtime/distill/storage';
import { LocalGateway } from '../../../runtime/local/local-gateway';
import { startDistillGateway } from '../../../scripts/local/distill-gateway';
import { BedrockFake } from '../../fakes/bedrock-fake';
import { CountingTeacher } from '../../fakes/counting-teacher';
import { cliEnv, REPO_ROOT, runCli } from '../../helpers/cli';

const PROMPTS = parsePrompts(fs.readFileSync(path.join(REPO_ROOT, 'examples/distill/prompts.jsonl'), 'utf8'), 'examples');

describe('teacher answers: retries, records, deadline', () => {
  let teacher: CountingTeacher;
  let storage: LocalDirStorage;
  beforeEach(async () => {
    teacher = await new CountingTeacher().start();
    storage = new LocalDirStorage(fs.mkdtempSync(path.join(os.tmpdir(), 'cnllm-teacher-')));
  });
  afterEach(() => teacher.stop());

  test('Retry-After is honoured in seconds, as a date, and as retry-after-ms', () => {
    expect(retryAfterMs(new Headers({ 'retry-after': '3' }))).toBe(3000);
    expect(retryAfterMs(new Headers({ 'retry-after-ms': '250', 'retry-after': '3' }))).toBe(250);
    expect(retryAfterMs(new Headers({ 'retry-after': new Date(10_000).toUTCString() }), 4000)).toBe(6000);
    expect(retryAfterMs(new Headers({ 'retry-after': 'soon' }))).toBeUndefined();
    expect(retryAfterMs(new Headers())).toBeUndefined();
  });

  test('429 and 5xx are retried (waiting what Retry-After says), a 400 is recorded as failed, and each record keeps alias, hash, usage, finish_reason and reasoning', async () => {
    const waits: number[] = [];
    const client = new GatewayClient({ baseUrl: `${teacher.url}/v1`, sleep: async (ms) => void waits.push(ms), baseDelayMs: 10 });
    teacher.failures.push({ status: 429, headers: { 'retry-after': '2' } }, { status: 503 }, { status: 400 });
    const prompts = PROMPTS.slice(0, 3);
    const result = await collectAnswers({ storage, key: 'answers.jsonl', client, model: 'qwen-max', prompts, samplesPerPrompt: 2, concurrency: 1 });
    expect(result).toEqual({ done: true, total: 6, alreadyAnswered: 0, answeredNow: 5, failedNow: 1, remaining: 0 });
    expect(waits[0]).toBe(2000);
    expect(waits).toHaveLength(2);
    expect(teacher.asked).toHaveLength(8);
    const { records } = readAnswers(await storage.read('answers.jsonl'));
    expect(records.filter((r) => r.error)).toEqual([expect.objectContaining({ error: { message: expect.stringContaining('answered 400'), status: 400 } })]);
    const ok = records.find((r) => !r.error)!;
    expect(ok).toEqual(
      expect.objectContaining({
        model: 'qwen-max',
        promptHash: promptHash(ok.messages),
        finish_reason: 'stop',
        usage: { prompt_tokens: 5, completion_tokens: 4, total_tokens: 9 },
        reasoning_content: expect.stringMatching(/^thinking about /),
      }),
    );
    expect(new Set(records.map((r) => r.key)).size).toBe(6);
    expect(new Set(records.map((r) => r.sample))).toEqual(new Set([0, 1]));
  });

  test('a throttled prompt whose Retry-After ends past the deadline is left for the next invocation, not recorded as failed', async () => {
    const client = new GatewayClient({ baseUrl: `${teacher.url}/v1` });
    teacher.failures.push({ status: 429, headers: { 'retry-after': '30' } });
    const prompts = PROMPTS.slice(0, 3);
    const first = await collectAnswers({ storage, key: 'a.jsonl', client, model: 't', prompts, concurrency: 1, deadline: Date.now() + 10000 });
    expect(first).toEqual(expect.objectContaining({ done: false, answeredNow: 2, failedNow: 0, remaining: 1 }));
    const second = await collectAnswers({ storage, key: 'a.jsonl', client, model: 't', prompts, concurrency: 1 });
    expect(second).toEqual(expect.objectContaining({ done: true, alreadyAnswered: 2, answeredNow: 1, failedNow: 0 }));
    expect(readAnswers(await storage.read('a.jsonl')).records.filter((r) => r.error)).toEqual([]);
  });

  test('past the deadline no request starts: the answers so far are saved and the next call finishes the rest', async () => {
    // 12 prompts at 0.5 s, 2 at a time, need 3 s; the deadline allows 2.
    teacher.delayMs = 500;
    const client = new GatewayClient({ baseUrl: `${teacher.url}/v1` });
    const prompts = PROMPTS.slice(0, 12);
    const first = await collectAnswers({ storage, key: 'a.jsonl', client, model: 't', prompts, concurrency: 2, deadline: Date.now() + 2000, flushIntervalMs: 60000 });
    expect(first.done).toBe(false);
    expect(first.answeredNow).toBeGreaterThan(0);
    expect(first.remaining).toBe(12 - first.answeredNow);
    expect(readAnswers(await storage.read('a.jsonl')).records).toHaveLength(first.answeredNow);
    teacher.delayMs = 0;
    const second = await collectAnswers({ storage, key: 'a.jsonl', client, model: 't', prompts, concurrency: 2 });
    expect(second).toEqual(expect.objectContaining({ done: true, alreadyAnswered: first.answeredNow, answeredNow: 12 - first.answeredNow }));
    expect(teacher.asked).toHaveLength(12);
  });
});

describe('npm run distill:local killed during the teacher step resumes without asking twice', () => {
  let bedrock: BedrockFake;
  let teacher: CountingTeacher;
  let gateway: LocalGateway;
  beforeAll(async () => {
    [bedrock, teacher] = await Promise.all([new BedrockFake().start(), new CountingTeacher().start()]);
    gateway = await startDistillGateway({ bedrockEndpoint: bedrock.url, providers: [{ name: 'cn-teacher', baseUrl: `${teacher.url}/v1`, alias: 'qwen-teacher', crossBorder: false }], log: () => undefined });
  });
  afterAll(async () => {
    await gateway.close();
    await Promise.all([bedrock.stop(), teacher.stop()]);
  });

  test('SIGKILL mid-run, then a rerun asks only for the prompts without a saved answer', async () => {
    const out = fs.mkdtempSync(path.join(os.tmpdir(), 'cnllm-distill-kill-'));
    const args = ['--gateway', `${gateway.url}/v1`, '--teacher', 'qwen-teacher', '--steps', 'export,teacher', '--concurrency', '2', '--out', out];
    teacher.delayMs = 150;
    const child = spawn(process.execPath, [path.join(REPO_ROOT, 'scripts/run-ts.cjs'), 'scripts/distill-local.ts', ...args], { cwd: REPO_ROOT, env: cliEnv(), stdio: 'ignore' });
    const exited = new Promise((resolve) => child.on('exit', resolve));
    const deadline = Date.now() + 60000;
    while (teacher.asked.length < 12 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    child.kill('SIGKILL');
    await exited;
    const answersFile = path.join(out, 'teacher', 'answers.jsonl');
    const saved = readAnswers(fs.readFileSync(answersFile, 'utf8')).records;
    expect(saved.length).toBeGreaterThanOrEqual(8);
    expect(saved.length).toBeLessThan(PROMPTS.length);
    const askedBefore = teacher.asked.length;

    teacher.delayMs = 0;
    const rerun = await runCli('scripts/distill-local.ts', args);
    expect(rerun.stderr).toContain(`${PROMPTS.length - saved.length} answered now, ${saved.length} from an earlier run`);
    const askedAgain = teacher.asked.slice(askedBefore);
    // Only the prompts without a saved answer: those in flight at the kill, and those never started.
    expect(askedAgain).toHaveLength(PROMPTS.length - saved.length);
    const savedQuestions = new Set(saved.map((r) => String(r.messages.at(-1)!.content)));
    expect(askedAgain.filter((q) => savedQuestions.has(q))).toEqual([]);
    const all = readAnswers(fs.readFileSync(answersFile, 'utf8')).records;
    expect(all).toHaveLength(PROMPTS.length);
    expect(new Set(all.map((r) => r.promptHash)).size).toBe(PROMPTS.length);
  });
});
