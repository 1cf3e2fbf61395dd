import { BedrockInvoker, SecretCredentialSource, secretsClient } from './bedrock';
import { CallerDimensions } from './caller';
import { createGateway, Gateway } from './gateway';
import { OpenAiUpstream, UpstreamConfig } from './openai-upstream';
import { registryGateway, RouteRegistry } from './route-registry';
import { GatewayRuntimeConfig, runtimeConfigFromEnv } from './runtime-config';
import { SsmParameterReader } from './ssm-parameters';
import { quotaFromConfig } from '../quota/from-config';

export interface GatewayHostOptions {
  /** Clock of the route registry's refresh interval and of the request logs. */
  readonly now?: () => number;
  /** One JSON line per request or registry event (default: stdout, which Lambda and ECS forward). */
  readonly log?: (line: Record<string, unknown>) => void;
}

/**
 * The gateway as every AWS host builds it (the Lambda and the streaming door): settings from the
 * environment, keys (Bedrock, upstreams) from Secrets Manager, and, when the stack turned the route
 * registry on, the self-hosted routes the vLLM stacks registered in Parameter Store.
 */
export function gatewayFromEnv(env: NodeJS.ProcessEnv = process.env, options: GatewayHostOptions = {}): Gateway {
  const config = runtimeConfigFromEnv(env);
  const log = options.log ?? ((line) => process.stdout.write(`${JSON.stringify(line)}\n`));
  const secrets = secretsClient(config);
  const credentials = config.credentialSecretId ? new SecretCredentialSource(secrets, config.credentialSecretId) : undefined;
  const bedrock = new BedrockInvoker(config, credentials);

  // Kept across rebuilds while their settings are unchanged: each holds its key, read once from Secrets Manager.
  let pool = new Map<string, OpenAiUpstream>();
  const upstreamsOf = (configs: readonly UpstreamConfig[]) => {
    const next = new Map(configs.map((u) => [JSON.stringify(u), pool.get(JSON.stringify(u)) ?? new OpenAiUpstream(u, secrets)]));
    pool = next;
    return new Map([...next.values()].map((u) => [u.config.name, u]));
  };
  const callers = new CallerDimensions();
  // One per process, kept across registry rebuilds: its cache of table-held limits outlives a route change.
  const quota = quotaFromConfig(config.quotas, { log, now: options.now, credentials: secrets.config.credentials });
  const build = (c: GatewayRuntimeConfig) => createGateway({ config: c, bedrock, upstreams: upstreamsOf(c.upstreams), log, now: options.now, callers, quota });

  const settings = config.routeRegistry;
  if (!settings) return build(config);
  // Parameter Store is signed with the same credentials the SDK clients resolve (the Lambda's or the task's role).
  const parameters = new SsmParameterReader({ region: settings.region, endpoint: settings.endpoint, credentials: secrets.config.credentials });
  const registry = new RouteRegistry({ path: settings.parameterPath, read: (path) => parameters.getByPath(path), refreshMs: settings.refreshSeconds * 1000, now: options.now ?? Date.now, log });
  return registryGateway(config, registry, build, log);
}
