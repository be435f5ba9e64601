import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRateLimiter } from '../src/api/rateLimit.ts';
import { startTestDaemon, type TestDaemon } from './support/testDaemon.ts';
import { createToken } from '../src/api/tokens.ts';

describe('token bucket', () => {
  it('allows the burst, then one request per refill interval', () => {
    let t = 0;
    const limiter = createRateLimiter({ perMinute: 60, burst: 3, now: () => t });
    expect([limiter.take('a'), limiter.take('a'), limiter.take('a')]).toEqual([0, 0, 0]);
    expect(limiter.take('a')).toBe(1);
    expect(limiter.take('b')).toBe(0);
    t += 1000;
    expect(limiter.take('a')).toBe(0);
    expect(limiter.take('a')).toBe(1);
  });
});

describe('rate limit per token over HTTP', () => {
  let daemon: TestDaemon;
  beforeAll(async () => { daemon = await startTestDaemon('rate_limit', { MEDIC_RATE_LIMIT_PER_MIN: '60', MEDIC_SLA_MONITOR: 'off' }); });
  afterAll(async () => { await daemon?.close(); });

  it('answers 429 with Retry-After once a token spends its burst; other tokens are unaffected', async () => {
    const noisy = await createToken(daemon.database.db, 'noisy-script', 'reader');
    const quiet = await createToken(daemon.database.db, 'grafana', 'reader');
    const statuses: number[] = [];
    for (let i = 0; i < 12; i++) statuses.push((await daemon.call('GET', '/v1/tables', { token: noisy })).status);
    expect(statuses.slice(0, 10).every((s) => s === 200)).toBe(true);
    expect(statuses.slice(10)).toEqual([429, 429]);
    const limited = await fetch(`${daemon.url}/v1/tables`, { headers: { authorization: `Bearer ${noisy}` } });
    expect(limited.status).toBe(429);
    expect(Number(limited.headers.get('retry-after'))).toBeGreaterThan(0);
    expect((await limited.json()).error.message).toContain('noisy-script');
    expect((await daemon.call('GET', '/v1/tables', { token: quiet })).status).toBe(200);
    // Probes are not rate-limited: they carry no token.
    for (let i = 0; i < 15; i++) expect((await daemon.call('GET', '/healthz', { token: null })).status).toBe(200);
  });
});
