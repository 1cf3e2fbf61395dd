import * as http from 'http';
import { AddressInfo } from 'net';
import { randomUUID } from 'crypto';
import { ProxyEvent, toGatewayRequest, toProxyResult } from '../gateway/api-gateway';
import { Gateway } from '../gateway/gateway';
import { abortOnClose, flatHeaders, httpSink, readBody, sendJson } from '../gateway/node-http';
import { platformErrorBody, platformErrors, PlatformErrorContext, PlatformErrorType } from '../gateway/platform-errors';
import { BufferedSink } from '../gateway/types';
import { LocalIamCaller, verifySigV4 } from './sigv4-verifier';

export interface LocalGatewayOptions {
  readonly gateway: Gateway;
  readonly port?: number;
  readonly host?: string;
  /**
   * `buffered` behaves like API Gateway + Lambda in China today (a stream arrives as one SSE body);
   * `stream` like ResponseTransferMode.STREAM (chunks as they come).
   */
  readonly mode?: 'buffered' | 'stream';
  /** Largest request body accepted (API Gateway's limit is 10 MB). */
  readonly maxRequestBytes?: number;
  /** Require SigV4-signed requests from these callers, like the deployed API's IAM authorization. */
  readonly iam?: { readonly region: string; readonly callers: readonly LocalIamCaller[] };
  /**
   * What the deployed API's own rejections say (the hints of its gateway responses).
   * @default IAM authorization in the iam region (or cn-northwest-1), the kit's default limits
   */
  readonly platform?: Partial<PlatformErrorContext>;
}

/** API Gateway's error type for each signature failure -> the gateway response the deployed API answers with. */
const SIGNATURE_FAILURES: Record<string, PlatformErrorType> = {
  MissingAuthenticationTokenException: 'MISSING_AUTHENTICATION_TOKEN',
  InvalidSignatureException: 'INVALID_SIGNATURE',
  IncompleteSignatureException: 'INVALID_SIGNATURE',
  UnrecognizedClientException: 'INVALID_SIGNATURE',
};

export interface LocalGateway {
  readonly url: string;
  close(): Promise<void>;
}

/**
 * Serves the gateway on localhost the way API Gateway's REST proxy integration calls the Lambda:
 * each HTTP request becomes a proxy event and goes through the same adapter as in AWS.
 */
export async function startLocalGateway(options: LocalGatewayOptions): Promise<LocalGateway> {
  const mode = options.mode ?? 'buffered';
  const maxRequestBytes = options.maxRequestBytes ?? 10 * 1024 * 1024;
  const platform = platformErrors({
    region: options.iam?.region ?? 'cn-northwest-1',
    authorization: 'IAM',
    rateLimit: 50,
    burstLimit: 100,
    integrationTimeoutSeconds: 29,
    maxBodyBytes: 6 * 1024 * 1024,
    wafRequestsPer5MinPerIp: 2000,
    streamingDoor: false,
    ...options.platform,
  });
  // The deployed API answers its own rejections in OpenAI's shape (gateway responses): so does the local runner, with API Gateway's error type header.
  const reject = (res: http.ServerResponse, type: PlatformErrorType, status: number, platformMessage: string, headers: Record<string, string>) => {
    const error = platform[type];
    sendJson(res, error.status ?? status, platformErrorBody(error, platformMessage, randomUUID()), { ...error.headers, ...headers });
  };
  async function serve(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const raw = await readBody(req, maxRequestBytes);
    if (raw === undefined) {
      reject(res, 'REQUEST_TOO_LARGE', 413, 'Request Entity Too Large', { connection: 'close' });
      return;
    }
    const url = new URL(req.url ?? '/', 'http://localhost');
    const body = raw.toString('utf8');
    const headers = flatHeaders(req);
    let userArn = 'local';
    if (options.iam) {
      const verdict = await verifySigV4({ method: req.method ?? 'GET', path: url.pathname, query: Object.fromEntries(url.searchParams), headers, body: raw }, options.iam.callers, options.iam.region);
      if (!verdict.ok) {
        reject(res, SIGNATURE_FAILURES[verdict.errorType] ?? 'INVALID_SIGNATURE', 403, verdict.message, { 'x-amzn-errortype': verdict.errorType });
        return;
      }
      userArn = verdict.arn;
    }
    const event: ProxyEvent = {
      httpMethod: req.method ?? 'GET',
      path: url.pathname,
      headers,
      body: raw.length > 0 ? body : null,
      isBase64Encoded: false,
      requestContext: { requestId: randomUUID(), identity: { userArn, sourceIp: req.socket.remoteAddress } },
    };
    const request = toGatewayRequest(event, abortOnClose(res));
    if (mode === 'buffered') {
      const sink = new BufferedSink();
      await options.gateway.handle(request, sink);
      const result = toProxyResult(sink);
      res.writeHead(result.statusCode, result.headers);
      res.end(result.isBase64Encoded ? Buffer.from(result.body, 'base64') : result.body);
      return;
    }
    await options.gateway.handle(request, httpSink(res));
  }

  const server = http.createServer((req, res) => {
    // A caller that goes away fails the read or write in progress, which is handled where it is awaited.
    req.on('error', () => undefined);
    res.on('error', () => undefined);
    serve(req, res).catch((e: unknown) => {
      if ((e as Error).name !== 'CallerGone') process.stderr.write(`gateway:local: ${(e as Error).stack ?? String(e)}\n`);
      if (res.headersSent || res.destroyed) return void res.destroy();
      // What API Gateway answers when its integration fails.
      reject(res, 'DEFAULT_5XX', 500, 'Internal server error', { 'x-amzn-errortype': 'InternalServerErrorException' });
    });
  });
  await new Promise<void>((resolve) => server.listen(options.port ?? 0, options.host ?? '127.0.0.1', resolve));
  const address = server.address() as AddressInfo;
  return {
    url: `http://${address.address}:${address.port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

