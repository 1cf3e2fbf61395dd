import { fromUpstream, isUpstreamFailure } from './errors';
import { CallerDimensions } from './caller';
import { GatewayRequest } from './types';

/** What one request did, for the structured log line and the metrics in it. */
export interface Outcome {
  route: string;
  /** Where the request was served: bedrock or an upstream's name; with the fallbacks taken before it. */
  servedBy?: string;
  fallbacks?: number;
  model?: string;
  status: number;
  stream?: boolean;
  inputTokens?: number;
  outputTokens?: number;
  /** Prompt tokens the upstream served from its prefix cache. */
  cachedTokens?: number;
  /** Completion tokens spent on reasoning (among outputTokens), when the route counts them apart (vLLM, providers; Converse does not). */
  reasoningTokens?: number;
  /** The error's code; also set when a stream that started with 200 ended with an error event. */
  error?: string;
  /**
   * Its message, for failures the gateway or an upstream caused (5xx, in-stream errors), so an
   * operator reads what happened. Not for 4xx: their messages may quote the request (a JSON parser's
   * excerpt), which is customer content.
   */
  errorMessage?: string;
  /** The failure came from an upstream (not bad input, not the gateway): it counts towards the upstream alarms. */
  upstreamFailure?: boolean;
  /** The serving route processes the request outside mainland China (Bedrock in the global region, a provider marked crossBorder). */
  crossBorder?: boolean;
  /** Who is billed: API key id, IAM role ARN of an assumed-role session, or user ARN (set by the quota module). */
  identity?: string;
  /** The identity's team; "default" when it has none (set by the quota module). */
  group?: string;
  /** What the request cost by the price table (quotas.prices), set once the request is settled; unset when its model has no price. */
  cost?: { amount: number; currency: 'CNY' | 'USD' };
  prompt?: unknown;
  completion?: string;
  /** Refused by the gateway's own limits or budgets (429), not throttled by an upstream. */
  quotaRefused?: boolean;
}

/** Notes the error that ended (or failed) the request. */
export function recordError(outcome: Outcome, error: unknown): ReturnType<typeof fromUpstream> {
  const mapped = fromUpstream(error);
  outcome.error = mapped.code ?? mapped.type;
  if (mapped.status >= 500) outcome.errorMessage = mapped.message;
  outcome.upstreamFailure = isUpstreamFailure(mapped);
  return mapped;
}

/** One JSON line per request: the access log, and (CloudWatch embedded metric format) its metrics. */
export function requestLogLine(req: GatewayRequest, outcome: Outcome, latencyMs: number, timestamp: number, callers: CallerDimensions): Record<string, unknown> {
  return {
    level: outcome.status >= 500 || outcome.upstreamFailure || outcome.error === 'deadline_exceeded' ? 'error' : outcome.status >= 400 || outcome.error ? 'warn' : 'info',
    msg: 'request',
    requestId: req.requestId,
    caller: req.caller,
    ...outcome,
    latencyMs,
    // CloudWatch embedded metric format: these fields become metrics without any API call.
    _aws: {
      Timestamp: timestamp,
      CloudWatchMetrics: [
        {
          Namespace: 'cn-llm-kit/Gateway',
          // Per model, per caller (metering), and one set without dimensions for account-wide alarms.
          Dimensions: [['Model'], ['Caller'], []],
          Metrics: [
            { Name: 'LatencyMs', Unit: 'Milliseconds' },
            { Name: 'InputTokens', Unit: 'Count' },
            { Name: 'OutputTokens', Unit: 'Count' },
            { Name: 'CachedInputTokens', Unit: 'Count' },
            { Name: 'Throttled', Unit: 'Count' },
            { Name: 'QuotaRefused', Unit: 'Count' },
            { Name: 'UpstreamErrors', Unit: 'Count' },
            { Name: 'DeadlineExceeded', Unit: 'Count' },
          ],
        },
        // Spend per group (the usage dashboard), one series per currency: CNY and USD never add up. Only for priced requests.
        ...(outcome.cost ? [{ Namespace: 'cn-llm-kit/Gateway', Dimensions: [['Group', 'Currency']], Metrics: [{ Name: 'Cost', Unit: 'None' }] }] : []),
      ],
    },
    Model: outcome.model ?? 'none',
    // Bounded: an assumed-role session counts as its role, and past a cap callers share one value (the log's caller keeps the full identity).
    Caller: callers.of(req.caller),
    LatencyMs: latencyMs,
    InputTokens: outcome.inputTokens ?? 0,
    OutputTokens: outcome.outputTokens ?? 0,
    CachedInputTokens: outcome.cachedTokens ?? 0,
    // Upstream throttling only: the gateway's own limits are counted apart and must not trip the throttle alarm.
    Throttled: outcome.status === 429 && !outcome.quotaRefused ? 1 : 0,
    QuotaRefused: outcome.quotaRefused ? 1 : 0,
    // Only failures that came from an upstream: bad input and the gateway's own faults must not trip the upstream alarms.
    UpstreamErrors: outcome.upstreamFailure ? 1 : 0,
    DeadlineExceeded: outcome.error === 'deadline_exceeded' ? 1 : 0,
    ...(outcome.cost && { Group: outcome.group ?? 'default', Currency: outcome.cost.currency, Cost: outcome.cost.amount }),
  };
}
