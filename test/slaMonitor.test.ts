import pino from 'pino';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runSlaCheck } from '../src/signals/slaMonitor.ts';
import { lastPassedDeadline } from '../src/catalog/slaSchedule.ts';
import { upsertTable } from '../src/catalog/catalogStore.ts';
import { storeSignals } from '../src/signals/signalStore.ts';
import { normaliseSlaMiss } from '../src/signals/kafkaEvents.ts';
import { createTestDatabase } from './support/testDatabase.ts';
import { spawnDaemon } from './support/daemonProcess.ts';
import { waitFor } from './support/testDaemon.ts';

const log = pino({ level: 'silent' });

describe('lastPassedDeadline', () => {
  it.each([
    ['hourly, 60 min, at 10:05', '0 * * * *', 60, '2026-11-27T10:05:00Z', '2026-11-27T09:00:00.000Z', '2026-11-27T10:00:00.000Z'],
    ['hourly, 60 min, exactly at the deadline', '0 * * * *', 60, '2026-11-27T10:00:00Z', '2026-11-27T09:00:00.000Z', '2026-11-27T10:00:00.000Z'],
    ['hourly, 60 min, a second before the deadline', '0 * * * *', 60, '2026-11-27T09:59:59Z', '2026-11-27T08:00:00.000Z', '2026-11-27T09:00:00.000Z'],
    ['daily 02:00, 3 h window, at 06:00', '0 2 * * *', 180, '2026-11-27T06:00:00Z', '2026-11-27T02:00:00.000Z', '2026-11-27T05:00:00.000Z'],
    ['daily 02:00, 3 h window, at 04:00', '0 2 * * *', 180, '2026-11-27T04:00:00Z', '2026-11-26T02:00:00.000Z', '2026-11-26T05:00:00.000Z'],
    ['every 15 min, 10 min window', '*/15 * * * *', 10, '2026-11-27T10:26:00Z', '2026-11-27T10:15:00.000Z', '2026-11-27T10:25:00.000Z'],
  ])('%s', (_name, schedule, minutes, now, tick, deadline) => {
    const passed = lastPassedDeadline({ schedule, complete_within_minutes: minutes }, new Date(now));
    expect(passed.tick.toISOString()).toBe(tick);
    expect(passed.deadline.toISOString()).toBe(deadline);
  });
});

describe('runSlaCheck against PostgreSQL', () => {
  let database: Awaited<ReturnType<typeof createTestDatabase>>;
  beforeAll(async () => { database = await createTestDatabase('sla_check'); });
  afterAll(async () => { await database?.drop(); });

  const at = (iso: string) => new Date(iso);
  async function onboard(name: string, createdAt: string) {
    await upsertTable(database.db, { name, owner: 'orders-eng', pipeline: { dag_id: `${name}_dag` }, sla: { schedule: '0 * * * *', complete_within_minutes: 60 } });
    await database.pool.query('UPDATE catalog_tables SET created_at = $2 WHERE name = $1', [name, createdAt]);
  }
  async function slaMisses(table: string) {
    return (await database.pool.query(`SELECT source, payload FROM signals WHERE table_name = $1 AND kind = 'sla_miss'`, [table])).rows;
  }
  async function success(table: string, occurred: string) {
    await storeSignals(database.db, [{ kind: 'success', event: 'success', source: 'airflow', table, pipeline: {}, exception: null, occurredAt: at(occurred), receivedAt: at(occurred), dedupeKey: `s/${table}/${occurred}`, payload: {} }]);
  }

  it('emits one sla_miss when the deadline passed with no success, and not again', async () => {
    await onboard('lake.sla_missed', '2026-11-26T00:00:00Z');
    const first = await runSlaCheck(database.db, at('2026-11-27T10:05:00Z'), log);
    expect(first.emitted.map((s) => s.table)).toContain('lake.sla_missed');
    const again = await runSlaCheck(database.db, at('2026-11-27T10:06:00Z'), log);
    expect(again.emitted.map((s) => s.table)).not.toContain('lake.sla_missed');
    const rows = await slaMisses('lake.sla_missed');
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({ source: 'sla-monitor', payload: { expected_by: '2026-11-27T10:00:00.000Z', sla_kind: 'completion', dag_id: 'lake.sla_missed_dag', producer: 'medic-sla-monitor' } });
    // The next hour's deadline is a new miss.
    await runSlaCheck(database.db, at('2026-11-27T11:01:00Z'), log);
    expect(await slaMisses('lake.sla_missed')).toHaveLength(2);
  });

  it('does not fire when a success landed after the schedule tick', async () => {
    await onboard('lake.sla_met', '2026-11-26T00:00:00Z');
    await success('lake.sla_met', '2026-11-27T09:40:00Z');
    await runSlaCheck(database.db, at('2026-11-27T10:05:00Z'), log);
    expect(await slaMisses('lake.sla_met')).toHaveLength(0);
  });

  it('does not duplicate an SLA miss an external producer already sent for that deadline', async () => {
    await onboard('lake.sla_external', '2026-11-26T00:00:00Z');
    await storeSignals(database.db, [normaliseSlaMiss({ id: 'ext-1', table: 'lake.sla_external', sla_kind: 'completion', expected_by: '2026-11-27T10:00:00+00:00', detected_at: '2026-11-27T10:00:30Z', producer: 'dq-platform' }, 'kafka', new Date())]);
    await runSlaCheck(database.db, at('2026-11-27T10:05:00Z'), log);
    expect((await slaMisses('lake.sla_external')).map((r) => r.source)).toEqual(['kafka']);
  });

  it('ignores deadlines from before the table was onboarded', async () => {
    await onboard('lake.sla_new', '2026-11-27T09:30:00Z');
    await runSlaCheck(database.db, at('2026-11-27T10:05:00Z'), log);
    expect(await slaMisses('lake.sla_new')).toHaveLength(0);
  });
});

describe('SLA monitor with two daemon processes', () => {
  it('fires once per missed deadline', async () => {
    const database = await createTestDatabase('sla_two');
    await upsertTable(database.db, { name: 'lake.sla_two', owner: 'orders-eng', sla: { schedule: '* * * * *', complete_within_minutes: 1 } });
    await database.pool.query(`UPDATE catalog_tables SET created_at = now() - interval '1 day'`);
    // Every second, so both processes run many periods inside one minute.
    const env = { DATABASE_URL: database.url, MEDIC_ADMIN_TOKEN: 'sla-two-admin-token-000', MEDIC_SLA_MONITOR_CRON: '* * * * * *', LOG_LEVEL: 'info' };
    const processes = await Promise.all([spawnDaemon(env), spawnDaemon(env)]);
    const client = new pg.Client({ connectionString: database.url });
    await client.connect();
    try {
      const misses = await waitFor(async () => {
        const rows = (await client.query(`SELECT payload->>'expected_by' AS expected_by FROM signals WHERE kind = 'sla_miss'`)).rows;
        return rows.length > 0 ? rows : null;
      }, 20_000, 'an sla_miss');
      await new Promise((r) => setTimeout(r, 4000));
      const rows = (await client.query(`SELECT payload->>'expected_by' AS expected_by, count(*)::int AS n FROM signals WHERE kind = 'sla_miss' GROUP BY 1`)).rows;
      expect(misses.length).toBeGreaterThan(0);
      // One deadline per minute passes; at most two may have passed during the test, each once.
      expect(rows.length).toBeLessThanOrEqual(2);
      expect(rows.every((r) => r.n === 1)).toBe(true);
      const emittedBy = processes.map((p) => (p.output().match(/sla_miss signal emitted/g) ?? []).length);
      expect(emittedBy[0]! + emittedBy[1]!).toBe(rows.length);
      // It is diagnosed like any signal.
      await waitFor(async () => (await client.query(`SELECT 1 FROM rca_records WHERE table_name = 'lake.sla_two'`)).rowCount! > 0, 20_000, 'its RCA');
    } finally {
      for (const p of processes) p.child.kill('SIGTERM');
      await Promise.all(processes.map((p) => p.exited));
      await client.end();
      await database.drop();
    }
  }, 120_000);
});
