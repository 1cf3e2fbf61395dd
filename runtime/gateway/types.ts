/** A request as every host (Lambda behind API Gateway, local runner) hands it to the gateway core. */
export interface GatewayRequest {
  readonly method: string;
  /** Path without the API Gateway stage, e.g. `/v1/chat/completions`. */
  readonly path: string;
  /** Header names in lower case. */
  readonly headers: Readonly<Record<string, string | undefined>>;
  readonly body: string | undefined;
  /** Who is calling (IAM principal ARN, API key id, or `local`): logged and metered, never a secret. */
  readonly caller: string;
  /** The identity quotas meter, when the host knows a better one than the caller (a door API key's id). @default the caller's stable principal */
  readonly identity?: string;
  /** The group the host knows the identity by (a door API key's group). @default from the quota table or quotas.principals */
  readonly group?: string;
  readonly requestId: string;
  /** Aborted when the caller goes away: the upstream call is cancelled. */
  readonly signal?: AbortSignal;
  /**
   * Epoch ms by which the host must have the answer (a Lambda's remaining run time): the gateway
   * ends the request with 504 deadline_exceeded before it rather than being cut off silently.
   */
  readonly deadline?: number;
}

/**
 * Where a response goes. `start` sends status and headers (the first byte); after it the gateway
 * can no longer retry or change the status, so errors become in-band (SSE error events).
 */
export interface ResponseSink {
  start(status: number, headers: Record<string, string>): void;
  write(chunk: string | Uint8Array): void;
  end(): void;
  readonly started: boolean;
}

/** A sink that keeps everything in memory: API Gateway's buffered proxy integration. */
export class BufferedSink implements ResponseSink {
  status = 500;
  headers: Record<string, string> = {};
  private readonly chunks: Buffer[] = [];
  started = false;

  start(status: number, headers: Record<string, string>): void {
    this.status = status;
    this.headers = headers;
    this.started = true;
  }

  write(chunk: string | Uint8Array): void {
    this.chunks.push(typeof chunk === 'string' ? Buffer.from(chunk, 'utf8') : Buffer.from(chunk));
  }

  end(): void {
    // Nothing to flush: the body is read once the handler returns.
  }

  get body(): Buffer {
    return Buffer.concat(this.chunks);
  }
}
