import { execFileSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { buildSync } from 'esbuild';
import { BedrockInvoker } from '../../runtime/gateway/bedrock';
import { createGateway } from '../../runtime/gateway/gateway';
import { GatewayRuntimeConfigSchema } from '../../runtime/gateway/runtime-config';
import { ApiKeyAuthenticator, newApiKey } from '../../runtime/server/api-keys';
import { IdleHeapReclaimer } from '../../runtime/server/idle-heap-reclaimer';
import { startStreamingServer } from '../../runtime/server/server';
import { BedrockFake } from '../fakes/bedrock-fake';

const MB = 1024 * 1024;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('idle heap reclaimer', () => {
  const setup = (heap: { bytes: number }, idleMs = 50) => {
    const collect = jest.fn(() => void (heap.bytes = 20 * MB));
    const lines: Record<string, unknown>[] = [];
    const reclaimer = new IdleHeapReclaimer({ idleMs, collect, heapBytes: () => heap.bytes, log: (l) => lines.push(l) });
    return { collect, lines, reclaimer };
  };

  test('collects once, the idle time after the last request ends, when the heap grew', async () => {
    const heap = { bytes: 20 * MB };
    const { collect, lines, reclaimer } = setup(heap);
    reclaimer.inFlightChanged(1);
    reclaimer.inFlightChanged(2);
    heap.bytes = 60 * MB;
    await sleep(120);
    expect(collect).not.toHaveBeenCalled();
    reclaimer.inFlightChanged(1);
    reclaimer.inFlightChanged(0);
    await sleep(20);
    expect(collect).not.toHaveBeenCalled();
    await sleep(100);
    expect(collect).toHaveBeenCalledTimes(1);
    expect(lines).toEqual([expect.objectContaining({ msg: 'idle heap reclaimed', heapMbBefore: 60, heapMbAfter: 20 })]);
  });

  test('a request arriving within the idle time puts the collection off', async () => {
    const heap = { bytes: 20 * MB };
    const { collect, reclaimer } = setup(heap, 80);
    heap.bytes = 60 * MB;
    reclaimer.inFlightChanged(0);
    await sleep(40);
    reclaimer.inFlightChanged(1);
    await sleep(80);
    expect(collect).not.toHaveBeenCalled();
    reclaimer.inFlightChanged(0);
    await sleep(140);
    expect(collect).toHaveBeenCalledTimes(1);
  });

  test('no pause when the heap grew less than the threshold, and none when off', async () => {
    const heap = { bytes: 20 * MB };
    const { collect, reclaimer } = setup(heap);
    heap.bytes = 25 * MB;
    reclaimer.inFlightChanged(0);
    await sleep(120);
    expect(collect).not.toHaveBeenCalled();

    const off = new IdleHeapReclaimer({ idleMs: 0, collect, heapBytes: () => 90 * MB });
    expect(off.enabled).toBe(false);
    off.inFlightChanged(0);
    // jest runs without --expose-gc: the default collector is none, so the reclaimer is off.
    expect(new IdleHeapReclaimer({ idleMs: 10 }).enabled).toBe(false);
    await sleep(60);
    expect(collect).not.toHaveBeenCalled();
  });

  test('the door tells it of every request: one collection after a burst of streams, none during it', async () => {
    const bedrock = await new BedrockFake().start();
    const config = GatewayRuntimeConfigSchema.parse({ bedrockEndpoint: bedrock.url, models: [{ alias: 'nova-lite', modelId: 'us.amazon.nova-lite-v1:0' }] });
    const { key, record } = newApiKey('reclaim');
    const inFlightAtCollection: number[] = [];
    let door: Awaited<ReturnType<typeof startStreamingServer>> | undefined;
    const reclaimer = new IdleHeapReclaimer({ idleMs: 150, minGrowthBytes: 0, heapBytes: () => 100 * MB, collect: () => void inFlightAtCollection.push(door!.inFlight()) });
    door = await startStreamingServer({
      gateway: createGateway({ config, bedrock: new BedrockInvoker(config, { get: async () => ({ accessKeyId: 'AKIAGLOBAL', secretAccessKey: 's' }), invalidate: () => undefined }), log: () => undefined }),
      authenticators: [new ApiKeyAuthenticator({ get: async () => record }, 3600)],
      port: 0,
      host: '127.0.0.1',
      idleHeapReclaimer: reclaimer,
      log: () => undefined,
    });
    try {
      for (let i = 0; i < 20; i++) bedrock.push({ kind: 'reply', text: 'one two three four', interTokenDelayMs: 60 });
      const streams = await Promise.all(
        Array.from({ length: 20 }, () =>
          fetch(`${door!.url}/v1/chat/completions`, { method: 'POST', headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' }, body: JSON.stringify({ model: 'nova-lite', stream: true, messages: [{ role: 'user', content: 'hi' }] }) }).then((r) => r.text()),
        ),
      );
      expect(streams.every((s) => s.trimEnd().endsWith('data: [DONE]'))).toBe(true);
      // The streams took longer than the idle time, yet nothing was collected while they ran.
      expect(inFlightAtCollection).toEqual([]);
      await sleep(400);
      expect(inFlightAtCollection).toEqual([0]);
    } finally {
      await door.drain();
      await bedrock.stop();
    }
  });

  /**
   * The real thing, as the image runs it: node with the flags of the image's CMD, the reclaimer's
   * default collector, and a burst that promotes tens of MB to the old generation. Without
   * --expose-gc in the CMD (or with a collection that does not compact) the heap stays grown.
   */
  test('npm run door:local starts node with the image\'s flags, so it returns memory as the deployed door does', () => {
    const root = path.join(__dirname, '..', '..');
    const cmd = JSON.parse(/^CMD (\[.*\])$/m.exec(fs.readFileSync(path.join(root, 'runtime', 'server', 'Dockerfile'), 'utf8'))![1]) as string[];
    const script = (JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8')) as { scripts: Record<string, string> }).scripts['door:local'];
    expect(script.split(' ').filter((a) => a.startsWith('--'))).toEqual(cmd.filter((a) => a.startsWith('--')));
    expect(cmd).toContain('--expose-gc');
  });

  test('with the image CMD node flags, a burst heap returns to near its level before, soon after the burst', () => {
    const dockerfile = fs.readFileSync(path.join(__dirname, '..', '..', 'runtime', 'server', 'Dockerfile'), 'utf8');
    const cmd = JSON.parse(/^CMD (\[.*\])$/m.exec(dockerfile)![1]) as string[];
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cnllm-reclaim-'));
    const entry = path.join(dir, 'burst.js');
    fs.writeFileSync(
      path.join(dir, 'burst.ts'),
      `import { IdleHeapReclaimer } from ${JSON.stringify(path.join(__dirname, '..', '..', 'runtime', 'server', 'idle-heap-reclaimer'))};
import * as v8 from 'v8';
const heap = () => v8.getHeapStatistics().total_heap_size;
async function main() {
  const reclaimer = new IdleHeapReclaimer({ idleMs: 300 });
  const before = heap();
  reclaimer.inFlightChanged(1);
  // Objects that live across many young-generation collections, as a stream's do: promoted.
  let held: object[][] = [];
  for (let round = 0; round < 60; round++) {
    held.push(Array.from({ length: 4000 }, (_, i) => ({ i, text: 'token ' + i + ' of round ' + round })));
    if (held.length > 30) held.shift();
    await new Promise((r) => setImmediate(r));
  }
  const peak = heap();
  held = [];
  reclaimer.inFlightChanged(0);
  await new Promise((r) => setTimeout(r, 900));
  process.stdout.write(JSON.stringify({ enabled: reclaimer.enabled, before, peak, after: heap() }));
}
void main();
`,
    );
    buildSync({ entryPoints: [path.join(dir, 'burst.ts')], bundle: true, platform: 'node', outfile: entry, logLevel: 'silent' });
    const out = JSON.parse(execFileSync(process.execPath, [...cmd.filter((a) => a.startsWith('--')), entry], { encoding: 'utf8' })) as Record<string, number | boolean>;
    fs.rmSync(dir, { recursive: true, force: true });
    const [before, peak, after] = [out.before, out.peak, out.after].map((b) => (b as number) / MB);
    expect(out.enabled).toBe(true);
    // The burst really grew the heap, and within a second of going idle it is back near where it was.
    expect(peak - before).toBeGreaterThan(20);
    expect(after - before).toBeLessThan(3);
  }, 30_000);
});
