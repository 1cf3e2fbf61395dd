import * as fs from 'fs';
import * as path from 'path';
import { gunzipSync } from 'zlib';
import { GetObjectCommand, ListObjectsV2Command, S3Client } from '@aws-sdk/client-s3';
import { dayPartition, LedgerRecord } from './record';

/** A closed range of UTC days, `YYYY-MM-DD` each. */
export interface DayRange {
  readonly from: string;
  readonly to: string;
}

const DAY_MS = 86_400_000;
const DAY_PATTERN = /^\d{4}-\d{2}-\d{2}$/;

export function parseDay(value: string, what: string): string {
  if (!DAY_PATTERN.test(value) || Number.isNaN(Date.parse(`${value}T00:00:00Z`)) || new Date(`${value}T00:00:00Z`).toISOString().slice(0, 10) !== value) {
    throw new Error(`${what} must be a day as YYYY-MM-DD (UTC), e.g. 2026-11-01; got "${value}"`);
  }
  return value;
}

/**
 * The partitions that may hold records of the range: one day either side, because a record is filed
 * by the day it reached Firehose (up to the buffer interval after its request, so maybe the next day)
 * or, with request-day partitioning, by the first request of its batch (maybe the day before).
 */
export function partitionDays(range: DayRange): string[] {
  const days: string[] = [];
  const last = Date.parse(`${range.to}T00:00:00Z`) + DAY_MS;
  for (let t = Date.parse(`${range.from}T00:00:00Z`) - DAY_MS; t <= last; t += DAY_MS) days.push(new Date(t).toISOString().slice(0, 10));
  return days;
}

/** Whether a record's own time falls inside the range (the partitions are only a first cut). */
export function inRange(record: LedgerRecord, range: DayRange): boolean {
  const day = record.time.slice(0, 10);
  return day >= range.from && day <= range.to;
}

/** JSON lines of a ledger object, gzip (Firehose's compression) or plain; a line that is not a record is skipped. */
export function parseLedgerObject(bytes: Buffer): LedgerRecord[] {
  const text = (bytes.length >= 2 && bytes[0] === 0x1f && bytes[1] === 0x8b ? gunzipSync(bytes) : bytes).toString('utf8');
  const records: LedgerRecord[] = [];
  for (const line of text.split('\n')) {
    if (line.trim() === '') continue;
    try {
      const r = JSON.parse(line) as LedgerRecord;
      if (typeof r.time === 'string' && typeof r.status === 'number') records.push(r);
    } catch {
      // A torn last line (a local runner killed mid-write) or a foreign file: not a record.
    }
  }
  return records;
}

/** The records of the range from a local ledger directory (`<dir>/dt=YYYY-MM-DD/*`). */
export function readLocalLedger(dir: string, range: DayRange): LedgerRecord[] {
  if (!fs.existsSync(dir)) throw new Error(`no ledger directory at ${dir} (the local runners write one unless started with --no-ledger)`);
  const records: LedgerRecord[] = [];
  for (const day of partitionDays(range)) {
    const dayDir = path.join(dir, dayPartition(day));
    if (!fs.existsSync(dayDir)) continue;
    for (const name of fs.readdirSync(dayDir).sort()) {
      const file = path.join(dayDir, name);
      if (fs.statSync(file).isFile()) records.push(...parseLedgerObject(fs.readFileSync(file)).filter((r) => inRange(r, range)));
    }
  }
  return records;
}

/** `s3://bucket/prefix/` as bucket and key prefix (always ending in `/` unless empty). */
export function parseS3Url(url: string): { bucket: string; prefix: string } {
  const m = /^s3:\/\/([a-z0-9][a-z0-9.-]{1,61}[a-z0-9])(?:\/(.*))?$/.exec(url);
  if (!m) throw new Error(`--source must be s3://<bucket>/<prefix>/, e.g. s3://cnllm-ledger-111122223333-cn-northwest-1/ledger/; got "${url}"`);
  const prefix = m[2] ?? '';
  return { bucket: m[1], prefix: prefix === '' || prefix.endsWith('/') ? prefix : `${prefix}/` };
}

/**
 * The records of the range from the ledger in S3: lists each day's partition (`<prefix>dt=YYYY-MM-DD/`)
 * and reads its objects, a few at a time.
 */
export async function readS3Ledger(s3: S3Client, source: { bucket: string; prefix: string }, range: DayRange, concurrency = 8): Promise<LedgerRecord[]> {
  const keys: string[] = [];
  for (const day of partitionDays(range)) {
    let token: string | undefined;
    do {
      const page = await s3.send(new ListObjectsV2Command({ Bucket: source.bucket, Prefix: `${source.prefix}${dayPartition(day)}`, ContinuationToken: token }));
      keys.push(...(page.Contents ?? []).map((o) => o.Key!).filter((k) => !k.endsWith('/')));
      token = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (token);
  }
  const perKey: LedgerRecord[][] = new Array(keys.length);
  let next = 0;
  const worker = async () => {
    while (next < keys.length) {
      const i = next++;
      const res = await s3.send(new GetObjectCommand({ Bucket: source.bucket, Key: keys[i] }));
      perKey[i] = parseLedgerObject(Buffer.from(await res.Body!.transformToByteArray())).filter((r) => inRange(r, range));
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, keys.length) }, worker));
  return perKey.flat();
}
