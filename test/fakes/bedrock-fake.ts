import * as http from 'http';
import { LoopbackServer } from './loopback-server';
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
  | { kind: 'streamError'; afterTokens: number; type: string; message?: string }
  /** The stream stops after some tokens: `end` closes it cleanly (no messageStop), `reset` destroys the socket, `stall` goes silent for `ms`. */
  | { kind: 'cut'; afterTokens: number; how: 'end' | 'reset' | 'stall'; ms?: number }
  /** After some tokens, an event whose checksum does not match its bytes. */
  | { kind: 'badChecksum'; afterTokens: number };

export interface RecordedRequest {
  readonly modelId: string;
  readonly operation: 'converse' | 'converse-stream';
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
  /** When set, requests signed with a key it rejects get UnrecognizedClientException (as Bedrock does for unknown or deleted keys). */
  acceptsKey?: (accessKeyId: string) => boolean;

  push(...behaviours: Behaviour[]): this {
    this.queue.push(...behaviours);
    return this;
  }


  protected async serve(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const match = /^\/model\/([^/]+)\/(converse|converse-stream)$/.exec(req.url ?? '');
    if (!match) return this.error(res, 404, 'UnknownOperationException', `no route ${req.url}`);
    const accessKeyId = /Credential=([^/]+)\//.exec(req.headers.authorization ?? '')?.[1];
    const body = JSON.parse(Buffer.concat(chunks).toString('utf8') || '{}');
    this.requests.push({ modelId: decodeURIComponent(match[1]), operation: match[2] as RecordedRequest['operation'], accessKeyId, body });
    if (this.acceptsKey && !this.acceptsKey(accessKeyId ?? '')) {
      return this.error(res, 403, 'UnrecognizedClientException', 'The security token included in the request is invalid.');
    }
    const behaviour = this.queue.shift() ?? { kind: 'reply' };
    switch (behaviour.kind) {
      case 'error':
        return this.error(res, behaviour.status, behaviour.type, behaviour.message ?? behaviour.type);
      case 'reset':
        req.socket.destroy();
        return;
      case 'hang':
        await sleep(behaviour.ms);
        return this.error(res, 500, 'InternalServerException', 'hung');
      default:
        return match[2] === 'converse' ? this.converse(res, body, behaviour) : this.converseStream(res, body, behaviour);
    }
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
