import { createHash } from 'crypto';
import * as fs from 'fs';
import {
  CompleteMultipartUploadCommand,
  CompletedPart,
  CreateMultipartUploadCommand,
  HeadObjectCommand,
  ListMultipartUploadsCommand,
  ListPartsCommand,
  Part,
  PutObjectCommand,
  S3Client,
  UploadPartCommand,
} from '@aws-sdk/client-s3';
import { OperatorError } from './operator-error';
import { DEFAULT_RETRY_POLICY, MiB, RetryPolicy, TransferProgress, describeError, withRetries } from './transfer';

/**
 * Part size of weight uploads: 16 MiB, so a dropped connection costs at most 16 MiB sent again, and
 * larger for files over 156 GiB to stay within S3's 10,000 parts per upload (parts: 5 MiB to 5 GiB).
 */
export const S3_PART = { size: 16 * MiB, maxParts: 10_000 };

export function s3PartSize(fileSize: number): number {
  return Math.max(S3_PART.size, Math.ceil(fileSize / S3_PART.maxParts / MiB) * MiB);
}

/** A local file with the SHA-256 of the whole and of each part, read once before anything is sent. */
export interface HashedFile {
  readonly path: string;
  readonly size: number;
  readonly partSize: number;
  readonly sha256Hex: string;
  /** Base64 SHA-256 of each part, as S3 reports ChecksumSHA256. */
  readonly partChecksums: string[];
}

export async function hashFile(file: string, partSize: number = s3PartSize(fs.statSync(file).size)): Promise<HashedFile> {
  const whole = createHash('sha256');
  const partChecksums: string[] = [];
  let part = createHash('sha256');
  let inPart = 0;
  let size = 0;
  for await (const chunk of fs.createReadStream(file, { highWaterMark: MiB })) {
    let bytes = chunk as Buffer;
    whole.update(bytes);
    size += bytes.length;
    while (bytes.length > 0) {
      const take = Math.min(bytes.length, partSize - inPart);
      part.update(bytes.subarray(0, take));
      inPart += take;
      bytes = bytes.subarray(take);
      if (inPart === partSize) {
        partChecksums.push(part.digest('base64'));
        part = createHash('sha256');
        inPart = 0;
      }
    }
  }
  if (inPart > 0 || partChecksums.length === 0) partChecksums.push(part.digest('base64'));
  return { path: file, size, partSize, sha256Hex: whole.digest('hex'), partChecksums };
}

/** What S3 reports as ChecksumSHA256 of the finished object: of the bytes for one PUT, of the part checksums ("-N") for multipart. */
export function expectedObjectChecksum(file: HashedFile): string {
  if (file.partChecksums.length === 1 && file.size <= file.partSize) return Buffer.from(file.sha256Hex, 'hex').toString('base64');
  const ofParts = createHash('sha256');
  for (const checksum of file.partChecksums) ofParts.update(Buffer.from(checksum, 'base64'));
  return `${ofParts.digest('base64')}-${file.partChecksums.length}`;
}

export interface FileUploadOptions {
  readonly retry?: RetryPolicy;
  /** Parts in flight at once: one slow connection across a long link is far below the link's capacity. @default 4 */
  readonly concurrency?: number;
  readonly progress?: TransferProgress;
  readonly log?: (line: string) => void;
}

export interface FileUploadResult {
  /** The object was already complete with these bytes (an earlier, interrupted run). */
  readonly alreadyThere: boolean;
  /** Parts an earlier run left in the same multipart upload and that were kept. */
  readonly reusedParts: number;
  readonly uploadedParts: number;
  /** Bytes of parts sent again after a failed attempt. */
  readonly resentBytes: number;
}

/**
 * Puts one file into S3 so that an interruption costs at most the parts in flight: multipart with a
 * SHA-256 checksum per part (S3 checks each part on arrival), each part retried with backoff; an
 * interrupted run is resumed by the next one, which finds its multipart upload (ListMultipartUploads)
 * and keeps each part whose size and checksum match the local file (ListParts). The finished object's
 * checksum is read back and compared. Multipart uploads left unfinished are removed by the bucket's
 * lifecycle after 7 days: resume within that window.
 */
export async function uploadFileResumable(s3: S3Client, bucket: string, key: string, file: HashedFile, options: FileUploadOptions = {}): Promise<FileUploadResult> {
  const retry = options.retry ?? DEFAULT_RETRY_POLICY;
  const expected = expectedObjectChecksum(file);
  const onRetry = (what: string) => (e: unknown, attempt: number) => options.log?.(`${what} failed (attempt ${attempt}: ${describeError(e)}); retrying`);

  const existing = await headChecksum(s3, bucket, key, retry);
  if (existing && existing.size === file.size && existing.checksum === expected) {
    options.progress?.add(file.size);
    return { alreadyThere: true, reusedParts: 0, uploadedParts: 0, resentBytes: 0 };
  }

  let resentBytes = 0;
  let reusedParts = 0;
  const parts = file.partChecksums.length;
  if (parts === 1) {
    const body = await fs.promises.readFile(file.path);
    checkUnchanged(file, 0, body);
    await withRetries(
      `uploading ${key}`,
      () => s3.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: body, ChecksumAlgorithm: 'SHA256', ChecksumSHA256: file.partChecksums[0] })),
      retry,
      (e, attempt) => {
        resentBytes += body.length;
        onRetry(`uploading ${key}`)(e, attempt);
      },
    );
    options.progress?.add(file.size);
  } else {
    const resumed = await findUpload(s3, bucket, key, retry);
    const uploadId =
      resumed?.uploadId ??
      (await withRetries(`starting the upload of ${key}`, () => s3.send(new CreateMultipartUploadCommand({ Bucket: bucket, Key: key, ChecksumAlgorithm: 'SHA256' })), retry)).UploadId!;
    const completed: CompletedPart[] = [];
    const missing: number[] = [];
    for (let n = 1; n <= parts; n++) {
      const there = resumed?.parts.get(n);
      if (there && there.Size === partLength(file, n) && there.ChecksumSHA256 === file.partChecksums[n - 1]) {
        completed.push({ PartNumber: n, ETag: there.ETag, ChecksumSHA256: there.ChecksumSHA256 });
        options.progress?.add(partLength(file, n));
      } else {
        missing.push(n);
      }
    }
    reusedParts = completed.length;
    if (resumed) options.log?.(`resuming the upload of ${key}: ${reusedParts} of ${parts} parts already in S3`);

    const handle = await fs.promises.open(file.path, 'r');
    let failed = false;
    const worker = async () => {
      for (let n = missing.shift(); n !== undefined && !failed; n = missing.shift()) {
        const partNumber = n;
        const body = Buffer.alloc(partLength(file, partNumber));
        await handle.read(body, 0, body.length, (partNumber - 1) * file.partSize);
        checkUnchanged(file, partNumber - 1, body);
        const checksum = file.partChecksums[partNumber - 1];
        const answer = await withRetries(
          `uploading part ${partNumber} of ${parts} of ${key}`,
          async (attempt) => {
            // After a failed attempt the part may have arrived all the same (only the answer was lost): ask before sending it again.
            const arrived = attempt > 1 ? await listedPart(s3, bucket, key, uploadId, partNumber) : undefined;
            if (arrived?.Size === body.length && arrived.ChecksumSHA256 === checksum) return { ETag: arrived.ETag };
            if (attempt > 1) resentBytes += body.length;
            return s3.send(new UploadPartCommand({ Bucket: bucket, Key: key, UploadId: uploadId, PartNumber: partNumber, Body: body, ChecksumAlgorithm: 'SHA256', ChecksumSHA256: checksum }));
          },
          retry,
          onRetry(`part ${partNumber} of ${parts} of ${key}`),
        );
        completed.push({ PartNumber: partNumber, ETag: answer.ETag, ChecksumSHA256: checksum });
        options.progress?.add(body.length);
      }
    };
    // One part failing for good stops the others taking new parts; the file stays open until all have stopped.
    const outcomes = await Promise.allSettled(
      Array.from({ length: Math.min(options.concurrency ?? 4, Math.max(1, missing.length)) }, () =>
        worker().catch((e) => {
          failed = true;
          throw e;
        }),
      ),
    );
    await handle.close();
    const failure = outcomes.find((o): o is PromiseRejectedResult => o.status === 'rejected');
    if (failure) throw failure.reason;

    completed.sort((a, b) => a.PartNumber! - b.PartNumber!);
    await withRetries(
      `completing the upload of ${key}`,
      async (attempt) => {
        try {
          await s3.send(new CompleteMultipartUploadCommand({ Bucket: bucket, Key: key, UploadId: uploadId, MultipartUpload: { Parts: completed } }));
        } catch (e) {
          // Our own completion whose answer was lost: the object is there and the check below reads it.
          if ((e as Error).name === 'NoSuchUpload' && attempt > 1) return;
          throw e;
        }
      },
      retry,
      onRetry(`completing ${key}`),
    );
  }

  const stored = await headChecksum(s3, bucket, key, retry);
  if (stored?.size !== file.size || stored.checksum !== expected) {
    throw new OperatorError(`s3://${bucket}/${key} does not verify: ${file.size} bytes with SHA-256 checksum ${expected} sent, S3 holds ${stored?.size} bytes with ${stored?.checksum}`);
  }
  return { alreadyThere: false, reusedParts, uploadedParts: parts - reusedParts, resentBytes };
}

function partLength(file: HashedFile, partNumber: number): number {
  return Math.min(file.partSize, file.size - (partNumber - 1) * file.partSize);
}

/** A file rewritten since it was hashed would mix two versions in one object. */
function checkUnchanged(file: HashedFile, partIndex: number, bytes: Buffer) {
  if (createHash('sha256').update(bytes).digest('base64') !== file.partChecksums[partIndex]) {
    throw new OperatorError(`${file.path} changed while it was being uploaded (part ${partIndex + 1}); run the command again once it is final`);
  }
}

async function headChecksum(s3: S3Client, bucket: string, key: string, retry: RetryPolicy): Promise<{ size: number; checksum?: string } | undefined> {
  try {
    const head = await withRetries(`reading s3://${bucket}/${key}`, () => s3.send(new HeadObjectCommand({ Bucket: bucket, Key: key, ChecksumMode: 'ENABLED' })), retry);
    return { size: head.ContentLength ?? -1, checksum: head.ChecksumSHA256 };
  } catch (e) {
    if ((e as Error).name === 'NotFound' || (e as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode === 404) return undefined;
    throw e;
  }
}

/** The newest unfinished SHA-256 multipart upload of this key, with its parts. */
async function findUpload(s3: S3Client, bucket: string, key: string, retry: RetryPolicy): Promise<{ uploadId: string; parts: Map<number, Part> } | undefined> {
  let newest: { UploadId?: string; Initiated?: Date } | undefined;
  let keyMarker: string | undefined;
  let uploadIdMarker: string | undefined;
  for (;;) {
    const page = await withRetries('listing unfinished uploads', () => s3.send(new ListMultipartUploadsCommand({ Bucket: bucket, Prefix: key, KeyMarker: keyMarker, UploadIdMarker: uploadIdMarker })), retry);
    for (const upload of page.Uploads ?? []) {
      // An upload started without SHA-256 checksums cannot take parts that carry one.
      if (upload.Key !== key || upload.ChecksumAlgorithm !== 'SHA256') continue;
      if (!newest || (upload.Initiated?.getTime() ?? 0) > (newest.Initiated?.getTime() ?? 0)) newest = upload;
    }
    if (!page.IsTruncated) break;
    keyMarker = page.NextKeyMarker;
    uploadIdMarker = page.NextUploadIdMarker;
  }
  if (!newest?.UploadId) return undefined;
  const parts = new Map<number, Part>();
  let marker: string | undefined;
  for (;;) {
    const page = await withRetries('listing the parts of an unfinished upload', () => s3.send(new ListPartsCommand({ Bucket: bucket, Key: key, UploadId: newest!.UploadId, PartNumberMarker: marker })), retry);
    for (const part of page.Parts ?? []) parts.set(part.PartNumber!, part);
    if (!page.IsTruncated) break;
    marker = page.NextPartNumberMarker;
  }
  return { uploadId: newest.UploadId, parts };
}

async function listedPart(s3: S3Client, bucket: string, key: string, uploadId: string, partNumber: number): Promise<Part | undefined> {
  const page = await s3.send(new ListPartsCommand({ Bucket: bucket, Key: key, UploadId: uploadId, PartNumberMarker: String(partNumber - 1), MaxParts: 1 }));
  return page.Parts?.find((p) => p.PartNumber === partNumber);
}
