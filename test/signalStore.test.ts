import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { storeSignals, STORE_CHUNK_ROWS, type NewSignal } from '../src/signals/signalStore.ts';
import { isDatabaseUnavailable } from '../src/api/errors.ts';
import { createTestDatabase } from './support/testDatabase.ts';

let database: Awaited<ReturnType<typeof createTestDatabase>>;
beforeAll(async () => { database = await createTestDatabase('signal_store'); });
afterAll(async () => { await database?.drop(); });

const signal = (i: number, key = `k/${i}`): NewSignal => ({
  kind: 'dq_failure', event: null, source: 'kafka', table: `lake.t${i % 7}`, pipeline: {}, exception: null,
  occurredAt: new Date(), receivedAt: new Date(), dedupeKey: key, payload: { i },
});

describe('storeSignals', () => {
  it('stores a batch far larger than one statement can bind (7,500 rows), with duplicates inside it', async () => {
    const batch = Array.from({ length: 7500 }, (_, i) => signal(i));
    batch.push(signal(1, 'k/1'), signal(7000, 'k/7000'));
    const result = await storeSignals(database.db, batch);
    expect(STORE_CHUNK_ROWS * 11).toBeLessThan(65_535);
    expect(result.inserted).toBe(7500);
    expect(result.ids).toHaveLength(7502);
    expect(result.ids[7500]).toBe(result.ids[1]);
    expect(result.ids[7501]).toBe(result.ids[7000]);
    expect((await database.pool.query('SELECT count(*)::int AS n FROM signals')).rows[0].n).toBe(7500);
    const again = await storeSignals(database.db, batch.slice(0, 10));
    expect(again).toMatchObject({ duplicate: true, inserted: 0 });
  });

  it('does not take a protocol violation for the database being down (it would be retried forever)', () => {
    expect(isDatabaseUnavailable({ code: '08P01' })).toBe(false);
    expect(isDatabaseUnavailable({ code: '08006' })).toBe(true);
    expect(isDatabaseUnavailable({ code: '57P01' })).toBe(true);
    expect(isDatabaseUnavailable(new Error('x', { cause: { code: 'ECONNREFUSED' } }))).toBe(true);
  });
});
