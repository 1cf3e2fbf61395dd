import { chatCompletions } from './chat-completions';
import { GatewayError } from './errors';
import { Call, GatewayContext } from './handler-context';
import { nativeConverse } from './native-converse';
import { embeddings } from './embeddings';
import { rerank } from './rerank';
import { GATEWAY_ROUTES } from './platform-errors';
import { decodePathSegment } from './request-body';
import { sendJson } from './responses';

/** Path and method -> handler. */
export async function route(ctx: GatewayContext, call: Call): Promise<void> {
  const { req, outcome } = call;
  const path = req.path.replace(/\/+$/, '') || '/';
  const method = req.method.toUpperCase();
  const allow = (expected: string) => {
    if (method !== expected) throw new GatewayError(405, 'invalid_request_error', `${method} is not allowed on ${path}; use ${expected}.`, 'method_not_allowed');
  };
  let m: RegExpExecArray | null;
  if (path === '/v1/models') {
    outcome.route = 'models';
    allow('GET');
    return listModels(ctx, call);
  }
  if ((m = /^\/v1\/models\/(.+)$/.exec(path))) {
    outcome.route = 'models';
    allow('GET');
    return listModels(ctx, call, decodePathSegment(m[1], 'model'));
  }
  if (path === '/v1/chat/completions') {
    outcome.route = 'chat.completions';
    allow('POST');
    return chatCompletions(ctx, call);
  }
  if (path === '/v1/embeddings') {
    outcome.route = 'embeddings';
    allow('POST');
    return embeddings(ctx, call);
  }
  // vLLM, Jina and Cohere clients call rerank under these paths.
  if (path === '/v1/rerank' || path === '/rerank' || path === '/v2/rerank') {
    outcome.route = 'rerank';
    allow('POST');
    return rerank(ctx, call);
  }
  if ((m = /^\/model\/([^/]+)\/(converse|converse-stream)$/.exec(path))) {
    outcome.route = m[2];
    allow('POST');
    return nativeConverse(ctx, call, decodePathSegment(m[1], 'modelId'), m[2] === 'converse-stream');
  }
  throw new GatewayError(404, 'invalid_request_error', `Unknown path ${path}. Routes: ${GATEWAY_ROUTES.join(', ')}.`, 'unknown_url');
}

/** GET /v1/models and /v1/models/{id}: the allow-list, nothing leaves the gateway. */
async function listModels(ctx: GatewayContext, { sink, outcome }: Call, id?: string) {
  const entries = ctx.models.entries();
  if (id === undefined) return sendJson(sink, 200, { object: 'list', data: entries });
  const model = ctx.models.resolve(id, null);
  outcome.model = model.alias;
  sendJson(sink, 200, entries.find((e) => e.id === model.alias));
}
