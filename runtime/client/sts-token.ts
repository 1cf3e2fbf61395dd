import { Sha256 } from '@aws-crypto/sha256-js';
import { SignatureV4 } from '@smithy/signature-v4';
import type { AwsCredentialIdentity, AwsCredentialIdentityProvider } from '@smithy/types';
import { AUDIENCE_HEADER, STS_TOKEN_PREFIX } from '../server/sts-auth';

/**
 * A bearer token for the streaming gateway made from China IAM credentials: a presigned STS
 * GetCallerIdentity request, valid `expiresSeconds`. Use it as the OpenAI SDK's apiKey.
 */
export async function stsBearerToken(opts: {
  region: string;
  credentials: AwsCredentialIdentity | AwsCredentialIdentityProvider;
  audience: string;
  /** Default: the region's STS endpoint in China. */
  endpoint?: string;
  expiresSeconds?: number;
}): Promise<string> {
  const endpoint = new URL(opts.endpoint ?? `https://sts.${opts.region}.amazonaws.com.cn`);
  const signer = new SignatureV4({ credentials: opts.credentials, region: opts.region, service: 'sts', sha256: Sha256 });
  const presigned = await signer.presign(
    {
      method: 'GET',
      protocol: endpoint.protocol,
      hostname: endpoint.hostname,
      port: endpoint.port ? Number(endpoint.port) : undefined,
      path: '/',
      query: { Action: 'GetCallerIdentity', Version: '2011-06-15' },
      headers: { host: endpoint.host, [AUDIENCE_HEADER]: opts.audience },
    },
    { expiresIn: opts.expiresSeconds ?? 900 },
  );
  const url = new URL(`${endpoint.origin}/`);
  for (const [k, v] of Object.entries(presigned.query ?? {})) url.searchParams.set(k, String(v));
  return STS_TOKEN_PREFIX + Buffer.from(url.toString()).toString('base64url');
}
