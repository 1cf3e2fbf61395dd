import { fromUpstream, GatewayError } from './errors';

/**
 * Time kept back from the host's deadline to answer the caller (status, body, log line) before the
 * platform cuts the connection (API Gateway) or freezes the function (Lambda).
 */
export const DEADLINE_SAFETY_MARGIN_MS = 1000;
/** An attempt with less time than this left cannot get an answer from a model: it is not started. */
export const MIN_ATTEMPT_MS = 1000;

export const deadlineExceeded = () =>
  new GatewayError(504, 'timeout_error', 'The request did not finish within the time the gateway host allows (its integration timeout or remaining run time); try a shorter answer (max_tokens) or the streaming door.', 'deadline_exceeded');

export const streamIdle = (idleMs: number) =>
  new GatewayError(504, 'timeout_error', `The upstream stream went silent for ${idleMs} ms; the answer is incomplete and the connection was closed.`, 'upstream_stream_idle');

export const streamTruncated = (what: string) =>
  // Retryable: before the first byte reached the caller another attempt is safe; after it, nothing retries.
  new GatewayError(502, 'api_error', `${what} ended the stream before the answer was complete; the answer is incomplete.`, 'upstream_truncated', null, true);

/**
 * Whatever a stream's reader throws came from the upstream: a decoding failure (a bad event-stream
 * checksum, a cut message) is the upstream's fault, not the gateway's, and safe to retry before the
 * first byte. Modelled errors (the SDK's exceptions, network codes) pass as they are.
 */
function unreadableStream(error: unknown): unknown {
  if (fromUpstream(error).code !== 'internal_error') return error;
  return new GatewayError(502, 'api_error', `The upstream sent a stream the gateway could not read: ${(error as Error)?.message ?? String(error)}`, 'upstream_error', null, true);
}

/** Milliseconds an attempt may still use, or Infinity without a deadline. */
export function timeLeft(deadline: number | undefined, now: () => number): number {
  return deadline === undefined ? Infinity : deadline - DEADLINE_SAFETY_MARGIN_MS - now();
}

export interface AttemptLimits {
  /** Epoch ms by which the caller must have its answer (the host's limit); none: no limit but the timeouts. */
  readonly deadline?: number;
  readonly now: () => number;
  /** The caller went away: cancel the attempt with it. */
  readonly callerSignal?: AbortSignal;
  /** Longest silence accepted inside a stream. */
  readonly streamIdleMs: number;
}

/**
 * One attempt at an upstream call: its signal aborts the connection when the caller goes away, when
 * the host's deadline comes, or when a stream goes silent, and `explain` turns the symptom the
 * client library reports ("aborted", "socket hang up") back into that cause.
 */
export class AttemptGuard {
  private readonly controller = new AbortController();
  private readonly timer?: NodeJS.Timeout;
  private readonly onCallerAbort = () => this.controller.abort(new GatewayError(499, 'api_error', 'The caller went away.', 'client_closed_request'));

  constructor(private readonly limits: AttemptLimits) {
    const left = timeLeft(limits.deadline, limits.now);
    if (left <= 0) throw deadlineExceeded();
    if (left !== Infinity) {
      this.timer = setTimeout(() => this.controller.abort(deadlineExceeded()), left);
      this.timer.unref?.();
    }
    if (limits.callerSignal?.aborted) this.onCallerAbort();
    else limits.callerSignal?.addEventListener('abort', this.onCallerAbort, { once: true });
  }

  get signal(): AbortSignal {
    return this.controller.signal;
  }

  /** The cause when this guard cut the attempt short; otherwise the error as it came. */
  explain(error: unknown): unknown {
    const reason: unknown = this.controller.signal.aborted ? this.controller.signal.reason : undefined;
    return reason instanceof GatewayError ? reason : error;
  }

  /** The source's items as they come; after `streamIdleMs` of silence the connection is aborted and an upstream_stream_idle error thrown. */
  async *idle<T>(source: AsyncIterable<T> | Iterable<T>): AsyncGenerator<T> {
    const iterator: AsyncIterator<T> | Iterator<T> = Symbol.asyncIterator in source ? source[Symbol.asyncIterator]() : source[Symbol.iterator]();
    const idleMs = this.limits.streamIdleMs;
    for (;;) {
      let timer: NodeJS.Timeout | undefined;
      const silence = new Promise<'idle'>((resolve) => (timer = setTimeout(() => resolve('idle'), idleMs)));
      let next: IteratorResult<T> | 'idle';
      try {
        next = await Promise.race([Promise.resolve(iterator.next()), silence]);
      } catch (error) {
        const explained = this.explain(error);
        throw explained === error ? unreadableStream(error) : explained;
      } finally {
        clearTimeout(timer);
      }
      if (next === 'idle') {
        const error = streamIdle(idleMs);
        this.controller.abort(error);
        // The pending next() rejects once the connection is gone; nobody waits for it any more.
        void Promise.resolve(iterator.return?.()).catch(() => undefined);
        throw error;
      }
      if (next.done) return;
      yield next.value;
    }
  }

  dispose(): void {
    if (this.timer) clearTimeout(this.timer);
    this.limits.callerSignal?.removeEventListener('abort', this.onCallerAbort);
  }
}

/** Runs one attempt under a guard, releasing its timer whatever happens. */
export async function guarded<T>(limits: AttemptLimits, fn: (guard: AttemptGuard) => Promise<T>): Promise<T> {
  const guard = new AttemptGuard(limits);
  try {
    return await fn(guard);
  } catch (error) {
    throw guard.explain(error);
  } finally {
    guard.dispose();
  }
}
