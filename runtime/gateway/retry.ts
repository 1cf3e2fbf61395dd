import { fromUpstream, GatewayError } from './errors';

export interface RetryPolicy {
  readonly maxAttempts: number;
  readonly baseDelayMs: number;
  readonly maxDelayMs: number;
}

/**
 * Retries what is safe to retry (throttling, 5xx, resets), with exponential backoff and full jitter,
 * only while `canRetry()` says nothing reached the caller yet.
 */
export async function withRetries<T>(
  fn: (attempt: number) => Promise<T>,
  policy: RetryPolicy,
  opts: { signal?: AbortSignal; canRetry?: () => boolean; sleep?: (ms: number) => Promise<void> } = {},
): Promise<T> {
  const sleep = opts.sleep ?? ((ms: number) => new Promise((r) => setTimeout(r, ms)));
  for (let attempt = 1; ; attempt++) {
    try {
      return await fn(attempt);
    } catch (error) {
      if (opts.signal?.aborted) throw new GatewayError(499, 'api_error', 'The caller went away.', 'client_closed_request');
      const mapped = fromUpstream(error);
      if (!mapped.retryable || attempt >= policy.maxAttempts || !(opts.canRetry?.() ?? true)) throw mapped;
      await sleep(Math.random() * Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** (attempt - 1)));
    }
  }
}
