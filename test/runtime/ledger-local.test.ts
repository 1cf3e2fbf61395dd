import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import OpenAI from 'openai';
import { ledgerDay, LEDGER_FIELDS, LedgerRecord } from '../../runtime/ledger/record';
import { BedrockFake } from '../fakes/bedrock-fake';
import { OpenAiUpstreamFake } from '../fakes/openai-upstream-fake';
import { cliEnv, runCli, RunningCli, startCli } from '../helpers/cli';

const PROMPT = 'confidential-merger-plan-7731';

/** The records of today's partition once `count` are there (the runner appends after each answer). */
async function recordsOf(dir: string, count: number): Promise<LedgerRecord[]> {
  const file = path.join(dir, `dt=${ledgerDay(Date.now())}`, 'requests.jsonl');
  for (let i = 0; i < 100; i++) {
    if (fs.existsSync(file)) {
      const lines = fs.readFileSync(file, 'utf8').split('\n').filter(Boolean);
      if (lines.length >= count) return lines.map((l) => JSON.parse(l));
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`${file} did not get ${count} records`);
}

describe('the local runners write the usage ledger as deployed', () => {
  let bedrock: BedrockFake;
  let provider: OpenAiUpstreamFake;
  const running: RunningCli[] = [];
  let dir: string;

  beforeAll(async () => {
    [bedrock, provider] = await Promise.all([new BedrockFake().start(), new OpenAiUpstreamFake('dashscope', 'sk-local').start()]);
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cnllm-ledger-'));
  });
  afterAll(async () => {
    await Promise.all(running.map((cli) => cli.stop()));
    await Promise.all([bedrock.stop(), provider.stop()]);
  });

  test('gateway:local: one record per request in <dir>/dt=<today>/, cross-border per route, no content even with logContent on; npm run usage reads it', async () => {
    const ledgerDir = path.join(dir, 'gateway');
    const cli = await startCli(
      'scripts/gateway-local.ts',
      [
        '--port', '0', '--bedrock-endpoint', bedrock.url, '--ledger-dir', ledgerDir,
        '-c', `routing.providers=[{"name":"dashscope","baseUrl":"${provider.url}/v1","models":[{"alias":"qwen-max","model":"qwen-max"}]}]`,
        '-c', 'gateway.logContent=true',
      ],
      /try: curl/,
      cliEnv({ CNLLM_KEY_DASHSCOPE: 'sk-local' }),
    );
    running.push(cli);
    expect(cli.stderr()).toContain(`usage ledger: ${ledgerDir}`);
    const url = /gateway on (http:\/\/[0-9.:]+)/.exec(cli.stderr())![1];
    const openai = new OpenAI({ baseURL: `${url}/v1`, apiKey: 'local', maxRetries: 0 });
    await openai.chat.completions.create({ model: 'nova-lite', messages: [{ role: 'user', content: `${PROMPT} hello` }] });
    await openai.chat.completions.create({ model: 'qwen-max', messages: [{ role: 'user', content: PROMPT }] });
    await expect(openai.chat.completions.create({ model: 'gpt-9', messages: [{ role: 'user', content: PROMPT }] })).rejects.toMatchObject({ status: 404 });

    const records = await recordsOf(ledgerDir, 3);
    expect(records.map((r) => [r.model, r.route, r.servedBy, r.crossBorder, r.status, r.errorCode])).toEqual([
      ['nova-lite', 'chat.completions', 'bedrock', true, 200, null],
      ['qwen-max', 'chat.completions', 'dashscope', false, 200, null],
      [null, 'chat.completions', null, null, 404, 'model_not_found'],
    ]);
    expect(records[0]).toEqual(expect.objectContaining({ group: 'default', inputTokens: 2, outputTokens: 4, cost: null }));
    expect(records[1]).toEqual(expect.objectContaining({ inputTokens: 7, outputTokens: 2 }));
    for (const r of records) expect(Object.keys(r)).toEqual([...LEDGER_FIELDS]);
    // The request log on stdout carries the prompt (logContent on); the ledger never does.
    expect(fs.readFileSync(path.join(ledgerDir, `dt=${ledgerDay(Date.now())}`, 'requests.jsonl'), 'utf8')).not.toContain(PROMPT);

    const today = ledgerDay(Date.now());
    const { stdout } = await runCli('scripts/usage.ts', ['--from', today, '--to', today, '--by', 'model', '--format', 'csv', '--dir', ledgerDir]);
    expect(stdout.split('\n').map((l) => l.split(',').slice(0, 5).join(','))).toEqual([
      'model,requests,errors,cross-border,input tokens',
      '(none),1,1,0,0',
      'nova-lite,1,0,1,2',
      'qwen-max,1,0,0,7',
      'total,3,1,1,9',
      '',
    ]);
  });

  test('door:local writes the same records (the caller\'s key name as identity); --no-ledger writes none', async () => {
    const ledgerDir = path.join(dir, 'door');
    const keysFile = path.join(dir, 'door-keys.json');
    const cli = await startCli('scripts/door-local.ts', ['--port', '0', '--bedrock-endpoint', bedrock.url, '--api-keys-file', keysFile, '--ledger-dir', ledgerDir], /node -e/);
    running.push(cli);
    const url = /streaming door on (http:\/\/[0-9.:]+)/.exec(cli.stderr())![1];
    const key = /^(cnllm_\S+)$/m.exec(cli.stderr())![1];
    const stream = await new OpenAI({ baseURL: `${url}/v1`, apiKey: key, maxRetries: 0 }).chat.completions.create({ model: 'nova-pro', messages: [{ role: 'user', content: PROMPT }], stream: true });
    for await (const _chunk of stream) void _chunk;
    const [record] = await recordsOf(ledgerDir, 1);
    expect(record).toEqual(expect.objectContaining({ identity: 'local-dev', model: 'nova-pro', stream: true, crossBorder: true, status: 200 }));

    const offDir = path.join(dir, 'off');
    const off = await startCli('scripts/door-local.ts', ['--port', '0', '--bedrock-endpoint', bedrock.url, '--api-keys-file', keysFile, '--ledger-dir', offDir, '--no-ledger'], /node -e/);
    running.push(off);
    expect(off.stderr()).toContain('usage ledger: off (--no-ledger)');
    const offUrl = /streaming door on (http:\/\/[0-9.:]+)/.exec(off.stderr())![1];
    await new OpenAI({ baseURL: `${offUrl}/v1`, apiKey: key, maxRetries: 0 }).chat.completions.create({ model: 'nova-pro', messages: [{ role: 'user', content: 'x' }] });
    expect(fs.existsSync(offDir)).toBe(false);
  });
});
