import { sql } from 'drizzle-orm';
import type { Db } from './client.ts';
import { keysetPage } from './healthQueries.ts';
import { rcaRecords } from './schema.ts';
import type { AssigneeRole, Category } from '../diagnosers/taxonomy.ts';

/**
 * Incidents are RCA records grouped by their incident key — root cause plus the resource at
 * fault (`source_unavailable:orders-db`) — so 300 pipelines failed by one dead database read
 * as one incident with 300 affected tables, not 300 pages (DESIGN 5).
 */
export interface IncidentView {
  id: string;
  category: Category;
  resource: string;
  status: 'open' | 'resolved';
  summary: string;
  assignee: { team: string | null; role: AssigneeRole };
  tables: string[];
  rca_count: number;
  open_rca_count: number;
  first_seen: string;
  last_seen: string;
}

interface Row {
  incident_id: string; category: Category; summary: string; assignee_team: string | null; assignee_role: AssigneeRole;
  tables: string[]; rca_count: number; open_rca_count: number; first_seen: Date; last_seen: Date;
}

function view(row: Row): IncidentView {
  const colon = row.incident_id.indexOf(':');
  return {
    id: row.incident_id,
    category: row.category,
    resource: colon >= 0 ? row.incident_id.slice(colon + 1) : row.incident_id,
    status: row.open_rca_count > 0 ? 'open' : 'resolved',
    summary: row.summary,
    assignee: { team: row.assignee_team, role: row.assignee_role },
    tables: row.tables,
    rca_count: row.rca_count,
    open_rca_count: row.open_rca_count,
    first_seen: new Date(row.first_seen).toISOString(),
    last_seen: new Date(row.last_seen).toISOString(),
  };
}

/** The grouped rows; the newest RCA of each incident supplies its summary and assignee. */
function grouped(where: ReturnType<typeof sql>) {
  return sql`
    SELECT g.incident_id, latest.category, latest.summary, latest.assignee_team, latest.assignee_role,
           g.tables, g.rca_count, g.open_rca_count, g.first_seen, g.last_seen
    FROM (
      SELECT incident_id, array_agg(DISTINCT table_name ORDER BY table_name) AS tables, count(*)::int AS rca_count,
             (count(*) FILTER (WHERE status <> 'resolved'))::int AS open_rca_count,
             min(created_at) AS first_seen, max(created_at) AS last_seen
      FROM ${rcaRecords} WHERE incident_id IS NOT NULL GROUP BY incident_id
    ) g
    CROSS JOIN LATERAL (
      SELECT category, summary, assignee_team, assignee_role FROM ${rcaRecords} r
      WHERE r.incident_id = g.incident_id ORDER BY created_at DESC, id DESC LIMIT 1
    ) latest
    ${where}`;
}

export async function listIncidents(db: Db, filters: { status?: 'open' | 'resolved'; category?: string }, limit: number, cursor: { at: Date; id: string } | null) {
  const conditions = [sql`TRUE`];
  if (filters.status === 'open') conditions.push(sql`g.open_rca_count > 0`);
  if (filters.status === 'resolved') conditions.push(sql`g.open_rca_count = 0`);
  if (filters.category) conditions.push(sql`latest.category = ${filters.category}`);
  if (cursor) conditions.push(sql`(g.last_seen, g.incident_id) < (${cursor.at.toISOString()}::timestamptz, ${cursor.id})`);
  const result = await db.execute<Row & Record<string, unknown>>(sql`${grouped(sql`WHERE ${sql.join(conditions, sql` AND `)}`)} ORDER BY g.last_seen DESC, g.incident_id DESC LIMIT ${limit + 1}`);
  const rows = result.rows;
  return keysetPage(rows, limit, view, (r) => ({ at: new Date(r.last_seen), id: r.incident_id }));
}

export async function getIncident(db: Db, id: string): Promise<(IncidentView & { rca_ids: string[] }) | null> {
  const result = await db.execute<Row & Record<string, unknown>>(sql`${grouped(sql`WHERE g.incident_id = ${id}`)}`);
  const row = result.rows[0];
  if (!row) return null;
  const ids = await db.execute<{ id: string }>(sql`SELECT id FROM ${rcaRecords} WHERE incident_id = ${id} ORDER BY created_at DESC, id DESC LIMIT 1000`);
  return { ...view(row), rca_ids: ids.rows.map((r) => r.id) };
}
