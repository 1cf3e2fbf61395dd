import { fromIni } from '@aws-sdk/credential-providers';
import { KitConfig } from '../../lib/config/schema';
import { selfHostedRoutes } from '../../lib/config/vllm-routes';
import { modelKindOfTask } from '../../lib/vllm/server';
import { gatewayRuntimeSettings } from '../../lib/gateway/runtime-settings';
import { BedrockInvoker, CredentialSource } from '../../runtime/gateway/bedrock';
import { createGateway, Gateway } from '../../runtime/gateway/gateway';
import { OpenAiUpstream } from '../../runtime/gateway/openai-upstream';
import { RouteEntry, withRegistryRoutes } from '../../runtime/gateway/route-registry';
import { GatewayRuntimeConfig, GatewayRuntimeConfigSchema } from '../../runtime/gateway/runtime-config';
import { OperatorError } from '../../runtime/operator/operator-error';
import { DEFAULT_LOCAL_LEDGER_DIR, LocalLedger, withLocalLedger } from '../../runtime/ledger/local-ledger';
import { flagValue, flagValues } from '../cli-config';
import { localUpstreamKeys, upstreamKeyEnvName } from './upstream-keys';
import { MemoryCounterStore } from '../../runtime/quota/counter-store';
import { quotaFromConfig } from '../../runtime/quota/from-config';

/** The routing flags gateway:local and door:local share (their usage texts include it). */
export const ROUTING_USAGE = `  --bedrock-endpoint URL  a Bedrock stand-in (npm run stand-in -- bedrock) instead of real Bedrock in global.region
  --profile NAME          global-partition profile for real Bedrock (default: the SDK's default chain)
  --vllm NAME=URL         a vLLM service (served model NAME, base URL up to /v1), routed as the deployed
                          VllmEc2 stack registers it; repeat for more
  --upstream-keys FILE    JSON {"<upstream>": "<API key>"} (mode 600) for providers and vLLM routes
  --config FILE, -c k=v   the kit config: routing.providers, routing.fallbacks, routing.residency,
                          bedrock.models apply exactly as deployed
  --ledger-dir DIR        usage ledger records (as deployed, one per request) under DIR/dt=YYYY-MM-DD/
                          (default .cnllm-local/ledger; read them with npm run usage); --no-ledger: none
Upstream keys come from $CNLLM_KEY_<UPSTREAM> (e.g. CNLLM_KEY_DASHSCOPE, CNLLM_KEY_VLLM_QWEN2_5_7B_INSTRUCT)
or --upstream-keys, never from the command line.`;

export interface LocalRouting {
  readonly gateway: Gateway;
  readonly settings: GatewayRuntimeConfig;
  /** One line per model: where it goes and where its key came from (never the key). */
  readonly routeLines: string[];
  readonly bedrockDescription: string;
  /** Where the run's usage ledger goes; undefined with --no-ledger. */
  readonly ledger?: LocalLedger;
  /** What quotas do locally, for the start banner. */
  readonly quotaDescription: string;
}

/**
 * `--vllm NAME=URL` as the route registry entry the VllmEc2 stack would write for served model NAME.
 * NAME must be one of the config's models, as deployed: routing.fallbacks are checked against those names.
 */
export function vllmRoutesFromArgs(args: string[], config: KitConfig): RouteEntry[] {
  const served = config.models.map((m) => m.servedName);
  const specs = flagValues(args, '--vllm').map((spec) => {
    const [servedName, ...rest] = spec.split('=');
    const baseUrl = rest.join('=');
    if (!servedName || !/^https?:\/\/[^\s]+$/.test(baseUrl)) throw new OperatorError(`--vllm ${spec}: expected NAME=URL, e.g. --vllm qwen2.5-7b-instruct=http://127.0.0.1:8000/v1`);
    if (!served.includes(servedName)) throw new OperatorError(`--vllm ${spec}: "${servedName}" is not a served model of the config (models[].servedName: ${served.join(', ') || 'none'}); add it to models or use one of those`);
    return { servedName, baseUrl };
  });
  const routes = selfHostedRoutes(
    specs.map((s) => s.servedName),
    { ec2: true, eks: false },
  );
  // Locally the key comes from the environment or a file, not from a secret: the secret id is never read.
  const taskOf = (servedName: string) => config.models.find((m) => m.servedName === servedName)?.task ?? 'generate';
  return routes.map((route, i) => ({ ...route, baseUrl: specs[i].baseUrl, apiKeySecretArn: 'local', kind: 'vllm' as const, crossBorder: false, modelKind: modelKindOfTask(taskOf(route.servedName)) }));
}

/**
 * The gateway a local run serves: settings derived by the same code as the deployed Lambda and
 * streaming door (gatewayRuntimeSettings), upstream keys from the environment or a keys file.
 */
export function localRouting(config: KitConfig, args: string[], env: NodeJS.ProcessEnv = process.env, log?: (line: Record<string, unknown>) => void): LocalRouting {
  const bedrockEndpoint = flagValue(args, '--bedrock-endpoint');
  const profile = flagValue(args, '--profile');
  const derived = GatewayRuntimeConfigSchema.parse({
    ...gatewayRuntimeSettings(config, { upstreamTimeoutSeconds: 300 }),
    // --vllm routes join the table exactly as the deployed gateway adds the registry's entries (withRegistryRoutes).
    routeRegistry: { parameterPath: '/local/routes', region: config.china.region, timeoutMs: 300000, maxAttempts: 2 },
    ...(bedrockEndpoint && { bedrockEndpoint }),
  });
  const { routeRegistry: _localOnly, ...routed } = withRegistryRoutes(derived, vllmRoutesFromArgs(args, config), (line) => console.error(JSON.stringify(line)));
  const settings: GatewayRuntimeConfig = { ...routed, upstreams: routed.upstreams.map(({ apiKeySecretId: _none, ...upstream }) => upstream) };
  const keys = localUpstreamKeys(
    settings.upstreams.map((u) => u.name),
    { env, keysFile: flagValue(args, '--upstream-keys') },
  );
  const upstreams = new Map(settings.upstreams.map((u) => [u.name, new OpenAiUpstream(u, undefined, keys.get(u.name))]));
  // A loopback stand-in does not check signatures: any key will do. Real Bedrock gets the operator's own global credentials.
  const credentials: CredentialSource | undefined = profile
    ? { get: fromIni({ profile }), invalidate: () => undefined }
    : bedrockEndpoint
      ? { get: async () => ({ accessKeyId: 'AKIALOCALSTANDIN', secretAccessKey: 'local' }), invalidate: () => undefined }
      : undefined;
  const bedrockDescription = bedrockEndpoint ?? `${settings.bedrockRegion} via ${profile ?? 'default credentials'}`;
  const routeLines = settings.models.map((m) => {
    if (m.route === 'bedrock') return `  ${m.alias} -> Bedrock ${m.modelId} (${bedrockDescription})`;
    const upstream = settings.upstreams.find((u) => u.name === m.route)!;
    const key = keys.get(upstream.name);
    const keyText = key ? `key from ${key.from}` : `no key (set ${upstreamKeyEnvName(upstream.name)} or --upstream-keys)`;
    return `  ${m.alias} -> ${upstream.kind} "${upstream.name}" ${upstream.baseUrl} as ${m.modelId}${upstream.crossBorder ? ', cross-border' : ''}; ${keyText}`;
  });
  // The same limits as deployed (quotas.* keys), counted in this process: one local process serves every caller.
  const quota = quotaFromConfig(settings.quotas, { store: settings.quotas?.enforce ? new MemoryCounterStore() : undefined });
  const quotaDescription = !settings.quotas ? 'off' : settings.quotas.enforce ? 'limits of quotas.* enforced, counted in this process' : 'metering only (identity, group, cost)';
  const ledger = args.includes('--no-ledger') ? undefined : new LocalLedger(flagValue(args, '--ledger-dir') ?? DEFAULT_LOCAL_LEDGER_DIR);
  return {
    gateway: createGateway({ config: settings, bedrock: new BedrockInvoker(settings, credentials), upstreams, quota, log: withLocalLedger(ledger, log) }),
    settings,
    routeLines,
    bedrockDescription,
    quotaDescription,
    ledger,
  };
}
