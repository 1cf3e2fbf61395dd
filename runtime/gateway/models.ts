import { GatewayError } from './errors';
import { OpenAiUpstream } from './openai-upstream';
import { GatewayRuntimeConfig } from './runtime-config';

export type ModelEntry = GatewayRuntimeConfig['models'][number];
export type ModelKind = ModelEntry['kind'];

/** How an error names what a kind of model does, and the endpoint that serves it. */
const KINDS: Record<ModelKind, { does: string; models: string; endpoint: string }> = {
  chat: { does: 'chat', models: 'chat models', endpoint: '/v1/chat/completions' },
  embed: { does: 'embed', models: 'embedding models', endpoint: '/v1/embeddings' },
  rerank: { does: 'rerank', models: 'rerank models', endpoint: '/v1/rerank' },
  image: { does: 'generate images', models: 'image models', endpoint: 'none' },
};

/** The allow-list: every model the gateway serves, by alias (and Bedrock models by their id too). */
export class ModelCatalog {
  private readonly byName = new Map<string, ModelEntry>();

  constructor(
    private readonly config: GatewayRuntimeConfig,
    private readonly upstreams: ReadonlyMap<string, OpenAiUpstream>,
  ) {
    for (const m of config.models) {
      if (m.route !== 'bedrock' && !upstreams.has(m.route)) throw new Error(`model ${m.alias} names route "${m.route}", which is not among the upstreams`);
      this.byName.set(m.alias, m);
      if (m.route === 'bedrock') this.byName.set(m.modelId, m);
    }
  }

  resolve(name: string, param: string | null): ModelEntry {
    const model = this.byName.get(name);
    if (!model) {
      throw new GatewayError(
        404,
        'invalid_request_error',
        `The model "${name}" is not served by this gateway (cross-border allow-list). Available: ${this.config.models.map((m) => m.alias).join(', ')}.`,
        'model_not_found',
        param,
      );
    }
    return model;
  }

  /**
   * Refuses (400) a model that does not do what the endpoint needs, naming the models that do: an
   * embedding request to a chat model is the caller's mistake, not an upstream failure.
   */
  requireKind(model: ModelEntry, kind: ModelKind, param: string | null): void {
    if (model.kind === kind) return;
    const fitting = this.config.models.filter((m) => m.kind === kind).map((m) => m.alias);
    throw new GatewayError(
      400,
      'invalid_request_error',
      `The model "${model.alias}" does not ${KINDS[kind].does} (it is a ${model.kind} model: ${KINDS[model.kind].endpoint}); ${KINDS[kind].models} here are: ${fitting.join(', ') || 'none (none is configured)'}.`,
      'model_not_supported',
      param,
    );
  }

  /** The model and the ones configured to take over when it fails (unknown aliases skipped). */
  withFallbacks(model: ModelEntry): ModelEntry[] {
    return [model, ...(this.config.fallbacks[model.alias] ?? []).map((alias) => this.byName.get(alias)).filter((m): m is ModelEntry => m !== undefined)];
  }

  leavesChina(m: ModelEntry): boolean {
    return m.route === 'bedrock' ? this.config.bedrockCrossBorder : this.upstreams.get(m.route)!.config.crossBorder;
  }

  routeKind(m: ModelEntry): string {
    return m.route === 'bedrock' ? 'bedrock' : this.upstreams.get(m.route)!.config.kind;
  }

  upstream(m: ModelEntry): OpenAiUpstream {
    return this.upstreams.get(m.route)!;
  }

  /** GET /v1/models entries. */
  entries() {
    return this.config.models.map((m) => ({
      id: m.alias,
      object: 'model',
      created: m.created,
      owned_by: m.route === 'bedrock' ? 'amazon-bedrock' : m.route,
      route: this.routeKind(m),
      cross_border: this.leavesChina(m),
      /** chat, embed or rerank: which endpoint serves the model. */
      kind: m.kind,
      ...(m.route === 'bedrock' && { bedrock_model_id: m.modelId }),
    }));
  }
}
