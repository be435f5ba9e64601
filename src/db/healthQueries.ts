import { and, count, desc, eq, gte, lt, or, type SQL } from 'drizzle-orm';
import type { Db } from './client.ts';
import { catalogTables, healthEvents, rcaActions, rcaRecords, resolutionAttempts, resolutionJobs, tableHealth } from './schema.ts';

/** An opaque cursor: the sort key of the last item of the page. */
export function encodeCursor(at: Date, id: string): string {
  return Buffer.from(JSON.stringify([at.toISOString(), id])).toString('base64url');
}

export function decodeCursor(cursor: string): { at: Date; id: string } | null {
  try {
    const [at, id] = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')) as [string, string];
    const date = new Date(at);
    if (typeof id !== 'string' || Number.isNaN(date.getTime())) return null;
    return { at: date, id };
  } catch {
    return null;
  }
}

/**
 * A page from rows fetched with `limit + 1`: the extra row only says whether there is a next
 * page; the cursor is the sort key of the page's last row.
 */
export function keysetPage<R, V>(rows: R[], limit: number, view: (row: R) => V, key: (row: R) => { at: Date; id: string }): { items: V[]; next_cursor: string | null } {
  const page = rows.slice(0, limit);
  const last = page[page.length - 1];
  return { items: page.map(view), next_cursor: rows.length > limit && last ? encodeCursor(key(last).at, key(last).id) : null };
}

const iso = (d: Date | null) => (d ? d.toISOString() : null);

export interface TableFilters { status?: string; owner?: string; assignee?: string; category?: string }

/** The RCA columns a health view shows — not the evidence or manual steps, which can be large. */
const healthRcaColumns = {
  id: rcaRecords.id, status: rcaRecords.status, category: rcaRecords.category, summary: rcaRecords.summary,
  assigneeTeam: rcaRecords.assigneeTeam, assigneeRole: rcaRecords.assigneeRole, assigneeReason: rcaRecords.assigneeReason,
};
type HealthRca = { [K in keyof typeof healthRcaColumns]: (typeof rcaRecords.$inferSelect)[K] };
type HealthRow = { health: typeof tableHealth.$inferSelect; catalog: typeof catalogTables.$inferSelect | null; rca: HealthRca | null; job: JobRow | null };
type JobRow = typeof resolutionJobs.$inferSelect;

/** The live state of an RCA's auto-resolution, from its job (the single source of truth). */
export function resolutionView(job: JobRow | null) {
  if (!job) return null;
  return {
    resolver: job.resolver,
    state: job.state,
    attempts: job.attempts,
    max_attempts: job.maxAttempts,
    next_attempt_at: job.state === 'scheduled' ? job.runAt.toISOString() : null,
    last_error: job.lastError,
  };
}

function tableHealthView(row: HealthRow) {
  const { health, catalog, rca, job } = row;
  const rcaOpen = rca !== null && rca.status !== 'resolved';
  return {
    table: health.tableName,
    status: health.status as 'healthy' | 'degraded' | 'unhealthy' | 'unknown',
    since: health.since.toISOString(),
    last_checked_at: health.lastCheckedAt.toISOString(),
    error: rcaOpen ? { category: rca.category as never, summary: rca.summary } : null,
    rca_id: rcaOpen ? rca.id : null,
    assignee: rcaOpen ? { team: rca.assigneeTeam, role: rca.assigneeRole as never, reason: rca.assigneeReason } : null,
    resolution: rcaOpen ? resolutionView(job) : null,
    owner: catalog?.owner ?? null,
    tier: catalog?.tier ?? null,
    in_catalog: catalog !== null,
  };
}

export type TableHealthView = ReturnType<typeof tableHealthView>;

function healthSelect(db: Db) {
  return db.select({ health: tableHealth, catalog: catalogTables, rca: healthRcaColumns, job: resolutionJobs }).from(tableHealth)
    .leftJoin(catalogTables, eq(catalogTables.name, tableHealth.tableName))
    .leftJoin(rcaRecords, eq(rcaRecords.id, tableHealth.rcaId))
    .leftJoin(resolutionJobs, eq(resolutionJobs.rcaId, tableHealth.rcaId));
}

/** Table health, newest status change first, keyset-paginated on (since, table). */
export async function listTableHealth(db: Db, filters: TableFilters, limit: number, cursor: { at: Date; id: string } | null) {
  const where: SQL[] = [];
  if (filters.status) where.push(eq(tableHealth.status, filters.status));
  if (filters.owner) where.push(eq(catalogTables.owner, filters.owner));
  if (filters.assignee) where.push(eq(rcaRecords.assigneeTeam, filters.assignee));
  if (filters.category) where.push(eq(rcaRecords.category, filters.category));
  if (cursor) where.push(or(lt(tableHealth.since, cursor.at), and(eq(tableHealth.since, cursor.at), lt(tableHealth.tableName, cursor.id)))!);
  const rows = await healthSelect(db).where(and(...where)).orderBy(desc(tableHealth.since), desc(tableHealth.tableName)).limit(limit + 1);
  return keysetPage(rows, limit, tableHealthView, (r) => ({ at: r.health.since, id: r.health.tableName }));
}

export async function getTableHealth(db: Db, table: string): Promise<TableHealthView | null> {
  const [row] = await healthSelect(db).where(eq(tableHealth.tableName, table));
  if (row) return tableHealthView(row);
  // Onboarded but never heard of: DESIGN 6 calls that `unknown`.
  const [catalog] = await db.select().from(catalogTables).where(eq(catalogTables.name, table));
  if (!catalog) return null;
  return { ...tableHealthView({ health: { tableName: table, status: 'unknown', since: catalog.updatedAt, lastCheckedAt: catalog.updatedAt, rcaId: null, lastSuccessAt: null }, catalog, rca: null, job: null }) };
}

export function rcaView(row: typeof rcaRecords.$inferSelect, job: JobRow | null, withEvidence: boolean) {
  return {
    id: row.id,
    table: row.tableName,
    incident_id: row.incidentId,
    status: row.status as never,
    category: row.category as never,
    summary: row.summary,
    confidence: row.confidence,
    assignee: { team: row.assigneeTeam, role: row.assigneeRole as never, reason: row.assigneeReason },
    // The plan stored at diagnosis, with the job's live state over it.
    auto_resolution: row.autoResolution ? { ...(row.autoResolution as Record<string, unknown>), ...(resolutionView(job) ?? {}) } : null,
    manual_steps: row.manualSteps,
    signal_ids: row.signalIds,
    ...(withEvidence ? { evidence: row.evidence as never[] } : {}),
    created_at: row.createdAt.toISOString(),
    updated_at: row.updatedAt.toISOString(),
    resolved_at: iso(row.resolvedAt),
  };
}

export interface RcaFilters { table?: string; category?: string; assignee?: string; status?: string; since?: Date }

/** RCA records, newest first, keyset-paginated on (created_at, id). */
export async function listRca(db: Db, filters: RcaFilters, limit: number, cursor: { at: Date; id: string } | null, withEvidence: boolean) {
  const where: SQL[] = [];
  if (filters.table) where.push(eq(rcaRecords.tableName, filters.table));
  if (filters.category) where.push(eq(rcaRecords.category, filters.category));
  if (filters.assignee) where.push(eq(rcaRecords.assigneeTeam, filters.assignee));
  if (filters.status) where.push(eq(rcaRecords.status, filters.status));
  if (filters.since) where.push(gte(rcaRecords.createdAt, filters.since));
  if (cursor) where.push(or(lt(rcaRecords.createdAt, cursor.at), and(eq(rcaRecords.createdAt, cursor.at), lt(rcaRecords.id, cursor.id)))!);
  const rows = await db.select({ rca: rcaRecords, job: resolutionJobs }).from(rcaRecords).leftJoin(resolutionJobs, eq(resolutionJobs.rcaId, rcaRecords.id))
    .where(and(...where)).orderBy(desc(rcaRecords.createdAt), desc(rcaRecords.id)).limit(limit + 1);
  return keysetPage(rows, limit, (r) => rcaView(r.rca, r.job, withEvidence), (r) => ({ at: r.rca.createdAt, id: r.rca.id }));
}

export async function getRca(db: Db, id: string, withEvidence: boolean) {
  const [row] = await db.select({ rca: rcaRecords, job: resolutionJobs }).from(rcaRecords).leftJoin(resolutionJobs, eq(resolutionJobs.rcaId, rcaRecords.id)).where(eq(rcaRecords.id, id));
  if (!row) return null;
  // Every attempt and every one-click action is visible on the record (DESIGN 7, issue 5).
  const attempts = await db.select().from(resolutionAttempts).where(eq(resolutionAttempts.rcaId, id)).orderBy(resolutionAttempts.startedAt, resolutionAttempts.attempt);
  const actions = await db.select().from(rcaActions).where(eq(rcaActions.rcaId, id)).orderBy(rcaActions.at);
  return {
    ...rcaView(row.rca, row.job, withEvidence),
    attempts: attempts.map((a) => ({ attempt: a.attempt, resolver: a.resolver, outcome: a.outcome, actor: a.actor, detail: (a.detail as Record<string, unknown> | null) ?? null, error: a.error, started_at: a.startedAt.toISOString(), finished_at: iso(a.finishedAt) })),
    actions: actions.map((a) => ({ action: a.action, actor: a.actor, outcome: a.outcome, detail: (a.detail as Record<string, unknown> | null) ?? null, at: a.at.toISOString() })),
  };
}

/** A table's health events, newest first, keyset-paginated on the event id. */
export async function tableHistory(db: Db, table: string, limit: number, cursor: { at: Date; id: string } | null) {
  const where: SQL[] = [eq(healthEvents.tableName, table)];
  if (cursor) where.push(lt(healthEvents.id, Number(cursor.id)));
  const rows = await db.select().from(healthEvents).where(and(...where)).orderBy(desc(healthEvents.id)).limit(limit + 1);
  return keysetPage(
    rows, limit,
    (r) => ({ table: r.tableName, old_status: r.oldStatus, new_status: r.newStatus, rca_id: r.rcaId, signal_id: r.signalId, reason: r.reason, at: r.at.toISOString() }),
    (r) => ({ at: r.at, id: String(r.id) }),
  );
}


export async function countTablesByStatus(db: Db): Promise<Array<{ status: string; count: number }>> {
  return db.select({ status: tableHealth.status, count: count() }).from(tableHealth).groupBy(tableHealth.status);
}
