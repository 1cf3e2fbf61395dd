import { z } from 'zod';
import type { KitSections } from './schema';
import { selfHostedAliases } from './vllm-routes';

/**
 * Every alias the gateway routes for a config: Bedrock models, domestic providers' models and the
 * self-hosted models and adapters the vLLM stacks register. Guards partly-invalid shapes (cross-checks
 * run even when some fields failed).
 */
export function routedAliases(c: KitSections): Set<string> {
  const models = Array.isArray(c.models) ? c.models.filter((m) => m) : [];
  return new Set<string>([...remoteAliases(c), ...(c.routing?.registerVllm ? selfHostedAliases(models, { ec2: !!c.stacks?.vllmEc2, eks: !!c.stacks?.vllmEks }) : [])]);
}

/** Aliases of the models the gateway calls outside the kit's GPUs: Bedrock and domestic providers. */
function remoteAliases(c: KitSections): string[] {
  return [
    ...(Array.isArray(c.bedrock?.models) ? c.bedrock.models.map((m) => (typeof m === 'string' ? m : m?.alias)) : []),
    ...(Array.isArray(c.routing?.providers) ? c.routing.providers.flatMap((p) => (Array.isArray(p?.models) ? p.models.map((m) => m?.alias) : [])) : []),
  ];
}

/** The distillation section against the rest: stacks it builds on, routed teacher and judge, the base model, images, adapters. */
export function checkDistill(c: KitSections, ctx: z.RefinementCtx): void {
  const issue = (path: (string | number)[], message: string) => ctx.addIssue({ code: 'custom', path, message });
  const models = Array.isArray(c.models) ? c.models.filter((m) => m) : [];
  const d = c.distill;
  const aliases = routedAliases(c);
  const routedList = () => [...aliases].join(', ');

  // Adapters: each name is a model alias of its own, so it must be unique and clash with nothing routed otherwise.
  const taken = new Set([...remoteAliases(c), ...models.map((m) => m.servedName)]);
  const seen = new Set<string>();
  models.forEach((m, i) => {
    (Array.isArray(m.adapters) ? m.adapters : []).forEach((adapter, j) => {
      if (typeof adapter?.name !== 'string') return;
      if (seen.has(adapter.name)) issue(['models', i, 'adapters', j, 'name'], 'is used by another adapter; adapter names are model aliases and must be unique');
      else if (taken.has(adapter.name)) {
        issue(['models', i, 'adapters', j, 'name'], 'is already a model alias (a served model, Bedrock or provider alias); rename the adapter');
      }
      seen.add(adapter.name);
    });
    const count = Array.isArray(m.adapters) ? m.adapters.length : 0;
    if (typeof m.vllm?.maxLoras === 'number' && count > 0 && m.vllm.maxLoras > count) {
      issue(['models', i, 'vllm', 'maxLoras'], `must not exceed the number of adapters (${count}): vLLM reserves GPU memory for each`);
    }
  });
  // An adapter's automatic fallback is the teacher: it must be routed then (with stacks.distill on, the check below says so).
  if (seen.size > 0 && !c.stacks?.distill && c.routing?.registerVllm && (c.stacks?.vllmEc2 || c.stacks?.vllmEks) && typeof d?.teacher === 'string' && !aliases.has(d.teacher)) {
    issue(['distill', 'teacher'], `is every adapter's fallback (models[].adapters), but no route serves "${d.teacher}"; routed models are ${routedList()}; name one, or set routing.fallbacks for each adapter`);
  }

  if (!c.stacks?.distill || !d) return;
  const missing = (['network', 'modelStore', 'gateway'] as const).filter((s) => !c.stacks[s]);
  if (missing.length > 0) {
    issue(['stacks', 'distill'], `the pipeline runs in the kit's VPC, reads and writes the weights bucket and calls teacher and judge through the gateway; enable ${missing.map((s) => `stacks.${s}`).join(', ')} too`);
  }
  if (c.gateway?.authorization === 'API_KEY') {
    issue(['gateway', 'authorization'], 'must be IAM while stacks.distill is on: the step handler signs its gateway calls with its role (execute-api:Invoke on the chat route) and holds no API key');
  }
  for (const field of ['teacher', 'judge'] as const) {
    if (typeof d[field] === 'string' && !aliases.has(d[field])) issue(['distill', field], `names "${d[field]}", which no route of the gateway serves; routed models are ${routedList()}`);
  }
  const base = d.baseModel;
  if (typeof base === 'string' && !base.includes('/') && !models.some((m) => m.servedName === base)) {
    issue(['distill', 'baseModel'], `is not a served model (models[].servedName: ${models.map((m) => m.servedName).join(', ')}); name one, or a model id staged in the weights bucket as "org/model[@revision]"`);
  }
  const served = models.find((m) => m.servedName === (base ?? models[0]?.servedName));
  const rank = d.training?.loraR;
  if (served && typeof rank === 'number' && typeof served.vllm?.maxLoraRank === 'number' && rank > served.vllm.maxLoraRank) {
    issue(['distill', 'training', 'loraR'], `is above models[${models.indexOf(served)}].vllm.maxLoraRank (${served.vllm.maxLoraRank}): vLLM could not load the adapter on ${served.servedName}; lower it or raise maxLoraRank`);
  }
  const training = d.training;
  if (training?.image === 'mirror' && Array.isArray(c.modelStore?.repositories) && !c.modelStore.repositories.includes('training')) {
    issue(['modelStore', 'repositories'], 'must include "training" while distill.training.image is mirror: the training job pulls images.training from it');
  }
  if (training && Array.isArray(training.pipPackages) && training.pipPackages.length > 0 && training.networkIsolation) {
    issue(['distill', 'training', 'pipPackages'], 'need the network at job start, which distill.training.networkIsolation true takes away; set networkIsolation to false or bake the packages into a mirrored image');
  }
  if (typeof d.stepTimeoutSeconds === 'number' && typeof d.maxRunHours === 'number' && typeof training?.maxRuntimeHours === 'number' && training.maxRuntimeHours >= d.maxRunHours) {
    issue(['distill', 'maxRunHours'], `must be more than distill.training.maxRuntimeHours (${training.maxRuntimeHours}): the run also exports, asks the teacher and evaluates`);
  }
}
