import { SignatureV4 } from '@smithy/signature-v4';
import type { AwsCredentialIdentity, AwsCredentialIdentityProvider } from '@smithy/types';
import { NodeSha256 } from '../gateway/node-sha256';
import { awsJsonPost } from '../gateway/aws-json-request';

/** DynamoDB's regional endpoint; the China regions answer under amazonaws.com.cn. */
export function dynamoEndpoint(region: string): string {
  return `https://dynamodb.${region}.amazonaws.com${region.startsWith('cn-') ? '.cn' : ''}`;
}

export interface DynamoJsonClientOptions {
  readonly region: string;
  readonly credentials: AwsCredentialIdentityProvider | AwsCredentialIdentity;
  /** Default: the regional endpoint. */
  readonly endpoint?: string;
  /** Longest wait for one call, connection included; then it fails with a TimeoutError. */
  readonly timeoutMs: number;
}

/**
 * The few DynamoDB calls quotas make, over DynamoDB's JSON 1.0 protocol, SigV4-signed: a few lines
 * of protocol instead of @aws-sdk/client-dynamodb, which would push the gateway Lambda's bundle past
 * 1 MB. Inputs and outputs are DynamoDB's own JSON (AttributeValues as {"S": ...}, {"N": ...}). One
 * attempt, bounded by `timeoutMs` (the outage policy decides, not a retry); errors carry the
 * service's type as their name (ConditionalCheckFailedException, ThrottlingException...).
 */
export class DynamoJsonClient {
  private readonly signer: SignatureV4;
  private readonly endpoint: URL;

  constructor(private readonly opts: DynamoJsonClientOptions) {
    const credentials = opts.credentials;
    this.signer = new SignatureV4({ credentials: typeof credentials === 'function' ? credentials : async () => credentials, region: opts.region, service: 'dynamodb', sha256: NodeSha256 });
    this.endpoint = new URL(opts.endpoint ?? dynamoEndpoint(opts.region));
  }

  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  async call(operation: 'UpdateItem' | 'GetItem' | 'Query' | 'PutItem' | 'DeleteItem', input: object): Promise<any> {
    const answer = await awsJsonPost(this.signer, this.endpoint, { 'content-type': 'application/x-amz-json-1.0', 'x-amz-target': `DynamoDB_20120810.${operation}` }, input, AbortSignal.timeout(this.opts.timeoutMs));
    if (!answer.ok) throw Object.assign(new Error(answer.type === 'InvalidResponse' ? `${operation} ${answer.message}` : answer.message), { name: answer.type });
    return answer.body;
  }
}
