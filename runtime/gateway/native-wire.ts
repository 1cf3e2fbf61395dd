import { EventStreamCodec } from '@smithy/eventstream-codec';
import { fromUtf8, toUtf8 } from '@smithy/util-utf8';
import { decodeMedia, MediaKind } from './media';

/** Bedrock's streaming wire format: AWS event stream messages. */
export const EVENT_STREAM_CONTENT_TYPE = 'application/vnd.amazon.eventstream';

const codec = new EventStreamCodec(toUtf8, fromUtf8);

const MEDIA_KINDS: ReadonlySet<string> = new Set(['image', 'document', 'video']);

/**
 * Bedrock JSON carries blobs (image, document, video bytes) as base64; the SDK wants Uint8Array.
 * Media blocks are checked on the way (valid base64, not empty, the declared format's signature,
 * Bedrock's size limit): bad media is the caller's 400, not a call across the border. The request's
 * depth is bounded before this (MAX_JSON_DEPTH), so the recursion is too.
 */
export function fromBedrockJson(value: unknown, key?: string, path = ''): unknown {
  if (key === 'bytes' && typeof value === 'string') return new Uint8Array(Buffer.from(value, 'base64'));
  if (Array.isArray(value)) return value.map((v, i) => fromBedrockJson(v, undefined, `${path}[${i}]`));
  if (value && typeof value === 'object') {
    const media = key !== undefined && MEDIA_KINDS.has(key) ? (value as { format?: unknown; source?: { bytes?: unknown } }) : undefined;
    const converted = Object.fromEntries(Object.entries(value).map(([k, v]) => [k, fromBedrockJson(v, k, path ? `${path}.${k}` : k)]));
    if (media?.source && typeof media.source === 'object' && 'bytes' in media.source) {
      const source = converted.source as Record<string, unknown>;
      source.bytes = decodeMedia(key as MediaKind, String(media.format), media.source.bytes, `${path}.source.bytes`);
    }
    return converted;
  }
  return value;
}

/** The reverse: SDK output with Uint8Array blobs -> Bedrock JSON with base64. */
export function toBedrockJson(value: unknown): unknown {
  if (value instanceof Uint8Array) return Buffer.from(value).toString('base64');
  if (value instanceof Date) return value.getTime() / 1000;
  if (Array.isArray(value)) return value.map(toBedrockJson);
  if (value && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined).map(([k, v]) => [k, toBedrockJson(v)]));
  }
  return value;
}

const str = (value: string) => ({ type: 'string' as const, value });

/**
 * One ConverseStream event (e.g. `{ contentBlockDelta: {...} }`) or an error, encoded as Bedrock
 * sends it: `:message-type` event or exception, the member name as `:event-type`/`:exception-type`.
 */
export function encodeStreamEvent(eventOrError: unknown): Uint8Array {
  if (eventOrError instanceof Error) {
    const type = eventOrError.name.charAt(0).toLowerCase() + eventOrError.name.slice(1);
    return codec.encode({
      headers: { ':message-type': str('exception'), ':exception-type': str(type), ':content-type': str('application/json') },
      body: fromUtf8(JSON.stringify({ message: eventOrError.message })),
    });
  }
  const [name, payload] = Object.entries(eventOrError as Record<string, unknown>).find(([, v]) => v !== undefined) ?? ['unknown', {}];
  if (/Exception$/.test(name)) {
    return codec.encode({
      headers: { ':message-type': str('exception'), ':exception-type': str(name), ':content-type': str('application/json') },
      body: fromUtf8(JSON.stringify(toBedrockJson(payload))),
    });
  }
  return codec.encode({
    headers: { ':message-type': str('event'), ':event-type': str(name), ':content-type': str('application/json') },
    body: fromUtf8(JSON.stringify(toBedrockJson(payload))),
  });
}

/** Splits a buffer of concatenated event stream messages (the passthrough's body) back into events. */
export function decodeStreamEvents(buffer: Uint8Array): { type: string; kind: string; payload: unknown }[] {
  const out: { type: string; kind: string; payload: unknown }[] = [];
  let offset = 0;
  while (offset < buffer.length) {
    const length = new DataView(buffer.buffer, buffer.byteOffset + offset, 4).getUint32(0);
    const message = codec.decode(buffer.subarray(offset, offset + length));
    const kind = String(message.headers[':message-type']?.value);
    const type = String((message.headers[':event-type'] ?? message.headers[':exception-type'])?.value);
    out.push({ type, kind, payload: JSON.parse(toUtf8(message.body)) });
    offset += length;
  }
  return out;
}
