import { execFile } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { promisify } from 'util';
import OpenAI from 'openai';
import { stsBearerToken } from '../../runtime/client/sts-token';
import { AwsPartitionFake } from '../fakes/aws-partition-fake';
import { BedrockFake } from '../fakes/bedrock-fake';
import { cliEnv, REPO_ROOT, runCli, RunningCli, startCli } from '../helpers/cli';

const CHINA_ACCOUNT = '111122223333';

describe('npm run door:local: the streaming door server on localhost with a local key file', () => {
  let bedrock: BedrockFake;
  let sts: AwsPartitionFake;
  let door: RunningCli | undefined;
  let keysFile: string;

  beforeAll(async () => {
    bedrock = await new BedrockFake().start();
    sts = await new AwsPartitionFake('aws-cn', CHINA_ACCOUNT).addKey('AKIACHINADEV', 'dev').start();
    keysFile = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'cnllm-door-')), 'keys', 'door-api-keys.json');
  });
  afterAll(async () => {
    await door?.stop();
    await Promise.all([bedrock.stop(), sts.stop()]);
  });

  test('first start issues a key; the official openai client streams with it; issue-key, revoke-key and list-keys work while it runs', async () => {
    door = await startCli(
      'scripts/door-local.ts',
      ['--port', '0', '--bedrock-endpoint', bedrock.url, '--api-keys-file', keysFile, '--sts-endpoint', sts.url, '-c', 'gateway.streamingDoor.apiKeyCacheSeconds=0'],
      /node -e/,
    );
    const banner = door.stderr();
    const url = /streaming door on (http:\/\/[0-9.:]+)/.exec(banner)![1];
    const firstKey = /^(cnllm_\S+)$/m.exec(banner)![1];
    expect(banner).toContain('issued an API key for caller local-dev');
    // The file keeps hashes only, readable by its owner alone.
    expect(fs.readFileSync(keysFile, 'utf8')).not.toContain(firstKey);
    expect(fs.statSync(keysFile).mode & 0o777).toBe(0o600);

    bedrock.push({ kind: 'reply', text: 'one two three four', interTokenDelayMs: 30 });
    const openai = new OpenAI({ baseURL: `${url}/v1`, apiKey: firstKey, maxRetries: 0 });
    const stream = await openai.chat.completions.create({ model: 'nova-lite', messages: [{ role: 'user', content: 'stream' }], stream: true });
    const arrivals: number[] = [];
    let text = '';
    for await (const chunk of stream) {
      const delta = chunk.choices[0]?.delta?.content;
      if (delta) {
        text += delta;
        arrivals.push(Date.now());
      }
    }
    expect(text).toBe('one two three four');
    // Real streaming: the tokens arrive spread over the upstream's delays, not in one burst at the end.
    expect(arrivals.length).toBeGreaterThan(1);
    expect(arrivals.at(-1)! - arrivals[0]).toBeGreaterThanOrEqual(50);

    // The banner's own examples, run as printed: curl streams, the node/OpenAI SDK one-liner answers.
    const run = (command: string) => promisify(execFile)('sh', ['-c', command], { cwd: REPO_ROOT, env: cliEnv({ CNLLM_API_KEY: firstKey }) });
    const curl = await run(/^ {2}(curl -sN .*)$/m.exec(banner)![1]);
    expect(curl.stdout).toMatch(/^data: \{.*"object":"chat\.completion\.chunk"/m);
    expect(curl.stdout.trim().endsWith('data: [DONE]')).toBe(true);
    expect((await run(/^ {2}(node -e .*)$/m.exec(banner)![1])).stdout).toBe('You said: hello\n');

    await expect(new OpenAI({ baseURL: `${url}/v1`, apiKey: 'sk-not-ours', maxRetries: 0 }).models.list()).rejects.toMatchObject({ status: 401, error: { code: 'invalid_api_key' } });

    const issued = await runCli('scripts/door-local.ts', ['issue-key', '--caller', 'team-search', '--api-keys-file', keysFile]);
    const key = /^(cnllm_\S+)$/m.exec(issued.stdout)![1];
    const keyId = key.split('_')[1];
    const reply = await new OpenAI({ baseURL: `${url}/v1`, apiKey: key, maxRetries: 0 }).chat.completions.create({ model: 'nova-pro', messages: [{ role: 'user', content: 'hi' }] });
    expect(reply.choices[0].message.content).toBe('You said: hi');
    expect((await runCli('scripts/door-local.ts', ['list-keys', '--api-keys-file', keysFile])).stdout).toMatch(new RegExp(`^${keyId}  team-search  issued \\S+$`, 'm'));

    await runCli('scripts/door-local.ts', ['revoke-key', '--key-id', keyId, '--api-keys-file', keysFile]);
    await expect(new OpenAI({ baseURL: `${url}/v1`, apiKey: key, maxRetries: 0 }).models.list()).rejects.toMatchObject({ status: 401 });
    expect((await runCli('scripts/door-local.ts', ['list-keys', '--api-keys-file', keysFile])).stdout).toMatch(new RegExp(`^${keyId}  team-search  issued \\S+  revoked \\S+$`, 'm'));
    const missing = await runCli('scripts/door-local.ts', ['revoke-key', '--key-id', 'nosuchkey000', '--api-keys-file', keysFile]).catch((e) => e);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toContain(`door:local: no key nosuchkey000 in ${keysFile}`);

    // STS tokens (--sts-endpoint): China IAM credentials, no shared secret; the caller is the IAM ARN.
    const token = await stsBearerToken({ region: 'cn-northwest-1', audience: 'cnllm', credentials: { accessKeyId: 'AKIACHINADEV', secretAccessKey: 'dev' }, endpoint: sts.url });
    const viaSts = await new OpenAI({ baseURL: `${url}/v1`, apiKey: token, maxRetries: 0 }).chat.completions.create({ model: 'nova-lite', messages: [{ role: 'user', content: 'sts' }] });
    expect(viaSts.choices[0].message.content).toBe('You said: sts');

    expect(await door.stop()).toBe(0);
    door = undefined;
  });

  test('a second start with an active key in the file issues none', async () => {
    door = await startCli('scripts/door-local.ts', ['--port', '0', '--bedrock-endpoint', bedrock.url, '--api-keys-file', keysFile], /node -e/);
    expect(door.stderr()).not.toContain('issued an API key');
    expect(door.stderr()).not.toMatch(/^cnllm_/m);
    await door.stop();
    door = undefined;
  });
});
