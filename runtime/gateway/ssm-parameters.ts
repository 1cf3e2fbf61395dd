import { createHash, createHmac, Hash, Hmac } from 'crypto';
import { SignatureV4 } from '@smithy/signature-v4';
import type { AwsCredentialIdentityProvider, Checksum, SourceData } from '@smithy/types';

export interface SsmParameter {
  readonly name: string;
  readonly value: string;
}

/** The regional Parameter Store endpoint; the China regions answer under amazonaws.com.cn (the VPC endpoint's private DNS name). */
export function ssmEndpoint(region: string): string {
  return `https://ssm.${region}.amazonaws.com${region.startsWith('cn-') ? '.cn' : ''}`;
}

/** Parameter Store refused or failed a read; `code` is the service's error type (AccessDeniedException, ThrottlingException...). */
export class SsmError extends Error {
  override readonly name = 'SsmError';
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(`${code}: ${message}`);
  }
}

/** SigV4's hash on node:crypto: @aws-crypto/sha256-js (and the tslib it brings) would add 20 KB to the Lambda bundle. */
export class NodeSha256 implements Checksum {
  private hash: Hash | Hmac;
  constructor(private readonly secret?: SourceData) {
    this.hash = this.create();
  }
  update(data: SourceData): void {
    this.hash.update(toBytes(data));
  }
  async digest(): Promise<Uint8Array> {
    return new Uint8Array(this.hash.digest());
  }
  reset(): void {
    this.hash = this.create();
  }
  private create(): Hash | Hmac {
    return this.secret === undefined ? createHash('sha256') : createHmac('sha256', toBytes(this.secret));
  }
}

function toBytes(data: SourceData): Buffer | string {
  if (typeof data === 'string') return data;
  return ArrayBuffer.isView(data) ? Buffer.from(data.buffer, data.byteOffset, data.byteLength) : Buffer.from(data);
}

/** Largest page GetParametersByPath returns. */
const PAGE_SIZE = 10;

/**
 * Reads one hierarchy of Parameter Store parameters (GetParametersByPath over the AWS JSON 1.1
 * protocol, SigV4-signed with the host's credentials). A few lines of protocol instead of
 * @aws-sdk/client-ssm: the gateway Lambda's bundle must stay under 1 MB and this is its only SSM call.
 */
export class SsmParameterReader {
  private readonly signer: SignatureV4;
  private readonly endpoint: URL;

  constructor(
    private readonly opts: {
      readonly region: string;
      readonly credentials: AwsCredentialIdentityProvider;
      /** Default: the regional endpoint. */
      readonly endpoint?: string;
      /** Budget for the whole read, every page included. @default 3000 */
      readonly timeoutMs?: number;
    },
  ) {
    this.signer = new SignatureV4({ credentials: opts.credentials, region: opts.region, service: 'ssm', sha256: NodeSha256 });
    this.endpoint = new URL(opts.endpoint ?? ssmEndpoint(opts.region));
  }

  /** Every String parameter under `path`, at any depth (Recursive), following NextToken to the last page. */
  async getByPath(path: string): Promise<SsmParameter[]> {
    const signal = AbortSignal.timeout(this.opts.timeoutMs ?? 3000);
    const found: SsmParameter[] = [];
    let nextToken: string | undefined;
    do {
      const page = (await this.call('GetParametersByPath', { Path: path, Recursive: true, WithDecryption: false, MaxResults: PAGE_SIZE, ...(nextToken && { NextToken: nextToken }) }, signal)) as {
        Parameters?: { Name?: string; Value?: string }[];
        NextToken?: string;
      };
      for (const p of page.Parameters ?? []) if (p.Name !== undefined && p.Value !== undefined) found.push({ name: p.Name, value: p.Value });
      nextToken = page.NextToken;
    } while (nextToken);
    return found;
  }

  private async call(operation: string, input: object, signal: AbortSignal): Promise<unknown> {
    const body = JSON.stringify(input);
    const url = this.endpoint;
    const signed = await this.signer.sign({
      method: 'POST',
      protocol: url.protocol,
      hostname: url.hostname,
      port: url.port ? Number(url.port) : undefined,
      path: url.pathname,
      headers: { host: url.host, 'content-type': 'application/x-amz-json-1.1', 'x-amz-target': `AmazonSSM.${operation}` },
      body,
    });
    const res = await fetch(url, { method: 'POST', headers: signed.headers as Record<string, string>, body, signal });
    const text = await res.text();
    let parsed: Record<string, unknown> = {};
    try {
      parsed = text ? (JSON.parse(text) as Record<string, unknown>) : {};
    } catch {
      if (res.ok) throw new SsmError('InvalidResponse', `${operation} answered ${res.status} with a body that is not JSON`);
    }
    if (!res.ok) {
      // AWS JSON errors name their type in __type (sometimes namespaced: "com.amazonaws.ssm#AccessDeniedException").
      const type = String(parsed.__type ?? res.headers.get('x-amzn-errortype') ?? `HTTP${res.status}`).split('#').pop()!.split(':')[0];
      throw new SsmError(type, String(parsed.message ?? parsed.Message ?? text.slice(0, 200)));
    }
    return parsed;
  }
}
