import { FormatRegistry, Type, type Static } from '@sinclair/typebox';
import { TypeCompiler } from '@sinclair/typebox/compiler';
import { TableName } from '../catalog/catalogSchema.ts';
import type { NewSignal } from './signalStore.ts';

// The compiled checker knows only registered formats; the HTTP routes use ajv-formats' rule, this mirrors it.
if (!FormatRegistry.Has('date-time')) {
  FormatRegistry.Set('date-time', (v) => /^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:?\d{2})$/.test(v) && !Number.isNaN(Date.parse(v)));
}

const DateTime = Type.String({ format: 'date-time', maxLength: 64 });
const EventId = Type.String({ minLength: 1, maxLength: 200, description: 'Producer-assigned id; a redelivery with the same id is a no-op' });
const Optional = <T extends Parameters<typeof Type.Optional>[0]>(schema: T) => Type.Optional(Type.Union([schema, Type.Null()]));

/** DESIGN 3.2: an SLA miss, from Kafka `medic.sla-miss` or POST /v1/signals/sla-miss. */
export const SlaMissSchema = Type.Object({
  id: EventId,
  table: TableName,
  sla_kind: Type.Union([Type.Literal('completion'), Type.Literal('freshness')]),
  expected_by: DateTime,
  detected_at: DateTime,
  dag_id: Optional(Type.String({ minLength: 1, maxLength: 250 })),
  run_id: Optional(Type.String({ minLength: 1, maxLength: 250 })),
  last_success_at: Optional(DateTime),
  producer: Optional(Type.String({ maxLength: 128 })),
}, { $id: 'SlaMiss' });

/** DESIGN 3.3: a data-quality test failure, from Kafka `medic.dq-failure` or POST /v1/signals/dq-failure. */
export const DqFailureSchema = Type.Object({
  id: EventId,
  table: TableName,
  check: Type.String({ minLength: 1, maxLength: 250 }),
  check_kind: Type.Union(['completeness', 'freshness', 'uniqueness', 'nullness', 'schema', 'custom'].map((k) => Type.Literal(k))),
  partition: Optional(Type.String({ maxLength: 250 })),
  source_count: Optional(Type.Integer({ minimum: 0 })),
  lake_count: Optional(Type.Integer({ minimum: 0 })),
  strategy: Optional(Type.Union([Type.Literal('cdc'), Type.Literal('snapshot'), Type.Literal('append')])),
  severity: Type.Union([Type.Literal('error'), Type.Literal('warn')]),
  detected_at: DateTime,
  columns: Type.Optional(Type.Array(Type.String({ maxLength: 250 }), { maxItems: 200 })),
  producer: Optional(Type.String({ maxLength: 128 })),
}, { $id: 'DqFailure' });

export type SlaMissEvent = Static<typeof SlaMissSchema>;
export type DqFailureEvent = Static<typeof DqFailureSchema>;

export type EventKind = 'sla_miss' | 'dq_failure';

export function normaliseSlaMiss(event: SlaMissEvent, source: string, receivedAt: Date): NewSignal {
  return {
    kind: 'sla_miss', event: null, source, table: event.table,
    pipeline: { ...(event.dag_id ? { dag_id: event.dag_id } : {}), ...(event.run_id ? { run_id: event.run_id } : {}) },
    exception: null, occurredAt: new Date(event.detected_at), receivedAt,
    dedupeKey: `sla_miss/${event.id}`, payload: event as Record<string, unknown>,
  };
}

export function normaliseDqFailure(event: DqFailureEvent, source: string, receivedAt: Date): NewSignal {
  return {
    kind: 'dq_failure', event: null, source, table: event.table, pipeline: {},
    exception: null, occurredAt: new Date(event.detected_at), receivedAt,
    dedupeKey: `dq_failure/${event.id}`, payload: event as Record<string, unknown>,
  };
}

const checkers = { sla_miss: TypeCompiler.Compile(SlaMissSchema), dq_failure: TypeCompiler.Compile(DqFailureSchema) };

export type ParsedEvent = { ok: true; signal: NewSignal } | { ok: false; reason: string };

/**
 * Raw Kafka bytes → a signal, or the reason it is poison: not JSON, not the schema. The same
 * schemas as the HTTP routes, so an event is valid or not whichever way it arrives.
 */
export function parseEventBytes(kind: EventKind, raw: Buffer | null, source: string, receivedAt: Date): ParsedEvent {
  if (raw === null || raw.length === 0) return { ok: false, reason: 'empty message (no value)' };
  let value: unknown;
  try {
    value = JSON.parse(raw.toString('utf8'));
  } catch (error) {
    return { ok: false, reason: `invalid JSON: ${(error as Error).message}` };
  }
  const checker = checkers[kind];
  if (!checker.Check(value)) {
    const first = [...checker.Errors(value)][0];
    const field = first?.path ? first.path.slice(1).replace(/\//g, '.') : '';
    return { ok: false, reason: `schema: ${field || '(root)'} ${first?.message ?? 'is invalid'}` };
  }
  const signal = kind === 'sla_miss'
    ? normaliseSlaMiss(value as SlaMissEvent, source, receivedAt)
    : normaliseDqFailure(value as DqFailureEvent, source, receivedAt);
  return { ok: true, signal };
}
