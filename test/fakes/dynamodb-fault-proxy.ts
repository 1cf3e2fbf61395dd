import * as http from 'http';
import { LoopbackServer, untilClosedOr } from './loopback-server';

/** What the proxy does with the next DynamoDB call; calls beyond the queue (and `pass`) reach the real table. */
export type DynamoFault =
  | { kind: 'pass' }
  /** DynamoDB's own error answer: status, x-amzn-ErrorType and a JSON body with __type (ThrottlingException, InternalServerError...). */
  | { kind: 'error'; status: number; type: string }
  /** Waits `ms` (or until the caller hangs up), then passes the call on: a slow but healthy table. */
  | { kind: 'slow'; ms: number }
  /** Never answers (until the caller hangs up). */
  | { kind: 'hang' }
  /** Drops the connection without an answer. */
  | { kind: 'reset' };

/**
 * DynamoDB on loopback with injected faults: a proxy in front of a real DynamoDB API (dynalite) that
 * answers the queued fault instead of passing a call on, so the same client code that meets real
 * tables meets throttling, 5xx, slow and silent tables. `always` applies to every call until reset.
 */
export class DynamoFaultProxy extends LoopbackServer {
  /** The operations (x-amz-target, e.g. UpdateItem) of every call, in order. */
  readonly operations: string[] = [];
  private readonly queue: DynamoFault[] = [];
  /** A fault for every call (an outage), taken after the queue. */
  always: DynamoFault = { kind: 'pass' };

  constructor(private readonly target: string) {
    super();
  }

  push(...faults: DynamoFault[]): this {
    this.queue.push(...faults);
    return this;
  }

  /** Back to a healthy table with no queued faults. */
  reset(): this {
    this.queue.length = 0;
    this.always = { kind: 'pass' };
    this.operations.length = 0;
    return this;
  }

  protected async serve(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    this.operations.push(String(req.headers['x-amz-target'] ?? '').split('.').pop() ?? '');
    const fault = this.queue.shift() ?? this.always;
    if (fault.kind === 'reset') return void req.socket.destroy();
    if (fault.kind === 'hang' || fault.kind === 'slow') {
      if (await untilClosedOr(res, fault.kind === 'slow' ? fault.ms : undefined)) return;
    }
    if (fault.kind === 'error') {
      res.writeHead(fault.status, { 'content-type': 'application/x-amz-json-1.0', 'x-amzn-errortype': fault.type });
      return void res.end(JSON.stringify({ __type: `com.amazonaws.dynamodb.v20120810#${fault.type}`, message: `injected ${fault.type}` }));
    }
    const headers = Object.fromEntries(Object.entries(req.headers).filter(([k]) => k !== 'host' && k !== 'connection' && k !== 'content-length')) as Record<string, string>;
    const upstream = await fetch(`${this.target}${req.url ?? '/'}`, { method: req.method, headers, body: Buffer.concat(chunks) });
    res.writeHead(upstream.status, Object.fromEntries([...upstream.headers].filter(([k]) => !['content-length', 'content-encoding', 'transfer-encoding', 'connection'].includes(k))));
    res.end(Buffer.from(await upstream.arrayBuffer()));
  }
}
