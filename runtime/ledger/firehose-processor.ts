import { gunzipSync } from 'zlib';
import { ledgerDay, LedgerRecord, toLedgerRecord } from './record';

/**
 * The usage ledger's Firehose transformation Lambda. A CloudWatch Logs subscription filter on each
 * front door's log group sends the request-log lines to Firehose; each Firehose record is one
 * subscription envelope (gzip, then base64). This turns it into ledger records (JSON lines), or
 * drops it when it holds none (CloudWatch's control message, a line that is not a request).
 *
 * Kept out of the request path on purpose: the gateway only writes its log line, as before, so the
 * ledger adds no latency and no failure mode to a request; Firehose retries the delivery instead.
 */

/** What Firehose sends a transformation Lambda. */
export interface FirehoseTransformationEvent {
  readonly invocationId: string;
  readonly deliveryStreamArn?: string;
  readonly region?: string;
  readonly records: readonly { readonly recordId: string; readonly approximateArrivalTimestamp?: number; readonly data: string }[];
}

export interface FirehoseTransformationResult {
  readonly records: {
    readonly recordId: string;
    readonly result: 'Ok' | 'Dropped' | 'ProcessingFailed';
    readonly data?: string;
    readonly metadata?: { readonly partitionKeys: Record<string, string> };
  }[];
}

/** A CloudWatch Logs subscription envelope (after gunzip). */
interface SubscriptionEnvelope {
  messageType: 'DATA_MESSAGE' | 'CONTROL_MESSAGE';
  logGroup?: string;
  logEvents?: { id?: string; timestamp: number; message: string }[];
}

/** Set by the stack: `true` when the delivery stream partitions by the day this function names (dynamic partitioning). */
export const PARTITION_KEYS_ENV = 'LEDGER_PARTITION_KEYS';

/** The ledger records of one subscription envelope, in the order the lines were logged. */
export function recordsOfEnvelope(envelope: SubscriptionEnvelope): LedgerRecord[] {
  if (envelope.messageType !== 'DATA_MESSAGE') return [];
  const records: LedgerRecord[] = [];
  for (const event of envelope.logEvents ?? []) {
    // One event is normally one line; a runtime that joined lines into one event still yields each.
    for (const line of event.message.split('\n')) {
      const trimmed = line.trim();
      if (!trimmed.startsWith('{')) continue;
      let parsed: unknown;
      try {
        parsed = JSON.parse(trimmed);
      } catch {
        continue;
      }
      const record = toLedgerRecord(parsed, event.timestamp);
      if (record) records.push(record);
    }
  }
  return records;
}

/**
 * Transforms one batch. A record that cannot be read (not gzip, not an envelope) is ProcessingFailed,
 * so Firehose writes it under the error prefix for an operator to look at, instead of losing it.
 */
export function transform(event: FirehoseTransformationEvent, options: { partitionKeys: boolean }): FirehoseTransformationResult {
  return {
    records: event.records.map(({ recordId, data }) => {
      let envelope: SubscriptionEnvelope;
      try {
        envelope = JSON.parse(gunzipSync(Buffer.from(data, 'base64')).toString('utf8')) as SubscriptionEnvelope;
        if (typeof envelope !== 'object' || envelope === null || typeof envelope.messageType !== 'string') throw new Error('not a subscription envelope');
      } catch {
        return { recordId, result: 'ProcessingFailed' as const, data };
      }
      const records = recordsOfEnvelope(envelope);
      if (records.length === 0) return { recordId, result: 'Dropped' as const };
      const jsonLines = records.map((r) => `${JSON.stringify(r)}\n`).join('');
      return {
        recordId,
        result: 'Ok' as const,
        data: Buffer.from(jsonLines, 'utf8').toString('base64'),
        // One envelope is one output record, so one partition: the day of its first request. An envelope
        // holds seconds of logs; one that spans midnight UTC files its few later records a day early.
        ...(options.partitionKeys && { metadata: { partitionKeys: { dt: ledgerDay(records[0].time) } } }),
      };
    }),
  };
}

export async function handler(event: FirehoseTransformationEvent): Promise<FirehoseTransformationResult> {
  return transform(event, { partitionKeys: process.env[PARTITION_KEYS_ENV] === 'true' });
}
