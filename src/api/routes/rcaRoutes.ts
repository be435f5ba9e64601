import type { FastifyPluginAsync } from 'fastify';
import { Type } from '@sinclair/typebox';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { getRca, listRca } from '../../db/healthQueries.ts';
import { ApiError } from '../errors.ts';
import { CategorySchema, CursorQuery, errorResponses, LimitQuery, listOf, RcaSchema, RcaStatusSchema } from '../schemas.ts';
import type { ApiDeps } from '../server.ts';
import { parseCursor } from './tableRoutes.ts';

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
    return listRca(db, { ...filters, since: since ? new Date(since) : undefined }, limit ?? 100, parseCursor(cursor), request.identity?.role === 'admin');
  });

  app.get('/v1/rca/:id', {
    config: { role: 'reader' },
    schema: { tags: ['rca'], summary: 'One RCA record', params: Type.Object({ id: Type.String({ format: 'uuid' }) }), response: { 200: RcaSchema, ...errorResponses } },
  }, async (request) => {
    const rca = await getRca(db, request.params.id, request.identity?.role === 'admin');
    if (!rca) throw new ApiError(404, 'not_found', `no RCA record ${request.params.id}`);
    return rca;
  });
};
