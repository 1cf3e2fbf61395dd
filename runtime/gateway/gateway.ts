import { randomUUID } from 'crypto';
import { ConverseCommand, ConverseStreamCommand, type ConverseStreamOutput } from '@aws-sdk/client-bedrock-runtime';
import { BedrockInvoker } from './bedrock';
import { badRequest, fromUpstream, GatewayError } from './errors';
import { ChunkTranslator, toChatCompletion } from './from-converse';
import { fromBedrockJson, toBedrockJson, encodeStreamEvent, EVENT_STREAM_CONTENT_TYPE } from './native-wire';
import { ChatCompletionRequestSchema } from './openai-schema';
import { GatewayRuntimeConfig } from './runtime-config';
import { toConverse } from './to-converse';
import { GatewayRequest, ResponseSink } from './types';

export interface GatewayDeps {
  readonly config: GatewayRuntimeConfig;
  readonly bedrock: BedrockInvoker;
  /** One JSON line per request. */
  readonly log?: (line: Record<string, unknown>) => void;
  readonly now?: () => number;
}

/** What one request did, for the structured log line and the metrics in it. */
interface Outcome {
  route: string;
  model?: string;
  status: number;
  stream?: boolean;
  inputTokens?: number;
  outputTokens?: number;
  error?: string;
  prompt?: unknown;
  completion?: string;
}

const JSON_HEADERS = { 'content-type': 'application/json' };
const SSE_HEADERS = { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-cache', 'x-accel-buffering': 'no' };

export type Gateway = { handle(req: GatewayRequest, sink: ResponseSink): Promise<void> };

/** The OpenAI-compatible gateway, independent of the host that receives HTTP (Lambda, local runner). */
export function createGateway(deps: GatewayDeps): Gateway {
  const { config, bedrock } = deps;
  const now = deps.now ?? Date.now;
  // One raw JSON line on stdout: Lambda forwards it as is, so CloudWatch reads the embedded metrics.
  const log = deps.log ?? ((line) => process.stdout.write(`${JSON.stringify(line)}\n`));
  const modelsByName = new Map<string, GatewayRuntimeConfig['models'][number]>();
  for (const m of config.models) {
    modelsByName.set(m.alias, m);
    modelsByName.set(m.modelId, m);
  }

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
    const entries = config.models.map((m) => ({ id: m.alias, object: 'model', created: m.created, owned_by: 'amazon-bedrock', bedrock_model_id: m.modelId }));
    if (id === undefined) return sendJson(sink, 200, { object: 'list', data: entries });
    const model = resolveModel(id, null);
    outcome.model = model.alias;
    sendJson(sink, 200, entries.find((e) => e.id === model.alias));
  }

  async function chatCompletions(req: GatewayRequest, sink: ResponseSink, outcome: Outcome) {
    const parsed = ChatCompletionRequestSchema.safeParse(parseBody(req));
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      throw badRequest(`Invalid request: ${issue.path.join('.') || 'body'}: ${issue.message}`, issue.path.join('.') || null);
    }
    const body = parsed.data;
    const model = resolveModel(body.model, 'model');
    outcome.model = model.alias;
    outcome.stream = body.stream === true;
    const input = { modelId: model.modelId, ...toConverse(body, config.guardrail) };
    if (config.logContent) outcome.prompt = body.messages;
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
      sink.write(`data: ${JSON.stringify(data)}\n\n`);
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
            throwIfStreamException(event);
            const chunks = translator.translate(event);
            if (event.messageStart) {
              held = chunks;
              continue;
            }
            for (const chunk of [...held, ...chunks]) send(chunk);
            held = [];
            if (config.logContent && event.contentBlockDelta?.delta?.text) text += event.contentBlockDelta.delta.text;
          }
          held.forEach(send);
        },
        // Once a chunk reached the caller, a retry would repeat tokens: only retry before the first byte.
        { signal: req.signal, canRetry: () => !sink.started },
      );
    } catch (error) {
      if (!sink.started) throw error;
      // After HTTP 200 the status cannot change: the error becomes an SSE event OpenAI clients raise.
      const mapped = fromUpstream(error);
      outcome.error = mapped.code ?? mapped.type;
      sink.write(`data: ${JSON.stringify(mapped.toBody())}\n\n`);
      sink.end();
      return;
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
    outcome.model = model.alias;
    outcome.stream = stream;
    const body = parseBody(req);
    if (!body || typeof body !== 'object' || Array.isArray(body)) throw badRequest('The Converse request must be a JSON object.');
    const input = { ...(fromBedrockJson(body) as object), modelId: model.modelId, ...(config.guardrail && { guardrailConfig: { guardrailIdentifier: config.guardrail.id, guardrailVersion: config.guardrail.version } }) };
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
        const mapped = error instanceof GatewayError ? error : fromUpstream(error);
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
                { Name: 'Throttled', Unit: 'Count' },
                { Name: 'UpstreamErrors', Unit: 'Count' },
              ],
            },
          ],
        },
        Model: outcome.model ?? 'none',
        Caller: req.caller,
        LatencyMs: latencyMs,
        InputTokens: outcome.inputTokens ?? 0,
        OutputTokens: outcome.outputTokens ?? 0,
        Throttled: outcome.status === 429 ? 1 : 0,
        UpstreamErrors: outcome.status >= 500 ? 1 : 0,
      });
    },
  };
}

/** ConverseStream can report throttling or model errors inside the stream after HTTP 200. */
function throwIfStreamException(event: ConverseStreamOutput): void {
  const names = ['throttlingException', 'internalServerException', 'modelStreamErrorException', 'serviceUnavailableException', 'validationException'] as const;
  for (const name of names) {
    const payload = (event as unknown as Record<string, { message?: string } | undefined>)[name];
    if (payload) {
      const error = new Error(payload.message ?? name);
      error.name = name.charAt(0).toUpperCase() + name.slice(1);
      throw error;
    }
  }
}
