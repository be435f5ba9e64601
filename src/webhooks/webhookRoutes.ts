import type { FastifyPluginAsync } from 'fastify';
import { Type } from '@sinclair/typebox';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { ApiError } from '../api/errors.ts';
import { CursorQuery, DateTimeString, ErrorSchema, errorResponses, HealthStatusSchema, LimitQuery, listOf, Nullable } from '../api/schemas.ts';
import type { ApiDeps } from '../api/server.ts';
import { parseCursor } from '../api/cursor.ts';
import { WEBHOOK_FORMATS } from './formats.ts';
import {
  createSubscription, deleteSubscription, enqueueTestDelivery, getSubscription, listDeliveries, listSubscriptions, resumeSubscription,
} from './subscriptionStore.ts';

/** What the webhook routes need beyond ApiDeps; optional so the plugin also runs without it. */
export interface WebhookApiSettings {
  /** MEDIC_PUBLIC_URL: links in test events. Without it, the request's own origin. */
  publicUrl: string;
  /** MEDIC_WEBHOOK_MAX_ATTEMPTS, for test deliveries. */
  maxAttempts: number;
  /** Wakes the webhook worker when a test event is queued (`worker.poke()`). */
  onQueued?: () => void;
}

const FormatSchema = Type.Union(WEBHOOK_FORMATS.map((f) => Type.Literal(f)));

const FilterSchema = Type.Object({
  tables: Type.Optional(Type.Array(Type.String({ minLength: 1, maxLength: 256 }), { maxItems: 1000, description: 'exact table names, or prefixes ending in *' })),
  owners: Type.Optional(Type.Array(Type.String({ minLength: 1, maxLength: 128 }), { maxItems: 100, description: 'catalog owner teams' })),
  statuses: Type.Optional(Type.Array(HealthStatusSchema, { maxItems: 4, description: 'the new status of the transition' })),
  min_tier: Type.Optional(Type.Integer({ minimum: 0, maximum: 100, description: 'tables with a catalog tier ≥ this' })),
  max_tier: Type.Optional(Type.Integer({ minimum: 0, maximum: 100, description: 'tables with a catalog tier ≤ this (1 is the most critical)' })),
}, { additionalProperties: false });

const SubscriptionSchema = Type.Object({
  id: Type.String({ format: 'uuid' }),
  name: Type.String(),
  url: Type.String(),
  format: FormatSchema,
  filter: FilterSchema,
  has_pagerduty_routing_key: Type.Boolean(),
  state: Type.Union([Type.Literal('active'), Type.Literal('paused')]),
  consecutive_failures: Type.Integer(),
  paused_reason: Nullable(Type.String()),
  paused_at: Nullable(DateTimeString),
  created_by: Type.String(),
  created_at: DateTimeString,
  updated_at: DateTimeString,
}, { $id: 'WebhookSubscription' });

const DeliverySchema = Type.Object({
  id: Type.String({ format: 'uuid', description: 'the event id, sent as X-Medic-Event-Id on every attempt' }),
  subscription_id: Type.String({ format: 'uuid' }),
  kind: Type.Union([Type.Literal('health_changed'), Type.Literal('test')]),
  health_event_id: Nullable(Type.Integer()),
  state: Type.Union([Type.Literal('pending'), Type.Literal('delivered'), Type.Literal('failed'), Type.Literal('dead')]),
  attempts: Type.Integer(),
  max_attempts: Type.Integer(),
  last_status: Nullable(Type.Integer()),
  last_error: Nullable(Type.String()),
  created_at: DateTimeString,
  delivered_at: Nullable(DateTimeString),
  next_attempt_at: Nullable(DateTimeString),
  payload: Type.Unknown({ description: 'the body sent' }),
}, { $id: 'WebhookDelivery' });

const IdParams = Type.Object({ id: Type.String({ format: 'uuid' }) });

const DESCRIPTION = `Medic POSTs a JSON body on every health transition that matches the filter, in the subscription's format
(medic: the native event; pagerduty: Events API v2 trigger/resolve; alertmanager: the webhook payload, version 4).
Headers: X-Medic-Event-Id (the same on every retry: dedupe on it), X-Medic-Timestamp (unix seconds) and
X-Medic-Signature: sha256=<hex HMAC-SHA256(secret, "<timestamp>.<raw body>")>. Any 2xx is success; anything else is
retried with exponential backoff, and a subscription failing repeatedly is paused until resumed. A subscription
receives the transitions made after it was created.`;

/** Webhook subscriptions and their delivery log (DESIGN 8); admin only, the secret is never returned. */
export const webhookRoutes = (deps: ApiDeps & { webhooks?: WebhookApiSettings }): FastifyPluginAsync => async (fastify) => {
  const app = fastify.withTypeProvider<TypeBoxTypeProvider>();
  const { db } = deps.database;

  app.post('/v1/subscriptions', {
    config: { role: 'admin' },
    schema: {
      tags: ['webhooks'], summary: 'Subscribe a webhook to health changes', description: DESCRIPTION,
      body: Type.Object({
        name: Type.Optional(Type.String({ minLength: 1, maxLength: 200, description: 'defaults to the URL\'s host' })),
        url: Type.String({ minLength: 8, maxLength: 2048, pattern: '^[hH][tT][tT][pP][sS]?://', description: 'http(s) URL receiving the POSTs' }),
        secret: Type.String({ minLength: 16, maxLength: 512, description: 'HMAC key for X-Medic-Signature; never returned' }),
        format: FormatSchema,
        filter: Type.Optional(FilterSchema),
        pagerduty_routing_key: Type.Optional(Type.String({ minLength: 1, maxLength: 200, description: 'pagerduty format: the integration key; without it, the table owner team\'s key from the catalog' })),
      }, { additionalProperties: false }),
      response: { 201: SubscriptionSchema, ...errorResponses },
    },
  }, async (request, reply) => {
    const { url, filter } = request.body;
    let parsed: URL;
    try {
      parsed = new URL(url);
    } catch {
      throw new ApiError(400, 'invalid_request', 'body.url is not a valid URL', 'body.url');
    }
    if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') throw new ApiError(400, 'invalid_request', 'body.url must be an http or https URL', 'body.url');
    // fetch refuses such a URL, so every delivery would fail, and each failure would log the password in it.
    if (parsed.username || parsed.password) throw new ApiError(400, 'invalid_request', 'body.url must not carry credentials (user:password@); receivers authenticate Medic by X-Medic-Signature', 'body.url');
    if (filter?.min_tier !== undefined && filter.max_tier !== undefined && filter.min_tier > filter.max_tier) {
      throw new ApiError(400, 'invalid_request', 'body.filter.min_tier must not be above max_tier', 'body.filter.min_tier');
    }
    const created = await createSubscription(db, {
      name: request.body.name, url: parsed.toString(), secret: request.body.secret, format: request.body.format, filter,
      pagerdutyRoutingKey: request.body.pagerduty_routing_key, createdBy: request.identity?.name ?? 'unknown',
    });
    request.log.info({ subscription_id: created.id, format: created.format, host: parsed.host }, 'webhook subscription created');
    return reply.code(201).send(created);
  });

  app.get('/v1/subscriptions', {
    config: { role: 'admin' },
    schema: {
      tags: ['webhooks'], summary: 'Webhook subscriptions, newest first',
      querystring: Type.Object({ state: Type.Optional(Type.Union([Type.Literal('active'), Type.Literal('paused')])), format: Type.Optional(FormatSchema), cursor: CursorQuery, limit: LimitQuery }, { additionalProperties: false }),
      response: { 200: listOf(SubscriptionSchema), ...errorResponses },
    },
  }, async (request) => {
    const { cursor, limit, ...filters } = request.query;
    return listSubscriptions(db, filters, limit ?? 100, parseCursor(cursor, 'uuid'));
  });

  app.get('/v1/subscriptions/:id', {
    config: { role: 'admin' },
    schema: { tags: ['webhooks'], summary: 'One webhook subscription', params: IdParams, response: { 200: SubscriptionSchema, ...errorResponses } },
  }, async (request) => {
    const subscription = await getSubscription(db, request.params.id);
    if (!subscription) throw new ApiError(404, 'not_found', `no webhook subscription ${request.params.id}`);
    return subscription;
  });

  app.delete('/v1/subscriptions/:id', {
    config: { role: 'admin' },
    schema: {
      tags: ['webhooks'], summary: 'Delete a webhook subscription and its delivery log (idempotent: 204 whether or not it existed)',
      params: IdParams, response: { 204: Type.Null(), ...errorResponses },
    },
  }, async (request, reply) => {
    const deleted = await deleteSubscription(db, request.params.id);
    if (deleted) request.log.info({ subscription_id: request.params.id }, 'webhook subscription deleted');
    return reply.code(204).send(null);
  });

  app.post('/v1/subscriptions/:id/resume', {
    config: { role: 'admin' },
    schema: {
      tags: ['webhooks'], summary: 'Resume a paused subscription: waiting deliveries are sent at once, oldest first (idempotent)',
      params: IdParams, response: { 200: SubscriptionSchema, ...errorResponses },
    },
  }, async (request) => {
    const outcome = await resumeSubscription(db, request.params.id);
    if (!outcome) throw new ApiError(404, 'not_found', `no webhook subscription ${request.params.id}`);
    if (outcome.changed) {
      request.log.info({ subscription_id: request.params.id }, 'webhook subscription resumed');
      deps.webhooks?.onQueued?.();
    }
    return outcome.subscription;
  });

  app.get('/v1/subscriptions/:id/deliveries', {
    config: { role: 'admin' },
    schema: {
      tags: ['webhooks'], summary: 'The delivery log of a subscription, newest first',
      params: IdParams,
      querystring: Type.Object({ state: Type.Optional(DeliverySchema.properties.state), cursor: CursorQuery, limit: LimitQuery }, { additionalProperties: false }),
      response: { 200: listOf(DeliverySchema), ...errorResponses },
    },
  }, async (request) => {
    if (!(await getSubscription(db, request.params.id))) throw new ApiError(404, 'not_found', `no webhook subscription ${request.params.id}`);
    const { cursor, limit, ...filters } = request.query;
    return listDeliveries(db, request.params.id, filters, limit ?? 100, parseCursor(cursor, 'integer'));
  });

  app.post('/v1/subscriptions/:id/test', {
    config: { role: 'admin' },
    schema: {
      tags: ['webhooks'], summary: 'Queue a test event (table medic.webhook-test turning degraded) for this subscription',
      description: 'Sent, signed and retried like any other delivery; watch it in GET /v1/subscriptions/{id}/deliveries.',
      params: IdParams,
      response: { 202: Type.Object({ delivery_id: Type.String({ format: 'uuid' }), subscription_id: Type.String({ format: 'uuid' }) }), 409: ErrorSchema, ...errorResponses },
    },
  }, async (request, reply) => {
    const outcome = await enqueueTestDelivery(db, request.params.id, {
      publicUrl: deps.webhooks?.publicUrl ?? `${request.protocol}://${request.host}`,
      maxAttempts: deps.webhooks?.maxAttempts ?? 10,
      requestedBy: request.identity?.name ?? 'unknown',
    });
    if (outcome.status === 'not_found') throw new ApiError(404, 'not_found', `no webhook subscription ${request.params.id}`);
    if (outcome.status === 'no_routing_key') throw new ApiError(409, 'no_routing_key', 'a pagerduty subscription needs its own pagerduty_routing_key for a test event (the test table has no owner team)');
    deps.webhooks?.onQueued?.();
    return reply.code(202).send({ delivery_id: outcome.deliveryId, subscription_id: request.params.id });
  });
};
