/**
 * npm run bench:gateway: what the gateway adds on top of Bedrock, measured on loopback against the
 * Bedrock stand-in, plus the Lambda bundle's size and cold load time. Prints figures and targets;
 * it gates nothing (timing on a shared 2-core machine is for reading, not for failing builds).
 */
import { execFileSync, spawn } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { BedrockRuntimeClient, ConverseCommand, ConverseStreamCommand } from '@aws-sdk/client-bedrock-runtime';
import { NodeHttpHandler } from '@smithy/node-http-handler';
import { buildSync } from 'esbuild';
import { GATEWAY_BUNDLE } from '../lib/gateway/bundle';
import { BedrockInvoker } from '../runtime/gateway/bedrock';
import { createGateway } from '../runtime/gateway/gateway';
import { GatewayRuntimeConfigSchema } from '../runtime/gateway/runtime-config';
import { startLocalGateway } from '../runtime/local/local-gateway';
import { ApiKeyAuthenticator, newApiKey } from '../runtime/server/api-keys';
import { startStreamingServer } from '../runtime/server/server';
import { BedrockFake } from '../test/fakes/bedrock-fake';
import { flagValue } from './cli-config';

const args = process.argv.slice(2);
const ROUNDS = Number(flagValue(args, '--requests') ?? 400);
const STREAM_ROUNDS = Number(flagValue(args, '--streams') ?? 100);
const COLD_LOADS = Number(flagValue(args, '--cold-loads') ?? 7);
const CONCURRENT = Number(flagValue(args, '--concurrent-streams') ?? 200);
const TOKEN_DELAY_MS = 20;

const credentials = { accessKeyId: 'AKIABENCH', secretAccessKey: 'bench' };
const messages = [{ role: 'user' as const, content: [{ text: 'benchmark prompt with a few words in it' }] }];

function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

const ms = (start: bigint) => Number(process.hrtime.bigint() - start) / 1e6;

async function main() {
  const fake = await new BedrockFake().start();
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

  // The in-VPC streaming door: the container server in front of the same stand-in.
  const { key, record } = newApiKey('bench');
  const door = await startStreamingServer({
    gateway: createGateway({ config, bedrock: new BedrockInvoker(config, { get: async () => credentials, invalidate: () => undefined }), log: () => undefined }),
    authenticators: [new ApiKeyAuthenticator({ get: async () => record }, 3600)],
    port: 0,
    host: '127.0.0.1',
    log: () => undefined,
  });
  const tokens = Array.from({ length: 20 }, (_, i) => `w${i}`).join(' ');
  const viaDoor = async () => {
    fake.push({ kind: 'reply', text: tokens, interTokenDelayMs: TOKEN_DELAY_MS });
    const t = process.hrtime.bigint();
    const r = await fetch(`${door.url}/v1/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${key}` }, body: streamBody });
    const reader = r.body!.getReader();
    const arrivals: number[] = [];
    let buffered = '';
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      buffered += Buffer.from(value).toString('utf8');
      const events = buffered.split('\n\n');
      buffered = events.pop()!;
      for (const e of events) if (/"content":"[^"]+"/.test(e)) arrivals.push(ms(t));
    }
    return arrivals;
  };
  const viaDirect = async () => {
    fake.push({ kind: 'reply', text: tokens, interTokenDelayMs: TOKEN_DELAY_MS });
    const t = process.hrtime.bigint();
    const res = await direct.send(new ConverseStreamCommand({ modelId: 'us.amazon.nova-lite-v1:0', messages }));
    const arrivals: number[] = [];
    for await (const event of res.stream ?? []) if (event.contentBlockDelta) arrivals.push(ms(t));
    return arrivals;
  };
  const meanGap = (a: number[]) => (a[a.length - 1] - a[0]) / (a.length - 1);
  const doorFirst: number[] = [];
  const directFirst: number[] = [];
  const gapOverhead: number[] = [];
  for (let i = 0; i < 30; i++) {
    const d = await viaDirect();
    const g = await viaDoor();
    if (i < 5) continue;
    directFirst.push(d[0]);
    doorFirst.push(g[0]);
    gapOverhead.push(meanGap(g) - meanGap(d));
  }
  // Throughput: many callers streaming at once through one server process on this machine.
  const started = process.hrtime.bigint();
  const results = await Promise.all(Array.from({ length: CONCURRENT }, () => viaDoor()));
  const seconds = ms(started) / 1000;
  const delivered = results.reduce((n, a) => n + a.length, 0);
  await door.drain();

  // Passthrough to a vLLM-style (OpenAI-compatible) upstream: the same request direct and through the gateway.
  // The upstream runs in its own process: only the gateway's work shares this event loop with the clients.
  const upstreamProcess = spawn(process.execPath, [require.resolve('ts-node/dist/bin.js'), '--transpile-only', path.join(__dirname, 'serve-openai-fake.ts')], { stdio: ['ignore', 'pipe', 'inherit'] });
  const vllm = { url: await new Promise<string>((resolve) => upstreamProcess.stdout!.once('data', (d) => resolve(String(d).trim()))) };
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
  upstreamProcess.kill('SIGTERM');
  await fake.stop();

  const outdir = fs.mkdtempSync(path.join(os.tmpdir(), 'cnllm-bundle-'));
  const outfile = path.join(outdir, 'index.js');
  buildSync({ entryPoints: [GATEWAY_BUNDLE.entry], bundle: true, platform: 'node', target: GATEWAY_BUNDLE.target, minify: GATEWAY_BUNDLE.minify, sourcemap: GATEWAY_BUNDLE.sourceMap, format: GATEWAY_BUNDLE.format, external: GATEWAY_BUNDLE.external, outfile, logLevel: 'silent' });
  const bundleBytes = fs.statSync(outfile).size;
  const loads = Array.from({ length: COLD_LOADS }, () =>
    Number(execFileSync(process.execPath, ['-e', `const t=process.hrtime.bigint();require(${JSON.stringify(outfile)});process.stdout.write(String(Number(process.hrtime.bigint()-t)/1e6))`], { encoding: 'utf8' })),
  );

  const rows: [string, number, number, string][] = [
    ['added latency p50 (ms)', percentile(gatewayTimes, 50) - percentile(directTimes, 50), 1, '<'],
    ['added latency p99 (ms)', percentile(gatewayTimes, 99) - percentile(directTimes, 99), 5, '<'],
    ['first-chunk overhead p50 (ms)', percentile(firstChunkGateway, 50) - percentile(firstChunkDirect, 50), 2, '<'],
    ['streaming door: first-token overhead p50 (ms)', percentile(doorFirst, 50) - percentile(directFirst, 50), 2, '<'],
    ['streaming door: inter-token overhead (ms per token)', percentile(gapOverhead, 50), 0.5, '<'],
    ['vLLM passthrough: added latency p50 (ms)', percentile(viaVllm, 50) - percentile(directVllm, 50), 1, '<'],
    ['vLLM passthrough: added latency p99 (ms)', percentile(viaVllm, 99) - percentile(directVllm, 99), 5, '<'],
    ['vLLM passthrough: first-chunk overhead p50 (ms)', percentile(viaVllmFirst, 50) - percentile(directVllmFirst, 50), 2, '<'],
    ['bundle size (KB)', bundleBytes / 1024, 1024, '<'],
    ['cold load p50 (ms)', percentile(loads, 50), 150, '<'],
  ];
  console.log(`bench:gateway on ${os.cpus().length} cores, node ${process.version}: ${ROUNDS} requests, ${STREAM_ROUNDS} streams, ${COLD_LOADS} cold loads`);
  console.log(`  direct Converse p50 ${percentile(directTimes, 50).toFixed(2)} ms, p99 ${percentile(directTimes, 99).toFixed(2)} ms; through the gateway p50 ${percentile(gatewayTimes, 50).toFixed(2)} ms, p99 ${percentile(gatewayTimes, 99).toFixed(2)} ms`);
  console.log(`  first chunk direct p50 ${percentile(firstChunkDirect, 50).toFixed(2)} ms, through the gateway p50 ${percentile(firstChunkGateway, 50).toFixed(2)} ms`);
  console.log(`  streaming door (clients, server and stand-in share this one process): ${CONCURRENT} concurrent streams x 20 tokens (${TOKEN_DELAY_MS} ms apart upstream): ${delivered}/${CONCURRENT * 20} tokens in ${seconds.toFixed(2)} s = ${(delivered / seconds).toFixed(0)} tokens/s, first-token p99 under that load ${percentile(results.map((a) => a[0]), 99).toFixed(1)} ms`);
  console.log('');
  console.log('| measure | value | target | met |');
  console.log('|---|---|---|---|');
  for (const [name, value, target] of rows) console.log(`| ${name} | ${value.toFixed(2)} | < ${target} | ${value < target ? 'yes' : 'NO'} |`);
}

main().catch((e) => {
  console.error(`bench:gateway: ${(e as Error).stack}`);
  process.exit(1);
});
