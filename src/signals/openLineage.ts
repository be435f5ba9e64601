import { Type, type Static } from '@sinclair/typebox';
import type { NewSignal } from './signalStore.ts';
import type { SignalException } from './types.ts';

const Dataset = Type.Object({ namespace: Type.String({ maxLength: 1000 }), name: Type.String({ minLength: 1, maxLength: 1000 }) });

/**
 * An OpenLineage RunEvent (spec 2-0-2), as Airflow's openlineage provider, Spark or dbt send it.
 * Only what Medic reads is required; facets and extra fields are kept in the payload.
 */
export const RunEventSchema = Type.Object({
  eventType: Type.Union(['START', 'RUNNING', 'COMPLETE', 'ABORT', 'FAIL', 'OTHER'].map((t) => Type.Literal(t))),
  eventTime: Type.String({ format: 'date-time', maxLength: 64 }),
  producer: Type.Optional(Type.String({ maxLength: 1000 })),
  schemaURL: Type.Optional(Type.String({ maxLength: 1000 })),
  run: Type.Object({ runId: Type.String({ minLength: 1, maxLength: 200 }), facets: Type.Optional(Type.Record(Type.String(), Type.Unknown())) }),
  job: Type.Object({ namespace: Type.String({ maxLength: 1000 }), name: Type.String({ minLength: 1, maxLength: 1000 }), facets: Type.Optional(Type.Record(Type.String(), Type.Unknown())) }),
  inputs: Type.Optional(Type.Array(Dataset, { maxItems: 1000 })),
  outputs: Type.Optional(Type.Array(Dataset, { maxItems: 1000 })),
}, { $id: 'OpenLineageRunEvent' });

export type RunEvent = Static<typeof RunEventSchema>;

type Json = Record<string, unknown>;
const obj = (v: unknown): Json | null => (v && typeof v === 'object' && !Array.isArray(v) ? (v as Json) : null);
const str = (v: unknown): string | undefined => (typeof v === 'string' && v !== '' ? v : undefined);
const int = (v: unknown): number | undefined => (typeof v === 'number' && Number.isInteger(v) ? v : undefined);

/** dag_id, task_id, run_id, try_number: from Airflow's facets when present, else from `dag_id.task_id` job names. */
export function airflowIdentity(event: RunEvent): { dag_id?: string; task_id?: string; run_id?: string; try_number?: number; map_index?: number } {
  const facets = obj(event.run.facets) ?? {};
  const airflow = obj(facets.airflow);
  const dag = obj(airflow?.dag);
  const dagRun = obj(airflow?.dagRun);
  const task = obj(airflow?.task);
  const ti = obj(airflow?.taskInstance);
  const [jobDag, ...rest] = event.job.name.split('.');
  return {
    dag_id: str(dag?.dag_id) ?? str(dagRun?.dag_id) ?? (rest.length > 0 ? jobDag : undefined),
    task_id: str(task?.task_id) ?? (rest.length > 0 ? rest.join('.') : undefined),
    run_id: str(dagRun?.run_id) ?? str(obj(facets.airflowDagRun)?.run_id),
    try_number: int(ti?.try_number),
    map_index: int(ti?.map_index),
  };
}

/**
 * The exception of a FAIL event: the errorMessage facet's message, its type read from the last
 * line of the stack trace ("psycopg2.OperationalError: could not connect…") when there is one.
 */
export function lineageException(event: RunEvent): SignalException | null {
  const error = obj(obj(event.run.facets)?.errorMessage);
  if (!error) return event.eventType === 'ABORT' ? { type: 'OpenLineage.ABORT', message: 'the run was aborted' } : null;
  const message = str(error.message) ?? '';
  const trace = str(error.stackTrace) ?? '';
  const last = trace.trim().split('\n').reverse().find((line) => /^[\w.]+(Error|Exception|Timeout|Exit|Interrupt|Failure)\b.*:/.test(line.trim()));
  const type = last ? last.trim().split(':')[0]! : /^([\w.]+(?:Error|Exception)):/.exec(message)?.[1] ?? `${str(error.programmingLanguage) ?? 'OpenLineage'}.errorMessage`;
  return { type, message };
}

/**
 * The lake table of an event (DESIGN 3.4): the catalog table whose name equals an output's
 * `name` or `namespace.name`; else the catalog pipeline whose `dag_id.task_id` is the job name;
 * else the first output's name; else the job name.
 */
export function lineageTable(event: RunEvent, catalog: { tableNames: Set<string>; byJob: string | null }): string {
  for (const output of event.outputs ?? []) {
    if (catalog.tableNames.has(output.name)) return output.name;
    const qualified = `${output.namespace}.${output.name}`;
    if (catalog.tableNames.has(qualified)) return qualified;
  }
  if (catalog.byJob) return catalog.byJob;
  return event.outputs?.[0]?.name ?? event.job.name;
}

/** FAIL/ABORT → failure, COMPLETE → success; START/RUNNING/OTHER make no signal (their timing is kept in the COMPLETE/FAIL payload by the producer). */
export function normaliseRunEvent(event: RunEvent, table: string, receivedAt: Date): NewSignal | null {
  const kind = event.eventType === 'COMPLETE' ? 'success' : event.eventType === 'FAIL' || event.eventType === 'ABORT' ? 'failure' : null;
  if (!kind) return null;
  const id = airflowIdentity(event);
  return {
    kind,
    event: event.eventType.toLowerCase(),
    source: 'openlineage',
    table,
    pipeline: id,
    exception: kind === 'failure' ? lineageException(event) : null,
    occurredAt: new Date(event.eventTime),
    receivedAt,
    dedupeKey: `openlineage/${event.run.runId}/${event.eventType}`,
    payload: event as unknown as Record<string, unknown>,
  };
}
