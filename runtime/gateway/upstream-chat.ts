import { ChatCompletionRequest } from './openai-schema';
import { Call, GatewayContext } from './handler-context';
import { ModelEntry } from './models';
import { OpenAiUpstream } from './openai-upstream';
import { endWithSseError, sendJson, SSE_HEADERS } from './responses';
import { withRetries } from './retry';

/** Bytes of a passthrough stream's end searched for its usage event. */
const USAGE_TAIL_BYTES = 4096;

/** An OpenAI-compatible upstream: the request goes as sent (model renamed), the answer comes back byte for byte. */
export async function upstreamChat(ctx: GatewayContext, { req, sink, outcome }: Call, body: ChatCompletionRequest, raw: Record<string, unknown>, model: ModelEntry, upstream: OpenAiUpstream) {
  const { config } = ctx;
  const payload = { ...raw, model: model.modelId };
  const res = await withRetries(() => upstream.chatCompletions(payload, req.signal), { ...config.retry, maxAttempts: upstream.config.maxAttempts }, { signal: req.signal, canRetry: () => !sink.started });
  if (!body.stream) {
    const completion = (await res.json()) as { model?: string; usage?: { prompt_tokens?: number; completion_tokens?: number }; choices?: { message?: { content?: string } }[] };
    completion.model = body.model;
    outcome.inputTokens = completion.usage?.prompt_tokens;
    outcome.outputTokens = completion.usage?.completion_tokens;
    if (config.logContent) outcome.completion = completion.choices?.[0]?.message?.content;
    return sendJson(sink, 200, completion);
  }
  sink.start(200, SSE_HEADERS);
  // Usage arrives in the last events (stream_options.include_usage): keep only the last few KB, as
  // bytes, and decode them once at the end.
  const tail: Uint8Array[] = [];
  let tailBytes = 0;
  try {
    for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
      sink.write(chunk);
      tail.push(chunk);
      tailBytes += chunk.length;
      while (tailBytes - tail[0].length >= USAGE_TAIL_BYTES) tailBytes -= tail.shift()!.length;
    }
  } catch (error) {
    return endWithSseError(sink, outcome, error);
  }
  const usage = /"usage":\s*(\{[^}]*\})/.exec(Buffer.concat(tail).toString('utf8'));
  if (usage) {
    const parsed = JSON.parse(usage[1]) as { prompt_tokens?: number; completion_tokens?: number };
    outcome.inputTokens = parsed.prompt_tokens;
    outcome.outputTokens = parsed.completion_tokens;
  }
  sink.end();
}
