import { passthroughCompletion, SsePassthrough, usageOf, withModel } from '../../runtime/gateway/passthrough';

const SERVED = 'Qwen/Qwen2.5-7B-Instruct';
const ALIAS = 'qwen-7b';

/**
 * A stream as vLLM and providers send it, with `{{M}}` where the top-level model goes. The nested
 * "model" strings (inside a content string, inside a nested object) are not the answer's model and
 * must stay as they are.
 */
const TEMPLATE = [
  ': keep-alive comment\n\n',
  'data: {"id":"c1","object":"chat.completion.chunk","created":1,"model":"{{M}}","choices":[{"index":0,"delta":{"role":"assistant","content":""},"finish_reason":null}]}\n\n',
  'data: {"id":"c1","object":"chat.completion.chunk","created":1,"model" : "{{M}}","choices":[{"index":0,"delta":{"content":"词语 🚀 {\\"model\\":\\"x\\"}"},"logprobs":{"content":[{"token":"词","logprob":-1.0e-5}]},"finish_reason":null}]}\n\n',
  'event: message\nid: 7\ndata: {"id":"c1","model":"{{M}}",\ndata:  "choices":[{"index":0,"delta":{"content":"é"},"finish_reason":null}],"meta":{"model":"inner"}}\n\n',
  'data: {"id":"c1","object":"chat.completion.chunk","created":1,"model":"{{M}}","choices":[{"index":0,"delta":{},"finish_reason":"stop"}]}\n\n',
  'data: {"id":"c1","object":"chat.completion.chunk","created":1,"model":"{{M}}","choices":[],"usage":{"prompt_tokens":31,"completion_tokens":5,"total_tokens":36,"prompt_tokens_details":{"cached_tokens":16},"completion_tokens_details":{"reasoning_tokens":0}}}\n\n',
  'data: [DONE]\n\n',
].join('');

const upstream = (template: string, eol = '\n') => template.replaceAll('{{M}}', SERVED).replaceAll('\n', eol);
const expected = (template: string, eol = '\n') => template.replaceAll('{{M}}', ALIAS).replaceAll('\n', eol);

const bytes = (s: string) => new TextEncoder().encode(s);
const text = (b: Uint8Array[]) => Buffer.concat(b.map((x) => Buffer.from(x))).toString('utf8');

/** Feeds the byte pieces one by one; returns everything written and the summary. */
function run(pieces: Uint8Array[], alias = ALIAS, maxHeld?: number) {
  const t = new SsePassthrough(alias, maxHeld);
  const out = pieces.map((p) => t.feed(p));
  const summary = t.end();
  out.push(summary.rest);
  return { out: text(out), summary };
}

const splitAt = (b: Uint8Array, cuts: number[]) => {
  const points = [0, ...cuts, b.length];
  return points.slice(1).map((end, i) => b.subarray(points[i], end));
};

describe('SsePassthrough: the model is the alias in every event, everything else byte for byte', () => {
  test.each([
    ['LF', '\n'],
    ['CRLF', '\r\n'],
    ['CR', '\r'],
  ])('every split point of the stream gives the same output (%s line endings, multi-byte UTF-8 split too)', (_name, eol) => {
    const input = bytes(upstream(TEMPLATE, eol));
    const want = expected(TEMPLATE, eol);
    for (let cut = 0; cut <= input.length; cut++) {
      const { out, summary } = run(splitAt(input, [cut]));
      if (out !== want) throw new Error(`split at byte ${cut}: ${JSON.stringify(out)}`);
      expect(summary.doneSeen).toBe(true);
      expect(summary.usage).toEqual({ inputTokens: 31, outputTokens: 5, cachedTokens: 16, reasoningTokens: 0 });
      expect(summary.malformedEvents).toBe(0);
    }
  });

  test('pairs of split points and one byte at a time give the same output', () => {
    const input = bytes(upstream(TEMPLATE, '\r\n'));
    const want = expected(TEMPLATE, '\r\n');
    for (let a = 0; a <= input.length; a += 7) {
      for (let b = a; b <= input.length; b += 5) {
        const { out } = run(splitAt(input, [a, b]));
        if (out !== want) throw new Error(`split at bytes ${a} and ${b}: ${JSON.stringify(out)}`);
      }
    }
    expect(run(Array.from(input, (byte) => Uint8Array.of(byte))).out).toBe(want);
  });

  test('a UTF-8 character split across chunks arrives whole (no replacement character)', () => {
    const input = bytes('data: {"model":"m","choices":[{"delta":{"content":"词🚀"}}]}\n\n');
    const at = Buffer.from(input).indexOf(Buffer.from('词')) + 1;
    const { out } = run(splitAt(input, [at, at + 3]));
    expect(out).toBe('data: {"model":"qwen-7b","choices":[{"delta":{"content":"词🚀"}}]}\n\n');
    expect(out).not.toContain('\uFFFD');
  });

  test('each event leaves as soon as its blank line arrives, not before and not later', () => {
    const t = new SsePassthrough(ALIAS);
    expect(text([t.feed(bytes('data: {"model":"m","n":1}'))])).toBe('');
    expect(text([t.feed(bytes('\n'))])).toBe('');
    expect(text([t.feed(bytes('\ndata: {"model":"m","n":2}\r\n\r'))])).toBe('data: {"model":"qwen-7b","n":1}\n\ndata: {"model":"qwen-7b","n":2}\r\n\r');
    // The LF completing the CRLF is passed on by itself; it does not start a new (empty) event.
    expect(text([t.feed(bytes('\n: ping\n\n'))])).toBe('\n: ping\n\n');
    expect(t.end()).toEqual(expect.objectContaining({ rest: new Uint8Array(0), doneSeen: false }));
  });

  test('a long stream (10,000 events in random chunk sizes) comes out whole, metered from its last usage', () => {
    const events = Array.from({ length: 10_000 }, (_, i) => `data: {"id":"c","model":"{{M}}","choices":[{"index":0,"delta":{"content":"词${i} "}}]}\n\n`);
    const template = `${events.join('')}data: {"model":"{{M}}","choices":[],"usage":{"prompt_tokens":9,"completion_tokens":10000}}\n\ndata: [DONE]\n\n`;
    const input = bytes(upstream(template));
    let seed = 42;
    const random = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
    const cuts: number[] = [];
    for (let at = 0; at < input.length; at += 1 + Math.floor(random() * 300)) cuts.push(at);
    const { out, summary } = run(splitAt(input, cuts));
    expect(out).toBe(expected(template));
    expect(summary).toEqual(expect.objectContaining({ doneSeen: true, usage: { inputTokens: 9, outputTokens: 10000 } }));
  });

  test('a malformed event is passed on as it came and counted, never thrown', () => {
    const input = 'data: {"model":"m","choices":[\n\ndata: not json at all\n\ndata: {"model":"m","usage":{"prompt_tokens":3,"completion_tokens":2}}\n\ndata: [DONE]\n\n';
    const { out, summary } = run([bytes(input)]);
    expect(out).toBe(input.replace('data: {"model":"m","usage"', 'data: {"model":"qwen-7b","usage"'));
    expect(summary).toEqual(expect.objectContaining({ malformedEvents: 2, doneSeen: true, usage: { inputTokens: 3, outputTokens: 2 } }));
  });

  test('a stream cut short: no [DONE], and the unterminated last event is still passed on and metered', () => {
    const { out, summary } = run([bytes('data: {"model":"m","choices":[]}\n\ndata: {"model":"m","usage":{"prompt_tokens":4,"completion_tokens":1}}')]);
    expect(out).toBe('data: {"model":"qwen-7b","choices":[]}\n\ndata: {"model":"qwen-7b","usage":{"prompt_tokens":4,"completion_tokens":1}}');
    expect(summary.doneSeen).toBe(false);
    expect(summary.usage).toEqual({ inputTokens: 4, outputTokens: 1 });
    expect(run([bytes('data: [DONE]\n')]).summary.doneSeen).toBe(true);
  });

  test('an error event the upstream sends after HTTP 200 is reported', () => {
    const { summary } = run([bytes('data: {"error":{"message":"engine dead","type":"InternalServerError","code":500}}\n\n')]);
    expect(summary.upstreamError).toEqual({ message: 'engine dead', type: 'InternalServerError', code: '500' });
  });

  test('an event larger than the hold limit goes on untouched as it comes; the next one is rewritten again', () => {
    const big = `data: {"model":"m","choices":[{"delta":{"content":"${'x'.repeat(200)}"}}]}\n\n`;
    const input = bytes(`${big}data: {"model":"m"}\n\n`);
    const t = new SsePassthrough(ALIAS, 64);
    const first = t.feed(input.subarray(0, 100));
    // Held bytes beyond the limit are released at once (bounded memory), not at the end of the event.
    expect(first.length).toBe(100);
    const rest = t.feed(input.subarray(100));
    expect(text([first, rest, t.end().rest])).toBe(`${big}data: {"model":"qwen-7b"}\n\n`);
  });
});

describe('withModel and usageOf', () => {
  test('only the top-level model string changes: numbers, escapes and spacing stay as written', () => {
    const json = '{ "model" :"served", "x":1.0, "y":1e-5, "s":"\\u00e9\\"model\\":\\"a\\"", "nested":{"model":"served"}, "list":[{"model":"served"}] }';
    expect(withModel(json, JSON.parse(json), ALIAS)).toBe(json.replace('"model" :"served"', '"model" :"qwen-7b"'));
    // A key spelled with escapes: correct, if not byte-identical.
    const escaped = '{"mod\\u0065l":"served","x":1}';
    expect(JSON.parse(withModel(escaped, JSON.parse(escaped), ALIAS)!)).toEqual({ model: ALIAS, x: 1 });
    expect(withModel('{"x":1}', { x: 1 }, ALIAS)).toBeUndefined();
  });

  test.each([
    ['OpenAI', { prompt_tokens: 20, completion_tokens: 5, total_tokens: 25, prompt_tokens_details: { cached_tokens: 8, audio_tokens: 0 }, completion_tokens_details: { reasoning_tokens: 2 } }, { inputTokens: 20, outputTokens: 5, cachedTokens: 8, reasoningTokens: 2 }],
    ['DeepSeek reasoner', { prompt_tokens: 9, completion_tokens: 120, total_tokens: 129, completion_tokens_details: { reasoning_tokens: 98 } }, { inputTokens: 9, outputTokens: 120, reasoningTokens: 98 }],
    ['DeepSeek', { prompt_tokens: 20, completion_tokens: 5, total_tokens: 25, prompt_tokens_details: { cached_tokens: 12 }, prompt_cache_hit_tokens: 12, prompt_cache_miss_tokens: 8 }, { inputTokens: 20, outputTokens: 5, cachedTokens: 12 }],
    ['DeepSeek (hit tokens only)', { prompt_tokens: 20, completion_tokens: 5, prompt_cache_hit_tokens: 4 }, { inputTokens: 20, outputTokens: 5, cachedTokens: 4 }],
    ['DashScope', { prompt_tokens: 3019, completion_tokens: 104, total_tokens: 3123, prompt_tokens_details: { cached_tokens: 2048 } }, { inputTokens: 3019, outputTokens: 104, cachedTokens: 2048 }],
    ['vLLM', { prompt_tokens: 7, total_tokens: 11, completion_tokens: 4, prompt_tokens_details: null }, { inputTokens: 7, outputTokens: 4 }],
  ])('%s usage with nested details', (_name, usage, want) => {
    expect(usageOf(usage)).toEqual(want);
  });

  test('a non-streamed completion: alias in, usage out, the rest unchanged', () => {
    const body = '{"id":"x","model":"served","choices":[{"message":{"content":"hi"},"logprobs":{"content":[{"logprob":-0.0}]}}],"usage":{"prompt_tokens":2,"completion_tokens":1,"prompt_tokens_details":{"cached_tokens":0}}}';
    const upstream = { kind: 'vllm', name: 'vllm-qwen' };
    const { body: rewritten, usage, parsed } = passthroughCompletion(body, ALIAS, upstream);
    expect({ body: rewritten, usage }).toEqual({ body: body.replace('"served"', '"qwen-7b"'), usage: { inputTokens: 2, outputTokens: 1, cachedTokens: 0 } });
    expect(parsed).toEqual(JSON.parse(body));
    expect(() => passthroughCompletion('<html>', ALIAS, upstream)).toThrow(expect.objectContaining({ status: 502, code: 'upstream_bad_response', message: expect.stringMatching(/^vllm upstream "vllm-qwen" answered 200 with a body that is not a JSON object: <html>/) }));
  });
});
