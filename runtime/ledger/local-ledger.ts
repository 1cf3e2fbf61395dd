import * as fs from 'fs';
import * as path from 'path';
import { dayPartition, ledgerDay, toLedgerRecord } from './record';

/** Where the local runners keep the ledger unless told otherwise (gitignored with the rest of .cnllm-local). */
export const DEFAULT_LOCAL_LEDGER_DIR = path.join('.cnllm-local', 'ledger');

/**
 * The usage ledger of a local run: the same records the deployed Firehose processor writes, as
 * JSON lines in the same day layout (`<dir>/dt=YYYY-MM-DD/requests.jsonl`), so `npm run usage`
 * reads a local run and a deployed kit alike.
 */
export class LocalLedger {
  constructor(readonly dir: string) {}

  /**
   * Appends the record of a request-log line (other lines are ignored). Synchronous: the line is
   * written after the answer went out, and a runner stopped with Ctrl-C loses nothing it served.
   */
  write(line: Record<string, unknown>, now = Date.now()): void {
    const record = toLedgerRecord(line, now);
    if (!record) return;
    const dayDir = path.join(this.dir, dayPartition(ledgerDay(record.time)));
    fs.mkdirSync(dayDir, { recursive: true });
    fs.appendFileSync(path.join(dayDir, 'requests.jsonl'), `${JSON.stringify(record)}\n`);
  }
}

/** The request log of a local runner: the line on stdout as deployed, and its record in the local ledger. */
export function withLocalLedger(ledger: LocalLedger | undefined, log: (line: Record<string, unknown>) => void = (line) => process.stdout.write(`${JSON.stringify(line)}\n`)) {
  if (!ledger) return log;
  return (line: Record<string, unknown>) => {
    log(line);
    try {
      ledger.write(line);
    } catch (e) {
      // A full disk or a read-only directory must not fail the request that was already answered.
      process.stderr.write(`${JSON.stringify({ level: 'warn', msg: 'local ledger write failed', dir: ledger.dir, error: (e as Error).message })}\n`);
    }
  };
}
