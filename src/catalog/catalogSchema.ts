import { Type, type Static } from '@sinclair/typebox';

/** Table and team names: printable, no slashes or spaces, so they are safe in URLs and logs. */
export const NamePattern = '^[A-Za-z0-9_][A-Za-z0-9_.:@-]*$';
export const TableName = Type.String({ minLength: 1, maxLength: 256, pattern: NamePattern, description: 'Lake table name, e.g. lake.orders' });
export const TeamName = Type.String({ minLength: 1, maxLength: 128, pattern: NamePattern });

export const TeamSchema = Type.Object({
  name: TeamName,
  slack: Type.Optional(Type.Union([Type.String({ maxLength: 256 }), Type.Null()])),
  pagerduty_routing_key: Type.Optional(Type.Union([Type.String({ maxLength: 256 }), Type.Null()])),
  platform: Type.Optional(Type.Boolean()),
}, { additionalProperties: false, $id: 'Team' });

export const TableSchema = Type.Object({
  name: TableName,
  owner: Type.Optional(Type.Union([TeamName, Type.Null()])),
  tier: Type.Optional(Type.Union([Type.Integer({ minimum: 0, maximum: 9 }), Type.Null()])),
  pipeline: Type.Optional(Type.Union([Type.Object({
    airflow: Type.Optional(Type.String({ minLength: 1, maxLength: 64, pattern: '^[A-Za-z0-9_-]+$' })),
    dag_id: Type.String({ minLength: 1, maxLength: 250 }),
    task_ids: Type.Optional(Type.Array(Type.String({ minLength: 1, maxLength: 250 }), { maxItems: 1000 })),
  }, { additionalProperties: false }), Type.Null()])),
  upstream: Type.Optional(Type.Array(TableName, { maxItems: 1000 })),
  source: Type.Optional(Type.Union([Type.Object({
    kind: Type.String({ minLength: 1, maxLength: 64 }),
    name: Type.String({ minLength: 1, maxLength: 128 }),
    owner: Type.Optional(Type.Union([TeamName, Type.Null()])),
    max_replica_lag_s: Type.Optional(Type.Union([Type.Number({ minimum: 0 }), Type.Null()])),
  }, { additionalProperties: false }), Type.Null()])),
  sla: Type.Optional(Type.Union([Type.Object({
    schedule: Type.String({ minLength: 1, maxLength: 128 }),
    complete_within_minutes: Type.Integer({ minimum: 1, maximum: 100_000 }),
  }, { additionalProperties: false }), Type.Null()])),
}, { additionalProperties: false, $id: 'CatalogTable' });

export const CatalogDocumentSchema = Type.Object({
  teams: Type.Optional(Type.Array(TeamSchema, { maxItems: 10_000 })),
  tables: Type.Optional(Type.Array(TableSchema, { maxItems: 100_000 })),
}, { additionalProperties: false });

/** PUT bodies carry no name: it comes from the path. */
export const TableBodySchema = Type.Omit(TableSchema, ['name'], { additionalProperties: false });
export const TeamBodySchema = Type.Omit(TeamSchema, ['name'], { additionalProperties: false });

export type CatalogDocumentInput = Static<typeof CatalogDocumentSchema>;
