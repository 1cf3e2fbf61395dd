import * as http from 'http';
import { BedrockInvoker } from '../../runtime/gateway/bedrock';
import { createGateway } from '../../runtime/gateway/gateway';
import { GatewayRuntimeConfigSchema } from '../../runtime/gateway/runtime-config';
import { ApiKeyAuthenticator, newApiKey } from '../../runtime/server/api-keys';
import { StreamingServer, startStreamingServer } from '../../runtime/server/server';
import { BedrockFake } from '../fakes/bedrock-fake';

const CONCURRENT = 200;
/** How long the stand-in holds the streams that arrived for the rest to arrive, before it gives up waiting (generous: a busy machine starts 200 streams slowly). */
const GATHER_LIMIT_MS = 20_000;

/**
 * The Bedrock stand-in, holding back every stream until `expected` of them are open at once: if
 * the door queued streams behind a socket cap, the ones held would have to end before the rest
 * could start, so they would never all be open together.
 */
class GatheringBedrock extends BedrockFake {
  open = 0;
  peakOpen = 0;
  private allArrived!: () => void;
  private readonly gathered = new Promise<void>((resolve) => (this.allArrived = resolve));

  constructor(private readonly expected: number) {
    super();
  }

  protected async serve(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    this.peakOpen = Math.max(this.peakOpen, ++this.open);
    if (this.open === this.expected) this.allArrived();
    let giveUp: NodeJS.Timeout | undefined;
    try {
      await Promise.race([this.gathered, new Promise((r) => (giveUp = setTimeout(r, GATHER_LIMIT_MS)))]);
      clearTimeout(giveUp);
      await super.serve(req, res);
    } finally {
      this.open--;
    }
  }
}

describe('streaming door under load', () => {
  let bedrock: GatheringBedrock;
  let door: StreamingServer;
  const { key, record } = newApiKey('load');

  beforeAll(async () => {
    bedrock = await new GatheringBedrock(CONCURRENT).start();
    const config = GatewayRuntimeConfigSchema.parse({ bedrockEndpoint: bedrock.url, models: [{ alias: 'nova-lite', modelId: 'us.amazon.nova-lite-v1:0' }] });
    door = await startStreamingServer({
      gateway: createGateway({ config, bedrock: new BedrockInvoker(config, { get: async () => ({ accessKeyId: 'AKIAGLOBAL', secretAccessKey: 's' }), invalidate: () => undefined }), log: () => undefined }),
      authenticators: [new ApiKeyAuthenticator({ get: async () => record }, 3600)],
      port: 0,
      host: '127.0.0.1',
      log: () => undefined,
    });
  });
  afterAll(async () => {
    await door.drain();
    await bedrock.stop();
  });

  test(`${CONCURRENT} concurrent Bedrock streams through one door are all open upstream at once (no socket cap queueing) and all complete`, async () => {
    const stream = async (i: number) => {
      const res = await fetch(`${door.url}/v1/chat/completions`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${key}` },
        body: JSON.stringify({ model: 'nova-lite', stream: true, messages: [{ role: 'user', content: `caller ${i}` }] }),
      });
      const text = await res.text();
      const content = [...text.matchAll(/"content":"([^"]*)"/g)].map((m) => m[1]).join('');
      return { status: res.status, content, done: text.trimEnd().endsWith('data: [DONE]') };
    };
    const results = await Promise.all(Array.from({ length: CONCURRENT }, (_, i) => stream(i)));
    expect(bedrock.peakOpen).toBe(CONCURRENT);
    const failures = results.filter((r, i) => r.status !== 200 || !r.done || r.content !== `You said: caller ${i}`);
    expect(failures).toEqual([]);
  }, 90_000);
});
