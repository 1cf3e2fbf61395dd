/** Limits and budgets per caller identity and group, enforced by both front doors with shared counters. */
import { z } from 'zod';
import { flag, int } from './primitives';

/** Names a group in config keys (`quotas.groups.<name>.*`), the CLI, counters and the Group metric dimension. */
export const GROUP_NAME = /^[a-z][a-z0-9-]{0,39}$/;
const MODEL_ALIAS = /^[a-z0-9][a-z0-9._-]{0,62}$/;
const GROUP_NAME_ERROR = 'must be a group name: 1-40 lower-case letters, digits or "-", starting with a letter, e.g. "team-a"';

const count = (what: string) => int(1, 1_000_000_000_000, what).optional();
const money = (what: string) =>
  z.coerce.number({ error: `must be an amount of money (${what})` }).positive({ error: `must be a positive amount (${what})` }).max(1e12, { error: `must be at most 1e12 (${what})` }).optional();

/** The limits one scope (a group as a whole, or each identity) may have; any left out does not apply. */
export const limitsShape = {
  /** Requests in one minute (fixed windows). @default unset (no limit) */
  requestsPerMinute: count('requests per minute'),
  /** Input plus output tokens in one minute, estimated before the call (request size + max_tokens) and settled after it. @default unset */
  tokensPerMinute: count('tokens per minute'),
  /** Tokens in one day (days start at midnight in quotas.utcOffsetHours). @default unset */
  dailyTokens: count('tokens per day'),
  /** Tokens in one calendar month. @default unset */
  monthlyTokens: count('tokens per month'),
  /** Money per day in quotas.currency, priced with quotas.prices. @default unset */
  dailyBudget: money('budget per day in quotas.currency'),
  /** Money per calendar month in quotas.currency; BudgetUsedPercent and its alarm follow it. @default unset */
  monthlyBudget: money('budget per month in quotas.currency'),
};
export const limitsSchema = z.object(limitsShape).strict();

/** A group's limits (shared by all its members), with optional limits per member and per model alias. */
const groupSchema = z
  .object({
    ...limitsShape,
    /** Limits each identity of the group gets on its own (besides the group's shared ones). @default unset */
    perIdentity: limitsSchema.optional(),
    /** alias -> limits for that model alone, shared by the group, e.g. a small budget for a cross-border model. @default {} */
    models: z.record(z.string(), limitsSchema).default({}),
  })
  .strict();

const priceSchema = z
  .object({
    /** Price of one million input tokens. */
    input: z.coerce.number({ error: 'must be a price per million input tokens' }).min(0, { error: 'must not be negative' }),
    /** Price of one million output tokens. */
    output: z.coerce.number({ error: 'must be a price per million output tokens' }).min(0, { error: 'must not be negative' }),
    currency: z.enum(['CNY', 'USD'], { error: 'must be CNY or USD' }),
  })
  .strict();

export const quotasSection = z
  .object({
    /**
     * Quotas are on (a DynamoDB counter table in the Gateway stack, checks in both front doors) when
     * any limit is configured in `default` or `groups`, or when this is true (limits then come only
     * from the table: npm run api-keys -- limits). @default false
     */
    enabled: flag(false),
    /** The group of every identity that has no other. */
    default: groupSchema.prefault({}),
    /** group name -> its limits. @default {} */
    groups: z.record(z.string(), groupSchema).default({}),
    /** IAM principals -> groups, first match wins; `*` matches any characters. Matched against the role ARN for assumed-role sessions. @default [] */
    principals: z
      .array(
        z
          .object({
            pattern: z.string().regex(/^\S{1,2048}$/, { error: 'must be an identity pattern without spaces, e.g. "arn:aws-cn:iam::*:role/team-a-*"' }),
            group: z.string().regex(GROUP_NAME, { error: GROUP_NAME_ERROR }),
          })
          .strict(),
      )
      .default([]),
    /** alias -> {input, output (per million tokens), currency}: what a request costs (Outcome.cost, money budgets). @default {} */
    prices: z.record(z.string(), priceSchema).default({}),
    /** Currency of dailyBudget / monthlyBudget; every price must use it when a money budget is set. @default CNY */
    currency: z.enum(['CNY', 'USD'], { error: 'must be CNY or USD' }).default('CNY'),
    /** Days and months start at midnight at this offset from UTC (China Standard Time: 8). @default 8 */
    utcOffsetHours: z.coerce.number().int().min(-12).max(14).default(8),
    /** Output tokens assumed before a call that sets no max_tokens (settled with the real count after it). @default 1024 */
    defaultOutputTokens: int(0, 1_000_000, 'output tokens estimated when a request sets no max_tokens').default(1024),
    /** open: serve when the counter table fails or is slow (and emit QuotaStoreFailures, alarmed); closed: answer 503 quota_unavailable. @default open */
    onStoreFailure: z.enum(['open', 'closed'], { error: 'must be open or closed' }).default('open'),
    /** Longest wait for the counter table per check or settlement, then onStoreFailure applies (never a hang). @default 300 */
    storeTimeoutMs: int(50, 10_000, 'milliseconds to wait for the counter table').default(300),
    /** Limits set with npm run api-keys are re-read this often. @default 30 */
    limitsCacheSeconds: int(0, 3600, 'seconds table-held limits are cached').default(30),
    /** Alarm when a group has used this share of a monthly budget (tokens or money). @default 80 */
    budgetAlarmPercent: int(1, 1000, 'percent of a monthly budget that raises the alarm').default(80),
  })
  .strict()
  .prefault({});

type QuotasInput = Partial<z.output<typeof quotasSection>> | undefined;
type LimitsLike = Partial<z.output<typeof limitsSchema>> | undefined;
const LIMIT_KEYS = Object.keys(limitsShape) as (keyof typeof limitsShape)[];

/** Every limit set of the section with its config path: groups (default too), their per-identity and per-model limits. */
export function limitSets(q: QuotasInput): { path: (string | number)[]; limits: LimitsLike }[] {
  if (!q || typeof q !== 'object') return [];
  const groups: [string[], z.output<typeof groupSchema> | undefined][] = [
    [['quotas', 'default'], q.default],
    ...Object.entries(q.groups ?? {}).map(([name, g]) => [['quotas', 'groups', name], g] as [string[], z.output<typeof groupSchema>]),
  ];
  return groups.flatMap(([path, g]) =>
    !g || typeof g !== 'object'
      ? []
      : [
          { path, limits: g },
          ...(g.perIdentity ? [{ path: [...path, 'perIdentity'], limits: g.perIdentity }] : []),
          ...Object.entries(g.models ?? {}).map(([alias, l]) => ({ path: [...path, 'models', alias], limits: l })),
        ],
  );
}

const anyLimit = (l: LimitsLike) => !!l && LIMIT_KEYS.some((k) => l[k] !== undefined);

/** Quotas are enforced (counter table, checks) when enabled or any limit is configured. */
export function quotasEnforced(q: QuotasInput): boolean {
  return !!q?.enabled || limitSets(q).some((s) => anyLimit(s.limits));
}

/** Groups whose monthly budget (tokens or money) is configured: each gets a BudgetUsedPercent alarm. */
export function budgetedGroups(q: QuotasInput): string[] {
  return limitSets(q)
    .filter((s) => s.path.length === 2 || (s.path.length === 3 && s.path[1] === 'groups'))
    .filter((s) => s.limits?.monthlyTokens !== undefined || s.limits?.monthlyBudget !== undefined)
    .map((s) => (s.path[1] === 'default' ? 'default' : String(s.path[2])));
}

/** Problems the field-level schema cannot see: money budgets need prices in their currency. */
export function quotaProblems(q: QuotasInput): { path: (string | number)[]; message: string }[] {
  if (!q || typeof q !== 'object') return [];
  const problems: { path: (string | number)[]; message: string }[] = [];
  // Record keys are checked here: zod reports a bad key only as "Invalid key in record".
  for (const name of Object.keys(q.groups ?? {})) {
    if (name !== 'default' && !GROUP_NAME.test(name)) problems.push({ path: ['quotas', 'groups', name], message: `is not a usable name: the group ${GROUP_NAME_ERROR.replace('must be a group name: ', 'name must be ')}` });
  }
  for (const set of limitSets(q)) {
    if (set.path.at(-2) === 'models' && !MODEL_ALIAS.test(String(set.path.at(-1)))) problems.push({ path: set.path, message: 'is not a model alias (lower-case letters, digits, ".", "_" or "-")' });
  }
  for (const alias of Object.keys(q.prices ?? {})) {
    if (!MODEL_ALIAS.test(alias)) problems.push({ path: ['quotas', 'prices', alias], message: 'is not a model alias (lower-case letters, digits, ".", "_" or "-")' });
  }
  if (q.groups && 'default' in q.groups) {
    problems.push({ path: ['quotas', 'groups', 'default'], message: 'the default group is configured under quotas.default (e.g. -c quotas.default.requestsPerMinute=60); move these limits there' });
  }
  const moneySets = limitSets(q).filter((s) => s.limits?.dailyBudget !== undefined || s.limits?.monthlyBudget !== undefined);
  if (moneySets.length === 0) return problems;
  const prices = Object.entries(q.prices ?? {});
  const field = moneySets[0].limits?.monthlyBudget !== undefined ? 'monthlyBudget' : 'dailyBudget';
  if (prices.length === 0) {
    problems.push({ path: [...moneySets[0].path, field], message: 'is a money budget, but quotas.prices is empty: price the models (alias -> {input, output, currency}, per million tokens) or use dailyTokens/monthlyTokens' });
  }
  for (const [alias, price] of prices) {
    if (price && typeof price === 'object' && price.currency !== undefined && price.currency !== q.currency) {
      problems.push({ path: ['quotas', 'prices', alias, 'currency'], message: `must be ${q.currency ?? 'CNY'} (quotas.currency) while money budgets are set: budgets add prices up in one currency` });
    }
  }
  return problems;
}
