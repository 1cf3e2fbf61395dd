import { SignatureV4 } from '@smithy/signature-v4';
import type { AwsCredentialIdentityProvider } from '@smithy/types';
import { NodeSha256 } from './node-sha256';
import { awsJsonPost } from './aws-json-request';
import { GatewayError } from './errors';

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
    const answer = await awsJsonPost(this.signer, this.url, { 'content-type': 'application/json' }, input, AbortSignal.any([signal, AbortSignal.timeout(this.timeoutMs)]));
    if (answer.ok) return answer.body as unknown as RerankOutput;
    // As InvokeModel's: a 2xx that is not JSON is a broken answer, not a failure another attempt would fix.
    if (answer.type === 'InvalidResponse') throw new GatewayError(502, 'api_error', `Bedrock's Rerank API ${answer.message}.`, 'upstream_bad_response');
    throw Object.assign(new Error(answer.message), { name: answer.type, $fault: answer.status >= 500 ? 'server' : 'client', $metadata: { httpStatusCode: answer.status } });
  }
}
