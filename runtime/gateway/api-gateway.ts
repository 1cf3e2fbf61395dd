import { BufferedSink, GatewayRequest, ResponseSink } from './types';

/** The fields of API Gateway's REST proxy event the gateway reads. */
export interface ProxyEvent {
  httpMethod: string;
  path: string;
  headers?: Record<string, string | undefined> | null;
  body?: string | null;
  isBase64Encoded?: boolean;
  requestContext?: {
    requestId?: string;
    identity?: { userArn?: string | null; caller?: string | null; apiKeyId?: string | null; sourceIp?: string | null };
  };
}

export interface ProxyResult {
  statusCode: number;
  headers: Record<string, string>;
  body: string;
  isBase64Encoded: boolean;
}

/** IAM-authorized calls carry the caller's ARN; API-key calls the key id. */
export function toGatewayRequest(event: ProxyEvent, signal?: AbortSignal, deadline?: number): GatewayRequest {
  const headers: Record<string, string | undefined> = {};
  for (const [k, v] of Object.entries(event.headers ?? {})) headers[k.toLowerCase()] = v ?? undefined;
  const identity = event.requestContext?.identity;
  const body = event.body == null ? undefined : event.isBase64Encoded ? Buffer.from(event.body, 'base64').toString('utf8') : event.body;
  return {
    method: event.httpMethod,
    path: event.path,
    headers,
    body,
    caller: identity?.userArn ?? (identity?.apiKeyId ? `api-key:${identity.apiKeyId}` : 'anonymous'),
    requestId: event.requestContext?.requestId ?? `local-${Date.now().toString(36)}`,
    signal,
    ...(deadline !== undefined && { deadline }),
  };
}

/** Text bodies go as they are; binary ones (the native event stream) base64 with binaryMediaTypes. */
export function toProxyResult(sink: BufferedSink): ProxyResult {
  const contentType = sink.headers['content-type'] ?? '';
  const binary = contentType.startsWith('application/vnd.amazon.eventstream');
  return {
    statusCode: sink.status,
    headers: sink.headers,
    body: binary ? sink.body.toString('base64') : sink.body.toString('utf8'),
    isBase64Encoded: binary,
  };
}

/** A sink over Lambda's response stream: HTTP metadata first, then bytes as they come. */
export function lambdaStreamSink(responseStream: NodeJS.WritableStream, httpResponseStream: { from(s: NodeJS.WritableStream, meta: object): NodeJS.WritableStream }): ResponseSink {
  let out: NodeJS.WritableStream | undefined;
  return {
    get started() {
      return out !== undefined;
    },
    start(statusCode, headers) {
      out = httpResponseStream.from(responseStream, { statusCode, headers });
    },
    write(chunk) {
      out!.write(chunk);
    },
    end() {
      (out ?? responseStream).end();
    },
  };
}
