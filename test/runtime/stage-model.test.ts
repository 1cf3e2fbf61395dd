import { execFile } from 'child_process';
import { createHash } from 'crypto';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { promisify } from 'util';
import { CodeBuildClient } from '@aws-sdk/client-codebuild';
import { S3Client } from '@aws-sdk/client-s3';
import { stageModel } from '../../runtime/operator/stage-model';
import { STAGING_TARGET, StagingFake } from '../fakes/staging-fake';

const target = STAGING_TARGET;

let fake: StagingFake;
let clients: { s3: S3Client; codebuild: CodeBuildClient };
beforeEach(async () => {
  fake = await new StagingFake().start();
  clients = fake.clients();
});
afterEach(() => fake.stop());

const quiet = { log: () => undefined, sleep: async () => undefined, pollMs: 1 };

describe('stage-model', () => {
  test('starts the in-region CodeBuild project with the model, follows it to the end and confirms the manifest', async () => {
    const lines: string[] = [];
    const result = await stageModel(target, clients, { ...quiet, log: (l) => lines.push(l) });
    expect(result).toEqual({ skipped: false, buildId: 'cnllm-stage-model:1' });
    expect(fake.builds[0].env).toEqual({ MODEL_ID: 'Qwen/Qwen2.5-1.5B-Instruct', REVISION: 'master', PREFIX: 'models/Qwen/Qwen2.5-1.5B-Instruct/master/' });
    expect(lines).toEqual(expect.arrayContaining(['phase PROVISIONING', 'phase BUILD', 'phase COMPLETED', 'staged Qwen/Qwen2.5-1.5B-Instruct@master at s3://weights/models/Qwen/Qwen2.5-1.5B-Instruct/master/']));
  });

  test('is idempotent: an existing manifest skips the build', async () => {
    fake.objects.set(`weights/${target.prefix}manifest.json`, Buffer.from('{}'));
    expect(await stageModel(target, clients, quiet)).toEqual({ skipped: true });
    expect(fake.calls).not.toContain('CodeBuild.StartBuild');
  });

  test('a failed build is an error that says where to look, and nothing is marked staged', async () => {
    fake.nextBuildOutcome = 'FAILED';
    await expect(stageModel(target, clients, quiet)).rejects.toThrow(/Staging build cnllm-stage-model:1 ended FAILED; read its log in CodeBuild \(project cnllm-stage-model\)/);
    expect(fake.objects.has(`weights/${target.prefix}manifest.json`)).toBe(false);
  });

  test('--from-dir uploads every file, then a manifest with sizes and checksums', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cnllm-model-'));
    fs.mkdirSync(path.join(dir, 'tokenizer'));
    fs.mkdirSync(path.join(dir, '.git'));
    fs.writeFileSync(path.join(dir, 'config.json'), '{"a":1}');
    fs.writeFileSync(path.join(dir, 'model.safetensors'), Buffer.alloc(1024, 7));
    fs.writeFileSync(path.join(dir, 'tokenizer', 'vocab.json'), '{}');
    fs.writeFileSync(path.join(dir, '.git', 'HEAD'), 'ref');
    const result = await stageModel(target, clients, { ...quiet, fromDir: dir });
    expect(result.skipped).toBe(false);
    const keys = fake.calls.filter((c) => c.startsWith('PUT ')).map((c) => c.slice('PUT weights/'.length));
    expect(keys).toEqual([`${target.prefix}config.json`, `${target.prefix}model.safetensors`, `${target.prefix}tokenizer/vocab.json`, `${target.prefix}manifest.json`]);
    const manifest = JSON.parse(fake.objects.get(`weights/${target.prefix}manifest.json`)!.toString('utf8'));
    expect(manifest).toEqual(expect.objectContaining({ modelId: target.modelId, revision: 'master', source: 'local', totalBytes: 7 + 1024 + 2 }));
    expect(manifest.files[1]).toEqual({ path: 'model.safetensors', size: 1024, sha256: createHash('sha256').update(Buffer.alloc(1024, 7)).digest('hex') });
    expect(fake.objects.get(`weights/${target.prefix}model.safetensors`)!.length).toBe(1024);
  });

  test('--from-dir refuses a missing or empty directory', async () => {
    await expect(stageModel(target, clients, { ...quiet, fromDir: '/nonexistent/model' })).rejects.toThrow('--from-dir /nonexistent/model is not a directory');
    await expect(stageModel(target, clients, { ...quiet, fromDir: fs.mkdtempSync(path.join(os.tmpdir(), 'empty-')) })).rejects.toThrow(/holds no files/);
  });
});

describe('npm run stage-model (the CLI)', () => {
  test('stages the configured model through CodeBuild, using the China profile and its endpoint_url', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cnllm-profiles-'));
    fs.writeFileSync(path.join(dir, 'config'), `[profile china]\nregion = cn-northwest-1\nendpoint_url = ${fake.url}\n`);
    fs.writeFileSync(path.join(dir, 'credentials'), '[china]\naws_access_key_id = AKIACHINA\naws_secret_access_key = s\n');
    const env = { PATH: process.env.PATH, HOME: dir, AWS_CONFIG_FILE: path.join(dir, 'config'), AWS_SHARED_CREDENTIALS_FILE: path.join(dir, 'credentials') };
    const run = (...args: string[]) =>
      promisify(execFile)(process.execPath, [require.resolve('ts-node/dist/bin.js'), '--transpile-only', 'scripts/stage-model.ts', ...args], { cwd: path.join(__dirname, '..', '..'), env, timeout: 60000 });
    // The fake's builds finish after three polls; the CLI polls every 15 s, so pre-stage to test the fast path and the error path.
    fake.objects.set('cnllm-weights-111122223333-cn-northwest-1/models/Qwen/Qwen2.5-1.5B-Instruct/master/manifest.json', Buffer.from('{}'));
    const staged = await run('--model', 'qwen2.5-1.5b-instruct');
    expect(staged.stdout).toContain('already staged: s3://cnllm-weights-111122223333-cn-northwest-1/models/Qwen/Qwen2.5-1.5B-Instruct/master/manifest.json exists');
    const unknown = await run('--model', 'llama').catch((e) => e);
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toMatch(/^stage-model: --model llama: name one of the configured models: qwen2.5-1.5b-instruct \(Qwen\/Qwen2.5-1.5B-Instruct\)/m);
  });
});
