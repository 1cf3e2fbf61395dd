import { AttemptGuard, streamTruncated } from './attempt-guard';
import { attemptLimits, Call, GatewayContext } from './handler-context';
import { RoutableRequest } from './openai-schema';
import { OpenAiUpstream } from './openai-upstream';
import { passthroughCompletion, SsePassthrough } from './passthrough';
import { assertCleared, ClearedModel } from './residency';
import { endWithSseError, JSON_HEADERS, SSE_HEADERS } from './responses';
import { withRetries } from './retry';

/** An OpenAI-compatible upstream: the request goes as sent (model renamed), the answer comes back as sent but for the model alias. */
export async function upstreamChat(ctx: GatewayContext, call: Call, body: RoutableRequest, model: ClearedModel, upstream: OpenAiUpstream) {
  // The same last check as Bedrock's invoker: no connection for a model the residency gate did not clear.
  assertCleared(model);
  const { config } = ctx;
  const { req, sink, outcome } = call;
  const payload = { ...body, model: model.modelId };
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
      const { body: completion, parsed, usage } = passthroughCompletion(await readText(res, guard!), body.model, upstream.config);
      Object.assign(outcome, usage);
      if (config.logContent) outcome.completion = (parsed as { choices?: { message?: { content?: string } }[] }).choices?.[0]?.message?.content;
      sink.start(200, JSON_HEADERS);
      sink.write(completion);
      return sink.end();
    }
    sink.start(200, SSE_HEADERS);
    const passthrough = new SsePassthrough(body.model);
    try {
      for await (const chunk of guard!.idle((res.body ?? []) as unknown as AsyncIterable<Uint8Array>)) {
        const ready = passthrough.feed(chunk);
        if (ready.length > 0) sink.write(ready);
      }
    } catch (error) {
      // A cut-off event is dropped: the error event that follows must start on an event boundary.
      Object.assign(outcome, passthrough.end().usage);
      return endWithSseError(sink, outcome, guard!.explain(error));
    }
    const { rest, usage, upstreamError, doneSeen } = passthrough.end();
    if (rest.length > 0) sink.write(rest);
    Object.assign(outcome, usage);
    if (upstreamError) outcome.error = upstreamError.code ?? upstreamError.type ?? 'upstream_stream_error';
    // Without [DONE] the upstream stopped mid-answer (it died, or a proxy closed the connection).
    else if (!doneSeen) return endWithSseError(sink, outcome, streamTruncated(where));
    sink.end();
  } finally {
    guard?.dispose();
  }
}

/** A non-streamed answer's body, read under the attempt's guard (deadline, idle, caller gone). */
async function readText(res: Response, guard: AttemptGuard): Promise<string> {
  try {
    return await res.text();
  } catch (error) {
    throw guard.explain(error);
  }
}
