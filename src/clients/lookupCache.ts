/**
 * Shares identical external look-ups across concurrent diagnoses (DESIGN 5): when a source
 * database dies and 300 pipelines fail at once, it is probed a handful of times, not 300.
 * Concurrent callers of one key share the one in-flight promise (coalescing); a settled result
 * is reused for `ttlMs`. Failures are cached too — "unreachable" is the answer a surge needs
 * to share — but for the TTL only.
 */
export interface LookupCache {
  get<T>(key: string, ttlMs: number, load: () => Promise<T>): Promise<T>;
}

interface Entry { promise: Promise<unknown>; expiresAt: number }

export function createLookupCache(options: { maxEntries?: number; now?: () => number } = {}): LookupCache & { size(): number } {
  const entries = new Map<string, Entry>();
  // Large enough for a surge over thousands of pipelines (a few keys each); expired entries go first.
  const maxEntries = options.maxEntries ?? 200_000;
  const now = options.now ?? Date.now;
  return {
    get<T>(key: string, ttlMs: number, load: () => Promise<T>): Promise<T> {
      const t = now();
      const hit = entries.get(key);
      if (hit && hit.expiresAt > t) return hit.promise as Promise<T>;
      if (hit) entries.delete(key);
      // Expired answers are dropped as they age out, not only when the map is full: most keys
      // (one per failing run) are never asked again, and holding each for the life of the
      // process grew the daemon's heap by hundreds of MB. Insertion order is roughly expiry
      // order, so the sweep stops at the first live entry: amortised O(1) per insert.
      for (const [k, e] of entries) {
        if (e.expiresAt > t) break;
        entries.delete(k);
      }
      // Bounded: drop what has expired, then, if still full, the oldest insertions (Map keeps insertion order).
      if (entries.size >= maxEntries) {
        for (const [k, e] of entries) if (e.expiresAt <= t) entries.delete(k);
        while (entries.size >= maxEntries) entries.delete(entries.keys().next().value!);
      }
      const entry: Entry = { promise: Promise.resolve().then(load), expiresAt: Number.POSITIVE_INFINITY };
      entries.set(key, entry);
      // The TTL starts when the look-up settles, so a slow probe is not repeated while in flight.
      entry.promise.then(
        () => { entry.expiresAt = now() + ttlMs; },
        () => { entry.expiresAt = now() + ttlMs; },
      );
      return entry.promise as Promise<T>;
    },
    size: () => entries.size,
  };
}

/** Stops waiting when `signal` aborts, without cancelling the (possibly shared) work itself: one caller running out
 * of time must not fail the answer every other caller of the same look-up is waiting for. */
export function untilAborted<T>(work: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) return Promise.reject(signal.reason instanceof Error ? signal.reason : new Error('aborted'));
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(signal.reason instanceof Error ? signal.reason : new Error('aborted'));
    signal.addEventListener('abort', onAbort, { once: true });
    work.then(
      (value) => { signal.removeEventListener('abort', onAbort); resolve(value); },
      (error: unknown) => { signal.removeEventListener('abort', onAbort); reject(error); },
    );
  });
}
