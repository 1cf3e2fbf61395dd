import * as fs from 'fs';
import * as path from 'path';
import { BatchGetBuildsCommand, CodeBuildClient, StartBuildCommand } from '@aws-sdk/client-codebuild';
import { HeadObjectCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { OperatorError, attempt } from './operator-error';
import { hashFile, uploadFileResumable } from './s3-upload';
import { DEFAULT_RETRY_POLICY, ProgressStream, RetryPolicy, TransferProgress, withRetries } from './transfer';

export interface StageTarget {
  readonly modelId: string;
  readonly revision: string;
  readonly bucket: string;
  /** `models/<id>/<revision>/` */
  readonly prefix: string;
  readonly projectName: string;
  readonly region: string;
}

export interface StageOptions {
  /** Upload this local directory instead of downloading from ModelScope in CodeBuild. */
  readonly fromDir?: string;
  readonly pollMs?: number;
  readonly log?: (line: string) => void;
  readonly sleep?: (ms: number) => Promise<void>;
  /** Where the progress of --from-dir uploads goes (the CLI passes stderr). @default none */
  readonly progress?: ProgressStream;
  /** Retries of each S3 request and part. @default DEFAULT_RETRY_POLICY (8 attempts, backoff with full jitter) */
  readonly retry?: RetryPolicy;
  /** Parts of one file in flight at once. @default 4 */
  readonly concurrency?: number;
  /** Multipart part size (S3: 5 MiB at least). @default s3PartSize(file size): 16 MiB, more past 156 GiB */
  readonly partSize?: number;
}

export interface Manifest {
  readonly modelId: string;
  readonly revision: string;
  readonly source: 'modelscope' | 'local';
  readonly totalBytes: number;
  readonly files: { path: string; size: number; sha256: string }[];
  readonly stagedAt: string;
}

const TERMINAL_FAILURES = ['FAILED', 'FAULT', 'TIMED_OUT', 'STOPPED'];

/**
 * Puts a model revision into the weights bucket, once: an existing manifest.json means it is staged.
 * From ModelScope through the model store's CodeBuild project (inside the region), or from a local
 * directory. The manifest is written last, after every file.
 */
export async function stageModel(target: StageTarget, clients: { s3: S3Client; codebuild: CodeBuildClient }, options: StageOptions = {}) {
  const log = options.log ?? ((line: string) => console.log(line));
  const sleep = options.sleep ?? ((ms: number) => new Promise((r) => setTimeout(r, ms)));
  const destination = `s3://${target.bucket}/${target.prefix}`;

  const retry = options.retry ?? DEFAULT_RETRY_POLICY;
  if (await manifestExists(clients.s3, target, retry)) {
    log(`already staged: ${destination}manifest.json exists; nothing to do`);
    return { skipped: true as const };
  }

  if (options.fromDir) {
    const manifest = await uploadDirectory(clients.s3, target, options.fromDir, { ...options, log, retry });
    log(`staged ${target.modelId}@${target.revision} from ${options.fromDir}: ${manifest.files.length} files, ${manifest.totalBytes} bytes`);
    return { skipped: false as const, manifest };
  }

  const started = await attempt('start the staging build', () =>
    clients.codebuild.send(
      new StartBuildCommand({
        projectName: target.projectName,
        environmentVariablesOverride: [
          { name: 'MODEL_ID', value: target.modelId, type: 'PLAINTEXT' },
          { name: 'REVISION', value: target.revision, type: 'PLAINTEXT' },
          { name: 'PREFIX', value: target.prefix, type: 'PLAINTEXT' },
        ],
      }),
    ),
  );
  const buildId = started.build!.id!;
  log(`started ${buildId} (logs: https://console.amazonaws.cn/codesuite/codebuild/projects/${target.projectName}/history?region=${target.region})`);
  let lastPhase = '';
  for (;;) {
    const build = (await attempt('read the build status', () => clients.codebuild.send(new BatchGetBuildsCommand({ ids: [buildId] })))).builds?.[0];
    if (build?.currentPhase && build.currentPhase !== lastPhase) {
      lastPhase = build.currentPhase;
      log(`phase ${lastPhase}`);
    }
    if (build?.buildStatus === 'SUCCEEDED') break;
    if (build?.buildStatus && TERMINAL_FAILURES.includes(build.buildStatus)) {
      throw new OperatorError(`Staging build ${buildId} ended ${build.buildStatus}; read its log in CodeBuild (project ${target.projectName}). Nothing is marked staged.`);
    }
    await sleep(options.pollMs ?? 15000);
  }
  if (!(await manifestExists(clients.s3, target, retry))) {
    throw new OperatorError(`Build ${buildId} succeeded but ${destination}manifest.json is missing; the revision is not staged.`);
  }
  log(`staged ${target.modelId}@${target.revision} at ${destination}`);
  return { skipped: false as const, buildId };
}

async function manifestExists(s3: S3Client, target: StageTarget, retry: RetryPolicy): Promise<boolean> {
  try {
    await withRetries('check for manifest.json', () => s3.send(new HeadObjectCommand({ Bucket: target.bucket, Key: `${target.prefix}manifest.json` })), retry);
    return true;
  } catch (e) {
    const status = (e as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode;
    if (status === 404 || (e as Error).name === 'NotFound') return false;
    throw new OperatorError(`Could not check ${target.bucket} for an existing manifest: ${(e as Error).name}: ${(e as Error).message}`);
  }
}

function listFiles(dir: string): string[] {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    if (entry.name.startsWith('.')) return [];
    const full = path.join(dir, entry.name);
    return entry.isDirectory() ? listFiles(full) : entry.isFile() ? [full] : [];
  });
}

/**
 * Uploads every file (see uploadFileResumable: parts of 16 MiB, retried, resumed by the next run),
 * then the manifest. A run that stopped part-way is continued by running the same command again:
 * complete files are kept, unfinished multipart uploads resumed.
 */
async function uploadDirectory(s3: S3Client, target: StageTarget, dir: string, options: StageOptions & { log: (line: string) => void; retry: RetryPolicy }): Promise<Manifest> {
  if (!fs.existsSync(dir) || !fs.statSync(dir).isDirectory()) throw new OperatorError(`--from-dir ${dir} is not a directory`);
  const files = listFiles(dir).sort();
  if (files.length === 0) throw new OperatorError(`--from-dir ${dir} holds no files`);
  const totalBytes = files.reduce((sum, file) => sum + fs.statSync(file).size, 0);
  const progress = new TransferProgress(`s3://${target.bucket}/${target.prefix}`, totalBytes, options.progress);
  const log = progress.above(options.log);
  const entries: Manifest['files'] = [];
  for (const [index, file] of files.entries()) {
    const relative = path.relative(dir, file).split(path.sep).join('/');
    progress.relabel(`${relative} (file ${index + 1} of ${files.length})`);
    const hashed = await hashFile(file, options.partSize);
    const result = await attempt(`upload ${relative}`, () =>
      uploadFileResumable(s3, target.bucket, `${target.prefix}${relative}`, hashed, { retry: options.retry, concurrency: options.concurrency, progress, log }),
    );
    entries.push({ path: relative, size: hashed.size, sha256: hashed.sha256Hex });
    log(
      result.alreadyThere
        ? `kept ${relative} (${hashed.size} bytes, already in S3 with the same checksum)`
        : `uploaded ${relative} (${hashed.size} bytes${result.reusedParts ? `, ${result.reusedParts} parts from the interrupted run kept` : ''})`,
    );
  }
  progress.finish();
  const manifest: Manifest = {
    modelId: target.modelId,
    revision: target.revision,
    source: 'local',
    totalBytes: entries.reduce((sum, f) => sum + f.size, 0),
    files: entries,
    stagedAt: new Date().toISOString(),
  };
  await attempt('write manifest.json', () =>
    withRetries('write manifest.json', () => s3.send(new PutObjectCommand({ Bucket: target.bucket, Key: `${target.prefix}manifest.json`, Body: JSON.stringify(manifest, null, 1), ContentType: 'application/json' })), options.retry),
  );
  return manifest;
}

