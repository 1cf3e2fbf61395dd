import { AttemptGuard } from './attempt-guard';
import { GatewayError } from './errors';
import { attemptLimits, Call, GatewayContext } from './handler-context';
import { jsonObject } from './json';
import { OpenAiUpstream } from './openai-upstream';
import { assertCleared, ClearedModel } from './residency';
import { withRetries } from './retry';

/** A non-streamed JSON answer of an OpenAI-compatible upstream: its text as sent and the object it holds. */
export interface UpstreamJson {
  readonly text: string;
  readonly parsed: Record<string, unknown>;
}

/**
 * POST `path` to an upstream and read its JSON answer under the attempt's guard (deadline, caller
 * gone), retried where safe: the non-streamed calls (embeddings, rerank) share chat's limits.
 */
export async function upstreamJson(ctx: GatewayContext, call: Call, model: ClearedModel, upstream: OpenAiUpstream, path: string, payload: object): Promise<UpstreamJson> {
  assertCleared(model);
  let guard: AttemptGuard | undefined;
  try {
    const text = await withRetries(
      async () => {
        guard?.dispose();
        guard = new AttemptGuard(attemptLimits(ctx, call));
        try {
          const res = await upstream.post(path, payload, guard.signal);
          return await res.text();
        } catch (error) {
          throw guard.explain(error);
        }
      },
      { ...ctx.config.retry, maxAttempts: upstream.config.maxAttempts },
      { signal: call.req.signal, canRetry: () => !call.sink.started, deadline: call.deadline, now: ctx.now },
    );
    const parsed = jsonObject(text);
    if (!parsed) {
      throw new GatewayError(502, 'api_error', `${upstream.config.kind} upstream "${upstream.config.name}" answered 200 with a body that is not a JSON object: ${text.slice(0, 200)}`, 'upstream_bad_response');
    }
    return { text, parsed };
  } finally {
    guard?.dispose();
  }
}

/**
 * `fn` over every item with at most `limit` in flight, results in the items' order. The first
 * failure is what the whole fails with: no new call starts, and the signal handed to every call
 * aborts, so the parts still in flight let go of their upstream connections at once (their results
 * could only be thrown away, and a retry of theirs would outlast the answer).
 */
export async function mapBounded<T, R>(items: readonly T[], limit: number, fn: (item: T, index: number, signal: AbortSignal) => Promise<R>): Promise<R[]> {
  const results = new Array<R>(items.length);
  const failed = new AbortController();
  let next = 0;
  const worker = async () => {
    while (!failed.signal.aborted && next < items.length) {
      const i = next++;
      try {
        results[i] = await fn(items[i], i, failed.signal);
      } catch (error) {
        failed.abort(error);
        throw error;
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return results;
}

/** The call as one part of a fan-out sees it: its upstream attempts also end when `signal` aborts (another part failed). */
export function partOf(call: Call, signal: AbortSignal): Call {
  return { ...call, req: { ...call.req, signal: call.req.signal ? AbortSignal.any([call.req.signal, signal]) : signal } };
}

/** The items in consecutive slices of at most `size`. */
export function chunks<T>(items: readonly T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}
