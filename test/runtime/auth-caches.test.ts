import { ApiKeyAuthenticator, newApiKey } from '../../runtime/server/api-keys';
import { ExpiringCache } from '../../runtime/server/expiring-cache';

describe('authentication caches of the long-running server', () => {
  test('entries expire, and the map never holds more than its limit (oldest dropped first)', () => {
    let now = 0;
    const cache = new ExpiringCache<string>(3, () => now);
    cache.set('a', 'A', 100);
    expect(cache.get('a')).toBe('A');
    now = 100;
    expect(cache.get('a')).toBeUndefined();
    expect(cache.size).toBe(0);

    for (const key of ['b', 'c', 'd', 'e', 'f']) cache.set(key, key.toUpperCase(), 1_000);
    expect(cache.size).toBe(3);
    expect([cache.get('b'), cache.get('c'), cache.get('d'), cache.get('f')]).toEqual([undefined, undefined, 'D', 'F']);

    // Expired entries at the front go on the next insert even below the limit.
    now = 2_000;
    cache.set('g', 'G', 3_000);
    expect(cache.size).toBe(1);
  });

  test('API keys: concurrent requests with one key make one lookup; unknown key ids cannot grow memory without bound', async () => {
    const key = newApiKey('team-a');
    let lookups = 0;
    const table = {
      get: async (keyId: string) => {
        lookups++;
        await new Promise((r) => setTimeout(r, 10));
        return keyId === key.record.keyId ? key.record : undefined;
      },
    };
    const auth = new ApiKeyAuthenticator(table, 30);
    const results = await Promise.all(Array.from({ length: 20 }, () => auth.authenticate(key.key)));
    expect(results.every((r) => r?.caller === 'team-a')).toBe(true);
    expect(lookups).toBe(1);

    const strangers = Array.from({ length: 10_050 }, (_, i) => `cnllm_${i.toString(36).padStart(12, '0')}_${'x'.repeat(43)}`);
    const open = new ApiKeyAuthenticator({ get: async () => undefined }, 30);
    for (const bearer of strangers) expect(await open.authenticate(bearer)).toBeUndefined();
    expect((open as unknown as { cache: ExpiringCache<unknown> }).cache.size).toBe(10_000);
  });
});
