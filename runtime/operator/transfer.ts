import { NodeHttpHandler } from '@smithy/node-http-handler';

/**
 * What the operator scripts share for moving large files over unreliable links (the border between
 * the global and the China regions drops and stalls long connections): retries with backoff and
 * jitter, the test for "worth retrying", and a throttled progress line.
 */

export interface RetryPolicy {
  /** Attempts per part (or per resumed download without progress) before giving up. @default 8 */
  readonly maxAttempts: number;
  /** First backoff ceiling; doubles per attempt. @default 1000 */
  readonly baseDelayMs: number;
  /** Highest backoff ceiling. @default 30000 */
  readonly maxDelayMs: number;
  /** Waits between attempts; tests pass one that does not wait. @default setTimeout */
  readonly sleep: (ms: number) => Promise<void>;
  /** @default Math.random */
  readonly random: () => number;
}

export const DEFAULT_RETRY_POLICY: RetryPolicy = {
  maxAttempts: 8,
  baseDelayMs: 1000,
  maxDelayMs: 30_000,
  sleep: (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
  random: Math.random,
};

/**
 * "Full jitter" backoff: a random wait up to an exponentially growing ceiling, so that parts that
 * failed together (one dropped link) do not retry in lockstep.
 */
export function backoffMs(policy: RetryPolicy, failedAttempts: number): number {
  const ceiling = Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** Math.max(0, failedAttempts - 1));
  return Math.floor(policy.random() * ceiling);
}

/** A failure of one attempt that is worth another: the network, throttling or a 5xx. */
export class TransientError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'TransientError';
  }
}

const TRANSIENT_CODES = new Set([
  'ECONNRESET',
  'ECONNREFUSED',
  'ECONNABORTED',
  'EPIPE',
  'ETIMEDOUT',
  'EAI_AGAIN',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'UND_ERR_SOCKET',
  'UND_ERR_CLOSED',
  'UND_ERR_BODY_TIMEOUT',
  'UND_ERR_HEADERS_TIMEOUT',
  'UND_ERR_CONNECT_TIMEOUT',
]);
const TRANSIENT_NAMES = new Set([
  'TransientError',
  'TimeoutError',
  'AbortError',
  'ThrottlingException',
  'Throttling',
  'SlowDown',
  'RequestTimeout',
  'RequestTimeoutException',
  'InternalError',
  'ServiceUnavailable',
  'ServiceUnavailableException',
  'ServerException',
]);

/** True for failures a retry can cure; false for answers that will not change (403, bad digest...). */
export function isTransient(error: unknown): boolean {
  // Already the verdict of a retry loop, or of a check: retrying it again would only repeat it.
  if ((error as Error)?.name === 'RetriesExhaustedError' || (error as Error)?.name === 'OperatorError') return false;
  for (let e = error as { name?: string; code?: string; message?: string; cause?: unknown; $metadata?: { httpStatusCode?: number }; $retryable?: unknown } | undefined, depth = 0; e && depth < 5; e = e.cause as typeof e, depth++) {
    if (e.code && TRANSIENT_CODES.has(e.code)) return true;
    if (e.name && TRANSIENT_NAMES.has(e.name)) return true;
    if (e.$retryable) return true;
    const status = e.$metadata?.httpStatusCode;
    if (status !== undefined && (status >= 500 || status === 429)) return true;
    // Node's fetch reports a connection cut mid-body as TypeError("terminated") and a failed connect as "fetch failed".
    if (e.name === 'TypeError' && (e.message === 'terminated' || e.message === 'fetch failed')) return true;
    // The SDK wraps an error from another realm (a worker, a VM context) into one whose message alone keeps the code.
    if (e.message && /\b(socket hang up|ECONNRESET|EPIPE|ETIMEDOUT|ECONNREFUSED|TimeoutError)\b/.test(e.message)) return true;
  }
  return false;
}

/**
 * Runs `fn` until it succeeds, a failure is not transient, or the policy's attempts are used up.
 * `onRetry` hears about each failed attempt before the wait.
 */
export async function withRetries<T>(
  what: string,
  fn: (attempt: number) => Promise<T>,
  policy: RetryPolicy = DEFAULT_RETRY_POLICY,
  onRetry?: (error: unknown, attempt: number, waitMs: number) => void,
): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await fn(attempt);
    } catch (e) {
      if (!isTransient(e)) throw e;
      if (attempt >= policy.maxAttempts) throw new RetriesExhaustedError(what, attempt, e);
      const wait = backoffMs(policy, attempt);
      onRetry?.(e, attempt, wait);
      await policy.sleep(wait);
    }
  }
}

export class RetriesExhaustedError extends Error {
  constructor(what: string, attempts: number, readonly lastError: unknown) {
    super(`${what} failed ${attempts} times; last: ${describeError(lastError)}. Run the command again: it resumes where it stopped.`);
    this.name = 'RetriesExhaustedError';
  }
}

/** One line for an error and its causes, without request or response bodies. */
export function describeError(error: unknown): string {
  const parts: string[] = [];
  for (let e = error as { name?: string; message?: string; code?: string; cause?: unknown } | undefined, depth = 0; e && depth < 4; e = e.cause as typeof e, depth++) {
    parts.push(`${e.name ?? 'Error'}: ${e.message ?? String(e)}${e.code ? ` (${e.code})` : ''}`);
  }
  return parts.join(' <- ');
}

export const MiB = 1024 * 1024;

export function formatBytes(bytes: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return unit === 0 ? `${value} B` : `${value.toFixed(1)} ${units[unit]}`;
}

/** Where progress goes: process.stderr, or a stand-in in tests. */
export interface ProgressStream {
  write(text: string): unknown;
  readonly isTTY?: boolean;
}

/** A terminal gets one line rewritten in place each second; a log file a full line every 30 s. */
export const PROGRESS_INTERVAL_MS = { tty: 1000, log: 30_000 };

/**
 * Bytes, percent and rate of a long transfer, throttled so a fast link does not flood the terminal
 * and a log file gets a line now and then rather than one per chunk. Transfers shorter than one
 * interval print nothing.
 */
export class TransferProgress {
  private readonly startedAt: number;
  private lastPrintAt: number;
  private lastPrintBytes = 0;
  private transferred = 0;
  private printed = false;

  constructor(
    private label: string,
    private readonly totalBytes: number,
    private readonly stream: ProgressStream | undefined,
    private readonly now: () => number = Date.now,
  ) {
    this.startedAt = now();
    this.lastPrintAt = this.startedAt;
  }

  /** Names what is moving now (e.g. the file of a directory) without restarting the totals. */
  relabel(label: string): void {
    this.label = label;
  }

  add(bytes: number): void {
    this.transferred += bytes;
    if (!this.stream) return;
    const now = this.now();
    const interval = this.stream.isTTY ? PROGRESS_INTERVAL_MS.tty : PROGRESS_INTERVAL_MS.log;
    if (now - this.lastPrintAt < interval) return;
    const rate = ((this.transferred - this.lastPrintBytes) * 1000) / Math.max(1, now - this.lastPrintAt);
    this.lastPrintAt = now;
    this.lastPrintBytes = this.transferred;
    this.print(`${this.line()} ${formatBytes(Math.round(rate))}/s`);
  }

  /** Wraps a log so that its lines on a terminal replace the progress line instead of landing at its end. */
  above(log: (line: string) => void): (line: string) => void {
    return (line) => {
      if (this.stream?.isTTY && this.printed) this.stream.write('\r\x1b[K');
      log(line);
    };
  }

  /** Ends a rewritten terminal line so the next log line starts on its own. */
  finish(): void {
    if (!this.stream || !this.printed || !this.stream.isTTY) return;
    const seconds = Math.max(0.001, (this.now() - this.startedAt) / 1000);
    this.print(`${this.line()} ${formatBytes(Math.round(this.transferred / seconds))}/s average`);
    this.stream.write('\n');
  }

  get bytes(): number {
    return this.transferred;
  }

  private line(): string {
    const percent = this.totalBytes > 0 ? Math.floor((this.transferred * 100) / this.totalBytes) : 100;
    return `${this.label}: ${formatBytes(this.transferred)} / ${formatBytes(this.totalBytes)} (${percent}%)`;
  }

  private print(text: string): void {
    this.printed = true;
    this.stream!.write(this.stream!.isTTY ? `\r${text}\x1b[K` : `${text}\n`);
  }
}

/**
 * SDK client settings for transfer clients: the kit's per-part retries above are the only retry
 * layer (SDK retries on top would multiply the attempts and hide a dead link for minutes), and a
 * connection that goes silent for a minute counts as dropped instead of hanging the run.
 */
export function transferClientSettings(timeouts: { connectMs?: number; idleMs?: number } = {}) {
  return {
    maxAttempts: 1,
    requestHandler: new NodeHttpHandler({ connectionTimeout: timeouts.connectMs ?? 15_000, socketTimeout: timeouts.idleMs ?? 60_000 }),
  };
}
