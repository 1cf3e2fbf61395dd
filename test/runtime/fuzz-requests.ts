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
    // Partial bodies: the caller announces more than it sends and hangs up (socket hosts only).
    () => ({ kind: 'partial-body', method: 'POST', path: chatPath(), headers: json, body: JSON.stringify(validChat(random)), partialBody: true }),
  ];
  const usable = opts.partialBodies ? kinds : kinds.slice(0, -1);
  for (let i = 0; i < count; i++) out.push(pick(random, usable)());
  return out;
}
