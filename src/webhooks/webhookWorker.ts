import { randomUUID } from 'node:crypto';
import { and, eq, gt, inArray, lte, sql } from 'drizzle-orm';
import type { Logger } from 'pino';
import type { Database, Tx } from '../db/client.ts';
import { webhookCursor, webhookDeliveries, webhookFanout, webhookSubscriptions } from '../db/schema.ts';
import { normaliseError } from '../errors.ts';
import { PollingLoop } from '../pollingLoop.ts';
import { backoffDelayMs, type BackoffOptions } from '../resolvers/engine/backoff.ts';
import { buildPayload, matchesFilter, type RcaBrief, type TransitionContext, type WebhookFilter, type WebhookFormat } from './formats.ts';
import { deliveryHeaders } from './signing.ts';

/** Held (per transaction) by the replica fanning health events out; the others skip that pass. */
const WEBHOOK_FANOUT_LOCK = 7_304_119_004;
const CURSOR = 'health_events';

/** Webhook delivery settings (config: MEDIC_WEBHOOK_*). */
export interface WebhookWorkerSettings {
  /** How often new health events and due deliveries are looked for. Default 1000 ms. */
  pollMs: number;
  /** How long a claimed delivery stays reserved for the process sending it; must exceed `timeoutMs`. Default 60 s. */
  leaseSeconds: number;
  /** Attempts per delivery before it is `dead`. Default 10. */
  maxAttempts: number;
  /** Delay between attempts: the one backoff formula (src/resolvers/engine/backoff.ts). Default 10 s · 2^(n−1), capped at 1 h, 20 % jitter. */
  backoff: BackoffOptions;
  /** Consecutive failed attempts after which a subscription is paused. Default 5. */
  pauseAfterFailures: number;
  /** Time a receiver has to answer one attempt. Default 10 000 ms. */
  timeoutMs: number;
  /** Base URL of this API, for links in payloads (MEDIC_PUBLIC_URL). */
  publicUrl: string;
  /** Health events fanned out per transaction. Default 200. */
  batchSize?: number;
  /**
   * How long a gap in health event ids may stay open before the fan-out takes it for a rolled
   * back transaction and moves its cursor past it. Default 5 min.
   */
  gapGraceMs?: number;
}

export interface WebhookWorkerOptions {
  database: Database;
  log: Logger;
  options: WebhookWorkerSettings;
  /** Called on every failed attempt (non-2xx, timeout, refused) — for medic_webhook_delivery_failures_total{format}. */
  onDeliveryFailed?: (format: WebhookFormat) => void;
  /** Called on every delivered event — for medic_webhook_deliveries_total{format}. */
  onDelivered?: (format: WebhookFormat) => void;
  /** Called when a subscription is paused after repeated failures. */
  onSubscriptionPaused?: (format: WebhookFormat) => void;
}

interface Claimed {
  id: string;
  subscriptionId: string;
  body: string;
  attempts: number;
  maxAttempts: number;
  url: string;
  secret: string;
  format: WebhookFormat;
}

type Outcome = { ok: true; status: number } | { ok: false; status: number | null; error: string; retryAfterMs: number } | { ok: 'interrupted' };

/**
 * Sends webhooks on health changes (DESIGN 8). Two steps per pass:
 *
 * 1. Fan-out, under an advisory lock so one replica does it: health events not yet fanned out
 *    become one delivery per matching subscription (unique per subscription and event), in the
 *    transaction that marks them done — so a transition is enqueued exactly once.
 * 2. Delivery, in any replica: due deliveries are claimed with SKIP LOCKED and a lease, at
 *    most one per subscription at a time and oldest first (a resolve never overtakes its
 *    trigger), POSTed signed with a timeout, and retried after the shared backoff from state in
 *    `webhook_deliveries`. A subscription failing `pauseAfterFailures` times in a row is paused;
 *    its deliveries wait, unattempted, until it is resumed.
 */
export class WebhookWorker {
  readonly id = `webhook-${randomUUID().slice(0, 8)}`;
  private readonly loop: PollingLoop;
  private readonly settings: Required<WebhookWorkerSettings>;
  private readonly log: Logger;

  constructor(private readonly deps: WebhookWorkerOptions) {
    this.settings = { batchSize: 200, gapGraceMs: 5 * 60_000, ...deps.options };
    this.log = deps.log.child({ component: 'webhooks' });
    this.loop = new PollingLoop({
      name: 'webhook worker', pollMs: this.settings.pollMs, log: this.log,
      pass: async () => {
        await this.fanOut();
        await this.deliverDue();
      },
    });
  }

  start(): void {
    this.loop.start();
  }

  stop(): Promise<void> {
    return this.loop.stop();
  }

  /** Something was queued (a test event): look now rather than at the next poll. */
  poke(): void {
    this.loop.poke();
  }

  /** One pass now (also what the timer calls): fan out, then deliver what is due. Never throws. */
  tick(): Promise<void> {
    return this.loop.tick();
  }

  /** Fans out until no health event is left; returns how many were read. */
  async fanOut(): Promise<number> {
    let total = 0;
    for (;;) {
      const read = await this.fanOutBatch();
      total += read;
      if (read < this.settings.batchSize || this.loop.signal.aborted) return total;
    }
  }

  private async fanOutBatch(): Promise<number> {
    return this.deps.database.db.transaction(async (tx) => {
      const lock = await tx.execute<{ locked: boolean }>(sql`SELECT pg_try_advisory_xact_lock(${WEBHOOK_FANOUT_LOCK}) AS locked`);
      if (!lock.rows[0]?.locked) return 0;
      // Normally written by the migration; this covers a database restored without the row.
      await tx.execute(sql`INSERT INTO ${webhookCursor} (name, last_event_id) SELECT ${CURSOR}, coalesce(max(id), 0) FROM health_events ON CONFLICT DO NOTHING`);
      const [cursor] = await tx.select({ lastEventId: webhookCursor.lastEventId }).from(webhookCursor).where(eq(webhookCursor.name, CURSOR));
      const floor = cursor!.lastEventId;
      const events = await readTransitions(tx, floor, this.settings.batchSize);
      if (events.length > 0) {
        const subscriptions = await tx.select().from(webhookSubscriptions);
        const rows: Array<typeof webhookDeliveries.$inferInsert> = [];
        const now = new Date();
        for (const event of events) {
          for (const sub of subscriptions) {
            // A subscription receives the transitions made after it was created, not the history.
            if (event.context.at < sub.createdAt) continue;
            if (!matchesFilter(sub.filter as WebhookFilter, event.context)) continue;
            const id = randomUUID();
            const format = sub.format as WebhookFormat;
            const routingKey = sub.pagerdutyRoutingKey ?? event.ownerRoutingKey;
            const payload = buildPayload(format, event.context, { publicUrl: this.settings.publicUrl, eventId: id, routingKey, receiver: sub.name });
            if (!payload) continue;
            const unroutable = format === 'pagerduty' && !routingKey;
            rows.push({
              id, subscriptionId: sub.id, healthEventId: event.context.healthEventId, kind: 'health_changed', body: JSON.stringify(payload),
              state: unroutable ? 'dead' : 'pending', attempts: 0, maxAttempts: this.settings.maxAttempts, runAt: now,
              lastError: unroutable ? `no PagerDuty routing key: set pagerduty_routing_key on the subscription or on team ${event.context.owner ?? '(the table has no owner in the catalog)'}` : null,
              createdAt: now, updatedAt: now,
            });
          }
        }
        for (let i = 0; i < rows.length; i += 500) await tx.insert(webhookDeliveries).values(rows.slice(i, i + 500)).onConflictDoNothing();
        await tx.insert(webhookFanout).values(events.map((e) => ({ healthEventId: e.context.healthEventId! }))).onConflictDoNothing();
        if (rows.length > 0) this.log.debug({ events: events.length, deliveries: rows.length }, 'health events fanned out to webhook subscriptions');
      }
      await this.advanceCursor(tx, floor);
      return events.length;
    });
  }

  /**
   * Moves the cursor over the ids fanned out contiguously above it. An id missing below a
   * fanned-out one belongs to a transaction not committed yet, or rolled back; it is waited
   * for `gapGraceMs` (measured from when the later event was fanned out), then given up.
   */
  private async advanceCursor(tx: Tx, floor: number): Promise<void> {
    const done = await tx.select({ id: webhookFanout.healthEventId, settled: sql<boolean>`${webhookFanout.at} <= now() - make_interval(secs => ${this.settings.gapGraceMs / 1000})` })
      .from(webhookFanout).where(gt(webhookFanout.healthEventId, floor)).orderBy(webhookFanout.healthEventId);
    let next = floor;
    for (const row of done) {
      if (row.id !== next + 1 && !row.settled) break;
      if (row.id !== next + 1) this.log.warn({ from: next + 1, to: row.id - 1 }, 'health event ids never committed (rolled back?); moving the webhook cursor past them');
      next = row.id;
    }
    if (next === floor) return;
    await tx.delete(webhookFanout).where(lte(webhookFanout.healthEventId, next));
    await tx.update(webhookCursor).set({ lastEventId: next, updatedAt: new Date() }).where(eq(webhookCursor.name, CURSOR));
  }

  /** Claims and sends due deliveries until none is left. */
  async deliverDue(): Promise<number> {
    let total = 0;
    while (!this.loop.signal.aborted) {
      const claimed = await this.claim(10);
      await Promise.all(claimed.map((d) => this.deliver(d)));
      total += claimed.length;
      if (claimed.length === 0) break;
    }
    return total;
  }

  /**
   * The oldest waiting delivery of each active subscription, when due and not leased: one at
   * a time per subscription keeps its events in order. The attempt is counted when claimed.
   * The state conditions are on the locked row itself, so PostgreSQL re-checks them against a
   * version another replica committed meanwhile.
   */
  private async claim(limit: number): Promise<Claimed[]> {
    const { db } = this.deps.database;
    const result = await db.execute<{ id: string; subscription_id: string; body: string; attempts: number; max_attempts: number }>(sql`
      WITH heads AS (
        SELECT DISTINCT ON (d.subscription_id) d.id
        FROM ${webhookDeliveries} d JOIN ${webhookSubscriptions} s ON s.id = d.subscription_id AND s.state = 'active'
        WHERE d.state IN ('pending', 'failed')
        ORDER BY d.subscription_id, d.seq
      ), due AS (
        SELECT d.id FROM ${webhookDeliveries} d
        WHERE d.id IN (SELECT id FROM heads) AND d.state IN ('pending', 'failed') AND d.run_at <= now()
          AND (d.locked_until IS NULL OR d.locked_until < now())
        ORDER BY d.run_at LIMIT ${limit} FOR UPDATE SKIP LOCKED
      )
      UPDATE ${webhookDeliveries} d SET attempts = d.attempts + 1, locked_by = ${this.id},
        locked_until = now() + make_interval(secs => ${this.settings.leaseSeconds}), updated_at = now()
      FROM due WHERE d.id = due.id
      RETURNING d.id, d.subscription_id, d.body, d.attempts, d.max_attempts`);
    if (result.rows.length === 0) return [];
    const subs = await db.select({ id: webhookSubscriptions.id, url: webhookSubscriptions.url, secret: webhookSubscriptions.secret, format: webhookSubscriptions.format })
      .from(webhookSubscriptions).where(inArray(webhookSubscriptions.id, [...new Set(result.rows.map((r) => r.subscription_id))]));
    const byId = new Map(subs.map((s) => [s.id, s]));
    return result.rows.flatMap((r) => {
      const sub = byId.get(r.subscription_id);
      // Deleted meanwhile: its deliveries went with it.
      return sub ? [{ id: r.id, subscriptionId: r.subscription_id, body: r.body, attempts: Number(r.attempts), maxAttempts: Number(r.max_attempts), url: sub.url, secret: sub.secret, format: sub.format as WebhookFormat }] : [];
    });
  }

  private async deliver(d: Claimed): Promise<void> {
    const log = this.log.child({ delivery_id: d.id, subscription_id: d.subscriptionId, attempt: d.attempts });
    try {
      // A process died holding it after its last allowed attempt: that attempt counted.
      const outcome: Outcome = d.attempts > d.maxAttempts
        ? { ok: false, status: null, error: 'the process sending the last attempt died; its outcome is unknown', retryAfterMs: 0 }
        : await this.post(d);
      if (outcome.ok === 'interrupted') {
        await this.release(d);
      } else if (outcome.ok) {
        await this.recordDelivered(d, outcome.status);
        this.deps.onDelivered?.(d.format);
        log.debug({ status: outcome.status }, 'webhook delivered');
      } else {
        this.deps.onDeliveryFailed?.(d.format);
        await this.recordFailed(d, outcome, log);
      }
    } catch (error) {
      log.error({ err: normaliseError(error, `webhook delivery ${d.id}`) }, 'recording a webhook attempt failed; the lease will expire and it is tried again');
    }
  }

  private async post(d: Claimed): Promise<Outcome> {
    const timeout = AbortSignal.timeout(this.settings.timeoutMs);
    try {
      const response = await fetch(d.url, {
        method: 'POST',
        headers: deliveryHeaders({ eventId: d.id, secret: d.secret, body: d.body }),
        body: d.body,
        // A redirect is the receiver's misconfiguration: following it would send the payload somewhere unverified.
        redirect: 'manual',
        signal: AbortSignal.any([timeout, this.loop.signal]),
      });
      if (response.status >= 200 && response.status < 300) {
        await response.body?.cancel().catch(() => undefined);
        return { ok: true, status: response.status };
      }
      const text = await readSnippet(response);
      const retryAfter = Number(response.headers.get('retry-after'));
      return {
        ok: false, status: response.status,
        error: `HTTP ${response.status}${text ? `: ${text}` : ''}`,
        retryAfterMs: Number.isFinite(retryAfter) && retryAfter > 0 ? Math.min(retryAfter, 3600) * 1000 : 0,
      };
    } catch (error) {
      if (this.loop.signal.aborted) return { ok: 'interrupted' };
      if (timeout.aborted) return { ok: false, status: null, error: `no answer within ${this.settings.timeoutMs} ms`, retryAfterMs: 0 };
      const cause = (error as { cause?: { code?: string; message?: string } }).cause;
      return { ok: false, status: null, error: `request failed: ${cause?.code ?? cause?.message ?? (error as Error).message}`, retryAfterMs: 0 };
    }
  }

  private async recordDelivered(d: Claimed, status: number): Promise<void> {
    await this.deps.database.db.transaction(async (tx) => {
      const now = new Date();
      const moved = await tx.update(webhookDeliveries)
        .set({ state: 'delivered', deliveredAt: now, lastStatus: status, lastError: null, lockedBy: null, lockedUntil: null, updatedAt: now })
        .where(and(eq(webhookDeliveries.id, d.id), eq(webhookDeliveries.lockedBy, this.id))).returning({ id: webhookDeliveries.id });
      if (moved.length === 0) return;
      await tx.update(webhookSubscriptions).set({ consecutiveFailures: 0, updatedAt: now })
        .where(and(eq(webhookSubscriptions.id, d.subscriptionId), gt(webhookSubscriptions.consecutiveFailures, 0)));
    });
  }

  /** A failed attempt: retried after the backoff, or dead once out of attempts; the subscription is paused after too many in a row. */
  private async recordFailed(d: Claimed, outcome: { status: number | null; error: string; retryAfterMs: number }, log: Logger): Promise<void> {
    const dead = d.attempts >= d.maxAttempts;
    const delay = Math.max(backoffDelayMs(d.attempts, this.settings.backoff), outcome.retryAfterMs);
    const paused = await this.deps.database.db.transaction(async (tx) => {
      const now = new Date();
      const moved = await tx.update(webhookDeliveries).set({
        state: dead ? 'dead' : 'failed', runAt: new Date(now.getTime() + delay), lastStatus: outcome.status, lastError: outcome.error.slice(0, 1000),
        lockedBy: null, lockedUntil: null, updatedAt: now,
      }).where(and(eq(webhookDeliveries.id, d.id), eq(webhookDeliveries.lockedBy, this.id))).returning({ id: webhookDeliveries.id });
      if (moved.length === 0) return false;
      const limit = this.settings.pauseAfterFailures;
      const [sub] = await tx.update(webhookSubscriptions).set({
        consecutiveFailures: sql`${webhookSubscriptions.consecutiveFailures} + 1`,
        state: sql`CASE WHEN ${webhookSubscriptions.consecutiveFailures} + 1 >= ${limit} THEN 'paused' ELSE ${webhookSubscriptions.state} END`,
        pausedReason: sql`CASE WHEN ${webhookSubscriptions.state} = 'active' AND ${webhookSubscriptions.consecutiveFailures} + 1 >= ${limit}
          THEN ${`${limit} consecutive failed deliveries; the last: ${outcome.error}`.slice(0, 1000)} ELSE ${webhookSubscriptions.pausedReason} END`,
        pausedAt: sql`CASE WHEN ${webhookSubscriptions.state} = 'active' AND ${webhookSubscriptions.consecutiveFailures} + 1 >= ${limit} THEN now() ELSE ${webhookSubscriptions.pausedAt} END`,
        updatedAt: now,
      }).where(eq(webhookSubscriptions.id, d.subscriptionId)).returning({ state: webhookSubscriptions.state, failures: webhookSubscriptions.consecutiveFailures });
      return sub !== undefined && sub.state === 'paused' && sub.failures === limit;
    });
    log.warn({ status: outcome.status, error: outcome.error, max_attempts: d.maxAttempts, retry_in_ms: dead ? null : delay }, dead ? 'webhook delivery failed for the last time; it is dead' : 'webhook delivery failed; retrying after backoff');
    if (paused) {
      this.deps.onSubscriptionPaused?.(d.format);
      log.warn({ failures: this.settings.pauseAfterFailures }, 'webhook subscription paused after repeated failures; POST /v1/subscriptions/{id}/resume once the receiver is fixed');
    }
  }

  /** Shutting down mid-request: the attempt is handed back uncounted, due at once. */
  private async release(d: Claimed): Promise<void> {
    await this.deps.database.db.update(webhookDeliveries)
      .set({ attempts: sql`greatest(${webhookDeliveries.attempts} - 1, 0)`, lockedBy: null, lockedUntil: null, runAt: new Date(), updatedAt: new Date() })
      .where(and(eq(webhookDeliveries.id, d.id), eq(webhookDeliveries.lockedBy, this.id)));
  }
}

/** The first few hundred characters of an error answer, for the delivery log. */
async function readSnippet(response: Response): Promise<string> {
  try {
    const reader = response.body?.getReader();
    if (!reader) return '';
    const { value } = await reader.read();
    await reader.cancel().catch(() => undefined);
    return value ? Buffer.from(value).toString('utf8', 0, Math.min(value.length, 300)).replace(/\s+/g, ' ').trim() : '';
  } catch {
    return '';
  }
}

const rcaObject = (alias: string) => sql.raw(`CASE WHEN ${alias}.id IS NULL THEN NULL ELSE jsonb_build_object(
  'id', ${alias}.id, 'incidentId', ${alias}.incident_id, 'category', ${alias}.category, 'summary', ${alias}.summary,
  'status', ${alias}.status, 'assigneeTeam', ${alias}.assignee_team, 'assigneeRole', ${alias}.assignee_role) END`);

interface TransitionRow extends Record<string, unknown> {
  id: string; table_name: string; old_status: string; new_status: string; reason: string; at: Date | string;
  tier: number | null; owner: string | null; owner_routing_key: string | null; rca: RcaBrief | null;
  previous_at: Date | string | null; previous_rca: RcaBrief | null;
  episode_event_id: string | null; episode_at: Date | string | null; episode_rca_id: string | null; episode_incident_id: string | null;
}

/**
 * Health events above the cursor not fanned out yet, oldest first, each with what the formats
 * need: the table's tier and owner (and the owner's PagerDuty key), its RCA, the previous
 * state's RCA, and the problem episode it belongs to.
 */
async function readTransitions(tx: Tx, floor: number, limit: number): Promise<Array<{ context: TransitionContext; ownerRoutingKey: string | null }>> {
  const result = await tx.execute<TransitionRow>(sql`
    SELECT e.id, e.table_name, e.old_status, e.new_status, e.reason, e.at,
           c.tier, c.owner, tm.pagerduty_routing_key AS owner_routing_key, ${rcaObject('r')} AS rca,
           p.at AS previous_at, ${rcaObject('pr')} AS previous_rca,
           s.id AS episode_event_id, s.at AS episode_at, s.rca_id AS episode_rca_id, er.incident_id AS episode_incident_id
    FROM health_events e
    LEFT JOIN catalog_tables c ON c.name = e.table_name
    LEFT JOIN teams tm ON tm.name = c.owner
    LEFT JOIN rca_records r ON r.id = e.rca_id
    LEFT JOIN LATERAL (SELECT p.at, p.rca_id FROM health_events p WHERE p.table_name = e.table_name AND p.id < e.id ORDER BY p.id DESC LIMIT 1) p ON TRUE
    LEFT JOIN rca_records pr ON pr.id = p.rca_id
    LEFT JOIN LATERAL (
      SELECT s.id, s.at, s.rca_id FROM health_events s
      WHERE s.table_name = e.table_name AND s.id <= e.id
        AND s.new_status IN ('degraded', 'unhealthy') AND s.old_status NOT IN ('degraded', 'unhealthy')
      ORDER BY s.id DESC LIMIT 1) s ON TRUE
    LEFT JOIN rca_records er ON er.id = s.rca_id
    WHERE e.id > ${floor} AND NOT EXISTS (SELECT 1 FROM ${webhookFanout} f WHERE f.health_event_id = e.id)
    ORDER BY e.id LIMIT ${limit}`);
  return result.rows.map((row) => {
    const inEpisode = ['degraded', 'unhealthy'].includes(row.old_status) || ['degraded', 'unhealthy'].includes(row.new_status);
    return {
      ownerRoutingKey: row.owner_routing_key,
      context: {
        healthEventId: Number(row.id),
        table: row.table_name,
        oldStatus: row.old_status,
        newStatus: row.new_status,
        at: new Date(row.at),
        reason: row.reason,
        tier: row.tier === null ? null : Number(row.tier),
        owner: row.owner,
        rca: row.rca,
        previous: row.previous_at ? { at: new Date(row.previous_at), rca: row.previous_rca } : null,
        episode: inEpisode && row.episode_event_id && row.episode_at
          ? { key: row.episode_incident_id ?? row.episode_rca_id ?? `event-${row.episode_event_id}`, startedAt: new Date(row.episode_at) }
          : null,
      },
    };
  });
}
