import { Amounts, Below, CounterStore, LimitEntries } from './counter-store';
import { DynamoJsonClient } from './dynamo-json-client';
import { LimitTable } from './limit-table';

type AttributeValue = { S?: string; N?: string };

/** Attribute names of a counter item: short, they are written on every request. */
const ATTRIBUTE: Record<keyof Amounts, string> = { requests: 'rq', tokens: 'tk', cost: 'co' };
const KEYS = Object.keys(ATTRIBUTE) as (keyof Amounts)[];

const counterKey = (id: string) => ({ pk: { S: `c#${id}` }, sk: { S: 'n' } });
const number = (value: number) => ({ N: String(value) });

/**
 * Counters shared by every Lambda instance and door task: one item per scope and window, changed
 * only by conditional atomic UpdateItem ADDs, so concurrent callers never both take the last unit.
 */
export class DynamoCounterStore implements CounterStore {
  private readonly limits: LimitTable;

  constructor(
    private readonly client: DynamoJsonClient,
    private readonly tableName: string,
  ) {
    this.limits = new LimitTable(client, tableName);
  }

  async reserve(id: string, add: Amounts, below: Below, expiresAt: number): Promise<Amounts | undefined> {
    const checked = KEYS.filter((k) => below[k] !== undefined);
    const values: Record<string, AttributeValue> = { ':e': number(Math.ceil(expiresAt / 1000)) };
    for (const k of KEYS) values[`:${k}`] = number(add[k]);
    for (const k of checked) values[`:below_${k}`] = number(below[k]!);
    try {
      const out = await this.client.call('UpdateItem', {
        TableName: this.tableName,
        Key: counterKey(id),
        UpdateExpression: `ADD ${KEYS.map((k) => `${ATTRIBUTE[k]} :${k}`).join(', ')} SET expiresAt = if_not_exists(expiresAt, :e)`,
        ...(checked.length > 0 && { ConditionExpression: checked.map((k) => `(attribute_not_exists(${ATTRIBUTE[k]}) OR ${ATTRIBUTE[k]} < :below_${k})`).join(' AND ') }),
        ExpressionAttributeValues: values,
        ReturnValues: 'UPDATED_NEW',
      });
      return amountsOf(out.Attributes);
    } catch (e) {
      if ((e as Error).name === 'ConditionalCheckFailedException') return undefined;
      throw e;
    }
  }

  async add(id: string, add: Amounts, expiresAt: number): Promise<Amounts> {
    const values: Record<string, AttributeValue> = { ':e': number(Math.ceil(expiresAt / 1000)) };
    for (const k of KEYS) values[`:${k}`] = number(add[k]);
    const out = await this.client.call('UpdateItem', {
      TableName: this.tableName,
      Key: counterKey(id),
      UpdateExpression: `ADD ${KEYS.map((k) => `${ATTRIBUTE[k]} :${k}`).join(', ')} SET expiresAt = if_not_exists(expiresAt, :e)`,
      ExpressionAttributeValues: values,
      ReturnValues: 'UPDATED_NEW',
    });
    return amountsOf(out.Attributes);
  }

  /** A counter as it stands (refusals and the CLI's usage view). */
  async read(id: string): Promise<Amounts> {
    const out = await this.client.call('GetItem', { TableName: this.tableName, Key: counterKey(id), ConsistentRead: true });
    return amountsOf(out.Item);
  }

  limitEntries(): Promise<LimitEntries> {
    return this.limits.entries();
  }
}

function amountsOf(item: Record<string, AttributeValue> | undefined): Amounts {
  const read = (k: keyof Amounts) => Number(item?.[ATTRIBUTE[k]]?.N ?? 0);
  return { requests: read('requests'), tokens: read('tokens'), cost: read('cost') };
}
