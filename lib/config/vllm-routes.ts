/** Where a served model runs when the kit hosts it: each platform registers its own gateway route. */
export type VllmPlatform = 'ec2' | 'eks';

export interface SelfHostedRoute {
  /** What the gateway sends upstream as `model`: the served model name, or a LoRA adapter's name (vLLM's --lora-modules name). */
  readonly servedName: string;
  /** The served model whose vLLM server answers (its base URL and key); differs from servedName for adapters. */
  readonly host: string;
  readonly platform: VllmPlatform;
  /** The model name callers send. */
  readonly alias: string;
  /** The upstream name in the gateway's routing table and in its usage metrics (servedBy). */
  readonly routeName: string;
}

/**
 * The gateway routes of the self-hosted models on the enabled platforms. With both on (e.g. while
 * moving from EC2 to EKS) the EC2 service keeps the plain served name and EKS answers as
 * `eks/<name>`, so the two never collide and a fallback chain can join them.
 */
export function selfHostedRoutes(servedNames: readonly string[], on: Readonly<Record<VllmPlatform, boolean>>): SelfHostedRoute[] {
  const platforms = (['ec2', 'eks'] as const).filter((p) => on[p]);
  return platforms.flatMap((platform) =>
    servedNames.map((servedName) => ({
      servedName,
      host: servedName,
      platform,
      alias: platform === 'eks' && platforms.length === 2 ? `eks/${servedName}` : servedName,
      routeName: platform === 'ec2' ? `vllm-${servedName}` : `vllm-eks-${servedName}`,
    })),
  );
}

/** What routing needs of a served model: its name and the LoRA adapters loaded on top of it. */
export interface RoutedModel {
  readonly servedName: string;
  readonly adapters?: readonly { readonly name: string }[];
}

/**
 * The routes of the LoRA adapters: each adapter is a model alias of its own, answered by its base
 * model's server (same base URL and key), which vLLM routes to the adapter by name. Aliases and
 * route names follow the base models' rule on each platform.
 */
export function adapterRoutes(models: readonly RoutedModel[], on: Readonly<Record<VllmPlatform, boolean>>): SelfHostedRoute[] {
  const both = on.ec2 && on.eks;
  return (['ec2', 'eks'] as const)
    .filter((p) => on[p])
    .flatMap((platform) =>
      models.flatMap((model) =>
        (model.adapters ?? []).map((adapter) => ({
          servedName: adapter.name,
          host: model.servedName,
          platform,
          alias: platform === 'eks' && both ? `eks/${adapter.name}` : adapter.name,
          routeName: `${platform === 'ec2' ? 'vllm' : 'vllm-eks'}-${model.servedName}-lora-${adapter.name}`,
        })),
      ),
    );
}

/** Every self-hosted alias a config routes: base models and their adapters on the enabled platforms. */
export function selfHostedAliases(models: readonly RoutedModel[], on: Readonly<Record<VllmPlatform, boolean>>): string[] {
  return [...selfHostedRoutes(models.map((m) => m.servedName), on), ...adapterRoutes(models, on)].map((r) => r.alias);
}

/** The config fields routing depends on (a type-only view of KitConfig: the schema imports this module). */
interface RoutingConfig {
  readonly models: readonly RoutedModel[];
  readonly stacks: Readonly<Record<'vllmEc2' | 'vllmEks', boolean>>;
  readonly routing: { readonly registerVllm: boolean };
}

/** The routes one platform's stack registers, as the config names them (empty when registration is off). */
export function registeredRoutes(config: RoutingConfig, platform: VllmPlatform): SelfHostedRoute[] {
  if (!config.routing.registerVllm) return [];
  const on = { ec2: config.stacks.vllmEc2, eks: config.stacks.vllmEks };
  return [...selfHostedRoutes(config.models.map((m) => m.servedName), on), ...adapterRoutes(config.models, on)].filter((r) => r.platform === platform);
}

/** The gateway reads the route registry when some vLLM platform of the config registers into it. */
export function routeRegistryEnabled(config: RoutingConfig): boolean {
  return config.routing.registerVllm && (config.stacks.vllmEc2 || config.stacks.vllmEks);
}
