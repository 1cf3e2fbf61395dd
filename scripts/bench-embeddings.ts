/**
 * The embeddings part of npm run bench:gateway: texts per second through the gateway against the
 * same stand-in called directly, for a Bedrock model that takes one text per call (Titan v2: the
 * gateway fans out) and for a vLLM passthrough (one call per batch). Figures, not gates.
 */
import { BedrockRuntimeClient, InvokeModelCommand } from '@aws-sdk/client-bedrock-runtime';
import { NodeHttpHandler } from '@smithy/node-http-handler';
import { BedrockInvoker } from '../runtime/gateway/bedrock';
import { createGateway } from '../runtime/gateway/gateway';
import { GatewayRuntimeConfigSchema } from '../runtime/gateway/runtime-config';
import { startLocalGateway } from '../runtime/local/local-gateway';
import { mapBounded } from '../runtime/gateway/upstream-json';

export interface EmbeddingFigures {
  readonly batch: number;
  readonly requests: number;
  /** Texts per second: [through the gateway, calling the stand-in directly]. */
  readonly bedrock: [number, number];
  readonly vllm: [number, number];
}

const credentials = { accessKeyId: 'AKIABENCH', secretAccessKey: 'bench' };

/** Texts per second over `requests` sequential batches of `batch` texts, after a warm-up. */
async function textsPerSecond(requests: number, batch: number, embedBatch: (texts: string[]) => Promise<unknown>): Promise<number> {
  const texts = (round: number) => Array.from({ length: batch }, (_, i) => `benchmark text ${round} number ${i} with a few more words`);
  for (let i = 0; i < 5; i++) await embedBatch(texts(i));
  const started = process.hrtime.bigint();
  for (let i = 0; i < requests; i++) await embedBatch(texts(i));
  return (requests * batch) / (Number(process.hrtime.bigint() - started) / 1e9);
}

export async function benchEmbeddings(bedrockUrl: string, vllmUrl: string, opts: { requests: number; batch: number }): Promise<EmbeddingFigures> {
  const concurrency = 8;
  const config = GatewayRuntimeConfigSchema.parse({
    bedrockEndpoint: bedrockUrl,
    models: [
      { alias: 'titan-embed-v2', modelId: 'amazon.titan-embed-text-v2:0', kind: 'embed' },
      { alias: 'bge-m3', modelId: 'bge-m3', route: 'vllm', kind: 'embed' },
    ],
    upstreams: [{ name: 'vllm', kind: 'vllm', baseUrl: `${vllmUrl}/v1`, maxAttempts: 1 }],
    embeddingConcurrency: concurrency,
  });
  const gateway = await startLocalGateway({
    gateway: createGateway({ config, bedrock: new BedrockInvoker(config, { get: async () => credentials, invalidate: () => undefined }), log: () => undefined }),
    mode: 'stream',
  });
  const viaGateway = (model: string) => async (input: string[]) => {
    const res = await fetch(`${gateway.url}/v1/embeddings`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ model, input, encoding_format: 'base64' }) });
    if (res.status !== 200) throw new Error(`gateway answered ${res.status}: ${await res.text()}`);
    return res.text();
  };
  // The direct baseline does what a caller without the gateway would: one InvokeModel per text, as many in flight as the gateway allows itself.
  const direct = new BedrockRuntimeClient({ region: 'us-east-1', endpoint: bedrockUrl, credentials, maxAttempts: 1, requestHandler: new NodeHttpHandler({ httpAgent: { keepAlive: true, maxSockets: 50 } }) });
  const directTitan = (input: string[]) =>
    mapBounded(input, concurrency, (inputText) => direct.send(new InvokeModelCommand({ modelId: 'amazon.titan-embed-text-v2:0', contentType: 'application/json', body: JSON.stringify({ inputText, normalize: true }) })));
  const directVllm = async (input: string[]) =>
    (await fetch(`${vllmUrl}/v1/embeddings`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ model: 'bge-m3', input, encoding_format: 'base64' }) })).text();
  try {
    const bedrockDirect = await textsPerSecond(opts.requests, opts.batch, directTitan);
    const bedrockGateway = await textsPerSecond(opts.requests, opts.batch, viaGateway('titan-embed-v2'));
    const vllmDirect = await textsPerSecond(opts.requests, opts.batch, directVllm);
    const vllmGateway = await textsPerSecond(opts.requests, opts.batch, viaGateway('bge-m3'));
    return { batch: opts.batch, requests: opts.requests, bedrock: [bedrockGateway, bedrockDirect], vllm: [vllmGateway, vllmDirect] };
  } finally {
    await gateway.close();
  }
}
