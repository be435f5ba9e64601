import { Type, type Static } from '@sinclair/typebox';
import { TableName } from '../catalog/catalogSchema.ts';
import type { PipelineRef, SignalKind } from './types.ts';
import type { NewSignal } from './signalStore.ts';

const DateTime = Type.Union([Type.String({ format: 'date-time', maxLength: 64 }), Type.Null()]);
const Ident = (maxLength: number) => Type.String({ minLength: 1, maxLength });

/** The Airflow callback body of DESIGN 3.1. Unknown extra fields are kept in the payload. */
export const AirflowCallbackSchema = Type.Object({
  event: Type.Union([Type.Literal('failure'), Type.Literal('retry'), Type.Literal('success')]),
  dag_id: Ident(250),
  task_id: Ident(250),
  run_id: Ident(250),
  map_index: Type.Optional(Type.Integer({ minimum: -1, default: -1 })),
  try_number: Type.Integer({ minimum: 0 }),
  max_tries: Type.Optional(Type.Union([Type.Integer({ minimum: 0 }), Type.Null()])),
  logical_date: Type.Optional(DateTime),
  start_date: Type.Optional(DateTime),
  end_date: Type.Optional(DateTime),
  duration_s: Type.Optional(Type.Union([Type.Number({ minimum: 0 }), Type.Null()])),
  exception: Type.Optional(Type.Union([Type.Object({
    type: Type.String({ maxLength: 500 }),
    message: Type.String({ maxLength: 65_536 }),
  }), Type.Null()])),
  operator: Type.Optional(Type.Union([Type.String({ maxLength: 250 }), Type.Null()])),
  hostname: Type.Optional(Type.Union([Type.String({ maxLength: 250 }), Type.Null()])),
  queue: Type.Optional(Type.Union([Type.String({ maxLength: 250 }), Type.Null()])),
  pool: Type.Optional(Type.Union([Type.String({ maxLength: 250 }), Type.Null()])),
  tables: Type.Optional(Type.Array(TableName, { maxItems: 100 })),
  airflow: Type.Optional(Type.String({ minLength: 1, maxLength: 64, pattern: '^[A-Za-z0-9_-]+$' })),
}, { $id: 'AirflowCallback' });

export type AirflowCallback = Static<typeof AirflowCallbackSchema>;

const KIND_OF_EVENT: Record<AirflowCallback['event'], SignalKind> = {
  failure: 'failure',
  // A retry is a failed try that Airflow will run again: diagnosed like a failure.
  retry: 'failure',
  success: 'success',
};

/** Airflow can fire a callback twice; this key makes the second one a no-op (DESIGN 3.1). */
export function airflowDedupeKey(body: AirflowCallback): string {
  return ['airflow', body.dag_id, body.task_id, body.run_id, body.map_index ?? -1, body.try_number, body.event].join('/');
}

/**
 * Turns one callback into one signal per table it names. `tables` are the callback's own
 * outlets, else the catalog's mapping for the DAG/task, else `dag_id.task_id` so that a
 * pipeline nobody onboarded is still stored and diagnosed (DESIGN 3.7).
 */
export function normaliseAirflowCallback(body: AirflowCallback, catalogTables: string[], receivedAt: Date): NewSignal[] {
  const fromBody = [...new Set(body.tables ?? [])];
  const tables = fromBody.length > 0 ? fromBody : catalogTables.length > 0 ? catalogTables : [`${body.dag_id}.${body.task_id}`];
  const pipeline: PipelineRef = {
    airflow: body.airflow,
    dag_id: body.dag_id,
    task_id: body.task_id,
    run_id: body.run_id,
    map_index: body.map_index ?? -1,
    try_number: body.try_number,
    max_tries: body.max_tries ?? undefined,
  };
  const occurred = body.end_date ?? body.start_date ?? body.logical_date;
  const key = airflowDedupeKey(body);
  return tables.map((table) => ({
    kind: KIND_OF_EVENT[body.event],
    event: body.event,
    source: 'airflow',
    table,
    pipeline,
    exception: body.exception ?? null,
    occurredAt: occurred ? new Date(occurred) : receivedAt,
    receivedAt,
    // One callback for several tables makes several signals; each needs its own key.
    dedupeKey: tables.length > 1 ? `${key}#${table}` : key,
    payload: body as Record<string, unknown>,
  }));
}
