/**
 * Gives a burst's memory back once the door goes quiet. Under a burst of concurrent streams V8 grows
 * its heap (the young generation to its cap, old space with the burst's short-lived garbage) and,
 * with no allocation afterwards, nothing triggers the collection that would shrink it: the task sat
 * ~55 MB above its baseline until the next burst (npm run bench:gateway). One full collection when
 * the door has been idle for a moment after enough requests returns it to near the baseline. It
 * needs `gc`, which node exposes with --expose-gc (runtime/server/Dockerfile starts it so).
 */
export interface IdleHeapCompactionOptions {
  /** The collector: `globalThis.gc` under --expose-gc. Without it nothing is compacted. */
  readonly gc: (() => void) | undefined;
  /**
   * Quiet time (no request in flight, none started) before collecting: a busy door never pauses for it.
   * @default 2000
   */
  readonly idleMs?: number;
  /**
   * Requests served since the last collection before one is worth it: a trickle of requests leaves
   * little garbage, and V8's own collections handle it.
   * @default 50
   */
  readonly minRequests?: number;
  readonly log?: (line: Record<string, unknown>) => void;
}

export class IdleHeapCompaction {
  private served = 0;
  private timer: NodeJS.Timeout | undefined;

  constructor(private readonly options: IdleHeapCompactionOptions) {}

  /** A request started: the door is not idle. */
  started(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
  }

  /** A request ended, `inFlight` remain. */
  ended(inFlight: number): void {
    this.served++;
    if (inFlight > 0 || !this.options.gc || this.served < (this.options.minRequests ?? 50)) return;
    clearTimeout(this.timer);
    this.timer = setTimeout(() => this.compact(), this.options.idleMs ?? 2000);
    this.timer.unref();
  }

  /** Stops a pending collection (the server is closing). */
  stop(): void {
    clearTimeout(this.timer);
  }

  private compact(): void {
    this.timer = undefined;
    const before = process.memoryUsage.rss();
    const started = process.hrtime.bigint();
    this.options.gc?.();
    this.served = 0;
    this.options.log?.({
      level: 'info',
      msg: 'heap compacted after a burst',
      rssMbBefore: Math.round(before / 1048576),
      rssMbAfter: Math.round(process.memoryUsage.rss() / 1048576),
      ms: Number((process.hrtime.bigint() - started) / 1_000_000n),
    });
  }
}
