import { createHash, randomBytes } from 'crypto';
import { ECRClient } from '@aws-sdk/client-ecr';
import { RegistryClient, mirrorImage } from '../../runtime/operator/mirror-images';
import { OperatorError } from '../../runtime/operator/operator-error';
import { DEFAULT_RETRY_POLICY, MiB, transferClientSettings } from '../../runtime/operator/transfer';
import { RegistryFake } from '../fakes/registry-fake';

/**
 * mirror-images over a link that drops: the source registry cuts blob downloads mid-layer, ECR loses
 * part uploads mid-body or loses the answer to a part it stored. Sizes follow ECR's rules (parts of
 * 5 MiB at least but the last), so a 12 MiB layer moves in three parts.
 */
let source: RegistryFake;
let ecr: RegistryFake;
beforeEach(async () => {
  source = await new RegistryFake('bearer').start();
  ecr = await new RegistryFake('ecr').start();
  ecr.layerPartSize = 5 * MiB;
});
afterEach(async () => {
  await source.stop();
  await ecr.stop();
});

const noWait = { ...DEFAULT_RETRY_POLICY, sleep: async () => undefined };
const layerContent = randomBytes(12 * MiB);
/** The fake prefixes each layer with its architecture. */
const layerBytes = Buffer.concat([Buffer.from('amd64:'), layerContent]);
const layerDigest = `sha256:${createHash('sha256').update(layerBytes).digest('hex')}`;

const ecrApi = { region: 'cn-northwest-1', endpoint: '', credentials: { accessKeyId: 'AKIACHINA', secretAccessKey: 's' } };

function mirror(log: string[] = [], retry = noWait, idleTimeoutMs?: number, destinationEcr = new ECRClient({ ...ecrApi, endpoint: ecr.url, maxAttempts: 1 })) {
  return mirrorImage({
    source: 'vllm/vllm-openai:v0.9.2',
    sourceClient: new RegistryClient(source.url),
    destination: new RegistryClient(ecr.url, Buffer.from('AWS:ecr-password').toString('base64')),
    destinationEcr,
    destinationRepository: 'cnllm/vllm',
    tag: 'v0.9.2',
    retry,
    idleTimeoutMs,
    log: (line) => log.push(line),
  });
}

/** Byte ranges of the 12 MiB layer's parts (the config blob goes first, in one part of its own). */
const layerParts = () => ecr.layerParts.filter((p) => p.last > 1000);

describe('mirror-images over a link that drops', () => {
  test('a download cut mid-layer resumes with a Range request where it stopped: no byte of the layer is served twice', async () => {
    const digest = source.addImage('vllm/vllm-openai', 'v0.9.2', [layerContent]);
    const configSize = JSON.stringify({ architecture: 'amd64', os: 'linux' }).length;
    source.blobDownloadCuts.push(0, 3 * MiB + 17, 8 * MiB); // the config blob (under 1 KiB) is not cut: 0 is no offset inside it
    const log: string[] = [];
    const result = await mirror(log);

    expect(result).toEqual(expect.objectContaining({ digest, copiedBlobs: 2, resentBytes: 0, copiedBytes: configSize + layerBytes.length }));
    expect(ecr.blobs.get(layerDigest)!.equals(layerBytes)).toBe(true);
    expect(source.blobRanges).toEqual([undefined, undefined, `bytes=${3 * MiB + 17}-`, `bytes=${8 * MiB}-`]);
    // Every byte of both blobs left the source once.
    expect(source.blobBytesServed).toBe(configSize + layerBytes.length);
    expect(layerParts()).toEqual([
      { first: 0, last: 5 * MiB - 1, outcome: 'stored' },
      { first: 5 * MiB, last: 10 * MiB - 1, outcome: 'stored' },
      { first: 10 * MiB, last: layerBytes.length - 1, outcome: 'stored' },
    ]);
    expect(log.filter((l) => l.includes('interrupted'))).toEqual([
      expect.stringMatching(new RegExp(`^download of ${layerDigest.slice(0, 19)}\\.\\.\\. interrupted at byte ${3 * MiB + 17} of ${layerBytes.length}`)),
      expect.stringMatching(new RegExp(`interrupted at byte ${8 * MiB} of`)),
    ]);
  });

  test('a source that ignores Range sends the whole blob again: the bytes already received are skipped, not stored twice', async () => {
    const digest = source.addImage('vllm/vllm-openai', 'v0.9.2', [layerContent]);
    source.ignoresRange = true;
    source.blobDownloadCuts.push(0, 6 * MiB);
    expect(await mirror()).toEqual(expect.objectContaining({ digest, copiedBlobs: 2 }));
    expect(source.blobRanges[2]).toBe(`bytes=${6 * MiB}-`);
    expect(ecr.blobs.get(layerDigest)!.equals(layerBytes)).toBe(true);
    expect(layerParts().map((p) => p.outcome)).toEqual(['stored', 'stored', 'stored']);
  });

  test('a download that stalls (connection open, no data) is given up after the idle timeout and resumed where it stopped', async () => {
    const digest = source.addImage('vllm/vllm-openai', 'v0.9.2', [layerContent]);
    source.blobDownloadStalls.push(0, 7 * MiB);
    const log: string[] = [];
    expect(await mirror(log, noWait, 2000)).toEqual(expect.objectContaining({ digest, copiedBlobs: 2 }));
    expect(source.blobRanges).toEqual([undefined, undefined, `bytes=${7 * MiB}-`]);
    expect(ecr.blobs.get(layerDigest)!.equals(layerBytes)).toBe(true);
    expect(log.find((l) => l.includes('interrupted'))).toMatch(/interrupted at byte 7340032 of 12582918 \(TransientError: GET blob sha256:[0-9a-f]{64}: no data for 2000 ms\); resuming/);
  });

  test('a part cut mid-upload is sent again; a part whose answer was lost is not stored twice', async () => {
    source.addImage('vllm/vllm-openai', 'v0.9.2', [layerContent]);
    // UploadLayerPart calls in order: config, layer part 1, part 2 (cut), part 2 again, part 3 (stored, answer lost), part 3 again.
    ecr.layerPartFaults.push(undefined, undefined, 'cut-request', undefined, 'lose-answer', undefined);
    const result = await mirror();

    expect(layerParts().map((p) => [p.first, p.outcome])).toEqual([
      [0, 'stored'],
      [5 * MiB, 'cut'],
      [5 * MiB, 'stored'],
      [10 * MiB, 'stored, answer lost'],
      // ECR refuses the repeat (InvalidLayerPartException, lastValidByteReceived = the part's last byte): the client moves on.
      [10 * MiB, 'refused'],
    ]);
    // Each byte stored once; bytes sent again: the cut part and the part whose answer was lost, nothing else.
    const stored = layerParts().filter((p) => p.outcome !== 'cut' && p.outcome !== 'refused');
    expect(stored.reduce((sum, p) => sum + p.last - p.first + 1, 0)).toBe(layerBytes.length);
    expect(result.resentBytes).toBe(5 * MiB + (layerBytes.length - 10 * MiB));
    expect(ecr.blobs.get(layerDigest)!.equals(layerBytes)).toBe(true);
    expect(ecr.manifests.has('cnllm/vllm:v0.9.2')).toBe(true);
  });

  test('a part upload that gets no answer times out and is sent again', async () => {
    source.addImage('vllm/vllm-openai', 'v0.9.2', [layerContent]);
    ecr.layerPartFaults.push(undefined, undefined, 'stall');
    const log: string[] = [];
    // The ECR client as the CLI builds it (one attempt per request), with a shorter idle timeout than its 60 s.
    await mirror(log, noWait, undefined, new ECRClient({ ...ecrApi, endpoint: ecr.url, ...transferClientSettings({ idleMs: 3000 }) }));
    const second = layerParts().filter((p) => p.first === 5 * MiB).map((p) => p.outcome);
    expect(second[0]).toBe('stalled');
    expect(second).toContain('stored');
    expect(log).toContainEqual(expect.stringMatching(/^part 5242880-10485759 to cnllm\/vllm failed \(attempt 1: .*TimeoutError.*\); retrying$/));
    expect(ecr.blobs.get(layerDigest)!.equals(layerBytes)).toBe(true);
  });

  test('a run that gives up says to run again; the next run skips the blobs ECR already has', async () => {
    const digest = source.addImage('vllm/vllm-openai', 'v0.9.2', [layerContent]);
    // The config blob goes through; every attempt at the layer's first part is cut.
    ecr.layerPartFaults.push(undefined, 'cut-request', 'cut-request', 'cut-request');
    await expect(mirror([], { ...noWait, maxAttempts: 3 })).rejects.toThrow(
      /^uploading bytes 0-5242879 to cnllm\/vllm failed 3 times; last: .*\. Run the command again: it resumes where it stopped\.$/,
    );
    expect(ecr.manifests.size).toBe(0);

    const result = await mirror();
    expect(result).toEqual(expect.objectContaining({ digest, copiedBlobs: 1, skippedBlobs: 1 }));
    expect(ecr.blobs.get(layerDigest)!.equals(layerBytes)).toBe(true);
  });

  test('a source that serves other bytes than its digest fails before ECR completes the layer', async () => {
    source.addImage('vllm/vllm-openai', 'v0.9.2', [layerContent]);
    const served = source.blobs.get(layerDigest)!;
    served[served.length - 1] ^= 0xff;
    const error = await mirror().catch((e) => e);
    expect(error).toBeInstanceOf(OperatorError);
    expect(error.message).toMatch(new RegExp(`^blob ${layerDigest} from vllm/vllm-openai arrived as sha256:[0-9a-f]{64}: the source served different bytes`));
    expect(ecr.blobs.has(layerDigest)).toBe(false);
    // The last part was held back until the digest checked out.
    expect(layerParts().map((p) => p.first)).toEqual([0, 5 * MiB]);
  });
});
