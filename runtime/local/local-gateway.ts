import * as http from 'http';
import { AddressInfo } from 'net';
import { randomUUID } from 'crypto';
import { ProxyEvent, toGatewayRequest, toProxyResult } from '../gateway/api-gateway';
import { Gateway } from '../gateway/gateway';
import { BufferedSink, ResponseSink } from '../gateway/types';
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
}

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
  const server = http.createServer(async (req, res) => {
    const chunks: Buffer[] = [];
    let size = 0;
    for await (const chunk of req) {
      size += (chunk as Buffer).length;
      if (size > maxRequestBytes) {
        res.writeHead(413, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ message: 'Request Entity Too Large' }));
        req.destroy();
        return;
      }
      chunks.push(chunk as Buffer);
    }
    const url = new URL(req.url ?? '/', 'http://localhost');
    const body = Buffer.concat(chunks).toString('utf8');
    const headers = Object.fromEntries(Object.entries(req.headers).map(([k, v]) => [k, Array.isArray(v) ? v.join(',') : (v ?? '')]));
    let userArn = 'local';
    if (options.iam) {
      const verdict = await verifySigV4({ method: req.method ?? 'GET', path: url.pathname, query: Object.fromEntries(url.searchParams), headers, body }, options.iam.callers, options.iam.region);
      if (!verdict.ok) {
        res.writeHead(403, { 'content-type': 'application/json', 'x-amzn-errortype': 'IncompleteSignatureException' });
        res.end(JSON.stringify({ message: verdict.message }));
        return;
      }
      userArn = verdict.arn;
    }
    const event: ProxyEvent = {
      httpMethod: req.method ?? 'GET',
      path: url.pathname,
      headers,
      body: chunks.length > 0 ? body : null,
      isBase64Encoded: false,
      requestContext: { requestId: randomUUID(), identity: { userArn, sourceIp: req.socket.remoteAddress } },
    };
    const abort = new AbortController();
    res.on('close', () => {
      if (!res.writableFinished) abort.abort();
    });
    const request = toGatewayRequest(event, abort.signal);
    if (mode === 'buffered') {
      const sink = new BufferedSink();
      await options.gateway.handle(request, sink);
      const result = toProxyResult(sink);
      res.writeHead(result.statusCode, result.headers);
      res.end(result.isBase64Encoded ? Buffer.from(result.body, 'base64') : result.body);
      return;
    }
    await options.gateway.handle(request, httpSink(res));
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

function httpSink(res: http.ServerResponse): ResponseSink {
  return {
    get started() {
      return res.headersSent;
    },
    start(status, headers) {
      res.writeHead(status, headers);
      res.flushHeaders();
    },
    write(chunk) {
      res.write(chunk);
    },
    end() {
      res.end();
    },
  };
}
