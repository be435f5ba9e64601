import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { createTestDatabase } from './support/testDatabase.ts';
import { spawnDaemon } from './support/daemonProcess.ts';
import { waitFor } from './support/testDaemon.ts';

const TOKEN = 'restart-test-admin-token-0001';
const SIGNALS = 200;

let database: Awaited<ReturnType<typeof createTestDatabase>>;
let client: pg.Client;

beforeAll(async () => {
  database = await createTestDatabase('restart');
  client = new pg.Client({ connectionString: database.url });
  await client.connect();
});

afterAll(async () => {
  await client?.end();
  await database?.drop();
});

async function send(url: string, i: number) {
  const response = await fetch(`${url}/v1/signals/airflow`, {
    method: 'POST',
    headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' },
    body: JSON.stringify({
      event: 'failure', dag_id: `dag_${i % 20}`, task_id: 'load', run_id: `manual__${i}`, try_number: 1,
      exception: { type: 'psycopg2.OperationalError', message: 'could not connect to server: Connection refused' },
      tables: [`lake.t${i % 20}`],
    }),
  });
  return response.status;
}

describe('restart: signals accepted before a kill -9 are diagnosed after the next start, exactly once', () => {
  it(`accepts ${SIGNALS} signals, dies mid-diagnosis, and the next process finishes the job`, async () => {
    // Slow, single-file diagnosis in the first process so the kill lands before it is done.
    const env = { DATABASE_URL: database.url, MEDIC_ADMIN_TOKEN: TOKEN, MEDIC_DIAGNOSIS_CONCURRENCY: '1', MEDIC_DIAGNOSIS_LEASE_S: '2', MEDIC_DIAGNOSIS_POLL_MS: '50', MEDIC_HOME: await fs.mkdtemp(path.join(os.tmpdir(), 'medic-restart-')) };
    const first = await spawnDaemon(env);
    const statuses: number[] = [];
    for (let batch = 0; batch < SIGNALS; batch += 50) {
      statuses.push(...(await Promise.all(Array.from({ length: 50 }, (_, k) => send(first.url, batch + k)))));
    }
    first.child.kill('SIGKILL');
    await first.exited;
    expect(statuses.filter((s) => s === 202)).toHaveLength(SIGNALS);

    const atKill = (await client.query('SELECT count(*)::int AS n FROM rca_records')).rows[0].n as number;
    // The kill must have interrupted diagnosis, or this test proves nothing.
    expect(atKill).toBeLessThan(SIGNALS);
    console.info(`restart test: ${atKill} of ${SIGNALS} signals diagnosed when the first process was killed`);

    const second = await spawnDaemon({ ...env, MEDIC_DIAGNOSIS_CONCURRENCY: '16' });
    try {
      await waitFor(async () => (await client.query('SELECT count(*)::int AS n FROM signals WHERE diagnosed_at IS NULL')).rows[0].n === 0, 30_000, 'every signal diagnosed');
      const perSignal = await client.query(`
        SELECT s.id, count(r.id)::int AS rcas FROM signals s LEFT JOIN rca_records r ON r.signal_id = s.id GROUP BY s.id`);
      expect(perSignal.rows).toHaveLength(SIGNALS);
      expect(perSignal.rows.filter((r) => r.rcas !== 1)).toEqual([]);
      const health = await client.query(`SELECT count(*)::int AS n FROM table_health WHERE status = 'unhealthy'`);
      expect(health.rows[0].n).toBe(20);
    } finally {
      second.child.kill('SIGTERM');
      expect(await second.exited).toBe(0);
    }
  });
});
