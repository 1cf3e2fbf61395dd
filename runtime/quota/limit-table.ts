import { LimitEntries } from './counter-store';
import { DynamoJsonClient } from './dynamo-json-client';
import { Limits } from './quota-config';

/** The quota table's partition that holds the limits set at run time (one item per group or identity). */
export const LIMITS_PARTITION = 'limits';
export const LIMIT_FIELDS = ['requestsPerMinute', 'tokensPerMinute', 'dailyTokens', 'monthlyTokens', 'dailyBudget', 'monthlyBudget'] as const;

export type LimitTarget = { readonly kind: 'group'; readonly name: string } | { readonly kind: 'identity'; readonly name: string };

type AttributeValue = { S?: string; N?: string };

const sortKey = (target: LimitTarget) => `${target.kind}#${target.name}`;

/**
 * Limits set without a redeploy (npm run api-keys -- limits): one item per group or identity in one
 * partition of the quota table, so a host reads them all with one Query and caches them.
 */
export class LimitTable {
  constructor(
    private readonly client: DynamoJsonClient,
    private readonly tableName: string,
  ) {}

  async entries(): Promise<LimitEntries> {
    const groups: Record<string, Limits> = {};
    const identities: Record<string, { group?: string; limits: Limits }> = {};
    let start: Record<string, AttributeValue> | undefined;
    do {
      const page = (await this.client.call('Query', {
        TableName: this.tableName,
        KeyConditionExpression: 'pk = :p',
        ExpressionAttributeValues: { ':p': { S: LIMITS_PARTITION } },
        ...(start && { ExclusiveStartKey: start }),
      })) as { Items?: Record<string, AttributeValue>[]; LastEvaluatedKey?: Record<string, AttributeValue> };
      for (const item of page.Items ?? []) {
        const [kind, ...rest] = (item.sk?.S ?? '').split('#');
        const name = rest.join('#');
        const limits = limitsOf(item);
        if (kind === 'group') groups[name] = limits;
        else if (kind === 'identity') identities[name] = { ...(item.group?.S && { group: item.group.S }), limits };
      }
      start = page.LastEvaluatedKey;
    } while (start);
    return { groups, identities };
  }

  /** Replaces the limits of a group or identity (and an identity's group); limits left out no longer apply. */
  async put(target: LimitTarget, limits: Limits, group?: string): Promise<void> {
    const item: Record<string, AttributeValue> = { pk: { S: LIMITS_PARTITION }, sk: { S: sortKey(target) }, updatedAt: { S: new Date().toISOString() } };
    for (const field of LIMIT_FIELDS) if (limits[field] !== undefined) item[field] = { N: String(limits[field]) };
    if (group !== undefined && target.kind === 'identity') item.group = { S: group };
    await this.client.call('PutItem', { TableName: this.tableName, Item: item });
  }

  async clear(target: LimitTarget): Promise<void> {
    await this.client.call('DeleteItem', { TableName: this.tableName, Key: { pk: { S: LIMITS_PARTITION }, sk: { S: sortKey(target) } } });
  }
}

function limitsOf(item: Record<string, AttributeValue>): Limits {
  const limits: Record<string, number> = {};
  for (const field of LIMIT_FIELDS) {
    const value = Number(item[field]?.N);
    if (item[field]?.N !== undefined && Number.isFinite(value) && value > 0) limits[field] = value;
  }
  return limits;
}
