import * as http from 'http';
import { AddressInfo, Socket } from 'net';
import { createHash, randomUUID } from 'crypto';
import { Gateway } from '../gateway/gateway';
import { abortOnClose, flatHeaders, httpSink, readBody, sendJson } from '../gateway/node-http';
import { badRequest, GatewayError, errorHeaders } from '../gateway/errors';
import { IdleHeapReclaimer } from './idle-heap-reclaimer';

/** Who a token belongs to: the caller logged, and for quotas the identity metered and its group when the credential names them. */
export interface AuthenticatedCaller {
  readonly caller: string;
  /** An API key's id (quotas meter the key, not its caller name). @default the caller's stable principal */
  readonly identity?: string;
  /** The group the credential was issued to. @default from the quota table or quotas.principals */
  readonly group?: string;
}

export interface Authenticator {
  /** undefined: not this authenticator's token, or a bad one (401). Throws a GatewayError when the check itself cannot be made. */
  authenticate(bearer: string): Promise<AuthenticatedCaller | undefined>;
}

export interface StreamingServerOptions {
  readonly gateway: Gateway;
  /** Tried in order; the first that recognises the bearer token decides. */
  readonly authenticators: readonly Authenticator[];
  readonly port?: number;
  readonly host?: string;
  readonly maxRequestBytes?: number;
  /**
   * Longest time to receive a whole request, headers and body: a caller that stalls its upload is
   * cut off with 408. Responses are not bounded by it (a generation may stream for many minutes).
   * @default 60
   */
  readonly requestTimeoutSeconds?: number;
  /** How long in-flight streams may run on after SIGTERM (keep below the target group's deregistration delay). */
  readonly drainSeconds?: number;
  /**
   * Seconds an idle keep-alive connection stays open: longer than the load balancer's idle timeout,
   * or the load balancer may send a request on a connection this server is closing (a 502).
   * @default 65 (the default idle timeout of a load balancer is 60 s)
   */
  readonly keepAliveTimeoutSeconds?: number;
  /** Told of every change in the number of requests in flight, to hand a burst's memory back once idle. @default none */
  readonly idleHeapReclaimer?: IdleHeapReclaimer;
  readonly log?: (line: Record<string, unknown>) => void;
}

export interface StreamingServer {
  readonly url: string;
  /** Requests being served now. */
  inFlight(): number;
  /**
   * Health checks answer 503 and new requests are refused while in-flight requests finish (up to
   * drainSeconds); then the listener and every connection close.
   */
  drain(): Promise<void>;
}

const unauthorized = new GatewayError(401, 'invalid_request_error', 'Missing or invalid credentials: send "Authorization: Bearer <gateway API key or STS token>".', 'invalid_api_key').toBody();
const shuttingDown = new GatewayError(503, 'api_error', 'This gateway task is shutting down: send the request again (the load balancer routes it to another task).', 'draining').toBody();
const authUnavailable = new GatewayError(503, 'api_error', 'The credentials could not be checked right now (the key store or STS did not answer): retry shortly.', 'auth_unavailable', null, true);

/** Bodies for what Node's HTTP parser refuses before a request reaches the handler. */
function clientErrorBody(code: string | undefined): { status: number; reason: string; error: GatewayError } {
  if (code === 'ERR_HTTP_REQUEST_TIMEOUT') return { status: 408, reason: 'Request Timeout', error: new GatewayError(408, 'invalid_request_error', 'The request was not received in time: send the whole body without pausing.', 'request_timeout') };
  if (code === 'HPE_HEADER_OVERFLOW') return { status: 431, reason: 'Request Header Fields Too Large', error: new GatewayError(431, 'invalid_request_error', 'The request headers are too large.', 'headers_too_large') };
  return { status: 400, reason: 'Bad Request', error: badRequest('Malformed HTTP request.', null, 'malformed_request') };
}

/** Enough to tell tokens apart in logs, never enough to replay one. */
export const tokenFingerprint = (token: string) => createHash('sha256').update(token).digest('hex').slice(0, 12);

/**
 * The gateway as a long-running HTTP server (the container behind the internal load balancer):
 * chunks are written as Bedrock produces them, a caller that goes away cancels its upstream call,
 * and SIGTERM drains in-flight streams before exit.
 */
export async function startStreamingServer(options: StreamingServerOptions): Promise<StreamingServer> {
  const log = options.log ?? ((line) => process.stdout.write(`${JSON.stringify(line)}\n`));
  const requestTimeoutMs = (options.requestTimeoutSeconds ?? 60) * 1000;
  let inFlight = 0;
  let draining = false;
  let drained: Promise<void> | undefined;
  let idle: (() => void) | undefined;

  async function authenticate(token: string): Promise<AuthenticatedCaller | undefined> {
    for (const auth of options.authenticators) {
      let identity: AuthenticatedCaller | undefined;
      try {
        identity = await auth.authenticate(token);
      } catch (e) {
        // Never the token or the error text here: a presigned URL in a message could be replayed from the logs.
        log({ level: 'warn', msg: 'authentication unavailable', token: tokenFingerprint(token), error: e instanceof GatewayError ? e.code : (e as Error).name });
        throw e instanceof GatewayError ? e : authUnavailable;
      }
      if (identity) return identity;
    }
    return undefined;
  }

  async function serve(req: http.IncomingMessage, res: http.ServerResponse, path: string, requestId: string): Promise<void> {
    const token = /^Bearer (.+)$/.exec(req.headers.authorization ?? '')?.[1] ?? '';
    const identity = await authenticate(token);
    if (!identity) return sendJson(res, 401, unauthorized);
    const body = await readBody(req, options.maxRequestBytes ?? 10 * 1024 * 1024);
    if (body === undefined) {
      sendJson(res, 413, badRequest('The request body is too large.', null, 'request_too_large').toBody(), { connection: 'close' });
      return;
    }
    await options.gateway.handle(
      { method: req.method ?? 'GET', path, headers: flatHeaders(req), body: body.length > 0 ? body.toString('utf8') : undefined, caller: identity.caller, ...(identity.identity && { identity: identity.identity }), ...(identity.group && { group: identity.group }), requestId, signal: abortOnClose(res) },
      httpSink(res),
    );
  }

  // Node enforces requestTimeout only from the request's first byte until it is fully received, and
  // checks for it on this interval: small enough that the limit holds to within a few seconds.
  const server = http.createServer({ requestTimeout: requestTimeoutMs, headersTimeout: Math.min(60_000, requestTimeoutMs), connectionsCheckingInterval: Math.min(5_000, Math.max(100, requestTimeoutMs / 4)) }, (req, res) => {
    // A caller that goes away fails the read or write in progress, which is handled where it is awaited.
    req.on('error', () => undefined);
    res.on('error', () => undefined);
    const path = (req.url ?? '/').split('?')[0];
    if (path === '/healthz') {
      // The load balancer stops sending new requests once this fails.
      return sendJson(res, draining ? 503 : 200, { status: draining ? 'draining' : 'ok' });
    }
    // The door's own answers (401, 413, 503) carry a request id too, as the gateway's do: OpenAI's clients read it.
    const requestId = randomUUID();
    res.setHeader('x-request-id', requestId);
    if (draining) return sendJson(res, 503, shuttingDown, { connection: 'close' });
    inFlight++;
    options.idleHeapReclaimer?.inFlightChanged(inFlight);
    serve(req, res, path, requestId)
      .catch((e: unknown) => {
        if ((e as Error).name === 'CallerGone') {
          log({ level: 'info', msg: 'caller went away before its request arrived' });
        } else if (!(e instanceof GatewayError)) {
          log({ level: 'error', msg: 'unhandled', error: (e as Error).message });
        }
        if (res.headersSent || res.destroyed) return void res.destroy();
        const error = e instanceof GatewayError ? e : new GatewayError(500, 'api_error', 'Internal error');
        sendJson(res, error.status, error.toBody(), errorHeaders(error));
      })
      .finally(() => {
        inFlight--;
        options.idleHeapReclaimer?.inFlightChanged(inFlight);
        if (inFlight === 0) idle?.();
      });
  });
  // Keep-alive sockets outlive the load balancer's idle connections (it closes them first).
  server.keepAliveTimeout = (options.keepAliveTimeoutSeconds ?? 65) * 1000;
  server.on('clientError', (err: NodeJS.ErrnoException, socket: Socket) => {
    const current = (socket as Socket & { _httpMessage?: http.ServerResponse })._httpMessage;
    if (err.code === 'ECONNRESET' || !socket.writable || current?.headersSent) return void socket.destroy();
    const { status, reason, error } = clientErrorBody(err.code);
    const body = JSON.stringify(error.toBody());
    socket.end(`HTTP/1.1 ${status} ${reason}\r\ncontent-type: application/json\r\ncontent-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`);
  });

  await new Promise<void>((resolve) => server.listen(options.port ?? 8080, options.host ?? '0.0.0.0', resolve));
  const address = server.address() as AddressInfo;

  async function drainThenClose(): Promise<void> {
    draining = true;
    options.idleHeapReclaimer?.stop();
    log({ level: 'info', msg: 'draining', inFlight });
    // Nothing to finish on idle keep-alive connections; the listener stays open for health checks.
    server.closeIdleConnections();
    if (inFlight > 0) {
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([new Promise<void>((resolve) => (idle = resolve)), new Promise((r) => (timer = setTimeout(r, (options.drainSeconds ?? 100) * 1000)))]);
      clearTimeout(timer);
    }
    const closed = new Promise<void>((resolve) => server.close(() => resolve()));
    server.closeAllConnections();
    await closed;
    log({ level: 'info', msg: 'drained', inFlight });
  }

  return {
    url: `http://${address.address === '0.0.0.0' ? '127.0.0.1' : address.address}:${address.port}`,
    inFlight: () => inFlight,
    drain: () => (drained ??= drainThenClose()),
  };
}
