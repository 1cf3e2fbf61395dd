import { AttributeValue, DynamoDBClient, DynamoDBClientConfig, GetItemCommand, UpdateItemCommand } from '@aws-sdk/client-dynamodb';
import { NodeHttpHandler } from '@smithy/node-http-handler';
import { Amounts, Below, CounterStore, LimitEntries } from './counter-store';
import { LimitTable } from './limit-table';

/** Attribute names of a counter item: short, they are written on every request. */
const ATTRIBUTE: Record<keyof Amounts, string> = { requests: 'rq', tokens: 'tk', cost: 'co' };
const KEYS = Object.keys(ATTRIBUTE) as (keyof Amounts)[];

export const counterKey = (id: string) => ({ pk: { S: `c#${id}` }, sk: { S: 'n' } });
const number = (value: number) => ({ N: String(value) });

/**
 * A DynamoDB client that cannot hang a request: one attempt, bounded connect and response time, and
 * an abort at the same deadline for anything the socket timeouts miss (a DNS stall, a slow TLS setup).
 */
export function boundedDynamoClient(options: { region?: string; endpoint?: string; timeoutMs: number; credentials?: DynamoDBClientConfig['credentials'] }): DynamoDBClient {
  return new DynamoDBClient({
    ...(options.region && { region: options.region }),
    ...(options.endpoint && { endpoint: options.endpoint }),
    ...(options.credentials && { credentials: options.credentials }),
    // A retry would outlast the budget the caller waits for; the outage policy decides instead.
    maxAttempts: 1,
    requestHandler: new NodeHttpHandler({ connectionTimeout: options.timeoutMs, requestTimeout: options.timeoutMs, throwOnRequestTimeout: true }),
  });
}

/**
 * Counters shared by every Lambda instance and door task: one item per scope and window, changed
 * only by conditional atomic UpdateItem ADDs, so concurrent callers never both take the last unit.
 */
export class DynamoCounterStore implements CounterStore {
  private readonly limits: LimitTable;

  constructor(
    private readonly client: DynamoDBClient,
    private readonly tableName: string,
    private readonly timeoutMs: number,
  ) {
    this.limits = new LimitTable(client, tableName, () => this.deadline());
  }

  async reserve(id: string, add: Amounts, below: Below, expiresAt: number): Promise<Amounts | undefined> {
    const checked = KEYS.filter((k) => below[k] !== undefined);
    const values: Record<string, AttributeValue> = { ':e': number(Math.ceil(expiresAt / 1000)) };
    for (const k of KEYS) values[`:${k}`] = number(add[k]);
    for (const k of checked) values[`:below_${k}`] = number(below[k]!);
    try {
      const out = await this.client.send(
        new UpdateItemCommand({
          TableName: this.tableName,
          Key: counterKey(id),
          UpdateExpression: `ADD ${KEYS.map((k) => `${ATTRIBUTE[k]} :${k}`).join(', ')} SET expiresAt = if_not_exists(expiresAt, :e)`,
          ...(checked.length > 0 && { ConditionExpression: checked.map((k) => `(attribute_not_exists(${ATTRIBUTE[k]}) OR ${ATTRIBUTE[k]} < :below_${k})`).join(' AND ') }),
          ExpressionAttributeValues: values,
          ReturnValues: 'UPDATED_NEW',
        }),
        this.deadline(),
      );
      return amountsOf(out.Attributes);
    } catch (e) {
      if ((e as Error).name === 'ConditionalCheckFailedException') return undefined;
      throw e;
    }
  }

  async add(id: string, add: Amounts, expiresAt: number): Promise<Amounts> {
    const values: Record<string, AttributeValue> = { ':e': number(Math.ceil(expiresAt / 1000)) };
    for (const k of KEYS) values[`:${k}`] = number(add[k]);
    const out = await this.client.send(
      new UpdateItemCommand({
        TableName: this.tableName,
        Key: counterKey(id),
        UpdateExpression: `ADD ${KEYS.map((k) => `${ATTRIBUTE[k]} :${k}`).join(', ')} SET expiresAt = if_not_exists(expiresAt, :e)`,
        ExpressionAttributeValues: values,
        ReturnValues: 'UPDATED_NEW',
      }),
      this.deadline(),
    );
    return amountsOf(out.Attributes);
  }

  /** A counter as it stands (the CLI's usage view; never on the request path). */
  async read(id: string): Promise<Amounts> {
    const out = await this.client.send(new GetItemCommand({ TableName: this.tableName, Key: counterKey(id), ConsistentRead: true }), this.deadline());
    return amountsOf(out.Item);
  }

  limitEntries(): Promise<LimitEntries> {
    return this.limits.entries();
  }

  private deadline(): { abortSignal: AbortSignal } {
    return { abortSignal: AbortSignal.timeout(this.timeoutMs) };
  }
}

function amountsOf(item: Record<string, AttributeValue> | undefined): Amounts {
  const read = (k: keyof Amounts) => Number(item?.[ATTRIBUTE[k]]?.N ?? 0);
  return { requests: read('requests'), tokens: read('tokens'), cost: read('cost') };
}
