import { bedrockChat } from './bedrock-chat';
import { badRequest, fromUpstream } from './errors';
import { Call, GatewayContext } from './handler-context';
import { BedrockChatRequest, bedrockRequest, RoutableRequestSchema } from './openai-schema';
import { parseJsonBody } from './request-body';
import { upstreamChat } from './upstream-chat';

/** POST /v1/chat/completions: validate, pick the route (and fallbacks), serve from Bedrock or an upstream. */
export async function chatCompletions(ctx: GatewayContext, call: Call) {
  const { config } = ctx;
  const { req, sink, outcome } = call;
  const raw = parseJsonBody(req, config.maxBodyBytes);
  const parsed = RoutableRequestSchema.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw badRequest(`Invalid request: ${issue.path.join('.') || 'body'}: ${issue.message}`, issue.path.join('.') || null, 'invalid_value');
  }
  const body = parsed.data;
  outcome.stream = body.stream === true;
  outcome.model = ctx.models.resolve(body.model, 'model').alias;
  // Data residency: the gate leaves only the routes this request may take (the model and its fallbacks).
  const candidates = ctx.residency.clear(req, body.model, 'model', { fallbacks: true, kind: 'chat' });
  if (config.logContent) outcome.prompt = body.messages;

  let failure: unknown;
  for (const [i, candidate] of candidates.entries()) {
    let converse: BedrockChatRequest | undefined;
    try {
      if (candidate.route === 'bedrock') converse = bedrockRequest(body, candidate);
    } catch (unservable) {
      // The first route tried answers for the request; a fallback that cannot express it is skipped,
      // and if none is left the caller gets the failure that made the gateway fall back.
      if (failure === undefined) throw unservable;
      continue;
    }
    try {
      outcome.servedBy = candidate.route;
      outcome.fallbacks = i;
      outcome.crossBorder = ctx.models.leavesChina(candidate);
      if (converse) return await bedrockChat(ctx, call, converse, candidate);
      return await upstreamChat(ctx, call, body, candidate, ctx.models.upstream(candidate));
    } catch (error) {
      // Move on only when nothing reached the caller and the failure is one a retry elsewhere can fix.
      if (sink.started || !fromUpstream(error).retryable) throw error;
      failure = error;
    }
  }
  throw failure;
}
