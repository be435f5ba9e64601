/**
 * A token bucket per API token: `perMinute` requests a minute on average, bursts up to
 * `burst`. Kept in memory, per process: with N replicas a token gets up to N× the limit, which
 * is fine for its purpose — one runaway script must not starve everyone else's requests.
 */
export function createRateLimiter(options: { perMinute: number; burst: number; now?: () => number }) {
  const now = options.now ?? Date.now;
  const refillPerMs = options.perMinute / 60_000;
  const buckets = new Map<string, { tokens: number; at: number }>();
  return {
    /** Takes one request from `key`'s bucket; returns 0 when allowed, else the seconds to wait. */
    take(key: string): number {
      const t = now();
      const bucket = buckets.get(key) ?? { tokens: options.burst, at: t };
      bucket.tokens = Math.min(options.burst, bucket.tokens + (t - bucket.at) * refillPerMs);
      bucket.at = t;
      buckets.set(key, bucket);
      if (bucket.tokens >= 1) {
        bucket.tokens -= 1;
        return 0;
      }
      return Math.ceil((1 - bucket.tokens) / refillPerMs / 1000);
    },
  };
}
