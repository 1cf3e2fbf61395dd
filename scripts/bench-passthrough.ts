/**
 * npx ts-node --transpile-only scripts/bench-passthrough.ts: what rewriting the model in each SSE
 * event costs the gateway per event and per MB, for a vLLM-like stream fed in network-sized chunks.
 * Prints figures; gates nothing. CPU time of this process, not wall time: on a shared machine the
 * wall clock mostly measures waiting for a core.
 */
import { SsePassthrough } from '../runtime/gateway/passthrough';
import { flagValue } from './cli-config';

const args = process.argv.slice(2);
const EVENTS = Number(flagValue(args, '--events') ?? 100_000);
const CHUNK = Number(flagValue(args, '--chunk-bytes') ?? 1400);
const ROUNDS = Number(flagValue(args, '--rounds') ?? 5);

const event = (i: number) =>
  `data: {"id":"chatcmpl-8f2c","object":"chat.completion.chunk","created":1733100000,"model":"/models/Qwen2.5-7B-Instruct","choices":[{"index":0,"delta":{"content":"词${i} "},"logprobs":null,"finish_reason":null}]}\n\n`;
const body = Buffer.from(`${Array.from({ length: EVENTS }, (_, i) => event(i)).join('')}data: {"model":"/models/Qwen2.5-7B-Instruct","choices":[],"usage":{"prompt_tokens":12,"completion_tokens":${EVENTS},"prompt_tokens_details":{"cached_tokens":0}}}\n\ndata: [DONE]\n\n`);
const chunks: Uint8Array[] = [];
for (let at = 0; at < body.length; at += CHUNK) chunks.push(body.subarray(at, at + CHUNK));

const times: number[] = [];
for (let round = 0; round < ROUNDS; round++) {
  const start = process.cpuUsage();
  const t = new SsePassthrough('qwen-7b');
  let out = 0;
  for (const c of chunks) out += t.feed(c).length;
  const summary = t.end();
  const used = process.cpuUsage(start);
  times.push((used.user + used.system) / 1000);
  if (!summary.doneSeen || summary.usage?.outputTokens !== EVENTS || out === 0) throw new Error('the stream did not come through whole');
}
const best = Math.min(...times);
process.stdout.write(
  [
    `stream: ${EVENTS} events, ${(body.length / 1e6).toFixed(1)} MB, fed in ${CHUNK}-byte chunks; best of ${ROUNDS} rounds (CPU time)`,
    `per event: ${((best * 1000) / EVENTS).toFixed(2)} µs`,
    `throughput: ${(body.length / 1e6 / (best / 1000)).toFixed(0)} MB/s`,
  ].join('\n') + '\n',
);
