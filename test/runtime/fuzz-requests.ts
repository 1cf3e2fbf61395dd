/**
 * A seeded, deterministic generator of malformed gateway requests: the same seed gives the same
 * requests on every run, so a failure found once is found again.
 */

/** mulberry32: small, fast, good enough to spread cases; deterministic per seed. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export interface FuzzRequest {
  /** What the case is, for the failure report. */
  readonly kind: string;
  readonly method: string;
  /** Path as sent on the wire (may carry malformed percent-encoding). */
  readonly path: string;
  readonly headers: Record<string, string>;
  readonly body?: string;
  /** Socket hosts only: announce more bytes than are sent, then close the connection. */
  readonly partialBody?: boolean;
}

const PNG_1X1 = 'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg==';

/** Values of every JSON type and the awkward corners of each. */
const ODD_VALUES: unknown[] = [
  null,
  true,
  false,
  0,
  -1,
  1e308,
  -1e308,
  5e-324,
  2 ** 53 + 1,
  1.5,
  '',
  ' ',
  'x'.repeat(10_000),
  '\u0000',
  '\ud800',
  '\udfff\ud800',
  '𝕳𝖊𝖑𝖑𝖔 🐉 中文 العربية',
  '\u202e\u200b',
  '%E0%A4%A',
  '../../etc/passwd',
  'data:image/png;base64,!!!',
  '__proto__',
  [],
  [null],
  [[[]]],
  {},
  { __proto__: { polluted: true } },
  { constructor: { prototype: { x: 1 } } },
  { type: 'text' },
  { role: 'user' },
];

const MODELS = ['nova-lite', 'us.amazon.nova-lite-v1:0', 'qwen', 'unknown-model', '', ' nova-lite', 'NOVA-LITE', 'nova-lite\u0000', '中文模型'];

function validChat(random: () => number): Record<string, unknown> {
  const stream = random() < 0.4;
  return {
    model: MODELS[Math.floor(random() * 3)],
    messages: [
      { role: 'system', content: 'Be brief.' },
      { role: 'user', content: random() < 0.5 ? 'hello' : [{ type: 'text', text: 'look' }, { type: 'image_url', image_url: { url: `data:image/png;base64,${PNG_1X1}` } }] },
    ],
    ...(random() < 0.3 && { max_tokens: 16, temperature: 0.5 }),
    ...(random() < 0.3 && { tools: [{ type: 'function', function: { name: 'f', parameters: { type: 'object', properties: { a: { type: 'string' } } } } }], tool_choice: 'auto' }),
    ...(stream && { stream: true, ...(random() < 0.5 && { stream_options: { include_usage: true } }) }),
  };
}

function validConverse(random: () => number): Record<string, unknown> {
  return {
    messages: [{ role: 'user', content: [{ text: 'hi' }, ...(random() < 0.3 ? [{ image: { format: 'png', source: { bytes: PNG_1X1 } } }] : [])] }],
    ...(random() < 0.3 && { system: [{ text: 'short' }] }),
    ...(random() < 0.3 && { inferenceConfig: { maxTokens: 10, temperature: 0.1 } }),
    ...(random() < 0.2 && { additionalModelRequestFields: { top_k: 5 } }),
  };
}

/** Every path to a value inside `root` (objects and arrays), root excluded. */
function paths(root: unknown): (string | number)[][] {
  const out: (string | number)[][] = [];
  const stack: { value: unknown; path: (string | number)[] }[] = [{ value: root, path: [] }];
  while (stack.length > 0) {
    const { value, path } = stack.pop()!;
    if (value === null || typeof value !== 'object') continue;
    for (const [k, v] of Object.entries(value)) {
      const p = [...path, Array.isArray(value) ? Number(k) : k];
      out.push(p);
      stack.push({ value: v, path: p });
    }
  }
  return out;
}

function setAt(root: any, path: (string | number)[], value: unknown): void {
  let node = root;
  for (const key of path.slice(0, -1)) node = node[key];
  Object.defineProperty(node, path[path.length - 1], { value, enumerable: true, writable: true, configurable: true });
}

/** Names every JavaScript object answers to: a plain table looked up by a caller's string finds a function there. */
const PROTOTYPE_NAMES = ['__proto__', 'constructor', 'toString', 'hasOwnProperty', 'valueOf', 'isPrototypeOf'];

/**
 * The body with a prototype name where a caller chooses a name: as an extra field, or as any string
 * value (a role, a part type, a format, a model, an effort). JSON.parse makes "__proto__" an own key.
 */
function withPrototypeName(random: () => number, body: Record<string, unknown>): string {
  const name = pick(random, PROTOTYPE_NAMES);
  const strings = paths(body).filter((p) => typeof p.reduce<any>((node, key) => node?.[key], body) === 'string');
  if (random() < 0.3 || strings.length === 0) return `${JSON.stringify(body).slice(0, -1)},${JSON.stringify(name)}:${pick(random, ['1', '{}', '"x"', 'null'])}}`;
  const target = pick(random, strings);
  const value = target[target.length - 1] === 'url' && random() < 0.7 ? `data:${pick(random, [name, `image/${name}`])};base64,${PNG_1X1}` : name;
  setAt(body, target, value);
  return JSON.stringify(body);
}

const deepText = (levels: number, open: string, close: string, leaf = '1') => open.repeat(levels) + leaf + close.repeat(levels);

const pick = <T>(random: () => number, items: readonly T[]): T => items[Math.floor(random() * items.length)];

const BAD_SEGMENTS = ['%E0%A4%A', '%ZZ', '%', '%%', '%C0%AF', '%ED%A0%80', '%00', '%2F', '..', '%2e%2e', 'nova-lite%20', '%F0%9F%90%89', 'a'.repeat(3000), '中文'];
const METHODS = ['GET', 'PUT', 'DELETE', 'PATCH', 'OPTIONS', 'HEAD', 'post', 'Post', 'FOO', 'PROPFIND'];

/**
 * `count` malformed requests, spread over the kinds of damage the issue names: bad JSON, wrong types,
 * encodings, nesting, sizes, methods, headers, partial bodies. Deterministic for a seed.
 */
export function fuzzRequests(seed: number, count: number, opts: { partialBodies?: boolean; maxBodyBytes?: number } = {}): FuzzRequest[] {
  const random = seededRandom(seed);
  const maxBody = opts.maxBodyBytes ?? 6 * 1024 * 1024;
  const out: FuzzRequest[] = [];
  const json = { 'content-type': 'application/json' };
  const chatPath = () => pick(random, ['/v1/chat/completions', '/v1/chat/completions/', '//v1/chat/completions', '/v1/chat/completions?x=%ZZ']);
  const conversePath = () => `/model/${pick(random, ['nova-lite', encodeURIComponent('us.amazon.nova-lite-v1:0'), 'qwen', ...BAD_SEGMENTS])}/${pick(random, ['converse', 'converse-stream'])}`;
  const kinds: (() => FuzzRequest)[] = [
    // Wrong types: one value anywhere in a valid request replaced by an odd one.
    () => {
      const native = random() < 0.35;
      const body = native ? validConverse(random) : validChat(random);
      const all = paths(body);
      const edits = 1 + Math.floor(random() * 3);
      for (let i = 0; i < edits && all.length > 0; i++) {
        const target = pick(random, all);
        try {
          setAt(body, target, pick(random, ODD_VALUES));
        } catch {
          // the path no longer exists after an earlier edit
        }
      }
      return { kind: `wrong-type:${native ? 'converse' : 'chat'}`, method: 'POST', path: native ? conversePath() : chatPath(), headers: json, body: JSON.stringify(body) };
    },
    // Bad JSON: a valid body cut, spliced or salted.
    () => {
      const text = JSON.stringify(validChat(random));
      const at = Math.floor(random() * text.length);
      const variants = [text.slice(0, at), text.slice(at), text.slice(0, at) + pick(random, ['\u0000', '}', ']', ',', '"', '\\', 'NaN', 'undefined', '\ud800']) + text.slice(at), `${text}${text}`, `${text},`, "{'model': 'nova-lite'}", '\ufeff' + text, 'null', '[]', '"x"', '0', 'true', '{}'];
      return { kind: 'bad-json', method: 'POST', path: random() < 0.7 ? chatPath() : conversePath(), headers: json, body: pick(random, variants) };
    },
    // Duplicate keys: the later one wins in JSON.parse; it must still be validated.
    () => ({
      kind: 'duplicate-keys',
      method: 'POST',
      path: chatPath(),
      headers: json,
      body: `{"model":"nova-lite","messages":[{"role":"user","content":"x"}],"model":${JSON.stringify(pick(random, ODD_VALUES))},"messages":${JSON.stringify(pick(random, ODD_VALUES))}}`,
    }),
    // Nesting: deep arrays/objects in the places that recurse (tool parameters, native fields, anywhere).
    () => {
      const levels = pick(random, [63, 64, 65, 100, 1000, 20_000]);
      const deep = random() < 0.5 ? deepText(levels, '[', ']') : deepText(levels, '{"a":', '}');
      const bodies = [
        `{"model":"nova-lite","messages":[{"role":"user","content":"x"}],"tools":[{"type":"function","function":{"name":"f","parameters":{"p":${deep}}}}]}`,
        `{"messages":[{"role":"user","content":[{"text":"x"}]}],"additionalModelRequestFields":${deep}}`,
        `{"model":"nova-lite","messages":${deep}}`,
        deep,
      ];
      const body = pick(random, bodies);
      return { kind: `nesting:${levels}`, method: 'POST', path: body.startsWith('{"messages"') ? conversePath() : chatPath(), headers: json, body };
    },
    // Encodings: malformed percent-encoding and odd segments in every path with a parameter.
    () => {
      const segment = pick(random, BAD_SEGMENTS);
      const paths = [`/v1/models/${segment}`, `/model/${segment}/converse`, `/model/${segment}/converse-stream`, `/${segment}`, `/v1/${segment}/completions`];
      const path = pick(random, paths);
      return { kind: 'encoding', method: path.startsWith('/v1/models') ? 'GET' : 'POST', path, headers: json, body: JSON.stringify(validConverse(random)) };
    },
    // Images and documents whose bytes are not what they claim.
    () => {
      const bad = pick(random, ['!!!', '', '====', 'AAA', PNG_1X1.slice(0, -2), Buffer.from('GIF89a').toString('base64'), Buffer.from('not an image at all').toString('base64'), 'A'.repeat(4 * 1024 * 1024)]);
      const type = pick(random, ['image/png', 'image/jpeg', 'image/gif', 'image/webp', 'image/svg+xml', 'text/html']);
      if (random() < 0.5) {
        const body = { model: 'nova-lite', messages: [{ role: 'user', content: [{ type: 'image_url', image_url: { url: `data:${type};base64,${bad}` } }] }] };
        return { kind: 'media:chat', method: 'POST', path: '/v1/chat/completions', headers: json, body: JSON.stringify(body) };
      }
      const block = random() < 0.5 ? { image: { format: pick(random, ['png', 'jpeg', 'gif', 'webp', 'bmp', 7, null]), source: { bytes: bad } } } : { document: { format: pick(random, ['pdf', 'docx', 'txt']), name: 'd', source: { bytes: random() < 0.2 ? pick(random, ODD_VALUES) : bad } } };
      return { kind: 'media:converse', method: 'POST', path: '/model/nova-lite/converse', headers: json, body: JSON.stringify({ messages: [{ role: 'user', content: [block] }] }) };
    },
    // Sizes: many parts, long strings, a body just over the gateway's limit.
    () => {
      const size = pick(random, ['many-messages', 'long-string', 'over-limit', 'many-tools']);
      let body: string;
      if (size === 'many-messages') body = JSON.stringify({ model: 'nova-lite', messages: Array.from({ length: 100 }, (_, i) => ({ role: i % 2 ? 'assistant' : 'user', content: 'x' })) });
      else if (size === 'long-string') body = JSON.stringify({ model: 'x'.repeat(100_000), messages: [{ role: 'user', content: 'x' }] });
      else if (size === 'many-tools') body = JSON.stringify({ model: 'nova-lite', messages: [{ role: 'user', content: 'x' }], tools: Array.from({ length: 50 }, (_, i) => ({ type: 'function', function: { name: `f${i}` } })) });
      else body = JSON.stringify({ model: 'nova-lite', messages: [{ role: 'user', content: 'x'.repeat(maxBody) }] });
      return { kind: `size:${size}`, method: 'POST', path: chatPath(), headers: json, body };
    },
    // Methods on every route.
    () => {
      const method = pick(random, METHODS);
      const path = pick(random, ['/v1/models', '/v1/models/nova-lite', '/v1/chat/completions', '/model/nova-lite/converse', '/', '/healthz-not']);
      return { kind: `method:${method}`, method, path, headers: json, body: method === 'GET' || method === 'HEAD' ? undefined : JSON.stringify(validChat(random)) };
    },
    // Headers: content types, the residency header, encodings that were not applied.
    () => {
      const headers: Record<string, string> = {
        'content-type': pick(random, ['application/json', 'text/plain', 'application/x-www-form-urlencoded', 'multipart/form-data; boundary=x', '']),
        'x-cnllm-residency': pick(random, ['china-only', 'CHINA-ONLY', 'any', '', 'mars', ' china-only ', 'china-only, any']),
        ...(random() < 0.3 && { 'content-encoding': pick(random, ['gzip', 'br', 'identity']) }),
        ...(random() < 0.3 && { accept: pick(random, ['text/event-stream', '*/*', 'application/xml']) }),
      };
      const native = random() < 0.4;
      return { kind: 'headers', method: 'POST', path: native ? conversePath() : chatPath(), headers, body: JSON.stringify(native ? validConverse(random) : validChat(random)) };
    },
    // Unicode: models, roles, content and keys in scripts and code points that trip naive handling.
    () => {
      const odd = pick(random, ['\ud800', '\u0000', '中文', '🐉', '\u202e', 'ǅ', '\uffff']);
      const body = JSON.stringify({ model: pick(random, MODELS) + odd, messages: [{ role: pick(random, ['user', 'user' + odd, 'tool', 'developer']), content: odd.repeat(50), [odd]: odd }] });
      return { kind: 'unicode', method: 'POST', path: chatPath(), headers: json, body };
    },
    () => {
      const native = random() < 0.4;
      return { kind: `prototype-names:${native ? 'converse' : 'chat'}`, method: 'POST', path: native ? conversePath() : chatPath(), headers: json, body: withPrototypeName(random, native ? validConverse(random) : validChat(random)) };
    },
    // Partial bodies: the caller announces more than it sends and hangs up (socket hosts only).
    () => ({ kind: 'partial-body', method: 'POST', path: chatPath(), headers: json, body: JSON.stringify(validChat(random)), partialBody: true }),
  ];
  const usable = opts.partialBodies ? kinds : kinds.slice(0, -1);
  for (let i = 0; i < count; i++) out.push(pick(random, usable)());
  return out;
}

/**
 * The models the route generators below name, served by the fuzz test: Bedrock's embedding and rerank
 * families, and the same kinds on a vLLM upstream (`vllm`) and a provider (`dashscope`).
 */
export const ROUTE_MODELS = [
  { alias: 'titan-embed', modelId: 'amazon.titan-embed-text-v2:0', kind: 'embed' },
  { alias: 'nova-embed', modelId: 'amazon.nova-2-multimodal-embeddings-v1:0', kind: 'embed' },
  { alias: 'cohere-embed', modelId: 'cohere.embed-multilingual-v3', kind: 'embed' },
  { alias: 'bge-m3', modelId: 'bge-m3', route: 'vllm', kind: 'embed', maxInputsPerCall: 64 },
  { alias: 'text-embedding-v3', modelId: 'text-embedding-v3', route: 'dashscope', kind: 'embed', maxInputsPerCall: 10 },
  { alias: 'cohere-rerank', modelId: 'cohere.rerank-v3-5:0', kind: 'rerank' },
  { alias: 'amazon-rerank', modelId: 'amazon.rerank-v1:0', kind: 'rerank', region: 'us-west-2' },
  { alias: 'bge-reranker', modelId: 'bge-reranker-v2-m3', route: 'vllm', kind: 'rerank' },
  { alias: 'gte-rerank', modelId: 'gte-rerank-v2', route: 'dashscope', kind: 'rerank' },
  { alias: 'qwen-vllm', modelId: 'Qwen/Qwen3-8B', route: 'vllm' },
] as const;

/** One HTTP route to fuzz: what a valid request is, and where it is most likely to break. */
export interface RouteFuzzSpec {
  readonly name: string;
  /** The paths that serve it (variants and neighbours are derived from them). */
  readonly paths: readonly string[];
  readonly method: string;
  valid(random: () => number): Record<string, unknown>;
  /** Values aimed at the fields the host checks itself (ranges, enums, limits): field -> values. */
  readonly fieldValues: Readonly<Record<string, readonly unknown[]>>;
  /** Fields that hold numbers (or are read as one): each gets number literals no double can hold. */
  readonly numberFields: readonly string[];
  /** Bodies large in the route's own way (100k inputs, 1001 documents...); `maxBody` is the host's body limit. */
  huge(random: () => number, maxBody: number): string;
}

const EMBED_MODELS = ['titan-embed', 'nova-embed', 'cohere-embed', 'bge-m3', 'text-embedding-v3'];
/**
 * Upstream routes for a full batch of 2048: Titan and Nova embed one text per call (2048 calls), and
 * Cohere's 1024 floats a text make 2048 texts some 40 MB of JSON (seconds on a busy box, not a fault).
 */
const BATCHING_EMBED_MODELS = ['bge-m3', 'text-embedding-v3'];
const RERANK_MODELS = ['cohere-rerank', 'amazon-rerank', 'bge-reranker', 'gte-rerank'];
const WRONG_KIND_MODELS = ['nova-lite', 'qwen', 'qwen-vllm', 'unknown-model', '', 'TITAN-EMBED', 'titan-embed\u0000', 'amazon.titan-embed-text-v2:0'];
const BIG_NUMBER_LITERALS = ['9'.repeat(400), `-${'9'.repeat(400)}`, '1e999', `1${'0'.repeat(20)}`, `0.${'0'.repeat(400)}1`, '9007199254740993', '1E+308', '-0'];
const COUNTS = [0, -1, 0.5, 1, 2, 3, 1000, 1001, 2048, 2049, 3072, 4096, 2 ** 31, 2 ** 53 + 1, 1e308, -1e308, NaN, '5', '1024', null, true, [], {}];

const EMBEDDINGS: RouteFuzzSpec = {
  name: 'embeddings',
  paths: ['/v1/embeddings'],
  method: 'POST',
  valid: (random) => {
    const model = pick(random, EMBED_MODELS);
    const shape = random();
    const input = shape < 0.3 ? 'hello world' : shape < 0.7 ? ['first text', '第二段文本', 'third'].slice(0, 1 + Math.floor(random() * 3)) : shape < 0.85 ? [1, 2, 3] : [[1, 2], [3]];
    return {
      model,
      input,
      ...(random() < 0.3 && { encoding_format: pick(random, ['float', 'base64']) }),
      ...(random() < 0.3 && { dimensions: pick(random, [256, 512, 1024, 8]) }),
      ...(random() < 0.3 && { input_type: pick(random, ['search_document', 'search_query', 'classification', 'clustering']) }),
      ...(random() < 0.1 && { user: 'u-1' }),
    };
  },
  fieldValues: {
    model: [...EMBED_MODELS, ...WRONG_KIND_MODELS, 'cohere-rerank'],
    input: ['', [], [''], ['ok', ''], [[]], [[1], []], [-1], [1.5], [2 ** 53 + 1], [1e308], [[1], 'x'], ['x', 1], [null], [{}], [true], { text: 'x' }, 'x'.repeat(200_000), ['\ud800', '\u0000'], 7],
    encoding_format: ['float', 'base64', 'FLOAT', 'binary', 'int8', 'ubinary', '', null, 1, ['float'], {}],
    dimensions: COUNTS,
    input_type: ['search_document', 'query', 'SEARCH_QUERY', '', null, 3, ['search_query']],
    user: [null, 1, '', 'x'.repeat(10_000), {}],
  },
  numberFields: ['dimensions', 'input'],
  huge: (random, maxBody) => {
    const model = pick(random, EMBED_MODELS);
    const variant = pick(random, ['100k-texts', '100k-tokens', 'over-2048', '2048', 'over-limit', 'long-tokens']);
    if (variant === '100k-texts') return JSON.stringify({ model, input: Array.from({ length: 100_000 }, () => 'a') });
    if (variant === '100k-tokens') return JSON.stringify({ model, input: Array.from({ length: 100_000 }, (_, i) => [i % 1000]) });
    if (variant === 'over-2048') return JSON.stringify({ model, input: Array.from({ length: 2049 }, (_, i) => `t${i}`) });
    if (variant === '2048') return JSON.stringify({ model: pick(random, BATCHING_EMBED_MODELS), input: Array.from({ length: 2048 }, (_, i) => `t${i}`) });
    if (variant === 'long-tokens') return JSON.stringify({ model, input: Array.from({ length: 50_000 }, (_, i) => i) });
    return JSON.stringify({ model, input: ['x'.repeat(maxBody)] });
  },
};

const RERANK: RouteFuzzSpec = {
  name: 'rerank',
  paths: ['/v1/rerank', '/rerank', '/v2/rerank'],
  method: 'POST',
  valid: (random) => ({
    model: pick(random, RERANK_MODELS),
    query: pick(random, ['what is a panda', '熊猫吃什么']),
    documents: random() < 0.7 ? ['pandas eat bamboo', 'cats sleep', '熊猫吃竹子'] : [{ text: 'pandas eat bamboo' }, { text: 'dogs bark', title: 't' }],
    ...(random() < 0.4 && { top_n: pick(random, [1, 2, 3]) }),
    ...(random() < 0.3 && { return_documents: random() < 0.5 }),
  }),
  fieldValues: {
    model: [...RERANK_MODELS, ...WRONG_KIND_MODELS, 'titan-embed'],
    query: ['', ' ', null, 1, [], ['q'], {}, 'x'.repeat(200_000), '\ud800\u0000'],
    documents: [[], [''], [null], [1], [{}], [{ text: 1 }], [{ text: null }], [{ title: 'x' }], 'doc', {}, [[]], ['ok', { text: '' }], ['\ud800']],
    top_n: COUNTS,
    return_documents: ['true', 1, 0, null, [], {}],
  },
  numberFields: ['top_n'],
  huge: (random, maxBody) => {
    const model = pick(random, RERANK_MODELS);
    const variant = pick(random, ['100k-documents', '1001-documents', '1000-documents', 'huge-top_n', 'over-limit']);
    const docs = (n: number) => Array.from({ length: n }, (_, i) => `d${i}`);
    if (variant === '100k-documents') return JSON.stringify({ model, query: 'q', documents: Array.from({ length: 100_000 }, () => 'd') });
    if (variant === '1001-documents') return JSON.stringify({ model, query: 'q', documents: docs(1001) });
    if (variant === '1000-documents') return JSON.stringify({ model, query: 'q d1', documents: docs(1000), top_n: pick(random, [1, 1000, 5000]) });
    if (variant === 'huge-top_n') return JSON.stringify({ model, query: 'q', documents: docs(3), top_n: pick(random, [2 ** 31, 2 ** 53 + 1, 1e308]) });
    return JSON.stringify({ model, query: 'q', documents: ['x'.repeat(maxBody)] });
  },
};

/** Chat to the OpenAI-compatible upstreams: the gateway checks little and passes the rest as sent. */
const PASSTHROUGH: RouteFuzzSpec = {
  name: 'passthrough',
  paths: ['/v1/chat/completions'],
  method: 'POST',
  valid: (random) => ({
    model: pick(random, ['qwen-vllm', 'qwen']),
    messages: [
      { role: 'system', content: 'Be brief.' },
      { role: 'user', content: random() < 0.7 ? 'hello' : [{ type: 'text', text: 'look' }, { type: 'video_url', video_url: { url: 'https://example.invalid/v.mp4' } }] },
    ],
    ...(random() < 0.4 && { stream: true, ...(random() < 0.5 && { stream_options: { include_usage: true } }) }),
    ...(random() < 0.3 && { max_tokens: 16, temperature: 0.7, top_k: 20, repetition_penalty: 1.05 }),
    ...(random() < 0.2 && { response_format: { type: 'json_object' } }),
    ...(random() < 0.2 && { logprobs: true, top_logprobs: 2, seed: 7 }),
    ...(random() < 0.2 && { chat_template_kwargs: { enable_thinking: false } }),
  }),
  fieldValues: {
    model: ['qwen-vllm', 'qwen', ...WRONG_KIND_MODELS, 'bge-m3', 'gte-rerank'],
    messages: [[], {}, 'hi', [null], [{}], [{ role: '' }], [{ role: 1 }], [{ role: 'user' }], [{ role: 'tool', content: {} }]],
    stream: ['true', 1, null, [], {}],
    stream_options: ['x', 1, null, [], { include_usage: 'yes' }, { include_usage: null }],
    n: [0, -1, 1, 2, 1.5, 1e308, 2 ** 31, '2', null],
    max_tokens: COUNTS,
  },
  numberFields: ['max_tokens', 'max_completion_tokens', 'n', 'temperature'],
  huge: (random, maxBody) => {
    const model = pick(random, ['qwen-vllm', 'qwen']);
    const variant = pick(random, ['100k-messages', '15k-messages', 'over-limit', 'many-parts']);
    if (variant === '100k-messages') return JSON.stringify({ model, messages: Array.from({ length: 100_000 }, () => ({ role: 'user', content: 'x' })) });
    if (variant === '15k-messages') return JSON.stringify({ model, messages: Array.from({ length: 15_000 }, () => ({ role: 'user', content: 'x' })) });
    if (variant === 'many-parts') return JSON.stringify({ model, messages: [{ role: 'user', content: Array.from({ length: 20_000 }, () => ({ type: 'text', text: 'x' })) }] });
    return JSON.stringify({ model, messages: [{ role: 'user', content: 'x'.repeat(maxBody) }] });
  },
};

/** AgentCore Runtime's contract on the agents server: POST /invocations {prompt, sessionId}. */
const AGENT_INVOCATIONS: RouteFuzzSpec = {
  name: 'invocations',
  paths: ['/invocations'],
  method: 'POST',
  valid: (random) => ({ prompt: pick(random, ['What is the capital of Gansu?', '总结一下', 'hi']), ...(random() < 0.5 && { sessionId: `session-${Math.floor(random() * 1e6)}` }) }),
  fieldValues: {
    prompt: ['', ' \n\t', null, 1, [], ['q'], {}, 'x'.repeat(100_001), '\ud800', '\u0000'],
    sessionId: ['', ' ', 'a b', '../x', 'x'.repeat(257), '-x', '中文', null, 1, [], {}, 'ok-1'],
  },
  numberFields: ['prompt', 'sessionId'],
  huge: (random, maxBody) => {
    const variant = pick(random, ['long-prompt', 'over-limit', 'many-keys']);
    if (variant === 'long-prompt') return JSON.stringify({ prompt: 'x'.repeat(Math.min(100_001, maxBody - 100)) });
    if (variant === 'many-keys') return JSON.stringify(Object.fromEntries(Array.from({ length: 20_000 }, (_, i) => [`k${i}`, i]).concat([['prompt', 'hi']])));
    return JSON.stringify({ prompt: 'x'.repeat(maxBody) });
  },
};

export const ROUTE_SPECS = { embeddings: EMBEDDINGS, rerank: RERANK, passthrough: PASSTHROUGH, invocations: AGENT_INVOCATIONS } as const;

/**
 * `count` malformed requests for one route, deterministic for a seed: a valid body per case, then
 * damaged the ways fuzzRequests damages chat (wrong types anywhere, bad JSON, nesting, sizes,
 * methods, headers, unicode, path variants, partial bodies) plus the route's own fields pushed out
 * of range and its own huge bodies. Some cases stay valid: the host must answer those 200.
 */
export function routeFuzzRequests(spec: RouteFuzzSpec, seed: number, count: number, opts: { partialBodies?: boolean; maxBodyBytes?: number } = {}): FuzzRequest[] {
  const random = seededRandom(seed);
  const maxBody = opts.maxBodyBytes ?? 6 * 1024 * 1024;
  const json = { 'content-type': 'application/json' };
  const path = () => (random() < 0.8 ? pick(random, spec.paths) : pick(random, [`${spec.paths[0]}/`, `/${spec.paths[0]}`, `${spec.paths[0]}?x=%ZZ`, `${spec.paths[0]}?dimensions=5`]));
  const request = (kind: string, body: string | undefined, extra: Partial<FuzzRequest> = {}): FuzzRequest => ({ kind: `${spec.name}:${kind}`, method: spec.method, path: path(), headers: json, body, ...extra });
  const fields = Object.keys(spec.fieldValues);
  const kinds: (() => FuzzRequest)[] = [
    () => request('valid', JSON.stringify(spec.valid(random))),
    // The route's own checks: each field it reads, out of range or of the wrong type (often two at once).
    () => {
      const body = spec.valid(random);
      const edits = 1 + Math.floor(random() * 2);
      for (let i = 0; i < edits; i++) {
        const field = pick(random, fields);
        body[field] = pick(random, spec.fieldValues[field]);
      }
      return request('field', JSON.stringify(body));
    },
    () => {
      const body = spec.valid(random);
      delete body[pick(random, Object.keys(body))];
      return request('missing-field', JSON.stringify(body));
    },
    // Wrong types: one value anywhere in a valid body replaced by an odd one.
    () => {
      const body = spec.valid(random);
      const all = paths(body);
      for (let i = 0, edits = 1 + Math.floor(random() * 3); i < edits && all.length > 0; i++) {
        try {
          setAt(body, pick(random, all), pick(random, ODD_VALUES));
        } catch {
          // the path no longer exists after an earlier edit
        }
      }
      return request('wrong-type', JSON.stringify(body));
    },
    () => {
      const text = JSON.stringify(spec.valid(random));
      const at = Math.floor(random() * text.length);
      const variants = [text.slice(0, at), text.slice(at), text.slice(0, at) + pick(random, ['\u0000', '}', ']', ',', '"', '\\', 'NaN', 'Infinity', '\ud800']) + text.slice(at), `${text}${text}`, '\ufeff' + text, 'null', '[]', '"x"', '0', '{}', ' ', ''];
      return request('bad-json', pick(random, variants));
    },
    () => {
      const valid = JSON.stringify(spec.valid(random));
      const field = pick(random, fields);
      return request('duplicate-keys', `${valid.slice(0, -1)},${JSON.stringify(field)}:${JSON.stringify(pick(random, spec.fieldValues[field]) ?? null)}}`);
    },
    () => {
      const levels = pick(random, [63, 64, 65, 1000, 20_000]);
      const deep = random() < 0.5 ? deepText(levels, '[', ']') : deepText(levels, '{"a":', '}');
      const valid = JSON.stringify(spec.valid(random));
      return request(`nesting:${levels}`, random() < 0.2 ? deep : `${valid.slice(0, -1)},${JSON.stringify(pick(random, [...fields, 'extra']))}:${deep}}`);
    },
    () => request('huge', spec.huge(random, maxBody)),
    // Number literals past what a double holds: 400 digits parse to Infinity, tiny ones to 0.
    () => {
      const valid = JSON.stringify(spec.valid(random));
      const literal = pick(random, BIG_NUMBER_LITERALS);
      return request('big-number', `${valid.slice(0, -1)},${JSON.stringify(pick(random, spec.numberFields))}:${literal}}`);
    },
    () => {
      const method = pick(random, METHODS);
      return request(`method:${method}`, method === 'GET' || method === 'HEAD' ? undefined : JSON.stringify(spec.valid(random)), { method });
    },
    () => {
      const headers: Record<string, string> = {
        'content-type': pick(random, ['application/json', 'application/json; charset=utf-16', 'text/plain', 'application/x-www-form-urlencoded', '']),
        'x-cnllm-residency': pick(random, ['china-only', 'any', '', 'mars', 'CHINA-ONLY']),
        ...(random() < 0.3 && { 'content-encoding': pick(random, ['gzip', 'deflate', 'identity']) }),
        ...(random() < 0.3 && { accept: pick(random, ['text/event-stream', 'application/xml', '*/*']) }),
        ...(random() < 0.3 && { 'x-amzn-bedrock-agentcore-runtime-session-id': pick(random, ['', 'a b', 'x'.repeat(300), 'session-ok', '中文']) }),
      };
      return request('headers', JSON.stringify(spec.valid(random)), { headers });
    },
    () => {
      const odd = pick(random, ['\ud800', '\u0000', '中文', '🐉', '\u202e', '\uffff', '\udfff\ud800']);
      const body = spec.valid(random);
      const field = pick(random, Object.keys(body));
      body[field] = typeof body[field] === 'string' ? `${body[field]}${odd}` : odd.repeat(30);
      body[odd] = odd;
      return request('unicode', JSON.stringify(body));
    },
    () => request('prototype-names', withPrototypeName(random, spec.valid(random))),
    // Neighbouring paths with malformed encodings: a 404 or 405, never a 5xx.
    () => {
      const segment = pick(random, BAD_SEGMENTS);
      const base = pick(random, spec.paths);
      return request('encoding', JSON.stringify(spec.valid(random)), { path: pick(random, [`${base}/${segment}`, `${base}${segment}`, `/${segment}${base}`, base.toUpperCase()]) });
    },
    () => request('partial-body', JSON.stringify(spec.valid(random)), { partialBody: true }),
  ];
  const usable = opts.partialBodies ? kinds : kinds.slice(0, -1);
  return Array.from({ length: count }, () => pick(random, usable)());
}
