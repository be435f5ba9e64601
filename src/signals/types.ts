/** The four signal kinds every source is normalised into (DESIGN 3). */
export const SIGNAL_KINDS = ['failure', 'sla_miss', 'dq_failure', 'success'] as const;
export type SignalKind = (typeof SIGNAL_KINDS)[number];

/** Where in Airflow a signal comes from; all fields optional because not every source knows them. */
export interface PipelineRef {
  airflow?: string;
  dag_id?: string;
  task_id?: string;
  run_id?: string;
  map_index?: number;
  try_number?: number;
  max_tries?: number;
}

/** An exception as reported by the failing task. */
export interface SignalException {
  type: string;
  message: string;
}

/**
 * One normalised signal, as stored in the `signals` table. `payload` is the original body,
 * kept for the evidence trail.
 */
export interface Signal {
  id: string;
  kind: SignalKind;
  /** The Airflow event that produced it, when there is one: failure | retry | success. */
  event: string | null;
  table: string;
  pipeline: PipelineRef;
  exception: SignalException | null;
  occurredAt: Date;
  receivedAt: Date;
  dedupeKey: string;
  source: string;
  payload: Record<string, unknown>;
}
