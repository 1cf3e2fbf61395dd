import type { z } from 'zod';
import { KitConfig } from '../config/schema';
import { quotasEnforced } from '../config/schema/quotas';
import type { QuotaRuntimeConfigSchema } from '../../runtime/quota/quota-config';

/**
 * The quota part of the gateway's run-time settings: undefined when quotas are off and nothing is
 * priced or grouped (no module, no cost); metering only (identity, group, cost) when prices or
 * principal patterns exist without limits; enforcing with the shared table when limits exist.
 */
export function quotaRuntimeSettings(config: KitConfig, store?: { tableName: string; region: string }): z.input<typeof QuotaRuntimeConfigSchema> | undefined {
  const q = config.quotas;
  const enforce = quotasEnforced(q);
  if (!enforce && Object.keys(q.prices).length === 0 && q.principals.length === 0) return undefined;
  return {
    enforce,
    ...(enforce && store && { tableName: store.tableName, region: store.region }),
    default: q.default,
    groups: q.groups,
    principals: q.principals,
    prices: q.prices,
    currency: q.currency,
    utcOffsetHours: q.utcOffsetHours,
    defaultOutputTokens: q.defaultOutputTokens,
    onStoreFailure: q.onStoreFailure,
    storeTimeoutMs: q.storeTimeoutMs,
    limitsCacheSeconds: q.limitsCacheSeconds,
  };
}
