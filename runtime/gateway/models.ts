import { GatewayError } from './errors';
import { OpenAiUpstream } from './openai-upstream';
import { GatewayRuntimeConfig } from './runtime-config';

export type ModelEntry = GatewayRuntimeConfig['models'][number];

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
      ...(m.route === 'bedrock' && { bedrock_model_id: m.modelId }),
    }));
  }
}
