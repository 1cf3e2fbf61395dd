import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import OpenAI from 'openai';
import { BedrockFake } from '../fakes/bedrock-fake';
import { OpenAiUpstreamFake } from '../fakes/openai-upstream-fake';
import { cliEnv, runCli, RunningCli, startCli } from '../helpers/cli';

/** gateway:local with every kind of route the deployed gateway has, keys from the environment and a file. */
describe('npm run gateway:local: providers, vLLM by URL, fallbacks and residency as deployed', () => {
  const PROVIDER_KEY = 'sk-provider-from-env';
  const VLLM_KEY = 'vllm-key-from-file';
  let bedrock: BedrockFake;
  let provider: OpenAiUpstreamFake;
  let vllm: OpenAiUpstreamFake;
  let dir: string;
  let keysFile: string;
  let cli: RunningCli | undefined;

  beforeAll(async () => {
    [bedrock, provider, vllm] = await Promise.all([new BedrockFake().start(), new OpenAiUpstreamFake('dashscope', PROVIDER_KEY).start(), new OpenAiUpstreamFake('vllm', VLLM_KEY).start()]);
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cnllm-local-'));
    keysFile = path.join(dir, 'upstream-keys.json');
    fs.writeFileSync(keysFile, JSON.stringify({ 'vllm-qwen2.5-1.5b-instruct': VLLM_KEY }), { mode: 0o600 });
    fs.writeFileSync(
      path.join(dir, 'config.json'),
      JSON.stringify({
        routing: {
          providers: [{ name: 'dashscope', baseUrl: `${provider.url}/v1`, models: [{ alias: 'qwen-max', model: 'qwen-max-latest' }] }],
          fallbacks: { 'qwen2.5-1.5b-instruct': ['qwen-max', 'nova-lite'] },
        },
      }),
    );
  });
  afterAll(async () => {
    await cli?.stop();
    await Promise.all([bedrock.stop(), provider.stop(), vllm.stop()]);
  });

  const start = (extraArgs: string[] = [], env = cliEnv({ CNLLM_KEY_DASHSCOPE: PROVIDER_KEY })) =>
    startCli(
      'scripts/gateway-local.ts',
      ['--port', '0', '--bedrock-endpoint', bedrock.url, '--vllm', `qwen2.5-1.5b-instruct=${vllm.url}/v1`, '--upstream-keys', keysFile, '--config', path.join(dir, 'config.json'), ...extraArgs],
      /try: curl/,
      env,
    );

  test('each route answers with its own key (provider from $CNLLM_KEY_<NAME>, vLLM from the keys file), and no key is in argv', async () => {
    cli = await start();
    const url = /gateway on (http:\/\/[0-9.:]+)/.exec(cli.stderr())![1];
    expect(cli.stderr()).toContain('qwen-max -> provider "dashscope"');
    expect(cli.stderr()).toContain('key from $CNLLM_KEY_DASHSCOPE');
    expect(cli.stderr()).toContain(`key from ${keysFile}`);
    expect(cli.stderr()).not.toContain(PROVIDER_KEY);
    expect(cli.child.spawnargs.join(' ')).not.toContain(PROVIDER_KEY);

    const openai = new OpenAI({ baseURL: `${url}/v1`, apiKey: 'local', maxRetries: 0 });
    const models = (await openai.models.list()).data as unknown as { id: string; route: string; cross_border: boolean }[];
    expect(models.map((m) => [m.id, m.route, m.cross_border])).toEqual(
      expect.arrayContaining([
        ['nova-lite', 'bedrock', true],
        ['qwen2.5-1.5b-instruct', 'vllm', false],
        ['qwen-max', 'provider', false],
      ]),
    );
    const viaProvider = await openai.chat.completions.create({ model: 'qwen-max', messages: [{ role: 'user', content: 'p' }] });
    expect(viaProvider.choices[0].message.content).toBe('dashscope: p');
    expect(provider.requests.at(-1)).toEqual(expect.objectContaining({ authorization: `Bearer ${PROVIDER_KEY}` }));
    expect(provider.requests.at(-1)!.body.model).toBe('qwen-max-latest');

    const viaVllm = await openai.chat.completions.create({ model: 'qwen2.5-1.5b-instruct', messages: [{ role: 'user', content: 'v' }] });
    expect(viaVllm.choices[0].message.content).toBe('vllm: v');
    expect(vllm.requests.at(-1)!.authorization).toBe(`Bearer ${VLLM_KEY}`);

    // routing.fallbacks from the config: vLLM overloaded (503) → the provider answers.
    vllm.push({ kind: 'status', status: 503 }, { kind: 'status', status: 503 });
    const fallback = await openai.chat.completions.create({ model: 'qwen2.5-1.5b-instruct', messages: [{ role: 'user', content: 'f' }] });
    expect(fallback.choices[0].message.content).toBe('dashscope: f');
    expect(await cli.stop()).toBe(0);
    cli = undefined;
  });

  test('routing.residency china-only refuses Bedrock locally too, with the same 403', async () => {
    cli = await start(['-c', 'routing.residency=china-only']);
    const url = /gateway on (http:\/\/[0-9.:]+)/.exec(cli.stderr())![1];
    const before = bedrock.requests.length;
    const res = await fetch(`${url}/v1/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ model: 'nova-lite', messages: [{ role: 'user', content: 'x' }] }) });
    expect(res.status).toBe(403);
    expect(((await res.json()) as { error: { code: string } }).error.code).toBe('residency_violation');
    expect(bedrock.requests.length).toBe(before);
    await cli.stop();
    cli = undefined;
  });

  test('without a key the provider is called without one and its 401 becomes a 502 that names the key; the banner says where to put it', async () => {
    cli = await start([], cliEnv());
    const url = /gateway on (http:\/\/[0-9.:]+)/.exec(cli.stderr())![1];
    expect(cli.stderr()).toContain('no key (set CNLLM_KEY_DASHSCOPE or --upstream-keys)');
    const res = await fetch(`${url}/v1/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ model: 'qwen-max', messages: [{ role: 'user', content: 'x' }] }) });
    expect(res.status).toBe(502);
    expect(((await res.json()) as { error: { code: string } }).error.code).toBe('upstream_access_denied');
    await cli.stop();
    cli = undefined;
  });

  test('a keys file other users can read, or one naming an unknown upstream, is refused before serving', async () => {
    const loose = path.join(dir, 'loose.json');
    fs.writeFileSync(loose, JSON.stringify({ dashscope: 'k' }), { mode: 0o644 });
    fs.chmodSync(loose, 0o644);
    const refused = await runCli('scripts/gateway-local.ts', ['--port', '0', '--bedrock-endpoint', bedrock.url, '--upstream-keys', loose]).catch((e) => e);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain(`keys file ${loose} can be read by other users (mode 644): chmod 600 ${loose}`);

    const typo = path.join(dir, 'typo.json');
    fs.writeFileSync(typo, JSON.stringify({ dashscop: 'k' }), { mode: 0o600 });
    const unknown = await runCli('scripts/gateway-local.ts', ['--port', '0', '--bedrock-endpoint', bedrock.url, '--upstream-keys', typo, '--config', path.join(dir, 'config.json')]).catch((e) => e);
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toContain('names "dashscop", which is not an upstream of this run (upstreams: dashscope)');
  });

  test('--vllm needs NAME=URL, NAME a served model of the config', async () => {
    const bad = await runCli('scripts/gateway-local.ts', ['--vllm', 'qwen']).catch((e) => e);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toContain('--vllm qwen: expected NAME=URL');
    const unserved = await runCli('scripts/gateway-local.ts', ['--vllm', 'llama=http://127.0.0.1:9/v1']).catch((e) => e);
    expect(unserved.stderr).toContain('"llama" is not a served model of the config (models[].servedName: qwen2.5-1.5b-instruct)');
  });
});
