import { estimateRequest } from '../../runtime/quota/estimate';
import { patternMatcher } from '../../runtime/quota/identity';
import { costOf } from '../../runtime/quota/pricing';
import { expiryOf, resetText, windowOf } from '../../runtime/quota/windows';

describe('quota windows', () => {
  test('days and months turn at midnight Beijing time (UTC+8), not at midnight UTC', () => {
    const newYearBeijing = Date.parse('2026-12-31T16:30:00Z'); // 00:30 on 1 January 2027 in Beijing
    expect(windowOf('day', newYearBeijing, 8)).toEqual({ kind: 'day', id: 'd2027-01-01', end: Date.parse('2027-01-01T16:00:00Z') });
    expect(windowOf('month', newYearBeijing, 8)).toEqual({ kind: 'month', id: 'M2027-01', end: Date.parse('2027-01-31T16:00:00Z') });
    // The same instant in UTC is still the old year.
    expect(windowOf('day', newYearBeijing, 0).id).toBe('d2026-12-31');
    expect(windowOf('month', newYearBeijing, 0).end).toBe(Date.parse('2027-01-01T00:00:00Z'));
    const minute = windowOf('minute', Date.parse('2027-01-01T00:00:59.500Z'), 8);
    expect(minute.end - Date.parse('2027-01-01T00:00:59.500Z')).toBe(500);
    // Counters outlive their window, so a long stream settles into the window it was admitted in.
    expect(expiryOf(minute)).toBeGreaterThan(minute.end + 15 * 60_000);
  });

  test('reset durations are written as OpenAI writes them', () => {
    expect([resetText(250), resetText(1000), resetText(42_100), resetText(360_000), resetText(7_384_000)]).toEqual(['250ms', '1s', '43s', '6m0s', '2h3m4s']);
  });
});

describe('quota estimates, prices and principal patterns', () => {
  const req = (body: unknown, path = '/v1/chat/completions') => ({ method: 'POST', path, headers: {}, body: JSON.stringify(body), caller: 'c', requestId: 'r' });

  test('input from the request size (images by count, not by their base64 bytes), output from max_tokens or the default', () => {
    const text = estimateRequest(req({ model: 'nova-lite', max_tokens: 77, messages: [{ role: 'user', content: '你好，世界' }] }), 1024);
    expect(text.model).toBe('nova-lite');
    expect(text.outputTokens).toBe(77);
    expect(text.inputTokens).toBe(Math.ceil(Buffer.byteLength(JSON.stringify({ model: 'nova-lite', max_tokens: 77, messages: [{ role: 'user', content: '你好，世界' }] })) / 3));
    const image = 'A'.repeat(300_000);
    const withImage = estimateRequest(req({ model: 'nova-lite', messages: [{ role: 'user', content: [{ type: 'image_url', image_url: { url: `data:image/png;base64,${image}` } }] }] }), 1024);
    expect(withImage.inputTokens).toBeLessThan(1700);
    expect(withImage.inputTokens).toBeGreaterThanOrEqual(1600);
    expect(withImage.outputTokens).toBe(1024);
    // "max_tokens" quoted inside a message is text, not the field.
    expect(estimateRequest(req({ model: 'm', messages: [{ role: 'user', content: 'set "max_tokens": 5 please' }] }), 900).outputTokens).toBe(900);
    // The native route names the model in its path and its limit in inferenceConfig.
    const native = estimateRequest(req({ messages: [], inferenceConfig: { maxTokens: 33 } }, '/model/us.amazon.nova-pro-v1%3A0/converse'), 900);
    expect(native).toEqual(expect.objectContaining({ model: 'us.amazon.nova-pro-v1:0', outputTokens: 33 }));
  });

  test('costOf prices per million tokens, rounded to a millionth; unpriced models cost nothing known', () => {
    const prices = { 'nova-lite': { input: 0.45, output: 1.8, currency: 'CNY' as const } };
    expect(costOf(prices, 'nova-lite', 1_000_000, 500_000)).toEqual({ amount: 1.35, currency: 'CNY' });
    expect(costOf(prices, 'nova-lite', 1, 1)).toEqual({ amount: 0.000002, currency: 'CNY' });
    expect(costOf(prices, 'other', 10, 10)).toBeUndefined();
  });

  test('principal patterns: * matches any characters, everything else literally', () => {
    const m = patternMatcher('arn:aws-cn:iam::*:role/team-a-*');
    expect(m.test('arn:aws-cn:iam::111122223333:role/team-a-ci')).toBe(true);
    expect(m.test('arn:aws-cn:iam::111122223333:role/team-b-ci')).toBe(false);
    expect(patternMatcher('role/a.b').test('role/aXb')).toBe(false);
  });
});
