import { expectTool, listKeys, readText, S3Location, s3LocationFromEnv, ToolData, ToolHandler, ToolInputError, ToolLambdaContext, toolArguments, ToolSchema } from './tool-lambda';

/** The usage ledger's bucket and key prefix (the ledger writes `<prefix>dt=YYYY-MM-DD/...jsonl`). */
export const LEDGER_BUCKET_ENV = 'CNLLM_LEDGER_BUCKET';
/** @default "ledger/" */
export const LEDGER_PREFIX_ENV = 'CNLLM_LEDGER_PREFIX';
/** The stack gives this tool the usage ledger (read-only) in the two variables above. */
export const TOOL_DATA: ToolData = { source: 'usage-ledger', bucketEnv: LEDGER_BUCKET_ENV, prefixEnv: LEDGER_PREFIX_ENV };

/** A quarter: longer ranges are a report, not a lookup an agent waits for. */
const MAX_DAYS = 92;
/** Objects read per call at most; past it the answer says it is partial. */
const MAX_OBJECTS = 2000;
const MAX_BYTES = 256 * 1024 * 1024;
const MAX_ROWS = 100;

export const TOOL_SCHEMAS: readonly ToolSchema[] = [
  {
    name: 'usage_summary',
    description:
      'Token use of the kit\'s model gateway from its usage ledger: requests, input and output tokens and cost, summed per team (group) and model for a range of days (UTC, at most 92). Use it for questions about usage, spend or which team or model used what.',
    inputSchema: {
      type: 'object',
      properties: {
        from: { type: 'string', description: 'First day, YYYY-MM-DD (UTC)' },
        to: { type: 'string', description: 'Last day, YYYY-MM-DD (UTC), inclusive; at most 92 days after from' },
        groupBy: { type: 'string', description: 'group, model or group_model (default): what the sums are per' },
        group: { type: 'string', description: 'Only this team (group)' },
        model: { type: 'string', description: 'Only this model alias' },
      },
      required: ['from', 'to'],
    },
  },
];

type GroupBy = 'group' | 'model' | 'group_model';

export interface UsageRow {
  group?: string;
  model?: string;
  requests: number;
  inputTokens: number;
  outputTokens: number;
  /** Per currency, from the ledger records that carry a cost. */
  cost: Record<string, number>;
}

export interface UsageSummary {
  from: string;
  to: string;
  groupBy: GroupBy;
  rows: UsageRow[];
  totals: Omit<UsageRow, 'group' | 'model'>;
  objectsRead: number;
  /** Ledger lines that were not usage records (malformed JSON, not an object). */
  skippedLines: number;
  /** Not every record was read (object or size cap, or more rows than returned): the sums are partial. */
  truncated: boolean;
}

/** The usage_summary tool over a ledger location (tests pass a loopback S3). */
export function usageSummaryHandler(ledger: S3Location): ToolHandler<UsageSummary> {
  return async (event: unknown, context?: ToolLambdaContext) => {
    expectTool(context, TOOL_SCHEMAS);
    const query = parseQuery(toolArguments(event));
    const rows = new Map<string, UsageRow>();
    const totals: UsageSummary['totals'] = { requests: 0, inputTokens: 0, outputTokens: 0, cost: {} };
    let objectsRead = 0;
    let bytesRead = 0;
    let skippedLines = 0;
    let truncated = false;
    for (const day of daysBetween(query.from, query.to)) {
      const { keys, more } = await listKeys(ledger, `${ledger.prefix}dt=${day}/`, MAX_OBJECTS - objectsRead);
      truncated ||= more;
      for (const { key, size } of keys) {
        if (bytesRead + size > MAX_BYTES) {
          truncated = true;
          break;
        }
        const text = await readText(ledger, key);
        objectsRead++;
        bytesRead += size;
        for (const line of jsonRecords(text)) {
          const record = parseRecord(line);
          if (!record) {
            skippedLines++;
            continue;
          }
          if ((query.group && record.group !== query.group) || (query.model && record.model !== query.model)) continue;
          const rowKey = query.groupBy === 'group' ? record.group : query.groupBy === 'model' ? record.model : `${record.group}\u0000${record.model}`;
          const row = rows.get(rowKey) ?? { ...(query.groupBy !== 'model' && { group: record.group }), ...(query.groupBy !== 'group' && { model: record.model }), requests: 0, inputTokens: 0, outputTokens: 0, cost: {} };
          rows.set(rowKey, row);
          for (const sum of [row, totals]) {
            sum.requests++;
            sum.inputTokens += record.inputTokens;
            sum.outputTokens += record.outputTokens;
            if (record.cost) sum.cost[record.cost.currency] = round(sum.cost[record.cost.currency] ?? 0, record.cost.amount);
          }
        }
      }
      if (objectsRead >= MAX_OBJECTS || truncated) break;
    }
    const sorted = [...rows.values()].sort((a, b) => b.inputTokens + b.outputTokens - (a.inputTokens + a.outputTokens));
    return { from: query.from, to: query.to, groupBy: query.groupBy, rows: sorted.slice(0, MAX_ROWS), totals, objectsRead, skippedLines, truncated: truncated || sorted.length > MAX_ROWS };
  };
}

let fromEnv: ToolHandler<UsageSummary> | undefined;
/** The Lambda entry (an AgentCore Gateway Lambda target). */
export const handler: ToolHandler<UsageSummary> = (event, context) => {
  fromEnv ??= usageSummaryHandler(s3LocationFromEnv(LEDGER_BUCKET_ENV, LEDGER_PREFIX_ENV, 'ledger/'));
  return fromEnv(event, context);
};

function parseQuery(args: Record<string, unknown>): { from: string; to: string; groupBy: GroupBy; group?: string; model?: string } {
  const from = day(args.from, 'from');
  const to = day(args.to, 'to');
  if (to < from) throw new ToolInputError(`to (${to}) is before from (${from}): give the first day as from`);
  const span = (Date.parse(to) - Date.parse(from)) / 86400000 + 1;
  if (span > MAX_DAYS) throw new ToolInputError(`the range has ${span} days; ask for at most ${MAX_DAYS} days at a time`);
  const groupBy = args.groupBy ?? 'group_model';
  if (groupBy !== 'group' && groupBy !== 'model' && groupBy !== 'group_model') throw new ToolInputError(`groupBy must be group, model or group_model, not ${JSON.stringify(groupBy)}`);
  const filter = (value: unknown, name: string) => {
    if (value === undefined || value === null || value === '') return undefined;
    if (typeof value !== 'string') throw new ToolInputError(`${name} must be a string`);
    return value;
  };
  return { from, to, groupBy, group: filter(args.group, 'group'), model: filter(args.model, 'model') };
}

function day(value: unknown, name: string): string {
  if (typeof value !== 'string' || !/^\d{4}-\d{2}-\d{2}$/.test(value) || new Date(`${value}T00:00:00Z`).toISOString().slice(0, 10) !== value) {
    throw new ToolInputError(`${name} must be a day as YYYY-MM-DD, e.g. "2026-11-30", not ${JSON.stringify(value)}`);
  }
  return value;
}

function daysBetween(from: string, to: string): string[] {
  const days: string[] = [];
  for (let t = Date.parse(`${from}T00:00:00Z`); t <= Date.parse(`${to}T00:00:00Z`); t += 86400000) days.push(new Date(t).toISOString().slice(0, 10));
  return days;
}

interface LedgerRecord {
  group: string;
  model: string;
  inputTokens: number;
  outputTokens: number;
  cost?: { amount: number; currency: string };
}

/**
 * The JSON records of a ledger object: one per line, or (Firehose without a newline delimiter)
 * objects written back to back on one line, split where one closes and the next opens.
 */
export function jsonRecords(text: string): string[] {
  const records: string[] = [];
  for (const line of text.split('\n')) {
    if (!line.trim()) continue;
    if (!/}\s*{/.test(line)) {
      records.push(line);
      continue;
    }
    let depth = 0;
    let inString = false;
    let start = -1;
    for (let i = 0; i < line.length; i++) {
      const c = line[i];
      if (inString) {
        if (c === '\\') i++;
        else if (c === '"') inString = false;
      } else if (c === '"') inString = true;
      else if (c === '{') {
        if (depth++ === 0) start = i;
      } else if (c === '}' && depth > 0 && --depth === 0) {
        records.push(line.slice(start, i + 1));
      }
    }
    // An unterminated object is kept as it is, to be counted as a line that is not a record.
    if (depth > 0) records.push(line.slice(start));
  }
  return records;
}

/** One ledger line: a settled request (`group` "default" when the caller has none). */
function parseRecord(line: string): LedgerRecord | undefined {
  let value: unknown;
  try {
    value = JSON.parse(line);
  } catch {
    return undefined;
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return undefined;
  const r = value as Record<string, unknown>;
  const count = (n: unknown) => (typeof n === 'number' && Number.isFinite(n) && n > 0 ? n : 0);
  const cost = r.cost as { amount?: unknown; currency?: unknown } | undefined;
  return {
    group: typeof r.group === 'string' && r.group ? r.group : 'default',
    model: typeof r.model === 'string' && r.model ? r.model : 'unknown',
    inputTokens: count(r.inputTokens),
    outputTokens: count(r.outputTokens),
    ...(cost && typeof cost.amount === 'number' && Number.isFinite(cost.amount) && typeof cost.currency === 'string' && { cost: { amount: cost.amount, currency: cost.currency } }),
  };
}

/** Money sums without binary-fraction drift (ledger amounts have at most 6 decimals). */
function round(a: number, b: number): number {
  return Math.round((a + b) * 1e6) / 1e6;
}
