import { DayRange, partitionDays } from './ledger-reader';
import { LedgerRecord } from './record';

export const USAGE_DIMENSIONS = ['group', 'identity', 'model'] as const;
export type UsageDimension = (typeof USAGE_DIMENSIONS)[number];

export interface UsageRow {
  readonly key: string;
  readonly requests: number;
  /** Answered with a 4xx/5xx, or ended with an error event after a 200. */
  readonly errors: number;
  /** Served outside mainland China. */
  readonly crossBorder: number;
  readonly inputTokens: number;
  readonly outputTokens: number;
  readonly cachedTokens: number;
  /** Sums per currency; CNY and USD are never added together. */
  readonly cost: Readonly<Partial<Record<'CNY' | 'USD', number>>>;
  /** Requests without a price (no price configured for the model, or no model called). */
  readonly unpriced: number;
  readonly p50LatencyMs: number;
  readonly p95LatencyMs: number;
}

const NO_VALUE: Record<UsageDimension, string> = { group: 'default', identity: '(unknown)', model: '(none)' };

/** Nearest-rank percentile of sorted values. */
function percentile(sorted: number[], p: number): number {
  return sorted.length === 0 ? 0 : sorted[Math.max(0, Math.ceil((p / 100) * sorted.length) - 1)];
}

function row(key: string, records: LedgerRecord[]): UsageRow {
  const cost: Partial<Record<'CNY' | 'USD', number>> = {};
  let unpriced = 0;
  for (const r of records) {
    if (r.cost !== null && r.currency !== null) cost[r.currency] = (cost[r.currency] ?? 0) + r.cost;
    else unpriced++;
  }
  const latencies = records.map((r) => r.latencyMs).sort((a, b) => a - b);
  const sum = (f: (r: LedgerRecord) => number) => records.reduce((total, r) => total + f(r), 0);
  return {
    key,
    requests: records.length,
    errors: records.filter((r) => r.status >= 400 || r.errorCode !== null).length,
    crossBorder: records.filter((r) => r.crossBorder === true).length,
    inputTokens: sum((r) => r.inputTokens),
    outputTokens: sum((r) => r.outputTokens),
    cachedTokens: sum((r) => r.cachedTokens),
    cost,
    unpriced,
    p50LatencyMs: percentile(latencies, 50),
    p95LatencyMs: percentile(latencies, 95),
  };
}

/** One row per value of the dimension (most requests first), and the total over all records. */
export function summarize(records: readonly LedgerRecord[], by: UsageDimension): { rows: UsageRow[]; total: UsageRow } {
  const groups = new Map<string, LedgerRecord[]>();
  for (const r of records) {
    const key = r[by] ?? NO_VALUE[by];
    groups.set(key, [...(groups.get(key) ?? []), r]);
  }
  const rows = [...groups].map(([key, rs]) => row(key, rs)).sort((a, b) => b.requests - a.requests || a.key.localeCompare(b.key));
  return { rows, total: row('total', [...records]) };
}

/** The table's columns: cost columns only for the currencies that occur. */
function columns(by: UsageDimension, rows: UsageRow[]): { header: string; value: (r: UsageRow) => string }[] {
  const currencies = (['CNY', 'USD'] as const).filter((c) => rows.some((r) => r.cost[c] !== undefined));
  return [
    { header: by, value: (r) => r.key },
    { header: 'requests', value: (r) => String(r.requests) },
    { header: 'errors', value: (r) => String(r.errors) },
    { header: 'cross-border', value: (r) => String(r.crossBorder) },
    { header: 'input tokens', value: (r) => String(r.inputTokens) },
    { header: 'output tokens', value: (r) => String(r.outputTokens) },
    { header: 'cached tokens', value: (r) => String(r.cachedTokens) },
    ...currencies.map((c) => ({ header: `cost ${c}`, value: (r: UsageRow) => (r.cost[c] ?? 0).toFixed(4) })),
    { header: 'unpriced', value: (r) => String(r.unpriced) },
    { header: 'p50 latency ms', value: (r) => String(r.p50LatencyMs) },
    { header: 'p95 latency ms', value: (r) => String(r.p95LatencyMs) },
  ];
}

const markdownCell = (v: string) => v.replace(/\|/g, '\\|');
const csvCell = (v: string) => (/[",\n\r]/.test(v) ? `"${v.replace(/"/g, '""')}"` : v);

export function formatUsage(summary: { rows: UsageRow[]; total: UsageRow }, by: UsageDimension, format: 'markdown' | 'csv'): string {
  const all = [...summary.rows, summary.total];
  const cols = columns(by, all);
  if (format === 'csv') {
    return [cols.map((c) => csvCell(c.header)), ...all.map((r) => cols.map((c) => csvCell(c.value(r))))].map((cells) => cells.join(',')).join('\n') + '\n';
  }
  const line = (cells: string[]) => `| ${cells.map(markdownCell).join(' | ')} |`;
  return [line(cols.map((c) => c.header)), `|${cols.map((_, i) => (i === 0 ? '---' : '---:')).join('|')}|`, ...all.map((r) => line(cols.map((c) => c.value(r))))].join('\n') + '\n';
}

/**
 * The same report as Athena SQL over the ledger's Glue table, for the workgroup (the console, or
 * `aws athena start-query-execution --work-group ...`). The dt filter prunes partitions with a day's
 * margin either side (see partitionDays); the time filter is exact.
 */
export function usageSql(table: { database: string; table: string }, by: UsageDimension, range: DayRange): string {
  const days = partitionDays(range);
  const column = by === 'group' ? '"group"' : by;
  return `SELECT coalesce(${column}, '${NO_VALUE[by]}') AS ${by === 'group' ? '"group"' : by},
       count(*) AS requests,
       count_if(status >= 400 OR errorcode IS NOT NULL) AS errors,
       count_if(crossborder) AS cross_border,
       sum(inputtokens) AS input_tokens,
       sum(outputtokens) AS output_tokens,
       sum(cachedtokens) AS cached_tokens,
       sum(CASE WHEN currency = 'CNY' THEN cost END) AS cost_cny,
       sum(CASE WHEN currency = 'USD' THEN cost END) AS cost_usd,
       approx_percentile(latencyms, 0.5) AS p50_latency_ms
FROM "${table.database}"."${table.table}"
WHERE dt BETWEEN '${days[0]}' AND '${days[days.length - 1]}'
  AND substr("time", 1, 10) BETWEEN '${range.from}' AND '${range.to}'
GROUP BY 1
ORDER BY requests DESC;
`;
}
