import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import OpenAI from 'openai';
import { BedrockFake, fakeVector } from '../fakes/bedrock-fake';
import { OpenAiUpstreamFake } from '../fakes/openai-upstream-fake';
import { cliEnv, RunningCli, startCli } from '../helpers/cli';

/**
 * npm run gateway:local serves /v1/embeddings and /v1/rerank from the config as deployed: Bedrock
 * embedding and rerank models by catalog name, a vLLM model whose models[].task says embed (by URL),
 * a provider's rerank model.
 */
describe('npm run gateway:local: embeddings and rerank on every kind of route', () => {
  let bedrock: BedrockFake;
  let vllm: OpenAiUpstreamFake;
  let provider: OpenAiUpstreamFake;
  let cli: RunningCli;
  let url: string;

  beforeAll(async () => {
    [bedrock, vllm, provider] = await Promise.all([new BedrockFake().start(), new OpenAiUpstreamFake('bge-m3', 'vllm-key').start(), new OpenAiUpstreamFake('dashscope', 'sk-ds').start()]);
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cnllm-embed-local-'));
    const keys = path.join(dir, 'keys.json');
    fs.writeFileSync(keys, JSON.stringify({ 'vllm-bge-m3': 'vllm-key', dashscope: 'sk-ds' }), { mode: 0o600 });
    fs.writeFileSync(
      path.join(dir, 'config.json'),
      JSON.stringify({
        models: [{ id: 'BAAI/bge-m3', servedName: 'bge-m3', parametersBillions: 0.57, task: 'embed' }],
        bedrock: { models: ['nova-lite', 'titan-embed-v2', 'cohere-rerank-3-5'] },
        routing: { providers: [{ name: 'dashscope', baseUrl: `${provider.url}/v1`, models: [{ alias: 'gte-rerank', model: 'gte-rerank-v2', kind: 'rerank' }] }] },
      }),
    );
    cli = await startCli(
      'scripts/gateway-local.ts',
      ['--port', '0', '--bedrock-endpoint', bedrock.url, '--vllm', `bge-m3=${vllm.url}/v1`, '--upstream-keys', keys, '--config', path.join(dir, 'config.json')],
      /try: curl/,
      cliEnv(),
    );
    url = /gateway on (http:\/\/[0-9.:]+)/.exec(cli.stderr())![1];
  });
  afterAll(async () => {
    await cli?.stop();
    await Promise.all([bedrock.stop(), vllm.stop(), provider.stop()]);
  });

  test('each model is listed with its kind, and embeds or reranks on its route', async () => {
    const openai = new OpenAI({ baseURL: `${url}/v1`, apiKey: 'local', maxRetries: 0 });
    const models = (await openai.models.list()).data as unknown as { id: string; kind: string }[];
    expect(Object.fromEntries(models.map((m) => [m.id, m.kind]))).toEqual({ 'nova-lite': 'chat', 'titan-embed-v2': 'embed', 'cohere-rerank-3-5': 'rerank', 'gte-rerank': 'rerank', 'bge-m3': 'embed' });

    const titan = await openai.embeddings.create({ model: 'titan-embed-v2', input: ['一', 'two'], dimensions: 512 });
    expect(titan.data.map((d) => d.embedding)).toEqual([fakeVector('一', 512), fakeVector('two', 512)]);
    const local = await openai.embeddings.create({ model: 'bge-m3', input: 'hello' });
    expect(local.data[0].embedding).toEqual(fakeVector('bge-m3:hello', 8));
    expect(vllm.requests[0].authorization).toBe('Bearer vllm-key');

    const rerank = async (model: string) =>
      (await fetch(`${url}/v1/rerank`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ model, query: 'data centre', documents: ['a data centre', 'a river'] }) })).json() as Promise<any>;
    expect((await rerank('cohere-rerank-3-5')).results.map((r: { index: number }) => r.index)).toEqual([0, 1]);
    expect((await rerank('gte-rerank')).model).toBe('gte-rerank');
    expect(provider.requests[0]).toEqual({ body: expect.objectContaining({ model: 'gte-rerank-v2' }), authorization: 'Bearer sk-ds' });
  });
});
