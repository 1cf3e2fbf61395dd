import * as v8 from 'v8';

/** A full, compacting collection that hands freed pages back to the system (node --expose-gc). */
export type HeapCollector = () => void;

export interface IdleHeapReclaimerOptions {
  /**
   * Quiet time (no request in flight) before the collection: long enough that a steady trickle of
   * requests never pays the pause, short enough that the task's memory falls soon after a burst.
   * @default 2000
   */
  readonly idleMs?: number;
  /**
   * Heap growth since the last collection that makes one worth its pause (about 3 ms per MB of heap):
   * below it the door stays as it is.
   * @default 8 MiB
   */
  readonly minGrowthBytes?: number;
  /** @default the last-resort collection of `globalThis.gc` when node runs with --expose-gc, else none (the reclaimer is off) */
  readonly collect?: HeapCollector;
  /** @default V8's committed heap size */
  readonly heapBytes?: () => number;
  readonly log?: (line: Record<string, unknown>) => void;
}

type ExposedGc = (options: { type: 'major'; execution: 'sync'; flavor: 'last-resort' }) => void;

/**
 * The collector behind `--expose-gc`. The last-resort flavour compacts and releases the pages it
 * frees at once; a plain major collection leaves the committed heap where the burst put it.
 */
export function exposedHeapCollector(): HeapCollector | undefined {
  const gc = (globalThis as { gc?: ExposedGc }).gc;
  return gc ? () => gc({ type: 'major', execution: 'sync', flavor: 'last-resort' }) : undefined;
}

/**
 * Hands a burst's memory back once the door goes quiet. During a burst of streams the objects of
 * each stream outlive a few young-generation collections and are promoted, so the old generation
 * grows to the burst's high-water mark and stays there: V8's own memory reducer only looks every
 * 8 s and waits while anything allocates, so the task keeps that memory for 10 to 20 s (or until the
 * next burst). The door knows the moment nothing is in flight, so it collects then.
 */
export class IdleHeapReclaimer {
  private readonly idleMs: number;
  private readonly minGrowthBytes: number;
  private readonly collect?: HeapCollector;
  private readonly heapBytes: () => number;
  private readonly log: (line: Record<string, unknown>) => void;
  private settledBytes: number;
  private timer?: NodeJS.Timeout;

  constructor(options: IdleHeapReclaimerOptions = {}) {
    this.idleMs = options.idleMs ?? 2000;
    this.minGrowthBytes = options.minGrowthBytes ?? 8 * 1024 * 1024;
    this.collect = 'collect' in options ? options.collect : exposedHeapCollector();
    this.heapBytes = options.heapBytes ?? (() => v8.getHeapStatistics().total_heap_size);
    this.log = options.log ?? (() => undefined);
    this.settledBytes = this.heapBytes();
  }

  /** Whether collections can happen at all (a collector exists and the idle time is not 0). */
  get enabled(): boolean {
    return this.collect !== undefined && this.idleMs > 0;
  }

  /** Called whenever the number of requests in flight changes. */
  inFlightChanged(inFlight: number): void {
    if (!this.enabled) return;
    if (inFlight > 0) {
      clearTimeout(this.timer);
      this.timer = undefined;
      return;
    }
    if (this.timer) return;
    this.timer = setTimeout(() => this.collectIfGrown(), this.idleMs);
    // Never what keeps the process alive (a drained door exits).
    this.timer.unref();
  }

  /** Stops a pending collection (the server is closing). */
  stop(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
  }

  private collectIfGrown(): void {
    this.timer = undefined;
    const before = this.heapBytes();
    if (before - this.settledBytes < this.minGrowthBytes) {
      // Shrinking on its own (V8's reducer) lowers the mark the next burst is measured from.
      this.settledBytes = Math.min(this.settledBytes, before);
      return;
    }
    const started = process.hrtime.bigint();
    this.collect!();
    const pauseMs = Number(process.hrtime.bigint() - started) / 1e6;
    this.settledBytes = this.heapBytes();
    this.log({ level: 'info', msg: 'idle heap reclaimed', heapMbBefore: mb(before), heapMbAfter: mb(this.settledBytes), pauseMs: Math.round(pauseMs) });
  }
}

const mb = (bytes: number) => Math.round(bytes / 104857.6) / 10;
