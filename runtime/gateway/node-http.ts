import * as http from 'http';
import { ResponseSink } from './types';

/**
 * Reads a request body, or undefined when it exceeds `limit` bytes: the rest is discarded unread so
 * the caller can still answer 413 (with `connection: close`) on the same socket. Rejects when the
 * caller goes away before the body ended.
 */
export function readBody(req: http.IncomingMessage, limit: number): Promise<Buffer | undefined> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const settle = (outcome: () => void) => {
      req.off('data', onData).off('end', onEnd).off('error', onGone).off('close', onGone);
      outcome();
    };
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size <= limit) return void chunks.push(chunk);
      settle(() => resolve(undefined));
      req.resume();
    };
    const onEnd = () => settle(() => resolve(Buffer.concat(chunks)));
    const onGone = () => settle(() => reject(Object.assign(new Error('The caller went away before its request body ended.'), { name: 'CallerGone' })));
    req.on('data', onData).on('end', onEnd).on('error', onGone).on('close', onGone);
    // Gone while the request waited (for authentication, say): 'close' has already been emitted.
    if (req.destroyed) onGone();
  });
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
