import * as http from 'http';
import { LoopbackServer, untilClosedOr } from './loopback-server';
import { encodeStreamEvent } from '../../runtime/gateway/native-wire';

/** What the fake does with the next request; requests beyond the queue get a default echo reply. */
export type Behaviour =
  | {
      kind: 'reply';
      text?: string;
      toolUse?: { name: string; input: Record<string, unknown> };
      /** A reasoningContent block before the answer (as Nova 2 and Claude send it when reasoning is on): its text streamed word by word, then its signature. */
      reasoning?: { text: string; signature?: string };
      stopReason?: string;
      interTokenDelayMs?: number;
    }
  | { kind: 'error'; status: number; type: string; message?: string }
  | { kind: 'reset' }
  | { kind: 'hang'; ms: number }
  /** Waits `ms`, then answers as a default reply would (any operation): a slow but healthy call. */
  | { kind: 'slow'; ms: number }
  /** An answer with this status and raw body (a 200 whose body is not what the operation returns, say). */
  | { kind: 'body'; status: number; body: string }
  | { kind: 'streamError'; afterTokens: number; type: string; message?: string }
  /** The stream stops after some tokens: `end` closes it cleanly (no messageStop), `reset` destroys the socket, `stall` goes silent for `ms`. */
  | { kind: 'cut'; afterTokens: number; how: 'end' | 'reset' | 'stall'; ms?: number }
  /** After some tokens, an event whose checksum does not match its bytes. */
  | { kind: 'badChecksum'; afterTokens: number };

export interface RecordedRequest {
  /** The model in the path; for the Rerank API, the modelArn of its configuration. */
  readonly modelId: string;
  readonly operation: 'converse' | 'converse-stream' | 'invoke' | 'rerank';
  readonly accessKeyId: string | undefined;
  readonly body: any;
}

/**
 * A loopback stand-in for Bedrock Runtime that speaks the real wire formats: Converse as JSON and
 * ConverseStream as AWS event stream messages, errors with x-amzn-ErrorType, so the real
 * @aws-sdk/client-bedrock-runtime talks to it unchanged.
 */
export class BedrockFake extends LoopbackServer {
  readonly requests: RecordedRequest[] = [];
  /**
   * Prompt prefixes cached by earlier requests (Bedrock prompt caching): a request whose prefix up to
   * its last cache point is here reads it (cacheReadInputTokens), otherwise writes it.
   */
  private readonly promptCache = new Set<string>();
  /** Streams whose caller hung up before the fake finished them, and how many tokens each got out. */
  readonly abandonedStreams: { tokensSent: number }[] = [];
  private readonly queue: Behaviour[] = [];
  /** Behaviours for requests whose body holds a given text (one input of a fan-out), taken before the shared queue. */
  private readonly targeted = new Map<string, Behaviour[]>();
  /** When set, requests signed with a key it rejects get UnrecognizedClientException (as Bedrock does for unknown or deleted keys). */
  acceptsKey?: (accessKeyId: string) => boolean;

  push(...behaviours: Behaviour[]): this {
    this.queue.push(...behaviours);
    return this;
  }

  /** Behaviours for the next requests whose raw body contains `text`, in order (then they fall back to the shared queue). */
  pushFor(text: string, ...behaviours: Behaviour[]): this {
    this.targeted.set(text, [...(this.targeted.get(text) ?? []), ...behaviours]);
    return this;
  }

  /** Forgets every queued behaviour (between tests). */
  clear(): this {
    this.queue.length = 0;
    this.targeted.clear();
    return this;
  }

  private next(raw: string): Behaviour {
    for (const [text, behaviours] of this.targeted) {
      if (raw.includes(text) && behaviours.length > 0) return behaviours.shift()!;
    }
    return this.queue.shift() ?? { kind: 'reply' };
  }


  protected async serve(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const match = /^\/model\/([^/]+)\/(converse|converse-stream|invoke)$/.exec(req.url ?? '') ?? (req.url === '/rerank' ? ['', '', 'rerank'] : null);
    if (!match) return this.error(res, 404, 'UnknownOperationException', `no route ${req.url}`);
    const accessKeyId = /Credential=([^/]+)\//.exec(req.headers.authorization ?? '')?.[1];
    const raw = Buffer.concat(chunks).toString('utf8');
    let body: any;
    try {
      body = JSON.parse(raw || '{}');
    } catch {
      // As Bedrock answers a body it cannot parse (the SDK writes one when a caller's object sits where a string belongs).
      return this.error(res, 400, 'SerializationException', 'Unable to parse the request body as JSON');
    }
    const modelId = match[2] === 'rerank' ? String(body.rerankingConfiguration?.bedrockRerankingConfiguration?.modelConfiguration?.modelArn) : decodeURIComponent(match[1]);
    this.requests.push({ modelId, operation: match[2] as RecordedRequest['operation'], accessKeyId, body });
    if (this.acceptsKey && !this.acceptsKey(accessKeyId ?? '')) {
      return this.error(res, 403, 'UnrecognizedClientException', 'The security token included in the request is invalid.');
    }
    let behaviour = this.next(raw);
    if (behaviour.kind === 'slow') {
      await untilClosedOr(res, behaviour.ms);
      behaviour = { kind: 'reply' };
    }
    switch (behaviour.kind) {
      case 'error':
        return this.error(res, behaviour.status, behaviour.type, behaviour.message ?? behaviour.type);
      case 'reset':
        req.socket.destroy();
        return;
      case 'hang':
        // Ends early when the caller gives up: inFlight then shows whether the gateway let go of it.
        await untilClosedOr(res, behaviour.ms);
        return this.error(res, 500, 'InternalServerException', 'hung');
      case 'body':
        res.writeHead(behaviour.status, { 'content-type': 'application/json' });
        return void res.end(behaviour.body);
      default:
        if (match[2] === 'invoke') return this.invoke(res, modelId, body);
        if (match[2] === 'rerank') return this.rerank(res, body);
        return match[2] === 'converse' ? this.converse(res, body, behaviour) : this.converseStream(res, body, behaviour);
    }
  }

  /**
   * InvokeModel of the embedding models, with each family's own body and answer: Titan Text
   * Embeddings V2 ({inputText, dimensions, normalize} -> {embedding, inputTextTokenCount}), Nova
   * Multimodal Embeddings (SINGLE_EMBEDDING -> {embeddings: [{embeddingType, embedding}]}), Cohere
   * Embed v3 ({texts, input_type, embedding_types} -> {id, embeddings: {float}, response_type, texts}).
   * Every answer carries the billed input tokens in X-Amzn-Bedrock-Input-Token-Count, as Bedrock's do.
   */
  private invoke(res: http.ServerResponse, modelId: string, body: any) {
    const reject = (message: string) => this.error(res, 400, 'ValidationException', message);
    let answer: object;
    let tokens: number;
    if (modelId.startsWith('amazon.titan-embed-text-v2')) {
      if (typeof body.inputText !== 'string' || body.inputText === '') return reject('Malformed input request: inputText is required');
      const dims = body.dimensions ?? 1024;
      if (![256, 512, 1024].includes(dims)) return reject(`Malformed input request: #/dimensions: ${dims} is not a valid enum value`);
      tokens = countTokens(body.inputText);
      answer = { embedding: fakeVector(body.inputText, dims), embeddingsByType: { float: fakeVector(body.inputText, dims) }, inputTextTokenCount: tokens };
    } else if (modelId.startsWith('amazon.nova-2-multimodal-embeddings')) {
      const params = body.singleEmbeddingParams;
      if (body.taskType !== 'SINGLE_EMBEDDING' || !params?.embeddingPurpose || typeof params.text?.value !== 'string') return reject('Malformed input request: taskType SINGLE_EMBEDDING with singleEmbeddingParams.embeddingPurpose and text.value is required');
      const dims = params.embeddingDimension ?? 3072;
      if (![256, 384, 1024, 3072].includes(dims)) return reject(`Malformed input request: embeddingDimension ${dims} is not valid`);
      tokens = countTokens(params.text.value);
      answer = { embeddings: [{ embeddingType: 'TEXT', embedding: fakeVector(params.text.value, dims) }] };
    } else if (modelId.startsWith('cohere.embed-')) {
      if (!Array.isArray(body.texts) || body.texts.length === 0 || body.texts.length > 96) return reject('Malformed input request: texts must hold 1 to 96 strings');
      if (!['search_document', 'search_query', 'classification', 'clustering'].includes(body.input_type)) return reject('Malformed input request: input_type is required');
      tokens = body.texts.reduce((n: number, t: string) => n + countTokens(t), 0);
      const vectors = body.texts.map((t: string) => fakeVector(t, 1024));
      answer = body.embedding_types
        ? { id: 'emb-1', embeddings: { float: vectors }, response_type: 'embeddings_by_type', texts: body.texts }
        : { id: 'emb-1', embeddings: vectors, response_type: 'embeddings_floats', texts: body.texts };
    } else {
      return reject(`The fake knows no InvokeModel body for ${modelId}`);
    }
    res.writeHead(200, { 'content-type': 'application/json', 'x-amzn-bedrock-input-token-count': String(tokens), 'x-amzn-bedrock-output-token-count': '0' });
    res.end(JSON.stringify(answer));
  }

  /** The Rerank API (bedrock-agent-runtime POST /rerank): one text query, inline text sources, results by relevance. */
  private rerank(res: http.ServerResponse, body: any) {
    const query = body.queries?.[0]?.textQuery?.text;
    const sources: string[] = (body.sources ?? []).map((s: any) => s.inlineDocumentSource?.textDocument?.text);
    const config = body.rerankingConfiguration?.bedrockRerankingConfiguration;
    if (body.queries?.length !== 1 || typeof query !== 'string') return this.error(res, 400, 'ValidationException', 'exactly one TEXT query is required');
    if (sources.length === 0 || sources.length > 1000 || sources.some((s) => typeof s !== 'string')) return this.error(res, 400, 'ValidationException', 'sources must hold 1 to 1000 INLINE TEXT documents');
    if (!/^arn:aws:bedrock:[a-z0-9-]+::foundation-model\/(amazon\.rerank-v1:0|cohere\.rerank-v3-5:0)$/.test(config?.modelConfiguration?.modelArn ?? '')) return this.error(res, 400, 'ValidationException', 'modelArn is not a reranker');
    const n = config.numberOfResults ?? sources.length;
    const results = sources
      .map((text, index) => ({ index, relevanceScore: fakeRelevance(query, text) }))
      .sort((a, b) => b.relevanceScore - a.relevanceScore)
      .slice(0, n);
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ results }));
  }

  private async cut(res: http.ServerResponse, behaviour: Extract<Behaviour, { kind: 'cut' }>) {
    // A moment first: the events already written reach the caller before the stream breaks.
    await sleep(50);
    if (behaviour.how === 'end') return void res.end();
    if (behaviour.how === 'reset') return void res.socket?.destroy();
    // Silent until the caller gives up (closes the connection) or the stall is over.
    const closedByCaller = await new Promise<boolean>((resolve) => {
      const timer = setTimeout(() => resolve(false), behaviour.ms ?? 60_000);
      timer.unref();
      res.on('close', () => {
        clearTimeout(timer);
        resolve(!res.writableFinished);
      });
    });
    if (closedByCaller) this.abandonedStreams.push({ tokensSent: behaviour.afterTokens });
    else res.end();
  }

  private error(res: http.ServerResponse, status: number, type: string, message: string) {
    res.writeHead(status, { 'content-type': 'application/json', 'x-amzn-errortype': `${type}:http://internal.amazon.com/coral/com.amazon.bedrock/` });
    res.end(JSON.stringify({ message }));
  }

  private reply(body: any, behaviour: Behaviour) {
    const b = behaviour.kind === 'reply' ? behaviour : { kind: 'reply' as const };
    const lastUser = [...(body.messages ?? [])].reverse().find((m: any) => m.role === 'user');
    const lastText = (lastUser?.content ?? []).map((c: any) => c.text ?? (c.toolResult ? `tool said ${c.toolResult.content?.[0]?.text}` : '')).join(' ');
    // As Bedrock does: a forced tool (toolChoice {tool}) is always what the model answers with, and
    // structured outputs (outputConfig.textFormat) answer in JSON.
    const forced: string | undefined = body.toolConfig?.toolChoice?.tool?.name;
    const toolUse = b.toolUse ?? (forced !== undefined && b.text === undefined ? { name: forced, input: { said: lastText } } : undefined);
    const text = b.text ?? (toolUse ? '' : body.outputConfig?.textFormat ? JSON.stringify({ said: lastText }) : `You said: ${lastText}`);
    const promptWords = JSON.stringify(body.messages ?? []).split(/\s+/).length;
    const tokens = text.length > 0 ? text.split(/(?<= )/) : [];
    const reasoningTokens = b.reasoning ? b.reasoning.text.split(/(?<= )/) : [];
    const outputTokens = tokens.length + reasoningTokens.length + (toolUse ? 5 : 0);
    const cache = this.cacheUsage(body);
    const usage = {
      inputTokens: promptWords,
      outputTokens,
      totalTokens: promptWords + outputTokens + (cache?.cacheReadInputTokens ?? 0) + (cache?.cacheWriteInputTokens ?? 0),
      ...cache,
    };
    return { text, tokens, reasoning: b.reasoning, reasoningTokens, toolUse, stopReason: b.stopReason ?? (toolUse ? 'tool_use' : 'end_turn'), usage };
  }

  /**
   * Converse's cache accounting: the prompt up to the last cache point (tools first, then the system
   * prompt, as Bedrock orders them) is read from the cache when an earlier request wrote it.
   * inputTokens then counts only the rest (the messages). No cache point: no cache fields.
   */
  private cacheUsage(body: any): { cacheReadInputTokens: number; cacheWriteInputTokens: number } | undefined {
    const tools: any[] = body.toolConfig?.tools ?? [];
    const system: any[] = body.system ?? [];
    const lastCachePoint = (blocks: any[]) => blocks.map((block) => Boolean(block.cachePoint)).lastIndexOf(true);
    const lastToolPoint = lastCachePoint(tools);
    const lastSystemPoint = lastCachePoint(system);
    if (lastToolPoint === -1 && lastSystemPoint === -1) return undefined;
    const prefix = JSON.stringify(lastSystemPoint === -1 ? { tools: tools.slice(0, lastToolPoint) } : { tools: tools.filter((t) => !t.cachePoint), system: system.slice(0, lastSystemPoint) });
    const prefixTokens = prefix.split(/\s+/).length;
    if (this.promptCache.has(prefix)) return { cacheReadInputTokens: prefixTokens, cacheWriteInputTokens: 0 };
    this.promptCache.add(prefix);
    return { cacheReadInputTokens: 0, cacheWriteInputTokens: prefixTokens };
  }

  private converse(res: http.ServerResponse, body: any, behaviour: Behaviour) {
    const r = this.reply(body, behaviour);
    const content: any[] = [];
    if (r.reasoning) content.push({ reasoningContent: { reasoningText: { text: r.reasoning.text, ...(r.reasoning.signature && { signature: r.reasoning.signature }) } } });
    if (r.text) content.push({ text: r.text });
    if (r.toolUse) content.push({ toolUse: { toolUseId: 'tooluse_1', name: r.toolUse.name, input: r.toolUse.input } });
    res.writeHead(200, { 'content-type': 'application/json' });
    // Bedrock reports the tier that served a request which asked for one.
    res.end(JSON.stringify({ output: { message: { role: 'assistant', content } }, stopReason: r.stopReason, usage: r.usage, metrics: { latencyMs: 5 }, ...(body.serviceTier && { serviceTier: body.serviceTier }) }));
  }

  private async converseStream(res: http.ServerResponse, body: any, behaviour: Behaviour) {
    const r = this.reply(body, behaviour);
    const delay = behaviour.kind === 'reply' ? (behaviour.interTokenDelayMs ?? 0) : 0;
    res.writeHead(200, { 'content-type': 'application/vnd.amazon.eventstream' });
    const send = (event: object) => res.write(encodeStreamEvent(event));
    send({ messageStart: { role: 'assistant' } });
    // Converse numbers content blocks in order: reasoning first, then text, then a tool call.
    const textBlock = r.reasoning ? 1 : 0;
    if (r.reasoning) {
      for (const piece of r.reasoningTokens) send({ contentBlockDelta: { contentBlockIndex: 0, delta: { reasoningContent: { text: piece } } } });
      if (r.reasoning.signature) send({ contentBlockDelta: { contentBlockIndex: 0, delta: { reasoningContent: { signature: r.reasoning.signature } } } });
      send({ contentBlockStop: { contentBlockIndex: 0 } });
    }
    let hungUp = false;
    res.on('close', () => {
      if (!res.writableFinished) hungUp = true;
    });
    for (const [i, token] of r.tokens.entries()) {
      if (behaviour.kind === 'streamError' && i === behaviour.afterTokens) {
        res.end(encodeStreamEvent({ [behaviour.type]: { message: behaviour.message ?? behaviour.type } }));
        return;
      }
      if (behaviour.kind === 'cut' && i === behaviour.afterTokens) return this.cut(res, behaviour);
      if (behaviour.kind === 'badChecksum' && i === behaviour.afterTokens) {
        const event = Buffer.from(encodeStreamEvent({ contentBlockDelta: { contentBlockIndex: textBlock, delta: { text: token } } }));
        event[event.length - 6] ^= 0xff; // a payload byte: the message CRC no longer matches
        await sleep(50);
        res.end(event);
        return;
      }
      if (delay > 0) await sleep(delay);
      if (hungUp) {
        this.abandonedStreams.push({ tokensSent: i });
        return;
      }
      send({ contentBlockDelta: { contentBlockIndex: textBlock, delta: { text: token } } });
    }
    if (r.tokens.length > 0) send({ contentBlockStop: { contentBlockIndex: textBlock } });
    if (r.toolUse) {
      const input = JSON.stringify(r.toolUse.input);
      const toolBlock = textBlock + (r.tokens.length > 0 ? 1 : 0);
      send({ contentBlockStart: { contentBlockIndex: toolBlock, start: { toolUse: { toolUseId: 'tooluse_1', name: r.toolUse.name } } } });
      send({ contentBlockDelta: { contentBlockIndex: toolBlock, delta: { toolUse: { input: input.slice(0, 5) } } } });
      send({ contentBlockDelta: { contentBlockIndex: toolBlock, delta: { toolUse: { input: input.slice(5) } } } });
      send({ contentBlockStop: { contentBlockIndex: toolBlock } });
    }
    send({ messageStop: { stopReason: r.stopReason } });
    send({ metadata: { usage: r.usage, metrics: { latencyMs: 5 }, ...(body.serviceTier && { serviceTier: body.serviceTier }) } });
    res.end();
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));


/** Tokens as the fakes count them: words. */
export const countTokens = (text: string) => text.split(/\s+/).filter((w) => w.length > 0).length;

/** A deterministic unit vector for a text (tests compute what the stand-ins answer). */
export function fakeVector(text: string, dimensions: number): number[] {
  let seed = 0;
  for (const c of text) seed = (seed * 31 + c.codePointAt(0)!) % 1000003;
  const raw = Array.from({ length: dimensions }, (_, i) => Math.sin(seed + i * 0.5));
  const norm = Math.sqrt(raw.reduce((n, v) => n + v * v, 0)) || 1;
  // float32 values: what a base64 (float32) answer can carry exactly.
  return raw.map((v) => Math.fround(v / norm));
}

/** How many of the query's words the document holds, as a share (0..1): a stand-in reranker's score. */
export function fakeRelevance(query: string, document: string): number {
  const words = query.toLowerCase().split(/\W+/).filter((w) => w.length > 0);
  const text = document.toLowerCase();
  const hits = words.filter((w) => text.includes(w)).length;
  return Math.fround(words.length === 0 ? 0 : hits / words.length + 0.001 / (1 + document.length));
}
