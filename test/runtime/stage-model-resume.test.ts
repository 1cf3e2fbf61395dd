import { createHash, randomBytes } from 'crypto';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { CodeBuildClient } from '@aws-sdk/client-codebuild';
import { S3Client } from '@aws-sdk/client-s3';
import { expectedObjectChecksum, hashFile, s3PartSize } from '../../runtime/operator/s3-upload';
import { stageModel } from '../../runtime/operator/stage-model';
import { DEFAULT_RETRY_POLICY, MiB } from '../../runtime/operator/transfer';
import { STAGING_TARGET, StagingFake } from '../fakes/staging-fake';

/**
 * stage-model --from-dir over a link that drops: S3 (the staging stand-in, with multipart, SHA-256
 * part checksums, ListParts and ListMultipartUploads) cuts part uploads mid-body or stores a part and
 * loses the answer. A 14 MiB shard moves in parts of 5 MiB (S3's smallest, to keep the test light;
 * the CLI uses 16 MiB): 5 + 5 + 4.
 */
const target = STAGING_TARGET;
const shardKey = `weights/${target.prefix}model.safetensors`;

let fake: StagingFake;
let clients: { s3: S3Client; codebuild: CodeBuildClient };
let dir: string;
const shard = randomBytes(14 * MiB);
const partSize = 5 * MiB;
beforeEach(async () => {
  fake = await new StagingFake().start();
  // One attempt per request, as the CLI sets it: the retries under test are the kit's, per part.
  clients = fake.clients({ maxAttempts: 1 });
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cnllm-shards-'));
  fs.writeFileSync(path.join(dir, 'config.json'), '{"architectures":["Qwen2ForCausalLM"]}');
  fs.writeFileSync(path.join(dir, 'model.safetensors'), shard);
});
afterEach(() => fake.stop());

const noWait = { ...DEFAULT_RETRY_POLICY, sleep: async () => undefined };
const stage = (log: string[] = [], maxAttempts = 8) => stageModel(target, clients, { fromDir: dir, partSize, log: (l) => log.push(l), retry: { ...noWait, maxAttempts } });
const uploadsOf = (partNumber: number) => fake.partUploads.filter((p) => p.partNumber === partNumber).map((p) => p.outcome);

describe('s3 part layout', () => {
  test('16 MiB parts, larger past 156 GiB so a file stays within 10,000 parts', () => {
    expect(s3PartSize(40 * MiB)).toBe(16 * MiB);
    expect(s3PartSize(156 * 1024 * MiB)).toBe(16 * MiB);
    expect(s3PartSize(157 * 1024 * MiB)).toBe(17 * MiB);
    expect(s3PartSize(300 * 1024 * MiB)).toBe(31 * MiB);
    expect(Math.ceil((300 * 1024 * MiB) / s3PartSize(300 * 1024 * MiB))).toBeLessThanOrEqual(10_000);
  });
});

describe('stage-model --from-dir over a link that drops', () => {
  test('a part cut mid-upload is sent again; a part whose answer was lost is found with ListParts, not sent again; the object checksum verifies', async () => {
    fake.partFaults.set(2, ['cut-request']);
    fake.partFaults.set(3, ['lose-answer']);
    const result = await stage();

    expect(uploadsOf(1)).toEqual(['stored']);
    expect(uploadsOf(2)).toEqual(['cut', 'stored']);
    expect(uploadsOf(3)).toEqual(['stored, answer lost']);
    expect(fake.objects.get(shardKey)!.equals(shard)).toBe(true);
    // The composite SHA-256 S3 reports is the one computed locally from the file's parts.
    const hashed = await hashFile(path.join(dir, 'model.safetensors'), partSize);
    expect(hashed.partChecksums).toHaveLength(3);
    expect(fake.checksums.get(shardKey)).toBe(expectedObjectChecksum(hashed));
    expect(fake.checksums.get(shardKey)).toMatch(/-3$/);
    expect(result.skipped === false && 'manifest' in result && result.manifest!.files[1]).toEqual({ path: 'model.safetensors', size: 14 * MiB, sha256: createHash('sha256').update(shard).digest('hex') });
  });

  test('an interrupted run is resumed by the next: the same multipart upload, complete parts and files not sent again', async () => {
    fake.partFaults.set(2, ['cut-request', 'cut-request', 'cut-request']);
    await expect(stage([], 3)).rejects.toThrow(/^Could not upload model\.safetensors: RetriesExhaustedError: uploading part 2 of 3 of models\/.*\/model\.safetensors failed 3 times; .*Run the command again: it resumes where it stopped\.$/);
    expect(fake.objects.has(`weights/${target.prefix}manifest.json`)).toBe(false);
    expect(fake.uploads.size).toBe(1);
    const firstRun = fake.partUploads.length;

    const log: string[] = [];
    await stage(log);
    // Only part 2 crossed in the second run, into the upload the first run started.
    expect(fake.partUploads.slice(firstRun)).toEqual([{ partNumber: 2, bytes: 5 * MiB, outcome: 'stored' }]);
    expect(fake.calls.filter((c) => c.startsWith('CreateMultipartUpload'))).toHaveLength(1);
    expect(fake.calls.filter((c) => c === `PUT weights/${target.prefix}config.json`)).toHaveLength(1);
    expect(log).toEqual(
      expect.arrayContaining([
        'kept config.json (38 bytes, already in S3 with the same checksum)',
        `resuming the upload of ${target.prefix}model.safetensors: 2 of 3 parts already in S3`,
        'uploaded model.safetensors (14680064 bytes, 2 parts from the interrupted run kept)',
      ]),
    );
    expect(fake.objects.get(shardKey)!.equals(shard)).toBe(true);
    expect(fake.objects.has(`weights/${target.prefix}manifest.json`)).toBe(true);
  });

  test('parts left by an interrupted run that no longer match the local file are sent again', async () => {
    fake.partFaults.set(2, ['cut-request', 'cut-request']);
    await expect(stage([], 2)).rejects.toThrow(/failed 2 times/);
    const firstRun = fake.partUploads.length;
    // The operator re-downloaded the shard and its first part differs now.
    const changed = Buffer.from(shard);
    changed[0] ^= 0xff;
    fs.writeFileSync(path.join(dir, 'model.safetensors'), changed);

    await stage();
    expect(fake.partUploads.slice(firstRun).map((p) => p.partNumber).sort()).toEqual([1, 2]);
    expect(fake.objects.get(shardKey)!.equals(changed)).toBe(true);
  });
});
