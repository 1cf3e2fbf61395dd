import { SignatureV4 } from '@smithy/signature-v4';
import type { AwsCredentialIdentityProvider } from '@smithy/types';
import { NodeSha256 } from './node-sha256';
import { awsJsonPost } from './aws-json-request';

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
    const answer = await awsJsonPost(this.signer, this.endpoint, { 'content-type': 'application/x-amz-json-1.1', 'x-amz-target': `AmazonSSM.${operation}` }, input, signal);
    if (!answer.ok) throw new SsmError(answer.type, answer.type === 'InvalidResponse' ? `${operation} ${answer.message}` : answer.message);
    return answer.body;
  }
}
