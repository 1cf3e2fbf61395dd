/** The cross-border path to Bedrock: which models China may call, and how. */
import { z } from 'zod';
import { catalogCapabilities, ChatCapabilities } from '../../bedrock/capabilities';
import { BEDROCK_CATALOG, CatalogModel, DEFAULT_BEDROCK_MODELS, isoDay, LIFECYCLES, lifecycleOn, MODEL_KINDS } from '../../bedrock/catalog';
import { list, flag, int, ipv4, globalRegion } from './primitives';

const CATALOG_NAMES = Object.keys(BEDROCK_CATALOG) as [string, ...string[]];
const isoDate = z.string().regex(/^\d{4}-\d{2}-\d{2}$/, { error: 'must be a date YYYY-MM-DD' });

/** A model of the cross-region path: a catalog name (`nova-pro`) or a full entry for anything else Bedrock serves. */
export const bedrockModelSchema = z.union([
  z.enum(CATALOG_NAMES, { error: `must be one of ${CATALOG_NAMES.join(', ')} or a full model entry` }),
  z
    .object({
      alias: z.string().regex(/^[a-z0-9][a-z0-9._-]{0,62}$/, { error: 'must be lower-case letters, digits, ".", "_" or "-"' }),
      modelId: z.string().regex(/^[a-z0-9-]+\.[A-Za-z0-9.:-]+$/, { error: 'must be a Bedrock model id such as "amazon.nova-lite-v1:0"' }),
      profile: z.enum(['us', 'global', 'none']).default('us'),
      destinationRegions: list(globalRegion, 1),
      /** What the model does: which gateway endpoint serves it. @default chat */
      kind: z.enum(MODEL_KINDS as [string, ...string[]], { error: `must be one of ${MODEL_KINDS.join(', ')}` }).default('chat'),
      /** @default active */
      lifecycle: z.enum(LIFECYCLES as [string, ...string[]], { error: `must be one of ${LIFECYCLES.join(', ')}` }).default('active'),
      /** Date Bedrock stops serving the model (YYYY-MM-DD): from then on synth fails unless bedrock.allowEndOfLife lists it. @default none */
      endOfLife: isoDate.optional(),
      /** Region the model is called in when global.region does not serve it. @default global.region */
      region: globalRegion.optional(),
      /** `effort`: the model takes reasoningConfig {type: enabled, maxReasoningEffort} (reasoning_effort); `none` refuses reasoning_effort. @default none */
      reasoning: z.enum(['none', 'effort']).default('none'),
      /** `native`: Converse outputConfig.textFormat serves response_format json_schema; `tool`: a forced tool does. @default tool */
      structuredOutput: z.enum(['tool', 'native']).default('tool'),
      /** With prompt caching on, a cache point also follows the tool definitions (models that cache tools, e.g. Claude). @default false */
      cacheTools: z.boolean().default(false),
    })
    .strict(),
], { error: `must be one of ${CATALOG_NAMES.join(', ')} or an object {alias, modelId, profile, destinationRegions, kind, lifecycle, reasoning?, structuredOutput?, cacheTools?}` });

export const bedrockSection = z
  .object({
    /** The cross-border allow-list: only these models are callable from China. */
    models: z.array(bedrockModelSchema).min(1, { error: 'must list at least one model' }).default(DEFAULT_BEDROCK_MODELS),
    /**
     * Aliases kept in `models` although past their end of life (calls fail; synth warns instead of
     * failing): for a deliberate, short transition only. @default []
     */
    allowEndOfLife: list(z.string().min(1)).default([]),
    /** Pins the global credential to these source IPs (the Network stack's NatEgressIps output). Empty: usable from anywhere. */
    sourceIps: list(ipv4).default([]),
    /**
     * Aliases of bedrock.models (catalog names or full entries) whose requests get Converse cache
     * points: after the system prompt, and after the tools where the model caches them. Cached prompt
     * tokens come back as usage.prompt_tokens_details.cached_tokens. @default [] (no caching)
     */
    promptCaching: list(z.string().min(1)).default([]),
    /** Bedrock model invocation logging (prompts and completions are customer data): off unless asked. */
    invocationLogging: flag(false),
    invocationLogRetentionDays: int(1, 3653, 'days invocation logs are kept').default(90),
    /** An existing guardrail the gateway applies to every call. */
    guardrail: z
      .object({
        id: z.string().regex(/^[a-z0-9]+$/, { error: 'must be a guardrail id such as "abc123xyz"' }),
        version: z.string().regex(/^(DRAFT|\d+)$/, { error: 'must be a version number or DRAFT' }),
      })
      .strict()
      .optional(),
  })
  .strict()
  .superRefine((section, ctx) => {
    const aliases = section.models.map((m) => (typeof m === 'string' ? m : m.alias));
    section.promptCaching.forEach((alias, i) => {
      if (!aliases.includes(alias)) ctx.addIssue({ code: 'custom', path: ['promptCaching', i], message: `names "${alias}", which is not in bedrock.models (${aliases.join(', ')})` });
    });
    checkLifecycles(section.models, section.allowEndOfLife, isoDay(new Date()), ctx);
  })
  .prefault({});

type ModelEntry = z.output<typeof bedrockModelSchema>;

/** A model past its end of life fails synth (its calls would fail at run time), unless allowEndOfLife keeps it knowingly. */
export function checkLifecycles(models: readonly ModelEntry[], allowEndOfLife: readonly string[], today: string, ctx: z.RefinementCtx): void {
  models.forEach((entry, i) => {
    const m = resolveBedrockModel(entry);
    const ended = lifecycleOn(m, today) === 'end-of-life';
    if (!ended || allowEndOfLife.includes(m.alias)) return;
    const replacement = m.kind === 'chat' ? ' (e.g. nova-2-lite)' : '';
    ctx.addIssue({
      code: 'custom',
      path: ['models', i],
      message: `"${m.alias}" (${m.modelId}) is past its end of life${m.endOfLife ? ` (${m.endOfLife})` : ''}: Bedrock no longer serves it. Remove it from bedrock.models${replacement}, or list it in bedrock.allowEndOfLife to keep it knowingly`,
    });
  });
  for (const alias of allowEndOfLife) {
    if (!models.some((m) => resolveBedrockModel(m).alias === alias)) {
      ctx.addIssue({ code: 'custom', path: ['allowEndOfLife'], message: `names "${alias}", which is not in bedrock.models; remove it` });
    }
  }
}

export interface BedrockModel extends CatalogModel, ChatCapabilities {
  /** What callers send as `model`. */
  readonly alias: string;
}

export function resolveBedrockModel(entry: ModelEntry): BedrockModel {
  return typeof entry === 'string' ? { alias: entry, ...BEDROCK_CATALOG[entry], ...catalogCapabilities(entry) } : (entry as BedrockModel);
}
