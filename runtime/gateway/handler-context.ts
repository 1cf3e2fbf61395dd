import { BedrockInvoker } from './bedrock';
import { ModelCatalog } from './models';
import { Outcome } from './request-log';
import { GatewayRuntimeConfig } from './runtime-config';
import { GatewayRequest, ResponseSink } from './types';

/** What every route handler shares for the life of the gateway. */
export interface GatewayContext {
  readonly config: GatewayRuntimeConfig;
  readonly bedrock: BedrockInvoker;
  readonly models: ModelCatalog;
  readonly now: () => number;
}

/** One request in flight: what came in, where the answer goes, and what gets logged about it. */
export interface Call {
  readonly req: GatewayRequest;
  readonly sink: ResponseSink;
  readonly outcome: Outcome;
}
