import { SignatureV4 } from '@smithy/signature-v4';
import type { AwsCredentialIdentityProvider } from '@smithy/types';
import { NodeSha256 } from './node-sha256';

/** The Rerank API's request and answer (bedrock-agent-runtime `Rerank`, REST JSON, POST /rerank), as far as the gateway uses them. */
export interface RerankInput {
  readonly queries: { type: 'TEXT'; textQuery: { text: string } }[];
  readonly sources: { type: 'INLINE'; inlineDocumentSource: { type: 'TEXT'; textDocument: { text: string } } }[];
  readonly rerankingConfiguration: {
    type: 'BEDROCK_RERANKING_MODEL';
    bedrockRerankingConfiguration: { numberOfResults?: number; modelConfiguration: { modelArn: string } };
  };
  readonly nextToken?: string;
}
export interface RerankOutput {
  readonly results?: { index?: number; relevanceScore?: number }[];
  readonly nextToken?: string;
}

/**
 * Bedrock's Rerank API in one region, SigV4-signed with the gateway's Bedrock credential. A few
 * lines of protocol instead of @aws-sdk/client-bedrock-agent-runtime, which would push the gateway
 * Lambda's bundle past 1 MB for this one operation. Failures throw errors shaped like the SDK's
 * (name, $fault, $metadata.httpStatusCode), so they map, retry and meter exactly like Bedrock's others.
 */
export class BedrockRerankApi {
  private readonly signer: SignatureV4;
  private readonly url: URL;
  private readonly timeoutMs: number;

  constructor(opts: { readonly region: string; readonly credentials: AwsCredentialIdentityProvider; readonly endpoint?: string; readonly timeoutMs: number }) {
    this.signer = new SignatureV4({ credentials: opts.credentials, region: opts.region, service: 'bedrock', sha256: NodeSha256 });
    this.url = new URL('/rerank', opts.endpoint ?? `https://bedrock-agent-runtime.${opts.region}.amazonaws.com`);
    this.timeoutMs = opts.timeoutMs;
  }

  async rerank(input: RerankInput, signal: AbortSignal): Promise<RerankOutput> {
    const body = JSON.stringify(input);
    const url = this.url;
    const signed = await this.signer.sign({
      method: 'POST',
      protocol: url.protocol,
      hostname: url.hostname,
      port: url.port ? Number(url.port) : undefined,
      path: url.pathname,
      headers: { host: url.host, 'content-type': 'application/json' },
      body,
    });
    const res = await fetch(url, { method: 'POST', headers: signed.headers as Record<string, string>, body, signal: AbortSignal.any([signal, AbortSignal.timeout(this.timeoutMs)]) });
    const text = await res.text();
    let parsed: Record<string, unknown> | undefined;
    try {
      parsed = text ? (JSON.parse(text) as Record<string, unknown>) : {};
    } catch {
      parsed = undefined;
    }
    if (res.ok && parsed) return parsed as RerankOutput;
    // REST JSON errors name their type in x-amzn-ErrorType ("ValidationException:http://..."), or in the body's __type.
    const type = String(res.headers.get('x-amzn-errortype') ?? parsed?.__type ?? (res.ok ? 'InvalidResponse' : `HTTP${res.status}`)).split(':')[0].split('#').pop()!;
    const message = String(parsed?.message ?? parsed?.Message ?? text.slice(0, 200));
    throw Object.assign(new Error(message), { name: type, $fault: res.status >= 500 || res.ok ? 'server' : 'client', $metadata: { httpStatusCode: res.ok ? 502 : res.status } });
  }
}
