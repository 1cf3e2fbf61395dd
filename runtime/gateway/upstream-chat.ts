import { AttemptGuard, streamTruncated } from './attempt-guard';
import { GatewayError } from './errors';
import { attemptLimits, Call, GatewayContext } from './handler-context';
import { ChatCompletionRequest } from './openai-schema';
import { OpenAiUpstream } from './openai-upstream';
import { assertCleared, ClearedModel } from './residency';
import { endsWithDoneEvent, endWithSseError, sendJson, SSE_HEADERS } from './responses';
import { withRetries } from './retry';

/** Bytes of a passthrough stream's end searched for its usage event (and its closing [DONE]). */
const USAGE_TAIL_BYTES = 4096;

/** An OpenAI-compatible upstream: the request goes as sent (model renamed), the answer comes back byte for byte. */
export async function upstreamChat(ctx: GatewayContext, call: Call, body: ChatCompletionRequest, raw: Record<string, unknown>, model: ClearedModel, upstream: OpenAiUpstream) {
  // The same last check as Bedrock's invoker: no connection for a model the residency gate did not clear.
  assertCleared(model);
  const { config } = ctx;
  const { req, sink, outcome } = call;
  const payload = { ...raw, model: model.modelId };
  const where = `${upstream.config.kind} upstream "${upstream.config.name}"`;
  // The guard of the attempt that answered stays on while its body is read: deadline, idle, caller gone.
  let guard: AttemptGuard | undefined;
  try {
    const res = await withRetries(
      async () => {
        guard?.dispose();
        guard = new AttemptGuard(attemptLimits(ctx, call));
        try {
          return await upstream.chatCompletions(payload, guard.signal);
        } catch (error) {
          throw guard.explain(error);
        }
      },
      { ...config.retry, maxAttempts: upstream.config.maxAttempts },
      { signal: req.signal, canRetry: () => !sink.started, deadline: call.deadline, now: ctx.now },
    );
    if (!body.stream) {
      const completion = await readCompletion(res, guard!, where);
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
      for await (const chunk of guard!.idle((res.body ?? []) as unknown as AsyncIterable<Uint8Array>)) {
        sink.write(chunk);
        tail.push(chunk);
        tailBytes += chunk.length;
        while (tailBytes - tail[0].length >= USAGE_TAIL_BYTES) tailBytes -= tail.shift()!.length;
      }
    } catch (error) {
      return endWithSseError(sink, outcome, guard!.explain(error));
    }
    const end = Buffer.concat(tail).toString('utf8');
    if (!endsWithDoneEvent(end)) return endWithSseError(sink, outcome, streamTruncated(where));
    const usage = /"usage":\s*(\{[^}]*\})/.exec(end);
    if (usage) {
      try {
        const parsed = JSON.parse(usage[1]) as { prompt_tokens?: number; completion_tokens?: number };
        outcome.inputTokens = parsed.prompt_tokens;
        outcome.outputTokens = parsed.completion_tokens;
      } catch {
        // Usage is for the log line only: an odd one must not fail an answer already delivered.
      }
    }
    sink.end();
  } finally {
    guard?.dispose();
  }
}

type Completion = { model?: string; usage?: { prompt_tokens?: number; completion_tokens?: number }; choices?: { message?: { content?: string } }[] };

/** A non-streamed answer: anything but a JSON object is the upstream's failure, reported as such. */
async function readCompletion(res: Response, guard: AttemptGuard, where: string): Promise<Completion> {
  let completion: unknown;
  try {
    completion = await res.json();
  } catch (error) {
    const cause = guard.explain(error);
    if (cause instanceof GatewayError) throw cause;
    throw new GatewayError(502, 'api_error', `${where} answered with a body that is not JSON: ${(error as Error).message}`, 'upstream_error');
  }
  if (!completion || typeof completion !== 'object' || Array.isArray(completion)) throw new GatewayError(502, 'api_error', `${where} answered with JSON that is not a chat completion object.`, 'upstream_error');
  return completion as Completion;
}
