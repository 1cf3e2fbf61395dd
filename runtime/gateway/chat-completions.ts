import { bedrockChat } from './bedrock-chat';
import { badRequest, fromUpstream } from './errors';
import { Call, GatewayContext } from './handler-context';
import { ChatCompletionRequestSchema } from './openai-schema';
import { parseJsonBody } from './request-body';
import { upstreamChat } from './upstream-chat';

/** POST /v1/chat/completions: validate, pick the route (and fallbacks), serve from Bedrock or an upstream. */
export async function chatCompletions(ctx: GatewayContext, call: Call) {
  const { config } = ctx;
  const { req, sink, outcome } = call;
  const raw = parseJsonBody(req, config.maxBodyBytes);
  const parsed = ChatCompletionRequestSchema.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw badRequest(`Invalid request: ${issue.path.join('.') || 'body'}: ${issue.message}`, issue.path.join('.') || null, 'invalid_value');
  }
  const body = parsed.data;
  outcome.stream = body.stream === true;
  outcome.model = ctx.models.resolve(body.model, 'model').alias;
  // Data residency: the gate leaves only the routes this request may take (the model and its fallbacks).
  const candidates = ctx.residency.clear(req, body.model, 'model', { fallbacks: true });
  if (config.logContent) outcome.prompt = body.messages;

  for (const [i, candidate] of candidates.entries()) {
    try {
      outcome.servedBy = candidate.route;
      outcome.fallbacks = i;
      if (candidate.route === 'bedrock') return await bedrockChat(ctx, call, body, candidate);
      return await upstreamChat(ctx, call, body, raw as Record<string, unknown>, candidate, ctx.models.upstream(candidate));
    } catch (error) {
      // Move on only when nothing reached the caller and the failure is one a retry elsewhere can fix.
      const mapped = fromUpstream(error);
      if (i === candidates.length - 1 || sink.started || !mapped.retryable) throw error;
    }
  }
}
