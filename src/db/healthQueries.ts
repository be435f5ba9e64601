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

/**
 * The health view in plain SQL, prepared once per connection (the hot path behind
 * GET /v1/tables/{table}/health: no query building, no re-planning), for the table names of
 * `keys` (a subquery with a `name` column). Keying on the name makes "onboarded but never
 * heard of" the same query: DESIGN 6 calls that `unknown`, since the catalog entry last changed.
 * Only the columns the view shows.
 */
const healthViewSql = (keys: string) => `
  SELECT k.name, h.status, h.since, h.last_checked_at,
    c.name AS c_name, c.owner AS c_owner, c.tier AS c_tier, c.updated_at AS c_updated_at,
    r.id AS r_id, r.status AS r_status, r.category AS r_category, r.summary AS r_summary,
    r.assignee_team AS r_assignee_team, r.assignee_role AS r_assignee_role, r.assignee_reason AS r_assignee_reason,
    j.resolver AS j_resolver, j.state AS j_state, j.attempts AS j_attempts, j.max_attempts AS j_max_attempts,
    j.run_at AS j_run_at, j.last_error AS j_last_error
  FROM (${keys}) k
  LEFT JOIN table_health h ON h.table_name = k.name
  LEFT JOIN catalog_tables c ON c.name = k.name
  LEFT JOIN rca_records r ON r.id = h.rca_id
  LEFT JOIN resolution_jobs j ON j.rca_id = h.rca_id`;

const ONE_TABLE_SQL = healthViewSql('SELECT $1::text AS name');

/** Tables with a health row or a catalog entry, by name after $1, $2 of them (keyset pages for warming a cache). */
const PAGE_SQL = `${healthViewSql(`
  SELECT name FROM (
    (SELECT table_name AS name FROM table_health WHERE table_name > $1 ORDER BY table_name LIMIT $2)
    UNION
    (SELECT name FROM catalog_tables WHERE name > $1 ORDER BY name LIMIT $2)
  ) u ORDER BY name LIMIT $2`)}
  ORDER BY k.name`;

/** What healthViewSql returns (pg parses timestamptz to Date, integers to number). */
interface HealthViewSqlRow {
  name: string; status: string | null; since: Date | null; last_checked_at: Date | null;
  c_name: string | null; c_owner: string | null; c_tier: number | null; c_updated_at: Date | null;
  r_id: string | null; r_status: string | null; r_category: string | null; r_summary: string | null;
  r_assignee_team: string | null; r_assignee_role: string | null; r_assignee_reason: string | null;
  j_resolver: string | null; j_state: string | null; j_attempts: number | null; j_max_attempts: number | null;
  j_run_at: Date | null; j_last_error: string | null;
}

/** Anything that runs a query: the pool, or a client of it. */
export interface SqlRunner { query<R extends object>(config: { name: string; text: string; values: unknown[] }): Promise<{ rows: R[] }> }

/** The view of one row of healthViewSql, or null when the table has neither health nor a catalog entry. */
function viewOfSqlRow(row: HealthViewSqlRow): TableHealthView | null {
  if (row.status === null && row.c_name === null) return null;
  // Fields the view does not show are left as a missing row would have them.
  const catalog = row.c_name === null ? null : { name: row.c_name, owner: row.c_owner, tier: row.c_tier, updatedAt: row.c_updated_at! } as typeof catalogTables.$inferSelect;
  if (row.status === null) {
    return tableHealthView({ health: { tableName: row.name, status: 'unknown', since: catalog!.updatedAt, lastCheckedAt: catalog!.updatedAt, rcaId: null, lastSuccessAt: null }, catalog, rca: null, job: null });
  }
  const rca: HealthRca | null = row.r_id === null ? null : {
    id: row.r_id, status: row.r_status!, category: row.r_category!, summary: row.r_summary!,
    assigneeTeam: row.r_assignee_team, assigneeRole: row.r_assignee_role!, assigneeReason: row.r_assignee_reason!,
  };
  const job = row.j_state === null ? null : {
    resolver: row.j_resolver!, state: row.j_state, attempts: row.j_attempts!, maxAttempts: row.j_max_attempts!, runAt: row.j_run_at!, lastError: row.j_last_error,
  } as JobRow;
  return tableHealthView({ health: { tableName: row.name, status: row.status, since: row.since!, lastCheckedAt: row.last_checked_at!, rcaId: rca?.id ?? null, lastSuccessAt: null }, catalog, rca, job });
}

/** One table's health in one round trip, or null when no signal has mentioned it and it is not in the catalog. */
export async function readTableHealth(runner: SqlRunner, table: string): Promise<TableHealthView | null> {
  const { rows: [row] } = await runner.query<HealthViewSqlRow>({ name: 'medic_table_health', text: ONE_TABLE_SQL, values: [table] });
  return row ? viewOfSqlRow(row) : null;
}

/** Up to `limit` tables' health, by name after `after` ('' for the first page). */
export async function readTableHealthPage(runner: SqlRunner, after: string, limit: number): Promise<TableHealthView[]> {
  const { rows } = await runner.query<HealthViewSqlRow>({ name: 'medic_table_health_page', text: PAGE_SQL, values: [after, limit] });
  return rows.map((row) => viewOfSqlRow(row)!);
}

/**
 * The same view through drizzle, in two queries: kept as the reference readTableHealth is
 * tested against (test/healthCache.test.ts) and for bench/tools/healthQueryCost.ts.
 */
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
