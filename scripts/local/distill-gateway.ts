import { loadConfig } from '../../lib/config/load';
import { LocalGateway, LocalGatewayOptions, startLocalGateway } from '../../runtime/local/local-gateway';
import { localRouting } from './local-routes';

/** An OpenAI-compatible service the local gateway routes to, as a config `routing.providers` entry. */
export interface LocalProvider {
  readonly name: string;
  /** Base URL up to /v1. */
  readonly baseUrl: string;
  readonly alias: string;
  readonly crossBorder: boolean;
}

/**
 * The kit's gateway on loopback, composed exactly as `npm run gateway:local` composes it (same
 * config schema, same routing code): Bedrock models through a Bedrock endpoint (a stand-in), plus
 * the given providers. The distillation pipeline talks to it as it talks to the deployed gateway.
 */
export async function startDistillGateway(opts: {
  bedrockEndpoint: string;
  providers: readonly LocalProvider[];
  env?: NodeJS.ProcessEnv;
  /** The gateway's request log lines (one per request). @default stdout, as gateway:local */
  log?: (line: Record<string, unknown>) => void;
  /** Require SigV4 from these callers, like the deployed REST API. @default no authorization */
  iam?: LocalGatewayOptions['iam'];
}): Promise<LocalGateway> {
  const config = loadConfig({
    cnLlmKit: {
      routing: {
        providers: opts.providers.map((p) => ({ name: p.name, baseUrl: p.baseUrl, models: [{ alias: p.alias, model: p.alias }], crossBorder: p.crossBorder, maxAttempts: 1 })),
      },
    },
  });
  const routing = localRouting(config, ['--bedrock-endpoint', opts.bedrockEndpoint], opts.env ?? {}, opts.log);
  return startLocalGateway({ gateway: routing.gateway, port: 0, mode: 'buffered', ...(opts.iam && { iam: opts.iam }) });
}
