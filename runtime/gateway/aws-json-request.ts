import { SignatureV4 } from '@smithy/signature-v4';

/** What an AWS JSON API answered: the parsed body, or the error as AWS names it. */
export type AwsJsonAnswer =
  | { readonly ok: true; readonly status: number; readonly body: Record<string, unknown> }
  | { readonly ok: false; readonly status: number; readonly type: string; readonly message: string };

/**
 * One SigV4-signed POST of a JSON body to an AWS API (JSON and REST-JSON protocols), on the
 * runtime's own fetch: the Lambda bundle stays under its size budget without the SDK clients of
 * SSM, DynamoDB and Bedrock's agent runtime. A 2xx whose body is not JSON is an `InvalidResponse`.
 */
export async function awsJsonPost(signer: SignatureV4, url: URL, headers: Record<string, string>, input: object, signal: AbortSignal): Promise<AwsJsonAnswer> {
  const body = JSON.stringify(input);
  const signed = await signer.sign({
    method: 'POST',
    protocol: url.protocol,
    hostname: url.hostname,
    port: url.port ? Number(url.port) : undefined,
    path: url.pathname,
    headers: { host: url.host, ...headers },
    body,
  });
  const res = await fetch(url, { method: 'POST', headers: signed.headers as Record<string, string>, body, signal });
  const text = await res.text();
  let parsed: Record<string, unknown> | undefined;
  try {
    parsed = text ? (JSON.parse(text) as Record<string, unknown>) : {};
  } catch {
    parsed = undefined;
  }
  if (res.ok && parsed) return { ok: true, status: res.status, body: parsed };
  // Errors name their type in x-amzn-ErrorType ("ValidationException:http://...") or the body's __type,
  // sometimes namespaced ("com.amazonaws.dynamodb.v20120810#ConditionalCheckFailedException").
  const type = res.ok ? 'InvalidResponse' : String(res.headers.get('x-amzn-errortype') ?? parsed?.__type ?? `HTTP${res.status}`).split(':')[0].split('#').pop()!;
  const message = res.ok ? `answered ${res.status} with a body that is not JSON` : String(parsed?.message ?? parsed?.Message ?? text.slice(0, 200));
  return { ok: false, status: res.status, type, message };
}
