import * as http from 'http';
import { LoopbackServer } from './loopback-server';

export type UpstreamBehaviour = { kind: 'reply'; tokens?: string[]; delayMs?: number } | { kind: 'status'; status: number } | { kind: 'reset' };

/** A loopback OpenAI-compatible server (vLLM's or a provider's /v1/chat/completions), with a bearer key. */
export class OpenAiUpstreamFake extends LoopbackServer {
  readonly requests: { body: any; authorization?: string }[] = [];
  private readonly queue: UpstreamBehaviour[] = [];

  constructor(
    readonly name: string,
    readonly apiKey: string,
  ) {
    super();
  }

  push(...b: UpstreamBehaviour[]): this {
    this.queue.push(...b);
    return this;
  }

  protected async serve(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const body = JSON.parse(Buffer.concat(chunks).toString('utf8') || '{}');
    this.requests.push({ body, authorization: req.headers.authorization });
    const json = (status: number, payload: object) => {
      res.writeHead(status, { 'content-type': 'application/json' });
      res.end(JSON.stringify(payload));
    };
    if (req.url !== '/v1/chat/completions') return json(404, { error: { message: `no route ${req.url}` } });
    // An empty key means the upstream is open (the benchmark); otherwise the bearer key must match.
    if (this.apiKey && req.headers.authorization !== `Bearer ${this.apiKey}`) return json(401, { error: { message: 'invalid api key' } });
    const behaviour = this.queue.shift() ?? { kind: 'reply' };
    if (behaviour.kind === 'status') return json(behaviour.status, { error: { message: `${this.name} says ${behaviour.status}` } });
    if (behaviour.kind === 'reset') {
      req.socket.destroy();
      return;
    }
    const lastUser = [...body.messages].reverse().find((m: any) => m.role === 'user')?.content;
    const tokens = behaviour.tokens ?? [`${this.name}: `, String(lastUser)];
    const usage = { prompt_tokens: 7, completion_tokens: tokens.length, total_tokens: 7 + tokens.length };
    const base = { id: `cmpl-${this.name}`, created: 1, model: body.model };
    if (!body.stream) {
      return json(200, { ...base, object: 'chat.completion', choices: [{ index: 0, message: { role: 'assistant', content: tokens.join('') }, finish_reason: 'stop' }], usage });
    }
    res.writeHead(200, { 'content-type': 'text/event-stream' });
    const send = (o: object) => res.write(`data: ${JSON.stringify({ ...base, object: 'chat.completion.chunk', ...o })}\n\n`);
    send({ choices: [{ index: 0, delta: { role: 'assistant', content: '' }, finish_reason: null }] });
    for (const token of tokens) {
      if (behaviour.delayMs) await new Promise((r) => setTimeout(r, behaviour.delayMs));
      send({ choices: [{ index: 0, delta: { content: token }, finish_reason: null }] });
    }
    send({ choices: [{ index: 0, delta: {}, finish_reason: 'stop' }] });
    if (body.stream_options?.include_usage) send({ choices: [], usage });
    res.end('data: [DONE]\n\n');
  }
}
