import { ConverseCommand, ConverseStreamCommand } from '@aws-sdk/client-bedrock-runtime';
import { guarded, streamTruncated } from './attempt-guard';
import { badRequest, fromUpstream, GatewayError } from './errors';
import { meterUsage } from './from-converse';
import { attemptLimits, Call, GatewayContext } from './handler-context';
import { nativeConverseInput } from './native-request';
import { encodeStreamEvent, EVENT_STREAM_CONTENT_TYPE, toBedrockJson } from './native-wire';
import { parseJsonBody } from './request-body';
import { recordError } from './request-log';
import { sendJson } from './responses';
import { guardrailConfig } from './to-converse';

/** Bedrock's own request and response shapes, for callers that already speak Converse. */
export async function nativeConverse(ctx: GatewayContext, call: Call, modelName: string, stream: boolean) {
  const { config, bedrock } = ctx;
  const { req, sink, outcome } = call;
  outcome.model = ctx.models.resolve(modelName, 'modelId').alias;
  // Data residency: Bedrock is a cross-border route unless configured otherwise; the gate decides.
  const [model] = ctx.residency.clear(req, modelName, 'modelId', { fallbacks: false, kind: 'chat' });
  if (model.route !== 'bedrock') throw badRequest(`"${model.alias}" is not served by Bedrock; call it through /v1/chat/completions.`, 'modelId', 'not_a_bedrock_model');
  outcome.crossBorder = ctx.models.leavesChina(model);
  outcome.stream = stream;
  const body = parseJsonBody(req, config.maxBodyBytes);
  const input = { ...nativeConverseInput(body), modelId: model.modelId, ...(config.guardrail && { guardrailConfig: guardrailConfig(config.guardrail) }) };
  const limits = attemptLimits(ctx, call);
  const retry = { model, signal: req.signal, deadline: call.deadline, now: ctx.now };
  if (!stream) {
    const res = await bedrock.call((client) => guarded(limits, (guard) => client.send(new ConverseCommand(input as never), { abortSignal: guard.signal as never })), retry);
    const { $metadata: _ignored, ...shape } = res;
    meterUsage(outcome, res.usage);
    return sendJson(sink, 200, toBedrockJson(shape));
  }
  try {
    await bedrock.call(
      (client) =>
        guarded(limits, async (guard) => {
          const res = await client.send(new ConverseStreamCommand(input as never), { abortSignal: guard.signal as never });
          let held: Uint8Array | undefined;
          let stopped = false;
          for await (const event of guard.idle(res.stream ?? [])) {
            if (event.messageStart) {
              held = encodeStreamEvent(event);
              continue;
            }
            if (!sink.started) sink.start(200, { 'content-type': EVENT_STREAM_CONTENT_TYPE });
            if (held) sink.write(held);
            held = undefined;
            sink.write(encodeStreamEvent(event));
            if (event.messageStop) stopped = true;
            if (event.metadata) meterUsage(outcome, event.metadata.usage);
          }
          if (!stopped) throw streamTruncated('Bedrock');
        }),
      { ...retry, canRetry: () => !sink.started },
    );
  } catch (error) {
    if (!sink.started) throw error;
    recordError(outcome, error);
    sink.write(encodeStreamEvent(asStreamException(error)));
    sink.end();
    return;
  }
  sink.end();
}

/**
 * After the 200 the error goes in-band as an event stream exception. Bedrock's own exceptions pass
 * as they came; the gateway's (idle, truncated, deadline) become a modelStreamErrorException, a
 * type every Converse client raises, with the gateway's code in the message.
 */
function asStreamException(error: unknown): Error {
  if (!(error instanceof GatewayError) && error instanceof Error && /Exception$/.test(error.name)) return error;
  const mapped = fromUpstream(error);
  return Object.assign(new Error(`[${mapped.code ?? mapped.type}] ${mapped.message}`), { name: 'ModelStreamErrorException' });
}
