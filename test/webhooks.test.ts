import { randomUUID } from 'node:crypto';
import Fastify from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import pg from 'pg';
import pino from 'pino';
import { eq, sql } from 'drizzle-orm';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createTestDatabase } from './support/testDatabase.ts';
import { startWebhookReceiver } from './support/webhookReceiver.ts';
import { catalogTables, healthEvents, rcaRecords, teams, webhookCursor, webhookDeliveries, webhookSubscriptions } from '../src/db/schema.ts';
import { WebhookWorker, type WebhookWorkerSettings } from '../src/webhooks/webhookWorker.ts';
import { createSubscription, getSubscription, listDeliveries, resumeSubscription, webhookBacklog, type NewSubscription } from '../src/webhooks/subscriptionStore.ts';
import { verifySignature } from '../src/webhooks/signing.ts';
import { webhookRoutes } from '../src/webhooks/webhookRoutes.ts';
import { errorHandler } from '../src/api/errors.ts';
import type { ApiDeps } from '../src/api/server.ts';

let database: Awaited<ReturnType<typeof createTestDatabase>>;
let receiver: Awaited<ReturnType<typeof startWebhookReceiver>>;
const log = pino({ level: 'silent' });
const SECRET = 'test-webhook-secret-0123456789';
const SETTINGS: WebhookWorkerSettings = {
  pollMs: 50, leaseSeconds: 30, maxAttempts: 6, backoff: { baseMs: 40, capMs: 200, jitter: 0 },
  pauseAfterFailures: 4, timeoutMs: 2000, publicUrl: 'http://medic.test',
};
const workers: WebhookWorker[] = [];
const failures: string[] = [];

function worker(options: Partial<WebhookWorkerSettings> = {}) {
  const w = new WebhookWorker({ database, log, options: { ...SETTINGS, ...options }, onDeliveryFailed: (format) => failures.push(format) });
  workers.push(w);
  return w;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Ticks the worker until `check` holds. */
async function tickUntil<T>(w: WebhookWorker, check: () => Promise<T | null | undefined | false> | T | null | undefined | false, what: string, timeoutMs = 5000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    await w.tick();
    const value = await check();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(20);
  }
}

const subscribe = (input: Partial<NewSubscription> & Pick<NewSubscription, 'url' | 'format'>) =>
  createSubscription(database.db, { secret: SECRET, createdBy: 'test', ...input });

async function rca(table: string, overrides: Partial<typeof rcaRecords.$inferInsert> = {}) {
  const id = randomUUID();
  await database.db.insert(rcaRecords).values({
    id, tableName: table, signalId: randomUUID(), signalIds: [], incidentId: 'source_unavailable:orders-db', status: 'open',
    category: 'source_unavailable', summary: 'orders-db refused connections on 5432', confidence: 0.9,
    assigneeTeam: 'orders-dba', assigneeRole: 'source_owner', assigneeReason: 'owns the source', manualSteps: '', evidence: [], ...overrides,
  });
  return id;
}

/** Appends a health transition, as src/db/healthWriter.ts does. */
async function transition(table: string, oldStatus: string, newStatus: string, rcaId: string | null = null) {
  const [row] = await database.db.insert(healthEvents).values({ tableName: table, oldStatus, newStatus, rcaId, reason: rcaId ? 'source_unavailable: down' : 'success: dag.load run' }).returning({ id: healthEvents.id });
  return row!.id;
}

const deliveriesOf = async (subscriptionId: string) => (await listDeliveries(database.db, subscriptionId, {}, 100, null)).items;

beforeAll(async () => {
  database = await createTestDatabase('webhooks');
  receiver = await startWebhookReceiver();
  await database.db.insert(teams).values([{ name: 'orders-team', pagerdutyRoutingKey: 'TEAM-ROUTING-KEY' }, { name: 'no-pd-team' }]);
  await database.db.insert(catalogTables).values([
    { name: 'lake.orders', owner: 'orders-team', tier: 1 },
    { name: 'lake.payments', owner: 'orders-team', tier: 2 },
    { name: 'lake.unrouted', owner: 'no-pd-team', tier: 3 },
  ]);
});

afterAll(async () => {
  for (const w of workers) await w.stop();
  await receiver?.close();
  await database?.drop();
});

beforeEach(async () => {
  for (const w of workers.splice(0)) await w.stop();
  // Everything before this test is fanned out to nobody, so each test sees only its own transitions.
  await database.db.delete(webhookSubscriptions);
  await worker().fanOut();
  receiver.reset();
  failures.length = 0;
});

describe('webhook deliveries', () => {
  it('medic format: signed, with the event id, the native event and a delivery log entry', async () => {
    const sub = await subscribe({ url: receiver.url('/medic'), format: 'medic' });
    const rcaId = await rca('lake.orders');
    const eventId = await transition('lake.orders', 'healthy', 'unhealthy', rcaId);
    const w = worker();
    await tickUntil(w, () => receiver.on('/medic').length === 1, 'the delivery');

    const [got] = receiver.on('/medic');
    const [delivery] = await deliveriesOf(sub.id);
    expect(got!.headers['x-medic-event-id']).toBe(delivery!.id);
    expect(got!.headers['content-type']).toBe('application/json');
    expect(verifySignature(SECRET, got!.headers['x-medic-timestamp'] as string, got!.body, got!.headers['x-medic-signature'] as string, { toleranceS: 300 })).toBe(true);
    expect(verifySignature('not-the-secret-0123456789', got!.headers['x-medic-timestamp'] as string, got!.body, got!.headers['x-medic-signature'] as string)).toBe(false);
    expect(got!.json).toMatchObject({
      id: delivery!.id, type: 'table.health_changed', health_event_id: eventId, table: 'lake.orders', old_status: 'healthy', new_status: 'unhealthy',
      tier: 1, owner: 'orders-team', rca: { id: rcaId, category: 'source_unavailable', summary: 'orders-db refused connections on 5432' },
      assignee: { team: 'orders-dba', role: 'source_owner' }, link: 'http://medic.test/v1/tables/lake.orders/health',
    });
    expect(delivery).toMatchObject({ kind: 'health_changed', health_event_id: eventId, state: 'delivered', attempts: 1, last_status: 200, last_error: null, next_attempt_at: null });
    expect(delivery!.payload).toEqual(got!.json);
    // Fanned out once: another pass enqueues nothing new.
    await w.tick();
    expect(await deliveriesOf(sub.id)).toHaveLength(1);
  });

  it('pagerduty format: trigger then resolve with one dedup_key, routing key from the owner team, severity from the tier', async () => {
    const sub = await subscribe({ url: receiver.url('/pd'), format: 'pagerduty' });
    const own = await subscribe({ url: receiver.url('/pd-own'), format: 'pagerduty', pagerdutyRoutingKey: 'SUB-KEY', filter: { tables: ['lake.payments'] } });
    const rcaId = await rca('lake.orders');
    await transition('lake.orders', 'healthy', 'unhealthy', rcaId);
    await transition('lake.orders', 'unhealthy', 'healthy');
    await transition('lake.payments', 'healthy', 'degraded', await rca('lake.payments', { incidentId: null, category: 'sla_miss' }));
    await transition('lake.unrouted', 'healthy', 'unhealthy', await rca('lake.unrouted'));
    const w = worker();
    await tickUntil(w, () => receiver.on('/pd').length === 3 && receiver.on('/pd-own').length === 1, 'the PagerDuty events');

    const [trigger, resolve, degraded] = receiver.on('/pd').map((r) => r.json);
    expect(trigger).toMatchObject({
      routing_key: 'TEAM-ROUTING-KEY', event_action: 'trigger', dedup_key: 'medic:lake.orders:source_unavailable:orders-db',
      payload: { source: 'medic', severity: 'critical', component: 'lake.orders', group: 'orders-team', class: 'source_unavailable' },
    });
    expect(resolve).toEqual({ routing_key: 'TEAM-ROUTING-KEY', event_action: 'resolve', dedup_key: trigger.dedup_key });
    expect(degraded).toMatchObject({ event_action: 'trigger', payload: { severity: 'warning', component: 'lake.payments', class: 'sla_miss' } });
    expect(degraded.dedup_key).toMatch(/^medic:lake\.payments:[0-9a-f-]{36}$/);
    expect(receiver.on('/pd-own')[0]!.json).toMatchObject({ routing_key: 'SUB-KEY', event_action: 'trigger' });

    // No key anywhere: not sent, and the log says why.
    const unrouted = (await deliveriesOf(sub.id)).find((d) => (d.payload as { payload?: { component?: string } }).payload?.component === 'lake.unrouted');
    expect(unrouted).toMatchObject({ state: 'dead', attempts: 0, last_error: expect.stringContaining('no PagerDuty routing key') });
    expect(receiver.received.some((r) => r.json?.payload?.component === 'lake.unrouted')).toBe(false);
    expect((await getSubscription(database.db, own.id))!.state).toBe('active');
  });

  it('alertmanager format: v4 firing then resolved, same fingerprint', async () => {
    await subscribe({ url: receiver.url('/am'), format: 'alertmanager', name: 'am-receiver' });
    const rcaId = await rca('lake.payments');
    await transition('lake.payments', 'healthy', 'unhealthy', rcaId);
    await transition('lake.payments', 'unhealthy', 'healthy');
    await tickUntil(worker(), () => receiver.on('/am').length === 2, 'the Alertmanager events');

    const [firing, resolved] = receiver.on('/am').map((r) => r.json);
    expect(firing).toMatchObject({
      version: '4', status: 'firing', receiver: 'am-receiver', groupKey: '{}:{table="lake.payments"}', externalURL: 'http://medic.test',
      groupLabels: { table: 'lake.payments' },
      alerts: [{ status: 'firing', labels: { alertname: 'MedicTableUnhealthy', table: 'lake.payments', severity: 'error', category: 'source_unavailable', team: 'orders-team' }, endsAt: '0001-01-01T00:00:00Z', annotations: { summary: 'lake.payments is unhealthy' } }],
    });
    expect(resolved).toMatchObject({ version: '4', status: 'resolved', alerts: [{ status: 'resolved', labels: firing.alerts[0].labels, fingerprint: firing.alerts[0].fingerprint }] });
    expect(resolved.alerts[0].endsAt).not.toBe('0001-01-01T00:00:00Z');
  });

  it('retries after 500s with backoff: the same event id and body each time, delivered on the third attempt, and later events wait their turn', async () => {
    const sub = await subscribe({ url: receiver.url('/flaky'), format: 'medic' });
    receiver.state.failNext.set('/flaky', 2);
    const first = await transition('lake.orders', 'healthy', 'unhealthy', await rca('lake.orders'));
    const second = await transition('lake.orders', 'unhealthy', 'healthy');
    const w = worker();
    await tickUntil(w, async () => (await deliveriesOf(sub.id)).every((d) => d.state === 'delivered'), 'both delivered');

    const got = receiver.on('/flaky');
    expect(got.map((r) => [r.json.health_event_id, r.answered])).toEqual([[first, 500], [first, 500], [first, 200], [second, 200]]);
    const firstAttempts = got.slice(0, 3);
    expect(new Set(firstAttempts.map((r) => r.headers['x-medic-event-id'])).size).toBe(1);
    expect(new Set(firstAttempts.map((r) => r.body)).size).toBe(1);
    for (const r of got) expect(verifySignature(SECRET, r.headers['x-medic-timestamp'] as string, r.body, r.headers['x-medic-signature'] as string)).toBe(true);
    // A receiver deduping on the event id sees each transition once.
    expect(new Set(got.map((r) => r.headers['x-medic-event-id'])).size).toBe(2);

    const log = await deliveriesOf(sub.id);
    expect(log.map((d) => [d.health_event_id, d.state, d.attempts, d.last_status])).toEqual([[second, 'delivered', 1, 200], [first, 'delivered', 3, 200]]);
    expect(failures).toEqual(['medic', 'medic']);
    expect((await getSubscription(database.db, sub.id))!.consecutive_failures).toBe(0);
  });

  it('pauses a subscription that keeps failing, attempts nothing while paused, and delivers in order once resumed', async () => {
    const sub = await subscribe({ url: receiver.url('/down'), format: 'medic' });
    receiver.state.failAlways.add('/down');
    const first = await transition('lake.orders', 'healthy', 'degraded', await rca('lake.orders'));
    const second = await transition('lake.orders', 'degraded', 'healthy');
    const w = worker();
    const paused = await tickUntil(w, async () => { const s = await getSubscription(database.db, sub.id); return s?.state === 'paused' ? s : null; }, 'the pause');
    expect(paused).toMatchObject({ state: 'paused', consecutive_failures: 4, paused_reason: expect.stringContaining('4 consecutive failed deliveries; the last: HTTP 500') });
    expect(receiver.on('/down')).toHaveLength(4);

    await sleep(300); // past every backoff
    await w.tick();
    await w.tick();
    expect(receiver.on('/down')).toHaveLength(4);
    expect((await deliveriesOf(sub.id)).map((d) => [d.health_event_id, d.state, d.attempts])).toEqual([[second, 'pending', 0], [first, 'failed', 4]]);
    expect(await webhookBacklog(database.db)).toEqual([{ format: 'medic', waiting: 2, paused: 1 }]);

    receiver.state.failAlways.clear();
    expect((await resumeSubscription(database.db, sub.id))!.changed).toBe(true);
    await tickUntil(w, async () => (await deliveriesOf(sub.id)).every((d) => d.state === 'delivered'), 'delivery after resume');
    expect(receiver.on('/down').slice(4).map((r) => r.json.health_event_id)).toEqual([first, second]);
    expect(await getSubscription(database.db, sub.id)).toMatchObject({ state: 'active', consecutive_failures: 0, paused_reason: null });
    expect((await resumeSubscription(database.db, sub.id))!.changed).toBe(false);
  });

  it('gives a delivery up as dead after max_attempts, and the next one goes', async () => {
    const sub = await subscribe({ url: receiver.url('/dies'), format: 'medic' });
    receiver.state.failNext.set('/dies', 2);
    const first = await transition('lake.orders', 'healthy', 'unhealthy', await rca('lake.orders'));
    const second = await transition('lake.orders', 'unhealthy', 'healthy');
    const w = worker({ maxAttempts: 2, pauseAfterFailures: 10 });
    await tickUntil(w, async () => (await deliveriesOf(sub.id)).some((d) => d.state === 'delivered'), 'the second delivery');
    expect((await deliveriesOf(sub.id)).map((d) => [d.health_event_id, d.state, d.attempts, d.last_status, d.next_attempt_at])).toEqual([
      [second, 'delivered', 1, 200, null], [first, 'dead', 2, 500, null],
    ]);
  });

  it('filters by table, owner, tier and new status', async () => {
    const byTable = await subscribe({ url: receiver.url('/f-table'), format: 'medic', filter: { tables: ['lake.pay*'], statuses: ['unhealthy'] } });
    await subscribe({ url: receiver.url('/f-tier'), format: 'medic', filter: { owners: ['orders-team'], max_tier: 1 } });
    await transition('lake.payments', 'healthy', 'degraded', await rca('lake.payments'));
    const wanted = await transition('lake.payments', 'degraded', 'unhealthy', await rca('lake.payments'));
    await transition('lake.unrouted', 'healthy', 'unhealthy', await rca('lake.unrouted'));
    const orders = await transition('lake.orders', 'healthy', 'unhealthy', await rca('lake.orders'));
    await tickUntil(worker(), () => receiver.received.length === 2, 'the matching deliveries');
    await sleep(100);
    expect(receiver.on('/f-table').map((r) => r.json.health_event_id)).toEqual([wanted]);
    expect(receiver.on('/f-tier').map((r) => r.json.health_event_id)).toEqual([orders]);
    expect(await deliveriesOf(byTable.id)).toHaveLength(1);
  });

  it('a new subscription receives only transitions made after it was created', async () => {
    const old = await transition('lake.orders', 'healthy', 'unhealthy', await rca('lake.orders'));
    await sleep(5);
    const sub = await subscribe({ url: receiver.url('/new'), format: 'medic' });
    const w = worker();
    await w.tick();
    expect(await deliveriesOf(sub.id)).toEqual([]);
    const fresh = await transition('lake.orders', 'unhealthy', 'healthy');
    await tickUntil(w, () => receiver.on('/new').length === 1, 'the new transition');
    expect(receiver.on('/new')[0]!.json.health_event_id).toBe(fresh);
    expect(fresh).toBeGreaterThan(old);
  });

  it('does not skip an event whose transaction commits after a later one, and moves the cursor once it has', async () => {
    const sub = await subscribe({ url: receiver.url('/gap'), format: 'medic' });
    const client = new pg.Client({ connectionString: database.url });
    await client.connect();
    try {
      await client.query('BEGIN');
      const held = await client.query<{ id: string }>(`INSERT INTO health_events (table_name, old_status, new_status, reason) VALUES ('lake.orders', 'healthy', 'degraded', 'slow transaction') RETURNING id`);
      const heldId = Number(held.rows[0]!.id);
      const later = await transition('lake.payments', 'healthy', 'unhealthy', await rca('lake.payments'));
      const w = worker();
      await tickUntil(w, () => receiver.on('/gap').length === 1, 'the later event');
      const [cursor] = await database.db.select().from(webhookCursor);
      expect(cursor!.lastEventId).toBe(heldId - 1);
      await client.query('COMMIT');
      await tickUntil(w, () => receiver.on('/gap').length === 2, 'the late-committed event');
      expect(receiver.on('/gap').map((r) => r.json.health_event_id)).toEqual([later, heldId]);
      const [after] = await database.db.select().from(webhookCursor);
      expect(after!.lastEventId).toBe(later);
      expect(await deliveriesOf(sub.id)).toHaveLength(2);
    } finally {
      await client.end();
    }
  });

  it('moves the cursor past ids that were rolled back, after the grace period', async () => {
    await database.db.transaction(async (tx) => {
      await tx.insert(healthEvents).values({ tableName: 'lake.orders', oldStatus: 'healthy', newStatus: 'degraded', reason: 'rolled back' });
      tx.rollback();
    }).catch(() => undefined);
    const later = await transition('lake.orders', 'healthy', 'unhealthy', await rca('lake.orders'));
    const w = worker({ gapGraceMs: 200 });
    await w.tick();
    expect((await database.db.select().from(webhookCursor))[0]!.lastEventId).toBe(later - 2);
    await sleep(250);
    await w.tick();
    expect((await database.db.select().from(webhookCursor))[0]!.lastEventId).toBe(later);
  });

  it('two workers deliver each transition once', async () => {
    const sub = await subscribe({ url: receiver.url('/pair'), format: 'medic' });
    receiver.state.delayMs = 20;
    const ids: number[] = [];
    for (const table of ['lake.orders', 'lake.payments', 'lake.unrouted']) ids.push(await transition(table, 'healthy', 'unhealthy', await rca(table)));
    const a = worker();
    const b = worker();
    const deadline = Date.now() + 5000;
    while ((await deliveriesOf(sub.id)).filter((d) => d.state === 'delivered').length < 3 && Date.now() < deadline) await Promise.all([a.tick(), b.tick()]);
    expect(receiver.on('/pair').map((r) => r.json.health_event_id)).toEqual(ids);
    expect(new Set(receiver.on('/pair').map((r) => r.headers['x-medic-event-id'])).size).toBe(3);
  });
});

describe('webhook routes', () => {
  let app: ReturnType<typeof Fastify> extends infer A ? A : never;
  let w: WebhookWorker;

  beforeEach(() => {
    w = worker();
  });

  beforeAll(async () => {
    const fastify = Fastify({ ajv: { customOptions: { removeAdditional: false, coerceTypes: 'array', useDefaults: true, allErrors: false } } }).withTypeProvider<TypeBoxTypeProvider>();
    fastify.setErrorHandler(errorHandler);
    fastify.decorateRequest('identity', null);
    // Stands in for the server's bearer-token hook: the routes are admin-only.
    fastify.addHook('onRequest', async (request) => {
      if (request.routeOptions.config.role) request.identity = { name: 'admin', role: 'admin' };
    });
    await fastify.register(webhookRoutes({ database, log, webhooks: { publicUrl: 'http://medic.test', maxAttempts: 5, onQueued: () => w.poke() } } as unknown as ApiDeps));
    app = fastify as never;
  });

  const call = async (method: 'GET' | 'POST' | 'DELETE', url: string, body?: unknown) => {
    const response = await (app as unknown as ReturnType<typeof Fastify>).inject({ method, url, ...(body === undefined ? {} : { payload: body as object }) });
    return { status: response.statusCode, body: response.body ? JSON.parse(response.body) : null };
  };

  it('creates, lists, reads, tests, resumes and deletes (idempotently) a subscription; the secret is never returned', async () => {
    const created = await call('POST', '/v1/subscriptions', { url: receiver.url('/api'), secret: SECRET, format: 'medic', filter: { statuses: ['unhealthy'] }, name: 'api test' });
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({ name: 'api test', url: receiver.url('/api'), format: 'medic', filter: { statuses: ['unhealthy'] }, state: 'active', created_by: 'admin', has_pagerduty_routing_key: false });
    expect(JSON.stringify(created.body)).not.toContain(SECRET);
    const id = created.body.id as string;

    const list = await call('GET', '/v1/subscriptions?limit=10');
    expect(list.status).toBe(200);
    expect(list.body.items.map((s: { id: string }) => s.id)).toContain(id);
    expect(JSON.stringify(list.body)).not.toContain(SECRET);
    expect((await call('GET', `/v1/subscriptions/${id}`)).body.id).toBe(id);

    const test = await call('POST', `/v1/subscriptions/${id}/test`);
    expect(test.status).toBe(202);
    await tickUntil(w, () => receiver.on('/api').length === 1, 'the test event');
    const got = receiver.on('/api')[0]!;
    expect(got.headers['x-medic-event-id']).toBe(test.body.delivery_id);
    expect(got.json).toMatchObject({ type: 'test', table: 'medic.webhook-test' });
    expect(verifySignature(SECRET, got.headers['x-medic-timestamp'] as string, got.body, got.headers['x-medic-signature'] as string)).toBe(true);

    const deliveries = await call('GET', `/v1/subscriptions/${id}/deliveries`);
    expect(deliveries.status).toBe(200);
    expect(deliveries.body).toMatchObject({ items: [{ id: test.body.delivery_id, kind: 'test', state: 'delivered', attempts: 1, last_status: 200 }], next_cursor: null });

    expect((await call('POST', `/v1/subscriptions/${id}/resume`)).body.state).toBe('active');
    expect((await call('DELETE', `/v1/subscriptions/${id}`)).status).toBe(204);
    expect((await call('DELETE', `/v1/subscriptions/${id}`)).status).toBe(204);
    expect((await call('GET', `/v1/subscriptions/${id}`)).status).toBe(404);
    expect((await call('GET', `/v1/subscriptions/${id}/deliveries`)).status).toBe(404);
    expect((await database.db.select().from(webhookDeliveries).where(eq(webhookDeliveries.subscriptionId, id)))).toEqual([]);
  });

  it.each([
    ['a short secret', { secret: 'short' }, 'body.secret'],
    ['a non-http url', { url: 'ftp://example.com/hook' }, 'body.url'],
    ['an unknown format', { format: 'slack' }, 'body.format'],
    ['an unknown filter key', { filter: { tabels: ['x'] } }, 'body.filter.tabels'],
    ['a bad status in the filter', { filter: { statuses: ['broken'] } }, 'body.filter.statuses.0'],
    ['inverted tier bounds', { filter: { min_tier: 3, max_tier: 1 } }, 'body.filter.min_tier'],
  ])('rejects %s', async (_name, change, field) => {
    const response = await call('POST', '/v1/subscriptions', { url: 'https://hooks.example.com/medic', secret: SECRET, format: 'medic', ...change });
    expect(response.status).toBe(400);
    expect(response.body.error).toMatchObject({ code: 'invalid_request', field });
  });

  it('paginates subscriptions and answers 409 for a PagerDuty test without its own key', async () => {
    for (let i = 0; i < 3; i++) await call('POST', '/v1/subscriptions', { url: `https://hooks.example.com/${i}`, secret: SECRET, format: 'pagerduty' });
    const page1 = await call('GET', '/v1/subscriptions?limit=2');
    expect(page1.body.items).toHaveLength(2);
    const page2 = await call('GET', `/v1/subscriptions?limit=2&cursor=${page1.body.next_cursor}`);
    expect(page2.body.items.length).toBeGreaterThanOrEqual(1);
    expect(page2.body.items.map((s: { id: string }) => s.id)).not.toContain(page1.body.items[0].id);
    const test = await call('POST', `/v1/subscriptions/${page1.body.items[0].id}/test`);
    expect(test).toMatchObject({ status: 409, body: { error: { code: 'no_routing_key' } } });
    expect((await call('GET', '/v1/subscriptions?cursor=nonsense')).status).toBe(400);
    await database.db.execute(sql`DELETE FROM webhook_subscriptions`);
  });
});
