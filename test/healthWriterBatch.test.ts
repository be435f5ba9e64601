import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { applySuccess, recordDiagnoses, recordDiagnosis, type DiagnosisWrite } from '../src/db/healthWriter.ts';
import { storeSignals, type NewSignal } from '../src/signals/signalStore.ts';
import type { Signal } from '../src/signals/types.ts';
import type { Diagnosis } from '../src/diagnosers/buildDiagnosis.ts';
import { createTestDatabase } from './support/testDatabase.ts';

let database: Awaited<ReturnType<typeof createTestDatabase>>;
beforeAll(async () => { database = await createTestDatabase('health_writer_batch'); });
afterAll(async () => { await database?.drop(); });

const t = (minute: number) => new Date(Date.UTC(2026, 0, 1, 0, minute));

/** Stores one signal and returns it with its id. */
async function signal(table: string, event: 'failure' | 'retry' | 'success', minute: number): Promise<Signal> {
  const s: NewSignal = {
    kind: event === 'success' ? 'success' : 'failure', event, source: 'airflow', table,
    pipeline: { dag_id: 'dag', task_id: 'load', run_id: `run_${minute}` }, exception: event === 'success' ? null : { type: 'KeyError', message: 'x' },
    occurredAt: t(minute), receivedAt: new Date(), dedupeKey: `${table}/${event}/${minute}/${Math.random()}`, payload: {},
  };
  const { ids } = await storeSignals(database.db, [s]);
  return { ...s, id: ids[0]! };
}

const diagnosis = (summary: string): Diagnosis => ({
  category: 'code_error', summary, confidence: 0.9, assignee: { team: 'eng', role: 'pipeline_owner', reason: 'owner' },
  incidentId: `code_error:${summary}`, manualSteps: 'fix it', evidence: [], details: {}, inherited: false,
});

/** What a table ended up with: its health, its health events in order, its RCAs' statuses by summary. */
async function state(table: string) {
  const health = (await database.pool.query('SELECT status, rca_id FROM table_health WHERE table_name = $1', [table])).rows[0];
  const events = (await database.pool.query('SELECT old_status, new_status, reason FROM health_events WHERE table_name = $1 ORDER BY id', [table])).rows;
  const rcas = (await database.pool.query('SELECT id, summary, status FROM rca_records WHERE table_name = $1 ORDER BY summary', [table])).rows;
  const current = rcas.find((r) => r.id === health?.rca_id)?.summary ?? null;
  return { status: health?.status ?? null, current, events: events.map((e) => `${e.old_status}->${e.new_status} (${e.reason})`), rcas: rcas.map((r) => `${r.summary}:${r.status}`) };
}

/**
 * Table-driven: the same history written one diagnosis per transaction and as one batch must
 * leave the same health, health events and RCAs. `success` (a minute) is applied first.
 */
const cases: Array<{ name: string; success?: number; writes: Array<['failure' | 'retry', number]> }> = [
  { name: 'a failure, then a retry of another run: the table stays unhealthy, one event', writes: [['failure', 10], ['retry', 11]] },
  { name: 'a retry, then a failure: degraded, then unhealthy', writes: [['retry', 10], ['failure', 11]] },
  { name: 'a failure older than the last success is recorded resolved and leaves the health alone', success: 20, writes: [['failure', 10]] },
  { name: 'superseded and current failures mixed in one batch', success: 20, writes: [['failure', 10], ['failure', 30], ['retry', 5]] },
];

describe('recordDiagnoses', () => {
  it.each(cases)('$name: batch = one by one', async ({ name, success, writes }) => {
    const results: Record<'one' | 'batch', Awaited<ReturnType<typeof state>>> = {} as never;
    for (const mode of ['one', 'batch'] as const) {
      const table = `lake.${mode}_${cases.findIndex((c) => c.name === name)}`;
      if (success !== undefined) await applySuccess(database, await signal(table, 'success', success));
      const batch: DiagnosisWrite[] = [];
      for (const [event, minute] of writes) batch.push({ signal: await signal(table, event, minute), diagnosis: diagnosis(`${event}@${minute}`), resolution: null });
      if (mode === 'one') for (const w of batch) await recordDiagnosis(database, w.signal, w.diagnosis, w.resolution);
      else await recordDiagnoses(database, batch);
      results[mode] = await state(table);
    }
    expect(results.batch).toEqual(results.one);
    expect(results.batch.rcas).toHaveLength(writes.length);
  });

  it('applies a signal once: again in a later batch, or twice in one, it is reported not applied', async () => {
    const first = await signal('lake.once', 'failure', 1);
    const second = await signal('lake.once', 'failure', 2);
    const w1 = { signal: first, diagnosis: diagnosis('first'), resolution: null };
    const w2 = { signal: second, diagnosis: diagnosis('second'), resolution: null };
    expect((await recordDiagnoses(database, [w1])).map((o) => o.applied)).toEqual([true]);
    expect((await recordDiagnoses(database, [w1, w2, w2])).map((o) => o.applied)).toEqual([false, true, false]);
    expect((await state('lake.once')).rcas).toEqual(['first:open', 'second:open']);
  });
});
