import { z } from 'zod';
import { bedrockEmbeddings } from './bedrock-embeddings';
import { badRequest, fromUpstream, GatewayError } from './errors';
import { Call, GatewayContext } from './handler-context';
import { withModel, usageOf } from './passthrough';
import { ClearedModel } from './residency';
import { parseJsonBody } from './request-body';
import { sendJson } from './responses';
import { chunks, mapBounded, partOf, upstreamJson } from './upstream-json';

/** The codes of a route's refusal of what the request asks (not of the request itself): a fallback with them is skipped. */
export const ROUTE_CANNOT_SERVE: ReadonlySet<string> = new Set(['unsupported_input', 'unsupported_dimensions', 'unsupported_parameter']);

/** OpenAI's own limit on inputs per embeddings request; each route splits further where its upstream takes fewer. */
export const MAX_EMBEDDING_INPUTS = 2048;

const tokenArray = z.array(z.number().int().min(0)).min(1, { error: 'a token array must not be empty' });

/**
 * OpenAI's embeddings request. Other fields go to an OpenAI-compatible upstream as sent; `input_type`
 * (search_document, search_query, classification, clustering) is the kit's extension for Bedrock's
 * Cohere and Nova models, which embed queries and documents differently.
 */
export const EmbeddingsRequestSchema = z.looseObject({
  model: z.string().min(1),
  input: z.union([z.string(), z.array(z.string()), tokenArray, z.array(tokenArray)], {
    error: 'must be a string, an array of strings, an array of token ids, or an array of token id arrays',
  }),
  encoding_format: z.enum(['float', 'base64'], { error: 'must be "float" or "base64"' }).optional(),
  dimensions: z.number({ error: 'must be a whole number' }).int({ error: 'must be a whole number' }).min(1, { error: 'must be at least 1' }).optional(),
  user: z.string().optional(),
  input_type: z.enum(['search_document', 'search_query', 'classification', 'clustering'], { error: 'must be search_document, search_query, classification or clustering' }).optional(),
});
export type EmbeddingsRequest = z.output<typeof EmbeddingsRequestSchema>;

/** The inputs as a list: texts, or token id arrays (routes that take them). */
export type EmbeddingInputs = { readonly texts: string[] } | { readonly tokens: number[][] };

function inputsOf(input: EmbeddingsRequest['input']): EmbeddingInputs {
  if (typeof input === 'string') return { texts: [input] };
  if (input.length === 0) throw badRequest('Invalid request: input: must not be an empty array; send at least one text.', 'input', 'empty_input');
  if (typeof input[0] === 'number') return { tokens: [input as number[]] };
  if (Array.isArray(input[0])) return { tokens: input as number[][] };
  return { texts: input as string[] };
}

/** POST /v1/embeddings: validate, pick the route (and fallbacks), embed on Bedrock or pass to an upstream. */
export async function embeddings(ctx: GatewayContext, call: Call) {
  const { req, sink, outcome } = call;
  const parsed = EmbeddingsRequestSchema.safeParse(parseJsonBody(req, ctx.config.maxBodyBytes));
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const param = issue.path.join('.') || null;
    throw badRequest(`Invalid request: ${param ?? 'body'}: ${issue.message}`, param, 'invalid_value');
  }
  const body = parsed.data;
  const inputs = inputsOf(body.input);
  const count = 'texts' in inputs ? inputs.texts.length : inputs.tokens.length;
  if (count > MAX_EMBEDDING_INPUTS) throw badRequest(`Invalid request: input: ${count} inputs; at most ${MAX_EMBEDDING_INPUTS} per request (split the batch).`, 'input', 'too_many_inputs');
  if ('texts' in inputs) {
    const empty = inputs.texts.findIndex((t) => t.length === 0);
    if (empty >= 0) throw badRequest(`Invalid request: input${typeof body.input === 'string' ? '' : `.${empty}`}: must not be empty; every input needs text to embed.`, typeof body.input === 'string' ? 'input' : `input.${empty}`, 'empty_input');
  }
  outcome.model = ctx.models.resolve(body.model, 'model').alias;
  const candidates = ctx.residency.clear(req, body.model, 'model', { fallbacks: true, kind: 'embed' });
  if (ctx.config.logContent) outcome.prompt = body.input;

  let failure: unknown;
  for (const [i, candidate] of candidates.entries()) {
    try {
      outcome.servedBy = candidate.route;
      outcome.fallbacks = i;
      const served = candidate.route === 'bedrock' ? await bedrockEmbeddings(ctx, call, body, inputs, candidate) : await upstreamEmbeddings(ctx, call, body, count, candidate);
      outcome.inputTokens = served.inputTokens;
      return sendJson(sink, 200, served.body);
    } catch (error) {
      const mapped = fromUpstream(error);
      // A fallback that cannot express the request (dimensions, token arrays) is skipped; the first route answers for the request.
      if (failure !== undefined && ROUTE_CANNOT_SERVE.has(mapped.code ?? '')) continue;
      if (sink.started || !mapped.retryable) throw error;
      failure = error;
    }
  }
  throw failure;
}

/**
 * An OpenAI-compatible upstream (vLLM --task embed, a provider): the request goes as sent (model
 * renamed), split into calls of at most the model's maxInputsPerCall and reassembled in order.
 */
async function upstreamEmbeddings(ctx: GatewayContext, call: Call, body: EmbeddingsRequest, count: number, model: ClearedModel): Promise<{ body: unknown; inputTokens?: number }> {
  const upstream = ctx.models.upstream(model);
  const all = typeof body.input === 'string' || typeof body.input[0] === 'number' ? [body.input] : (body.input as unknown[]);
  const size = model.maxInputsPerCall ?? count;
  if (all.length <= size) {
    const answer = await upstreamJson(ctx, call, model, upstream, '/embeddings', { ...body, model: model.modelId });
    return { body: JSON.parse(withModel(answer.text, answer.parsed, body.model) ?? answer.text), inputTokens: usageOf(answer.parsed.usage)?.inputTokens };
  }
  const parts = await mapBounded(chunks(all, size), ctx.config.embeddingConcurrency, (part, _i, failed) =>
    upstreamJson(ctx, partOf(call, failed), model, upstream, '/embeddings', { ...body, input: part, model: model.modelId }),
  );
  const data: unknown[] = [];
  let tokens = 0;
  for (const part of parts) {
    const items = Array.isArray(part.parsed.data) ? (part.parsed.data as { index?: number }[]) : [];
    // Upstreams answer in input order but say so by index: sort by it, then number across the parts.
    for (const item of [...items].sort((a, b) => (a.index ?? 0) - (b.index ?? 0))) data.push({ ...item, index: data.length });
    tokens += usageOf(part.parsed.usage)?.inputTokens ?? 0;
  }
  if (data.length !== all.length) {
    throw new GatewayError(502, 'api_error', `${upstream.config.kind} upstream "${upstream.config.name}" answered ${data.length} embeddings for ${all.length} inputs.`, 'upstream_bad_response');
  }
  return { body: { ...parts[0].parsed, object: 'list', data, model: body.model, usage: { prompt_tokens: tokens, total_tokens: tokens } }, inputTokens: tokens };
}
