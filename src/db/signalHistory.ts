import { and, desc, eq, gte, inArray, lte, type SQL } from 'drizzle-orm';
import type { Db } from './client.ts';
import { rcaRecords, signals, tableHealth } from './schema.ts';
import type { HistoricSignal, SignalHistory, TableHealthSnapshot } from '../diagnosers/types.ts';

/** SignalHistory over PostgreSQL: what analysers may know about earlier signals and current health. */
export function postgresSignalHistory(db: Db): SignalHistory {
  return {
    async forTable(table, options) {
      const where: SQL[] = [eq(signals.tableName, table), gte(signals.occurredAt, options.since)];
      if (options.until) where.push(lte(signals.occurredAt, options.until));
      if (options.kinds && options.kinds.length > 0) where.push(inArray(signals.kind, options.kinds));
      const rows = await db.select({ signal: signals, rca: rcaRecords }).from(signals)
        .leftJoin(rcaRecords, eq(rcaRecords.signalId, signals.id))
        .where(and(...where)).orderBy(desc(signals.occurredAt)).limit(options.limit ?? 200);
      return rows.map(({ signal, rca }): HistoricSignal => ({
        id: signal.id,
        kind: signal.kind as HistoricSignal['kind'],
        event: signal.event,
        table: signal.tableName,
        occurredAt: signal.occurredAt,
        pipeline: signal.pipeline as HistoricSignal['pipeline'],
        payload: signal.payload as Record<string, unknown>,
        rca: rca ? {
          id: rca.id, category: rca.category as never, status: rca.status, summary: rca.summary, incidentId: rca.incidentId,
          assigneeTeam: rca.assigneeTeam, assigneeRole: rca.assigneeRole as never, assigneeReason: rca.assigneeReason,
        } : null,
      }));
    },
    async health(tables) {
      if (tables.length === 0) return [];
      const rows = await db.select().from(tableHealth).where(inArray(tableHealth.tableName, tables));
      return rows.map((r): TableHealthSnapshot => ({ table: r.tableName, status: r.status as TableHealthSnapshot['status'], since: r.since, lastSuccessAt: r.lastSuccessAt }));
    },
  };
}
