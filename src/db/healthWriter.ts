import { randomUUID } from 'node:crypto';
import { and, eq, inArray, lte, sql } from 'drizzle-orm';
import type { Db, Tx } from './client.ts';
import { healthEvents, rcaRecords, resolutionJobs, signals, tableHealth } from './schema.ts';
import type { PlannedResolution } from '../resolvers/engine/planResolution.ts';
import type { Signal } from '../signals/types.ts';
import type { Diagnosis } from '../diagnosers/buildDiagnosis.ts';


export type HealthStatus = 'healthy' | 'degraded' | 'unhealthy' | 'unknown';
/** RCA statuses that still need someone (or a resolver) to act. */
export const OPEN_RCA_STATUSES = ['open', 'resolving', 'acknowledged', 'escalated'] as const;

/** What a diagnosis did, for the caller's logs and metrics. */
export type WriteOutcome =
  | { applied: false }
  | { applied: true; rcaId: string | null; oldStatus: HealthStatus; newStatus: HealthStatus; superseded: boolean };

/**
 * Marks the signal diagnosed, unless some other process already did: the guard that makes
 * diagnosis exactly-once even when a lease ran out and two processes worked on one signal.
 */
async function claimDiagnosed(tx: Tx, signalId: string): Promise<boolean> {
  const rows = await tx.update(signals)
    .set({ diagnosedAt: new Date(), claimedBy: null, claimedUntil: null, lastError: null })
    .where(and(eq(signals.id, signalId), sql`${signals.diagnosedAt} IS NULL`))
    .returning({ id: signals.id });
  return rows.length === 1;
}

/** The table's health row, created as `unknown` when first heard of, locked for this transaction. */
async function lockHealth(tx: Tx, table: string, now: Date) {
  await tx.insert(tableHealth).values({ tableName: table, status: 'unknown', since: now, lastCheckedAt: now }).onConflictDoNothing();
  const [row] = await tx.select().from(tableHealth).where(eq(tableHealth.tableName, table)).for('update');
  return row!;
}

async function setHealth(tx: Tx, table: string, current: { status: string; since: Date }, next: { status: HealthStatus; rcaId: string | null; lastSuccessAt?: Date; signalId: string; reason: string }, now: Date) {
  const changed = current.status !== next.status;
  await tx.update(tableHealth).set({
    status: next.status,
    since: changed ? now : current.since,
    lastCheckedAt: now,
    rcaId: next.rcaId,
    ...(next.lastSuccessAt ? { lastSuccessAt: next.lastSuccessAt } : {}),
  }).where(eq(tableHealth.tableName, table));
  if (changed) {
    await tx.insert(healthEvents).values({ tableName: table, oldStatus: current.status, newStatus: next.status, rcaId: next.rcaId, signalId: next.signalId, reason: next.reason, at: now });
  }
}

/**
 * Writes a failure-type diagnosis in one transaction: the RCA record, the table's health and
 * its health event. A failure older than the table's latest success is recorded, but as
 * already resolved, and leaves the health alone: the table recovered after it.
 */
export async function recordDiagnosis(db: Db, signal: Signal, diagnosis: Diagnosis, resolution: PlannedResolution | null): Promise<WriteOutcome> {
  return db.transaction(async (tx) => {
    if (!(await claimDiagnosed(tx, signal.id))) return { applied: false } as const;
    const now = new Date();
    const health = await lockHealth(tx, signal.table, now);
    const superseded = health.lastSuccessAt !== null && health.lastSuccessAt >= signal.occurredAt;
    const rcaId = randomUUID();
    const job = superseded || !resolution ? null : await scheduleJob(tx, { rcaId, table: signal.table, resolution, now });
    await tx.insert(rcaRecords).values({
      id: rcaId,
      tableName: signal.table,
      signalId: signal.id,
      signalIds: [signal.id],
      incidentId: diagnosis.incidentId,
      status: superseded ? 'resolved' : job?.scheduled ? 'resolving' : 'open',
      category: diagnosis.category,
      summary: diagnosis.summary,
      confidence: diagnosis.confidence,
      assigneeTeam: diagnosis.assignee.team,
      assigneeRole: diagnosis.assignee.role,
      assigneeReason: diagnosis.assignee.reason,
      autoResolution: job?.autoResolution ?? null,
      manualSteps: diagnosis.manualSteps,
      evidence: diagnosis.evidence,
      createdAt: now,
      updatedAt: now,
      resolvedAt: superseded ? now : null,
    });
    const oldStatus = health.status as HealthStatus;
    if (superseded) {
      await tx.update(tableHealth).set({ lastCheckedAt: now }).where(eq(tableHealth.tableName, signal.table));
      return { applied: true, rcaId, oldStatus, newStatus: oldStatus, superseded } as const;
    }
    const newStatus = statusAfter(signal);
    // A table already unhealthy stays unhealthy when a retry (degraded) arrives for it.
    const effective: HealthStatus = oldStatus === 'unhealthy' && newStatus === 'degraded' ? 'unhealthy' : newStatus;
    await setHealth(tx, signal.table, health, { status: effective, rcaId, signalId: signal.id, reason: `${diagnosis.category}: ${diagnosis.summary}` }, now);
    return { applied: true, rcaId, oldStatus, newStatus: effective, superseded } as const;
  });
}

/**
 * Creates the resolution job of a new RCA in the diagnosis transaction — unless a job that will
 * re-trigger the same Airflow run is already active (never two re-triggers of one run in
 * flight); then the RCA points at the RCA whose job covers it.
 */
async function scheduleJob(tx: Tx, input: { rcaId: string; table: string; resolution: PlannedResolution; now: Date }) {
  const { resolution, now } = input;
  const { dag_id: dagId, run_id: runId } = resolution.plan.params as { dag_id?: string; run_id?: string };
  if (dagId && runId) {
    const [active] = await tx.select({ rcaId: resolutionJobs.rcaId }).from(resolutionJobs)
      .where(and(inArray(resolutionJobs.state, [...ACTIVE_JOB_STATES]), sql`${resolutionJobs.params}->>'dag_id' = ${dagId}`, sql`${resolutionJobs.params}->>'run_id' = ${runId}`))
      .limit(1);
    if (active) return { scheduled: false, autoResolution: { resolver: resolution.resolver, state: 'covered', covered_by_rca: active.rcaId } };
  }
  await tx.insert(resolutionJobs).values({
    id: randomUUID(), rcaId: input.rcaId, tableName: input.table, resolver: resolution.resolver, state: 'scheduled',
    attempts: 0, maxAttempts: resolution.plan.maxAttempts, runAt: new Date(now.getTime() + resolution.plan.firstAttemptInMs),
    deadline: resolution.plan.waitUpToMs ? new Date(now.getTime() + resolution.plan.waitUpToMs) : null,
    params: resolution.plan.params, createdAt: now, updatedAt: now,
  });
  return { scheduled: true, autoResolution: { resolver: resolution.resolver, max_attempts: resolution.plan.maxAttempts } };
}

/** Job states in which the job may still act on its run. */
export const ACTIVE_JOB_STATES = ['scheduled', 'running', 'waiting_recovery'] as const;

/**
 * A failure makes a table unhealthy; a retry (Airflow will run the task again), an SLA miss
 * or a warn-level DQ failure make it degraded (DESIGN 6).
 */
export function statusAfter(signal: Signal): HealthStatus {
  if (signal.kind === 'failure') return signal.event === 'retry' ? 'degraded' : 'unhealthy';
  if (signal.kind === 'dq_failure') return signal.payload.severity === 'warn' ? 'degraded' : 'unhealthy';
  if (signal.kind === 'sla_miss') return 'degraded';
  return 'healthy';
}

/**
 * A success resolves every open RCA of the table that it post-dates, and makes the table
 * healthy when nothing is left open.
 */
export async function applySuccess(db: Db, signal: Signal): Promise<WriteOutcome> {
  return db.transaction(async (tx) => {
    if (!(await claimDiagnosed(tx, signal.id))) return { applied: false } as const;
    const now = new Date();
    const health = await lockHealth(tx, signal.table, now);
    const earlierSignals = tx.select({ id: signals.id }).from(signals)
      .where(and(eq(signals.tableName, signal.table), lte(signals.occurredAt, signal.occurredAt)));
    const resolved = await tx.update(rcaRecords)
      .set({ status: 'resolved', resolvedAt: now, resolvedBySignal: signal.id, updatedAt: now })
      .where(and(eq(rcaRecords.tableName, signal.table), inArray(rcaRecords.status, [...OPEN_RCA_STATUSES]), inArray(rcaRecords.signalId, earlierSignals)))
      .returning({ id: rcaRecords.id });
    // Recovery confirmed: their resolution jobs are done (DESIGN 7).
    if (resolved.length > 0) {
      await tx.update(resolutionJobs).set({ state: 'recovered', finishedAt: now, updatedAt: now, lockedBy: null, lockedUntil: null })
        .where(and(inArray(resolutionJobs.rcaId, resolved.map((r) => r.id)), inArray(resolutionJobs.state, [...ACTIVE_JOB_STATES, 'exhausted'])));
    }
    const [stillOpen] = await tx.select({ id: rcaRecords.id }).from(rcaRecords)
      .where(and(eq(rcaRecords.tableName, signal.table), inArray(rcaRecords.status, [...OPEN_RCA_STATUSES])))
      .orderBy(sql`${rcaRecords.createdAt} DESC`).limit(1);
    const lastSuccessAt = health.lastSuccessAt && health.lastSuccessAt > signal.occurredAt ? health.lastSuccessAt : signal.occurredAt;
    const oldStatus = health.status as HealthStatus;
    if (stillOpen) {
      // A failure newer than this success is still open: the table is not healthy yet.
      await tx.update(tableHealth).set({ lastCheckedAt: now, lastSuccessAt }).where(eq(tableHealth.tableName, signal.table));
      return { applied: true, rcaId: null, oldStatus, newStatus: oldStatus, superseded: false } as const;
    }
    await setHealth(tx, signal.table, health, { status: 'healthy', rcaId: null, lastSuccessAt, signalId: signal.id, reason: `success: ${signal.pipeline.dag_id ?? ''}${signal.pipeline.task_id ? `.${signal.pipeline.task_id}` : ''} ${signal.pipeline.run_id ?? ''}`.trim() }, now);
    return { applied: true, rcaId: null, oldStatus, newStatus: 'healthy', superseded: false } as const;
  });
}

/** Onboarded tables appear in /v1/tables as `unknown` until the first signal about them. */
export async function ensureHealthRows(db: Db, tables: string[]): Promise<void> {
  if (tables.length === 0) return;
  const now = new Date();
  await db.insert(tableHealth).values(tables.map((t) => ({ tableName: t, status: 'unknown', since: now, lastCheckedAt: now }))).onConflictDoNothing();
}
