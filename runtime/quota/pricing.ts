import { ownEntry } from '../gateway/json';
import { Price } from './quota-config';

export interface Cost {
  readonly amount: number;
  readonly currency: 'CNY' | 'USD';
}

/** Money amounts are kept to a millionth of a unit: DynamoDB adds decimals exactly, floats would drift. */
export const roundMoney = (amount: number) => Math.round(amount * 1e6) / 1e6;

/** What `inputTokens` + `outputTokens` of model `alias` cost by the price table; undefined when the alias has no price. */
export function costOf(prices: Readonly<Record<string, Price>>, alias: string | undefined, inputTokens: number, outputTokens: number): Cost | undefined {
  const price = alias === undefined ? undefined : ownEntry(prices, alias);
  if (!price) return undefined;
  return { amount: roundMoney((inputTokens * price.input + outputTokens * price.output) / 1_000_000), currency: price.currency };
}
