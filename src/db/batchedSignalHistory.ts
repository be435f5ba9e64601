import { inArray, sql } from 'drizzle-orm';
import type { Db } from './client.ts';
import { tableHealth } from './schema.ts';
import type { HistoricSignal, SignalHistory, TableHealthSnapshot } from '../diagnosers/types.ts';
import type { SignalKind } from '../signals/types.ts';
import { createTickBatcher } from '../diagnosers/tickBatcher.ts';

interface ForTableQuestion { table: string; since: Date; until?: Date; kinds?: SignalKind[]; limit?: number }

/**
 * SignalHistory over PostgreSQL, for analysers and resolvers: the reads that concurrent
 * diagnoses make within one turn of the event loop go to the database as one statement (one
 * LATERAL sub-select per question), not one round trip each; a lone read is a batch of one. A batch of SLA misses asks for its tables' earlier runs at once.
 */
export function batchedSignalHistory(db: Db): SignalHistory {
  const forTable = createTickBatcher<ForTableQuestion, HistoricSignal[]>((questions) => readHistories(db, questions));
  const health = createTickBatcher<string, TableHealthSnapshot | null>((tables) => readHealth(db, tables));
  return {
    forTable: (table, options) => forTable.load({ table, ...options }),
    async health(tables) {
      if (tables.length === 0) return [];
      const rows = await Promise.all(tables.map((t) => health.load(t)));
      return rows.filter((r): r is TableHealthSnapshot => r !== null);
    },
  };
}

async function readHistories(db: Db, questions: ForTableQuestion[]): Promise<HistoricSignal[][]> {
  const input = questions.map((q, idx) => ({
    idx, table_name: q.table, since: q.since.toISOString(), until: q.until?.toISOString() ?? null,
    kinds: q.kinds && q.kinds.length > 0 ? q.kinds : null, lim: q.limit ?? 200,
  }));
  const result = await db.execute<Record<string, unknown>>(sql`
    SELECT q.idx, x.* FROM jsonb_to_recordset(${JSON.stringify(input)}::jsonb)
      AS q(idx int, table_name text, since timestamptz, until timestamptz, kinds text[], lim int)
    CROSS JOIN LATERAL (
      SELECT s.id, s.kind, s.event, s.table_name, s.occurred_at, s.pipeline, s.payload,
        r.id AS rca_id, r.category AS rca_category, r.status AS rca_status, r.summary AS rca_summary,
        r.incident_id AS rca_incident_id, r.assignee_team AS rca_assignee_team,
        r.assignee_role AS rca_assignee_role, r.assignee_reason AS rca_assignee_reason
      FROM signals s LEFT JOIN rca_records r ON r.signal_id = s.id
      WHERE s.table_name = q.table_name AND s.occurred_at >= q.since
        AND (q.until IS NULL OR s.occurred_at <= q.until)
        AND (q.kinds IS NULL OR s.kind = ANY(q.kinds))
      ORDER BY s.occurred_at DESC LIMIT q.lim
    ) x
    ORDER BY q.idx, x.occurred_at DESC`);
  const answers: HistoricSignal[][] = questions.map(() => []);
  for (const row of result.rows) answers[Number(row.idx)]!.push(toHistoricSignal(row));
  return answers;
}

function toHistoricSignal(row: Record<string, unknown>): HistoricSignal {
  return {
    id: row.id as string,
    kind: row.kind as HistoricSignal['kind'],
    event: row.event as string | null,
    table: row.table_name as string,
    occurredAt: asDate(row.occurred_at),
    pipeline: row.pipeline as HistoricSignal['pipeline'],
    payload: row.payload as Record<string, unknown>,
    rca: row.rca_id ? {
      id: row.rca_id as string, category: row.rca_category as never, status: row.rca_status as string, summary: row.rca_summary as string,
      incidentId: row.rca_incident_id as string | null, assigneeTeam: row.rca_assignee_team as string | null,
      assigneeRole: row.rca_assignee_role as never, assigneeReason: row.rca_assignee_reason as string,
    } : null,
  };
}

async function readHealth(db: Db, tables: string[]): Promise<Array<TableHealthSnapshot | null>> {
  const rows = await db.select().from(tableHealth).where(inArray(tableHealth.tableName, [...new Set(tables)]));
  const byTable = new Map(rows.map((r): [string, TableHealthSnapshot] => [r.tableName, { table: r.tableName, status: r.status as TableHealthSnapshot['status'], since: r.since, lastSuccessAt: r.lastSuccessAt }]));
  return tables.map((t) => byTable.get(t) ?? null);
}

/** Raw rows carry timestamps as Date (node-postgres' parser); a string is tolerated. */
function asDate(value: unknown): Date {
  return value instanceof Date ? value : new Date(String(value));
}
