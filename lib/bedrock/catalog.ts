/**
 * Bedrock models the cross-region path knows by name (late 2026). Chat models in us-east-1 are called
 * through US or global cross-region inference profiles (`us.<model id>`), which route to the profile's
 * destination regions: IAM must allow the profile and the foundation model in every destination
 * region. Embedding and rerank models are called in one region, without a profile.
 */

/**
 * What a model does, and so which endpoint serves it: `chat` (/v1/chat/completions, Converse),
 * `embed` (/v1/embeddings, InvokeModel), `rerank` (/v1/rerank, the Rerank API), `image` (image
 * generation: no gateway endpoint serves it; listed so the lifecycle check can name it).
 */
export type ModelKind = 'chat' | 'embed' | 'rerank' | 'image';
export const MODEL_KINDS: readonly ModelKind[] = ['chat', 'embed', 'rerank', 'image'];

/**
 * Bedrock's model lifecycle: `preview` (may change or be withdrawn), `active`, `legacy` (an end-of-life
 * date is announced), `end-of-life` (calls fail). A legacy model whose `endOfLife` date has passed is
 * end of life too.
 */
export type Lifecycle = 'active' | 'preview' | 'legacy' | 'end-of-life';
export const LIFECYCLES: readonly Lifecycle[] = ['active', 'preview', 'legacy', 'end-of-life'];

export interface CatalogModel {
  readonly modelId: string;
  /** `us` / `global` profile prefix, or `none` to call the foundation model directly. */
  readonly profile: 'us' | 'global' | 'none';
  readonly destinationRegions: readonly string[];
  /** @default 'chat' */
  readonly kind: ModelKind;
  readonly lifecycle: Lifecycle;
  /** ISO date (YYYY-MM-DD) from which Bedrock no longer serves the model. */
  readonly endOfLife?: string;
  /**
   * The region the model is called in when the home region (global.region) does not serve it:
   * Amazon Rerank 1.0 is not offered in us-east-1. @default the home region
   */
  readonly region?: string;
  readonly note?: string;
}

const US_REGIONS = ['us-east-1', 'us-east-2', 'us-west-2'];

export const BEDROCK_CATALOG: Readonly<Record<string, CatalogModel>> = {
  'nova-micro': { modelId: 'amazon.nova-micro-v1:0', profile: 'us', destinationRegions: US_REGIONS, kind: 'chat', lifecycle: 'active' },
  'nova-lite': { modelId: 'amazon.nova-lite-v1:0', profile: 'us', destinationRegions: US_REGIONS, kind: 'chat', lifecycle: 'active' },
  'nova-pro': { modelId: 'amazon.nova-pro-v1:0', profile: 'us', destinationRegions: US_REGIONS, kind: 'chat', lifecycle: 'active' },
  'nova-2-lite': { modelId: 'amazon.nova-2-lite-v1:0', profile: 'us', destinationRegions: US_REGIONS, kind: 'chat', lifecycle: 'active' },
  'nova-2-lite-global': {
    modelId: 'amazon.nova-2-lite-v1:0',
    profile: 'global',
    destinationRegions: US_REGIONS,
    kind: 'chat',
    lifecycle: 'active',
    note: 'The global profile may serve the request in any commercial region, not only the US ones.',
  },
  'nova-2-pro': {
    modelId: 'amazon.nova-2-pro-preview-v1:0',
    profile: 'global',
    destinationRegions: US_REGIONS,
    kind: 'chat',
    lifecycle: 'preview',
    note: 'Nova 2 Pro is in preview (access on request; the model id may change at general availability: check the Bedrock console).',
  },
  'nova-2-omni': {
    modelId: 'amazon.nova-2-omni-preview-v1:0',
    profile: 'global',
    destinationRegions: US_REGIONS,
    kind: 'chat',
    lifecycle: 'preview',
    note: 'Nova 2 Omni is in preview (access on request; the model id may change at general availability: check the Bedrock console).',
  },
  'nova-premier': {
    modelId: 'amazon.nova-premier-v1:0',
    profile: 'us',
    destinationRegions: US_REGIONS,
    kind: 'chat',
    lifecycle: 'legacy',
    endOfLife: '2026-09-14',
    note: 'Nova Premier v1 reached end of life on 2026-09-14: calls fail. Use nova-2-lite (or nova-pro).',
  },
  'nova-canvas': {
    modelId: 'amazon.nova-canvas-v1:0',
    profile: 'none',
    destinationRegions: ['us-east-1'],
    kind: 'image',
    lifecycle: 'legacy',
    endOfLife: '2026-09-30',
    note: 'Nova Canvas v1 reached end of life on 2026-09-30: calls fail. The gateway serves no image generation.',
  },
  'titan-embed-v2': { modelId: 'amazon.titan-embed-text-v2:0', profile: 'none', destinationRegions: ['us-east-1'], kind: 'embed', lifecycle: 'active' },
  'nova-2-embed': { modelId: 'amazon.nova-2-multimodal-embeddings-v1:0', profile: 'none', destinationRegions: ['us-east-1'], kind: 'embed', lifecycle: 'active' },
  'cohere-embed-multilingual-v3': { modelId: 'cohere.embed-multilingual-v3', profile: 'none', destinationRegions: ['us-east-1'], kind: 'embed', lifecycle: 'active' },
  'cohere-rerank-3-5': { modelId: 'cohere.rerank-v3-5:0', profile: 'none', destinationRegions: ['us-east-1'], kind: 'rerank', lifecycle: 'active' },
  'amazon-rerank': {
    modelId: 'amazon.rerank-v1:0',
    profile: 'none',
    destinationRegions: ['us-west-2'],
    kind: 'rerank',
    lifecycle: 'active',
    region: 'us-west-2',
    note: 'Amazon Rerank 1.0 is not offered in us-east-1: the gateway calls it in us-west-2.',
  },
};

/** @deprecated the catalog holds more than Nova now: use BEDROCK_CATALOG. */
export const NOVA_CATALOG = BEDROCK_CATALOG;

export const DEFAULT_BEDROCK_MODELS = ['nova-micro', 'nova-lite', 'nova-pro', 'nova-2-lite'];

/** The id the gateway calls: the inference profile id, or the model id without a profile. */
export function invocationId(model: { modelId: string; profile: string }): string {
  return model.profile === 'none' ? model.modelId : `${model.profile}.${model.modelId}`;
}

/** Today as YYYY-MM-DD (UTC): end-of-life dates compare as strings. */
export const isoDay = (date: Date) => date.toISOString().slice(0, 10);

/** The lifecycle that holds on `today`: a legacy (or any) model past its end-of-life date is end of life. */
export function lifecycleOn(model: Pick<CatalogModel, 'lifecycle' | 'endOfLife'>, today: string): Lifecycle {
  if (model.endOfLife !== undefined && model.endOfLife <= today) return 'end-of-life';
  return model.lifecycle;
}
