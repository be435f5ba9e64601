import { randomUUID } from 'node:crypto';
import { and, eq, gte, inArray, ne, sql } from 'drizzle-orm';
import type { Db, Tx } from '../../db/client.ts';
import { catalogTables, healthEvents, rcaActions, rcaRecords, resolutionJobs, signals, tableHealth } from '../../db/schema.ts';
import { ACTIVE_JOB_STATES, OPEN_RCA_STATUSES } from '../../db/healthWriter.ts';
import { rowToSignal } from '../../signals/signalStore.ts';
import { pipelineParams } from './airflowRetrigger.ts';
import type { CatalogTable } from '../../catalog/types.ts';

export const ACTIONS = ['retry', 'acknowledge', 'resolve', 'escalate'] as const;
export type RcaAction = (typeof ACTIONS)[number];

export type ActionOutcome =
  | { ok: true; changed: boolean; status: string; message: string }
  | { ok: false; httpStatus: 404 | 409 | 422 | 429; code: string; message: string; retryAfterS?: number };

/**
 * The one-click actions of DESIGN 8 (operator role). Idempotent: repeating an action that
 * already took effect changes nothing and says so. Guarded: a retry never starts a second
 * re-trigger of a run while one is in flight, and retries per table are rate-limited. Every
 * action that changes something is audited with who and when (`rca_actions`).
 */
export async function performAction(db: Db, input: { rcaId: string; action: RcaAction; actor: string; manualRetriesPer10Min: number }): Promise<ActionOutcome> {
  return db.transaction(async (tx) => {
    const [rca] = await tx.select().from(rcaRecords).where(eq(rcaRecords.id, input.rcaId)).for('update');
    if (!rca) return { ok: false, httpStatus: 404, code: 'not_found', message: `no RCA record ${input.rcaId}` };
    const [job] = await tx.select().from(resolutionJobs).where(eq(resolutionJobs.rcaId, rca.id)).for('update');
    const now = new Date();
    const audit = (outcome: string, detail: Record<string, unknown> = {}) =>
      tx.insert(rcaActions).values({ id: randomUUID(), rcaId: rca.id, action: input.action, actor: input.actor, outcome, detail, at: now });
    const setStatus = (status: string, extra: Partial<typeof rcaRecords.$inferInsert> = {}) =>
      tx.update(rcaRecords).set({ status, updatedAt: now, ...extra }).where(eq(rcaRecords.id, rca.id));
    const cancelJob = async () => {
      if (job && (ACTIVE_JOB_STATES as readonly string[]).includes(job.state)) {
        await tx.update(resolutionJobs).set({ state: 'cancelled', finishedAt: now, lockedBy: null, lockedUntil: null, updatedAt: now }).where(eq(resolutionJobs.id, job.id));
      }
    };

    switch (input.action) {
      case 'acknowledge': {
        if (rca.status === 'acknowledged') return { ok: true, changed: false, status: rca.status, message: 'already acknowledged' };
        if (rca.status === 'resolved') return { ok: false, httpStatus: 409, code: 'already_resolved', message: 'the RCA is resolved; nothing to acknowledge' };
        // Acknowledging says "a person owns this now"; an automatic retry already under way may finish.
        await setStatus('acknowledged');
        await audit('applied', { from: rca.status });
        return { ok: true, changed: true, status: 'acknowledged', message: `acknowledged by ${input.actor}` };
      }
      case 'escalate': {
        if (rca.status === 'escalated') return { ok: true, changed: false, status: rca.status, message: 'already escalated' };
        if (rca.status === 'resolved') return { ok: false, httpStatus: 409, code: 'already_resolved', message: 'the RCA is resolved; nothing to escalate' };
        await cancelJob();
        await setStatus('escalated');
        await audit('applied', { from: rca.status, cancelled_job: job?.id ?? null });
        return { ok: true, changed: true, status: 'escalated', message: `escalated by ${input.actor}; automatic attempts stopped` };
      }
      case 'resolve': {
        if (rca.status === 'resolved') return { ok: true, changed: false, status: rca.status, message: 'already resolved' };
        await cancelJob();
        await setStatus('resolved', { resolvedAt: now });
        await audit('applied', { from: rca.status });
        await healthyIfNothingOpen(tx, rca.tableName, rca.id, `resolved by ${input.actor}`, now);
        return { ok: true, changed: true, status: 'resolved', message: `resolved by ${input.actor}` };
      }
      case 'retry':
        return retry(tx, { rca, job: job ?? null, actor: input.actor, limit: input.manualRetriesPer10Min, now, audit, setStatus });
    }
  });
}

async function retry(
  tx: Tx,
  input: {
    rca: typeof rcaRecords.$inferSelect; job: typeof resolutionJobs.$inferSelect | null; actor: string; limit: number; now: Date;
    audit: (outcome: string, detail?: Record<string, unknown>) => Promise<unknown>;
    setStatus: (status: string) => Promise<unknown>;
  },
): Promise<ActionOutcome> {
  const { rca, job, now } = input;
  if (rca.status === 'resolved') return { ok: false, httpStatus: 409, code: 'already_resolved', message: 'the RCA is resolved; there is nothing to retry' };
  if (job && (job.state === 'running' || job.state === 'waiting_recovery')) {
    return { ok: false, httpStatus: 409, code: 'retry_in_flight', message: `a re-trigger of this run is already in flight (job ${job.state}); wait for its outcome` };
  }
  if (job && job.state === 'scheduled' && job.runAt <= now) return { ok: true, changed: false, status: rca.status, message: 'a retry is already due' };
  const recent = await tx.select({ n: sql<number>`count(*)::int` }).from(rcaActions)
    .innerJoin(rcaRecords, eq(rcaRecords.id, rcaActions.rcaId))
    .where(and(eq(rcaRecords.tableName, rca.tableName), eq(rcaActions.action, 'retry'), eq(rcaActions.outcome, 'applied'), gte(rcaActions.at, new Date(now.getTime() - 600_000))));
  if ((recent[0]?.n ?? 0) >= input.limit) {
    await input.audit('rate_limited');
    return { ok: false, httpStatus: 429, code: 'rate_limited', message: `at most ${input.limit} manual retries per table per 10 minutes (MEDIC_MANUAL_RETRIES_PER_10_MIN)`, retryAfterS: 600 };
  }
  if (job) {
    // One more attempt, now, whatever state the job had ended in.
    await tx.update(resolutionJobs).set({
      state: 'scheduled', runAt: now, deadline: null, maxAttempts: Math.max(job.maxAttempts, job.attempts + 1),
      finishedAt: null, lockedBy: null, lockedUntil: null, updatedAt: now,
    }).where(eq(resolutionJobs.id, job.id));
  } else {
    const [signalRow] = await tx.select().from(signals).where(eq(signals.id, rca.signalId));
    const [catalogRow] = await tx.select().from(catalogTables).where(eq(catalogTables.name, rca.tableName));
    const params = signalRow ? pipelineParams(rowToSignal(signalRow), catalogRow ? { name: catalogRow.name, pipeline: catalogRow.pipeline as CatalogTable['pipeline'] } : null) : null;
    if (!params) return { ok: false, httpStatus: 422, code: 'nothing_to_retry', message: 'the signal names no Airflow DAG, run and task to re-trigger' };
    // An operator may retry what Medic would never retry by itself: they know the cause is fixed.
    const [active] = await tx.select({ rcaId: resolutionJobs.rcaId }).from(resolutionJobs)
      .where(and(inArray(resolutionJobs.state, [...ACTIVE_JOB_STATES]), ne(resolutionJobs.rcaId, rca.id), sql`${resolutionJobs.params}->>'dag_id' = ${String(params.dag_id)}`, sql`${resolutionJobs.params}->>'run_id' = ${String(params.run_id)}`)).limit(1);
    if (active) return { ok: false, httpStatus: 409, code: 'retry_in_flight', message: `RCA ${active.rcaId} already has a re-trigger of this run in flight` };
    await tx.insert(resolutionJobs).values({
      id: randomUUID(), rcaId: rca.id, tableName: rca.tableName, resolver: 'retry-with-backoff', state: 'scheduled', attempts: 0, maxAttempts: 1,
      runAt: now, params: { ...params, only_failed: true, requested_by: input.actor }, createdAt: now, updatedAt: now,
    });
    await tx.update(rcaRecords).set({ autoResolution: { resolver: 'retry-with-backoff', max_attempts: 1, requested_by: input.actor } }).where(eq(rcaRecords.id, rca.id));
  }
  await input.setStatus('resolving');
  await input.audit('applied', { job: job?.id ?? 'created' });
  return { ok: true, changed: true, status: 'resolving', message: `retry requested by ${input.actor}; the run is re-triggered within seconds` };
}

/** A manually resolved RCA makes its table healthy when nothing else about it is open. */
async function healthyIfNothingOpen(tx: Tx, table: string, rcaId: string, reason: string, now: Date): Promise<void> {
  const [open] = await tx.select({ id: rcaRecords.id }).from(rcaRecords)
    .where(and(eq(rcaRecords.tableName, table), inArray(rcaRecords.status, [...OPEN_RCA_STATUSES]))).limit(1);
  if (open) return;
  const [health] = await tx.select().from(tableHealth).where(eq(tableHealth.tableName, table)).for('update');
  if (!health || health.status === 'healthy') return;
  await tx.update(tableHealth).set({ status: 'healthy', since: now, lastCheckedAt: now, rcaId: null }).where(eq(tableHealth.tableName, table));
  await tx.insert(healthEvents).values({ tableName: table, oldStatus: health.status, newStatus: 'healthy', rcaId, signalId: null, reason, at: now });
}
