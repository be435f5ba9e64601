import { describe, expect, it } from 'vitest';
import { createLookupCache } from '../src/clients/lookupCache.ts';

describe('lookup cache', () => {
  it('coalesces concurrent callers of one key into one load', async () => {
    const cache = createLookupCache();
    let loads = 0;
    const load = () => new Promise<number>((resolve) => { loads += 1; setTimeout(() => resolve(42), 20); });
    const answers = await Promise.all(Array.from({ length: 50 }, () => cache.get('k', 1000, load)));
    expect(answers.every((a) => a === 42)).toBe(true);
    expect(loads).toBe(1);
  });

  it('reuses a settled answer for the TTL, failures included, then loads again', async () => {
    let t = 0;
    const cache = createLookupCache({ now: () => t });
    let loads = 0;
    const failing = async () => { loads += 1; throw new Error('unreachable'); };
    await expect(cache.get('down', 100, failing)).rejects.toThrow('unreachable');
    await expect(cache.get('down', 100, failing)).rejects.toThrow('unreachable');
    expect(loads).toBe(1);
    t += 101;
    await expect(cache.get('down', 100, failing)).rejects.toThrow('unreachable');
    expect(loads).toBe(2);
  });

  it('lets expired answers go as new keys arrive, long before the bound is reached', async () => {
    let t = 0;
    const cache = createLookupCache({ now: () => t });
    for (let i = 0; i < 100; i++) await cache.get(`run-${i}`, 10, async () => i);
    expect(cache.size()).toBe(100);
    t = 11; // every one of them has expired
    await cache.get('fresh', 10, async () => 'x');
    expect(cache.size()).toBe(1);
  });

  it('stays bounded: expired entries go first, then the oldest', async () => {
    let t = 0;
    const cache = createLookupCache({ maxEntries: 3, now: () => t });
    await cache.get('a', 10, async () => 1);
    await cache.get('b', 1000, async () => 2);
    await cache.get('c', 1000, async () => 3);
    t = 50; // 'a' has expired
    await cache.get('d', 1000, async () => 4);
    expect(cache.size()).toBe(3);
    let reloaded = false;
    await cache.get('b', 1000, async () => { reloaded = true; return 2; });
    expect(reloaded).toBe(false);
    await cache.get('e', 1000, async () => 5);
    expect(cache.size()).toBe(3);
  });
});
