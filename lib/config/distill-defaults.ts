import type { KitSections } from './schema';
import { adapterRoutes } from './vllm-routes';

/** The distill section with the defaults that depend on other sections filled in. */
export function resolveDistill(c: KitSections) {
  const baseModel = c.distill.baseModel ?? c.models[0].servedName;
  const adapterName = c.distill.adapterName ?? `${baseModel.replace(/@.*$/, '').replace(/^.*\//, '').toLowerCase().replace(/[^a-z0-9_-]/g, '-')}-distilled`.slice(0, 63);
  return { ...c.distill, baseModel, adapterName, studentAlias: c.distill.studentAlias ?? adapterName };
}

/** Where the student's base model lies in the weights bucket: a served model's staged revision, or a staged id `org/model[@revision]`. */
export function distillBaseModel(config: { distill: { baseModel: string }; models: readonly { servedName: string; id: string; revision: string }[] }): { id: string; revision: string; servedName?: string } {
  const served = config.models.find((m) => m.servedName === config.distill.baseModel);
  if (served) return { id: served.id, revision: served.revision, servedName: served.servedName };
  const [id, revision = 'master'] = config.distill.baseModel.split('@');
  return { id, revision };
}

/**
 * Every routed adapter falls back to the distillation's teacher: when the GPU service is down or
 * overloaded before the first byte, callers get the teacher's answer instead of an error.
 * routing.fallbacks entries for an adapter's alias replace this.
 */
export function adapterFallbacks(c: KitSections): Record<string, string[]> {
  if (!c.routing.registerVllm) return {};
  const routes = adapterRoutes(c.models, { ec2: c.stacks.vllmEc2, eks: c.stacks.vllmEks });
  return Object.fromEntries(routes.map((r) => [r.alias, [c.distill.teacher]]));
}
