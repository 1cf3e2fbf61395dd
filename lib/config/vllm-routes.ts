/** Where a served model runs when the kit hosts it: each platform registers its own gateway route. */
export type VllmPlatform = 'ec2' | 'eks';

/**
 * The model name callers send for a self-hosted model. With both platforms on (e.g. while moving
 * from EC2 to EKS) the EC2 service keeps the plain served name and EKS answers as `eks/<name>`, so
 * the two never collide and a fallback chain can join them.
 */
export function vllmAlias(servedName: string, platform: VllmPlatform, bothPlatforms: boolean): string {
  return platform === 'eks' && bothPlatforms ? `eks/${servedName}` : servedName;
}

/** The gateway route (upstream) name of a self-hosted model on one platform. */
export function vllmRouteName(servedName: string, platform: VllmPlatform): string {
  return platform === 'ec2' ? `vllm-${servedName}` : `vllm-eks-${servedName}`;
}

/** Every self-hosted model name the gateway serves for the enabled platforms. */
export function selfHostedAliases(servedNames: readonly string[], on: { ec2: boolean; eks: boolean }): string[] {
  const platforms = (['ec2', 'eks'] as const).filter((p) => on[p]);
  return platforms.flatMap((p) => servedNames.map((name) => vllmAlias(name, p, platforms.length === 2)));
}
