import { createHash, randomUUID } from 'crypto';
import * as http from 'http';
import { LoopbackServer } from './loopback-server';

const digestOf = (bytes: Buffer) => `sha256:${createHash('sha256').update(bytes).digest('hex')}`;

/** What the fake does to the next UploadLayerPart call. */
export type LayerPartFault = 'cut-request' | 'lose-answer' | 'stall' | undefined;

/**
 * A loopback OCI distribution registry. `bearer` plays a public source (anonymous token flow, as
 * Docker Hub and ECR Public do); `ecr` plays a private ECR repository: Basic auth from
 * GetAuthorizationToken (served on the same port), digest-checked uploads, immutable tags, and
 * ECR's layer-part API (BatchCheckLayerAvailability, InitiateLayerUpload, UploadLayerPart,
 * CompleteLayerUpload) with ECR's rules: parts in order, 5 MiB at least but the last.
 *
 * Faults play a link that drops: `blobDownloadCuts` cuts GET blob answers at these byte offsets of
 * the blob (one per answer), `blobDownloadStalls` stops sending there and leaves the connection open; `layerPartFaults` cuts the n-th UploadLayerPart request mid-body, or
 * stores the part and then cuts the connection instead of answering, or reads it and never answers.
 */
export class RegistryFake extends LoopbackServer {
  readonly blobs = new Map<string, Buffer>();
  readonly manifests = new Map<string, { bytes: Buffer; mediaType: string }>();
  readonly blobUploads: string[] = [];
  readonly blobDownloadCuts: number[] = [];
  /** Like cuts, but the connection stays open and silent, as a link that stalls. */
  readonly blobDownloadStalls: number[] = [];
  readonly layerPartFaults: LayerPartFault[] = [];
  /** Range headers of blob GETs, in order. */
  readonly blobRanges: (string | undefined)[] = [];
  /** Blob bytes written to the network by GET blob answers. */
  blobBytesServed = 0;
  /** Every UploadLayerPart request that reached the API: its range and what became of it. */
  readonly layerParts: { first: number; last: number; outcome: 'stored' | 'cut' | 'stored, answer lost' | 'refused' | 'stalled' }[] = [];
  /** Plays a server that ignores Range: every GET blob answers 200 with the whole blob. */
  ignoresRange = false;
  /** The part size InitiateLayerUpload asks for. */
  layerPartSize = 10 * 1024 * 1024;
  minimumLayerPartSize = 5 * 1024 * 1024;
  private readonly layerUploads = new Map<string, { repository: string; parts: Buffer[]; received: number }>();
  private readonly password = 'ecr-password';

  constructor(readonly mode: 'bearer' | 'ecr') {
    super();
  }

  /** Seeds an image; with `multiArch`, the tag points at an index with linux/amd64 and linux/arm64. */
  addImage(repository: string, tag: string, layers: (string | Buffer)[], multiArch = false): string {
    const put = (bytes: Buffer) => {
      this.blobs.set(digestOf(bytes), bytes);
      return { digest: digestOf(bytes), size: bytes.length };
    };
    const image = (arch: string) => {
      const config = put(Buffer.from(JSON.stringify({ architecture: arch, os: 'linux' })));
      const manifest = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: 'application/vnd.oci.image.manifest.v1+json', config: { mediaType: 'application/vnd.oci.image.config.v1+json', ...config }, layers: layers.map((l) => ({ mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', ...put(Buffer.concat([Buffer.from(`${arch}:`), Buffer.from(l)])) })) }));
      this.manifests.set(`${repository}@${digestOf(manifest)}`, { bytes: manifest, mediaType: 'application/vnd.oci.image.manifest.v1+json' });
      return { bytes: manifest, digest: digestOf(manifest) };
    };
    const amd64 = image('amd64');
    if (!multiArch) {
      this.manifests.set(`${repository}:${tag}`, { bytes: amd64.bytes, mediaType: 'application/vnd.oci.image.manifest.v1+json' });
      return amd64.digest;
    }
    const arm64 = image('arm64');
    const index = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: 'application/vnd.oci.image.index.v1+json', manifests: [
      { mediaType: 'application/vnd.oci.image.manifest.v1+json', digest: arm64.digest, size: arm64.bytes.length, platform: { os: 'linux', architecture: 'arm64' } },
      { mediaType: 'application/vnd.oci.image.manifest.v1+json', digest: amd64.digest, size: amd64.bytes.length, platform: { os: 'linux', architecture: 'amd64' } },
    ] }));
    this.manifests.set(`${repository}:${tag}`, { bytes: index, mediaType: 'application/vnd.oci.image.index.v1+json' });
    return amd64.digest;
  }

  protected async serve(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const target = (req.headers['x-amz-target'] as string | undefined)?.split('.')[1];
    const fault = target === 'UploadLayerPart' ? this.layerPartFaults.shift() : undefined;
    const chunks: Buffer[] = [];
    let received = 0;
    for await (const c of req) {
      chunks.push(c as Buffer);
      received += (c as Buffer).length;
      if (fault === 'cut-request' && received >= Number(req.headers['content-length']) / 2) {
        const part = /"partFirstByte":(\d+),"partLastByte":(\d+)/.exec(Buffer.concat(chunks).toString('latin1'));
        this.layerParts.push({ first: Number(part?.[1]), last: Number(part?.[2]), outcome: 'cut' });
        req.socket.destroy();
        return;
      }
    }
    const body = Buffer.concat(chunks);
    const url = new URL(req.url ?? '/', this.url);
    if (target === 'GetAuthorizationToken') {
      res.writeHead(200, { 'content-type': 'application/x-amz-json-1.1' });
      res.end(JSON.stringify({ authorizationData: [{ authorizationToken: Buffer.from(`AWS:${this.password}`).toString('base64'), proxyEndpoint: this.url, expiresAt: Date.now() / 1000 + 3600 }] }));
      return;
    }
    if (fault === 'stall') {
      const part = JSON.parse(body.toString('utf8'));
      this.layerParts.push({ first: part.partFirstByte, last: part.partLastByte, outcome: 'stalled' });
      return;
    }
    if (target) return this.layerApi(res, target, JSON.parse(body.toString('utf8')), fault);
    if (url.pathname === '/token') {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ token: `pull:${url.searchParams.get('scope')}` }));
      return;
    }
    if (!this.authorized(req.headers.authorization)) {
      res.writeHead(401, this.mode === 'bearer' ? { 'www-authenticate': `Bearer realm="${this.url}/token",service="fake-registry",scope="repository:x:pull"` } : {});
      res.end();
      return;
    }
    const m = /^\/v2\/(.+?)\/(manifests|blobs)\/(.+)$/.exec(url.pathname);
    if (!m) return this.send(res, 404);
    const [, repository, kind, rest] = m;
    if (kind === 'manifests') return this.manifest(req, res, repository, rest, body);
    if (rest === 'uploads/' && req.method === 'POST') {
      res.writeHead(202, { location: `/v2/${repository}/blobs/uploads/${randomUUID()}` });
      res.end();
      return;
    }
    if (rest.startsWith('uploads/') && req.method === 'PUT') {
      const digest = url.searchParams.get('digest')!;
      if (digestOf(body) !== digest) return this.send(res, 400, { errors: [{ code: 'DIGEST_INVALID' }] });
      this.blobs.set(digest, body);
      this.blobUploads.push(digest);
      return this.send(res, 201);
    }
    const blob = this.blobs.get(rest);
    if (!blob) return this.send(res, 404);
    if (req.method === 'HEAD') {
      res.writeHead(200, { 'content-length': blob.length, 'docker-content-digest': rest });
      res.end();
      return;
    }
    this.blobRanges.push(req.headers.range);
    const start = this.ignoresRange ? 0 : Number(/^bytes=(\d+)-$/.exec(req.headers.range ?? '')?.[1] ?? 0);
    res.writeHead(start > 0 ? 206 : 200, { 'content-length': blob.length - start, 'docker-content-digest': rest, ...(start > 0 && { 'content-range': `bytes ${start}-${blob.length - 1}/${blob.length}` }) });
    const cut = this.blobDownloadCuts.shift();
    if (cut !== undefined && cut > start && cut < blob.length) {
      this.blobBytesServed += cut - start;
      // Flush what was sent, then drop the connection as a broken link would.
      res.write(blob.subarray(start, cut), () => setTimeout(() => req.socket.destroy(), 20));
      return;
    }
    const stall = this.blobDownloadStalls.shift();
    if (stall !== undefined && stall > start && stall < blob.length) {
      this.blobBytesServed += stall - start;
      res.write(blob.subarray(start, stall));
      return;
    }
    this.blobBytesServed += blob.length - start;
    res.end(blob.subarray(start));
  }

  private layerApi(res: http.ServerResponse, operation: string, input: any, fault: LayerPartFault) {
    const answer = (status: number, body: object) => {
      res.writeHead(status, { 'content-type': 'application/x-amz-json-1.1' });
      res.end(JSON.stringify(body));
    };
    const fail = (type: string, message: string, extra: object = {}) => answer(400, { __type: type, message, ...extra });
    if (operation === 'BatchCheckLayerAvailability') {
      const digests: string[] = input.layerDigests;
      return answer(200, {
        layers: digests.filter((d) => this.blobs.has(d)).map((d) => ({ layerDigest: d, layerAvailability: 'AVAILABLE', layerSize: this.blobs.get(d)!.length })),
        failures: digests.filter((d) => !this.blobs.has(d)).map((d) => ({ layerDigest: d, failureCode: 'MissingLayerDigest', failureReason: 'Could not find layer' })),
      });
    }
    if (operation === 'InitiateLayerUpload') {
      const uploadId = randomUUID();
      this.layerUploads.set(uploadId, { repository: input.repositoryName, parts: [], received: 0 });
      return answer(200, { uploadId, partSize: this.layerPartSize });
    }
    const upload = this.layerUploads.get(input.uploadId);
    if (!upload) return fail('UploadNotFoundException', `Upload ${input.uploadId} not found`);
    if (operation === 'UploadLayerPart') {
      const bytes = Buffer.from(input.layerPartBlob, 'base64');
      const entry = { first: input.partFirstByte as number, last: input.partLastByte as number, outcome: 'refused' as (typeof this.layerParts)[number]['outcome'] };
      this.layerParts.push(entry);
      const previous = upload.parts[upload.parts.length - 1];
      if (entry.first !== upload.received || entry.last - entry.first + 1 !== bytes.length) {
        return fail('InvalidLayerPartException', `The part ${entry.first}-${entry.last} is not the next one`, { uploadId: input.uploadId, repositoryName: upload.repository, lastValidByteReceived: upload.received - 1 });
      }
      if (previous && previous.length < this.minimumLayerPartSize) return fail('LayerPartTooSmallException', 'Layer parts must be at least 5 MiB in size');
      upload.parts.push(bytes);
      upload.received += bytes.length;
      entry.outcome = fault === 'lose-answer' ? 'stored, answer lost' : 'stored';
      if (fault === 'lose-answer') return void res.socket?.destroy();
      return answer(200, { registryId: '111122223333', repositoryName: upload.repository, uploadId: input.uploadId, lastByteReceived: upload.received - 1 });
    }
    if (operation === 'CompleteLayerUpload') {
      const digest: string = input.layerDigests[0];
      const bytes = Buffer.concat(upload.parts);
      this.layerUploads.delete(input.uploadId);
      if (this.blobs.has(digest)) return fail('LayerAlreadyExistsException', `${digest} already exists`);
      if (digestOf(bytes) !== digest) return fail('InvalidLayerException', `digest ${digestOf(bytes)} does not match ${digest}`);
      this.blobs.set(digest, bytes);
      this.blobUploads.push(digest);
      return answer(200, { registryId: '111122223333', repositoryName: upload.repository, uploadId: input.uploadId, layerDigest: digest });
    }
    return fail('InvalidParameterException', `${operation} is not played by this fake`);
  }

  private manifest(req: http.IncomingMessage, res: http.ServerResponse, repository: string, reference: string, body: Buffer) {
    const key = reference.startsWith('sha256:') ? `${repository}@${reference}` : `${repository}:${reference}`;
    if (req.method === 'PUT') {
      if (this.manifests.has(key)) return this.send(res, 400, { errors: [{ code: 'TAG_INVALID', message: 'ImageTagAlreadyExistsException' }] });
      const parsed = JSON.parse(body.toString('utf8'));
      for (const blob of [parsed.config, ...parsed.layers]) if (!this.blobs.has(blob.digest)) return this.send(res, 400, { errors: [{ code: 'BLOB_UNKNOWN' }] });
      const entry = { bytes: body, mediaType: String(req.headers['content-type']) };
      this.manifests.set(key, entry);
      this.manifests.set(`${repository}@${digestOf(body)}`, entry);
      res.writeHead(201, { 'docker-content-digest': digestOf(body) });
      res.end();
      return;
    }
    const entry = this.manifests.get(key);
    if (!entry) return this.send(res, 404);
    res.writeHead(200, { 'content-type': entry.mediaType, 'docker-content-digest': digestOf(entry.bytes) });
    res.end(req.method === 'HEAD' ? undefined : entry.bytes);
  }

  private authorized(header: string | undefined): boolean {
    if (this.mode === 'ecr') return header === `Basic ${Buffer.from(`AWS:${this.password}`).toString('base64')}`;
    return header?.startsWith('Bearer pull:') ?? false;
  }

  private send(res: http.ServerResponse, status: number, body?: object) {
    res.writeHead(status, { 'content-type': 'application/json' });
    res.end(body ? JSON.stringify(body) : undefined);
  }
}
