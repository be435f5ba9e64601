import { Type, type TSchema } from '@sinclair/typebox';
import { CATEGORIES, ASSIGNEE_ROLES } from '../diagnosers/taxonomy.ts';

/** Shared response pieces, so /openapi.json documents exactly what the routes send. */
export const ErrorSchema = Type.Object({
  error: Type.Object({ code: Type.String(), message: Type.String(), field: Type.Optional(Type.String()) }),
}, { $id: 'Error' });

export const errorResponses = {
  400: ErrorSchema, 401: ErrorSchema, 403: ErrorSchema, 404: ErrorSchema, 413: ErrorSchema, 415: ErrorSchema, 429: ErrorSchema, 503: ErrorSchema,
};

export const HealthStatusSchema = Type.Union([Type.Literal('healthy'), Type.Literal('degraded'), Type.Literal('unhealthy'), Type.Literal('unknown')]);
export const CategorySchema = Type.Union(CATEGORIES.map((c) => Type.Literal(c)));
export const AssigneeSchema = Type.Object({ team: Type.Union([Type.String(), Type.Null()]), role: Type.Union(ASSIGNEE_ROLES.map((r) => Type.Literal(r))), reason: Type.Optional(Type.String()) });
export const RcaStatusSchema = Type.Union(['open', 'resolving', 'resolved', 'escalated', 'acknowledged'].map((s) => Type.Literal(s)));

export const Nullable = <T extends TSchema>(schema: T) => Type.Union([schema, Type.Null()]);
export const DateTimeString = Type.String({ format: 'date-time' });

export const SignalAcceptedSchema = Type.Object({
  signal_id: Type.String({ format: 'uuid' }),
  signal_ids: Type.Array(Type.String({ format: 'uuid' }), { description: 'One per table when the callback names several' }),
  duplicate: Type.Boolean(),
});

export const TableHealthSchema = Type.Object({
  table: Type.String(),
  status: HealthStatusSchema,
  since: DateTimeString,
  last_checked_at: DateTimeString,
  error: Nullable(Type.Object({ category: CategorySchema, summary: Type.String() })),
  rca_id: Nullable(Type.String({ format: 'uuid' })),
  assignee: Nullable(AssigneeSchema),
  resolution: Nullable(Type.Object({ resolver: Type.String(), state: Type.String(), attempts: Type.Integer(), max_attempts: Type.Integer(), next_attempt_at: Nullable(DateTimeString), last_error: Nullable(Type.String()) })),
  owner: Nullable(Type.String()),
  tier: Nullable(Type.Integer()),
  in_catalog: Type.Boolean(),
}, { $id: 'TableHealth' });

export const EvidenceSchema = Type.Object({
  analyser: Type.String(), version: Type.String(), inputs: Type.Record(Type.String(), Type.Unknown()),
  observations: Type.Record(Type.String(), Type.Unknown()),
  findings: Type.Array(Type.Object({ messageId: Type.String(), text: Type.String(), data: Type.Optional(Type.Record(Type.String(), Type.Union([Type.String(), Type.Number()]))) })),
  verdict: Nullable(Type.Record(Type.String(), Type.Unknown())),
  error: Nullable(Type.String()),
  duration_ms: Type.Number(),
});

export const RcaSchema = Type.Object({
  id: Type.String({ format: 'uuid' }),
  table: Type.String(),
  incident_id: Nullable(Type.String()),
  status: RcaStatusSchema,
  category: CategorySchema,
  summary: Type.String(),
  confidence: Type.Number(),
  assignee: AssigneeSchema,
  auto_resolution: Nullable(Type.Record(Type.String(), Type.Unknown())),
  manual_steps: Type.String(),
  signal_ids: Type.Array(Type.String({ format: 'uuid' })),
  evidence: Type.Optional(Type.Array(EvidenceSchema, { description: 'admin role only' })),
  created_at: DateTimeString,
  updated_at: DateTimeString,
  resolved_at: Nullable(DateTimeString),
}, { $id: 'Rca' });

export const RcaDetailSchema = Type.Intersect([RcaSchema, Type.Object({
  attempts: Type.Array(Type.Object({
    attempt: Type.Integer(), resolver: Type.String(), outcome: Type.String(), actor: Type.String(),
    detail: Nullable(Type.Record(Type.String(), Type.Unknown())), error: Nullable(Type.String()),
    started_at: DateTimeString, finished_at: Nullable(DateTimeString),
  })),
  actions: Type.Array(Type.Object({ action: Type.String(), actor: Type.String(), outcome: Type.String(), detail: Nullable(Type.Record(Type.String(), Type.Unknown())), at: DateTimeString })),
})]);

export const listOf = <T extends TSchema>(item: T) => Type.Object({ items: Type.Array(item), next_cursor: Nullable(Type.String()) });

export const LimitQuery = Type.Optional(Type.Integer({ minimum: 1, maximum: 1000, default: 100 }));
export const CursorQuery = Type.Optional(Type.String({ maxLength: 200 }));
