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
  error?: string;
  prompt?: unknown;
  completion?: string;
}

/** One JSON line per request: the access log, and (CloudWatch embedded metric format) its metrics. */
export function requestLogLine(req: GatewayRequest, outcome: Outcome, latencyMs: number, timestamp: number): Record<string, unknown> {
  return {
    level: outcome.status >= 500 ? 'error' : outcome.status >= 400 ? 'warn' : 'info',
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
            { Name: 'Throttled', Unit: 'Count' },
            { Name: 'UpstreamErrors', Unit: 'Count' },
          ],
        },
      ],
    },
    Model: outcome.model ?? 'none',
    Caller: req.caller,
    LatencyMs: latencyMs,
    InputTokens: outcome.inputTokens ?? 0,
    OutputTokens: outcome.outputTokens ?? 0,
    Throttled: outcome.status === 429 ? 1 : 0,
    UpstreamErrors: outcome.status >= 500 ? 1 : 0,
  };
}
