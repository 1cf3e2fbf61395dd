import { bedrockChat } from './bedrock-chat';
import { badRequest, fromUpstream, GatewayError } from './errors';
import { Call, GatewayContext } from './handler-context';
import { ChatCompletionRequestSchema } from './openai-schema';
import { parseJsonBody } from './request-body';
import { upstreamChat } from './upstream-chat';

/** POST /v1/chat/completions: validate, pick the route (and fallbacks), serve from Bedrock or an upstream. */
export async function chatCompletions(ctx: GatewayContext, call: Call) {
  const { config, models } = ctx;
  const { req, sink, outcome } = call;
  const raw = parseJsonBody(req, config.maxBodyBytes);
  const parsed = ChatCompletionRequestSchema.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw badRequest(`Invalid request: ${issue.path.join('.') || 'body'}: ${issue.message}`, issue.path.join('.') || null);
  }
  const body = parsed.data;
  const model = models.resolve(body.model, 'model');
  outcome.model = model.alias;
  outcome.stream = body.stream === true;
  if (config.logContent) outcome.prompt = body.messages;

  // Data residency: a request that must stay in China never takes a route that leaves it.
  const chinaOnly = config.residency === 'china-only' || req.headers['x-cnllm-residency'] === 'china-only';
  const candidates = models.withFallbacks(model).filter((m) => !chinaOnly || !models.leavesChina(m));
  if (candidates.length === 0) {
    throw new GatewayError(403, 'invalid_request_error', `"${model.alias}" is served outside mainland China and this request must stay in China (residency); choose a model served in China.`, 'residency_violation', 'model');
  }
  for (const [i, candidate] of candidates.entries()) {
    try {
      outcome.servedBy = candidate.route;
      outcome.fallbacks = i;
      if (candidate.route === 'bedrock') return await bedrockChat(ctx, call, body, candidate);
      return await upstreamChat(ctx, call, body, raw as Record<string, unknown>, candidate, models.upstream(candidate));
    } catch (error) {
      // Move on only when nothing reached the caller and the failure is one a retry elsewhere can fix.
      const mapped = fromUpstream(error);
      if (i === candidates.length - 1 || sink.started || !mapped.retryable) throw error;
    }
  }
}
