import { Price } from './quota-config';

export interface Cost {
  readonly amount: number;
  readonly currency: 'CNY' | 'USD';
}

/** Money amounts are kept to a millionth of a unit: DynamoDB adds decimals exactly, floats would drift. */
export const roundMoney = (amount: number) => Math.round(amount * 1e6) / 1e6;

/** What `inputTokens` + `outputTokens` of model `alias` cost by the price table; undefined when the alias has no price. */
export function costOf(prices: Readonly<Record<string, Price>>, alias: string | undefined, inputTokens: number, outputTokens: number): Cost | undefined {
  // Own keys only: a caller may name its model "__proto__" or "constructor", which every object answers to.
  const price = alias === undefined || !Object.hasOwn(prices, alias) ? undefined : prices[alias];
  if (!price) return undefined;
  return { amount: roundMoney((inputTokens * price.input + outputTokens * price.output) / 1_000_000), currency: price.currency };
}
