/**
 * The usage ledger's record: one per request, what it used and cost, never what it said.
 *
 * Both front doors already write one JSON request-log line per request (runtime/gateway/request-log.ts);
 * the ledger is that line projected onto a fixed list of fields. The projection copies named fields
 * only, so a field added to the log line later (or `prompt`/`completion` when gateway.logContent is on,
 * or an error message that may quote a request) never reaches the ledger by accident.
 */

export interface LedgerRecord {
  /** When the request ended, ISO 8601 in UTC (e.g. 2026-11-03T08:15:02.113Z). */
  readonly time: string;
  readonly requestId: string | null;
  /** Who is billed: the quota module's identity, or the authenticated caller when it set none. */
  readonly identity: string | null;
  /** The identity's team; "default" when none was set. */
  readonly group: string;
  /** The alias asked for (e.g. nova-lite); null when the request named none or an unknown one. */
  readonly model: string | null;
  /** The gateway route: chat.completions, converse, converse-stream, models... */
  readonly route: string;
  /** Where it was served: bedrock or an upstream's name. */
  readonly servedBy: string | null;
  /** The serving route processes data outside mainland China; null when no model was called. */
  readonly crossBorder: boolean | null;
  readonly stream: boolean | null;
  readonly inputTokens: number;
  readonly outputTokens: number;
  readonly cachedTokens: number;
  /** The estimate at the configured prices; null when the request was not priced. */
  readonly cost: number | null;
  readonly currency: 'CNY' | 'USD' | null;
  readonly latencyMs: number;
  readonly status: number;
  /** The OpenAI error code (e.g. rate_limit_exceeded, residency_violation); null on success. */
  readonly errorCode: string | null;
}

/** The record's fields in their column order (the Glue table, CSV exports and tests use it). */
export const LEDGER_FIELDS = [
  'time',
  'requestId',
  'identity',
  'group',
  'model',
  'route',
  'servedBy',
  'crossBorder',
  'stream',
  'inputTokens',
  'outputTokens',
  'cachedTokens',
  'cost',
  'currency',
  'latencyMs',
  'status',
  'errorCode',
] as const satisfies readonly (keyof LedgerRecord)[];

const text = (v: unknown): string | null => (typeof v === 'string' && v !== '' ? v : null);
const count = (v: unknown): number => (typeof v === 'number' && Number.isFinite(v) && v >= 0 ? v : 0);
const flag = (v: unknown): boolean | null => (typeof v === 'boolean' ? v : null);

/**
 * The ledger record of one request-log line, or undefined for any other line (startup, warnings,
 * the platform's own lines). `fallbackTimeMs` (the log event's timestamp) dates a line without the
 * embedded-metrics timestamp.
 */
export function toLedgerRecord(line: unknown, fallbackTimeMs: number): LedgerRecord | undefined {
  if (typeof line !== 'object' || line === null) return undefined;
  const l = line as Record<string, unknown>;
  if (l.msg !== 'request' || typeof l.status !== 'number') return undefined;
  const emfTime = (l._aws as { Timestamp?: unknown } | undefined)?.Timestamp;
  const timeMs = typeof emfTime === 'number' && Number.isFinite(emfTime) ? emfTime : fallbackTimeMs;
  const cost = l.cost as { amount?: unknown; currency?: unknown } | undefined;
  const priced = typeof cost?.amount === 'number' && Number.isFinite(cost.amount) && (cost.currency === 'CNY' || cost.currency === 'USD');
  return {
    time: new Date(timeMs).toISOString(),
    requestId: text(l.requestId),
    identity: text(l.identity) ?? text(l.caller),
    group: text(l.group) ?? 'default',
    model: text(l.model),
    route: text(l.route) ?? 'unknown',
    servedBy: text(l.servedBy),
    crossBorder: flag(l.crossBorder),
    stream: flag(l.stream),
    inputTokens: count(l.inputTokens),
    outputTokens: count(l.outputTokens),
    cachedTokens: count(l.cachedTokens),
    cost: priced ? (cost!.amount as number) : null,
    currency: priced ? (cost!.currency as 'CNY' | 'USD') : null,
    latencyMs: count(l.latencyMs),
    status: l.status,
    errorCode: text(l.error),
  };
}

/** The day partition of a moment, in UTC: `YYYY-MM-DD` (the `dt=` part of the ledger's keys). */
export function ledgerDay(time: string | number | Date): string {
  return new Date(time).toISOString().slice(0, 10);
}

/** The ledger's key layout under its prefix: `dt=YYYY-MM-DD/`. */
export const dayPartition = (day: string) => `dt=${day}/`;
