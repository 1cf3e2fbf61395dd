import * as http from 'http';
import { countTokens, fakeRelevance, fakeVector } from './bedrock-fake';
import { LoopbackServer, untilClosedOr } from './loopback-server';

export type UpstreamBehaviour =
  /**
   * A chat completion (streamed when asked) with `n` choices; `usage` replaces the plain counts (nested
   * details, as DashScope or DeepSeek send). `reasoning`: reasoning text before the answer, as vLLM's
   * reasoning parsers and DeepSeek send it (`reasoning_content` on the message and on deltas), counted
   * in usage.completion_tokens_details.reasoning_tokens.
   */
  | { kind: 'reply'; tokens?: string[]; reasoning?: string[]; delayMs?: number; usage?: Record<string, unknown> }
  /** An SSE body written piece by piece as given (events split anywhere, malformed ones, CRLF...). */
  | { kind: 'sse'; pieces: (string | Buffer)[]; delayMs?: number }
  /** A non-2xx answer: an OpenAI error body, or `body` as given, or a body that never ends. */
  | { kind: 'status'; status: number; body?: string; endless?: boolean; headers?: Record<string, string> }
  | { kind: 'reset' }
  /** No answer for `ms` (then a 500), or until the caller hangs up: inFlight shows whether the gateway let go. */
  | { kind: 'hang'; ms: number }
  /** Waits `ms` (or until the caller hangs up), then answers as a default reply would. */
  | { kind: 'slow'; ms: number };

/** A loopback OpenAI-compatible server (vLLM's or a provider's /v1/chat/completions), with a bearer key. */
export class OpenAiUpstreamFake extends LoopbackServer {
  readonly requests: { body: any; authorization?: string }[] = [];
  private readonly queue: UpstreamBehaviour[] = [];
  /** Bytes of endless error bodies written before the gateway let go of them. */
  endlessBytesWritten = 0;

  constructor(
    readonly name: string,
    readonly apiKey: string,
  ) {
    super();
  }

  /** The paths of the requests, in order. */
  readonly paths: string[] = [];
  /** Inputs one /v1/embeddings call takes (a provider's batch limit, e.g. DashScope's 10); more is a 400 as the provider answers. */
  maxEmbeddingInputs = Infinity;
  /** The `dimensions` the embedding model accepts (vLLM: matryoshka models only); others are a 400. */
  embeddingDimensions: number[] = [];

  push(...b: UpstreamBehaviour[]): this {
    this.queue.push(...b);
    return this;
  }

  /** Behaviours for requests whose raw body contains `text` (one part of a split batch), taken before the shared queue. */
  private readonly targeted = new Map<string, UpstreamBehaviour[]>();
  pushFor(text: string, ...b: UpstreamBehaviour[]): this {
    this.targeted.set(text, [...(this.targeted.get(text) ?? []), ...b]);
    return this;
  }

  /** Forgets every queued behaviour (between tests). */
  clear(): this {
    this.queue.length = 0;
    this.targeted.clear();
    return this;
  }

  private next(raw: string): UpstreamBehaviour {
    for (const [text, behaviours] of this.targeted) {
      if (raw.includes(text) && behaviours.length > 0) return behaviours.shift()!;
    }
    return this.queue.shift() ?? { kind: 'reply' };
  }

  protected async serve(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const raw = Buffer.concat(chunks).toString('utf8');
    const body = JSON.parse(raw || '{}');
    this.requests.push({ body, authorization: req.headers.authorization });
    const json = (status: number, payload: object) => {
      res.writeHead(status, { 'content-type': 'application/json' });
      res.end(JSON.stringify(payload));
    };
    const route = req.url === '/v1/chat/completions' ? 'chat' : req.url === '/v1/embeddings' ? 'embeddings' : req.url === '/v1/rerank' || req.url === '/rerank' ? 'rerank' : undefined;
    if (!route) return json(404, { error: { message: `no route ${req.url}` } });
    this.paths.push(req.url!);
    // An empty key means the upstream is open (the benchmark); otherwise the bearer key must match.
    if (this.apiKey && req.headers.authorization !== `Bearer ${this.apiKey}`) return json(401, { error: { message: 'invalid api key' } });
    let behaviour = this.next(raw);
    if (behaviour.kind === 'hang' || behaviour.kind === 'slow') {
      if (await untilClosedOr(res, behaviour.ms)) return;
      if (behaviour.kind === 'hang') return json(500, { error: { message: `${this.name} hung` } });
      behaviour = { kind: 'reply' };
    }
    if (behaviour.kind === 'status') return this.fail(res, behaviour);
    if (behaviour.kind === 'reset') {
      req.socket.destroy();
      return;
    }
    if (route === 'embeddings') return this.embeddings(body, json);
    if (route === 'rerank') return this.rerank(body, json);
    if (behaviour.kind === 'sse') {
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      for (const piece of behaviour.pieces) {
        res.write(piece);
        if (behaviour.delayMs) await new Promise((r) => setTimeout(r, behaviour.delayMs));
      }
      res.end();
      return;
    }
    const lastUser = [...body.messages].reverse().find((m: any) => m.role === 'user')?.content;
    // Guided decoding (vLLM's response_format): the answer is JSON, not the echo.
    const structured = body.response_format?.type === 'json_object' || body.response_format?.type === 'json_schema';
    const tokens = behaviour.tokens ?? (structured ? ['{"upstream": ', JSON.stringify(this.name), ', "said": ', JSON.stringify(String(lastUser)), '}'] : [`${this.name}: `, String(lastUser)]);
    const reasoning = behaviour.reasoning ?? [];
    const completionTokens = tokens.length + reasoning.length;
    const usage = behaviour.usage ?? {
      prompt_tokens: 7,
      completion_tokens: completionTokens,
      total_tokens: 7 + completionTokens,
      ...(reasoning.length > 0 && { completion_tokens_details: { reasoning_tokens: reasoning.length } }),
    };
    // vLLM's request validation: n is a whole number of choices (SamplingParams refuses the rest with a 400).
    const n = body.n ?? 1;
    if (!Number.isInteger(n) || n < 1 || n > 128) return json(400, { object: 'error', message: `n must be a whole number from 1 to 128, got ${JSON.stringify(n)}`, type: 'BadRequestError', param: 'n', code: 400 });
    const choices = Array.from({ length: n }, (_, index) => index);
    // The upstream names its own model (vLLM: the served path), not the gateway's alias.
    const base = { id: `cmpl-${this.name}`, created: 1, model: body.model };
    if (!body.stream) {
      const message = { role: 'assistant', content: tokens.join(''), ...(reasoning.length > 0 && { reasoning_content: reasoning.join('') }) };
      return json(200, { ...base, object: 'chat.completion', choices: choices.map((index) => ({ index, message, finish_reason: 'stop' })), usage });
    }
    res.writeHead(200, { 'content-type': 'text/event-stream' });
    const send = (o: object) => res.write(`data: ${JSON.stringify({ ...base, object: 'chat.completion.chunk', ...o })}\n\n`);
    send({ choices: choices.map((index) => ({ index, delta: { role: 'assistant', content: '' }, finish_reason: null })) });
    for (const piece of reasoning) {
      if (behaviour.delayMs) await new Promise((r) => setTimeout(r, behaviour.delayMs));
      send({ choices: choices.map((index) => ({ index, delta: { reasoning_content: piece }, finish_reason: null })) });
    }
    for (const token of tokens) {
      if (behaviour.delayMs) await new Promise((r) => setTimeout(r, behaviour.delayMs));
      send({ choices: choices.map((index) => ({ index, delta: { content: token }, finish_reason: null })) });
    }
    send({ choices: choices.map((index) => ({ index, delta: {}, finish_reason: 'stop' })) });
    if (body.stream_options?.include_usage) send({ choices: [], usage });
    res.end('data: [DONE]\n\n');
  }

  /** vLLM's /v1/embeddings (--task embed): strings or token ids, float or base64 vectors, usage in tokens. */
  private embeddings(body: any, json: (status: number, payload: object) => void) {
    const input = body.input;
    const inputs: (string | number[])[] = typeof input === 'string' ? [input] : Array.isArray(input) && typeof input[0] === 'number' ? [input] : input;
    if (!Array.isArray(inputs) || inputs.length === 0) return json(400, { object: 'error', message: 'input must not be empty', type: 'BadRequestError', code: 400 });
    if (inputs.length > this.maxEmbeddingInputs) return json(400, { error: { message: `batch size is invalid, it should not be larger than ${this.maxEmbeddingInputs}`, type: 'invalid_request_error', code: 'InvalidParameter' } });
    if (body.dimensions !== undefined && !this.embeddingDimensions.includes(body.dimensions)) {
      return json(400, { object: 'error', message: `Model "${body.model}" does not support matryoshka representation, changing output dimensions will lead to poor results.`, type: 'BadRequestError', code: 400 });
    }
    const dims = body.dimensions ?? 8;
    const tokens = inputs.reduce((n: number, x) => n + (typeof x === 'string' ? countTokens(x) : x.length), 0);
    const data = inputs.map((x, index) => {
      const vector = fakeVector(typeof x === 'string' ? `${this.name}:${x}` : `${this.name}:${x.join(',')}`, dims);
      return { index, object: 'embedding', embedding: body.encoding_format === 'base64' ? Buffer.from(new Float32Array(vector).buffer).toString('base64') : vector };
    });
    json(200, { id: `embd-${this.name}`, object: 'list', created: 1, model: body.model, data, usage: { prompt_tokens: tokens, total_tokens: tokens, completion_tokens: 0, prompt_tokens_details: null } });
  }

  /** vLLM's /v1/rerank (--task score): results by relevance, with the documents, usage in tokens. */
  private rerank(body: any, json: (status: number, payload: object) => void) {
    const documents: string[] = (body.documents ?? []).map((d: string | { text: string }) => (typeof d === 'string' ? d : d.text));
    if (typeof body.query !== 'string' || documents.length === 0) return json(400, { object: 'error', message: 'query and documents are required', type: 'BadRequestError', code: 400 });
    const results = documents
      .map((text, index) => ({ index, document: { text }, relevance_score: fakeRelevance(body.query, text) }))
      .sort((a, b) => b.relevance_score - a.relevance_score)
      .slice(0, body.top_n ?? documents.length);
    const tokens = documents.reduce((n, d) => n + countTokens(body.query) + countTokens(d), 0);
    json(200, { id: `rerank-${this.name}`, model: body.model, usage: { total_tokens: tokens }, results });
  }

  private async fail(res: http.ServerResponse, behaviour: Extract<UpstreamBehaviour, { kind: 'status' }>) {
    res.writeHead(behaviour.status, { 'content-type': 'application/json', ...behaviour.headers });
    if (!behaviour.endless) {
      res.end(behaviour.body ?? JSON.stringify({ error: { message: `${this.name} says ${behaviour.status}` } }));
      return;
    }
    // Writes until the reader goes away (with backpressure), the way a misbehaving proxy might.
    const piece = Buffer.alloc(64 * 1024, 'x');
    res.write(`{"error":{"message":"${this.name} says ${behaviour.status} `);
    while (!res.destroyed && this.endlessBytesWritten < 1024 ** 3) {
      this.endlessBytesWritten += piece.length;
      if (!res.write(piece)) {
        await new Promise<void>((resolve) => {
          const go = () => {
            res.off('drain', go).off('close', go);
            resolve();
          };
          res.on('drain', go).on('close', go);
        });
      }
    }
  }
}
