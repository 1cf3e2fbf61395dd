import { createHash } from 'crypto';
import {
  BatchCheckLayerAvailabilityCommand,
  CompleteLayerUploadCommand,
  ECRClient,
  InitiateLayerUploadCommand,
  UploadLayerPartCommand,
} from '@aws-sdk/client-ecr';
import { OperatorError } from './operator-error';
import type { RegistryClient } from './mirror-images';
import { DEFAULT_RETRY_POLICY, MiB, RetriesExhaustedError, RetryPolicy, TransferProgress, TransientError, backoffMs, describeError, isTransient, withRetries } from './transfer';

/**
 * ECR's own limits for the layer-part API: parts of 5 to 10 MiB (all but the last), at most 4,200 of
 * them per layer (Amazon ECR service quotas). InitiateLayerUpload says which size it expects.
 */
export const ECR_LAYER_PART = { defaultSize: 10 * MiB, minSize: 5 * MiB, maxSize: 10 * MiB, maxParts: 4200 };

export interface LayerTransferOptions {
  readonly retry?: RetryPolicy;
  /** Part size to use instead of the one InitiateLayerUpload answers (tests). @default ECR's answer, else 10 MiB */
  readonly partSize?: number;
  readonly progress?: TransferProgress;
  readonly log?: (line: string) => void;
  /** A download that receives nothing for this long counts as dropped and resumes. @default 60000 */
  readonly idleTimeoutMs?: number;
}

export interface LayerTransferStats {
  /** Bytes sent to ECR in UploadLayerPart requests that failed and were sent again. */
  resentBytes: number;
  /** Part uploads and download resumptions that were retried. */
  retries: number;
}

/** Which of these digests the repository already has (BatchCheckLayerAvailability, 100 digests per call). */
export async function availableLayers(ecr: ECRClient, repositoryName: string, digests: string[], retry: RetryPolicy = DEFAULT_RETRY_POLICY): Promise<Set<string>> {
  const available = new Set<string>();
  for (let i = 0; i < digests.length; i += 100) {
    const layerDigests = digests.slice(i, i + 100);
    const answer = await withRetries('checking which layers ECR has', () => ecr.send(new BatchCheckLayerAvailabilityCommand({ repositoryName, layerDigests })), retry);
    for (const layer of answer.layers ?? []) if (layer.layerAvailability === 'AVAILABLE' && layer.layerDigest) available.add(layer.layerDigest);
  }
  return available;
}

/**
 * Reads a blob from a registry in parts of `partSize` bytes (the last may be shorter). A dropped or
 * stalled connection is resumed with an HTTP Range request from the first byte not yet received, so
 * no byte crosses twice; the digest is checked before the last part is handed out, so a corrupt
 * blob is never completed at the destination. The idle clock runs only while waiting for data, not
 * while the consumer holds a part (an upload across the border can take longer than the timeout).
 */
export async function* resumableBlobParts(
  source: RegistryClient,
  repository: string,
  blob: { digest: string; size: number },
  partSize: number,
  options: { retry?: RetryPolicy; stats?: LayerTransferStats; log?: (line: string) => void; idleTimeoutMs?: number } = {},
): AsyncGenerator<Buffer> {
  const retry = options.retry ?? DEFAULT_RETRY_POLICY;
  const idleTimeoutMs = options.idleTimeoutMs ?? 60_000;
  const hash = createHash('sha256');
  let received = 0;
  let pending: Buffer[] = [];
  let pendingBytes = 0;
  let failuresWithoutProgress = 0;
  const takePart = (bytes: number) => {
    const all = Buffer.concat(pending);
    pending = all.length > bytes ? [all.subarray(bytes)] : [];
    pendingBytes = all.length - bytes;
    return all.subarray(0, bytes);
  };

  while (received < blob.size) {
    const startedAt = received;
    const stalled = new AbortController();
    const watchIdle = () => setTimeout(() => stalled.abort(new TransientError(`GET blob ${blob.digest}: no data for ${idleTimeoutMs} ms`)), idleTimeoutMs);
    let idle = watchIdle();
    try {
      const res = await source.request(`/v2/${repository}/blobs/${blob.digest}`, { signal: stalled.signal, ...(received > 0 && { headers: { range: `bytes=${received}-` } }) });
      if (res.status >= 500 || res.status === 429) throw new TransientError(`GET blob ${blob.digest}: ${res.status}`);
      if (!(res.status === 200 || res.status === 206) || !res.body) throw new OperatorError(`GET blob ${blob.digest} from ${repository}: ${res.status} ${await res.text()}`);
      // A server that ignores Range answers 200 with the whole blob: skip what we already have.
      let skip = 0;
      if (res.status === 206) {
        const start = Number(/bytes (\d+)-/.exec(res.headers.get('content-range') ?? '')?.[1]);
        if (start !== received) throw new OperatorError(`GET blob ${blob.digest}: asked for bytes from ${received}, got Content-Range ${res.headers.get('content-range')}`);
      } else {
        skip = received;
      }
      for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
        let bytes = Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
        if (skip > 0) {
          const dropped = Math.min(skip, bytes.length);
          skip -= dropped;
          bytes = bytes.subarray(dropped);
        }
        if (bytes.length === 0) continue;
        if (received + bytes.length > blob.size) throw new OperatorError(`GET blob ${blob.digest}: more than the ${blob.size} bytes its manifest declares`);
        hash.update(bytes);
        received += bytes.length;
        pending.push(bytes);
        pendingBytes += bytes.length;
        clearTimeout(idle);
        while (pendingBytes >= partSize && received < blob.size) yield takePart(partSize);
        idle = watchIdle();
      }
      if (received < blob.size) throw new TransientError(`GET blob ${blob.digest}: the connection ended after ${received} of ${blob.size} bytes`);
    } catch (e) {
      if (!isTransient(e)) throw e;
      if (received > startedAt) failuresWithoutProgress = 0;
      failuresWithoutProgress++;
      if (failuresWithoutProgress >= retry.maxAttempts) throw new RetriesExhaustedError(`downloading ${blob.digest} (at byte ${received} of ${blob.size})`, failuresWithoutProgress, e);
      if (options.stats) options.stats.retries++;
      options.log?.(`download of ${blob.digest.slice(0, 19)}... interrupted at byte ${received} of ${blob.size} (${describeError(e)}); resuming`);
      await retry.sleep(backoffMs(retry, failuresWithoutProgress));
    } finally {
      clearTimeout(idle);
    }
  }
  const digest = `sha256:${hash.digest('hex')}`;
  if (digest !== blob.digest) throw new OperatorError(`blob ${blob.digest} from ${repository} arrived as ${digest}: the source served different bytes; nothing was completed at the destination`);
  while (pendingBytes > 0) yield takePart(Math.min(partSize, pendingBytes));
}

/**
 * Copies one blob into ECR with the layer-part API: InitiateLayerUpload, UploadLayerPart for each
 * byte range in order, CompleteLayerUpload with the digest (ECR recomputes and checks it).
 *
 * Why this API and not the registry's chunked PATCH: ECR's OCI chunked upload drops the body of every
 * PATCH after the first (aws/containers-roadmap#2831), and the layer-part API tells, through
 * InvalidLayerPartException.lastValidByteReceived, where an upload stands after a connection broke
 * mid-part: a part that did arrive is not sent a third time, one that did not is sent again. The cost is
 * base64 in JSON (a third more bytes on the wire than raw PATCH bodies).
 *
 * While one part uploads, the next one downloads.
 */
export async function copyBlobToEcr(
  source: RegistryClient,
  sourceRepository: string,
  ecr: ECRClient,
  repositoryName: string,
  blob: { digest: string; size: number },
  options: LayerTransferOptions = {},
): Promise<LayerTransferStats> {
  const retry = options.retry ?? DEFAULT_RETRY_POLICY;
  const stats: LayerTransferStats = { resentBytes: 0, retries: 0 };
  const onRetry = (what: string) => (e: unknown, attempt: number) => {
    stats.retries++;
    options.log?.(`${what} failed (attempt ${attempt}: ${describeError(e)}); retrying`);
  };
  const started = await withRetries(`starting the upload of ${blob.digest} to ${repositoryName}`, () => ecr.send(new InitiateLayerUploadCommand({ repositoryName })), retry, onRetry('InitiateLayerUpload'));
  const uploadId = started.uploadId!;
  const partSize = options.partSize ?? started.partSize ?? ECR_LAYER_PART.defaultSize;
  if (Math.ceil(blob.size / partSize) > ECR_LAYER_PART.maxParts) {
    throw new OperatorError(`${blob.digest} is ${blob.size} bytes: more than ECR's ${ECR_LAYER_PART.maxParts} parts of ${partSize} bytes per layer`);
  }

  const parts = resumableBlobParts(source, sourceRepository, blob, partSize, { retry, stats, log: options.log, idleTimeoutMs: options.idleTimeoutMs });
  let offset = 0;
  try {
    let next = parts.next();
    for (;;) {
      const current = await next;
      if (current.done) break;
      next = parts.next();
      // Read ahead while this part uploads; a failure of the read-ahead surfaces when it is awaited.
      next.catch(() => undefined);
      await uploadPart(ecr, repositoryName, uploadId, offset, current.value, retry, stats, options.log);
      offset += current.value.length;
      options.progress?.add(current.value.length);
    }
  } finally {
    // Releases the source connection when an upload fails for good.
    parts.return(undefined).catch(() => undefined);
  }
  if (offset !== blob.size) throw new OperatorError(`${blob.digest}: sent ${offset} bytes, its manifest declares ${blob.size}`);

  await withRetries(
    `completing the upload of ${blob.digest} to ${repositoryName}`,
    async (attempt) => {
      try {
        await ecr.send(new CompleteLayerUploadCommand({ repositoryName, uploadId, layerDigests: [blob.digest] }));
      } catch (e) {
        const name = (e as Error).name;
        // A layer pushed meanwhile (another run), or our own completion whose answer was lost.
        if (name === 'LayerAlreadyExistsException') return;
        if (name === 'UploadNotFoundException' && attempt > 1 && (await availableLayers(ecr, repositoryName, [blob.digest], retry)).has(blob.digest)) return;
        if (name === 'InvalidLayerException') throw new OperatorError(`ECR computed another digest than ${blob.digest} for the uploaded bytes: ${(e as Error).message}`);
        throw e;
      }
    },
    retry,
    onRetry('CompleteLayerUpload'),
  );
  return stats;
}

async function uploadPart(ecr: ECRClient, repositoryName: string, uploadId: string, first: number, bytes: Buffer, retry: RetryPolicy, stats: LayerTransferStats, log?: (line: string) => void) {
  const last = first + bytes.length - 1;
  await withRetries(
    `uploading bytes ${first}-${last} to ${repositoryName}`,
    async (attempt) => {
      try {
        await ecr.send(new UploadLayerPartCommand({ repositoryName, uploadId, partFirstByte: first, partLastByte: last, layerPartBlob: bytes }));
      } catch (e) {
        const lastValid = (e as { lastValidByteReceived?: number }).lastValidByteReceived;
        // The part arrived, and only the answer was lost: ECR refuses the repeat and says how far it got.
        if (attempt > 1 && (e as Error).name === 'InvalidLayerPartException' && lastValid === last) return;
        if ((e as Error).name === 'InvalidLayerPartException') {
          throw new OperatorError(`ECR refused bytes ${first}-${last} of upload ${uploadId} (it holds up to byte ${lastValid ?? 'unknown'}): ${(e as Error).message}`);
        }
        throw e;
      }
    },
    retry,
    (e, attempt) => {
      stats.retries++;
      stats.resentBytes += bytes.length;
      log?.(`part ${first}-${last} to ${repositoryName} failed (attempt ${attempt}: ${describeError(e)}); retrying`);
    },
  );
}
