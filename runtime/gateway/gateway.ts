import { randomUUID } from 'crypto';
import { ConverseCommand, ConverseStreamCommand } from '@aws-sdk/client-bedrock-runtime';
import { BedrockInvoker } from './bedrock';
import { CallerDimensions } from './caller';
import { badRequest, fromUpstream, GatewayError } from './errors';
import { ChunkTranslator, toChatCompletion } from './from-converse';
import { fromBedrockJson, toBedrockJson, encodeStreamEvent, EVENT_STREAM_CONTENT_TYPE } from './native-wire';
import { bedrockRequest, ChatCompletionRequest, RoutableRequest, RoutableRequestSchema } from './openai-schema';
import { OpenAiUpstream } from './openai-upstream';
import { passthroughCompletion, SsePassthrough } from './passthrough';
import { withRetries } from './retry';
import { GatewayRuntimeConfig } from './runtime-config';
import { guardrailConfig, toConverse } from './to-converse';
import { GatewayRequest, ResponseSink } from './types';

export interface GatewayDeps {
  readonly config: GatewayRuntimeConfig;
  readonly bedrock: BedrockInvoker;
  /** OpenAI-compatible upstreams by name (default: built from config, without API keys). */
  readonly upstreams?: ReadonlyMap<string, OpenAiUpstream>;
  /** One JSON line per request. */
  readonly log?: (line: Record<string, unknown>) => void;
  readonly now?: () => number;
}

/** What one request did, for the structured log line and the metrics in it. */
interface Outcome {
  route: string;
  /** Where the request was served: bedrock or an upstream's name; with the fallbacks taken before it. */
  servedBy?: string;
  fallbacks?: number;
  model?: string;
  status: number;
  stream?: boolean;
  inputTokens?: number;
  outputTokens?: number;
  cachedTokens?: number;
  error?: string;
  prompt?: unknown;
  completion?: string;
}

const JSON_HEADERS = { 'content-type': 'application/json' };
const SSE_HEADERS = { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-cache', 'x-accel-buffering': 'no' };

export type Gateway = { handle(req: GatewayRequest, sink: ResponseSink): Promise<void> };
type ModelEntry = GatewayRuntimeConfig['models'][number];

/** The OpenAI-compatible gateway, independent of the host that receives HTTP (Lambda, local runner). */
export function createGateway(deps: GatewayDeps): Gateway {
  const { config, bedrock } = deps;
  const now = deps.now ?? Date.now;
  // One raw JSON line on stdout: Lambda forwards it as is, so CloudWatch reads the embedded metrics.
  const log = deps.log ?? ((line) => process.stdout.write(`${JSON.stringify(line)}\n`));
  const upstreams = deps.upstreams ?? new Map(config.upstreams.map((u) => [u.name, new OpenAiUpstream(u)]));
  const modelsByName = new Map<string, ModelEntry>();
  for (const m of config.models) {
    if (m.route !== 'bedrock' && !upstreams.has(m.route)) throw new Error(`model ${m.alias} names route "${m.route}", which is not among the upstreams`);
    modelsByName.set(m.alias, m);
    if (m.route === 'bedrock') modelsByName.set(m.modelId, m);
  }
  const leavesChina = (m: ModelEntry) => (m.route === 'bedrock' ? config.bedrockCrossBorder : upstreams.get(m.route)!.config.crossBorder);
  const routeKind = (m: ModelEntry) => (m.route === 'bedrock' ? 'bedrock' : upstreams.get(m.route)!.config.kind);
  const callerDimensions = new CallerDimensions();

  function resolveModel(name: string, param: string | null) {
    const model = modelsByName.get(name);
    if (!model) {
      throw new GatewayError(
        404,
        'invalid_request_error',
        `The model "${name}" is not served by this gateway (cross-border allow-list). Available: ${config.models.map((m) => m.alias).join(', ')}.`,
        'model_not_found',
        param,
      );
    }
    return model;
  }

  function parseBody(req: GatewayRequest): unknown {
    const body = req.body ?? '';
    if (Buffer.byteLength(body, 'utf8') > config.maxBodyBytes) {
      throw new GatewayError(413, 'invalid_request_error', `The request body is larger than ${config.maxBodyBytes} bytes.`, 'request_too_large');
    }
    if (body.trim() === '') throw badRequest('The request body is empty; send a JSON object.');
    try {
      return JSON.parse(body);
    } catch (e) {
      throw badRequest(`The request body is not valid JSON: ${(e as Error).message}`);
    }
  }

  function sendJson(sink: ResponseSink, status: number, body: unknown) {
    sink.start(status, JSON_HEADERS);
    sink.write(JSON.stringify(body));
    sink.end();
  }

  async function listModels(sink: ResponseSink, outcome: Outcome, id?: string) {
    const entries = config.models.map((m) => ({
      id: m.alias,
      object: 'model',
      created: m.created,
      owned_by: m.route === 'bedrock' ? 'amazon-bedrock' : m.route,
      route: routeKind(m),
      cross_border: leavesChina(m),
      ...(m.route === 'bedrock' && { bedrock_model_id: m.modelId }),
    }));
    if (id === undefined) return sendJson(sink, 200, { object: 'list', data: entries });
    const model = resolveModel(id, null);
    outcome.model = model.alias;
    sendJson(sink, 200, entries.find((e) => e.id === model.alias));
  }

  async function chatCompletions(req: GatewayRequest, sink: ResponseSink, outcome: Outcome) {
    const parsed = RoutableRequestSchema.safeParse(parseBody(req));
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      throw badRequest(`Invalid request: ${issue.path.join('.') || 'body'}: ${issue.message}`, issue.path.join('.') || null);
    }
    const body = parsed.data;
    const model = resolveModel(body.model, 'model');
    outcome.model = model.alias;
    outcome.stream = body.stream === true;
    if (config.logContent) outcome.prompt = body.messages;

    // Data residency: a request that must stay in China never takes a route that leaves it.
    const chinaOnly = config.residency === 'china-only' || req.headers['x-cnllm-residency'] === 'china-only';
    const chain = [model, ...(config.fallbacks[model.alias] ?? []).map((alias) => modelsByName.get(alias)).filter((m): m is ModelEntry => m !== undefined)];
    const candidates = chain.filter((m) => !chinaOnly || !leavesChina(m));
    if (candidates.length === 0) {
      throw new GatewayError(403, 'invalid_request_error', `"${model.alias}" is served outside mainland China and this request must stay in China (residency); choose a model served in China.`, 'residency_violation', 'model');
    }
    let failure: unknown;
    for (const [i, candidate] of candidates.entries()) {
      let converse: ChatCompletionRequest | undefined;
      try {
        if (candidate.route === 'bedrock') converse = bedrockRequest(body, candidate.alias);
      } catch (unservable) {
        // The first route tried answers for the request; a fallback that cannot express it is skipped,
        // and if none is left the caller gets the failure that made the gateway fall back.
        if (failure === undefined) throw unservable;
        continue;
      }
      try {
        outcome.servedBy = candidate.route;
        outcome.fallbacks = i;
        if (converse) return await bedrockChat(req, sink, outcome, converse, candidate);
        return await upstreamChat(req, sink, outcome, body, candidate, upstreams.get(candidate.route)!);
      } catch (error) {
        // Move on only when nothing reached the caller and the failure is one a retry elsewhere can fix.
        if (sink.started || !fromUpstream(error).retryable) throw error;
        failure = error;
      }
    }
    throw failure;
  }

  /** An OpenAI-compatible upstream: the request goes as sent (model renamed), the answer comes back byte for byte. */
  async function upstreamChat(req: GatewayRequest, sink: ResponseSink, outcome: Outcome, body: RoutableRequest, model: ModelEntry, upstream: OpenAiUpstream) {
    const payload = { ...body, model: model.modelId };
    const res = await withRetries(() => upstream.chatCompletions(payload, req.signal), { ...config.retry, maxAttempts: upstream.config.maxAttempts }, { signal: req.signal, canRetry: () => !sink.started });
    if (!body.stream) {
      const { body: completion, usage } = passthroughCompletion(await res.text(), body.model, upstream.config);
      Object.assign(outcome, usage);
      if (config.logContent) outcome.completion = (JSON.parse(completion) as { choices?: { message?: { content?: string } }[] }).choices?.[0]?.message?.content;
      sink.start(200, JSON_HEADERS);
      sink.write(completion);
      return sink.end();
    }
    sink.start(200, SSE_HEADERS);
    const passthrough = new SsePassthrough(body.model);
    try {
      for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
        const ready = passthrough.feed(chunk);
        if (ready.length > 0) sink.write(ready);
      }
    } catch (error) {
      // A cut-off event is dropped: the error event that follows must start on an event boundary.
      Object.assign(outcome, passthrough.end().usage);
      return endWithSseError(sink, outcome, error);
    }
    const { rest, usage, upstreamError } = passthrough.end();
    if (rest.length > 0) sink.write(rest);
    Object.assign(outcome, usage);
    if (upstreamError) outcome.error = upstreamError.code ?? upstreamError.type ?? 'upstream_stream_error';
    sink.end();
  }

  async function bedrockChat(req: GatewayRequest, sink: ResponseSink, outcome: Outcome, body: ChatCompletionRequest, model: ModelEntry) {
    const input = { modelId: model.modelId, ...toConverse(body, config.guardrail) };
    const id = `chatcmpl-${randomUUID()}`;
    const created = Math.floor(now() / 1000);

    if (!body.stream) {
      const res = await bedrock.call((client) => client.send(new ConverseCommand(input), { abortSignal: req.signal as never }), { signal: req.signal });
      const completion = toChatCompletion(res, id, body.model, created);
      outcome.inputTokens = completion.usage.prompt_tokens;
      outcome.outputTokens = completion.usage.completion_tokens;
      if (config.logContent) outcome.completion = completion.choices[0].message.content ?? undefined;
      return sendJson(sink, 200, completion);
    }

    let translator = new ChunkTranslator(id, body.model, created);
    let text = '';
    const send = (data: unknown) => {
      if (!sink.started) sink.start(200, SSE_HEADERS);
      sink.write(sseData(data));
    };
    try {
      await bedrock.call(
        async (client) => {
          translator = new ChunkTranslator(id, body.model, created);
          const res = await client.send(new ConverseStreamCommand(input), { abortSignal: req.signal as never });
          // messageStart carries no content: holding it back keeps the retry window open until
          // the first token, which is when in-stream throttling usually strikes.
          let held: object[] = [];
          for await (const event of res.stream ?? []) {
            const chunks = translator.translate(event);
            if (event.messageStart) {
              held = chunks;
              continue;
            }
            if (held.length > 0) {
              held.forEach(send);
              held = [];
            }
            chunks.forEach(send);
            if (config.logContent && event.contentBlockDelta?.delta?.text) text += event.contentBlockDelta.delta.text;
          }
          held.forEach(send);
        },
        // Once a chunk reached the caller, a retry would repeat tokens: only retry before the first byte.
        { signal: req.signal, canRetry: () => !sink.started },
      );
    } catch (error) {
      if (!sink.started) throw error;
      return endWithSseError(sink, outcome, error);
    }
    if (!sink.started) sink.start(200, SSE_HEADERS);
    if (body.stream_options?.include_usage) send(translator.usageChunk());
    sink.write('data: [DONE]\n\n');
    sink.end();
    outcome.inputTokens = translator.usage?.prompt_tokens;
    outcome.outputTokens = translator.usage?.completion_tokens;
    if (config.logContent) outcome.completion = text;
  }

  /** Bedrock's own request and response shapes, for callers that already speak Converse. */
  async function nativeConverse(req: GatewayRequest, sink: ResponseSink, outcome: Outcome, modelName: string, stream: boolean) {
    const model = resolveModel(decodeURIComponent(modelName), 'modelId');
    if (model.route !== 'bedrock') throw badRequest(`"${model.alias}" is not served by Bedrock; call it through /v1/chat/completions.`, 'modelId', 'not_a_bedrock_model');
    outcome.model = model.alias;
    outcome.stream = stream;
    const body = parseBody(req);
    if (!body || typeof body !== 'object' || Array.isArray(body)) throw badRequest('The Converse request must be a JSON object.');
    const input = { ...(fromBedrockJson(body) as object), modelId: model.modelId, ...(config.guardrail && { guardrailConfig: guardrailConfig(config.guardrail) }) };
    if (!stream) {
      const res = await bedrock.call((client) => client.send(new ConverseCommand(input as never), { abortSignal: req.signal as never }), { signal: req.signal });
      const { $metadata: _ignored, ...shape } = res;
      outcome.inputTokens = res.usage?.inputTokens;
      outcome.outputTokens = res.usage?.outputTokens;
      return sendJson(sink, 200, toBedrockJson(shape));
    }
    try {
      await bedrock.call(
        async (client) => {
          const res = await client.send(new ConverseStreamCommand(input as never), { abortSignal: req.signal as never });
          let held: Uint8Array | undefined;
          for await (const event of res.stream ?? []) {
            if (event.messageStart) {
              held = encodeStreamEvent(event);
              continue;
            }
            if (!sink.started) sink.start(200, { 'content-type': EVENT_STREAM_CONTENT_TYPE });
            if (held) sink.write(held);
            held = undefined;
            sink.write(encodeStreamEvent(event));
            if (event.metadata) {
              outcome.inputTokens = event.metadata.usage?.inputTokens;
              outcome.outputTokens = event.metadata.usage?.outputTokens;
            }
          }
        },
        { signal: req.signal, canRetry: () => !sink.started },
      );
    } catch (error) {
      if (!sink.started) throw error;
      outcome.error = fromUpstream(error).code ?? 'upstream_error';
      sink.write(encodeStreamEvent(error));
      sink.end();
      return;
    }
    if (!sink.started) sink.start(200, { 'content-type': EVENT_STREAM_CONTENT_TYPE });
    sink.end();
  }

  async function route(req: GatewayRequest, sink: ResponseSink, outcome: Outcome) {
    const path = req.path.replace(/\/+$/, '') || '/';
    const method = req.method.toUpperCase();
    const allow = (expected: string) => {
      if (method !== expected) throw new GatewayError(405, 'invalid_request_error', `${method} is not allowed on ${path}; use ${expected}.`, 'method_not_allowed');
    };
    let m: RegExpExecArray | null;
    if (path === '/v1/models') {
      outcome.route = 'models';
      allow('GET');
      return listModels(sink, outcome);
    }
    if ((m = /^\/v1\/models\/(.+)$/.exec(path))) {
      outcome.route = 'models';
      allow('GET');
      return listModels(sink, outcome, decodeURIComponent(m[1]));
    }
    if (path === '/v1/chat/completions') {
      outcome.route = 'chat.completions';
      allow('POST');
      return chatCompletions(req, sink, outcome);
    }
    if ((m = /^\/model\/([^/]+)\/(converse|converse-stream)$/.exec(path))) {
      outcome.route = m[2];
      allow('POST');
      return nativeConverse(req, sink, outcome, m[1], m[2] === 'converse-stream');
    }
    throw new GatewayError(404, 'invalid_request_error', `Unknown path ${path}. Routes: GET /v1/models, POST /v1/chat/completions, POST /model/{modelId}/converse, POST /model/{modelId}/converse-stream.`, 'unknown_url');
  }

  return {
    async handle(req, sink) {
      const started = now();
      const outcome: Outcome = { route: 'unknown', status: 200 };
      try {
        await route(req, sink, outcome);
      } catch (error) {
        const mapped = fromUpstream(error);
        outcome.status = mapped.status;
        outcome.error = mapped.code ?? mapped.type;
        if (!sink.started) {
          sendJson(sink, mapped.status, mapped.toBody());
        } else {
          sink.end();
        }
      }
      const latencyMs = now() - started;
      log({
        level: outcome.status >= 500 ? 'error' : outcome.status >= 400 ? 'warn' : 'info',
        msg: 'request',
        requestId: req.requestId,
        caller: req.caller,
        ...outcome,
        latencyMs,
        // CloudWatch embedded metric format: these fields become metrics without any API call.
        _aws: {
          Timestamp: now(),
          CloudWatchMetrics: [
            {
              Namespace: 'cn-llm-kit/Gateway',
              // Per model, per caller (metering), and one set without dimensions for account-wide alarms.
              Dimensions: [['Model'], ['Caller'], []],
              Metrics: [
                { Name: 'LatencyMs', Unit: 'Milliseconds' },
                { Name: 'InputTokens', Unit: 'Count' },
                { Name: 'OutputTokens', Unit: 'Count' },
                { Name: 'CachedInputTokens', Unit: 'Count' },
                { Name: 'Throttled', Unit: 'Count' },
                { Name: 'UpstreamErrors', Unit: 'Count' },
              ],
            },
          ],
        },
        Model: outcome.model ?? 'none',
        // Stable and capped (sessions of one role are one caller): the full identity is in `caller`.
        Caller: callerDimensions.of(req.caller),
        LatencyMs: latencyMs,
        InputTokens: outcome.inputTokens ?? 0,
        OutputTokens: outcome.outputTokens ?? 0,
        CachedInputTokens: outcome.cachedTokens ?? 0,
        Throttled: outcome.status === 429 ? 1 : 0,
        UpstreamErrors: outcome.status >= 500 ? 1 : 0,
      });
    },
  };
}

const sseData = (data: unknown) => `data: ${JSON.stringify(data)}\n\n`;

/** After HTTP 200 the status cannot change: the error becomes an SSE event OpenAI clients raise. */
function endWithSseError(sink: ResponseSink, outcome: Outcome, error: unknown): void {
  const mapped = fromUpstream(error);
  outcome.error = mapped.code ?? mapped.type;
  sink.write(sseData(mapped.toBody()));
  sink.end();
}
