import { ConverseCommand, ConverseStreamCommand } from '@aws-sdk/client-bedrock-runtime';
import { badRequest, fromUpstream } from './errors';
import { Call, GatewayContext } from './handler-context';
import { encodeStreamEvent, EVENT_STREAM_CONTENT_TYPE, fromBedrockJson, toBedrockJson } from './native-wire';
import { parseJsonBody } from './request-body';
import { sendJson } from './responses';
import { guardrailConfig } from './to-converse';

/** Bedrock's own request and response shapes, for callers that already speak Converse. */
export async function nativeConverse(ctx: GatewayContext, { req, sink, outcome }: Call, modelName: string, stream: boolean) {
  const { config, bedrock } = ctx;
  const model = ctx.models.resolve(decodeURIComponent(modelName), 'modelId');
  if (model.route !== 'bedrock') throw badRequest(`"${model.alias}" is not served by Bedrock; call it through /v1/chat/completions.`, 'modelId', 'not_a_bedrock_model');
  outcome.model = model.alias;
  outcome.stream = stream;
  const body = parseJsonBody(req, config.maxBodyBytes);
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
