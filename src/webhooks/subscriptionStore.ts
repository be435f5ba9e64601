import { randomUUID } from 'node:crypto';
import { and, desc, eq, lt, or, sql, type SQL } from 'drizzle-orm';
import type { Db } from '../db/client.ts';
import { keysetPage } from '../db/healthQueries.ts';
import { webhookDeliveries, webhookSubscriptions } from '../db/schema.ts';
import { buildPayload, type WebhookFilter, type WebhookFormat } from './formats.ts';

type SubscriptionRow = typeof webhookSubscriptions.$inferSelect;
type DeliveryRow = typeof webhookDeliveries.$inferSelect;

const iso = (d: Date | null) => (d ? d.toISOString() : null);

/** A subscription as the API shows it: never the secret, nor the PagerDuty key itself. */
export function subscriptionView(row: SubscriptionRow) {
  return {
    id: row.id,
    name: row.name,
    url: row.url,
    format: row.format as WebhookFormat,
    filter: row.filter as WebhookFilter,
    has_pagerduty_routing_key: row.pagerdutyRoutingKey !== null,
    state: row.state as 'active' | 'paused',
    consecutive_failures: row.consecutiveFailures,
    paused_reason: row.pausedReason,
    paused_at: iso(row.pausedAt),
    created_by: row.createdBy,
    created_at: row.createdAt.toISOString(),
    updated_at: row.updatedAt.toISOString(),
  };
}

export type SubscriptionView = ReturnType<typeof subscriptionView>;

export interface NewSubscription {
  name?: string;
  url: string;
  secret: string;
  format: WebhookFormat;
  filter?: WebhookFilter;
  pagerdutyRoutingKey?: string | null;
  createdBy: string;
}

/** Creates a subscription; it receives the transitions made from now on, not earlier ones. */
export async function createSubscription(db: Db, input: NewSubscription): Promise<SubscriptionView> {
  const [row] = await db.insert(webhookSubscriptions).values({
    id: randomUUID(),
    name: input.name ?? new URL(input.url).host,
    url: input.url,
    secret: input.secret,
    format: input.format,
    filter: input.filter ?? {},
    pagerdutyRoutingKey: input.pagerdutyRoutingKey ?? null,
    createdBy: input.createdBy,
  }).returning();
  return subscriptionView(row!);
}

export async function getSubscription(db: Db, id: string): Promise<SubscriptionView | null> {
  const [row] = await db.select().from(webhookSubscriptions).where(eq(webhookSubscriptions.id, id));
  return row ? subscriptionView(row) : null;
}

/** Subscriptions, newest first, keyset-paginated on (created_at, id). */
export async function listSubscriptions(db: Db, filters: { state?: string; format?: string }, limit: number, cursor: { at: Date; id: string } | null) {
  const where: SQL[] = [];
  if (filters.state) where.push(eq(webhookSubscriptions.state, filters.state));
  if (filters.format) where.push(eq(webhookSubscriptions.format, filters.format));
  if (cursor) where.push(or(lt(webhookSubscriptions.createdAt, cursor.at), and(eq(webhookSubscriptions.createdAt, cursor.at), lt(webhookSubscriptions.id, cursor.id)))!);
  const rows = await db.select().from(webhookSubscriptions).where(and(...where))
    .orderBy(desc(webhookSubscriptions.createdAt), desc(webhookSubscriptions.id)).limit(limit + 1);
  return keysetPage(rows, limit, subscriptionView, (r) => ({ at: r.createdAt, id: r.id }));
}

/** Deletes a subscription and its delivery log; false when there was none (the API answers 204 either way). */
export async function deleteSubscription(db: Db, id: string): Promise<boolean> {
  const rows = await db.delete(webhookSubscriptions).where(eq(webhookSubscriptions.id, id)).returning({ id: webhookSubscriptions.id });
  return rows.length > 0;
}

/**
 * Un-pauses a subscription: its failure count starts again from zero and its waiting
 * deliveries are due at once, oldest first. Resuming an active subscription changes nothing.
 */
export async function resumeSubscription(db: Db, id: string): Promise<{ subscription: SubscriptionView; changed: boolean } | null> {
  return db.transaction(async (tx) => {
    const [row] = await tx.select().from(webhookSubscriptions).where(eq(webhookSubscriptions.id, id)).for('update');
    if (!row) return null;
    if (row.state !== 'paused') return { subscription: subscriptionView(row), changed: false };
    const now = new Date();
    const [updated] = await tx.update(webhookSubscriptions)
      .set({ state: 'active', consecutiveFailures: 0, pausedReason: null, pausedAt: null, updatedAt: now })
      .where(eq(webhookSubscriptions.id, id)).returning();
    await tx.update(webhookDeliveries).set({ runAt: now, updatedAt: now })
      .where(and(eq(webhookDeliveries.subscriptionId, id), sql`${webhookDeliveries.state} IN ('pending', 'failed')`, sql`${webhookDeliveries.runAt} > ${now}`));
    return { subscription: subscriptionView(updated!), changed: true };
  });
}

/** Pauses a subscription (the worker does this after repeated failures; also useful by hand). */
export async function pauseSubscription(db: Db, id: string, reason: string): Promise<SubscriptionView | null> {
  const [row] = await db.update(webhookSubscriptions).set({ state: 'paused', pausedReason: reason, pausedAt: new Date(), updatedAt: new Date() })
    .where(eq(webhookSubscriptions.id, id)).returning();
  return row ? subscriptionView(row) : null;
}

/** One line of the delivery log. */
export function deliveryView(row: DeliveryRow) {
  let payload: unknown = null;
  try {
    payload = JSON.parse(row.body);
  } catch {
    payload = row.body;
  }
  const waiting = row.state === 'pending' || row.state === 'failed';
  return {
    id: row.id,
    subscription_id: row.subscriptionId,
    kind: row.kind as 'health_changed' | 'test',
    health_event_id: row.healthEventId,
    state: row.state as 'pending' | 'delivered' | 'failed' | 'dead',
    attempts: row.attempts,
    max_attempts: row.maxAttempts,
    last_status: row.lastStatus,
    last_error: row.lastError,
    created_at: row.createdAt.toISOString(),
    delivered_at: iso(row.deliveredAt),
    next_attempt_at: waiting ? row.runAt.toISOString() : null,
    payload,
  };
}

/**
 * A subscription's deliveries, newest first (in the order they were queued), keyset-paginated
 * on their sequence number; `cursor.id` is that number.
 */
export async function listDeliveries(db: Db, subscriptionId: string, filters: { state?: string }, limit: number, cursor: { at: Date; id: string } | null) {
  const where: SQL[] = [eq(webhookDeliveries.subscriptionId, subscriptionId)];
  if (filters.state) where.push(eq(webhookDeliveries.state, filters.state));
  if (cursor) where.push(lt(webhookDeliveries.seq, Number(cursor.id)));
  const rows = await db.select().from(webhookDeliveries).where(and(...where)).orderBy(desc(webhookDeliveries.seq)).limit(limit + 1);
  return keysetPage(rows, limit, deliveryView, (r) => ({ at: r.createdAt, id: String(r.seq) }));
}

/**
 * Queues a synthetic event (`medic.webhook-test` turning degraded) for a subscription, in its
 * format, signed and retried like any other. A PagerDuty subscription needs a routing key of its
 * own for this: the test table has no owner team to take one from.
 */
export async function enqueueTestDelivery(db: Db, subscriptionId: string, options: { publicUrl: string; maxAttempts: number; requestedBy: string }): Promise<{ status: 'queued'; deliveryId: string } | { status: 'not_found' } | { status: 'no_routing_key' }> {
  const [sub] = await db.select().from(webhookSubscriptions).where(eq(webhookSubscriptions.id, subscriptionId));
  if (!sub) return { status: 'not_found' };
  if (sub.format === 'pagerduty' && !sub.pagerdutyRoutingKey) return { status: 'no_routing_key' };
  const id = randomUUID();
  const now = new Date();
  const payload = buildPayload(sub.format as WebhookFormat, {
    healthEventId: null, table: 'medic.webhook-test', oldStatus: 'healthy', newStatus: 'degraded', at: now,
    reason: `test event requested by ${options.requestedBy}`, tier: null, owner: null, rca: null, previous: null,
    episode: { key: `test-${id}`, startedAt: now }, test: true,
  }, { publicUrl: options.publicUrl, eventId: id, routingKey: sub.pagerdutyRoutingKey, receiver: sub.name });
  await db.insert(webhookDeliveries).values({
    id, subscriptionId, healthEventId: null, kind: 'test', body: JSON.stringify(payload), state: 'pending',
    attempts: 0, maxAttempts: options.maxAttempts, runAt: now, createdAt: now, updatedAt: now,
  });
  return { status: 'queued', deliveryId: id };
}

/**
 * Deliveries waiting (pending or failed) and paused subscriptions, per format: for scrape-time
 * gauges (medic_webhook_deliveries_waiting{format}, medic_webhook_subscriptions_paused{format}).
 */
export async function webhookBacklog(db: Db): Promise<Array<{ format: string; waiting: number; paused: number }>> {
  const result = await db.execute<{ format: string; waiting: number; paused: number }>(sql`
    SELECT s.format,
           (SELECT count(*) FROM ${webhookDeliveries} d JOIN ${webhookSubscriptions} x ON x.id = d.subscription_id
             WHERE x.format = s.format AND d.state IN ('pending', 'failed'))::int AS waiting,
           (count(*) FILTER (WHERE s.state = 'paused'))::int AS paused
    FROM ${webhookSubscriptions} s GROUP BY s.format`);
  return result.rows.map((r) => ({ format: r.format, waiting: Number(r.waiting), paused: Number(r.paused) }));
}
