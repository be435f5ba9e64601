import type { HistoricSignal, SignalHistory, TableHealthSnapshot } from '../../src/diagnosers/types.ts';

/**
 * SignalHistory over arrays, for table-driven analyser tests with no I/O. It implements the
 * same contract as the PostgreSQL one (src/db/batchedSignalHistory.ts, which the daemon tests —
 * slaDqDiagnosis, surgeIncident, resolution — run on real rows).
 */
export function memoryHistory(signals: HistoricSignal[] = [], health: TableHealthSnapshot[] = []): SignalHistory {
  return {
    async forTable(table, { since, until, kinds, limit }) {
      return signals
        .filter((s) => s.table === table && s.occurredAt >= since && (!until || s.occurredAt <= until) && (!kinds || kinds.includes(s.kind)))
        .sort((a, b) => b.occurredAt.getTime() - a.occurredAt.getTime())
        .slice(0, limit ?? 200);
    },
    async health(tables) {
      return health.filter((h) => tables.includes(h.table));
    },
  };
}
