import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { gzipSync } from 'zlib';
import { CreateBucketCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { partitionDays, readS3Ledger } from '../../runtime/ledger/ledger-reader';
import { LedgerRecord } from '../../runtime/ledger/record';
import { formatUsage, summarize } from '../../runtime/ledger/usage-report';
import { cliEnv, runCli } from '../helpers/cli';

// s3rver ships no type declarations: the part of its API these tests use.
// eslint-disable-next-line @typescript-eslint/no-require-imports
const S3rver: new (options: object) => { run(): Promise<{ port: number }>; close(): Promise<void> } = require('s3rver');

const record = (over: Partial<LedgerRecord>): LedgerRecord => ({
  time: '2026-11-03T10:00:00.000Z',
  requestId: 'r',
  identity: 'arn:aws-cn:iam::111122223333:role/team-search',
  group: 'search',
  model: 'nova-lite',
  route: 'chat.completions',
  servedBy: 'bedrock',
  crossBorder: true,
  stream: false,
  inputTokens: 100,
  outputTokens: 20,
  cachedTokens: 0,
  cost: 0.5,
  currency: 'CNY',
  latencyMs: 100,
  status: 200,
  errorCode: null,
  ...over,
});
const jsonLines = (records: LedgerRecord[]) => records.map((r) => `${JSON.stringify(r)}\n`).join('');

/**
 * November's ledger as Firehose leaves it: gzip objects under ledger/dt=.../, a late record of Oct 31 filed
 * under Nov 1 (arrival day), a Nov 30 record filed under Dec 1, and records outside the month on both sides.
 */
const OBJECTS: Record<string, LedgerRecord[]> = {
  'ledger/dt=2026-10-31/cnllm-ledger-1-2026-10-31-10-00-00-a.gz': [record({ time: '2026-10-31T10:00:00.000Z', group: 'october', cost: 99 })],
  'ledger/dt=2026-11-01/cnllm-ledger-1-2026-11-01-00-03-00-b.gz': [
    record({ time: '2026-10-31T23:58:00.000Z', group: 'october', cost: 99 }),
    record({ time: '2026-11-01T00:01:00.000Z', latencyMs: 300, inputTokens: 50, cachedTokens: 40 }),
  ],
  'ledger/dt=2026-11-15/cnllm-ledger-1-2026-11-15-08-00-00-c.gz': [
    record({ time: '2026-11-15T08:00:00.000Z', group: 'ads', identity: 'key-ads-1', model: 'qwen-max', servedBy: 'dashscope', crossBorder: false, cost: 0.25 }),
    record({ time: '2026-11-15T08:00:01.000Z', group: 'ads', identity: 'key-ads-1', model: 'qwen-max', servedBy: 'dashscope', crossBorder: false, status: 429, errorCode: 'rate_limit_exceeded', cost: null, currency: null, outputTokens: 0, latencyMs: 900 }),
    record({ time: '2026-11-15T09:00:00.000Z', group: 'search', cost: 0.002, currency: 'USD', latencyMs: 200 }),
  ],
  'ledger/dt=2026-12-01/cnllm-ledger-1-2026-12-01-00-02-00-d.gz': [record({ time: '2026-11-30T23:59:30.000Z', latencyMs: 500 }), record({ time: '2026-12-01T00:01:00.000Z', group: 'december', cost: 99 })],
  // Outside the partitions the range can touch: never listed.
  'ledger/dt=2026-12-02/cnllm-ledger-1-2026-12-02-00-02-00-e.gz': [record({ time: '2026-11-30T12:00:00.000Z', group: 'misfiled' })],
  // Firehose's failures sit beside the ledger, not in it.
  'ledger-errors/processing-failed/dt=2026-11-15/x': [record({ group: 'error-output' })],
};

describe('npm run usage: the ledger in S3 (s3rver, loopback) and local files', () => {
  let server: InstanceType<typeof S3rver>;
  let endpoint: string;
  let s3: S3Client;
  let dir: string;

  beforeAll(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cnllm-usage-'));
    server = new S3rver({ address: '127.0.0.1', port: 0, silent: true, directory: path.join(dir, 's3') });
    const { port } = await server.run();
    endpoint = `http://127.0.0.1:${port}`;
    s3 = new S3Client({ region: 'cn-northwest-1', endpoint, forcePathStyle: true, credentials: { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' } });
    await s3.send(new CreateBucketCommand({ Bucket: 'cnllm-ledger-111122223333-cn-northwest-1' }));
    for (const [key, records] of Object.entries(OBJECTS)) {
      await s3.send(new PutObjectCommand({ Bucket: 'cnllm-ledger-111122223333-cn-northwest-1', Key: key, Body: gzipSync(jsonLines(records)) }));
    }
    // The same records as a local runner writes them: plain JSON lines per day.
    for (const [key, records] of Object.entries(OBJECTS)) {
      if (!key.startsWith('ledger/')) continue;
      const day = /dt=([\d-]+)/.exec(key)![1];
      fs.mkdirSync(path.join(dir, 'local', `dt=${day}`), { recursive: true });
      fs.appendFileSync(path.join(dir, 'local', `dt=${day}`, 'requests.jsonl'), jsonLines(records));
    }
  });
  afterAll(async () => {
    s3?.destroy();
    await server?.close();
  });

  const S3_ENV = cliEnv({ AWS_ACCESS_KEY_ID: 'S3RVER', AWS_SECRET_ACCESS_KEY: 'S3RVER' });
  const NOVEMBER = ['--from', '2026-11-01', '--to', '2026-11-30'];

  test('by group from S3: the month\'s records only (one partition either side read, times filtered), cost per currency, errors, p50', async () => {
    const { stdout } = await runCli('scripts/usage.ts', [...NOVEMBER, '--by', 'group', '--source', 's3://cnllm-ledger-111122223333-cn-northwest-1/ledger/', '--endpoint', endpoint], S3_ENV);
    expect(stdout).toBe(
      [
        '| group | requests | errors | cross-border | input tokens | output tokens | cached tokens | cost CNY | cost USD | unpriced | p50 latency ms | p95 latency ms |',
        '|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|',
        '| search | 3 | 0 | 3 | 250 | 60 | 40 | 1.0000 | 0.0020 | 0 | 300 | 500 |',
        '| ads | 2 | 1 | 0 | 200 | 20 | 0 | 0.2500 | 0.0000 | 1 | 100 | 900 |',
        '| total | 5 | 1 | 3 | 450 | 80 | 40 | 1.2500 | 0.0020 | 1 | 300 | 900 |',
        '',
      ].join('\n'),
    );
  });

  test('by model as CSV from a local ledger directory gives the same figures', async () => {
    const { stdout } = await runCli('scripts/usage.ts', [...NOVEMBER, '--by', 'model', '--format', 'csv', '--dir', path.join(dir, 'local')]);
    expect(stdout).toBe(
      [
        'model,requests,errors,cross-border,input tokens,output tokens,cached tokens,cost CNY,cost USD,unpriced,p50 latency ms,p95 latency ms',
        'nova-lite,3,0,3,250,60,40,1.0000,0.0020,0,300,500',
        'qwen-max,2,1,0,200,20,0,0.2500,0.0000,1,100,900',
        'total,5,1,3,450,80,40,1.2500,0.0020,1,300,900',
        '',
      ].join('\n'),
    );
  });

  test('a one-day range by identity; plain (not gzip) objects in S3 read as well', async () => {
    await s3.send(new PutObjectCommand({ Bucket: 'cnllm-ledger-111122223333-cn-northwest-1', Key: 'ledger/dt=2026-11-16/plain.json', Body: jsonLines([record({ time: '2026-11-15T23:59:00.000Z', identity: 'key-ads-2', group: 'ads' })]) }));
    const records = await readS3Ledger(s3, { bucket: 'cnllm-ledger-111122223333-cn-northwest-1', prefix: 'ledger/' }, { from: '2026-11-15', to: '2026-11-15' });
    expect(formatUsage(summarize(records, 'identity'), 'identity', 'csv').split('\n').map((l) => l.split(',').slice(0, 3).join(','))).toEqual([
      'identity,requests,errors',
      'key-ads-1,2,1',
      'arn:aws-cn:iam::111122223333:role/team-search,1,0',
      'key-ads-2,1,0',
      'total,4,1',
      '',
    ]);
    expect(partitionDays({ from: '2026-11-15', to: '2026-11-15' })).toEqual(['2026-11-14', '2026-11-15', '2026-11-16']);
  });

  test('bad arguments fail with one line naming the flag', async () => {
    const fail = (args: string[]) => runCli('scripts/usage.ts', args).then(() => '', (e: { stderr: string }) => e.stderr.trim());
    expect(await fail(['--from', '2026-11-31', '--to', '2026-12-01'])).toBe('usage: --from must be a day as YYYY-MM-DD (UTC), e.g. 2026-11-01; got "2026-11-31"');
    expect(await fail([...NOVEMBER, '--by', 'team'])).toBe('usage: --by must be one of group, identity, model; got "team"');
    expect(await fail(['--from', '2026-11-30', '--to', '2026-11-01'])).toBe('usage: --from 2026-11-30 is after --to 2026-11-01');
    expect(await fail([...NOVEMBER, '--source', 'https://example.com/ledger'])).toMatch(/^usage: --source must be s3:\/\/<bucket>\/<prefix>\//);
    expect(await fail([...NOVEMBER, '--dir', path.join(dir, 'nothing-here')])).toMatch(/^usage: no ledger directory at /);
  });
});
