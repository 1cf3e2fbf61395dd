import { createHash, randomUUID } from 'crypto';
import * as http from 'http';
import { LoopbackServer } from './loopback-server';

const digestOf = (bytes: Buffer) => `sha256:${createHash('sha256').update(bytes).digest('hex')}`;

/**
 * A loopback OCI distribution registry. `bearer` plays a public source (anonymous token flow, as
 * Docker Hub and ECR Public do); `ecr` plays a private ECR repository: Basic auth from
 * GetAuthorizationToken (served on the same port), digest-checked uploads, immutable tags.
 */
export class RegistryFake extends LoopbackServer {
  readonly blobs = new Map<string, Buffer>();
  readonly manifests = new Map<string, { bytes: Buffer; mediaType: string }>();
  readonly blobUploads: string[] = [];
  private readonly password = 'ecr-password';

  constructor(readonly mode: 'bearer' | 'ecr') {
    super();
  }

  /** Seeds an image; with `multiArch`, the tag points at an index with linux/amd64 and linux/arm64. */
  addImage(repository: string, tag: string, layers: string[], multiArch = false): string {
    const put = (bytes: Buffer) => {
      this.blobs.set(digestOf(bytes), bytes);
      return { digest: digestOf(bytes), size: bytes.length };
    };
    const image = (arch: string) => {
      const config = put(Buffer.from(JSON.stringify({ architecture: arch, os: 'linux' })));
      const manifest = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: 'application/vnd.oci.image.manifest.v1+json', config: { mediaType: 'application/vnd.oci.image.config.v1+json', ...config }, layers: layers.map((l) => ({ mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', ...put(Buffer.from(`${arch}:${l}`)) })) }));
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
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const body = Buffer.concat(chunks);
    const url = new URL(req.url ?? '/', this.url);
    if (req.headers['x-amz-target'] === 'AmazonEC2ContainerRegistry_V20150921.GetAuthorizationToken') {
      res.writeHead(200, { 'content-type': 'application/x-amz-json-1.1' });
      res.end(JSON.stringify({ authorizationData: [{ authorizationToken: Buffer.from(`AWS:${this.password}`).toString('base64'), proxyEndpoint: this.url, expiresAt: Date.now() / 1000 + 3600 }] }));
      return;
    }
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
    res.writeHead(200, { 'content-length': blob.length, 'docker-content-digest': rest });
    res.end(req.method === 'HEAD' ? undefined : blob);
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
