import { sql } from 'drizzle-orm';
import {
  customType,
  pgTable, text, integer, boolean, jsonb, timestamp, uuid, real, bigserial, index, uniqueIndex,
} from 'drizzle-orm/pg-core';

const bytea = customType<{ data: Buffer; driverData: Buffer }>({ dataType: () => 'bytea' });

const ts = (name: string) => timestamp(name, { withTimezone: true, mode: 'date' });

/** Teams that own tables and sources; the `platform` team is the fallback assignee. */
export const teams = pgTable('teams', {
  name: text('name').primaryKey(),
  slack: text('slack'),
  pagerdutyRoutingKey: text('pagerduty_routing_key'),
  platform: boolean('platform').notNull().default(false),
  updatedAt: ts('updated_at').notNull().defaultNow(),
});

/** Onboarded lake tables (DESIGN 4). Owners are not foreign keys: a catalog may name a team before defining it. */
export const catalogTables = pgTable('catalog_tables', {
  name: text('name').primaryKey(),
  owner: text('owner'),
  tier: integer('tier'),
  pipeline: jsonb('pipeline'),
  /** Denormalised from `pipeline` so a signal without `tables` can be mapped dag/task → table. */
  dagId: text('dag_id'),
  upstream: text('upstream').array().notNull().default(sql`'{}'::text[]`),
  source: jsonb('source'),
  sla: jsonb('sla'),
  /** When the table was onboarded: the SLA monitor never reports deadlines from before it. */
  createdAt: ts('created_at').notNull().defaultNow(),
  updatedAt: ts('updated_at').notNull().defaultNow(),
}, (t) => [index('catalog_tables_dag_id_idx').on(t.dagId)]);

/**
 * Every accepted signal. A row exists before the sender gets its 2xx; `diagnosed_at` is set
 * in the same transaction that writes the diagnosis, which is what makes diagnosis exactly-once.
 */
export const signals = pgTable('signals', {
  id: uuid('id').primaryKey(),
  kind: text('kind').notNull(),
  event: text('event'),
  source: text('source').notNull(),
  tableName: text('table_name').notNull(),
  pipeline: jsonb('pipeline').notNull(),
  exception: jsonb('exception'),
  occurredAt: ts('occurred_at').notNull(),
  receivedAt: ts('received_at').notNull().defaultNow(),
  dedupeKey: text('dedupe_key').notNull(),
  payload: jsonb('payload').notNull(),
  diagnosedAt: ts('diagnosed_at'),
  /** Lease of the process diagnosing it; expired leases are re-claimed after a crash. */
  claimedBy: text('claimed_by'),
  claimedUntil: ts('claimed_until'),
  attempts: integer('attempts').notNull().default(0),
  lastError: text('last_error'),
}, (t) => [
  uniqueIndex('signals_dedupe_key_idx').on(t.dedupeKey),
  index('signals_undiagnosed_idx').on(t.receivedAt).where(sql`diagnosed_at IS NULL`),
  index('signals_table_idx').on(t.tableName, t.occurredAt),
  // Analysers ask for a table's failures and successes in a window; SLA misses and DQ events of a
  // busy table must not be scanned to find them.
  index('signals_table_kind_idx').on(t.tableName, t.kind, t.occurredAt),
]);

/** One diagnosis per diagnosed signal (DESIGN 6). */
export const rcaRecords = pgTable('rca_records', {
  id: uuid('id').primaryKey(),
  tableName: text('table_name').notNull(),
  /** The signal that caused this record; unique so a signal can never get two RCAs. */
  signalId: uuid('signal_id').notNull(),
  signalIds: uuid('signal_ids').array().notNull(),
  incidentId: text('incident_id'),
  status: text('status').notNull(),
  category: text('category').notNull(),
  summary: text('summary').notNull(),
  confidence: real('confidence').notNull(),
  assigneeTeam: text('assignee_team'),
  assigneeRole: text('assignee_role').notNull(),
  assigneeReason: text('assignee_reason').notNull(),
  autoResolution: jsonb('auto_resolution'),
  manualSteps: text('manual_steps').notNull(),
  evidence: jsonb('evidence').notNull(),
  createdAt: ts('created_at').notNull().defaultNow(),
  updatedAt: ts('updated_at').notNull().defaultNow(),
  resolvedAt: ts('resolved_at'),
  resolvedBySignal: uuid('resolved_by_signal'),
}, (t) => [
  uniqueIndex('rca_records_signal_id_idx').on(t.signalId),
  index('rca_records_table_idx').on(t.tableName, t.createdAt),
  index('rca_records_created_idx').on(t.createdAt, t.id),
  index('rca_records_incident_idx').on(t.incidentId),
]);

/** Current health, one row per table heard of. */
export const tableHealth = pgTable('table_health', {
  tableName: text('table_name').primaryKey(),
  status: text('status').notNull(),
  since: ts('since').notNull(),
  lastCheckedAt: ts('last_checked_at').notNull(),
  rcaId: uuid('rca_id'),
  /** Newest signal applied, so an older failure diagnosed late cannot undo a newer success. */
  lastSuccessAt: ts('last_success_at'),
}, (t) => [index('table_health_status_idx').on(t.status, t.since)]);

/** Append-only log of every status change. */
export const healthEvents = pgTable('health_events', {
  id: bigserial('id', { mode: 'number' }).primaryKey(),
  tableName: text('table_name').notNull(),
  oldStatus: text('old_status').notNull(),
  newStatus: text('new_status').notNull(),
  rcaId: uuid('rca_id'),
  signalId: uuid('signal_id'),
  reason: text('reason').notNull(),
  at: ts('at').notNull().defaultNow(),
}, (t) => [index('health_events_table_idx').on(t.tableName, t.id)]);

/** Bearer tokens; only a SHA-256 of the token is stored. */
export const apiTokens = pgTable('api_tokens', {
  id: uuid('id').primaryKey(),
  name: text('name').notNull(),
  role: text('role').notNull(),
  tokenHash: text('token_hash').notNull(),
  createdAt: ts('created_at').notNull().defaultNow(),
  revokedAt: ts('revoked_at'),
}, (t) => [uniqueIndex('api_tokens_hash_idx').on(t.tokenHash), uniqueIndex('api_tokens_name_idx').on(t.name)]);

/**
 * Kafka messages that could not become signals (bad JSON, wrong schema, oversized): kept
 * byte for byte so nothing is lost and they can be replayed once the cause is fixed.
 */
export const deadLetters = pgTable('dead_letters', {
  id: uuid('id').primaryKey(),
  topic: text('topic').notNull(),
  partition: integer('partition').notNull(),
  offset: text('offset').notNull(),
  key: bytea('key'),
  value: bytea('value'),
  /** Size of the original value; `value` holds it whole. */
  valueBytes: integer('value_bytes').notNull(),
  headers: jsonb('headers'),
  reason: text('reason').notNull(),
  receivedAt: ts('received_at').notNull().defaultNow(),
  replayedAt: ts('replayed_at'),
  replayedSignalId: uuid('replayed_signal_id'),
}, (t) => [uniqueIndex('dead_letters_position_idx').on(t.topic, t.partition, t.offset), index('dead_letters_received_idx').on(t.receivedAt, t.id)]);

/**
 * One durable auto-resolution job per RCA (DESIGN 7). Retry state lives in these columns
 * (DESIGN 10.5): `attempts`, `max_attempts`, `run_at`, `last_error`; a job is claimed with
 * SKIP LOCKED and a lease (`locked_by`, `locked_until`) so one replica runs each attempt.
 */
export const resolutionJobs = pgTable('resolution_jobs', {
  id: uuid('id').primaryKey(),
  rcaId: uuid('rca_id').notNull(),
  tableName: text('table_name').notNull(),
  resolver: text('resolver').notNull(),
  /** scheduled | running | waiting_recovery | recovered | exhausted | cancelled */
  state: text('state').notNull(),
  attempts: integer('attempts').notNull().default(0),
  maxAttempts: integer('max_attempts').notNull(),
  runAt: ts('run_at').notNull(),
  /** When waiting for a condition (replica lag, upstream health) stops and the job escalates. */
  deadline: ts('deadline'),
  lastError: text('last_error'),
  /** What the resolver needs: Airflow instance, dag, run, tasks, the condition to wait for. */
  params: jsonb('params').notNull(),
  lockedBy: text('locked_by'),
  lockedUntil: ts('locked_until'),
  createdAt: ts('created_at').notNull().defaultNow(),
  updatedAt: ts('updated_at').notNull().defaultNow(),
  finishedAt: ts('finished_at'),
}, (t) => [
  uniqueIndex('resolution_jobs_rca_idx').on(t.rcaId),
  index('resolution_jobs_due_idx').on(t.runAt).where(sql`state = 'scheduled'`),
  index('resolution_jobs_table_idx').on(t.tableName, t.state),
]);

/**
 * Every attempt, written before the external call it makes: a crash mid-call leaves a
 * `started` row, and the attempt is never run a second time (`(job_id, attempt)` is unique).
 */
export const resolutionAttempts = pgTable('resolution_attempts', {
  id: uuid('id').primaryKey(),
  jobId: uuid('job_id').notNull(),
  rcaId: uuid('rca_id').notNull(),
  resolver: text('resolver').notNull(),
  attempt: integer('attempt').notNull(),
  /** started | retriggered | waiting | failed | unknown (the process died during the call) */
  outcome: text('outcome').notNull(),
  detail: jsonb('detail'),
  error: text('error'),
  actor: text('actor').notNull(),
  startedAt: ts('started_at').notNull().defaultNow(),
  finishedAt: ts('finished_at'),
}, (t) => [uniqueIndex('resolution_attempts_job_attempt_idx').on(t.jobId, t.attempt), index('resolution_attempts_rca_idx').on(t.rcaId)]);

/** The audit trail of one-click actions on RCAs: who did what, when. */
export const rcaActions = pgTable('rca_actions', {
  id: uuid('id').primaryKey(),
  rcaId: uuid('rca_id').notNull(),
  action: text('action').notNull(),
  actor: text('actor').notNull(),
  outcome: text('outcome').notNull(),
  detail: jsonb('detail'),
  at: ts('at').notNull().defaultNow(),
}, (t) => [index('rca_actions_rca_idx').on(t.rcaId, t.at)]);

/** A bigint read as a JS number (node-postgres hands int8 over as a string); health event ids stay far below 2^53. */
const bigintNumber = customType<{ data: number; driverData: string | number }>({ dataType: () => 'bigint', fromDriver: (value) => Number(value) });

/**
 * Webhook subscriptions on health changes (DESIGN 8). `secret` signs every delivery, so it is
 * kept as given; the API never returns it. `filter` is a WebhookFilter (src/webhooks/formats.ts).
 * A subscription that keeps failing is `paused` (with `paused_reason`) until resumed.
 */
export const webhookSubscriptions = pgTable('webhook_subscriptions', {
  id: uuid('id').primaryKey(),
  name: text('name').notNull(),
  url: text('url').notNull(),
  secret: text('secret').notNull(),
  /** medic | pagerduty | alertmanager */
  format: text('format').notNull(),
  filter: jsonb('filter').notNull().default(sql`'{}'::jsonb`),
  /** PagerDuty integration key; when null the table owner's `teams.pagerduty_routing_key` is used. */
  pagerdutyRoutingKey: text('pagerduty_routing_key'),
  /** active | paused */
  state: text('state').notNull().default('active'),
  consecutiveFailures: integer('consecutive_failures').notNull().default(0),
  pausedReason: text('paused_reason'),
  pausedAt: ts('paused_at'),
  createdBy: text('created_by').notNull(),
  createdAt: ts('created_at').notNull().defaultNow(),
  updatedAt: ts('updated_at').notNull().defaultNow(),
}, (t) => [index('webhook_subscriptions_created_idx').on(t.createdAt, t.id)]);

/**
 * One delivery per (subscription, health event): its id is the event id the receiver sees in
 * `X-Medic-Event-Id`, and `body` the exact bytes sent on every attempt, so receivers dedupe.
 * Retry state lives in the columns (DESIGN 10.5); an attempt is claimed with SKIP LOCKED and a
 * lease (`locked_by`, `locked_until`), and counted when claimed, so a crash cannot retry forever.
 */
export const webhookDeliveries = pgTable('webhook_deliveries', {
  id: uuid('id').primaryKey(),
  /** Insertion order: a subscription's deliveries are sent, and listed, in this order. */
  seq: bigserial('seq', { mode: 'number' }).notNull(),
  subscriptionId: uuid('subscription_id').notNull().references(() => webhookSubscriptions.id, { onDelete: 'cascade' }),
  /** Null for a test delivery (POST /v1/subscriptions/{id}/test). */
  healthEventId: bigintNumber('health_event_id'),
  /** health_changed | test */
  kind: text('kind').notNull(),
  body: text('body').notNull(),
  /** pending | delivered | failed | dead */
  state: text('state').notNull(),
  attempts: integer('attempts').notNull().default(0),
  maxAttempts: integer('max_attempts').notNull(),
  runAt: ts('run_at').notNull(),
  lastStatus: integer('last_status'),
  lastError: text('last_error'),
  lockedBy: text('locked_by'),
  lockedUntil: ts('locked_until'),
  createdAt: ts('created_at').notNull().defaultNow(),
  updatedAt: ts('updated_at').notNull().defaultNow(),
  deliveredAt: ts('delivered_at'),
}, (t) => [
  uniqueIndex('webhook_deliveries_event_idx').on(t.subscriptionId, t.healthEventId),
  index('webhook_deliveries_log_idx').on(t.subscriptionId, t.seq),
  index('webhook_deliveries_open_idx').on(t.subscriptionId, t.seq).where(sql`state IN ('pending', 'failed')`),
]);

/**
 * How far health events were fanned out into deliveries: every event id ≤ `last_event_id` is
 * done. Events above it that are done too are listed in `webhook_fanout` — ids are allocated
 * before commit, so a later id can be visible before an earlier one and a plain cursor would
 * skip the earlier one.
 */
export const webhookCursor = pgTable('webhook_cursor', {
  name: text('name').primaryKey(),
  lastEventId: bigintNumber('last_event_id').notNull(),
  updatedAt: ts('updated_at').notNull().defaultNow(),
});

/** Health events above the cursor already fanned out (see `webhook_cursor`). */
export const webhookFanout = pgTable('webhook_fanout', {
  healthEventId: bigintNumber('health_event_id').primaryKey(),
  at: ts('at').notNull().defaultNow(),
});
