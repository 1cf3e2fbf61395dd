import { BedrockInvoker } from './bedrock';
import { CallerDimensions } from './caller';
import { errorHeaders } from './errors';
import { GatewayContext } from './handler-context';
import { ModelCatalog } from './models';
import { OpenAiUpstream } from './openai-upstream';
import { Outcome, recordError, requestLogLine } from './request-log';
import { ResidencyGate } from './residency';
import { JSON_HEADERS } from './responses';
import { route } from './router';
import { GatewayRuntimeConfig } from './runtime-config';
import { GatewayRequest, ResponseSink } from './types';
import { Admission, Quota, QuotaRefusal } from '../quota/quota';

export interface GatewayDeps {
  readonly config: GatewayRuntimeConfig;
  readonly bedrock: BedrockInvoker;
  /** OpenAI-compatible upstreams by name (default: built from config, without API keys). */
  readonly upstreams?: ReadonlyMap<string, OpenAiUpstream>;
  /** One JSON line per request. */
  readonly log?: (line: Record<string, unknown>) => void;
  readonly now?: () => number;
  /**
   * The capped Caller metric dimension. A host that rebuilds the gateway (new registry routes) passes one
   * it keeps, so the cap holds per process, not per build. @default a new one
   */
  readonly callers?: CallerDimensions;
  /** Limits and budgets per identity and group, with the cost of each request. @default none (no checks, no cost) */
  readonly quota?: Quota;
}

/** The sink with headers added to whatever status the handler starts (streams included: before the first byte). */
function withHeaders(sink: ResponseSink, extra: Record<string, string>): ResponseSink {
  if (Object.keys(extra).length === 0) return sink;
  return {
    get started() {
      return sink.started;
    },
    start: (status, headers) => sink.start(status, { ...headers, ...extra }),
    write: (chunk) => sink.write(chunk),
    end: () => sink.end(),
  };
}

export type Gateway = { handle(req: GatewayRequest, sink: ResponseSink): Promise<void> };

/** The OpenAI-compatible gateway, independent of the host that receives HTTP (Lambda, local runner). */
export function createGateway(deps: GatewayDeps): Gateway {
  const { config, bedrock } = deps;
  const now = deps.now ?? Date.now;
  // One raw JSON line on stdout: Lambda forwards it as is, so CloudWatch reads the embedded metrics.
  const log = deps.log ?? ((line) => process.stdout.write(`${JSON.stringify(line)}\n`));
  const upstreams = deps.upstreams ?? new Map(config.upstreams.map((u) => [u.name, new OpenAiUpstream(u)]));
  const models = new ModelCatalog(config, upstreams);
  const callers = deps.callers ?? new CallerDimensions();
  const ctx: GatewayContext = { config, bedrock, models, residency: new ResidencyGate(config, models), now };

  return {
    async handle(req, sink) {
      const started = now();
      const outcome: Outcome = { route: 'unknown', status: 200 };
      // The earlier of the host's deadline (a Lambda's remaining time) and the integration timeout in front of it.
      const limits = [req.deadline, config.integrationTimeoutMs !== undefined ? started + config.integrationTimeoutMs : undefined].filter((d): d is number => d !== undefined);
      const deadline = limits.length > 0 ? Math.min(...limits) : undefined;
      let admission: Admission | undefined;
      // The id the request log line carries, where OpenAI's clients read one (`_request_id`, APIError.request_id): what a caller quotes to an operator.
      let target = withHeaders(sink, { 'x-request-id': req.requestId });
      try {
        if (deps.quota) {
          admission = await deps.quota.admit(req);
          target = withHeaders(target, admission.headers);
        }
        await route(ctx, { req, sink: target, outcome, deadline });
      } catch (error) {
        const mapped = recordError(outcome, error);
        outcome.status = mapped.status;
        if (error instanceof QuotaRefusal) {
          outcome.quotaRefused = error.status === 429;
          outcome.identity = error.identity;
          outcome.group = error.group;
        }
        if (!target.started) {
          withHeaders(target, errorHeaders(mapped)).start(mapped.status, JSON_HEADERS);
          target.write(JSON.stringify(mapped.toBody()));
          target.end();
        } else {
          target.end();
        }
      }
      // After the answer ended: a stream that overran a budget is settled in full, and the next request is refused.
      if (admission) await deps.quota!.settle(admission, outcome);
      log(requestLogLine(req, outcome, now() - started, now(), callers));
    },
  };
}
