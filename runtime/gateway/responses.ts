import { Outcome, recordError } from './request-log';
import { ResponseSink } from './types';

export const JSON_HEADERS = { 'content-type': 'application/json' };
export const SSE_HEADERS = { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-cache', 'x-accel-buffering': 'no' };

export function sendJson(sink: ResponseSink, status: number, body: unknown): void {
  sink.start(status, JSON_HEADERS);
  sink.write(JSON.stringify(body));
  sink.end();
}

export const sseData = (data: unknown) => `data: ${JSON.stringify(data)}\n\n`;

/** After HTTP 200 the status cannot change: the error becomes an SSE event OpenAI clients raise. */
export function endWithSseError(sink: ResponseSink, outcome: Outcome, error: unknown): void {
  const mapped = recordError(outcome, error);
  sink.write(sseData(mapped.toBody()));
  sink.end();
}

/**
 * An OpenAI-compatible stream is complete only when its last event is `data: [DONE]`: a stream that
 * stops before it was cut off (the upstream died or a proxy closed it), however normal the
 * connection's end looked. `tail` is the end of the stream's text (a few hundred bytes suffice).
 */
export function endsWithDoneEvent(tail: string): boolean {
  return /(^|\n)data: ?\[DONE\][ \t]*(\r?\n)*$/.test(tail);
}
