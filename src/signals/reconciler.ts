import { and, eq, sql } from 'drizzle-orm';
import type { Logger } from 'pino';
import type { Database } from '../db/client.ts';
import { signals } from '../db/schema.ts';
import type { AirflowClient, TaskInstance } from '../clients/airflowClient.ts';
import { tablesForTask } from '../catalog/catalogStore.ts';
import { normaliseError } from '../errors.ts';
import { AdvisoryLeadership, schedulePeriodic } from './periodicJob.ts';
import { normaliseAirflowCallback } from './airflowSignal.ts';
import { storeSignals, type NewSignal } from './signalStore.ts';

/** Held during a pass, so two passes never overlap (a replica taking over mid-pass). */
const RECONCILER_LOCK = 7_304_119_003;
/** Held for as long as the replica reconciling lives: the others never run a period (DESIGN 3.6). */
const RECONCILER_LEADER_LOCK = 7_304_119_006;

/**
 * Airflow does not call on_failure_callback when a task is SIGKILLed or OOM-killed
 * (apache/airflow #60858). The reconciler asks each configured Airflow for task instances that
 * failed in the look-back window and stores a failure signal for each that Medic has no failure
 * signal for. Stateless: the window overlaps from one pass to the next, and the signal's dedupe
 * key — the same one the notifier's callback gets — makes a second find a no-op.
 */
export async function reconcileOnce(input: {
  database: Database;
  airflow: (name: string) => AirflowClient | null;
  instances: string[];
  now: Date;
  lookbackMs: number;
  log: Logger;
}): Promise<{ skipped: boolean; checked: number; created: NewSignal[]; errors: string[] }> {
  const client = await input.database.pool.connect();
  try {
    const locked = await client.query<{ locked: boolean }>('SELECT pg_try_advisory_lock($1) AS locked', [RECONCILER_LOCK]);
    if (!locked.rows[0]?.locked) return { skipped: true, checked: 0, created: [], errors: [] };
    try {
      const created: NewSignal[] = [];
      const errors: string[] = [];
      let checked = 0;
      for (const name of input.instances) {
        const airflow = input.airflow(name);
        if (!airflow) continue;
        let failed: TaskInstance[];
        try {
          failed = await airflow.failedTaskInstancesSince(new Date(input.now.getTime() - input.lookbackMs), input.now);
        } catch (error) {
          errors.push(normaliseError(error, `reconciling Airflow ${name}`).message);
          continue;
        }
        checked += failed.length;
        for (const ti of failed) {
          if (await hasFailureSignal(input.database, ti)) continue;
          const signal = await missingFailureSignal(input.database, name, ti, input.now);
          const stored = await storeSignals(input.database.db, signal);
          if (!stored.duplicate) created.push(...signal);
        }
      }
      return { skipped: false, checked, created, errors };
    } finally {
      await client.query('SELECT pg_advisory_unlock($1)', [RECONCILER_LOCK]);
    }
  } finally {
    client.release();
  }
}

/** Any failure signal for this try, however it came (callback, OpenLineage, an earlier pass). */
async function hasFailureSignal(database: Database, ti: TaskInstance): Promise<boolean> {
  const [row] = await database.db.select({ id: signals.id }).from(signals).where(and(
    eq(signals.kind, 'failure'),
    sql`${signals.pipeline}->>'dag_id' = ${ti.dagId}`,
    sql`${signals.pipeline}->>'task_id' = ${ti.taskId}`,
    sql`${signals.pipeline}->>'run_id' = ${ti.runId}`,
    sql`coalesce((${signals.pipeline}->>'try_number')::int, ${ti.tryNumber}) = ${ti.tryNumber}`,
  )).limit(1);
  return row !== undefined;
}

async function missingFailureSignal(database: Database, airflow: string, ti: TaskInstance, now: Date): Promise<NewSignal[]> {
  const body = {
    event: 'failure' as const,
    dag_id: ti.dagId, task_id: ti.taskId, run_id: ti.runId, map_index: ti.mapIndex, try_number: ti.tryNumber, max_tries: ti.maxTries,
    logical_date: ti.logicalDate?.toISOString() ?? null, start_date: ti.startDate?.toISOString() ?? null, end_date: ti.endDate?.toISOString() ?? null,
    duration_s: ti.durationS, operator: ti.operator, hostname: ti.hostname, pool: ti.pool, airflow,
    exception: {
      type: 'airflow.TaskInstanceFailedWithoutCallback',
      message: 'The task instance failed and no failure callback arrived: the task process was killed from outside (SIGKILL, the OOM killer, a lost worker). Found by the Medic reconciler.',
    },
    reconciled: true,
  };
  const signals = normaliseAirflowCallback(body, await tablesForTask(database.db, ti.dagId, ti.taskId), now);
  // Same dedupe key as the callback would have had, so a late callback is a duplicate, not a second signal.
  return signals.map((s) => ({ ...s, source: 'reconciler' }));
}

/** Runs `reconcileOnce` on a node-cron schedule; one replica per period, errors logged, never thrown. */
export function startReconciler(options: {
  database: Database; log: Logger; schedule: string; lookbackMs: number; instances: string[];
  airflow: (name: string) => AirflowClient | null; onCreated: () => void;
}): { stop(): Promise<void> } {
  const log = options.log.child({ component: 'reconciler' });
  return schedulePeriodic('reconciler', options.schedule, log, async () => {
    const result = await reconcileOnce({ ...options, now: new Date(), log });
    for (const error of result.errors) log.warn({ error }, 'could not ask Airflow for failed task instances; next period retries');
    for (const s of result.created) log.info({ table: s.table, dag_id: s.pipeline.dag_id, task_id: s.pipeline.task_id, run_id: s.pipeline.run_id }, 'failed task with no callback found: failure signal created');
    if (result.created.length > 0) options.onCreated();
  }, new AdvisoryLeadership(options.database.pool, RECONCILER_LEADER_LOCK));
}
