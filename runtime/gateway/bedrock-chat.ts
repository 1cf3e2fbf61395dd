import { randomUUID } from 'crypto';
import { ConverseCommand, ConverseStreamCommand } from '@aws-sdk/client-bedrock-runtime';
import { guarded, streamTruncated } from './attempt-guard';
import { ChunkTranslator, toChatCompletion } from './from-converse';
import { attemptLimits, Call, GatewayContext } from './handler-context';
import { ChatCompletionRequest } from './openai-schema';
import { ClearedModel } from './residency';
import { endWithSseError, sendJson, SSE_HEADERS, sseData } from './responses';
import { toConverse } from './to-converse';

/** An OpenAI chat completion served by Bedrock's Converse API, translated both ways. */
export async function bedrockChat(ctx: GatewayContext, call: Call, body: ChatCompletionRequest, model: ClearedModel) {
  const { config, bedrock } = ctx;
  const { req, sink, outcome } = call;
  const input = { modelId: model.modelId, ...toConverse(body, config.guardrail) };
  const id = `chatcmpl-${randomUUID()}`;
  const created = Math.floor(ctx.now() / 1000);
  const limits = attemptLimits(ctx, call);
  const retry = { model, signal: req.signal, deadline: call.deadline, now: ctx.now };

  if (!body.stream) {
    const res = await bedrock.call((client) => guarded(limits, (guard) => client.send(new ConverseCommand(input), { abortSignal: guard.signal as never })), retry);
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
      (client) =>
        guarded(limits, async (guard) => {
          translator = new ChunkTranslator(id, body.model, created);
          const res = await client.send(new ConverseStreamCommand(input), { abortSignal: guard.signal as never });
          // messageStart carries no content: holding it back keeps the retry window open until
          // the first token, which is when in-stream throttling usually strikes.
          let held: object[] = [];
          let stopped = false;
          for await (const event of guard.idle(res.stream ?? [])) {
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
            if (event.messageStop) stopped = true;
            if (config.logContent && event.contentBlockDelta?.delta?.text) text += event.contentBlockDelta.delta.text;
          }
          // No messageStop: the answer was cut off, however cleanly the connection ended.
          if (!stopped) throw streamTruncated('Bedrock');
        }),
      // Once a chunk reached the caller, a retry would repeat tokens: only retry before the first byte.
      { ...retry, canRetry: () => !sink.started },
    );
  } catch (error) {
    if (!sink.started) throw error;
    return endWithSseError(sink, outcome, error);
  }
  if (body.stream_options?.include_usage) send(translator.usageChunk());
  sink.write('data: [DONE]\n\n');
  sink.end();
  outcome.inputTokens = translator.usage?.prompt_tokens;
  outcome.outputTokens = translator.usage?.completion_tokens;
  if (config.logContent) outcome.completion = text;
}
