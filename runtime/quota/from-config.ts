import type { AwsCredentialIdentityProvider } from '@smithy/types';
import { CounterStore } from './counter-store';
import { DynamoCounterStore } from './dynamo-counter-store';
import { DynamoJsonClient } from './dynamo-json-client';
import { Quota, QuotaOptions } from './quota';
import { QuotaRuntimeConfig } from './quota-config';

/**
 * The quota module of a gateway host: counters in the shared DynamoDB table when the config names
 * one (the Lambda, the door; signed with the host's credentials), else the store the host brings
 * (the local runners' in-process one).
 */
export function quotaFromConfig(
  config: QuotaRuntimeConfig | undefined,
  options: Omit<QuotaOptions, 'store'> & { store?: CounterStore; credentials?: AwsCredentialIdentityProvider } = {},
): Quota | undefined {
  if (!config) return undefined;
  let store = options.store;
  if (!store && config.tableName) {
    if (!config.region || !options.credentials) throw new Error('quotas: the counter table needs a region and the host\'s credentials');
    store = new DynamoCounterStore(new DynamoJsonClient({ region: config.region, endpoint: config.endpoint, credentials: options.credentials, timeoutMs: config.storeTimeoutMs }), config.tableName);
  }
  return new Quota(config, { ...options, store });
}
