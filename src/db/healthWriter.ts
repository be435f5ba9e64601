import { randomUUID } from 'node:crypto';
import { and, eq, inArray, lte, sql } from 'drizzle-orm';
import { inTransaction, type Database, type Db, type Queryable } from './client.ts';
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
async function claimDiagnosed(tx: Queryable, signalId: string): Promise<boolean> {
  const rows = await tx.update(signals)
    .set({ diagnosedAt: new Date(), claimedBy: null, claimedUntil: null, lastError: null })
    .where(and(eq(signals.id, signalId), sql`${signals.diagnosedAt} IS NULL`))
    .returning({ id: signals.id });
  return rows.length === 1;
}

/** The table's health row, created as `unknown` when first heard of, locked for this transaction. */
async function lockHealth(tx: Queryable, table: string, now: Date) {
  await tx.insert(tableHealth).values({ tableName: table, status: 'unknown', since: now, lastCheckedAt: now }).onConflictDoNothing();
  const [row] = await tx.select().from(tableHealth).where(eq(tableHealth.tableName, table)).for('update');
  return row!;
}

async function setHealth(tx: Queryable, table: string, current: { status: string; since: Date }, next: { status: HealthStatus; rcaId: string | null; lastSuccessAt?: Date; signalId: string; reason: string }, now: Date) {
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
 * The batch form of {@link claimDiagnosed}: marks the signals diagnosed, except those another
 * process already did. Rows are locked in id order, so two processes claiming overlapping
 * batches (after a lease ran out) wait for each other rather than deadlock; the check runs on
 * the locked, newest version of each row.
 *
 * "Not diagnosed yet" is spelt with coalesce on purpose: as `diagnosed_at IS NULL` it matches
 * the predicate of signals_undiagnosed_idx, and with the statistics a surge leaves stale the
 * planner intersects the ids with a scan of that whole index (measured 47 ms for 250 signals
 * with 30,000 waiting, 4 ms through the primary key).
 */
async function claimDiagnosedBatch(tx: Queryable, signalIds: string[], now: Date): Promise<Set<string>> {
  const result = await tx.execute<{ id: string }>(sql`
    UPDATE ${signals} SET diagnosed_at = ${now.toISOString()}::timestamptz, claimed_by = NULL, claimed_until = NULL, last_error = NULL
    WHERE id = ANY(ARRAY(SELECT id FROM ${signals} WHERE id = ANY(${arrayLiteral(signalIds)}::uuid[]) ORDER BY id FOR UPDATE))
      AND coalesce(diagnosed_at, 'infinity') = 'infinity'
    RETURNING id`);
  return new Set(result.rows.map((r) => r.id));
}

interface LockedHealth {
  status: string;
  lastSuccessAt: Date | null;
  rcaId: string | null;
  /** Set when a diagnosis of this batch changed the status (the row's `since` is left alone otherwise). */
  changedAt?: Date;
  /** Set when a diagnosis of this batch (not a superseded one) became the table's current RCA. */
  rcaSet?: boolean;
}

/**
 * The batch form of {@link lockHealth}: rows are created as `unknown` when first heard of, and
 * every row is locked, new or not, in one pass in name order — so concurrent batches lock in
 * the same order and cannot deadlock. `DO UPDATE … WHERE false` locks an existing row without
 * writing a new version of it; the rows are read afterwards.
 */
async function lockHealthRows(tx: Queryable, tables: string[], now: Date): Promise<Map<string, LockedHealth>> {
  const sorted = [...new Set(tables)].sort();
  await tx.execute(sql`
    INSERT INTO ${tableHealth} (table_name, status, since, last_checked_at)
    SELECT t, 'unknown', ${now.toISOString()}::timestamptz, ${now.toISOString()}::timestamptz
    FROM unnest(${arrayLiteral(sorted)}::text[]) WITH ORDINALITY AS u(t, n) ORDER BY n
    ON CONFLICT (table_name) DO UPDATE SET table_name = excluded.table_name WHERE false`);
  const result = await tx.execute<Record<string, unknown>>(sql`
    SELECT table_name, status, last_success_at, rca_id FROM ${tableHealth} WHERE table_name = ANY(${arrayLiteral(sorted)}::text[])`);
  return new Map(result.rows.map((r) => [r.table_name as string, {
    status: r.status as string,
    lastSuccessAt: asDate(r.last_success_at),
    rcaId: (r.rca_id as string | null) ?? null,
  }]));
}

/** One failure-type diagnosis to store. */
export interface DiagnosisWrite {
  signal: Signal;
  diagnosis: Diagnosis;
  resolution: PlannedResolution | null;
}

/**
 * Writes a failure-type diagnosis in one transaction: the RCA record, the table's health and
 * its health event. A failure older than the table's latest success is recorded, but as
 * already resolved, and leaves the health alone: the table recovered after it.
 */
export async function recordDiagnosis(database: Database, signal: Signal, diagnosis: Diagnosis, resolution: PlannedResolution | null): Promise<WriteOutcome> {
  const [outcome] = await recordDiagnoses(database, [{ signal, diagnosis, resolution }]);
  return outcome!;
}

/**
 * Writes many failure-type diagnoses in one transaction, with the result of writing them one by
 * one in this order ({@link recordDiagnosis}): each table's health transitions are worked out
 * here, in order, on the locked rows; then every RCA record, health row and health event goes
 * to the database in one statement — six round trips per batch instead of eight per signal.
 * Returns one outcome per write, in order; a signal already diagnosed elsewhere is not applied.
 */
export async function recordDiagnoses(database: Database, writes: DiagnosisWrite[]): Promise<WriteOutcome[]> {
  if (writes.length === 0) return [];
  return inTransaction(database.pool, async (tx) => {
    const now = new Date();
    const claimed = await claimDiagnosedBatch(tx, writes.map((w) => w.signal.id), now);
    const outcomes: WriteOutcome[] = writes.map(() => ({ applied: false as const }));
    // `delete`: a signal listed twice is applied once, at its first place.
    const applicable = writes.flatMap((write, index) => (claimed.delete(write.signal.id) ? [{ write, index }] : []));
    if (applicable.length === 0) return outcomes;
    const health = await lockHealthRows(tx, applicable.map(({ write }) => write.signal.table), now);
    const rcas: RcaRow[] = [];
    const events: EventRow[] = [];
    for (const { write, index } of applicable) {
      const { signal, diagnosis, resolution } = write;
      const current = health.get(signal.table)!;
      const superseded = current.lastSuccessAt !== null && current.lastSuccessAt >= signal.occurredAt;
      const rcaId = randomUUID();
      const job = superseded || !resolution ? null : await scheduleJob(tx, { rcaId, table: signal.table, resolution, now });
      rcas.push(rcaRow(rcaId, signal, diagnosis, { status: superseded ? 'resolved' : job?.scheduled ? 'resolving' : 'open', autoResolution: job?.autoResolution ?? null, now, superseded }));
      const oldStatus = current.status as HealthStatus;
      if (superseded) {
        outcomes[index] = { applied: true, rcaId, oldStatus, newStatus: oldStatus, superseded };
        continue;
      }
      const newStatus = statusAfter(signal);
      // A table already unhealthy stays unhealthy when a retry (degraded) arrives for it.
      const effective: HealthStatus = oldStatus === 'unhealthy' && newStatus === 'degraded' ? 'unhealthy' : newStatus;
      if (current.status !== effective) {
        events.push({ seq: events.length, table_name: signal.table, old_status: current.status, new_status: effective, rca_id: rcaId, signal_id: signal.id, reason: `${diagnosis.category}: ${diagnosis.summary}`, at: now.toISOString() });
        current.changedAt = now;
      }
      current.status = effective;
      current.rcaId = rcaId;
      current.rcaSet = true;
      outcomes[index] = { applied: true, rcaId, oldStatus, newStatus: effective, superseded };
    }
    // Every locked row was checked now; one that only superseded failures touched keeps its status, since and RCA.
    const healthRows = [...health].map(([table, h]) => ({ table_name: table, status: h.status, since: h.changedAt?.toISOString() ?? null, set_rca: h.rcaSet ?? false, rca_id: h.rcaId }));
    await writeDiagnosisRows(tx, { rcas, health: healthRows, events, now });
    return outcomes;
  });
}

type RcaRow = ReturnType<typeof rcaRow>;
interface EventRow { seq: number; table_name: string; old_status: string; new_status: string; rca_id: string; signal_id: string; reason: string; at: string }

/** An rca_records row in column names, as `jsonb_to_recordset` reads it. */
function rcaRow(id: string, signal: Signal, diagnosis: Diagnosis, state: { status: string; autoResolution: unknown; now: Date; superseded: boolean }) {
  return {
    id,
    table_name: signal.table,
    signal_id: signal.id,
    signal_ids: [signal.id],
    incident_id: diagnosis.incidentId,
    status: state.status,
    category: diagnosis.category,
    summary: diagnosis.summary,
    confidence: diagnosis.confidence,
    assignee_team: diagnosis.assignee.team,
    assignee_role: diagnosis.assignee.role,
    assignee_reason: diagnosis.assignee.reason,
    auto_resolution: state.autoResolution,
    manual_steps: diagnosis.manualSteps,
    evidence: diagnosis.evidence,
    created_at: state.now.toISOString(),
    resolved_at: state.superseded ? state.now.toISOString() : null,
  };
}

/**
 * The RCA records, the health rows' new state and the health events of a batch, in one
 * statement (data-modifying CTEs). Each kind of row travels as one JSON document, so the
 * statement has three row parameters however large the batch. Health events are inserted in
 * `seq` order: their ids order a table's history and the webhook feed.
 */
async function writeDiagnosisRows(tx: Queryable, rows: { rcas: RcaRow[]; health: Array<Record<string, unknown>>; events: EventRow[]; now: Date }): Promise<void> {
  await tx.execute(sql`
    WITH new_rcas AS (
      INSERT INTO ${rcaRecords} (id, table_name, signal_id, signal_ids, incident_id, status, category, summary, confidence,
        assignee_team, assignee_role, assignee_reason, auto_resolution, manual_steps, evidence, created_at, updated_at, resolved_at)
      SELECT id, table_name, signal_id, signal_ids, incident_id, status, category, summary, confidence,
        assignee_team, assignee_role, assignee_reason, auto_resolution, manual_steps, evidence, created_at, created_at, resolved_at
      FROM jsonb_to_recordset(${JSON.stringify(rows.rcas)}::jsonb) AS r(id uuid, table_name text, signal_id uuid, signal_ids uuid[],
        incident_id text, status text, category text, summary text, confidence real, assignee_team text, assignee_role text,
        assignee_reason text, auto_resolution jsonb, manual_steps text, evidence jsonb, created_at timestamptz, resolved_at timestamptz)
      RETURNING 1
    ), new_events AS (
      INSERT INTO ${healthEvents} (table_name, old_status, new_status, rca_id, signal_id, reason, at)
      SELECT table_name, old_status, new_status, rca_id, signal_id, reason, at
      FROM jsonb_to_recordset(${JSON.stringify(rows.events)}::jsonb) AS e(seq int, table_name text, old_status text, new_status text,
        rca_id uuid, signal_id uuid, reason text, at timestamptz)
      ORDER BY seq
      RETURNING 1
    )
    UPDATE ${tableHealth} AS h SET status = x.status, since = coalesce(x.since, h.since),
      rca_id = CASE WHEN x.set_rca THEN x.rca_id ELSE h.rca_id END, last_checked_at = ${rows.now.toISOString()}::timestamptz
    FROM jsonb_to_recordset(${JSON.stringify(rows.health)}::jsonb) AS x(table_name text, status text, since timestamptz, set_rca boolean, rca_id uuid)
    WHERE h.table_name = x.table_name`);
}

/** A PostgreSQL array literal as one bind parameter; elements are quoted, so any text is safe. */
function arrayLiteral(values: string[]): string {
  return `{${values.map((v) => `"${v.replace(/[\\"]/g, (c) => `\\${c}`)}"`).join(',')}}`;
}

/** Raw rows carry timestamps as text (drizzle switches node-postgres' date parsing off). */
function asDate(value: unknown): Date | null {
  if (value === null || value === undefined) return null;
  return value instanceof Date ? value : new Date(String(value));
}

/**
 * Creates the resolution job of a new RCA in the diagnosis transaction — unless a job that will
 * re-trigger the same Airflow run is already active (never two re-triggers of one run in
 * flight); then the RCA points at the RCA whose job covers it.
 */
async function scheduleJob(tx: Queryable, input: { rcaId: string; table: string; resolution: PlannedResolution; now: Date }) {
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
export async function applySuccess(database: Database, signal: Signal): Promise<WriteOutcome> {
  return inTransaction(database.pool, async (tx) => {
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
