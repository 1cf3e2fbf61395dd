/** The usage ledger: one record per request in S3 (Firehose from the front doors' request logs), queried with Athena. */
import { z } from 'zod';
import { flag, int } from './primitives';

export const ledgerSection = z
  .object({
    /** Write the ledger (bucket, Firehose, Glue table, Athena workgroup in the Gateway stack). @default true */
    enabled: flag(true),
    /** Days ledger records are kept in S3 before they expire; 0 keeps them. @default 400 (13 months: a month can be compared with the same month a year before) */
    retentionDays: int(0, 3653, 'days ledger records are kept; 0 keeps them').default(400),
    /**
     * Which day partition (`ledger/dt=YYYY-MM-DD/`) a record is filed under. `arrival-day`: the day
     * it reached Firehose (Firehose's timestamp prefix; a request in the last buffer interval before
     * midnight UTC lands in the next day). `request-day`: the day of the request, named by the
     * processor (Firehose dynamic partitioning, not confirmed in the China regions, and billed per
     * GB). Queries (npm run usage, the Athena examples) read one day either side, so both are exact.
     * @default arrival-day
     */
    partitionBy: z.enum(['arrival-day', 'request-day'], { error: 'must be arrival-day or request-day' }).default('arrival-day'),
    /** Longest time Firehose buffers records before it writes an object. @default 300 */
    bufferSeconds: int(60, 900, 'Firehose buffer interval').default(300),
    /** Most data Firehose buffers before it writes an object (request-day partitioning needs at least 64). @default 64 */
    bufferMiB: int(1, 128, 'Firehose buffer size in MiB').default(64),
    /** Days Athena query results are kept in the ledger bucket. @default 30 */
    athenaResultsDays: int(1, 3653, 'days Athena results are kept').default(30),
    /** Athena cancels a query of the workgroup that would scan more than this. @default 10 */
    athenaMaxScanGiB: int(1, 10240, 'GiB one Athena query may scan').default(10),
  })
  .strict()
  .superRefine((l, ctx) => {
    if (l.partitionBy === 'request-day' && l.bufferMiB < 64) {
      ctx.addIssue({ code: 'custom', path: ['bufferMiB'], message: 'must be at least 64 with partitionBy request-day (Firehose dynamic partitioning needs a 64 MiB buffer); raise it or use arrival-day' });
    }
  })
  .prefault({});
