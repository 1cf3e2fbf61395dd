/**
 * npm run bench:gateway: what the gateway adds on top of Bedrock, measured on loopback against the
 * Bedrock stand-in, plus the Lambda bundle's size and cold load time. Prints figures and targets;
 * it gates nothing (timing on a shared 2-core machine is for reading, not for failing builds).
 */
import { execFileSync, spawn } from 'child_process';
import * as fs from 'fs';
import * as http from 'http';
import * as os from 'os';
import * as path from 'path';
import { BedrockRuntimeClient, ConverseCommand, ConverseStreamCommand } from '@aws-sdk/client-bedrock-runtime';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { NodeHttpHandler } from '@smithy/node-http-handler';
import { buildSync } from 'esbuild';
import { GATEWAY_BUNDLE } from '../lib/gateway/bundle';
import { BedrockInvoker } from '../runtime/gateway/bedrock';
import { createGateway } from '../runtime/gateway/gateway';
import { GatewayRuntimeConfigSchema } from '../runtime/gateway/runtime-config';
import { startLocalGateway } from '../runtime/local/local-gateway';
import { ApiKeyTable, newApiKey } from '../runtime/server/api-keys';
import { BedrockFake } from '../test/fakes/bedrock-fake';
import { DynamoDbLocal } from '../test/fakes/dynamodb-local';
import { benchEmbeddings, EmbeddingFigures } from './bench-embeddings';
import { flagValue } from './cli-config';
import { DynamoCounterStore } from '../runtime/quota/dynamo-counter-store';
import { Quota } from '../runtime/quota/quota';
import { QuotaRuntimeConfigSchema } from '../runtime/quota/quota-config';
import { BufferedSink } from '../runtime/gateway/types';

const args = process.argv.slice(2);
const ROUNDS = Number(flagValue(args, '--requests') ?? 400);
const STREAM_ROUNDS = Number(flagValue(args, '--streams') ?? 100);
const COLD_LOADS = Number(flagValue(args, '--cold-loads') ?? 7);
const EMBEDDING_REQUESTS = Number(flagValue(args, '--embedding-requests') ?? 40);
const EMBEDDING_BATCH = Number(flagValue(args, '--embedding-batch') ?? 64);
const CONCURRENT = Number(flagValue(args, '--concurrent-streams') ?? 200);
const TOKEN_DELAY_MS = 20;
const DOOR_TOKENS = 20;
const AFTER_LOAD_IDLE_MS = 5000;

const credentials = { accessKeyId: 'AKIABENCH', secretAccessKey: 'bench' };
const messages = [{ role: 'user' as const, content: [{ text: 'benchmark prompt with a few words in it' }] }];

/**
 * The Bedrock stand-in, counting the streams it has open at once. With `gather` set it holds every
 * stream until that many are open (or 30 s passed): a socket cap in the door would keep the count at
 * the cap however fast the machine, since the held streams could not end to free a socket.
 */
class CountingBedrock extends BedrockFake {
  open = 0;
  peakOpen = 0;
  gather = 0;
  private gathered?: { promise: Promise<void>; release: () => void };

  protected async serve(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    this.peakOpen = Math.max(this.peakOpen, ++this.open);
    res.once('close', () => this.open--);
    if (this.gather > 0) {
      if (!this.gathered) {
        let release!: () => void;
        this.gathered = { promise: new Promise<void>((r) => (release = r)), release };
      }
      if (this.open >= this.gather) this.gathered.release();
      let giveUp: NodeJS.Timeout | undefined;
      await Promise.race([this.gathered.promise, new Promise((r) => (giveUp = setTimeout(r, 30_000)))]);
      clearTimeout(giveUp);
    }
    await super.serve(req, res);
  }

  stopGathering(): void {
    this.gather = 0;
    this.gathered?.release();
    this.gathered = undefined;
  }
}

function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

const ms = (start: bigint) => Number(process.hrtime.bigint() - start) / 1e6;

/**
 * What the quota check adds (quotas on: requests and tokens per minute, a monthly token budget;
 * counters in dynalite on loopback): the same requests through the gateway core with and without
 * the quota module, interleaved. DynamoDB in the region answers in single-digit milliseconds, in
 * the same order as dynalite here; the figure is the check's own cost plus one store round trip
 * before the call and one after it.
 */
async function benchQuota(fake: BedrockFake): Promise<{ before: number[]; after: number[]; without: number[]; withQuota: number[]; roundTrip: number[] }> {
  const dynamo = await (await new DynamoDbLocal().start()).createQuotaTable('bench-quotas');
  const config = GatewayRuntimeConfigSchema.parse({ bedrockEndpoint: fake.url, models: [{ alias: 'nova-lite', modelId: 'us.amazon.nova-lite-v1:0' }] });
  const bedrock = new BedrockInvoker(config, { get: async () => credentials, invalidate: () => undefined });
  const store = new DynamoCounterStore(dynamo.jsonClient(2000), 'bench-quotas');
  const quota = new Quota(QuotaRuntimeConfigSchema.parse({ enforce: true, default: { requestsPerMinute: 1_000_000, tokensPerMinute: 1_000_000_000, monthlyTokens: 1_000_000_000_000 } }), { store, log: () => undefined });
  const plain = createGateway({ config, bedrock, log: () => undefined });
  const limited = createGateway({ config, bedrock, log: () => undefined, quota });
  const body = JSON.stringify({ model: 'nova-lite', max_tokens: 100, messages: [{ role: 'user', content: 'benchmark prompt with a few words in it' }] });
  const once = async (gateway: typeof plain) => {
    const t = process.hrtime.bigint();
    const sink = new BufferedSink();
    await gateway.handle({ method: 'POST', path: '/v1/chat/completions', headers: {}, body, caller: 'arn:aws-cn:iam::111122223333:user/bench', requestId: 'b' }, sink);
    if (sink.status !== 200) throw new Error(`bench request answered ${sink.status}: ${sink.body.toString()}`);
    return ms(t);
  };
  // The check alone (before the call) and the settlement alone (after it), as the quota module runs them.
  const before: number[] = [];
  const after: number[] = [];
  const req = { method: 'POST', path: '/v1/chat/completions', headers: {}, body, caller: 'arn:aws-cn:iam::111122223333:user/bench', requestId: 'b' };
  for (let i = 0; i < 50; i++) await Promise.all([once(plain), once(limited)]);
  const without: number[] = [];
  const withQuota: number[] = [];
  // One UpdateItem alone: what the store itself takes per round trip on this machine.
  const roundTrip: number[] = [];
  for (let i = 0; i < ROUNDS; i++) {
    const r = process.hrtime.bigint();
    await store.add('bench#raw', { requests: 1, tokens: 1, cost: 0 }, Date.now() + 60_000);
    roundTrip.push(ms(r));
    without.push(await once(plain));
    withQuota.push(await once(limited));
    let t = process.hrtime.bigint();
    const admission = await quota.admit(req);
    before.push(ms(t));
    t = process.hrtime.bigint();
    await quota.settle(admission, { route: 'chat.completions', status: 200, model: 'nova-lite', inputTokens: 9, outputTokens: 12 });
    after.push(ms(t));
  }
  await dynamo.stop();
  return { before, after, without, withQuota, roundTrip };
}

function printQuota(q: Awaited<ReturnType<typeof benchQuota>>): void {
  console.log(`  quota check (dynalite on loopback): request through the gateway p50/p99 ${percentile(q.without, 50).toFixed(2)}/${percentile(q.without, 99).toFixed(2)} ms without quotas, ${percentile(q.withQuota, 50).toFixed(2)}/${percentile(q.withQuota, 99).toFixed(2)} ms with; check before the call p50/p99 ${percentile(q.before, 50).toFixed(2)}/${percentile(q.before, 99).toFixed(2)} ms, settlement after it ${percentile(q.after, 50).toFixed(2)}/${percentile(q.after, 99).toFixed(2)} ms; one dynalite UpdateItem alone ${percentile(q.roundTrip, 50).toFixed(2)}/${percentile(q.roundTrip, 99).toFixed(2)} ms`);
}

/** --embeddings-only: just the embedding throughput figures (a minute instead of the whole run). */
async function embeddingsOnly() {
  const fake = await new BedrockFake().start();
  const upstreamProcess = spawn(process.execPath, [require.resolve('ts-node/dist/bin.js'), '--transpile-only', path.join(__dirname, 'serve-openai-fake.ts')], { stdio: ['ignore', 'pipe', 'inherit'] });
  const vllmUrl = await new Promise<string>((resolve) => upstreamProcess.stdout!.once('data', (d) => resolve(String(d).trim())));
  try {
    const figures = await benchEmbeddings(fake.url, vllmUrl, { requests: EMBEDDING_REQUESTS, batch: EMBEDDING_BATCH });
    console.log('| measure | value |');
    console.log('|---|---|');
    for (const [name, value] of embeddingRows(figures)) console.log(`| ${name} | ${value.toFixed(0)} |`);
  } finally {
    upstreamProcess.kill('SIGTERM');
    await fake.stop();
  }
}

const USAGE = `Usage: npm run bench:gateway -- [--door-only | --embeddings-only | --quota-only] [--requests 400] [--streams 100]
       [--concurrent-streams 200] [--cold-loads 7] [--embedding-requests 40] [--embedding-batch 64]
Figures of the gateway on loopback against the Bedrock and vLLM stand-ins, each next to its target (nothing fails on a miss).
  --door-only        the streaming door alone: 200 concurrent streams per route, its RSS around the load (about a minute)
  --embeddings-only  embedding throughput alone
  --quota-only       the quota check's added latency alone (dynalite)`;

async function main() {
  if (args.includes('--help') || args.includes('-h')) return console.log(USAGE);
  if (args.includes('--embeddings-only')) return embeddingsOnly();
  if (args.includes('--door-only')) return doorOnly();
  if (args.includes('--quota-only')) {
    const fake = await new BedrockFake().start();
    const q = await benchQuota(fake);
    await fake.stop();
    console.log(`bench:gateway --quota-only on ${os.cpus().length} cores, node ${process.version}: ${ROUNDS} requests`);
    printQuota(q);
    console.log(`| quota: added latency p50 (ms) | ${(percentile(q.withQuota, 50) - percentile(q.without, 50)).toFixed(2)} | (figure) | - |`);
    console.log(`| quota: added latency p99 (ms) | ${(percentile(q.withQuota, 99) - percentile(q.without, 99)).toFixed(2)} | (figure) | - |`);
    return;
  }
  const fake = await new CountingBedrock().start();
  const config = GatewayRuntimeConfigSchema.parse({ bedrockEndpoint: fake.url, models: [{ alias: 'nova-lite', modelId: 'us.amazon.nova-lite-v1:0' }] });
  // The gateway never logs to stdout here: a write per request would be measured as gateway cost.
  const gateway = await startLocalGateway({
    gateway: createGateway({ config, bedrock: new BedrockInvoker(config, { get: async () => credentials, invalidate: () => undefined }), log: () => undefined }),
    mode: 'stream',
  });
  const direct = new BedrockRuntimeClient({ region: 'us-east-1', endpoint: fake.url, credentials, maxAttempts: 1, requestHandler: new NodeHttpHandler() });
  const body = JSON.stringify({ model: 'nova-lite', messages: [{ role: 'user', content: 'benchmark prompt with a few words in it' }] });
  const viaGateway = () => fetch(`${gateway.url}/v1/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body }).then((r) => r.text());
  const directly = () => direct.send(new ConverseCommand({ modelId: 'us.amazon.nova-lite-v1:0', messages }));

  // Warm both paths (JIT, keep-alive sockets), then interleave so drift hits both alike.
  for (let i = 0; i < 50; i++) await Promise.all([viaGateway(), directly()]);
  const gatewayTimes: number[] = [];
  const directTimes: number[] = [];
  for (let i = 0; i < ROUNDS; i++) {
    let t = process.hrtime.bigint();
    await directly();
    directTimes.push(ms(t));
    t = process.hrtime.bigint();
    await viaGateway();
    gatewayTimes.push(ms(t));
  }

  const firstChunkGateway: number[] = [];
  const firstChunkDirect: number[] = [];
  const streamBody = JSON.stringify({ model: 'nova-lite', stream: true, messages: [{ role: 'user', content: 'stream these words please' }] });
  for (let i = 0; i < STREAM_ROUNDS + 10; i++) {
    let t = process.hrtime.bigint();
    const res = await direct.send(new ConverseStreamCommand({ modelId: 'us.amazon.nova-lite-v1:0', messages }));
    for await (const event of res.stream ?? []) {
      if (event.contentBlockDelta) {
        if (i >= 10) firstChunkDirect.push(ms(t));
        break;
      }
    }
    t = process.hrtime.bigint();
    const r = await fetch(`${gateway.url}/v1/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: streamBody });
    const reader = r.body!.getReader();
    let seen = '';
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      seen += Buffer.from(value).toString('utf8');
      // The role chunk carries "content":"", so the first non-empty content is the first token.
      if (/"content":"[^"]+"/.test(seen)) {
        if (i >= 10) firstChunkGateway.push(ms(t));
        await reader.cancel();
        break;
      }
    }
  }
  await gateway.close();

  // Passthrough to a vLLM-style (OpenAI-compatible) upstream: the same request direct and through the gateway.
  const { upstreamProcess, url: vllmUrl } = await startVllmStandIn();
  const vllm = { url: vllmUrl };
  const routed = GatewayRuntimeConfigSchema.parse({
    bedrockEndpoint: fake.url,
    models: [{ alias: 'qwen', modelId: 'qwen', route: 'vllm' }],
    upstreams: [{ name: 'vllm', kind: 'vllm', baseUrl: `${vllm.url}/v1`, maxAttempts: 1 }],
  });
  const passthrough = await startLocalGateway({ gateway: createGateway({ config: routed, bedrock: new BedrockInvoker(routed), log: () => undefined }), mode: 'stream' });
  const vllmBody = (model: string, stream: boolean) => JSON.stringify({ model, stream, messages: [{ role: 'user', content: 'bench' }] });
  const post = async (url: string, body: string) => {
    const t = process.hrtime.bigint();
    const r = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
    const reader = r.body!.getReader();
    let first = -1;
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      if (first < 0 && /"content":"[^"]+"/.test(Buffer.from(value).toString('utf8'))) first = ms(t);
    }
    return { total: ms(t), first };
  };
  const directVllm: number[] = [];
  const viaVllm: number[] = [];
  const directVllmFirst: number[] = [];
  const viaVllmFirst: number[] = [];
  for (let i = 0; i < 50; i++) await Promise.all([post(`${vllm.url}/v1/chat/completions`, vllmBody('qwen', false)), post(`${passthrough.url}/v1/chat/completions`, vllmBody('qwen', false))]);
  for (let i = 0; i < ROUNDS; i++) {
    directVllm.push((await post(`${vllm.url}/v1/chat/completions`, vllmBody('qwen', false))).total);
    viaVllm.push((await post(`${passthrough.url}/v1/chat/completions`, vllmBody('qwen', false))).total);
  }
  for (let i = 0; i < STREAM_ROUNDS; i++) {
    directVllmFirst.push((await post(`${vllm.url}/v1/chat/completions`, vllmBody('qwen', true))).first);
    viaVllmFirst.push((await post(`${passthrough.url}/v1/chat/completions`, vllmBody('qwen', true))).first);
  }
  await passthrough.close();

  const embeddings = await benchEmbeddings(fake.url, vllm.url, { requests: EMBEDDING_REQUESTS, batch: EMBEDDING_BATCH });
  const door = await benchDoor(fake, vllm.url);
  const quotaFigures = await benchQuota(fake);
  upstreamProcess.kill('SIGTERM');
  await fake.stop();

  const outdir = fs.mkdtempSync(path.join(os.tmpdir(), 'cnllm-bundle-'));
  const outfile = path.join(outdir, 'index.js');
  buildSync({ entryPoints: [GATEWAY_BUNDLE.entry], bundle: true, platform: 'node', target: GATEWAY_BUNDLE.target, minify: GATEWAY_BUNDLE.minify, sourcemap: GATEWAY_BUNDLE.sourceMap, format: GATEWAY_BUNDLE.format, mainFields: GATEWAY_BUNDLE.mainFields, external: GATEWAY_BUNDLE.external, outfile, logLevel: 'silent' });
  const bundleBytes = fs.statSync(outfile).size;
  const loads = Array.from({ length: COLD_LOADS }, () =>
    Number(execFileSync(process.execPath, ['-e', `const t=process.hrtime.bigint();require(${JSON.stringify(outfile)});process.stdout.write(String(Number(process.hrtime.bigint()-t)/1e6))`], { encoding: 'utf8' })),
  );

  const rows: [string, number, number, string][] = [
    ['added latency p50 (ms)', percentile(gatewayTimes, 50) - percentile(directTimes, 50), 1, '<'],
    ['added latency p99 (ms)', percentile(gatewayTimes, 99) - percentile(directTimes, 99), 5, '<'],
    ['first-chunk overhead p50 (ms)', percentile(firstChunkGateway, 50) - percentile(firstChunkDirect, 50), 2, '<'],
    ['streaming door: first-token overhead p50 (ms)', percentile(door.single.first, 50) - percentile(door.single.directFirst, 50), 2, '<'],
    ['streaming door: inter-token overhead (ms per token)', percentile(door.single.gapOverhead, 50), 0.5, '<'],
    [`streaming door, ${CONCURRENT} concurrent Bedrock streams: first-chunk overhead p50 (ms)`, percentile(door.bedrock.first, 50) - percentile(door.bedrock.directFirst, 50), NaN, 'figure'],
    [`streaming door, ${CONCURRENT} concurrent Bedrock streams: first-chunk overhead p99 (ms)`, percentile(door.bedrock.first, 99) - percentile(door.bedrock.directFirst, 99), NaN, 'figure'],
    [`streaming door, ${CONCURRENT} concurrent Bedrock streams: errors`, door.bedrock.errors + door.gatheredErrors, 1, '<'],
    [`streaming door, ${CONCURRENT} concurrent Bedrock streams: open at Bedrock at once when it holds each until all arrived (a 50-socket pool would stop at 50)`, door.peakOpenUpstream, CONCURRENT - 1, '>'],
    [`streaming door, ${CONCURRENT} concurrent passthrough streams: first-chunk overhead p50 (ms)`, percentile(door.passthrough.first, 50) - percentile(door.passthrough.directFirst, 50), NaN, 'figure'],
    [`streaming door, ${CONCURRENT} concurrent passthrough streams: first-chunk overhead p99 (ms)`, percentile(door.passthrough.first, 99) - percentile(door.passthrough.directFirst, 99), NaN, 'figure'],
    [`streaming door, ${CONCURRENT} concurrent passthrough streams: errors`, door.passthrough.errors, 1, '<'],
    [`streaming door: CPU per Bedrock stream of ${DOOR_TOKENS} tokens (ms, under the concurrent load)`, door.bedrock.cpuPerStreamMs, NaN, 'figure'],
    ['streaming door: RSS before the load (MB)', door.rss.before / 1024, NaN, 'figure'],
    ['streaming door: RSS peak during the load (MB)', door.rss.peak / 1024, NaN, 'figure'],
    [`streaming door: RSS ${AFTER_LOAD_IDLE_MS / 1000} s after the load (MB)`, door.rss.after / 1024, NaN, 'figure'],
    [`streaming door: RSS ${AFTER_LOAD_IDLE_MS / 1000} s after the same load once more (MB)`, door.rss.afterSecondRound / 1024, NaN, 'figure'],
    [`streaming door: RSS ${AFTER_LOAD_IDLE_MS / 1000} s after each load, most above the level before it (MB)`, (Math.max(door.rss.after, door.rss.afterSecondRound) - door.rss.before) / 1024, 10, '<'],
    ['streaming door: longest idle heap reclaim pause (ms, with nothing in flight)', Math.max(0, ...door.reclaimPausesMs), NaN, 'figure'],
    ['vLLM passthrough: added latency p50 (ms)', percentile(viaVllm, 50) - percentile(directVllm, 50), 1, '<'],
    ['vLLM passthrough: added latency p99 (ms)', percentile(viaVllm, 99) - percentile(directVllm, 99), 5, '<'],
    ['vLLM passthrough: first-chunk overhead p50 (ms)', percentile(viaVllmFirst, 50) - percentile(directVllmFirst, 50), 2, '<'],
    ...embeddingRows(embeddings),
    ['quota (dynalite): added latency p50 (ms)', percentile(quotaFigures.withQuota, 50) - percentile(quotaFigures.without, 50), NaN, 'figure'],
    ['quota (dynalite): added latency p99 (ms)', percentile(quotaFigures.withQuota, 99) - percentile(quotaFigures.without, 99), NaN, 'figure'],
    ['bundle size (KB)', bundleBytes / 1024, 1024, '<'],
    ['cold load p50 (ms)', percentile(loads, 50), 150, '<'],
  ];
  console.log(`bench:gateway on ${os.cpus().length} cores, node ${process.version}: ${ROUNDS} requests, ${STREAM_ROUNDS} streams, ${COLD_LOADS} cold loads`);
  console.log(`  direct Converse p50 ${percentile(directTimes, 50).toFixed(2)} ms, p99 ${percentile(directTimes, 99).toFixed(2)} ms; through the gateway p50 ${percentile(gatewayTimes, 50).toFixed(2)} ms, p99 ${percentile(gatewayTimes, 99).toFixed(2)} ms`);
  console.log(`  first chunk direct p50 ${percentile(firstChunkDirect, 50).toFixed(2)} ms, through the gateway p50 ${percentile(firstChunkGateway, 50).toFixed(2)} ms`);
  const figures = (name: string, f: LoadFigures) =>
    `  streaming door (its own process, the bundled entry point), ${CONCURRENT} concurrent ${name} streams: ${f.errors} errors, ${f.delivered} tokens in ${f.seconds.toFixed(2)} s, door CPU ${f.cpuPerStreamMs.toFixed(2)} ms per stream; ` +
    `first chunk p50/p99 ${percentile(f.first, 50).toFixed(1)}/${percentile(f.first, 99).toFixed(1)} ms vs ${percentile(f.directFirst, 50).toFixed(1)}/${percentile(f.directFirst, 99).toFixed(1)} ms calling the stand-in directly`;
  console.log(figures(`Bedrock (${DOOR_TOKENS} tokens, ${TOKEN_DELAY_MS} ms apart upstream)`, door.bedrock));
  console.log(figures('vLLM passthrough', door.passthrough));
  printQuota(quotaFigures);
  console.log(`  streaming door RSS: ${(door.rss.before / 1024).toFixed(1)} MB before, ${(door.rss.peak / 1024).toFixed(1)} MB peak, ${(door.rss.after / 1024).toFixed(1)} MB ${AFTER_LOAD_IDLE_MS / 1000} s after the load, ${(door.rss.afterSecondRound / 1024).toFixed(1)} MB after the same load once more; ${door.reclaimPausesMs.length} idle heap reclaims, pauses ${door.reclaimPausesMs.join(', ')} ms`);
  console.log('');
  console.log('| measure | value | target | met |');
  console.log('|---|---|---|---|');
  for (const [name, value, target, comparison] of rows) {
    // Wall-clock figures under a burst of concurrent streams measure this machine's CPU share as much as the door: no target.
    if (comparison === 'figure') {
      console.log(`| ${name} | ${value.toFixed(2)} | (figure) | - |`);
      continue;
    }
    console.log(`| ${name} | ${value.toFixed(2)} | ${comparison} ${target} | ${(comparison === '<' ? value < target : value > target) ? 'yes' : 'NO'} |`);
  }
}

/** Embedding throughput rows: what the gateway keeps of the stand-in's texts per second (Titan fans out one call per text). */
function embeddingRows(e: EmbeddingFigures): [string, number, number, string][] {
  return [
    [`embeddings, Titan v2 (1 text per call, 8 in flight), batches of ${e.batch}: texts/s through the gateway`, e.bedrock[0], NaN, 'figure'],
    [`embeddings, Titan v2, batches of ${e.batch}: texts/s calling the stand-in directly`, e.bedrock[1], NaN, 'figure'],
    [`embeddings, vLLM passthrough, batches of ${e.batch}: texts/s through the gateway`, e.vllm[0], NaN, 'figure'],
    [`embeddings, vLLM passthrough, batches of ${e.batch}: texts/s calling the stand-in directly`, e.vllm[1], NaN, 'figure'],
  ];
}

interface LoadFigures {
  /** Time to the first content chunk of each stream (ms), through the door and calling the stand-in directly. */
  readonly first: number[];
  readonly directFirst: number[];
  /** Door streams that did not answer 200 with every token and the end marker. */
  readonly errors: number;
  /** CPU the door process spent per stream (ms). */
  readonly cpuPerStreamMs: number;
  readonly delivered: number;
  readonly seconds: number;
}

interface StreamResult {
  readonly arrivals: number[];
  readonly complete: boolean;
}

/** An SSE response read to its end: when each content chunk arrived and whether the stream ended properly. */
async function readSse(res: Response, started: bigint): Promise<StreamResult> {
  if (res.status !== 200) {
    await res.text();
    return { arrivals: [], complete: false };
  }
  const reader = res.body!.getReader();
  const arrivals: number[] = [];
  let buffered = '';
  let complete = false;
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    buffered += Buffer.from(value).toString('utf8');
    const events = buffered.split('\n\n');
    buffered = events.pop()!;
    for (const e of events) {
      // The role chunk carries "content":"", so only non-empty content counts as a token.
      if (/"content":"[^"]+"/.test(e)) arrivals.push(ms(started));
      if (e === 'data: [DONE]') complete = true;
    }
  }
  return { arrivals, complete };
}

/** Resident memory of a process in KB (Linux /proc, else ps). */
function rssKb(pid: number): number {
  try {
    return Number(/VmRSS:\s+(\d+)/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1]);
  } catch {
    return Number(execFileSync('ps', ['-o', 'rss=', '-p', String(pid)], { encoding: 'utf8' }).trim());
  }
}

/** CPU time a process has used so far in ms (Linux /proc; NaN elsewhere): unlike wall time, not inflated by a busy machine. */
function cpuMs(pid: number): number {
  try {
    const fields = fs.readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
    const ticksPerSecond = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim());
    // utime and stime: fields 14 and 15 of stat, 12 and 13 after the command name.
    return ((Number(fields[11]) + Number(fields[12])) * 1000) / ticksPerSecond;
  } catch {
    return NaN;
  }
}

/** The node flags of the door image's CMD (runtime/server/Dockerfile), so the door here runs as it does there. */
function imageNodeFlags(): string[] {
  const dockerfile = fs.readFileSync(path.join(__dirname, '..', 'runtime', 'server', 'Dockerfile'), 'utf8');
  const cmd = JSON.parse(/^CMD (\[.*\])$/m.exec(dockerfile)?.[1] ?? '[]') as string[];
  return cmd.filter((arg) => arg.startsWith('--'));
}

/**
 * The in-VPC streaming door as the image runs it (runtime/server/Dockerfile: the entry point bundled
 * by esbuild, plain node) in its own process, in front of the Bedrock stand-in and the vLLM stand-in:
 * single-stream overheads, then CONCURRENT streams at once on each route, and its memory around the load.
 */
async function benchDoor(fake: CountingBedrock, vllmUrl: string) {
  const dynamo = await (await new DynamoDbLocal().start()).createApiKeyTable('bench-keys');
  const { key, record } = newApiKey('bench');
  await new ApiKeyTable(new DynamoDBClient({ region: 'cn-northwest-1', endpoint: dynamo.url, credentials }), 'bench-keys').put(record);
  const outdir = fs.mkdtempSync(path.join(os.tmpdir(), 'cnllm-door-'));
  const entry = path.join(outdir, 'server.js');
  buildSync({ entryPoints: [path.join(__dirname, '..', 'runtime', 'server', 'main.ts')], bundle: true, platform: 'node', target: `node${process.versions.node.split('.')[0]}`, minify: true, outfile: entry, logLevel: 'silent' });
  const child = spawn(process.execPath, [...imageNodeFlags(), entry], {
    stdio: ['ignore', 'pipe', 'inherit'],
    env: {
      PATH: process.env.PATH,
      CNLLM_GATEWAY_CONFIG: JSON.stringify({
        bedrockEndpoint: fake.url,
        models: [
          { alias: 'nova-lite', modelId: 'us.amazon.nova-lite-v1:0' },
          { alias: 'qwen', modelId: 'qwen', route: 'vllm' },
        ],
        upstreams: [{ name: 'vllm', kind: 'vllm', baseUrl: `${vllmUrl}/v1`, maxAttempts: 1 }],
      }),
      CNLLM_SERVER_CONFIG: JSON.stringify({ port: 0, region: 'cn-northwest-1', apiKeyTable: 'bench-keys', apiKeyCacheSeconds: 3600, drainSeconds: 5 }),
      AWS_ENDPOINT_URL_DYNAMODB: dynamo.url,
      AWS_ACCESS_KEY_ID: credentials.accessKeyId,
      AWS_SECRET_ACCESS_KEY: credentials.secretAccessKey,
      AWS_REGION: 'cn-northwest-1',
    },
  });
  const reclaimPausesMs: number[] = [];
  const url = await new Promise<string>((resolve, reject) => {
    let out = '';
    let found = false;
    // The door's request log lines keep coming on stdout: read and dropped, as the log driver would take them.
    child.stdout.on('data', (d) => {
      for (const m of String(d).matchAll(/"msg":"idle heap reclaimed".*?"pauseMs":(\d+)/g)) reclaimPausesMs.push(Number(m[1]));
      if (found) return;
      out += d;
      const m = /"url":"(http:\/\/[^"]+)"/.exec(out);
      if (m) {
        found = true;
        resolve(m[1]);
      }
    });
    child.once('exit', (code) => reject(new Error(`the door exited ${code}`)));
  });

  const tokens = Array.from({ length: DOOR_TOKENS }, (_, i) => `w${i}`).join(' ');
  const pushStreams = (n: number) => {
    for (let i = 0; i < n; i++) fake.push({ kind: 'reply', text: tokens, interTokenDelayMs: TOKEN_DELAY_MS });
  };
  const body = (model: string) => JSON.stringify({ model, stream: true, messages: [{ role: 'user', content: 'stream these words please' }] });
  const viaDoor = async (model: string) => {
    const t = process.hrtime.bigint();
    return readSse(await fetch(`${url}/v1/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${key}` }, body: body(model) }), t);
  };
  const directVllm = async () => {
    const t = process.hrtime.bigint();
    return readSse(await fetch(`${vllmUrl}/v1/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: body('qwen') }), t);
  };
  // The direct client gets a pool as large as the door's, or it would queue its own streams.
  const bedrock = new BedrockRuntimeClient({ region: 'us-east-1', endpoint: fake.url, credentials, maxAttempts: 1, requestHandler: new NodeHttpHandler({ httpAgent: { keepAlive: true, maxSockets: 1000 } }) });
  const directBedrock = async (): Promise<StreamResult> => {
    const t = process.hrtime.bigint();
    const res = await bedrock.send(new ConverseStreamCommand({ modelId: 'us.amazon.nova-lite-v1:0', messages }));
    const arrivals: number[] = [];
    let complete = false;
    for await (const event of res.stream ?? []) {
      if (event.contentBlockDelta) arrivals.push(ms(t));
      if (event.messageStop) complete = true;
    }
    return { arrivals, complete };
  };

  // Warm both routes (JIT, keep-alive sockets), then single streams, interleaved with direct calls.
  for (let i = 0; i < 20; i++) await Promise.all([viaDoor('nova-lite'), viaDoor('qwen'), directBedrock(), directVllm()]);
  const meanGap = (a: number[]) => (a[a.length - 1] - a[0]) / (a.length - 1);
  const single = { first: [] as number[], directFirst: [] as number[], gapOverhead: [] as number[] };
  for (let i = 0; i < 30; i++) {
    pushStreams(2);
    const d = await directBedrock();
    const g = await viaDoor('nova-lite');
    if (i < 5) continue;
    single.directFirst.push(d.arrivals[0]);
    single.first.push(g.arrivals[0]);
    single.gapOverhead.push(meanGap(g.arrivals) - meanGap(d.arrivals));
  }

  const before = rssKb(child.pid!);
  let peak = before;
  const sampler = setInterval(() => (peak = Math.max(peak, rssKb(child.pid!))), 50);
  const load = async (direct: () => Promise<StreamResult>, door: () => Promise<StreamResult>, tokensEach: number, prepare: () => void): Promise<LoadFigures> => {
    prepare();
    const directResults = await Promise.all(Array.from({ length: CONCURRENT }, direct));
    prepare();
    const started = process.hrtime.bigint();
    const cpuBefore = cpuMs(child.pid!);
    const doorResults = await Promise.all(Array.from({ length: CONCURRENT }, () => door().catch((): StreamResult => ({ arrivals: [], complete: false }))));
    return {
      first: doorResults.filter((r) => r.arrivals.length > 0).map((r) => r.arrivals[0]),
      directFirst: directResults.map((r) => r.arrivals[0]),
      errors: doorResults.filter((r) => !r.complete || r.arrivals.length !== tokensEach).length,
      cpuPerStreamMs: (cpuMs(child.pid!) - cpuBefore) / CONCURRENT,
      delivered: doorResults.reduce((n, r) => n + r.arrivals.length, 0),
      seconds: ms(started) / 1000,
    };
  };
  const bedrockLoad = await load(directBedrock, () => viaDoor('nova-lite'), DOOR_TOKENS, () => pushStreams(CONCURRENT));
  // No queueing behind a socket cap, whatever this machine's speed: the stand-in holds every stream until all are open.
  pushStreams(CONCURRENT);
  fake.peakOpen = 0;
  fake.gather = CONCURRENT;
  const gathered = await Promise.all(Array.from({ length: CONCURRENT }, () => viaDoor('nova-lite')));
  fake.stopGathering();
  const peakOpenUpstream = fake.peakOpen;
  const gatheredErrors = gathered.filter((r) => !r.complete || r.arrivals.length !== DOOR_TOKENS).length;
  const passthroughLoad = await load(directVllm, () => viaDoor('qwen'), 2, () => undefined);
  await new Promise((r) => setTimeout(r, AFTER_LOAD_IDLE_MS));
  const after = rssKb(child.pid!);
  // The same load once more: memory that a load leaves behind for good would show up again here.
  await load(directBedrock, () => viaDoor('nova-lite'), DOOR_TOKENS, () => pushStreams(CONCURRENT));
  await load(directVllm, () => viaDoor('qwen'), 2, () => undefined);
  clearInterval(sampler);
  await new Promise((r) => setTimeout(r, AFTER_LOAD_IDLE_MS));
  const afterSecondRound = rssKb(child.pid!);

  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.kill('SIGTERM');
  await exited;
  bedrock.destroy();
  await dynamo.stop();
  return { single, bedrock: bedrockLoad, passthrough: passthroughLoad, rss: { before, peak, after, afterSecondRound }, reclaimPausesMs, peakOpenUpstream, gatheredErrors };
}

/** The vLLM stand-in in its own process: only the gateway's work shares the bench's event loop with the clients. */
async function startVllmStandIn() {
  const upstreamProcess = spawn(process.execPath, [require.resolve('ts-node/dist/bin.js'), '--transpile-only', path.join(__dirname, 'serve-openai-fake.ts')], { stdio: ['ignore', 'pipe', 'inherit'] });
  const url = await new Promise<string>((resolve) => upstreamProcess.stdout!.once('data', (d) => resolve(String(d).trim())));
  return { upstreamProcess, url };
}

/** npm run bench:gateway -- --door-only: the streaming door's load and memory figures alone (a minute instead of several). */
async function doorOnly() {
  const fake = await new CountingBedrock().start();
  const { upstreamProcess, url: vllmUrl } = await startVllmStandIn();
  const door = await benchDoor(fake, vllmUrl);
  upstreamProcess.kill('SIGTERM');
  await fake.stop();
  console.log(`  streaming door RSS: ${(door.rss.before / 1024).toFixed(1)} MB before, ${(door.rss.peak / 1024).toFixed(1)} MB peak, ${(door.rss.after / 1024).toFixed(1)} MB after, ${(door.rss.afterSecondRound / 1024).toFixed(1)} MB after the same load once more; idle heap reclaim pauses ${door.reclaimPausesMs.join(', ')} ms; errors ${door.bedrock.errors}+${door.passthrough.errors}+${door.gatheredErrors}`);
}

main().catch((e) => {
  console.error(`bench:gateway: ${(e as Error).stack}`);
  process.exit(1);
});
