import { randomUUID } from 'crypto';
import { z } from 'zod';
import { guarded } from './attempt-guard';
import { RerankInput, RerankOutput } from './bedrock-rerank-api';
import { badRequest, fromUpstream, GatewayError } from './errors';
import { attemptLimits, Call, GatewayContext } from './handler-context';
import { usageOf, withModel } from './passthrough';
import { ClearedModel } from './residency';
import { parseJsonBody } from './request-body';
import { sendJson } from './responses';
import { upstreamJson } from './upstream-json';

/** Documents one rerank request may carry: Bedrock's Rerank API takes at most 1000 sources. */
export const MAX_RERANK_DOCUMENTS = 1000;
/** Result pages of the Rerank API the gateway follows (nextToken) before it stops: a bound, not a loop on trust. */
const MAX_RERANK_PAGES = 20;

/**
 * The rerank request vLLM, Jina, Cohere and LiteLLM share. Other fields go to an OpenAI-compatible
 * upstream as sent.
 */
export const RerankRequestSchema = z.looseObject({
  model: z.string().min(1),
  query: z.string().min(1, { error: 'must not be empty' }),
  documents: z
    .array(z.union([z.string(), z.looseObject({ text: z.string() })], { error: 'must be strings or objects {"text": "..."}' }))
    .min(1, { error: 'must list at least one document' })
    .max(MAX_RERANK_DOCUMENTS, { error: `must list at most ${MAX_RERANK_DOCUMENTS} documents per request` }),
  top_n: z.number({ error: 'must be a whole number' }).int({ error: 'must be a whole number' }).min(1, { error: 'must be at least 1' }).optional(),
  return_documents: z.boolean().optional(),
});
export type RerankRequest = z.output<typeof RerankRequestSchema>;

interface Ranked {
  readonly index: number;
  readonly relevance_score: number;
  readonly document?: { text: string };
}

/** POST /v1/rerank (and /rerank, /v2/rerank): validate, pick the route (and fallbacks), rerank on Bedrock or pass to an upstream. */
export async function rerank(ctx: GatewayContext, call: Call) {
  const { req, sink, outcome } = call;
  const parsed = RerankRequestSchema.safeParse(parseJsonBody(req, ctx.config.maxBodyBytes));
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const param = issue.path.join('.') || null;
    throw badRequest(`Invalid request: ${param ?? 'body'}: ${issue.message}`, param, 'invalid_value');
  }
  const body = parsed.data;
  const texts = body.documents.map((d) => (typeof d === 'string' ? d : d.text));
  outcome.model = ctx.models.resolve(body.model, 'model').alias;
  const candidates = ctx.residency.clear(req, body.model, 'model', { fallbacks: true, kind: 'rerank' });
  if (ctx.config.logContent) outcome.prompt = { query: body.query, documents: texts };

  let failure: unknown;
  for (const [i, candidate] of candidates.entries()) {
    try {
      outcome.servedBy = candidate.route;
      outcome.fallbacks = i;
      if (candidate.route === 'bedrock') return sendJson(sink, 200, await bedrockRerank(ctx, call, body, texts, candidate));
      const upstream = ctx.models.upstream(candidate);
      const answer = await upstreamJson(ctx, call, candidate, upstream, '/rerank', { ...body, model: candidate.modelId });
      const usage = answer.parsed.usage as { total_tokens?: unknown } | undefined;
      outcome.inputTokens = typeof usage?.total_tokens === 'number' ? usage.total_tokens : usageOf(usage)?.inputTokens;
      return sendJson(sink, 200, JSON.parse(withModel(answer.text, answer.parsed, body.model) ?? answer.text));
    } catch (error) {
      if (sink.started || !fromUpstream(error).retryable) throw error;
      failure = error;
    }
  }
  throw failure;
}

/**
 * Bedrock's Rerank API (bedrock-agent-runtime) in the reranker's region, results in its order
 * (most relevant first), the documents echoed from the request when asked.
 */
async function bedrockRerank(ctx: GatewayContext, call: Call, body: RerankRequest, texts: string[], model: ClearedModel) {
  const region = model.region ?? ctx.config.bedrockRegion;
  // The Rerank API names the model by its ARN; rerankers are AWS-owned foundation models (no account).
  const modelArn = `arn:aws:bedrock:${region}::foundation-model/${model.modelId}`;
  const limits = attemptLimits(ctx, call);
  const retry = { model, signal: call.req.signal, deadline: call.deadline, now: ctx.now };
  const results: NonNullable<RerankOutput['results']> = [];
  let nextToken: string | undefined;
  for (let page = 0; page < MAX_RERANK_PAGES; page++) {
    const input: RerankInput = {
      queries: [{ type: 'TEXT', textQuery: { text: body.query } }],
      sources: texts.map((text) => ({ type: 'INLINE', inlineDocumentSource: { type: 'TEXT', textDocument: { text } } })),
      rerankingConfiguration: {
        type: 'BEDROCK_RERANKING_MODEL',
        bedrockRerankingConfiguration: { numberOfResults: Math.min(body.top_n ?? texts.length, texts.length), modelConfiguration: { modelArn } },
      },
      ...(nextToken && { nextToken }),
    };
    const res = await ctx.bedrock.callRerank((api) => guarded(limits, (guard) => api.rerank(input, guard.signal)), retry);
    results.push(...(res.results ?? []));
    nextToken = res.nextToken;
    if (!nextToken) break;
  }
  const ranked: Ranked[] = results.map((r) => {
    if (typeof r.index !== 'number' || r.index < 0 || r.index >= texts.length || typeof r.relevanceScore !== 'number') {
      throw new GatewayError(502, 'api_error', `Bedrock's Rerank API answered a result without a valid index and score (${model.modelId}).`, 'upstream_bad_response');
    }
    return { index: r.index, relevance_score: r.relevanceScore, ...(body.return_documents !== false && { document: { text: texts[r.index] } }) };
  });
  ranked.sort((a, b) => b.relevance_score - a.relevance_score);
  return { id: `rerank-${randomUUID()}`, model: body.model, results: ranked, usage: {} };
}
