import { randomUUID } from 'node:crypto';
import type { DqFailureEvent, SlaMissEvent } from './kafkaEvents.ts';

/** A realistic SLA miss for demos (`medic produce sla-miss`), with a fresh id. */
export function sampleSlaMiss(table: string, now = new Date(), overrides: Partial<SlaMissEvent> = {}): SlaMissEvent {
  const expected = new Date(Math.floor(now.getTime() / 3_600_000) * 3_600_000);
  return {
    id: randomUUID(), table, sla_kind: 'completion',
    expected_by: expected.toISOString(), detected_at: now.toISOString(),
    dag_id: null, run_id: null, last_success_at: new Date(expected.getTime() - 3_600_000).toISOString(), producer: 'medic-produce',
    ...overrides,
  };
}

/** A realistic completeness failure for demos (`medic produce dq-failure`), with a fresh id. */
export function sampleDqFailure(table: string, now = new Date(), overrides: Partial<DqFailureEvent> = {}): DqFailureEvent {
  const hour = now.toISOString().slice(11, 13);
  return {
    id: randomUUID(), table, check: 'completeness.row_count', check_kind: 'completeness',
    partition: `dt=${now.toISOString().slice(0, 10)}/hr=${hour}`, source_count: 120_000, lake_count: 118_250,
    strategy: 'cdc', severity: 'error', detected_at: now.toISOString(), producer: 'medic-produce',
    ...overrides,
  };
}
