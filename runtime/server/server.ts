import * as http from 'http';
import { AddressInfo } from 'net';
import { randomUUID } from 'crypto';
import { Gateway } from '../gateway/gateway';
import { abortOnClose, flatHeaders, httpSink, readBody, sendJson } from '../gateway/node-http';
import { badRequest, GatewayError } from '../gateway/errors';

export interface Authenticator {
  authenticate(bearer: string): Promise<{ caller: string } | undefined>;
}

export interface StreamingServerOptions {
  readonly gateway: Gateway;
  /** Tried in order; the first that recognises the bearer token decides. */
  readonly authenticators: readonly Authenticator[];
  readonly port?: number;
  readonly host?: string;
  readonly maxRequestBytes?: number;
  /** How long in-flight streams may run on after SIGTERM (keep below the target group's deregistration delay). */
  readonly drainSeconds?: number;
  readonly log?: (line: Record<string, unknown>) => void;
}

export interface StreamingServer {
  readonly url: string;
  /** Requests being served now. */
  inFlight(): number;
  /** Stop accepting, let in-flight requests finish (up to drainSeconds), then close everything. */
  drain(): Promise<void>;
}

const unauthorized = new GatewayError(401, 'invalid_request_error', 'Missing or invalid credentials: send "Authorization: Bearer <gateway API key or STS token>".', 'invalid_api_key').toBody();

/**
 * The gateway as a long-running HTTP server (the container behind the internal load balancer):
 * chunks are written as Bedrock produces them, a caller that goes away cancels its upstream call,
 * and SIGTERM drains in-flight streams before exit.
 */
export async function startStreamingServer(options: StreamingServerOptions): Promise<StreamingServer> {
  const log = options.log ?? ((line) => process.stdout.write(`${JSON.stringify(line)}\n`));
  let inFlight = 0;
  let draining = false;
  let idle: (() => void) | undefined;

  const server = http.createServer(async (req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    if (path === '/healthz') {
      // The load balancer stops sending new requests once this fails.
      sendJson(res, draining ? 503 : 200, { status: draining ? 'draining' : 'ok' });
      return;
    }
    inFlight++;
    try {
      const token = /^Bearer (.+)$/.exec(req.headers.authorization ?? '')?.[1] ?? '';
      let identity: { caller: string } | undefined;
      for (const auth of options.authenticators) {
        identity = await auth.authenticate(token);
        if (identity) break;
      }
      if (!identity) {
        sendJson(res, 401, unauthorized);
        return;
      }
      const body = await readBody(req, options.maxRequestBytes ?? 10 * 1024 * 1024);
      if (body === undefined) {
        sendJson(res, 413, badRequest('The request body is too large.', null, 'request_too_large').toBody());
        req.destroy();
        return;
      }
      await options.gateway.handle(
        { method: req.method ?? 'GET', path, headers: flatHeaders(req), body: body.length > 0 ? body.toString('utf8') : undefined, caller: identity.caller, requestId: randomUUID(), signal: abortOnClose(res) },
        httpSink(res),
      );
    } catch (e) {
      log({ level: 'error', msg: 'unhandled', error: (e as Error).message });
      if (!res.headersSent) sendJson(res, 500, new GatewayError(500, 'api_error', 'Internal error').toBody());
      else res.end();
    } finally {
      inFlight--;
      if (inFlight === 0) idle?.();
    }
  });
  // Generations can be quiet for minutes before the first token; the load balancer's idle timeout governs.
  server.requestTimeout = 0;
  server.headersTimeout = 60_000;
  server.keepAliveTimeout = 65_000;

  await new Promise<void>((resolve) => server.listen(options.port ?? 8080, options.host ?? '0.0.0.0', resolve));
  const address = server.address() as AddressInfo;

  return {
    url: `http://${address.address === '0.0.0.0' ? '127.0.0.1' : address.address}:${address.port}`,
    inFlight: () => inFlight,
    async drain() {
      draining = true;
      log({ level: 'info', msg: 'draining', inFlight });
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeIdleConnections();
      if (inFlight > 0) {
        await Promise.race([new Promise<void>((resolve) => (idle = resolve)), new Promise((r) => setTimeout(r, (options.drainSeconds ?? 100) * 1000))]);
      }
      server.closeAllConnections();
      await closed;
      log({ level: 'info', msg: 'drained', inFlight });
    },
  };
}
