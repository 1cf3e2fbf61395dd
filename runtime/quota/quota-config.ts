import { z } from 'zod';

/** The limits of one scope; a limit left out does not apply. */
export const LimitsSchema = z.object({
  requestsPerMinute: z.number().int().positive().optional(),
  tokensPerMinute: z.number().int().positive().optional(),
  dailyTokens: z.number().int().positive().optional(),
  monthlyTokens: z.number().int().positive().optional(),
  dailyBudget: z.number().positive().optional(),
  monthlyBudget: z.number().positive().optional(),
});
export type Limits = z.output<typeof LimitsSchema>;

export const GroupLimitsSchema = LimitsSchema.extend({
  /** Limits each member identity gets on its own. */
  perIdentity: LimitsSchema.optional(),
  /** alias -> limits for that model alone, shared by the group. */
  models: z.record(z.string(), LimitsSchema).default({}),
});
export type GroupLimits = z.output<typeof GroupLimitsSchema>;

export const PriceSchema = z.object({ input: z.number().min(0), output: z.number().min(0), currency: z.enum(['CNY', 'USD']) });
export type Price = z.output<typeof PriceSchema>;

/** The quota settings every gateway host receives (inside the gateway's run-time config): no secrets. */
export const QuotaRuntimeConfigSchema = z.object({
  /** Check limits (false: only identity, group and cost are recorded). */
  enforce: z.boolean().default(false),
  /** The shared counter table; unset: the host supplies a store (the local runners' in-process one). */
  tableName: z.string().optional(),
  region: z.string().optional(),
  /** Overrides the DynamoDB endpoint (loopback tests). */
  endpoint: z.string().url().optional(),
  default: GroupLimitsSchema.prefault({}),
  groups: z.record(z.string(), GroupLimitsSchema).default({}),
  /** Identity patterns (`*` = any characters) -> group, first match wins. */
  principals: z.array(z.object({ pattern: z.string(), group: z.string() })).default([]),
  prices: z.record(z.string(), PriceSchema).default({}),
  currency: z.enum(['CNY', 'USD']).default('CNY'),
  utcOffsetHours: z.number().int().default(8),
  defaultOutputTokens: z.number().int().min(0).default(1024),
  onStoreFailure: z.enum(['open', 'closed']).default('open'),
  storeTimeoutMs: z.number().int().min(1).default(300),
  limitsCacheSeconds: z.number().int().min(0).default(30),
});
export type QuotaRuntimeConfig = z.output<typeof QuotaRuntimeConfigSchema>;
