import { S3Client } from '@aws-sdk/client-s3';
import { names } from '../lib/config/names';
import { DEFAULT_LOCAL_LEDGER_DIR } from '../runtime/ledger/local-ledger';
import { DayRange, parseDay, parseS3Url, readLocalLedger, readS3Ledger } from '../runtime/ledger/ledger-reader';
import { formatUsage, summarize, USAGE_DIMENSIONS, UsageDimension, usageSql } from '../runtime/ledger/usage-report';
import { OperatorError } from '../runtime/operator/operator-error';
import { configFromArgs, flagValue, profileClientConfig, runCli } from './cli-config';

const USAGE = `Usage: npm run usage -- --from YYYY-MM-DD --to YYYY-MM-DD [--by group|identity|model] [--format markdown|csv]
                       [--source s3://BUCKET/ledger/ | --s3 | --dir DIR] [--profile NAME] [--region REGION] [--endpoint URL]
                       [--sql] [--config FILE] [-c key=value ...]

Prints requests, errors, cross-border requests, tokens (input, output, cached), cost per currency,
unpriced requests and p50/p95 latency from the usage ledger, one row per group, identity or model,
for the UTC days --from to --to (both included).
  --source s3://B/P/   the ledger in S3 (the Gateway stack's output LedgerSource); --s3: the kit's own
                       ledger bucket as the config names it (<prefix>-ledger-<account>-<region>/ledger/)
  --dir DIR            a local runner's ledger (default ${DEFAULT_LOCAL_LEDGER_DIR})
  --profile, --region  China credentials and region for S3 (default: the SDK's chain, china.region);
                       --endpoint: an S3-compatible endpoint (path-style), e.g. a loopback stand-in
  --sql                print the same report as Athena SQL for the ledger workgroup instead`;

const FORMATS = ['markdown', 'csv'] as const;

function oneOf<T extends string>(value: string | undefined, allowed: readonly T[], flag: string, fallback: T): T {
  if (value === undefined) return fallback;
  if (!(allowed as readonly string[]).includes(value)) throw new OperatorError(`${flag} must be one of ${allowed.join(', ')}; got "${value}"`);
  return value as T;
}

async function main(args: string[]): Promise<void> {
  if (args.includes('--help') || args.includes('-h')) return console.log(USAGE);
  const from = flagValue(args, '--from');
  const to = flagValue(args, '--to');
  if (!from || !to) throw new OperatorError('--from and --to are required (UTC days, e.g. --from 2026-11-01 --to 2026-11-30)');
  let range: DayRange;
  try {
    range = { from: parseDay(from, '--from'), to: parseDay(to, '--to') };
  } catch (e) {
    throw new OperatorError((e as Error).message);
  }
  if (range.from > range.to) throw new OperatorError(`--from ${range.from} is after --to ${range.to}`);
  const by: UsageDimension = oneOf(flagValue(args, '--by'), USAGE_DIMENSIONS, '--by', 'group');
  const format = oneOf(flagValue(args, '--format'), FORMATS, '--format', 'markdown');

  const config = args.includes('--s3') || args.includes('--sql') ? configFromArgs(args) : undefined;
  if (args.includes('--sql')) {
    const n = names(config!);
    process.stdout.write(`-- Athena workgroup ${n.ledgerWorkGroup} (aws athena start-query-execution --work-group ${n.ledgerWorkGroup} --query-string file://usage.sql)\n`);
    process.stdout.write(usageSql({ database: n.ledgerDatabase, table: n.ledgerTable }, by, range));
    return;
  }

  const sourceFlag = flagValue(args, '--source');
  const s3Source = sourceFlag ? parseSourceFlag(sourceFlag) : config ? { bucket: names(config).ledgerBucket, prefix: 'ledger/' } : undefined;
  let records;
  if (s3Source) {
    const region = flagValue(args, '--region') ?? config?.china.region ?? configFromArgs(args).china.region;
    const profile = flagValue(args, '--profile');
    const endpoint = flagValue(args, '--endpoint');
    const clientConfig = profile ? await profileClientConfig(profile, region) : { region };
    const s3 = new S3Client({ ...clientConfig, ...(endpoint && { endpoint, forcePathStyle: true }) });
    records = await readS3Ledger(s3, s3Source, range);
  } else {
    try {
      records = readLocalLedger(flagValue(args, '--dir') ?? DEFAULT_LOCAL_LEDGER_DIR, range);
    } catch (e) {
      throw new OperatorError((e as Error).message);
    }
  }
  process.stdout.write(formatUsage(summarize(records, by), by, format));
  console.error(`${records.length} requests from ${range.from} to ${range.to} (UTC), by ${by}`);
}

function parseSourceFlag(value: string) {
  try {
    return parseS3Url(value);
  } catch (e) {
    throw new OperatorError((e as Error).message);
  }
}

runCli('usage', main);
