import { Sha256 } from '@aws-crypto/sha256-js';
import { SignatureV4 } from '@smithy/signature-v4';
import type { AwsCredentialIdentity, AwsCredentialIdentityProvider } from '@smithy/types';

/**
 * A fetch that signs every request with SigV4 for API Gateway (`execute-api`), so the official
 * OpenAI SDK can call the IAM-authorized gateway unchanged: `new OpenAI({ baseURL, apiKey: 'iam', fetch: sigv4Fetch({...}) })`.
 */
export function sigv4Fetch(opts: { region: string; credentials: AwsCredentialIdentity | AwsCredentialIdentityProvider; service?: string }): typeof fetch {
  const signer = new SignatureV4({ credentials: opts.credentials, region: opts.region, service: opts.service ?? 'execute-api', sha256: Sha256 });
  return async (input, init) => {
    const request = new Request(input, init);
    const url = new URL(request.url);
    const body = request.body ? await request.text() : undefined;
    const headers: Record<string, string> = { host: url.host };
    request.headers.forEach((value, key) => {
      // The OpenAI SDK's bearer token means nothing to IAM; the SigV4 Authorization replaces it.
      if (key !== 'authorization') headers[key] = value;
    });
    const signed = await signer.sign({
      method: request.method,
      protocol: url.protocol,
      hostname: url.hostname,
      port: url.port ? Number(url.port) : undefined,
      path: url.pathname,
      query: Object.fromEntries(url.searchParams),
      headers,
      body,
    });
    return fetch(url, { method: request.method, headers: signed.headers as Record<string, string>, body, signal: request.signal });
  };
}
