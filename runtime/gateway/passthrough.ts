import { GatewayError } from './errors';
import { jsonObject } from './json';

/**
 * Passing an OpenAI-compatible upstream's answer on to the caller: the caller must see the model
 * alias it asked for (not the upstream's served name) and the gateway meters the usage it reports.
 * Everything else goes on byte for byte.
 */

/** Token counts an upstream reported, as the gateway logs and meters them. */
export interface UpstreamUsage {
  readonly inputTokens?: number;
  readonly outputTokens?: number;
  /** Prompt tokens served from the upstream's prefix cache (billed lower by providers). */
  readonly cachedTokens?: number;
  /** Completion tokens spent on reasoning (part of outputTokens), when the upstream counts them apart. */
  readonly reasoningTokens?: number;
}

/** What a finished passthrough stream showed, for the log line and for truncation detection. */
export interface PassthroughSummary {
  /** Bytes still held when the upstream ended: an event without its closing blank line. */
  readonly rest: Uint8Array;
  /** The last `usage` object the upstream sent (they are cumulative). */
  readonly usage?: UpstreamUsage;
  /** `data: [DONE]` arrived: without it the upstream stopped mid-answer. */
  readonly doneSeen: boolean;
  /** `data:` payloads that were neither JSON objects nor `[DONE]`: passed on as they came, not metered. */
  readonly malformedEvents: number;
  /** An `{"error": ...}` event the upstream sent in the stream (after HTTP 200). */
  readonly upstreamError?: { readonly message?: string; readonly type?: string; readonly code?: string };
}

/**
 * Events are held until complete to rewrite them; a single event larger than this is passed on as
 * it comes, untouched, so a misbehaving upstream cannot make the gateway buffer without bound.
 */
export const MAX_HELD_EVENT_BYTES = 1024 * 1024;

const LF = 0x0a;
const CR = 0x0d;
const EMPTY = new Uint8Array(0);
const LF_BYTES = Uint8Array.of(LF);

interface Line {
  readonly content: Uint8Array;
  terminator: Uint8Array;
}

/**
 * Rewrites `"model"` in each `data:` event of a server-sent event stream and reads the usage from
 * it, without buffering the stream: `feed` returns every event completed by the chunk (so a token
 * leaves as soon as its event is whole), `end` what is left. Lines may end in LF, CRLF or CR (the
 * SSE grammar); comments, other fields and non-JSON payloads keep their bytes.
 */
export class SsePassthrough {
  private readonly decoder = new TextDecoder();
  /** The current line's bytes, not yet terminated. */
  private line: Uint8Array[] = [];
  private lineBytes = 0;
  /** Complete lines of the current event, held until its blank line. */
  private event: Line[] = [];
  private eventBytes = 0;
  /** The previous line ended in a lone CR: an LF at the start of the next chunk belongs to it. */
  private afterCr = false;
  /** The current event outgrew MAX_HELD_EVENT_BYTES: its bytes go on as they come. */
  private unheld = false;
  private unheldLineEmpty = true;
  private usage?: UpstreamUsage;
  private doneSeen = false;
  private malformedEvents = 0;
  private upstreamError?: PassthroughSummary['upstreamError'];

  constructor(
    private readonly alias: string,
    private readonly maxHeldEventBytes = MAX_HELD_EVENT_BYTES,
  ) {}

  /** The bytes to write to the caller now (possibly none). */
  feed(chunk: Uint8Array): Uint8Array {
    const out: Uint8Array[] = [];
    let i = 0;
    if (this.afterCr && chunk.length > 0) {
      this.afterCr = false;
      if (chunk[0] === LF) {
        this.attachLf(out);
        i = 1;
      }
    }
    // Native searches: most streams have no CR at all, so its position is looked up once per chunk.
    let nextLf = -2;
    let nextCr = -2;
    while (i < chunk.length) {
      if (nextLf !== -1 && nextLf < i) nextLf = chunk.indexOf(LF, i);
      if (nextCr !== -1 && nextCr < i) nextCr = chunk.indexOf(CR, i);
      const j = nextLf === -1 ? (nextCr === -1 ? chunk.length : nextCr) : nextCr === -1 ? nextLf : Math.min(nextLf, nextCr);
      this.appendToLine(chunk.subarray(i, j), out);
      if (j === chunk.length) break;
      let terminatorEnd = j + 1;
      if (chunk[j] === CR) {
        if (j + 1 === chunk.length) this.afterCr = true;
        else if (chunk[j + 1] === LF) terminatorEnd = j + 2;
      }
      this.completeLine(chunk.subarray(j, terminatorEnd), out);
      i = terminatorEnd;
    }
    return concat(out);
  }

  /** Call once the upstream body ended. */
  end(): PassthroughSummary {
    const out: Uint8Array[] = [];
    if (this.unheld) {
      out.push(...this.line);
    } else if (this.event.length > 0 || this.lineBytes > 0) {
      // An event cut short at the end still counts for metering ([DONE] without its blank line).
      if (this.lineBytes > 0) this.event.push({ content: concat(this.line), terminator: EMPTY });
      out.push(this.dispatch(this.event));
    }
    this.line = [];
    this.lineBytes = 0;
    this.event = [];
    this.eventBytes = 0;
    return { rest: concat(out), usage: this.usage, doneSeen: this.doneSeen, malformedEvents: this.malformedEvents, upstreamError: this.upstreamError };
  }

  private attachLf(out: Uint8Array[]) {
    const last = this.event.at(-1);
    if (last) {
      last.terminator = concat([last.terminator, LF_BYTES]);
      this.eventBytes += 1;
    } else {
      // It follows a line already written (the blank line that ended an event, or an unheld event).
      out.push(LF_BYTES);
    }
  }

  private appendToLine(bytes: Uint8Array, out: Uint8Array[]) {
    if (bytes.length === 0) return;
    if (this.unheld) {
      this.unheldLineEmpty = false;
      out.push(bytes);
      return;
    }
    // Copied: the caller may reuse the chunk's buffer once feed returns.
    this.line.push(bytes.slice());
    this.lineBytes += bytes.length;
    if (this.eventBytes + this.lineBytes > this.maxHeldEventBytes) {
      for (const l of this.event) out.push(l.content, l.terminator);
      out.push(...this.line);
      this.event = [];
      this.eventBytes = 0;
      this.line = [];
      this.lineBytes = 0;
      this.unheld = true;
      this.unheldLineEmpty = false;
    }
  }

  private completeLine(terminator: Uint8Array, out: Uint8Array[]) {
    if (this.unheld) {
      out.push(terminator);
      // A blank line ends the oversized event: the next one is held (and rewritten) again.
      if (this.unheldLineEmpty) this.unheld = false;
      this.unheldLineEmpty = true;
      return;
    }
    const content = concat(this.line);
    this.line = [];
    this.lineBytes = 0;
    if (content.length === 0) {
      const event = this.event;
      this.event = [];
      this.eventBytes = 0;
      out.push(this.dispatch(event), terminator);
      return;
    }
    this.event.push({ content, terminator });
    this.eventBytes += content.length + terminator.length;
  }

  /** One complete event (without its blank line) -> the bytes to send for it. */
  private dispatch(lines: Line[]): Uint8Array {
    if (lines.length === 1) return this.dispatchLine(lines[0]);
    const original = () => concat(lines.flatMap((l) => [l.content, l.terminator]));
    const fields = lines.map((l) => sseField(this.decoder.decode(l.content)));
    const dataLines = fields.map((f, index) => ({ ...f, index })).filter((f) => f.name === 'data');
    if (dataLines.length === 0) return original();
    const rewritten = this.payload(dataLines.map((d) => d.value).join('\n'));
    if (rewritten === undefined) return original();
    // The rewrite touches one JSON string (no line break in it): each data line keeps its prefix and terminator.
    const pieces = rewritten.split('\n');
    const out: Uint8Array[] = [];
    let piece = 0;
    lines.forEach((line, index) => {
      const data = dataLines.find((d) => d.index === index);
      if (!data) {
        out.push(line.content, line.terminator);
      } else if (piece < pieces.length) {
        // (A re-serialised payload is one line: the data lines after the first are folded into it.)
        const text = data === dataLines.at(-1) ? pieces.slice(piece).join('') : pieces[piece];
        piece++;
        out.push(text === data.value ? line.content : Buffer.from(`${data.prefix}${text}`, 'utf8'), line.terminator);
      }
    });
    return concat(out);
  }

  /** The common case, an event of one line: the same as dispatch without the bookkeeping for several. */
  private dispatchLine(line: Line): Uint8Array {
    const original = () => concat([line.content, line.terminator]);
    const field = sseField(this.decoder.decode(line.content));
    if (field.name !== 'data') return original();
    const rewritten = this.payload(field.value);
    return rewritten === undefined ? original() : concat([Buffer.from(`${field.prefix}${rewritten}`, 'utf8'), line.terminator]);
  }

  /** Reads one event's data (usage, [DONE], errors) and returns it with the alias as model, or undefined when it stays as it is. */
  private payload(data: string): string | undefined {
    if (data.trim() === '[DONE]') {
      this.doneSeen = true;
      return undefined;
    }
    const parsed = jsonObject(data);
    if (!parsed) {
      this.malformedEvents++;
      return undefined;
    }
    this.observe(parsed);
    return withModel(data, parsed, this.alias);
  }

  private observe(event: Record<string, unknown>) {
    const usage = usageOf(event.usage);
    if (usage) this.usage = usage;
    const error = event.error;
    if (error && typeof error === 'object') {
      const e = error as Record<string, unknown>;
      this.upstreamError = { message: stringOrUndefined(e.message), type: stringOrUndefined(e.type), code: e.code === undefined || e.code === null ? undefined : String(e.code) };
    }
  }
}

/** A non-streamed chat completion from an upstream, with the alias as its model. */
export function passthroughCompletion(body: string, alias: string, upstream: { kind: string; name: string }): { body: string; parsed: Record<string, unknown>; usage?: UpstreamUsage } {
  const parsed = jsonObject(body);
  if (!parsed) {
    throw new GatewayError(502, 'api_error', `${upstream.kind} upstream "${upstream.name}" answered 200 with a body that is not a JSON object: ${body.slice(0, 200)}`, 'upstream_bad_response');
  }
  return { body: withModel(body, parsed, alias) ?? body, parsed, usage: usageOf(parsed.usage) };
}

/**
 * Usage as OpenAI-compatible services report it, nested details included: cached prompt tokens in
 * `prompt_tokens_details.cached_tokens` (OpenAI, DashScope, vLLM, DeepSeek) or DeepSeek's
 * `prompt_cache_hit_tokens`; reasoning tokens in `completion_tokens_details.reasoning_tokens`.
 */
export function usageOf(value: unknown): UpstreamUsage | undefined {
  if (!value || typeof value !== 'object' || Array.isArray(value)) return undefined;
  const u = value as Record<string, unknown>;
  const details = u.prompt_tokens_details && typeof u.prompt_tokens_details === 'object' ? (u.prompt_tokens_details as Record<string, unknown>) : {};
  const inputTokens = count(u.prompt_tokens);
  const outputTokens = count(u.completion_tokens);
  const cachedTokens = count(details.cached_tokens) ?? count(u.prompt_cache_hit_tokens);
  const completionDetails = u.completion_tokens_details && typeof u.completion_tokens_details === 'object' ? (u.completion_tokens_details as Record<string, unknown>) : {};
  const reasoningTokens = count(completionDetails.reasoning_tokens);
  if (inputTokens === undefined && outputTokens === undefined) return undefined;
  return { inputTokens, outputTokens, ...(cachedTokens !== undefined && { cachedTokens }), ...(reasoningTokens !== undefined && { reasoningTokens }) };
}

/**
 * The JSON text with its top-level `"model"` string set to `alias`, or undefined when it has none.
 * Only that string changes (numbers, escapes and spacing stay as the upstream wrote them); a key
 * spelled with escapes falls back to re-serialising.
 */
export function withModel(json: string, parsed: Record<string, unknown>, alias: string): string | undefined {
  if (typeof parsed.model !== 'string') return undefined;
  if (parsed.model === alias) return undefined;
  const spans = topLevelStringValues(json, 'model');
  if (spans.length === 0) return JSON.stringify({ ...parsed, model: alias });
  const replacement = JSON.stringify(alias);
  let out = '';
  let last = 0;
  for (const [start, end] of spans) {
    out += json.slice(last, start) + replacement;
    last = end;
  }
  return out + json.slice(last);
}

/** [start, end) of each string value of `key` in the top-level object of valid JSON text. */
function topLevelStringValues(json: string, key: string): [number, number][] {
  const spans: [number, number][] = [];
  let depth = 0;
  let i = 0;
  while (i < json.length) {
    const c = json[i];
    if (c === '"') {
      const end = stringEnd(json, i);
      if (depth === 1 && json.slice(i + 1, end - 1) === key) {
        let k = skipSpace(json, end);
        if (json[k] === ':') {
          k = skipSpace(json, k + 1);
          if (json[k] === '"') {
            const valueEnd = stringEnd(json, k);
            spans.push([k, valueEnd]);
            i = valueEnd;
            continue;
          }
        }
      }
      i = end;
      continue;
    }
    if (c === '{' || c === '[') depth++;
    else if (c === '}' || c === ']') depth--;
    i++;
  }
  return spans;
}

/** Index just past the closing quote of the string opening at `start`. */
function stringEnd(json: string, start: number): number {
  let i = start + 1;
  while (i < json.length) {
    const c = json[i];
    if (c === '\\') i += 2;
    else if (c === '"') return i + 1;
    else i++;
  }
  return json.length;
}

function skipSpace(json: string, i: number): number {
  while (i < json.length && (json[i] === ' ' || json[i] === '\t' || json[i] === '\n' || json[i] === '\r')) i++;
  return i;
}

/** An SSE line as `field: value` (one optional space after the colon; a line with no colon is a field with an empty value). */
function sseField(line: string): { name: string; value: string; prefix: string } {
  const colon = line.indexOf(':');
  if (colon === -1) return { name: line, value: '', prefix: `${line}:` };
  const prefixEnd = line[colon + 1] === ' ' ? colon + 2 : colon + 1;
  return { name: line.slice(0, colon), value: line.slice(prefixEnd), prefix: line.slice(0, prefixEnd) };
}

function count(value: unknown): number | undefined {
  return typeof value === 'number' && Number.isFinite(value) && value >= 0 ? value : undefined;
}

function stringOrUndefined(value: unknown): string | undefined {
  return typeof value === 'string' ? value : undefined;
}

function concat(parts: Uint8Array[]): Uint8Array {
  if (parts.length === 0) return EMPTY;
  if (parts.length === 1) return parts[0];
  const total = parts.reduce((n, p) => n + p.length, 0);
  const out = new Uint8Array(total);
  let offset = 0;
  for (const p of parts) {
    out.set(p, offset);
    offset += p.length;
  }
  return out;
}
