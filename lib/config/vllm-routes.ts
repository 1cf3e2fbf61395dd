/** Where a served model runs when the kit hosts it: each platform registers its own gateway route. */
export type VllmPlatform = 'ec2' | 'eks';

export interface SelfHostedRoute {
  readonly servedName: string;
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
      platform,
      alias: platform === 'eks' && platforms.length === 2 ? `eks/${servedName}` : servedName,
      routeName: platform === 'ec2' ? `vllm-${servedName}` : `vllm-eks-${servedName}`,
    })),
  );
}

/** The config fields routing depends on (a type-only view of KitConfig: the schema imports this module). */
interface RoutingConfig {
  readonly models: readonly { readonly servedName: string }[];
  readonly stacks: Readonly<Record<'vllmEc2' | 'vllmEks', boolean>>;
  readonly routing: { readonly registerVllm: boolean };
}

/** The routes one platform's stack registers, as the config names them (empty when registration is off). */
export function registeredRoutes(config: RoutingConfig, platform: VllmPlatform): SelfHostedRoute[] {
  if (!config.routing.registerVllm) return [];
  return selfHostedRoutes(config.models.map((m) => m.servedName), { ec2: config.stacks.vllmEc2, eks: config.stacks.vllmEks }).filter((r) => r.platform === platform);
}

/** The gateway reads the route registry when some vLLM platform of the config registers into it. */
export function routeRegistryEnabled(config: RoutingConfig): boolean {
  return config.routing.registerVllm && (config.stacks.vllmEc2 || config.stacks.vllmEks);
}
