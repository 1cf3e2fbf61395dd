import { CounterStore } from './counter-store';
import { boundedDynamoClient, DynamoCounterStore } from './dynamo-counter-store';
import { Quota, QuotaOptions } from './quota';
import { QuotaRuntimeConfig } from './quota-config';

/**
 * The quota module of a gateway host: counters in the shared DynamoDB table when the config names
 * one (the Lambda, the door), else the store the host brings (the local runners' in-process one).
 */
export function quotaFromConfig(config: QuotaRuntimeConfig | undefined, options: Omit<QuotaOptions, 'store'> & { store?: CounterStore } = {}): Quota | undefined {
  if (!config) return undefined;
  const store =
    options.store ??
    (config.tableName
      ? new DynamoCounterStore(boundedDynamoClient({ region: config.region, endpoint: config.endpoint, timeoutMs: config.storeTimeoutMs }), config.tableName, config.storeTimeoutMs)
      : undefined);
  return new Quota(config, { ...options, store });
}
