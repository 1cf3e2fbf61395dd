import * as http from 'http';
import { ResponseSink } from './types';

/** Reads a request body, or undefined when it exceeds `limit` bytes (the caller answers 413). */
export async function readBody(req: http.IncomingMessage, limit: number): Promise<Buffer | undefined> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > limit) return undefined;
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks);
}

/** Lower-cased single-valued headers. */
export function flatHeaders(req: http.IncomingMessage): Record<string, string> {
  return Object.fromEntries(Object.entries(req.headers).map(([k, v]) => [k, Array.isArray(v) ? v.join(',') : (v ?? '')]));
}

/** Aborted when the caller goes away before the response ended: the upstream call is cancelled with it. */
export function abortOnClose(res: http.ServerResponse): AbortSignal {
  const abort = new AbortController();
  res.on('close', () => {
    if (!res.writableFinished) abort.abort();
  });
  return abort.signal;
}

/** Writes straight to the socket: each chunk leaves as soon as it is written (no Nagle delay). */
export function httpSink(res: http.ServerResponse): ResponseSink {
  res.socket?.setNoDelay(true);
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

export function sendJson(res: http.ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  res.writeHead(status, { 'content-type': 'application/json', ...headers });
  res.end(JSON.stringify(body));
}
