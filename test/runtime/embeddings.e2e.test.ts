import OpenAI from 'openai';
import { BedrockInvoker } from '../../runtime/gateway/bedrock';
import { createGateway } from '../../runtime/gateway/gateway';
import { OpenAiUpstream } from '../../runtime/gateway/openai-upstream';
import { GatewayRuntimeConfigSchema } from '../../runtime/gateway/runtime-config';
import { startLocalGateway } from '../../runtime/local/local-gateway';
import { startStreamingServer } from '../../runtime/server/server';
import { BedrockFake, countTokens, fakeRelevance, fakeVector } from '../fakes/bedrock-fake';
import { OpenAiUpstreamFake } from '../fakes/openai-upstream-fake';

/**
 * /v1/embeddings and /v1/rerank end to end: the official openai client (embeddings, incl. its
 * base64 decoding) and plain fetch (rerank) against both front doors (the Lambda host behind API
 * Gateway's proxy adapter, and the streaming door), with loopback stand-ins for Bedrock (InvokeModel,
 * Rerank API), a vLLM server and a provider.
 */

const MODELS = [
  { alias: 'nova-lite', modelId: 'us.amazon.nova-lite-v1:0' },
  { alias: 'titan-embed-v2', modelId: 'amazon.titan-embed-text-v2:0', kind: 'embed' },
  { alias: 'nova-2-embed', modelId: 'amazon.nova-2-multimodal-embeddings-v1:0', kind: 'embed' },
  { alias: 'cohere-embed-multilingual-v3', modelId: 'cohere.embed-multilingual-v3', kind: 'embed' },
  { alias: 'cohere-rerank-3-5', modelId: 'cohere.rerank-v3-5:0', kind: 'rerank' },
  { alias: 'amazon-rerank', modelId: 'amazon.rerank-v1:0', kind: 'rerank', region: 'us-west-2' },
  { alias: 'bge-m3', modelId: 'bge-m3', route: 'vllm-bge-m3', kind: 'embed' },
  { alias: 'bge-reranker-v2-m3', modelId: 'bge-reranker-v2-m3', route: 'vllm-bge-reranker', kind: 'rerank' },
  { alias: 'text-embedding-v3', modelId: 'text-embedding-v3', route: 'dashscope', kind: 'embed', maxInputsPerCall: 10 },
  { alias: 'gte-rerank', modelId: 'gte-rerank-v2', route: 'dashscope', kind: 'rerank' },
];

interface Door {
  url: string;
  close(): Promise<void>;
}

let bedrock: BedrockFake;
let vllmEmbed: OpenAiUpstreamFake;
let vllmRerank: OpenAiUpstreamFake;
let provider: OpenAiUpstreamFake;
let logs: Record<string, unknown>[];

const HOSTS = {
  /** The Lambda handler behind API Gateway's REST proxy adapter (buffered, as in China). */
  lambda: async (gateway: ReturnType<typeof createGateway>): Promise<Door> => startLocalGateway({ gateway, mode: 'buffered' }),
  /** The streaming door (ECS): its own HTTP server and bearer authentication. */
  door: async (gateway: ReturnType<typeof createGateway>): Promise<Door> => {
    const server = await startStreamingServer({
      gateway,
      authenticators: [{ authenticate: async (token) => (token === 'sk-team-rag' ? { caller: 'team-rag' } : undefined) }],
      port: 0,
      host: '127.0.0.1',
      log: () => undefined,
    });
    return { url: server.url, close: () => server.drain() };
  },
};

async function open(host: keyof typeof HOSTS, overrides: Record<string, unknown> = {}): Promise<{ door: Door; client: OpenAI; post: (path: string, body: unknown, headers?: Record<string, string>) => Promise<{ status: number; json: any }> }> {
  logs = [];
  const config = GatewayRuntimeConfigSchema.parse({
    bedrockEndpoint: bedrock.url,
    models: MODELS,
    upstreams: [
      { name: 'vllm-bge-m3', kind: 'vllm', baseUrl: `${vllmEmbed.url}/v1`, maxAttempts: 1 },
      { name: 'vllm-bge-reranker', kind: 'vllm', baseUrl: `${vllmRerank.url}/v1`, maxAttempts: 1 },
      { name: 'dashscope', kind: 'provider', baseUrl: `${provider.url}/v1`, maxAttempts: 1 },
    ],
    fallbacks: { 'bge-m3': ['nova-lite', 'titan-embed-v2'], 'nova-lite': ['titan-embed-v2'] },
    retry: { baseDelayMs: 1, maxDelayMs: 2 },
    embeddingConcurrency: 4,
    ...overrides,
  });
  const keys = new Map([
    ['vllm-bge-m3', 'vllm-key'],
    ['vllm-bge-reranker', 'vllm-key'],
    ['dashscope', 'sk-dashscope'],
  ]);
  const gateway = createGateway({
    config,
    bedrock: new BedrockInvoker(config, { get: async () => ({ accessKeyId: 'AKIAGLOBAL', secretAccessKey: 's' }), invalidate: () => undefined }, async () => undefined),
    upstreams: new Map(config.upstreams.map((u) => [u.name, new OpenAiUpstream(u, undefined, { get: async () => keys.get(u.name)! })])),
    log: (l) => logs.push(l),
  });
  const door = await HOSTS[host](gateway);
  const auth = { authorization: 'Bearer sk-team-rag' };
  return {
    door,
    client: new OpenAI({ baseURL: `${door.url}/v1`, apiKey: 'sk-team-rag', maxRetries: 0 }),
    post: async (path, body, headers = {}) => {
      const res = await fetch(`${door.url}${path}`, { method: 'POST', headers: { 'content-type': 'application/json', ...auth, ...headers }, body: JSON.stringify(body) });
      return { status: res.status, json: await res.json() };
    },
  };
}

beforeEach(async () => {
  bedrock = await new BedrockFake().start();
  vllmEmbed = await new OpenAiUpstreamFake('bge-m3', 'vllm-key').start();
  vllmRerank = await new OpenAiUpstreamFake('bge-reranker', 'vllm-key').start();
  provider = await new OpenAiUpstreamFake('dashscope', 'sk-dashscope').start();
  provider.maxEmbeddingInputs = 10;
});
afterEach(async () => {
  await Promise.all([bedrock.stop(), vllmEmbed.stop(), vllmRerank.stop(), provider.stop()]);
});

const TEXTS = ['宁夏的数据中心', 'Ningxia data centre', 'cold winters help cooling'];
const lastLog = () => logs.at(-1)!;

describe.each(['lambda', 'door'] as const)('embeddings through the %s host', (host) => {
  let rig: Awaited<ReturnType<typeof open>>;
  beforeEach(async () => {
    rig = await open(host);
  });
  afterEach(() => rig.door.close());

  test('Titan v2: one InvokeModel per text, in order, vectors base64-decoded by the SDK, usage metered', async () => {
    const res = await rig.client.embeddings.create({ model: 'titan-embed-v2', input: TEXTS, dimensions: 256 });
    expect(res.model).toBe('titan-embed-v2');
    expect(res.data.map((d) => d.index)).toEqual([0, 1, 2]);
    res.data.forEach((d, i) => expect(d.embedding).toEqual(fakeVector(TEXTS[i], 256)));
    const invokes = bedrock.requests.filter((r) => r.operation === 'invoke');
    expect(invokes.map((r) => r.modelId)).toEqual(Array(3).fill('amazon.titan-embed-text-v2:0'));
    expect(invokes.map((r) => r.body).sort((a, b) => a.inputText.localeCompare(b.inputText))).toEqual(
      [...TEXTS].sort((a, b) => a.localeCompare(b)).map((inputText) => ({ inputText, dimensions: 256, normalize: true })),
    );
    const tokens = TEXTS.reduce((n, t) => n + countTokens(t), 0);
    expect(res.usage).toEqual({ prompt_tokens: tokens, total_tokens: tokens });
    expect(lastLog()).toEqual(expect.objectContaining({ route: 'embeddings', model: 'titan-embed-v2', servedBy: 'bedrock', status: 200, inputTokens: tokens, InputTokens: tokens }));
    if (host === 'door') expect(lastLog().caller).toBe('team-rag');
  });

  test('encoding_format float: the vectors come as JSON numbers', async () => {
    const res = await rig.post('/v1/embeddings', { model: 'titan-embed-v2', input: 'hello', encoding_format: 'float' });
    expect(res.status).toBe(200);
    expect(res.json).toEqual({ object: 'list', data: [{ object: 'embedding', index: 0, embedding: fakeVector('hello', 1024) }], model: 'titan-embed-v2', usage: { prompt_tokens: 1, total_tokens: 1 } });
  });

  test('Nova multimodal embeddings: SINGLE_EMBEDDING per text, purpose from input_type, tokens from the response header', async () => {
    const res = await rig.client.embeddings.create({ model: 'nova-2-embed', input: TEXTS.slice(0, 2), dimensions: 384, input_type: 'search_query' } as never);
    res.data.forEach((d, i) => expect(d.embedding).toEqual(fakeVector(TEXTS[i], 384)));
    const bodies = bedrock.requests.map((r) => r.body);
    expect(bodies).toContainEqual({ schemaVersion: 'nova-multimodal-embed-v1', taskType: 'SINGLE_EMBEDDING', singleEmbeddingParams: { embeddingPurpose: 'GENERIC_RETRIEVAL', embeddingDimension: 384, text: { truncationMode: 'END', value: TEXTS[1] } } });
    expect(res.usage.prompt_tokens).toBe(countTokens(TEXTS[0]) + countTokens(TEXTS[1]));
  });

  test('Cohere embed: batches of 96 texts per call, reassembled in order', async () => {
    const texts = Array.from({ length: 100 }, (_, i) => `document number ${i}`);
    const res = await rig.client.embeddings.create({ model: 'cohere-embed-multilingual-v3', input: texts });
    expect(res.data).toHaveLength(100);
    res.data.forEach((d, i) => {
      expect(d.index).toBe(i);
      expect(d.embedding).toEqual(fakeVector(texts[i], 1024));
    });
    const calls = bedrock.requests.filter((r) => r.operation === 'invoke');
    expect(calls.map((c) => c.body.texts.length).sort((a, b) => a - b)).toEqual([4, 96]);
    expect(calls[0].body).toEqual(expect.objectContaining({ input_type: 'search_document', embedding_types: ['float'] }));
    expect(res.usage.prompt_tokens).toBe(300);
  });

  test('vLLM (--task embed): the request passes through with token ids, the served name and the upstream key; model and usage come back', async () => {
    const res = await rig.client.embeddings.create({ model: 'bge-m3', input: [[101, 2023, 102], [101, 102]] });
    expect(res.model).toBe('bge-m3');
    expect(res.data[0].embedding).toEqual(fakeVector('bge-m3:101,2023,102', 8));
    expect(vllmEmbed.requests[0]).toEqual({ body: expect.objectContaining({ model: 'bge-m3', input: [[101, 2023, 102], [101, 102]], encoding_format: 'base64' }), authorization: 'Bearer vllm-key' });
    expect(vllmEmbed.paths).toEqual(['/v1/embeddings']);
    expect(lastLog()).toEqual(expect.objectContaining({ servedBy: 'vllm-bge-m3', inputTokens: 5 }));
  });

  test('a provider that takes 10 inputs per call: 25 inputs go as 3 calls and come back as one list, in order', async () => {
    const texts = Array.from({ length: 25 }, (_, i) => `句子 ${i}`);
    const res = await rig.client.embeddings.create({ model: 'text-embedding-v3', input: texts, encoding_format: 'float' });
    expect(provider.requests.map((r) => r.body.input.length)).toEqual([10, 10, 5]);
    expect(provider.requests.every((r) => r.body.model === 'text-embedding-v3')).toBe(true);
    expect(res.data.map((d) => d.index)).toEqual(texts.map((_, i) => i));
    res.data.forEach((d, i) => expect(d.embedding).toEqual(fakeVector(`dashscope:${texts[i]}`, 8)));
    expect(res.usage).toEqual({ prompt_tokens: 50, total_tokens: 50 });
    expect(lastLog()).toEqual(expect.objectContaining({ servedBy: 'dashscope', inputTokens: 50 }));
  });

  test('residency: a china-only request never reaches Bedrock (0 connections); an in-China embedding route serves it', async () => {
    await expect(rig.client.embeddings.create({ model: 'titan-embed-v2', input: 'x' }, { headers: { 'x-cnllm-residency': 'china-only' } })).rejects.toMatchObject({
      status: 403,
      error: { code: 'residency_violation', param: 'model' },
    });
    const rerank = await rig.post('/v1/rerank', { model: 'cohere-rerank-3-5', query: 'q', documents: ['a'] }, { 'x-cnllm-residency': 'china-only' });
    expect(rerank.status).toBe(403);
    expect(bedrock.connections).toBe(0);
    const served = await rig.client.embeddings.create({ model: 'bge-m3', input: 'x' }, { headers: { 'x-cnllm-residency': 'china-only' } });
    expect(served.data).toHaveLength(1);
    expect(bedrock.connections).toBe(0);
  });

  test('a throttled text of a fanned-out batch is retried alone; the batch comes back whole and in order', async () => {
    bedrock.push({ kind: 'error', status: 429, type: 'ThrottlingException', message: 'Too many requests' });
    const res = await rig.client.embeddings.create({ model: 'titan-embed-v2', input: TEXTS, encoding_format: 'float' });
    res.data.forEach((d, i) => expect(d.embedding).toEqual(fakeVector(TEXTS[i], 1024)));
    expect(bedrock.requests.filter((r) => r.operation === 'invoke')).toHaveLength(4);
  });

  test('a fallback that cannot express the request (token ids on Bedrock) is skipped: the caller gets the first route\'s failure', async () => {
    vllmEmbed.push({ kind: 'status', status: 503 });
    await expect(rig.client.embeddings.create({ model: 'bge-m3', input: [[1, 2, 3]] })).rejects.toMatchObject({ status: 502, error: { code: 'upstream_error' } });
    expect(bedrock.connections).toBe(0);
  });

  test('a retryable failure of the vLLM route falls back to the next embedding model; a chat model in the chain is skipped', async () => {
    vllmEmbed.push({ kind: 'status', status: 503 });
    const res = await rig.client.embeddings.create({ model: 'bge-m3', input: 'fallback text', encoding_format: 'float' });
    expect(res.data[0].embedding).toEqual(fakeVector('fallback text', 1024));
    expect(lastLog()).toEqual(expect.objectContaining({ servedBy: 'bedrock', fallbacks: 1 }));
  });
});

describe('bad embedding requests: OpenAI-shaped 400s before any upstream is called', () => {
  let rig: Awaited<ReturnType<typeof open>>;
  beforeEach(async () => {
    rig = await open('lambda');
  });
  afterEach(() => rig.door.close());

  test.each([
    ['an empty string', { model: 'titan-embed-v2', input: '' }, 'input', 'empty_input'],
    ['an empty list', { model: 'titan-embed-v2', input: [] }, 'input', 'empty_input'],
    ['an empty string in a list', { model: 'titan-embed-v2', input: ['a', ''] }, 'input.1', 'empty_input'],
    ['more inputs than allowed', { model: 'bge-m3', input: Array(2049).fill('x') }, 'input', 'too_many_inputs'],
    ['a size Titan does not produce', { model: 'titan-embed-v2', input: 'x', dimensions: 300 }, 'dimensions', 'unsupported_dimensions'],
    ['dimensions for Cohere (fixed size)', { model: 'cohere-embed-multilingual-v3', input: 'x', dimensions: 1024 }, 'dimensions', 'unsupported_dimensions'],
    ['token ids for a Bedrock model', { model: 'titan-embed-v2', input: [1, 2, 3] }, 'input', 'unsupported_input'],
    ['a bad encoding_format', { model: 'titan-embed-v2', input: 'x', encoding_format: 'int8' }, 'encoding_format', 'invalid_value'],
    ['a chat model', { model: 'nova-lite', input: 'x' }, 'model', 'model_not_supported'],
  ])('%s', async (_what, body, param, code) => {
    const res = await rig.post('/v1/embeddings', body);
    expect(res.status).toBe(400);
    expect(res.json).toEqual({ error: { message: expect.any(String), type: 'invalid_request_error', param, code } });
    expect(bedrock.connections + vllmEmbed.connections).toBe(0);
  });

  test('the chat-model refusal names the embedding models; a chat request to an embedding model is refused the same way', async () => {
    const res = await rig.post('/v1/embeddings', { model: 'nova-lite', input: 'x' });
    expect(res.json.error.message).toBe(
      'The model "nova-lite" does not embed (it is a chat model: /v1/chat/completions); embedding models here are: titan-embed-v2, nova-2-embed, cohere-embed-multilingual-v3, bge-m3, text-embedding-v3.',
    );
    const chat = await rig.post('/v1/chat/completions', { model: 'titan-embed-v2', messages: [{ role: 'user', content: 'hi' }] });
    expect(chat.status).toBe(400);
    expect(chat.json.error).toEqual(expect.objectContaining({ code: 'model_not_supported', param: 'model' }));
    expect(chat.json.error.message).toContain('chat models here are: nova-lite');
  });

  test('a Bedrock refusal (ValidationException) is a 400 with Bedrock\'s reason', async () => {
    bedrock.push({ kind: 'error', status: 400, type: 'ValidationException', message: 'Malformed input request: too long' });
    const res = await rig.post('/v1/embeddings', { model: 'titan-embed-v2', input: 'x' });
    expect(res.status).toBe(400);
    expect(res.json.error).toEqual(expect.objectContaining({ code: 'bedrock_validation' }));
  });
});

describe.each(['lambda', 'door'] as const)('rerank through the %s host', (host) => {
  let rig: Awaited<ReturnType<typeof open>>;
  beforeEach(async () => {
    rig = await open(host);
  });
  afterEach(() => rig.door.close());

  const query = 'Ningxia data centre';
  const documents = ['Beijing is the capital', 'Ningxia hosts a data centre region', { text: 'a data centre in Ningxia, cooled by winter air' }];

  test('Cohere Rerank 3.5 through Bedrock\'s Rerank API in us-east-1: results by relevance, documents echoed, top_n', async () => {
    const res = await rig.post('/v1/rerank', { model: 'cohere-rerank-3-5', query, documents, top_n: 2 });
    expect(res.status).toBe(200);
    expect(res.json).toEqual({
      id: expect.stringMatching(/^rerank-/),
      model: 'cohere-rerank-3-5',
      results: [
        { index: 1, relevance_score: fakeRelevance(query, 'Ningxia hosts a data centre region'), document: { text: 'Ningxia hosts a data centre region' } },
        { index: 2, relevance_score: fakeRelevance(query, 'a data centre in Ningxia, cooled by winter air'), document: { text: 'a data centre in Ningxia, cooled by winter air' } },
      ],
      usage: {},
    });
    const sent = bedrock.requests.find((r) => r.operation === 'rerank')!;
    expect(sent.modelId).toBe('arn:aws:bedrock:us-east-1::foundation-model/cohere.rerank-v3-5:0');
    expect(sent.accessKeyId).toBe('AKIAGLOBAL');
    expect(sent.body.queries).toEqual([{ type: 'TEXT', textQuery: { text: query } }]);
    expect(sent.body.sources[2]).toEqual({ type: 'INLINE', inlineDocumentSource: { type: 'TEXT', textDocument: { text: 'a data centre in Ningxia, cooled by winter air' } } });
    expect(sent.body.rerankingConfiguration.bedrockRerankingConfiguration.numberOfResults).toBe(2);
    expect(lastLog()).toEqual(expect.objectContaining({ route: 'rerank', model: 'cohere-rerank-3-5', servedBy: 'bedrock', status: 200 }));
  });

  test('Amazon Rerank is called in us-west-2 (not offered in us-east-1); return_documents false leaves the texts out', async () => {
    const res = await rig.post('/rerank', { model: 'amazon-rerank', query, documents, return_documents: false });
    expect(res.json.results.map((r: { index: number }) => r.index)).toEqual([1, 2, 0]);
    expect(res.json.results.every((r: object) => !('document' in r))).toBe(true);
    expect(bedrock.requests.at(-1)!.modelId).toBe('arn:aws:bedrock:us-west-2::foundation-model/amazon.rerank-v1:0');
  });

  test('vLLM (--task score) and a provider: passed through to /v1/rerank with their names and keys, usage metered', async () => {
    const res = await rig.post('/v2/rerank', { model: 'bge-reranker-v2-m3', query, documents, top_n: 1 });
    expect(res.json).toEqual({ id: 'rerank-bge-reranker', model: 'bge-reranker-v2-m3', usage: { total_tokens: expect.any(Number) }, results: [expect.objectContaining({ index: 1 })] });
    expect(vllmRerank.requests[0]).toEqual({ body: expect.objectContaining({ model: 'bge-reranker-v2-m3', query, top_n: 1 }), authorization: 'Bearer vllm-key' });
    expect(vllmRerank.paths).toEqual(['/v1/rerank']);
    expect(lastLog()).toEqual(expect.objectContaining({ servedBy: 'vllm-bge-reranker', inputTokens: res.json.usage.total_tokens }));
    const fromProvider = await rig.post('/v1/rerank', { model: 'gte-rerank', query, documents });
    expect(fromProvider.json.model).toBe('gte-rerank');
    expect(provider.requests[0].body.model).toBe('gte-rerank-v2');
  });

  test('the Rerank API\'s throttling is retried; its validation error is a 400 with Bedrock\'s reason', async () => {
    bedrock.push({ kind: 'error', status: 429, type: 'ThrottlingException', message: 'Too many requests' });
    expect((await rig.post('/v1/rerank', { model: 'cohere-rerank-3-5', query, documents })).status).toBe(200);
    expect(bedrock.requests.filter((r) => r.operation === 'rerank')).toHaveLength(2);
    bedrock.push({ kind: 'error', status: 400, type: 'ValidationException', message: 'Input text is too long' });
    const refused = await rig.post('/v1/rerank', { model: 'cohere-rerank-3-5', query, documents });
    expect(refused).toEqual({ status: 400, json: { error: expect.objectContaining({ code: 'bedrock_validation', message: 'Bedrock rejected the request: Input text is too long' }) } });
  });

  test('bad rerank requests are OpenAI-shaped 400s', async () => {
    for (const [body, param] of [
      [{ model: 'cohere-rerank-3-5', query, documents: [] }, 'documents'],
      [{ model: 'cohere-rerank-3-5', query: '', documents }, 'query'],
      [{ model: 'cohere-rerank-3-5', query, documents: Array(1001).fill('d') }, 'documents'],
      [{ model: 'cohere-rerank-3-5', query, documents, top_n: 0 }, 'top_n'],
      [{ model: 'titan-embed-v2', query, documents }, 'model'],
    ] as const) {
      const res = await rig.post('/v1/rerank', body);
      expect(res.status).toBe(400);
      expect(res.json.error).toEqual(expect.objectContaining({ type: 'invalid_request_error', param }));
    }
    expect(bedrock.connections).toBe(0);
  });
});

test('/v1/models says what each model does', async () => {
  const rig = await open('lambda');
  try {
    const models = (await rig.client.models.list()).data as unknown as { id: string; kind: string }[];
    expect(Object.fromEntries(models.map((m) => [m.id, m.kind]))).toEqual({
      'nova-lite': 'chat',
      'titan-embed-v2': 'embed',
      'nova-2-embed': 'embed',
      'cohere-embed-multilingual-v3': 'embed',
      'cohere-rerank-3-5': 'rerank',
      'amazon-rerank': 'rerank',
      'bge-m3': 'embed',
      'bge-reranker-v2-m3': 'rerank',
      'text-embedding-v3': 'embed',
      'gte-rerank': 'rerank',
    });
  } finally {
    await rig.door.close();
  }
});
