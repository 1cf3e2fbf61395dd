/** The cross-border path to Bedrock: which models China may call, and how. */
import { z } from 'zod';
import { catalogCapabilities, ChatCapabilities } from '../../bedrock/capabilities';
import { CatalogModel, DEFAULT_BEDROCK_MODELS, NOVA_CATALOG } from '../../bedrock/catalog';
import { list, flag, int, ipv4, globalRegion } from './primitives';


/** A model of the cross-region path: a catalog name (`nova-pro`) or a full entry for anything else Bedrock serves. */
export const bedrockModelSchema = z.union([
  z.enum(Object.keys(NOVA_CATALOG) as [string, ...string[]], { error: `must be one of ${Object.keys(NOVA_CATALOG).join(', ')} or a full model entry` }),
  z
    .object({
      alias: z.string().regex(/^[a-z0-9][a-z0-9._-]{0,62}$/, { error: 'must be lower-case letters, digits, ".", "_" or "-"' }),
      modelId: z.string().regex(/^[a-z0-9-]+\.[A-Za-z0-9.:-]+$/, { error: 'must be a Bedrock model id such as "amazon.nova-lite-v1:0"' }),
      profile: z.enum(['us', 'global', 'none']).default('us'),
      destinationRegions: list(globalRegion, 1),
      lifecycle: z.enum(['active', 'legacy']).default('active'),
      /** `effort`: the model takes reasoningConfig {type: enabled, maxReasoningEffort} (reasoning_effort); `none` refuses reasoning_effort. @default none */
      reasoning: z.enum(['none', 'effort']).default('none'),
      /** `native`: Converse outputConfig.textFormat serves response_format json_schema; `tool`: a forced tool does. @default tool */
      structuredOutput: z.enum(['tool', 'native']).default('tool'),
      /** With prompt caching on, a cache point also follows the tool definitions (models that cache tools, e.g. Claude). @default false */
      cacheTools: z.boolean().default(false),
    })
    .strict(),
], { error: `must be one of ${Object.keys(NOVA_CATALOG).join(', ')} or an object {alias, modelId, profile, destinationRegions, reasoning?, structuredOutput?, cacheTools?}` });

export const bedrockSection = z
  .object({
    /** The cross-border allow-list: only these models are callable from China. */
    models: z.array(bedrockModelSchema).min(1, { error: 'must list at least one model' }).default(DEFAULT_BEDROCK_MODELS),
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
  })
  .prefault({});

export interface BedrockModel extends CatalogModel, ChatCapabilities {
  /** What callers send as `model`. */
  readonly alias: string;
}

export function resolveBedrockModel(entry: string | (Omit<CatalogModel, 'note'> & ChatCapabilities & { alias: string })): BedrockModel {
  return typeof entry === 'string' ? { alias: entry, ...NOVA_CATALOG[entry], ...catalogCapabilities(entry) } : entry;
}
