import { Limits } from './quota-config';

/** What one request adds to a counter: one request, its tokens, its cost. */
export interface Amounts {
  requests: number;
  tokens: number;
  cost: number;
}

/** Admit only while each named counter is strictly below this value (an unnamed one is not checked). */
export type Below = Partial<Amounts>;

/** Limits set at run time (npm run api-keys -- limits / set-group), by group and by identity. */
export interface LimitEntries {
  readonly groups: Readonly<Record<string, Limits>>;
  readonly identities: Readonly<Record<string, { readonly group?: string; readonly limits: Limits }>>;
}

export const NO_LIMIT_ENTRIES: LimitEntries = { groups: {}, identities: {} };

/**
 * Where counters live: shared by every process that enforces the same limits (DynamoDB), or one
 * process's own (the local runners). Every method is one atomic step per counter.
 */
export interface CounterStore {
  /** Adds `add` to counter `id` only if every counter named in `below` is strictly below it (a new counter is 0): the values after, or undefined when refused. */
  reserve(id: string, add: Amounts, below: Below, expiresAt: number): Promise<Amounts | undefined>;
  /** Adds unconditionally (settlement, or taking back a reservation): the values after. */
  add(id: string, add: Amounts, expiresAt: number): Promise<Amounts>;
  /** A counter as it stands (undefined values are 0). */
  read(id: string): Promise<Amounts>;
  /** The limits held by the store itself. */
  limitEntries(): Promise<LimitEntries>;
}

const ZERO: Amounts = { requests: 0, tokens: 0, cost: 0 };
const sum = (a: Amounts, b: Amounts): Amounts => ({ requests: a.requests + b.requests, tokens: a.tokens + b.tokens, cost: Math.round((a.cost + b.cost) * 1e6) / 1e6 });

/** Counters in this process only: the local runners (one process serves every caller). */
export class MemoryCounterStore implements CounterStore {
  private readonly counters = new Map<string, { values: Amounts; expiresAt: number }>();

  constructor(
    private readonly entries: LimitEntries = NO_LIMIT_ENTRIES,
    private readonly now: () => number = Date.now,
  ) {}

  async reserve(id: string, add: Amounts, below: Below, expiresAt: number): Promise<Amounts | undefined> {
    const current = this.current(id);
    for (const key of Object.keys(below) as (keyof Amounts)[]) if (!(current[key] < below[key]!)) return undefined;
    return this.put(id, sum(current, add), expiresAt);
  }

  async add(id: string, add: Amounts, expiresAt: number): Promise<Amounts> {
    return this.put(id, sum(this.current(id), add), expiresAt);
  }

  async read(id: string): Promise<Amounts> {
    return this.current(id);
  }

  async limitEntries(): Promise<LimitEntries> {
    return this.entries;
  }

  private current(id: string): Amounts {
    const counter = this.counters.get(id);
    if (!counter || counter.expiresAt <= this.now()) return ZERO;
    return counter.values;
  }

  private put(id: string, values: Amounts, expiresAt: number): Amounts {
    const existing = this.counters.get(id);
    this.counters.set(id, { values, expiresAt: existing && existing.expiresAt > this.now() ? existing.expiresAt : expiresAt });
    // Expired counters go when new ones arrive, so a long-running local process does not grow.
    if (this.counters.size > 10_000) for (const [key, c] of this.counters) if (c.expiresAt <= this.now()) this.counters.delete(key);
    return values;
  }
}
