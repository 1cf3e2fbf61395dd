import { ProxyEvent, ProxyResult, lambdaStreamSink, toGatewayRequest, toProxyResult } from './api-gateway';
import { gatewayFromEnv } from './from-env';
import { Gateway } from './gateway';
import { BufferedSink } from './types';

let gateway: Gateway | undefined;

/** Built once per Lambda container: the credential cache and HTTP connections outlive one invocation. */
function getGateway(): Gateway {
  gateway ??= gatewayFromEnv();
  return gateway;
}

/** The part of Lambda's context the gateway reads: how long this invocation may still run. */
export interface LambdaContext {
  getRemainingTimeInMillis(): number;
}

/** When the function will be stopped: the gateway answers (504 deadline_exceeded) before it. */
function deadlineOf(context: LambdaContext | undefined): number | undefined {
  const remaining = context?.getRemainingTimeInMillis?.();
  return typeof remaining === 'number' && Number.isFinite(remaining) ? Date.now() + remaining : undefined;
}

/** API Gateway REST proxy integration, buffered: a stream is delivered as one SSE body at the end. */
export async function handler(event: ProxyEvent, context?: LambdaContext): Promise<ProxyResult> {
  const sink = new BufferedSink();
  await getGateway().handle(toGatewayRequest(event, undefined, deadlineOf(context)), sink);
  return toProxyResult(sink);
}

interface LambdaStreamingGlobals {
  streamifyResponse(fn: (event: ProxyEvent, stream: NodeJS.WritableStream, context?: LambdaContext) => Promise<void>): unknown;
  HttpResponseStream: { from(s: NodeJS.WritableStream, meta: object): NodeJS.WritableStream };
}

const awslambda = (globalThis as { awslambda?: Partial<LambdaStreamingGlobals> }).awslambda;

/**
 * Response-streaming entry (API Gateway ResponseTransferMode.STREAM): tokens reach the caller as
 * Bedrock produces them. Only defined inside the Lambda runtime, which provides `awslambda`.
 */
export const streamingHandler =
  typeof awslambda?.streamifyResponse === 'function' && awslambda.HttpResponseStream
    ? awslambda.streamifyResponse(async (event, responseStream, context) => {
        await getGateway().handle(toGatewayRequest(event, undefined, deadlineOf(context)), lambdaStreamSink(responseStream, awslambda.HttpResponseStream!));
      })
    : undefined;
