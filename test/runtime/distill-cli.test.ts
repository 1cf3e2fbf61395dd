import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { SFNClient } from '@aws-sdk/client-sfn';
import { executionInput, formatStatus, newRunId, runStatus, startRun } from '../../runtime/operator/distill-runs';
import { RUN_ID_PATTERN } from '../../runtime/operator/distill-layout';
import { SfnFake } from '../fakes/sfn-fake';
import { runCli } from '../helpers/cli';

const STATE_MACHINE = 'arn:aws-cn:states:cn-northwest-1:111122223333:stateMachine:cnllm-distill';
const target = { stateMachineArn: STATE_MACHINE, bucket: 'cnllm-weights-111122223333-cn-northwest-1' };

let fake: SfnFake;
let sfn: SFNClient;
beforeEach(async () => {
  fake = await new SfnFake().start();
  fake.stateMachines.add(STATE_MACHINE);
  sfn = new SFNClient({ region: 'cn-northwest-1', endpoint: fake.url, credentials: { accessKeyId: 'AKIACHINA', secretAccessKey: 's' }, maxAttempts: 1 });
});
afterEach(() => fake.stop());

/** The history events Step Functions records while a run moves through its states. */
function passThrough(executionArn: string, state: string, type: 'Task' | 'Choice', output: Record<string, unknown>) {
  fake.record(executionArn, { type: `${type}StateEntered`, stateEnteredEventDetails: { name: state, input: '{}' } }, { type: `${type}StateExited`, stateExitedEventDetails: { name: state, output: JSON.stringify(output) } });
}

describe('distill start', () => {
  test('starts the state machine with the run id as the execution name and the contract\'s input', async () => {
    const run = await startRun(sfn, target, { dataset: 'faq/v1', runId: 'run-1', adapterName: 'support-bot' });
    expect(run.executionArn).toBe('arn:aws-cn:states:cn-northwest-1:111122223333:execution:cnllm-distill:run-1');
    const [call] = fake.calls;
    expect(call.operation).toBe('StartExecution');
    expect(call.body.stateMachineArn).toBe(STATE_MACHINE);
    expect(call.body.name).toBe('run-1');
    expect(JSON.parse(call.body.input)).toEqual({ runId: 'run-1', dataset: { name: 'faq', version: 'v1' }, adapter: { name: 'support-bot', version: 'run-1' } });
    // Signed for Step Functions in the China region (the stand-in refuses anything else).
    expect(call.authorization).toMatch(/Credential=AKIACHINA\/\d{8}\/cn-northwest-1\/states\/aws4_request/);
  });

  test('the same run again is the same run; the same id with other settings is refused with the fix', async () => {
    const first = await startRun(sfn, target, { dataset: 'faq/v1', runId: 'run-1', adapterName: 'support-bot', adapterVersion: 'v3' });
    const again = await startRun(sfn, target, { dataset: 'faq/v1', runId: 'run-1', adapterName: 'support-bot', adapterVersion: 'v3' });
    expect(again.executionArn).toBe(first.executionArn);
    expect(fake.executions.size).toBe(1);
    await expect(startRun(sfn, target, { dataset: 'faq/v2', runId: 'run-1', adapterName: 'support-bot' })).rejects.toThrow('run run-1 exists already with other settings: pick another --run-id');
  });

  test('a state machine that is not deployed says how to deploy it', async () => {
    fake.stateMachines.clear();
    await expect(startRun(sfn, target, { dataset: 'faq/v1', adapterName: 'a' })).rejects.toThrow(/does not exist: deploy the Distill stack first \(npm run cdk -- deploy <prefix>-Distill -c stacks\.distill=true\)/);
  });

  test('bad dataset, run id or adapter name never reach the service', () => {
    expect(() => executionInput({ dataset: 'faq', adapterName: 'a' })).toThrow(/--dataset faq: expected <name>\/<version>/);
    expect(() => executionInput({ dataset: 'faq/v1/x', adapterName: 'a' })).toThrow(/expected <name>\/<version>/);
    expect(() => executionInput({ dataset: 'faq/v1', runId: 'Run_1', adapterName: 'a' })).toThrow(/--run-id Run_1: use 1-40 lower-case letters and digits/);
    expect(() => executionInput({ dataset: 'faq/v1', adapterName: 'Support Bot' })).toThrow(/--adapter-name Support Bot/);
    expect(fake.calls).toEqual([]);
  });

  test('default run ids sort by start time and fit the SageMaker job name', () => {
    const id = newRunId(new Date('2026-12-02T04:05:06Z'));
    expect(id).toMatch(/^20261202-040506-[0-9a-f]{4}$/);
    expect(RUN_ID_PATTERN.test(id)).toBe(true);
    expect(`cnllm-distill-${id}`.length).toBeLessThanOrEqual(63);
  });
});

describe('distill status', () => {
  test('a running run: the state it is in, how often the teacher ran, each finished step\'s counts, where the report will be', async () => {
    const { executionArn } = await startRun(sfn, target, { dataset: 'faq/v1', runId: 'run-2', adapterName: 'support-bot' });
    passThrough(executionArn, 'Export', 'Task', { runId: 'run-2', steps: { export: { done: true, prompts: 1200 } } });
    passThrough(executionArn, 'Teacher', 'Task', { runId: 'run-2', steps: { export: { done: true, prompts: 1200 }, teacher: { done: false, answered: 400 } } });
    passThrough(executionArn, 'TeacherDone?', 'Choice', { runId: 'run-2', steps: { export: { done: true, prompts: 1200 }, teacher: { done: false, answered: 400 } } });
    fake.record(executionArn, { type: 'TaskStateEntered', stateEnteredEventDetails: { name: 'Teacher', input: '{}' } });
    fake.pageSize = 2; // the history comes in pages

    const status = await runStatus(sfn, target, 'run-2');
    expect(status).toEqual(
      expect.objectContaining({
        runId: 'run-2',
        status: 'RUNNING',
        currentStep: 'Teacher',
        teacherCalls: 2,
        steps: { export: { done: true, prompts: 1200 }, teacher: { done: false, answered: 400 } },
        report: 's3://cnllm-weights-111122223333-cn-northwest-1/distill/runs/run-2/eval/report.md',
        adapter: { name: 'support-bot', version: 'run-2', location: 's3://cnllm-weights-111122223333-cn-northwest-1/adapters/support-bot/run-2/' },
      }),
    );
    expect(fake.calls.filter((c) => c.operation === 'GetExecutionHistory').length).toBeGreaterThan(2);
    expect(formatStatus(status)).toContain('run run-2: RUNNING (now in Teacher)');
    expect(formatStatus(status)).toContain('  teacher: done false, answered 400');
    expect(formatStatus(status)).toContain('(written by the evaluate step)');
  });

  test('a rejected adapter: FAILED with the score in the cause', async () => {
    const { executionArn } = await startRun(sfn, target, { dataset: 'faq/v1', runId: 'run-3', adapterName: 'support-bot' });
    passThrough(executionArn, 'Evaluate', 'Task', { steps: { evaluate: { done: true, promote: false, score: 0.41, winRate: 0.38 } } });
    fake.record(executionArn, { type: 'FailStateEntered', stateEnteredEventDetails: { name: 'NotPromoted', input: '{}' } });
    fake.finish(executionArn, { status: 'FAILED', error: 'AdapterNotPromoted', cause: 'score 0.41 (win rate 0.38) is below promoteThreshold 0.5' });
    const status = await runStatus(sfn, target, 'run-3');
    expect(status).toEqual(expect.objectContaining({ status: 'FAILED', currentStep: 'NotPromoted', error: 'AdapterNotPromoted', steps: { evaluate: { done: true, promote: false, score: 0.41, winRate: 0.38 } } }));
    expect(formatStatus(status)).toContain('error AdapterNotPromoted: score 0.41 (win rate 0.38) is below promoteThreshold 0.5');
  });

  test('an unknown run says so', async () => {
    await expect(runStatus(sfn, target, 'nope')).rejects.toThrow('run nope does not exist (no execution arn:aws-cn:states:cn-northwest-1:111122223333:execution:cnllm-distill:nope)');
  });
});

describe('npm run distill (the CLI, against the loopback stand-in through the China profile)', () => {
  test('start then status; errors are one line and exit 1', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cnllm-profiles-'));
    fs.writeFileSync(path.join(dir, 'config'), `[profile china]\nregion = cn-northwest-1\nendpoint_url = ${fake.url}\n`);
    fs.writeFileSync(path.join(dir, 'credentials'), '[china]\naws_access_key_id = AKIACHINA\naws_secret_access_key = s\n');
    const env = { PATH: process.env.PATH, HOME: dir, AWS_CONFIG_FILE: path.join(dir, 'config'), AWS_SHARED_CREDENTIALS_FILE: path.join(dir, 'credentials') };

    const started = await runCli('scripts/distill.ts', ['start', '--dataset', 'faq/v1', '--run-id', 'cli-1'], env);
    expect(started.stdout).toContain('started run cli-1 on dataset faq/v1');
    expect(started.stdout).toContain('adapter   s3://cnllm-weights-111122223333-cn-northwest-1/adapters/qwen2-5-1-5b-instruct-distilled/cli-1/');
    expect(JSON.parse(fake.calls[0].body.input).adapter).toEqual({ name: 'qwen2-5-1-5b-instruct-distilled', version: 'cli-1' });

    const status = await runCli('scripts/distill.ts', ['status', '--run-id', 'cli-1', '--json'], env);
    expect(JSON.parse(status.stdout)).toEqual(expect.objectContaining({ runId: 'cli-1', status: 'RUNNING', executionArn: 'arn:aws-cn:states:cn-northwest-1:111122223333:execution:cnllm-distill:cli-1' }));

    const missing = await runCli('scripts/distill.ts', ['start'], env).catch((e) => e);
    expect(missing.code).toBe(1);
    // (Node 20 adds the SDK's version warning on stderr; the CLI's own message is one line.)
    expect(missing.stderr).toMatch(/^distill: start needs --dataset <name>\/<version> \(the prompts under distill\/datasets\/\)$/m);
    const unknown = await runCli('scripts/distill.ts', ['status', '--run-id', 'gone'], env).catch((e) => e);
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toMatch(/^distill: run gone does not exist/m);
  });
});
