/**
 * Amazon Nova models the cross-region path knows by name. In us-east-1 they are called through US
 * cross-region inference profiles (`us.<model id>`), which route to the profile's destination
 * regions: IAM must allow the profile and the foundation model in every destination region.
 */
export interface CatalogModel {
  readonly modelId: string;
  /** `us` / `global` profile prefix, or `none` to call the foundation model directly. */
  readonly profile: 'us' | 'global' | 'none';
  readonly destinationRegions: readonly string[];
  readonly lifecycle: 'active' | 'legacy';
  readonly note?: string;
}

const US_REGIONS = ['us-east-1', 'us-east-2', 'us-west-2'];

export const NOVA_CATALOG: Readonly<Record<string, CatalogModel>> = {
  'nova-micro': { modelId: 'amazon.nova-micro-v1:0', profile: 'us', destinationRegions: US_REGIONS, lifecycle: 'active' },
  'nova-lite': { modelId: 'amazon.nova-lite-v1:0', profile: 'us', destinationRegions: US_REGIONS, lifecycle: 'active' },
  'nova-pro': { modelId: 'amazon.nova-pro-v1:0', profile: 'us', destinationRegions: US_REGIONS, lifecycle: 'active' },
  'nova-2-lite': { modelId: 'amazon.nova-2-lite-v1:0', profile: 'us', destinationRegions: US_REGIONS, lifecycle: 'active' },
  'nova-premier': {
    modelId: 'amazon.nova-premier-v1:0',
    profile: 'us',
    destinationRegions: US_REGIONS,
    lifecycle: 'legacy',
    note: 'Nova Premier v1 is Legacy with end of life in September 2026: calls may already fail. Prefer nova-2-lite or nova-pro.',
  },
};

export const DEFAULT_BEDROCK_MODELS = ['nova-micro', 'nova-lite', 'nova-pro', 'nova-2-lite'];

/** The id the gateway calls: the inference profile id, or the model id without a profile. */
export function invocationId(model: { modelId: string; profile: string }): string {
  return model.profile === 'none' ? model.modelId : `${model.profile}.${model.modelId}`;
}
