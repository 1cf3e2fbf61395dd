import { deadlineExceeded, MIN_ATTEMPT_MS, timeLeft } from './attempt-guard';
import { fromUpstream, GatewayError } from './errors';

export interface RetryPolicy {
  readonly maxAttempts: number;
  readonly baseDelayMs: number;
  readonly maxDelayMs: number;
}

export interface RetryOptions {
  readonly signal?: AbortSignal;
  readonly canRetry?: () => boolean;
  readonly sleep?: (ms: number) => Promise<void>;
  /** Epoch ms the whole request must end by (the host's limit): no attempt or backoff starts that cannot finish before it. */
  readonly deadline?: number;
  readonly now?: () => number;
}

/**
 * Retries what is safe to retry (throttling, 5xx, resets), with exponential backoff and full jitter,
 * only while `canRetry()` says nothing reached the caller yet, and only while the deadline leaves
 * room for the backoff and one more attempt.
 */
export async function withRetries<T>(fn: (attempt: number) => Promise<T>, policy: RetryPolicy, opts: RetryOptions = {}): Promise<T> {
  const sleep = opts.sleep ?? ((ms: number) => new Promise((r) => setTimeout(r, ms)));
  const now = opts.now ?? Date.now;
  for (let attempt = 1; ; attempt++) {
    if (timeLeft(opts.deadline, now) <= 0) throw deadlineExceeded();
    try {
      return await fn(attempt);
    } catch (error) {
      if (opts.signal?.aborted) throw new GatewayError(499, 'api_error', 'The caller went away.', 'client_closed_request');
      const mapped = fromUpstream(error);
      if (!mapped.retryable || attempt >= policy.maxAttempts || !(opts.canRetry?.() ?? true)) throw mapped;
      const delay = Math.random() * Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** (attempt - 1));
      // The last answer is more use to the caller than a wait the host would cut short.
      if (timeLeft(opts.deadline, now) < delay + MIN_ATTEMPT_MS) throw mapped;
      await sleep(delay);
    }
  }
}
