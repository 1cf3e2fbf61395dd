import { BedrockInvoker } from '../../runtime/gateway/bedrock';
import { createGateway } from '../../runtime/gateway/gateway';
import { GatewayRuntimeConfigSchema } from '../../runtime/gateway/runtime-config';
import { IdleHeapCompaction } from '../../runtime/server/idle-heap-compaction';
import { startStreamingServer } from '../../runtime/server/server';

describe('idle heap compaction: the memory of a burst is given back once the door is quiet', () => {
  beforeEach(() => jest.useFakeTimers());
  afterEach(() => jest.useRealTimers());

  test('collects once, after the idle time that follows enough requests', () => {
    const gc = jest.fn();
    const compaction = new IdleHeapCompaction({ gc, idleMs: 2000, minRequests: 3 });
    for (let i = 0; i < 3; i++) compaction.started();
    compaction.ended(2);
    compaction.ended(1);
    compaction.ended(0);
    jest.advanceTimersByTime(1999);
    expect(gc).not.toHaveBeenCalled();
    jest.advanceTimersByTime(1);
    expect(gc).toHaveBeenCalledTimes(1);
    jest.advanceTimersByTime(60_000);
    expect(gc).toHaveBeenCalledTimes(1);
  });

  test('a request that starts during the idle time postpones it; a busy door never collects', () => {
    const gc = jest.fn();
    const compaction = new IdleHeapCompaction({ gc, idleMs: 2000, minRequests: 1 });
    compaction.started();
    compaction.ended(0);
    jest.advanceTimersByTime(1500);
    compaction.started();
    jest.advanceTimersByTime(10_000);
    expect(gc).not.toHaveBeenCalled();
    compaction.ended(0);
    jest.advanceTimersByTime(2000);
    expect(gc).toHaveBeenCalledTimes(1);
  });

  test('a trickle below minRequests, or requests still in flight, do not collect', () => {
    const gc = jest.fn();
    const compaction = new IdleHeapCompaction({ gc, idleMs: 100, minRequests: 50 });
    for (let i = 0; i < 49; i++) compaction.ended(0);
    jest.advanceTimersByTime(1000);
    expect(gc).not.toHaveBeenCalled();
    compaction.ended(1);
    jest.advanceTimersByTime(1000);
    expect(gc).not.toHaveBeenCalled();
    compaction.ended(0);
    jest.advanceTimersByTime(100);
    expect(gc).toHaveBeenCalledTimes(1);
  });

  test('without a collector (node started without --expose-gc) nothing is scheduled', () => {
    const compaction = new IdleHeapCompaction({ gc: undefined, idleMs: 10, minRequests: 1 });
    compaction.ended(0);
    expect(jest.getTimerCount()).toBe(0);
  });
});

test('the door collects after a burst of requests once it is idle, and logs what it gave back', async () => {
  const gc = jest.fn();
  const logs: Record<string, unknown>[] = [];
  const config = GatewayRuntimeConfigSchema.parse({ bedrockEndpoint: 'http://127.0.0.1:9', models: [{ alias: 'nova-lite', modelId: 'us.amazon.nova-lite-v1:0' }] });
  const credentials = { get: async () => ({ accessKeyId: 'AKIAGLOBAL', secretAccessKey: 's' }), invalidate: () => undefined };
  const server = await startStreamingServer({
    gateway: createGateway({ config, bedrock: new BedrockInvoker(config, credentials), log: () => undefined }),
    authenticators: [{ authenticate: async (token) => (token === 'k' ? { caller: 'team' } : undefined) }],
    port: 0,
    host: '127.0.0.1',
    heapCompaction: { gc, idleMs: 50, minRequests: 20 },
    log: (line) => logs.push(line),
  });
  try {
    const answers = await Promise.all(Array.from({ length: 20 }, () => fetch(`${server.url}/v1/models`, { headers: { authorization: 'Bearer k' } }).then((r) => r.status)));
    expect(answers.every((s) => s === 200)).toBe(true);
    await new Promise((r) => setTimeout(r, 300));
    expect(gc).toHaveBeenCalledTimes(1);
    expect(logs).toContainEqual(expect.objectContaining({ msg: 'heap compacted after a burst', rssMbBefore: expect.any(Number), rssMbAfter: expect.any(Number) }));
  } finally {
    await server.drain();
  }
});

test('the door image starts node with a collector to call and a small young generation', () => {
  const dockerfile = require('fs').readFileSync(require('path').join(__dirname, '..', '..', 'runtime', 'server', 'Dockerfile'), 'utf8') as string;
  const cmd = JSON.parse(/^CMD (\[.*\])$/m.exec(dockerfile)![1]) as string[];
  expect(cmd).toEqual(expect.arrayContaining(['--expose-gc', expect.stringMatching(/^--max-semi-space-size=\d+$/)]));
  const main = require('fs').readFileSync(require('path').join(__dirname, '..', '..', 'runtime', 'server', 'main.ts'), 'utf8') as string;
  expect(main).toMatch(/heapCompaction: \{ gc: \(globalThis/);
});
