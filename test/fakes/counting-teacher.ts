import * as http from 'http';
import { LoopbackServer } from './loopback-server';

/** A teacher that counts what it is asked, answers slowly enough to be interrupted, and can fail on cue. */
export class CountingTeacher extends LoopbackServer {
  readonly asked: string[] = [];
  readonly failures: { status: number; headers?: Record<string, string> }[] = [];
  delayMs = 0;

  protected async serve(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const body = JSON.parse(Buffer.concat(chunks).toString('utf8') || '{}');
    const json = (status: number, payload: object, headers: Record<string, string> = {}) => {
      res.writeHead(status, { 'content-type': 'application/json', ...headers });
      res.end(JSON.stringify(payload));
    };
    if (req.url !== '/v1/chat/completions') return json(404, { error: { message: 'no route' } });
    const question = String(body.messages.at(-1).content);
    this.asked.push(question);
    const failure = this.failures.shift();
    if (failure) return json(failure.status, { error: { message: `teacher says ${failure.status}` } }, failure.headers);
    if (this.delayMs) await new Promise((r) => setTimeout(r, this.delayMs));
    json(200, {
      id: 'cmpl-t',
      object: 'chat.completion',
      created: 1,
      model: body.model,
      choices: [{ index: 0, message: { role: 'assistant', content: `answer to ${question}`, reasoning_content: `thinking about ${question}` }, finish_reason: 'stop' }],
      usage: { prompt_tokens: 5, completion_tokens: 4, total_tokens: 9 },
    });
  }
}
