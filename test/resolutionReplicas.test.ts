import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase } from './support/testDatabase.ts';
import { spawnDaemon } from './support/daemonProcess.ts';
import { waitFor } from './support/testDaemon.ts';
import { startAirflowStandIn } from './support/airflowStandIn.ts';

const TOKEN = 'resolution-replicas-admin-token';
let airflow: Awaited<ReturnType<typeof startAirflowStandIn>>;

beforeAll(async () => { airflow = await startAirflowStandIn(); });
afterAll(async () => { await airflow?.close(); });

async function withDatabase(label: string, work: (url: string, client: pg.Client) => Promise<void>) {
  const database = await createTestDatabase(label);
  const client = new pg.Client({ connectionString: database.url });
  await client.connect();
  try {
    await work(database.url, client);
  } finally {
    await client.end();
    await database.drop();
  }
}

const env = (url: string, extra: Record<string, string>) => ({
  DATABASE_URL: url, MEDIC_ADMIN_TOKEN: TOKEN, MEDIC_SLA_MONITOR: 'off', ...airflow.env,
  MEDIC_RESOLVER_POLL_MS: '100', MEDIC_RESOLVER_BACKOFF_JITTER_PCT: '0', MEDIC_RESOLVER_RECOVERY_TIMEOUT_MS: '600000', ...extra,
});

async function sendFailure(baseUrl: string, table: string, runId: string) {
  const response = await fetch(`${baseUrl}/v1/signals/airflow`, {
    method: 'POST', headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' },
    body: JSON.stringify({ event: 'failure', dag_id: `dag_${table.replace(/\W/g, '_')}`, task_id: 'load', run_id: runId, try_number: 1, airflow: 'main', tables: [table], exception: { type: 'airflow.exceptions.AirflowException', message: 'Task received SIGTERM signal' } }),
  });
  expect(response.status).toBe(202);
}

const clearsOf = (runId: string) => airflow.clears.filter((c) => c.body.dag_run_id === runId);

describe('resolution attempts survive crashes and replicas, each made once', () => {
  it('a job scheduled before a kill -9 is attempted once after the restart', async () => {
    await withDatabase('resolve_restart', async (url, client) => {
      const first = await spawnDaemon(env(url, { MEDIC_RESOLVER_BACKOFF_BASE_MS: '3000' }));
      await sendFailure(first.url, 'lake.crash_before', 'manual__crash_before');
      await waitFor(async () => (await client.query(`SELECT 1 FROM resolution_jobs WHERE state = 'scheduled'`)).rowCount === 1, 15_000, 'the scheduled job');
      first.child.kill('SIGKILL');
      await first.exited;
      expect(clearsOf('manual__crash_before')).toHaveLength(0);
      const second = await spawnDaemon(env(url, { MEDIC_RESOLVER_BACKOFF_BASE_MS: '3000' }));
      try {
        await waitFor(async () => clearsOf('manual__crash_before').length > 0, 20_000, 'the attempt');
        await new Promise((r) => setTimeout(r, 1500));
        expect(clearsOf('manual__crash_before')).toHaveLength(1);
        const attempts = (await client.query('SELECT attempt, outcome FROM resolution_attempts')).rows;
        expect(attempts).toEqual([{ attempt: 1, outcome: 'retriggered' }]);
      } finally {
        second.child.kill('SIGTERM');
        await second.exited;
      }
    });
  }, 90_000);

  it('an attempt cut off by a kill -9 mid-call is never made again: it is counted as unknown and the next attempt follows the backoff', async () => {
    await withDatabase('resolve_midcall', async (url, client) => {
      airflow.state.delayMs = 4000;
      const first = await spawnDaemon(env(url, { MEDIC_RESOLVER_BACKOFF_BASE_MS: '0', MEDIC_RESOLVER_LEASE_S: '2' }));
      try {
        await sendFailure(first.url, 'lake.crash_during', 'manual__crash_during');
        await waitFor(async () => clearsOf('manual__crash_during').length === 1, 15_000, 'the call in flight');
      } finally {
        first.child.kill('SIGKILL');
        await first.exited;
        airflow.state.delayMs = 0;
      }
      const second = await spawnDaemon(env(url, { MEDIC_RESOLVER_BACKOFF_BASE_MS: '500', MEDIC_RESOLVER_LEASE_S: '2' }));
      try {
        await waitFor(async () => (await client.query(`SELECT 1 FROM resolution_attempts WHERE outcome = 'retriggered'`)).rowCount === 1, 20_000, 'the next attempt');
        const attempts = (await client.query('SELECT attempt, outcome FROM resolution_attempts ORDER BY attempt')).rows;
        expect(attempts).toEqual([{ attempt: 1, outcome: 'unknown' }, { attempt: 2, outcome: 'retriggered' }]);
        // One Airflow call per attempt row: attempt 1 was not repeated.
        expect(clearsOf('manual__crash_during')).toHaveLength(2);
      } finally {
        second.child.kill('SIGTERM');
        await second.exited;
      }
    });
  }, 90_000);

  it('two daemon processes make every attempt exactly once', async () => {
    await withDatabase('resolve_two', async (url, client) => {
      const extra = { MEDIC_RESOLVER_BACKOFF_BASE_MS: '1500' };
      const processes = await Promise.all([spawnDaemon(env(url, extra)), spawnDaemon(env(url, extra))]);
      try {
        const runs = Array.from({ length: 20 }, (_, i) => `manual__two_${i}`);
        await Promise.all(runs.map((runId, i) => sendFailure(processes[i % 2]!.url, `lake.two_${i}`, runId)));
        await waitFor(async () => (await client.query(`SELECT 1 FROM resolution_jobs WHERE state = 'waiting_recovery'`)).rowCount === 20, 30_000, '20 re-triggered jobs');
        await new Promise((r) => setTimeout(r, 1000));
        expect(runs.map((runId) => clearsOf(runId).length)).toEqual(runs.map(() => 1));
        const perJob = (await client.query('SELECT count(*)::int AS n FROM resolution_attempts GROUP BY job_id')).rows;
        expect(perJob).toHaveLength(20);
        expect(perJob.every((r) => r.n === 1)).toBe(true);
      } finally {
        for (const p of processes) p.child.kill('SIGTERM');
        await Promise.all(processes.map((p) => p.exited));
      }
    });
  }, 90_000);
});
