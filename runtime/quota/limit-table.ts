import { AttributeValue, DeleteItemCommand, DynamoDBClient, PutItemCommand, QueryCommand, QueryCommandOutput } from '@aws-sdk/client-dynamodb';
import { LimitEntries } from './counter-store';
import { Limits } from './quota-config';

/** The quota table's partition that holds the limits set at run time (one item per group or identity). */
export const LIMITS_PARTITION = 'limits';
export const LIMIT_FIELDS = ['requestsPerMinute', 'tokensPerMinute', 'dailyTokens', 'monthlyTokens', 'dailyBudget', 'monthlyBudget'] as const;

export type LimitTarget = { readonly kind: 'group'; readonly name: string } | { readonly kind: 'identity'; readonly name: string };

const sortKey = (target: LimitTarget) => `${target.kind}#${target.name}`;

/**
 * Limits set without a redeploy (npm run api-keys -- limits): one item per group or identity in one
 * partition of the quota table, so a host reads them all with one Query and caches them.
 */
export class LimitTable {
  constructor(
    private readonly client: DynamoDBClient,
    private readonly tableName: string,
    private readonly sendOptions: () => { abortSignal?: AbortSignal } = () => ({}),
  ) {}

  async entries(): Promise<LimitEntries> {
    const groups: Record<string, Limits> = {};
    const identities: Record<string, { group?: string; limits: Limits }> = {};
    let start: QueryCommandOutput['LastEvaluatedKey'];
    do {
      const page = await this.client.send(
        new QueryCommand({ TableName: this.tableName, KeyConditionExpression: 'pk = :p', ExpressionAttributeValues: { ':p': { S: LIMITS_PARTITION } }, ExclusiveStartKey: start }),
        this.sendOptions(),
      );
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
    await this.client.send(new PutItemCommand({ TableName: this.tableName, Item: item }), this.sendOptions());
  }

  async clear(target: LimitTarget): Promise<void> {
    await this.client.send(new DeleteItemCommand({ TableName: this.tableName, Key: { pk: { S: LIMITS_PARTITION }, sk: { S: sortKey(target) } } }), this.sendOptions());
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
