import { createHash } from 'crypto';
import type { ECRClient } from '@aws-sdk/client-ecr';
import { availableLayers, copyBlobToEcr } from './layer-transfer';
import { OperatorError } from './operator-error';
import { DEFAULT_RETRY_POLICY, ProgressStream, RetryPolicy, TransferProgress, formatBytes } from './transfer';

/** A parsed image reference: `docker.io/vllm/vllm-openai:v0.9.2`. */
export interface ImageReference {
  readonly registry: string;
  readonly repository: string;
  readonly reference: string;
}

export function parseImageReference(image: string): ImageReference {
  const [first, ...rest] = image.split('/');
  const hasRegistry = rest.length > 0 && (first.includes('.') || first.includes(':') || first === 'localhost');
  const registry = hasRegistry ? first : 'docker.io';
  let repository = hasRegistry ? rest.join('/') : image;
  let reference = 'latest';
  const at = repository.indexOf('@');
  if (at >= 0) {
    reference = repository.slice(at + 1);
    repository = repository.slice(0, at);
  } else if (repository.lastIndexOf(':') > repository.lastIndexOf('/')) {
    reference = repository.slice(repository.lastIndexOf(':') + 1);
    repository = repository.slice(0, repository.lastIndexOf(':'));
  }
  if (registry === 'docker.io' && !repository.includes('/')) repository = `library/${repository}`;
  return { registry, repository, reference };
}

/** Docker Hub's API lives on registry-1.docker.io; other registries answer on their own host. */
export function registryBaseUrl(registry: string): string {
  return registry === 'docker.io' ? 'https://registry-1.docker.io' : `https://${registry}`;
}

const MANIFEST_TYPES = [
  'application/vnd.oci.image.index.v1+json',
  'application/vnd.docker.distribution.manifest.list.v2+json',
  'application/vnd.oci.image.manifest.v1+json',
  'application/vnd.docker.distribution.manifest.v2+json',
];
const INDEX_TYPES = MANIFEST_TYPES.slice(0, 2);

const sha256 = (bytes: Uint8Array) => `sha256:${createHash('sha256').update(bytes).digest('hex')}`;

/**
 * A registry client for the distribution API: anonymous bearer tokens for public sources
 * (Docker Hub, ECR Public...), Basic auth for ECR (GetAuthorizationToken).
 */
export class RegistryClient {
  private bearer?: string;

  constructor(
    private readonly baseUrl: string,
    private readonly basicAuth?: string,
  ) {}

  async request(path: string, init: RequestInit = {}, retried = false): Promise<Response> {
    const headers = new Headers(init.headers);
    if (this.basicAuth) headers.set('authorization', `Basic ${this.basicAuth}`);
    else if (this.bearer) headers.set('authorization', `Bearer ${this.bearer}`);
    const url = path.startsWith('http') ? path : `${this.baseUrl}${path}`;
    const res = await fetch(url, { ...init, headers, redirect: 'follow', ...(init.body ? { duplex: 'half' } : {}) } as RequestInit);
    if (res.status === 401 && !this.basicAuth && !retried) {
      await this.authenticate(res.headers.get('www-authenticate') ?? '');
      return this.request(path, init, true);
    }
    return res;
  }

  /** `Bearer realm="...",service="...",scope="..."` -> an anonymous pull token. */
  private async authenticate(challenge: string) {
    const params = Object.fromEntries([...challenge.matchAll(/(\w+)="([^"]*)"/g)].map((m) => [m[1], m[2]]));
    if (!params.realm) throw new OperatorError(`${this.baseUrl} wants credentials this script does not have (${challenge || 'no challenge'})`);
    const url = new URL(params.realm);
    if (params.service) url.searchParams.set('service', params.service);
    if (params.scope) url.searchParams.set('scope', params.scope);
    const res = await fetch(url);
    if (!res.ok) throw new OperatorError(`token request to ${url.host} failed: ${res.status}`);
    const body = (await res.json()) as { token?: string; access_token?: string };
    this.bearer = body.token ?? body.access_token;
  }

  async manifest(repository: string, reference: string): Promise<{ bytes: Uint8Array; mediaType: string; digest: string } | undefined> {
    const res = await this.request(`/v2/${repository}/manifests/${reference}`, { headers: { accept: MANIFEST_TYPES.join(', ') } });
    if (res.status === 404) return undefined;
    if (!res.ok) throw new OperatorError(`GET manifest ${repository}:${reference} from ${this.baseUrl}: ${res.status} ${await res.text()}`);
    const bytes = new Uint8Array(await res.arrayBuffer());
    return { bytes, mediaType: (res.headers.get('content-type') ?? '').split(';')[0], digest: sha256(bytes) };
  }

}

export interface MirrorResult {
  readonly image: string;
  readonly destination: string;
  readonly digest: string;
  readonly copiedBlobs: number;
  readonly skippedBlobs: number;
  readonly alreadyMirrored: boolean;
  /** Bytes of the blobs copied (each counted once, however often a part was retried). */
  readonly copiedBytes: number;
  /** Bytes of parts sent to ECR again after a failed attempt. */
  readonly resentBytes: number;
}

/**
 * Copies one image (the manifest of `platform`, linux/amd64 by default, from a multi-arch index) into a private ECR repository
 * under a tag, blob by blob, skipping blobs already there; then checks the pushed manifest digest
 * against the bytes sent, the registry's answer and the digest pinned in config.
 *
 * Blobs move in parts with retries (see copyBlobToEcr): a dropped connection on either side resumes
 * where it stopped. Manifests, small, go through the registry API (`destination`).
 */
export async function mirrorImage(opts: {
  source: string;
  sourceClient: RegistryClient;
  destination: RegistryClient;
  /** ECR API client of the destination account and region: layer checks and part uploads. */
  destinationEcr: ECRClient;
  destinationRepository: string;
  tag: string;
  pinnedDigest?: string;
  /** The platform taken from a multi-arch index (and, when given, required of a single-platform image). @default "linux/amd64" from an index, a single-platform image unchecked */
  platform?: 'linux/amd64' | 'linux/arm64';
  log?: (line: string) => void;
  /** Where the progress of large blobs goes (the CLI passes stderr). @default none */
  progress?: ProgressStream;
  retry?: RetryPolicy;
  /** Part size instead of the one ECR asks for (tests). @default ECR's InitiateLayerUpload answer */
  partSize?: number;
  /** A source download silent for this long counts as dropped and resumes. @default 60000 */
  idleTimeoutMs?: number;
}): Promise<MirrorResult> {
  const log = opts.log ?? ((l: string) => console.log(l));
  const ref = parseImageReference(opts.source);
  let manifest = await opts.sourceClient.manifest(ref.repository, ref.reference);
  if (!manifest) throw new OperatorError(`${opts.source} was not found in its registry`);
  const platform = opts.platform ?? 'linux/amd64';
  const [os, architecture] = platform.split('/');
  if (INDEX_TYPES.includes(manifest.mediaType)) {
    const index = JSON.parse(Buffer.from(manifest.bytes).toString('utf8')) as { manifests: { digest: string; platform?: { os?: string; architecture?: string } }[] };
    const wanted = index.manifests.find((m) => m.platform?.os === os && m.platform?.architecture === architecture);
    if (!wanted) throw new OperatorError(`${opts.source} has no ${platform} image (it has ${index.manifests.map((m) => `${m.platform?.os}/${m.platform?.architecture}`).join(', ')})`);
    manifest = await opts.sourceClient.manifest(ref.repository, wanted.digest);
    if (!manifest) throw new OperatorError(`${opts.source}: its ${platform} manifest ${wanted.digest} is missing`);
  } else if (opts.platform) {
    // A single-platform image: its config says which; copying the wrong one would fail only at run time.
    const { config } = JSON.parse(Buffer.from(manifest.bytes).toString('utf8')) as { config: { digest: string } };
    const res = await opts.sourceClient.request(`/v2/${ref.repository}/blobs/${config.digest}`);
    if (!res.ok) throw new OperatorError(`GET the image config of ${opts.source}: ${res.status}`);
    const imageConfig = (await res.json()) as { os?: string; architecture?: string };
    if (imageConfig.os !== os || imageConfig.architecture !== architecture) throw new OperatorError(`${opts.source} is a ${imageConfig.os}/${imageConfig.architecture} image, not ${platform}`);
  }
  if (opts.pinnedDigest && opts.pinnedDigest !== manifest.digest) {
    throw new OperatorError(`${opts.source} now resolves to ${manifest.digest}, but config pins ${opts.pinnedDigest}: the tag moved upstream. Check the new image, then update the pin.`);
  }
  const destination = `${opts.destinationRepository}:${opts.tag}`;

  const existing = await opts.destination.manifest(opts.destinationRepository, opts.tag);
  if (existing) {
    if (existing.digest !== manifest.digest) {
      throw new OperatorError(`${destination} already holds ${existing.digest}, not ${manifest.digest}; tags are immutable in the kit's repositories: use a new tag.`);
    }
    log(`${destination} already holds ${manifest.digest}`);
    return { image: opts.source, destination, digest: manifest.digest, copiedBlobs: 0, skippedBlobs: 0, alreadyMirrored: true, copiedBytes: 0, resentBytes: 0 };
  }

  const body = JSON.parse(Buffer.from(manifest.bytes).toString('utf8')) as { config: { digest: string; size: number }; layers: { digest: string; size: number }[] };
  const blobs = [body.config, ...body.layers];
  const retry = opts.retry ?? DEFAULT_RETRY_POLICY;
  const present = await availableLayers(opts.destinationEcr, opts.destinationRepository, blobs.map((b) => b.digest), retry);
  const missing = blobs.filter((b) => !present.has(b.digest));
  const missingBytes = missing.reduce((sum, b) => sum + b.size, 0);
  const progress = new TransferProgress(destination, missingBytes, opts.progress);
  const logAbove = progress.above(log);
  let resentBytes = 0;
  for (const blob of missing) {
    progress.relabel(`${destination} ${blob.digest.slice(0, 19)}...`);
    const stats = await copyBlobToEcr(opts.sourceClient, ref.repository, opts.destinationEcr, opts.destinationRepository, blob, { retry, progress, log: logAbove, partSize: opts.partSize, idleTimeoutMs: opts.idleTimeoutMs });
    resentBytes += stats.resentBytes;
    logAbove(`copied ${blob.digest.slice(0, 19)}... (${formatBytes(blob.size)}${stats.retries ? `, ${stats.retries} retries` : ''})`);
  }
  progress.finish();
  const copied = missing.length;
  const skipped = blobs.length - copied;

  const put = await opts.destination.request(`/v2/${opts.destinationRepository}/manifests/${opts.tag}`, {
    method: 'PUT',
    headers: { 'content-type': manifest.mediaType },
    body: Buffer.from(manifest.bytes),
  });
  if (!put.ok) throw new OperatorError(`pushing the manifest of ${destination} failed: ${put.status} ${await put.text()}`);
  const reported = put.headers.get('docker-content-digest');
  const check = await opts.destination.manifest(opts.destinationRepository, opts.tag);
  if (reported !== manifest.digest || check?.digest !== manifest.digest) {
    throw new OperatorError(`${destination} does not verify: sent ${manifest.digest}, registry reported ${reported}, and now serves ${check?.digest}`);
  }
  log(`${destination} = ${manifest.digest} (${copied} blobs copied, ${skipped} already there)`);
  return { image: opts.source, destination, digest: manifest.digest, copiedBlobs: copied, skippedBlobs: skipped, alreadyMirrored: false, copiedBytes: missingBytes, resentBytes };
}
