import { AttemptLimits } from './attempt-guard';
import { BedrockInvoker } from './bedrock';
import { ModelCatalog } from './models';
import { Outcome } from './request-log';
import { ResidencyGate } from './residency';
import { GatewayRuntimeConfig } from './runtime-config';
import { GatewayRequest, ResponseSink } from './types';

/** What every route handler shares for the life of the gateway. */
export interface GatewayContext {
  readonly config: GatewayRuntimeConfig;
  readonly bedrock: BedrockInvoker;
  /** The allow-list, for describing models (GET /v1/models). */
  readonly models: ModelCatalog;
  /** The only way to a model a handler may call: it resolves the name and applies data residency. */
  readonly residency: ResidencyGate;
  readonly now: () => number;
}

/** One request in flight: what came in, where the answer goes, and what gets logged about it. */
export interface Call {
  readonly req: GatewayRequest;
  readonly sink: ResponseSink;
  readonly outcome: Outcome;
  /** Epoch ms the answer must be complete by: the earlier of the host's deadline and the integration timeout. */
  readonly deadline?: number;
}

/** The limits every upstream attempt of this call runs under. */
export function attemptLimits(ctx: GatewayContext, call: Call): AttemptLimits {
  return { deadline: call.deadline, now: ctx.now, callerSignal: call.req.signal, streamIdleMs: ctx.config.timeouts.streamIdleMs };
}
