import { GatewayError } from '../gateway/errors';
import { ownEntry } from '../gateway/json';
import { Outcome } from '../gateway/request-log';
import { GatewayRequest } from '../gateway/types';
import { Amounts, CounterStore, LimitEntries, NO_LIMIT_ENTRIES } from './counter-store';
import { estimateRequest } from './estimate';
import { DEFAULT_GROUP, GroupResolver, identityOf } from './identity';
import { Cost, costOf, roundMoney } from './pricing';
import { GroupLimits, Limits, QuotaRuntimeConfig } from './quota-config';
import { expiryOf, resetText, Window, WindowKind, windowOf } from './windows';

/** A counter this request was checked against: one scope (group, identity, group+model) in one window. */
interface Reservation {
  readonly id: string;
  readonly scope: string;
  readonly window: Window;
  readonly limits: Limits;
  /** What the check added; settlement corrects the tokens and cost to the real figures. */
  readonly reserved: Amounts;
  /** The counter's values after the reservation (undefined: the store failed and the request was let through). */
  values?: Amounts;
}

/** A request let through: what to settle after it, and the headers its answer carries. */
export interface Admission {
  readonly identity: string;
  readonly group: string;
  readonly model?: string;
  readonly headers: Record<string, string>;
  readonly reservations: readonly Reservation[];
  readonly estimatedCost: number;
  readonly estimatedTokens: number;
  /** The group's monthly budgets, for BudgetUsedPercent after settlement. */
  readonly monthly?: { readonly id: string; readonly tokens?: number; readonly money?: number };
}

/** A refusal with the headers OpenAI sends with it (retry-after, x-ratelimit-*, x-should-retry). */
export class QuotaRefusal extends GatewayError {
  constructor(
    status: number,
    type: string,
    message: string,
    code: string,
    readonly headers: Record<string, string>,
    retryable: boolean,
  ) {
    super(status, type, message, code, null, retryable);
    this.name = 'QuotaRefusal';
  }

  /** Who was refused, for the request log (set once known). */
  identity?: string;
  group?: string;
}

export interface QuotaOptions {
  /** Counters (and limits set at run time); needed when the config enforces limits. */
  readonly store?: CounterStore;
  readonly now?: () => number;
  /** One JSON line per event (store failures, budget metrics): stdout on AWS hosts, so CloudWatch reads the embedded metrics. */
  readonly log?: (line: Record<string, unknown>) => void;
}

const WINDOW_LIMITS: Record<WindowKind, { tokens?: keyof Limits; money?: keyof Limits; requests?: keyof Limits }> = {
  minute: { requests: 'requestsPerMinute', tokens: 'tokensPerMinute' },
  day: { tokens: 'dailyTokens', money: 'dailyBudget' },
  month: { tokens: 'monthlyTokens', money: 'monthlyBudget' },
};
const KINDS: readonly WindowKind[] = ['minute', 'day', 'month'];
const merge = (...sets: (Limits | undefined)[]): Limits => Object.assign({}, ...sets.map((s) => Object.fromEntries(Object.entries(s ?? {}).filter(([, v]) => v !== undefined))));
const hasAny = (limits: Limits, kind: WindowKind) => Object.values(WINDOW_LIMITS[kind]).some((key) => key !== undefined && limits[key] !== undefined);

/**
 * Limits and budgets per identity and group, the same in every front door: before the call one
 * conditional atomic ADD per counter (all at once: one round trip), after it one ADD per counter
 * correcting the estimate to the real usage (skipped when nothing changed).
 */
export class Quota {
  private readonly now: () => number;
  private readonly log: (line: Record<string, unknown>) => void;
  private readonly groups: GroupResolver;
  private entries: { value: LimitEntries; until: number } | undefined;
  private refreshing: Promise<LimitEntries> | undefined;

  constructor(
    readonly config: QuotaRuntimeConfig,
    private readonly options: QuotaOptions = {},
  ) {
    if (config.enforce && !options.store) throw new Error('quotas: limits are enforced but no counter store was given');
    this.now = options.now ?? Date.now;
    this.log = options.log ?? ((line) => process.stdout.write(`${JSON.stringify(line)}\n`));
    this.groups = new GroupResolver(config.principals);
  }

  /** Checks every limit that applies and reserves the estimate; throws a QuotaRefusal (429) or, failing closed, a 503. */
  async admit(req: GatewayRequest): Promise<Admission> {
    const identity = identityOf(req);
    const estimate = estimateRequest(req, this.config.defaultOutputTokens);
    const estimatedTokens = estimate.inputTokens + estimate.outputTokens;
    const estimatedCost = costOf(this.config.prices, estimate.model, estimate.inputTokens, estimate.outputTokens)?.amount ?? 0;
    const metered = req.method.toUpperCase() === 'POST';
    const base = { identity, model: estimate.model, headers: {}, reservations: [], estimatedCost, estimatedTokens };
    if (!this.config.enforce || !metered) return { ...base, group: this.groups.groupOf(identity, req.group, this.cachedEntries()) };

    const entries = await this.limitEntries();
    // The store just failed (and the policy is open): asking it again for the counters would only add a second wait.
    if (!entries) return { ...base, group: this.groups.groupOf(identity, req.group, NO_LIMIT_ENTRIES) };
    const group = this.groups.groupOf(identity, req.group, entries);
    const groupConfig: Partial<GroupLimits> = group === DEFAULT_GROUP ? this.config.default : (this.config.groups[group] ?? {});
    const scopes: { scope: string; limits: Limits }[] = [
      { scope: `g#${group}`, limits: merge(groupConfig, entries.groups[group]) },
      { scope: `i#${identity}`, limits: merge(groupConfig.perIdentity, entries.identities[identity]?.limits) },
      ...(estimate.model && groupConfig.models && ownEntry(groupConfig.models, estimate.model) ? [{ scope: `gm#${group}#${estimate.model}`, limits: merge(groupConfig.models[estimate.model]) }] : []),
    ];
    const now = this.now();
    const reserved: Amounts = { requests: 1, tokens: estimatedTokens, cost: estimatedCost };
    const reservations: Reservation[] = scopes.flatMap(({ scope, limits }) =>
      KINDS.filter((kind) => hasAny(limits, kind)).map((kind) => {
        const window = windowOf(kind, now, this.config.utcOffsetHours);
        return { id: `${scope}#${window.id}`, scope, window, limits, reserved };
      }),
    );
    const groupLimits = scopes[0].limits;
    const monthly =
      groupLimits.monthlyTokens !== undefined || groupLimits.monthlyBudget !== undefined
        ? { id: reservations.find((r) => r.scope === scopes[0].scope && r.window.kind === 'month')!.id, tokens: groupLimits.monthlyTokens, money: groupLimits.monthlyBudget }
        : undefined;

    const results = await Promise.allSettled(reservations.map((r) => this.options.store!.reserve(r.id, reserved, belowFor(r.window.kind, r.limits, estimatedTokens), expiryOf(r.window))));
    const failed = results.flatMap((r, i) => (r.status === 'rejected' ? [{ reservation: reservations[i], error: r.reason as Error }] : []));
    const refused = results.flatMap((r, i) => (r.status === 'fulfilled' && r.value === undefined ? [reservations[i]] : []));
    results.forEach((r, i) => {
      if (r.status === 'fulfilled' && r.value) reservations[i].values = r.value;
    });
    const taken = reservations.filter((r) => r.values);

    if (refused.length > 0) {
      await this.takeBack(taken);
      throw Object.assign(await this.refusal(refused, identity, group, now), { identity, group });
    }
    if (failed.length > 0) {
      this.storeFailed('check', failed[0].error, identity, group);
      if (this.config.onStoreFailure === 'closed') {
        await this.takeBack(taken);
        throw Object.assign(new QuotaRefusal(503, 'api_error', 'Usage limits could not be checked right now (the quota store did not answer): retry shortly.', 'quota_unavailable', {}, true), { identity, group });
      }
    }
    return { ...base, group, reservations, headers: rateLimitHeaders(reservations, now), ...(monthly && { monthly }) };
  }

  /** Corrects the reservations to what the request really used, and records identity, group and cost on the outcome. */
  async settle(admission: Admission, outcome: Outcome): Promise<void> {
    outcome.identity = admission.identity;
    outcome.group = admission.group;
    const succeeded = outcome.status < 400 && !outcome.error;
    const known = outcome.inputTokens !== undefined || outcome.outputTokens !== undefined;
    const inputTokens = outcome.inputTokens ?? 0;
    const outputTokens = outcome.outputTokens ?? 0;
    const cost: Cost | undefined = known ? costOf(this.config.prices, outcome.model ?? admission.model, inputTokens, outputTokens) : undefined;
    if (cost) outcome.cost = cost;
    if (admission.reservations.length === 0) return;
    // Usage the upstream did not report on a success keeps the estimate; a failure without usage used nothing.
    const tokens = known ? inputTokens + outputTokens : succeeded ? admission.estimatedTokens : 0;
    const money = known ? (cost?.amount ?? 0) : succeeded ? admission.estimatedCost : 0;
    const delta: Amounts = { requests: 0, tokens: tokens - admission.estimatedTokens, cost: roundMoney(money - admission.estimatedCost) };
    const stored = admission.reservations.filter((r) => r.values);
    if (delta.tokens !== 0 || delta.cost !== 0) {
      const results = await Promise.allSettled(stored.map((r) => this.options.store!.add(r.id, delta, expiryOf(r.window))));
      results.forEach((r, i) => {
        if (r.status === 'fulfilled') stored[i].values = r.value;
      });
      const failure = results.find((r) => r.status === 'rejected');
      if (failure) this.storeFailed('settle', (failure as PromiseRejectedResult).reason as Error, admission.identity, admission.group);
    }
    this.reportBudget(admission);
  }

  /** BudgetUsedPercent (EMF, dimension Group): the larger share used of the group's monthly token and money budgets. */
  private reportBudget(admission: Admission): void {
    const monthly = admission.monthly;
    const values = monthly && admission.reservations.find((r) => r.id === monthly.id)?.values;
    if (!monthly || !values) return;
    const shares = [monthly.tokens ? values.tokens / monthly.tokens : 0, monthly.money ? values.cost / monthly.money : 0];
    const percent = Math.round(Math.max(...shares) * 10000) / 100;
    this.log({
      level: 'info',
      msg: 'budget',
      group: admission.group,
      _aws: { Timestamp: this.now(), CloudWatchMetrics: [{ Namespace: 'cn-llm-kit/Gateway', Dimensions: [['Group']], Metrics: [{ Name: 'BudgetUsedPercent', Unit: 'Percent' }] }] },
      Group: admission.group,
      BudgetUsedPercent: percent,
    });
  }

  /**
   * Limits set at run time: cached for limitsCacheSeconds, refreshed in the background once stale; the
   * first read is awaited. undefined: the store failed and the policy lets the request through.
   */
  private async limitEntries(): Promise<LimitEntries | undefined> {
    const cached = this.entries;
    if (cached && cached.until > this.now()) return cached.value;
    const refresh = (this.refreshing ??= this.options
      .store!.limitEntries()
      .then((value) => {
        this.entries = { value, until: this.now() + this.config.limitsCacheSeconds * 1000 };
        return value;
      })
      .finally(() => (this.refreshing = undefined)));
    if (cached && this.config.limitsCacheSeconds > 0) {
      // Stale limits serve while the new ones load; a failed reload keeps them.
      refresh.catch((e: Error) => this.storeFailed('limits', e, undefined, undefined));
      return cached.value;
    }
    try {
      return await refresh;
    } catch (e) {
      this.storeFailed('limits', e as Error, undefined, undefined);
      if (this.config.onStoreFailure === 'closed') throw new QuotaRefusal(503, 'api_error', 'Usage limits could not be read right now (the quota store did not answer): retry shortly.', 'quota_unavailable', {}, true);
      return undefined;
    }
  }

  private cachedEntries(): LimitEntries {
    return this.entries?.value ?? NO_LIMIT_ENTRIES;
  }

  /** Gives back what a refused request reserved on the counters that did admit it. */
  private async takeBack(taken: readonly Reservation[]): Promise<void> {
    const results = await Promise.allSettled(taken.map((r) => this.options.store!.add(r.id, { requests: -r.reserved.requests, tokens: -r.reserved.tokens, cost: -r.reserved.cost }, expiryOf(r.window))));
    const failure = results.find((r) => r.status === 'rejected');
    if (failure) this.storeFailed('take back', (failure as PromiseRejectedResult).reason as Error, undefined, undefined);
  }

  /** The answer to a refused request: a budget outranks a rate (waiting a minute does not help). */
  private async refusal(refused: readonly Reservation[], identity: string, group: string, now: number): Promise<QuotaRefusal> {
    const budget = refused.find((r) => r.window.kind !== 'minute');
    const who = (r: Reservation) => (r.scope.startsWith('i#') ? `identity ${identity}` : r.scope.startsWith('gm#') ? `group ${group} on model ${r.scope.split('#')[2]}` : `group ${group}`);
    if (budget) {
      const period = budget.window.kind === 'day' ? 'daily' : 'monthly';
      const retryAfter = Math.ceil((budget.window.end - now) / 1000);
      return new QuotaRefusal(
        429,
        'insufficient_quota',
        `The ${period} budget of ${who(budget)} is used up; it renews in ${resetText(budget.window.end - now)}. Ask the gateway's operator to raise it (npm run api-keys -- limits).`,
        'insufficient_quota',
        // OpenAI's SDKs retry every 429 unless told not to: waiting seconds does not renew a budget.
        { 'x-should-retry': 'false', 'retry-after': String(retryAfter) },
        false,
      );
    }
    const rate = refused[0];
    const { requestsPerMinute: rpm, tokensPerMinute: tpm } = rate.limits;
    let type: 'requests' | 'tokens' = tpm === undefined ? 'requests' : 'tokens';
    if (rpm !== undefined && tpm !== undefined) {
      // Which of the two the counter hit: only asked on refusals, never on the admitted path.
      const current = await this.options.store!.read(rate.id).catch(() => undefined);
      type = current && current.requests >= rpm ? 'requests' : 'tokens';
    }
    const resetMs = Math.max(rate.window.end - now, 1);
    const limit = type === 'requests' ? rpm! : tpm!;
    const headers: Record<string, string> = {
      'retry-after': String(Math.ceil(resetMs / 1000)),
      'retry-after-ms': String(resetMs),
      [`x-ratelimit-limit-${type}`]: String(limit),
      [`x-ratelimit-remaining-${type}`]: '0',
      [`x-ratelimit-reset-${type}`]: resetText(resetMs),
    };
    return new QuotaRefusal(
      429,
      type,
      `Rate limit reached for ${who(rate)} on ${type} per minute: limit ${limit}. Try again in ${resetText(resetMs)}.`,
      'rate_limit_exceeded',
      headers,
      true,
    );
  }

  private storeFailed(step: string, error: Error, identity: string | undefined, group: string | undefined): void {
    this.log({
      level: 'error',
      msg: 'quota store failed',
      step,
      policy: this.config.onStoreFailure,
      error: error?.name ?? String(error),
      ...(identity && { identity }),
      ...(group && { group }),
      _aws: { Timestamp: this.now(), CloudWatchMetrics: [{ Namespace: 'cn-llm-kit/Gateway', Dimensions: [[]], Metrics: [{ Name: 'QuotaStoreFailures', Unit: 'Count' }] }] },
      QuotaStoreFailures: 1,
    });
  }
}

/** The admission condition per window: below the limit after this request (rates) or before it (budgets: the last request may overrun). */
function belowFor(kind: WindowKind, limits: Limits, estimatedTokens: number): Partial<Amounts> {
  const keys = WINDOW_LIMITS[kind];
  const below: Partial<Amounts> = {};
  if (kind === 'minute') {
    if (limits.requestsPerMinute !== undefined) below.requests = limits.requestsPerMinute;
    // A request larger than the whole minute's allowance still runs, alone in an empty window.
    if (limits.tokensPerMinute !== undefined) below.tokens = limits.tokensPerMinute - Math.min(estimatedTokens, limits.tokensPerMinute) + 1;
    return below;
  }
  if (keys.tokens && limits[keys.tokens] !== undefined) below.tokens = limits[keys.tokens];
  if (keys.money && limits[keys.money] !== undefined) below.cost = limits[keys.money];
  return below;
}

/** OpenAI's x-ratelimit-* headers, for the tightest minute limit that applies (requests and tokens separately). */
function rateLimitHeaders(reservations: readonly Reservation[], now: number): Record<string, string> {
  const headers: Record<string, string> = {};
  for (const [type, key, field] of [
    ['requests', 'requestsPerMinute', 'requests'],
    ['tokens', 'tokensPerMinute', 'tokens'],
  ] as const) {
    let tightest: { limit: number; remaining: number; reset: number } | undefined;
    for (const r of reservations) {
      const limit = r.limits[key];
      if (r.window.kind !== 'minute' || limit === undefined || !r.values) continue;
      const remaining = Math.max(0, limit - r.values[field]);
      if (!tightest || remaining < tightest.remaining) tightest = { limit, remaining, reset: r.window.end - now };
    }
    if (!tightest) continue;
    headers[`x-ratelimit-limit-${type}`] = String(tightest.limit);
    headers[`x-ratelimit-remaining-${type}`] = String(tightest.remaining);
    headers[`x-ratelimit-reset-${type}`] = resetText(tightest.reset);
  }
  return headers;
}
