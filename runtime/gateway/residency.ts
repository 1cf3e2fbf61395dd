import { badRequest, GatewayError } from './errors';
import { ModelCatalog, ModelEntry, ModelKind } from './models';
import { GatewayRuntimeConfig } from './runtime-config';
import { GatewayRequest } from './types';

/** The per-request header that asks for residency; it can only tighten the configured policy. */
export const RESIDENCY_HEADER = 'x-cnllm-residency';

declare const clearedBrand: unique symbol;
/** A model the residency gate let through for one request: the only kind the upstream callers accept. */
export type ClearedModel = ModelEntry & { readonly [clearedBrand]: true };

const clearedModels = new WeakSet<object>();

/**
 * Data residency is a promise to the caller: a request that must stay in China never opens a
 * connection that leaves it. Every route that calls a model gets it from here (the gate resolves
 * the name too), and the Bedrock invoker refuses a model that did not pass (assertCleared).
 */
export class ResidencyGate {
  constructor(
    private readonly config: GatewayRuntimeConfig,
    private readonly models: ModelCatalog,
  ) {}

  /**
   * The model named in the request and, when asked, its fallbacks, minus every route this request
   * may not take. Refuses (403 residency_violation) when none is left.
   */
  clear(req: GatewayRequest, name: string, param: string, opts: { fallbacks: boolean; kind?: ModelKind }): ClearedModel[] {
    const model = this.models.resolve(name, param);
    // What the endpoint serves: the model must do it (400 otherwise), and a fallback that does not is skipped.
    if (opts.kind) this.models.requireKind(model, opts.kind, param);
    const chinaOnly = this.chinaOnly(req);
    const chain = (opts.fallbacks ? this.models.withFallbacks(model) : [model]).filter((m) => !opts.kind || m.kind === opts.kind);
    const allowed = chain.filter((m) => !chinaOnly || !this.models.leavesChina(m));
    if (allowed.length === 0) {
      throw new GatewayError(
        403,
        'invalid_request_error',
        `"${model.alias}" is served outside mainland China and this request must stay in China (residency); choose a model served in China.`,
        'residency_violation',
        param,
      );
    }
    // A copy per request: a cleared model cannot leak into another request's decision.
    return allowed.map((m) => {
      const cleared = { ...m } as ClearedModel;
      clearedModels.add(cleared);
      return cleared;
    });
  }

  private chinaOnly(req: GatewayRequest): boolean {
    const asked = req.headers[RESIDENCY_HEADER]?.trim().toLowerCase();
    if (asked !== undefined && asked !== '' && asked !== 'any' && asked !== 'china-only') {
      throw badRequest(`${RESIDENCY_HEADER} must be "china-only" or "any", not "${asked.slice(0, 40)}".`, RESIDENCY_HEADER, 'invalid_residency');
    }
    return this.config.residency === 'china-only' || asked === 'china-only';
  }
}

/** The last line of defence before a connection opens: a model that skipped the gate is a gateway bug, never a call. */
export function assertCleared(model: ModelEntry): asserts model is ClearedModel {
  if (!clearedModels.has(model)) throw new GatewayError(500, 'api_error', `The gateway tried to call "${model.alias}" without a residency decision; the call was not made.`, 'residency_not_checked');
}
