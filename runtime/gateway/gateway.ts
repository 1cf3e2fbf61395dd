import { BedrockInvoker } from './bedrock';
import { CallerDimensions } from './caller';
import { GatewayContext } from './handler-context';
import { ModelCatalog } from './models';
import { OpenAiUpstream } from './openai-upstream';
import { Outcome, recordError, requestLogLine } from './request-log';
import { ResidencyGate } from './residency';
import { sendJson } from './responses';
import { route } from './router';
import { GatewayRuntimeConfig } from './runtime-config';
import { GatewayRequest, ResponseSink } from './types';

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
      try {
        await route(ctx, { req, sink, outcome, deadline });
      } catch (error) {
        const mapped = recordError(outcome, error);
        outcome.status = mapped.status;
        if (!sink.started) {
          sendJson(sink, mapped.status, mapped.toBody());
        } else {
          sink.end();
        }
      }
      log(requestLogLine(req, outcome, now() - started, now(), callers));
    },
  };
}
