import { createHash, randomUUID } from 'crypto';
import * as http from 'http';
import { CodeBuildClient } from '@aws-sdk/client-codebuild';
import { S3Client } from '@aws-sdk/client-s3';
import { LoopbackServer } from './loopback-server';

/** What the fake does to an UploadPart request: cut it mid-body, or store the part and lose the answer. */
export type PartFault = 'cut-request' | 'lose-answer';

const sha256 = (bytes: Buffer) => createHash('sha256').update(bytes).digest('base64');
const md5Etag = (bytes: Buffer) => `"${createHash('md5').update(bytes).digest('hex')}"`;
const xml = (text: string) => text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

/**
 * Loopback S3 (path-style REST) and CodeBuild (JSON 1.1) for the staging command. A started build
 * "runs" for a few status polls and then writes the manifest, as stage-model.sh would, or fails.
 *
 * S3 plays what resumable uploads rely on: multipart uploads with SHA-256 checksums checked per part
 * and reported by ListParts, ListMultipartUploads, composite checksums ("-N") on HeadObject with
 * ChecksumMode, parts of 5 MiB at least but the last. `partFaults` plays a link that drops, per part
 * number, one fault per request.
 */
/** The model the staging tests stage: the bucket, prefix and CodeBuild project the stand-in serves. */
export const STAGING_TARGET = {
  modelId: 'Qwen/Qwen2.5-1.5B-Instruct',
  revision: 'master',
  bucket: 'weights',
  prefix: 'models/Qwen/Qwen2.5-1.5B-Instruct/master/',
  projectName: 'cnllm-stage-model',
  region: 'cn-northwest-1',
};

export class StagingFake extends LoopbackServer {
  /** S3 and CodeBuild clients pointed at this stand-in (`maxAttempts: 1` leaves retries to the code under test). */
  clients(opts: { maxAttempts?: number } = {}): { s3: S3Client; codebuild: CodeBuildClient } {
    const common = { region: 'cn-northwest-1', endpoint: this.url, credentials: { accessKeyId: 'AKIACHINA', secretAccessKey: 's' }, ...opts };
    return { s3: new S3Client({ ...common, forcePathStyle: true }), codebuild: new CodeBuildClient(common) };
  }

  readonly objects = new Map<string, Buffer>();
  readonly checksums = new Map<string, string>();
  readonly builds: { id: string; env: Record<string, string>; polls: number }[] = [];
  readonly calls: string[] = [];
  readonly partFaults = new Map<number, PartFault[]>();
  /** Every UploadPart request that reached S3: the part number, its size and what became of it. */
  readonly partUploads: { partNumber: number; bytes: number; outcome: 'stored' | 'cut' | 'stored, answer lost' }[] = [];
  readonly uploads = new Map<string, { key: string; initiated: Date; checksumAlgorithm?: string; parts: Map<number, { bytes: Buffer; checksum?: string }> }>();
  /** What the next build ends as. */
  nextBuildOutcome: 'SUCCEEDED' | 'FAILED' = 'SUCCEEDED';

  protected async serve(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', this.url);
    const partNumber = Number(url.searchParams.get('partNumber'));
    const fault = req.method === 'PUT' && partNumber ? this.partFaults.get(partNumber)?.shift() : undefined;
    const chunks: Buffer[] = [];
    let received = 0;
    for await (const c of req) {
      chunks.push(c as Buffer);
      received += (c as Buffer).length;
      if (fault === 'cut-request' && received >= Number(req.headers['content-length']) / 2) {
        this.partUploads.push({ partNumber, bytes: Number(req.headers['content-length']), outcome: 'cut' });
        req.socket.destroy();
        return;
      }
    }
    const body = Buffer.concat(chunks);
    const target = req.headers['x-amz-target'] as string | undefined;
    if (target) return this.codebuild(res, target.split('.')[1], JSON.parse(body.toString('utf8') || '{}'));
    const key = decodeURIComponent(url.pathname.slice(1));
    const uploadId = url.searchParams.get('uploadId');
    const checksum = req.headers['x-amz-checksum-sha256'] as string | undefined;
    if (checksum && sha256(body) !== checksum) return this.error(res, 400, 'BadDigest', 'The SHA256 you specified did not match the calculated checksum.');

    if (req.method === 'POST' && url.searchParams.has('uploads')) {
      const id = randomUUID();
      this.calls.push(`CreateMultipartUpload ${key}`);
      this.uploads.set(id, { key, initiated: new Date(), checksumAlgorithm: req.headers['x-amz-checksum-algorithm'] as string | undefined, parts: new Map() });
      return this.xml(res, `<InitiateMultipartUploadResult><Bucket>${xml(key.split('/')[0])}</Bucket><Key>${xml(key.split('/').slice(1).join('/'))}</Key><UploadId>${id}</UploadId></InitiateMultipartUploadResult>`);
    }
    if (req.method === 'GET' && url.searchParams.has('uploads')) {
      const bucket = key.replace(/\/$/, '');
      const prefix = `${bucket}/${url.searchParams.get('prefix') ?? ''}`;
      this.calls.push(`ListMultipartUploads ${prefix}`);
      const uploads = [...this.uploads.entries()].filter(([, u]) => u.key.startsWith(prefix));
      return this.xml(
        res,
        `<ListMultipartUploadsResult><Bucket>${xml(bucket)}</Bucket><IsTruncated>false</IsTruncated>${uploads
          .map(([id, u]) => `<Upload><Key>${xml(u.key.slice(bucket.length + 1))}</Key><UploadId>${id}</UploadId><Initiated>${u.initiated.toISOString()}</Initiated>${u.checksumAlgorithm ? `<ChecksumAlgorithm>${u.checksumAlgorithm}</ChecksumAlgorithm>` : ''}</Upload>`)
          .join('')}</ListMultipartUploadsResult>`,
      );
    }
    if (uploadId) {
      const upload = this.uploads.get(uploadId);
      if (!upload || upload.key !== key) return this.error(res, 404, 'NoSuchUpload', 'The specified upload does not exist.');
      if (req.method === 'PUT') {
        if (upload.checksumAlgorithm === 'SHA256' && !checksum) return this.error(res, 400, 'InvalidRequest', 'The upload was created using a sha256 checksum.');
        this.calls.push(`UploadPart ${key} ${partNumber}`);
        upload.parts.set(partNumber, { bytes: body, checksum });
        this.partUploads.push({ partNumber, bytes: body.length, outcome: fault === 'lose-answer' ? 'stored, answer lost' : 'stored' });
        if (fault === 'lose-answer') return void req.socket.destroy();
        res.writeHead(200, { etag: md5Etag(body), ...(checksum && { 'x-amz-checksum-sha256': checksum }) });
        res.end();
        return;
      }
      if (req.method === 'GET') {
        const after = Number(url.searchParams.get('part-number-marker') ?? 0);
        const max = Number(url.searchParams.get('max-parts') ?? 1000);
        const numbers = [...upload.parts.keys()].sort((a, b) => a - b).filter((n) => n > after);
        const page = numbers.slice(0, max);
        this.calls.push(`ListParts ${key}`);
        return this.xml(
          res,
          `<ListPartsResult><UploadId>${uploadId}</UploadId><PartNumberMarker>${after}</PartNumberMarker><NextPartNumberMarker>${page[page.length - 1] ?? after}</NextPartNumberMarker><MaxParts>${max}</MaxParts><IsTruncated>${numbers.length > page.length}</IsTruncated>${page
            .map((n) => {
              const part = upload.parts.get(n)!;
              return `<Part><PartNumber>${n}</PartNumber><ETag>${xml(md5Etag(part.bytes))}</ETag><Size>${part.bytes.length}</Size>${part.checksum ? `<ChecksumSHA256>${part.checksum}</ChecksumSHA256>` : ''}</Part>`;
            })
            .join('')}</ListPartsResult>`,
        );
      }
      if (req.method === 'POST') {
        this.calls.push(`CompleteMultipartUpload ${key}`);
        const listed = [...body.toString('utf8').matchAll(/<Part>(.*?)<\/Part>/g)].map((m) => ({
          number: Number(/<PartNumber>(\d+)<\/PartNumber>/.exec(m[1])?.[1]),
          etag: /<ETag>(.*?)<\/ETag>/.exec(m[1])?.[1]?.replace(/&quot;/g, '"'),
          checksum: /<ChecksumSHA256>(.*?)<\/ChecksumSHA256>/.exec(m[1])?.[1],
        }));
        const parts = listed.map((p) => ({ ...p, stored: upload.parts.get(p.number) }));
        if (parts.some((p, i) => !p.stored || p.etag !== md5Etag(p.stored.bytes) || (i > 0 && p.number <= parts[i - 1].number))) return this.error(res, 400, 'InvalidPart', 'One or more of the specified parts could not be found.');
        if (parts.some((p) => p.checksum !== p.stored!.checksum)) return this.error(res, 400, 'InvalidPart', 'A part checksum does not match.');
        if (parts.slice(0, -1).some((p) => p.stored!.bytes.length < 5 * 1024 * 1024)) return this.error(res, 400, 'EntityTooSmall', 'Your proposed upload is smaller than the minimum allowed object size.');
        const composite = `${sha256(Buffer.concat(parts.map((p) => Buffer.from(p.stored!.checksum ?? '', 'base64'))))}-${parts.length}`;
        this.objects.set(key, Buffer.concat(parts.map((p) => p.stored!.bytes)));
        if (upload.checksumAlgorithm === 'SHA256') this.checksums.set(key, composite);
        this.uploads.delete(uploadId);
        return this.xml(res, `<CompleteMultipartUploadResult><Key>${xml(key)}</Key><ETag>"multipart-${parts.length}"</ETag>${upload.checksumAlgorithm === 'SHA256' ? `<ChecksumSHA256>${composite}</ChecksumSHA256>` : ''}</CompleteMultipartUploadResult>`);
      }
    }

    this.calls.push(`${req.method} ${key}`);
    if (req.method === 'HEAD' || req.method === 'GET') {
      const object = this.objects.get(key);
      const withChecksum = req.headers['x-amz-checksum-mode'] === 'ENABLED' && this.checksums.has(key);
      res.writeHead(object ? 200 : 404, object ? { 'content-length': object.length, etag: '"e"', ...(withChecksum && { 'x-amz-checksum-sha256': this.checksums.get(key) }) } : {});
      res.end(req.method === 'GET' && object ? object : undefined);
      return;
    }
    if (req.method === 'PUT') {
      this.objects.set(key, body);
      if (checksum) this.checksums.set(key, checksum);
      else this.checksums.delete(key);
      res.writeHead(200, { etag: '"e"', ...(checksum && { 'x-amz-checksum-sha256': checksum }) });
      res.end();
      return;
    }
    res.writeHead(405);
    res.end();
  }

  private xml(res: http.ServerResponse, body: string) {
    res.writeHead(200, { 'content-type': 'application/xml' });
    res.end(`<?xml version="1.0" encoding="UTF-8"?>\n${body.replace(/^<(\w+)>/, '<$1 xmlns="http://s3.amazonaws.com/doc/2006-03-01/">')}`);
  }

  private error(res: http.ServerResponse, status: number, code: string, message: string) {
    res.writeHead(status, { 'content-type': 'application/xml' });
    res.end(`<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>${code}</Code><Message>${xml(message)}</Message></Error>`);
  }

  private codebuild(res: http.ServerResponse, operation: string, input: any) {
    this.calls.push(`CodeBuild.${operation}`);
    const json = (body: object) => {
      res.writeHead(200, { 'content-type': 'application/x-amz-json-1.1' });
      res.end(JSON.stringify(body));
    };
    if (operation === 'StartBuild') {
      const id = `${input.projectName}:${this.builds.length + 1}`;
      const env = Object.fromEntries((input.environmentVariablesOverride ?? []).map((v: any) => [v.name, v.value]));
      this.builds.push({ id, env, polls: 0 });
      return json({ build: { id, buildStatus: 'IN_PROGRESS', currentPhase: 'SUBMITTED' } });
    }
    if (operation === 'BatchGetBuilds') {
      const build = this.builds.find((b) => b.id === input.ids[0])!;
      build.polls++;
      if (build.polls < 3) return json({ builds: [{ id: build.id, buildStatus: 'IN_PROGRESS', currentPhase: build.polls === 1 ? 'PROVISIONING' : 'BUILD' }] });
      if (this.nextBuildOutcome === 'SUCCEEDED') this.objects.set(`weights/${build.env.PREFIX}manifest.json`, Buffer.from('{}'));
      return json({ builds: [{ id: build.id, buildStatus: this.nextBuildOutcome, currentPhase: 'COMPLETED' }] });
    }
    res.writeHead(400, { 'content-type': 'application/x-amz-json-1.1' });
    res.end(JSON.stringify({ __type: 'InvalidInputException', message: operation }));
  }
}
