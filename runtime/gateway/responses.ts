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
