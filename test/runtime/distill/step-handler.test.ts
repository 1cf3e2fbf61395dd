import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { GetObjectCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { sigv4Fetch } from '../../../runtime/client/sigv4-fetch';
import { layout, parsePrompts } from '../../../runtime/distill/dataset';
import { createStepHandler, gatewayFetch } from '../../../runtime/distill/step-handler';
import { LocalGateway } from '../../../runtime/local/local-gateway';
import { startDistillGateway } from '../../../scripts/local/distill-gateway';
import { BedrockFake } from '../../fakes/bedrock-fake';
import { CountingTeacher } from '../../fakes/counting-teacher';
import { JudgeFake } from '../../fakes/judge-fake';
import { OpenAiUpstreamFake } from '../../fakes/openai-upstream-fake';
import { REPO_ROOT } from '../../helpers/cli';

// s3rver ships no types; the part used here.
// eslint-disable-next-line @typescript-eslint/no-require-imports
const S3rver = require('s3rver') as new (o: object) => { run(): Promise<{ port: number }>; close(): Promise<void> };

const BUCKET = 'cnllm-weights';
const PROMPTS_TEXT = fs.readFileSync(path.join(REPO_ROOT, 'examples/distill/prompts.jsonl'), 'utf8');
const PROMPT_COUNT = parsePrompts(PROMPTS_TEXT, 'examples').length;

describe('distill step handler (Lambda) against loopback S3 and the kit gateway', () => {
  let s3server: InstanceType<typeof S3rver>;
  let s3: S3Client;
  let bedrock: BedrockFake;
  let teacher: CountingTeacher;
  let student: OpenAiUpstreamFake;
  let judge: JudgeFake;
  let gateway: LocalGateway;
  let base: Record<string, unknown>;

  const put = (key: string, body: string) => s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: key, Body: body }));
  const get = async (key: string) => (await s3.send(new GetObjectCommand({ Bucket: BUCKET, Key: key }))).Body!.transformToString();
  const lambdaContext = (ms: number) => ({ getRemainingTimeInMillis: () => ms });

  beforeAll(async () => {
    s3server = new S3rver({ address: '127.0.0.1', port: 0, silent: true, directory: fs.mkdtempSync(path.join(os.tmpdir(), 'cnllm-s3rver-')), configureBuckets: [{ name: BUCKET, configs: [] }] });
    const { port } = await s3server.run();
    s3 = new S3Client({ region: 'cn-northwest-1', endpoint: `http://127.0.0.1:${port}`, forcePathStyle: true, credentials: { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' } });
    [bedrock, teacher, student, judge] = await Promise.all([new BedrockFake().start(), new CountingTeacher().start(), new OpenAiUpstreamFake('student', '').start(), new JudgeFake().start()]);
    gateway = await startDistillGateway({
      bedrockEndpoint: bedrock.url,
      providers: [
        { name: 'cn-teacher', baseUrl: `${teacher.url}/v1`, alias: 'qwen-teacher', crossBorder: false },
        { name: 'vllm-student', baseUrl: `${student.url}/v1`, alias: 'qwen-student-lora', crossBorder: false },
        { name: 'cn-judge', baseUrl: `${judge.url}/v1`, alias: 'qwen-judge', crossBorder: false },
      ],
      log: () => undefined,
    });
    await put(layout.prompts({ name: 'support', version: 'v1' }), PROMPTS_TEXT);
    await put(layout.manifest({ name: 'support', version: 'v1' }), JSON.stringify({ exportAllowed: false }));
    base = { runId: 'run-1', bucket: BUCKET, dataset: { name: 'support', version: 'v1' }, teacher: 'qwen-teacher', gatewayUrl: `${gateway.url}/v1`, concurrency: 4 };
  });
  afterAll(async () => {
    await gateway.close();
    await Promise.all([bedrock.stop(), teacher.stop(), student.stop(), judge.stop()]);
    await s3server.close();
  });

  test('a bad event fails naming the field', async () => {
    const handler = createStepHandler({ s3, log: () => undefined });
    await expect(handler({ ...base, step: 'train' })).rejects.toThrow(/distill step event: step must be export, teacher, split or evaluate/);
    await expect(handler({ ...base, step: 'split', evalShare: 0.9 })).rejects.toThrow(/evalShare/);
    await expect(handler({ ...base, step: 'evaluate' })).rejects.toThrow(/evaluate needs student/);
  });

  test('export to a cross-border teacher is refused for a dataset without exportAllowed', async () => {
    const handler = createStepHandler({ s3, log: () => undefined });
    await expect(handler({ ...base, runId: 'run-refused', teacher: 'nova-lite', step: 'export' })).rejects.toThrow(/support\/v1 may not leave mainland China.*s3:\/\/cnllm-weights\/distill\/datasets\/support\/v1\/manifest\.json has exportAllowed: false/);
    expect(bedrock.requests).toHaveLength(0);
  });

  test('export, teacher (looped at the deadline), split and evaluate: every file in the contract layout', async () => {
    const logged: Record<string, unknown>[] = [];
    const handler = createStepHandler({ s3, flushIntervalMs: 0, log: (line) => void logged.push(line) });
    expect(await handler({ ...base, step: 'export' })).toEqual(expect.objectContaining({ done: true, prompts: PROMPT_COUNT, crossBorder: false, exported: false }));

    // An invocation with 62 s left works 2 s (a minute is kept back to save and return), then reports
    // done:false: 40 prompts at 0.5 s each, 4 at a time, need 5 s.
    teacher.delayMs = 500;
    const first = await handler({ ...base, step: 'teacher' }, lambdaContext(62000));
    expect(first).toEqual(expect.objectContaining({ done: false, step: 'teacher', total: PROMPT_COUNT }));
    expect(first.answeredNow).toBeGreaterThan(0);
    const savedFirst = (await get(layout.answers('run-1'))).trim().split('\n').length;
    expect(savedFirst).toBe(first.answeredNow);
    teacher.delayMs = 0;
    const second = await handler({ ...base, step: 'teacher' }, lambdaContext(900000));
    expect(second).toEqual(expect.objectContaining({ done: true, alreadyAnswered: first.answeredNow, remaining: 0 }));
    expect(teacher.asked).toHaveLength(PROMPT_COUNT);

    const split = await handler({ ...base, step: 'split', evalShare: 0.1 });
    expect(split).toEqual(expect.objectContaining({ done: true, train: PROMPT_COUNT - 4, eval: 4 }));
    expect((await get(layout.train('run-1'))).trim().split('\n')).toHaveLength(PROMPT_COUNT - 4);

    await expect(handler({ ...base, step: 'evaluate', student: 'qwen-student-lora', judge: 'gpt-judge' })).rejects.toThrow(/the judge "gpt-judge" is not served at .* \(GET \/models lists: .*qwen-judge/);
    expect(student.requests).toHaveLength(0);
    const evaluated = await handler({ ...base, step: 'evaluate', student: 'qwen-student-lora', judge: 'qwen-judge', promoteThreshold: 0.5 }, lambdaContext(900000));
    const report = JSON.parse(await get(layout.reportJson('run-1')));
    expect(evaluated).toEqual(expect.objectContaining({ done: true, promote: report.promote, score: report.score, winRate: report.winRate, evalPrompts: 4, judged: 4 }));
    expect(student.requests).toHaveLength(4);
    expect(judge.calls).toBe(4);
    expect(await get(layout.reportMd('run-1'))).toContain('# Distillation evaluation: run-1');
    // One log line per invocation, with counts: no prompt or answer text.
    expect(logged.map((l) => [l.step, l.done])).toEqual([['export', true], ['teacher', false], ['teacher', true], ['split', true], ['evaluate', true]]);
    expect(JSON.stringify(logged)).not.toMatch(/answer to|You said|退货/);
  });

  test('against a gateway that requires SigV4 (as the REST API does), signed requests pass and unsigned ones are refused', async () => {
    const caller = { accessKeyId: 'AKIADISTILLSTEP', secretAccessKey: 'step-secret', arn: 'arn:aws-cn:iam::123456789012:role/distill-step' };
    const iamGateway = await startDistillGateway({ bedrockEndpoint: bedrock.url, providers: [{ name: 'cn-teacher', baseUrl: `${teacher.url}/v1`, alias: 'qwen-teacher', crossBorder: false }], log: () => undefined, iam: { region: 'cn-northwest-1', callers: [caller] } });
    try {
      const event = { ...base, runId: 'run-iam', step: 'export', gatewayUrl: `${iamGateway.url}/v1` };
      const signed = createStepHandler({ s3, log: () => undefined, gatewayFetch: sigv4Fetch({ region: 'cn-northwest-1', credentials: caller }) });
      expect(await signed(event)).toEqual(expect.objectContaining({ done: true, exported: false }));
      const unsigned = createStepHandler({ s3, log: () => undefined });
      await expect(unsigned(event)).rejects.toThrow(/GET \/models answered 403/);
    } finally {
      await iamGateway.close();
    }
    // The deployed handler picks SigV4 by the URL: execute-api hosts are signed, loopback is not.
    expect(gatewayFetch('https://abc123.execute-api.cn-northwest-1.amazonaws.com.cn/prod/v1', { AWS_REGION: 'cn-northwest-1' })).toBeDefined();
    expect(gatewayFetch('http://127.0.0.1:8787/v1', {})).toBeUndefined();
  });
});
