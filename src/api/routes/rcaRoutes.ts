import type { FastifyPluginAsync } from 'fastify';
import { Type } from '@sinclair/typebox';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { getRca, listRca } from '../../db/healthQueries.ts';
import { resolverStats } from '../../db/resolverStats.ts';
import { ACTIONS, performAction } from '../../resolvers/engine/rcaActions.ts';
import { ApiError } from '../errors.ts';
import { CategorySchema, CursorQuery, ErrorSchema, errorResponses, LimitQuery, listOf, RcaDetailSchema, RcaSchema, RcaStatusSchema } from '../schemas.ts';
import type { ApiDeps } from '../server.ts';
import { parseCursor } from '../cursor.ts';

const ActionResult = Type.Object({ rca_id: Type.String({ format: 'uuid' }), action: Type.String(), changed: Type.Boolean(), status: Type.String(), message: Type.String() });

/** RCA records for on-call engineers; the evidence trail is for admins only (DESIGN 8). */
export const rcaRoutes = (deps: ApiDeps): FastifyPluginAsync => async (fastify) => {
  const app = fastify.withTypeProvider<TypeBoxTypeProvider>();
  const { db } = deps.database;

  app.get('/v1/rca', {
    config: { role: 'reader' },
    schema: {
      tags: ['rca'], summary: 'RCA records, newest first',
      querystring: Type.Object({
        table: Type.Optional(Type.String({ maxLength: 256 })), category: Type.Optional(CategorySchema),
        assignee: Type.Optional(Type.String({ maxLength: 128 })), status: Type.Optional(RcaStatusSchema),
        since: Type.Optional(Type.String({ format: 'date-time' })), cursor: CursorQuery, limit: LimitQuery,
      }, { additionalProperties: false }),
      response: { 200: listOf(RcaSchema), ...errorResponses },
    },
  }, async (request) => {
    const { cursor, limit, since, ...filters } = request.query;
    return listRca(db, { ...filters, since: since ? new Date(since) : undefined }, limit ?? 100, parseCursor(cursor, 'uuid'), request.identity?.role === 'admin');
  });

  app.post('/v1/rca/:id/actions/:action', {
    config: { role: 'operator' },
    schema: {
      tags: ['rca'], summary: 'One-click action: retry (re-trigger the run now), acknowledge, resolve, escalate',
      description: 'Idempotent: repeating an action that took effect answers changed=false. Audited with the token name and time, visible on GET /v1/rca/{id}.',
      params: Type.Object({ id: Type.String({ format: 'uuid' }), action: Type.Union(ACTIONS.map((a) => Type.Literal(a))) }),
      response: { 200: ActionResult, 409: ErrorSchema, 422: ErrorSchema, ...errorResponses },
    },
  }, async (request, reply) => {
    const outcome = await performAction(db, { rcaId: request.params.id, action: request.params.action, actor: request.identity?.name ?? 'unknown', manualRetriesPer10Min: deps.manualRetriesPer10Min });
    if (!outcome.ok) {
      if (outcome.retryAfterS) void reply.header('retry-after', String(outcome.retryAfterS));
      throw new ApiError(outcome.httpStatus, outcome.code, outcome.message);
    }
    request.log.info({ rca_id: request.params.id, action: request.params.action, changed: outcome.changed, status: outcome.status }, 'RCA action');
    if (outcome.changed && request.params.action === 'retry') deps.onResolutionScheduled();
    return { rca_id: request.params.id, action: request.params.action, changed: outcome.changed, status: outcome.status, message: outcome.message };
  });

  app.get('/v1/stats/resolvers', {
    config: { role: 'reader' },
    schema: {
      tags: ['rca'], summary: 'Resolver effectiveness per category and resolver: attempts, success rate, median time to recover',
      response: { 200: Type.Object({ items: Type.Array(Type.Object({
        category: Type.String(), resolver: Type.String(), jobs: Type.Integer(), attempts: Type.Integer(), recovered: Type.Integer(),
        escalated: Type.Integer(), in_progress: Type.Integer(), success_rate: Type.Union([Type.Number(), Type.Null()]),
        median_time_to_recover_s: Type.Union([Type.Number(), Type.Null()]),
      })) }), ...errorResponses },
    },
  }, async () => ({ items: await resolverStats(db) }));

  app.get('/v1/rca/:id', {
    config: { role: 'reader' },
    schema: { tags: ['rca'], summary: 'One RCA record', params: Type.Object({ id: Type.String({ format: 'uuid' }) }), response: { 200: RcaDetailSchema, ...errorResponses } },
  }, async (request) => {
    const rca = await getRca(db, request.params.id, request.identity?.role === 'admin');
    if (!rca) throw new ApiError(404, 'not_found', `no RCA record ${request.params.id}`);
    return rca;
  });
};
