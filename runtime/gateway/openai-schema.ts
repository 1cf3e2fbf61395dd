import { z } from 'zod';
import { badRequest, GatewayError } from './errors';
import { ownEntry } from './json';
import type { ModelEntry } from './models';
import { structuredOutputOf, StructuredOutput } from './structured-output';

/**
 * What the gateway itself reads from a chat completion request, whatever the route. Everything
 * else goes to an OpenAI-compatible upstream as sent (n, logprobs, response_format, seed, audio and
 * video parts, vLLM's guided decoding...): the upstream judges what it supports.
 */
export const RoutableRequestSchema = z.looseObject({
  model: z.string().min(1),
  messages: z.array(z.looseObject({ role: z.string().min(1) })).min(1),
  stream: z.boolean().nullable().optional(),
  stream_options: z.looseObject({ include_usage: z.boolean().nullable().optional() }).nullable().optional(),
});

export type RoutableRequest = z.output<typeof RoutableRequestSchema>;

/** The subset of OpenAI's chat completion request the gateway maps onto Converse (see bedrockRequest for the fields outside it). */
const textPart = z.object({ type: z.literal('text'), text: z.string() });
const imagePart = z.object({
  type: z.literal('image_url'),
  image_url: z.object({ url: z.string(), detail: z.string().optional() }),
});
const contentParts = z.array(z.discriminatedUnion('type', [textPart, imagePart]));

const toolCall = z.object({
  id: z.string(),
  type: z.literal('function'),
  function: z.object({ name: z.string(), arguments: z.string() }),
});

export const MessageSchema = z.discriminatedUnion('role', [
  z.object({ role: z.literal('system'), content: z.union([z.string(), z.array(textPart)]) }),
  z.object({ role: z.literal('developer'), content: z.union([z.string(), z.array(textPart)]) }),
  z.object({ role: z.literal('user'), content: z.union([z.string(), contentParts]) }),
  z.object({
    role: z.literal('assistant'),
    content: z.union([z.string(), z.array(textPart), z.null()]).optional(),
    tool_calls: z.array(toolCall).optional(),
    /**
     * The reasoning an earlier answer came with, as callers echo it back (vLLM's and DeepSeek's
     * field). Accepted and not sent: Converse replays reasoning only as a signed reasoningContent
     * block, and the signature has no place in OpenAI's message shape.
     */
    reasoning_content: z.string().nullable().optional(),
  }),
  z.object({ role: z.literal('tool'), tool_call_id: z.string(), content: z.union([z.string(), z.array(textPart)]) }),
]);

/** OpenAI's `response_format`: `json_schema.name` follows OpenAI's (and Converse's tool name) pattern. */
const ResponseFormatSchema = z.discriminatedUnion('type', [
  z.object({ type: z.literal('text') }),
  z.object({ type: z.literal('json_object') }),
  z.object({
    type: z.literal('json_schema'),
    json_schema: z.object({
      name: z.string().regex(/^[a-zA-Z0-9_-]{1,64}$/, { error: 'must be 1-64 letters, digits, "_" or "-"' }),
      description: z.string().optional(),
      schema: z.record(z.string(), z.unknown()).optional(),
      strict: z.boolean().nullable().optional(),
    }),
  }),
]);

export const ChatCompletionRequestSchema = z.object({
  model: z.string().min(1),
  messages: z.array(MessageSchema).min(1),
  temperature: z.number().min(0).max(2).optional(),
  top_p: z.number().min(0).max(1).optional(),
  max_tokens: z.number().int().positive().optional(),
  max_completion_tokens: z.number().int().positive().optional(),
  stop: z.union([z.string(), z.array(z.string()).max(4)]).optional(),
  n: z.literal(1, { error: 'only n=1 is supported' }).optional(),
  stream: z.boolean().optional(),
  stream_options: z.object({ include_usage: z.boolean().optional() }).nullable().optional(),
  tools: z
    .array(
      z.object({
        type: z.literal('function'),
        function: z.object({
          name: z.string().min(1),
          description: z.string().optional(),
          parameters: z.record(z.string(), z.unknown()).optional(),
          strict: z.boolean().nullable().optional(),
        }),
      }),
    )
    .optional(),
  tool_choice: z
    .union([z.enum(['none', 'auto', 'required']), z.object({ type: z.literal('function'), function: z.object({ name: z.string() }) })])
    .optional(),
  response_format: ResponseFormatSchema.optional(),
  /** Checked against the model's reasoning support (reasoningEffortOf) before the request is mapped. */
  reasoning_effort: z.string().optional(),
  /** Mapped onto Converse's serviceTier (serviceTierOf). */
  service_tier: z.string().optional(),
});

export type ChatCompletionRequest = z.output<typeof ChatCompletionRequestSchema>;
export type ChatMessage = z.output<typeof MessageSchema>;

/** Fields Converse honours (ChatCompletionRequestSchema maps them). */
const HONOURED = new Set([
  'model',
  'messages',
  'temperature',
  'top_p',
  'max_tokens',
  'max_completion_tokens',
  'stop',
  'stream',
  'stream_options',
  'tools',
  'tool_choice',
  'response_format',
  'reasoning_effort',
  'service_tier',
]);

/** Fields that label or route a request without changing its answer: accepted and not forwarded. */
const NO_EFFECT_ON_ANSWER = new Set(['user', 'metadata', 'prompt_cache_key', 'safety_identifier']);

/** Fields Converse has no equivalent for, accepted only at the value that asks for nothing (null always does). */
const NEUTRAL_ONLY: Record<string, { neutral: (value: unknown) => boolean; why: string }> = {
  n: { neutral: (v) => v === 1, why: 'it returns one choice (only n=1 is supported)' },
  logprobs: { neutral: (v) => v === false, why: 'Converse returns no log probabilities' },
  top_logprobs: { neutral: (v) => v === 0, why: 'Converse returns no log probabilities' },
  frequency_penalty: { neutral: (v) => v === 0, why: 'Converse has no frequency penalty' },
  presence_penalty: { neutral: (v) => v === 0, why: 'Converse has no presence penalty' },
  logit_bias: { neutral: (v) => typeof v === 'object' && v !== null && Object.keys(v).length === 0, why: 'Converse has no logit bias' },
  parallel_tool_calls: { neutral: (v) => v === true, why: 'Converse cannot forbid parallel tool calls' },
  modalities: { neutral: (v) => Array.isArray(v) && v.length === 1 && v[0] === 'text', why: 'Converse answers in text' },
  store: { neutral: (v) => v === false, why: 'the gateway stores no completions' },
};

const PART_TYPES: Record<string, readonly string[]> = { user: ['text', 'image_url'], system: ['text'], developer: ['text'], assistant: ['text'], tool: ['text'] };

/** A request the Bedrock route can serve, with what the gateway does on top of Converse for it. */
export interface BedrockChatRequest {
  readonly body: ChatCompletionRequest;
  /** Converse reasoning effort (reasoningConfig.maxReasoningEffort); undefined: reasoning off. */
  readonly reasoningEffort?: 'low' | 'medium' | 'high';
  /** How `response_format` is honoured; undefined: plain text. */
  readonly structuredOutput?: StructuredOutput;
  /** Converse serviceTier for OpenAI's `flex` and `priority`; undefined: the default tier. */
  readonly serviceTier?: 'flex' | 'priority';
}

/**
 * The request as the Bedrock route of `model` can serve it, or a 400 naming the parameter and the
 * route: a parameter Converse (or this model) cannot honour is refused, never dropped in silence.
 */
export function bedrockRequest(raw: RoutableRequest, model: ModelEntry): BedrockChatRequest {
  const route = `the Bedrock route of "${model.alias}"`;
  for (const [field, value] of Object.entries(raw)) {
    if (HONOURED.has(field) || NO_EFFECT_ON_ANSWER.has(field) || value === null || value === undefined) continue;
    const rule = ownEntry(NEUTRAL_ONLY, field);
    if (!rule) throw new GatewayError(400, 'invalid_request_error', `"${field}" is not supported on ${route}; remove it or choose a model served by vLLM or a provider.`, 'unsupported_parameter', field);
    if (!rule.neutral(value)) throw new GatewayError(400, 'invalid_request_error', `"${field}": ${JSON.stringify(value)} cannot be honoured on ${route}: ${rule.why}.`, 'unsupported_value', field);
  }
  raw.messages.forEach((message, i) => {
    if (!Array.isArray(message.content)) return;
    const allowed = ownEntry(PART_TYPES, message.role) ?? [];
    (message.content as unknown[]).forEach((part, j) => {
      const type = (part as { type?: unknown } | null)?.type;
      if (typeof type === 'string' && !allowed.includes(type)) {
        throw badRequest(`"${type}" parts in ${message.role} messages are not supported on ${route} (it takes ${allowed.join(' and ')}).`, `messages[${i}].content[${j}]`, 'unsupported_value');
      }
    });
  });
  // null asks for OpenAI's default, as leaving the field out does.
  const parsed = ChatCompletionRequestSchema.safeParse(Object.fromEntries(Object.entries(raw).filter(([, value]) => value !== null)));
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const param = issue.path.join('.') || null;
    throw badRequest(`Invalid request for ${route}: ${param ?? 'body'}: ${issue.message}`, param);
  }
  const body = parsed.data;
  return {
    body,
    reasoningEffort: reasoningEffortOf(body.reasoning_effort, model, route),
    structuredOutput: structuredOutputOf(body, model, route),
    serviceTier: serviceTierOf(body.service_tier, route),
  };
}

/**
 * OpenAI's service tiers -> Converse's: `flex` and `priority` exist on both (Bedrock refuses a tier
 * the model does not offer, and that 400 reaches the caller); `auto` and `default` are the default
 * tier; `scale` has no Bedrock equivalent.
 */
function serviceTierOf(tier: string | undefined, route: string): 'flex' | 'priority' | undefined {
  if (tier === undefined || tier === 'auto' || tier === 'default') return undefined;
  if (tier === 'flex' || tier === 'priority') return tier;
  throw new GatewayError(400, 'invalid_request_error', `"service_tier": ${JSON.stringify(tier)} cannot be honoured on ${route}: it takes auto, default, flex or priority.`, 'unsupported_value', 'service_tier');
}

/** OpenAI's efforts -> Converse's (low, medium, high); `minimal` is served at the lowest effort Converse has. */
const CONVERSE_EFFORT: Record<string, 'low' | 'medium' | 'high' | undefined> = { none: undefined, minimal: 'low', low: 'low', medium: 'medium', high: 'high' };

/**
 * The effort to ask Converse for. A model without a reasoning setting refuses every effort but
 * `none` (reasoning off is what it does anyway): answering without the reasoning asked for would
 * be a silent drop.
 */
function reasoningEffortOf(effort: string | undefined, model: ModelEntry, route: string): 'low' | 'medium' | 'high' | undefined {
  if (effort === undefined || effort === 'none') return undefined;
  if (!Object.hasOwn(CONVERSE_EFFORT, effort)) {
    throw new GatewayError(400, 'invalid_request_error', `"reasoning_effort": ${JSON.stringify(effort)} cannot be honoured on ${route}: it takes none, minimal, low, medium or high.`, 'unsupported_value', 'reasoning_effort');
  }
  if ((model.reasoning ?? 'none') === 'none') {
    throw new GatewayError(
      400,
      'invalid_request_error',
      `"reasoning_effort": ${JSON.stringify(effort)} cannot be honoured on ${route}: the model has no reasoning setting; remove it (or send "none") or choose a reasoning model.`,
      'unsupported_value',
      'reasoning_effort',
    );
  }
  return CONVERSE_EFFORT[effort];
}
