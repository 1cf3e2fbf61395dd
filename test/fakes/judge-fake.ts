import * as http from 'http';
import { LoopbackServer } from './loopback-server';

/** Character bigrams of a text (lower-cased, whitespace dropped): works for Chinese and English alike. */
function bigrams(text: string): Map<string, number> {
  const chars = [...text.toLowerCase().replace(/\s+/g, '')];
  const grams = new Map<string, number>();
  for (let i = 0; i + 1 < chars.length; i++) grams.set(chars[i] + chars[i + 1], (grams.get(chars[i] + chars[i + 1]) ?? 0) + 1);
  return grams;
}

/** Bigram F1 of an answer against the request: 0 (nothing in common) to 1. */
export function overlapF1(answer: string, request: string): number {
  const a = bigrams(answer);
  const r = bigrams(request);
  let common = 0;
  for (const [g, n] of a) common += Math.min(n, r.get(g) ?? 0);
  const total = (m: Map<string, number>) => [...m.values()].reduce((x, y) => x + y, 0);
  if (common === 0) return 0;
  const precision = common / total(a);
  const recall = common / total(r);
  return (2 * precision * recall) / (precision + recall);
}

const section = (text: string, tag: string) => new RegExp(`<${tag}>\\n?([\\s\\S]*?)\\n?</${tag}>`).exec(text)?.[1] ?? '';

/**
 * A loopback judge for the local pipeline and tests: an OpenAI-compatible /v1/chat/completions that
 * reads the rubric prompt's <request>, <answer_a> and <answer_b> and scores each answer 0-10 by its
 * character-bigram overlap with the request. A lexical stand-in, not a language model: it exercises
 * the judge protocol and the report, and says nothing about real answer quality.
 */
export class JudgeFake extends LoopbackServer {
  calls = 0;
  /** Replies given as is instead of the computed JSON, in order (to test parsing). */
  readonly scripted: string[] = [];

  protected async serve(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const json = (status: number, payload: object) => {
      res.writeHead(status, { 'content-type': 'application/json' });
      res.end(JSON.stringify(payload));
    };
    if (req.url !== '/v1/chat/completions') return json(404, { error: { message: `no route ${req.url}` } });
    this.calls++;
    const body = JSON.parse(Buffer.concat(chunks).toString('utf8') || '{}');
    const prompt = String([...(body.messages ?? [])].reverse().find((m: { role: string }) => m.role === 'user')?.content ?? '');
    const request = section(prompt, 'request');
    const score = (answer: string) => Math.round(10 * overlapF1(answer, request));
    const content = this.scripted.shift() ?? JSON.stringify({ a: score(section(prompt, 'answer_a')), b: score(section(prompt, 'answer_b')), reason: 'lexical overlap with the request (local stand-in judge)' });
    json(200, { id: 'judge-1', object: 'chat.completion', created: 1, model: body.model, choices: [{ index: 0, message: { role: 'assistant', content }, finish_reason: 'stop' }], usage: { prompt_tokens: prompt.length, completion_tokens: content.length, total_tokens: prompt.length + content.length } });
  }
}
