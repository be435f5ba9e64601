import type { FastifyPluginAsync, FastifyReply } from 'fastify';
import { Type } from '@sinclair/typebox';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { TableName } from '../../catalog/catalogSchema.ts';
import { listTableHealth, tableHistory } from '../../db/healthQueries.ts';
import type { TableHealthReader } from '../../db/healthCache.ts';
import { parseCursor } from '../cursor.ts';
import { ApiError } from '../errors.ts';
import { CategorySchema, CursorQuery, errorResponses, HealthStatusSchema, LimitQuery, listOf, TableHealthSchema } from '../schemas.ts';
import type { ApiDeps } from '../server.ts';

const HealthEventSchema = Type.Object({
  table: Type.String(), old_status: Type.String(), new_status: Type.String(),
  rca_id: Type.Union([Type.String(), Type.Null()]), signal_id: Type.Union([Type.String(), Type.Null()]), reason: Type.String(), at: Type.String({ format: 'date-time' }),
});

/**
 * Sends a body serialised already, with the same fields as the route's response schema:
 * fastify sends a JSON string as it is. (The typed reply only accepts the schema's object.)
 */
function sendSerialised(reply: FastifyReply, json: string): FastifyReply {
  return reply.type('application/json; charset=utf-8').send(json);
}

/** Per-table health for incident tools and dashboards (DESIGN 8). */
export const tableRoutes = (deps: ApiDeps, healthReader: TableHealthReader): FastifyPluginAsync => async (fastify) => {
  const app = fastify.withTypeProvider<TypeBoxTypeProvider>();
  const { db } = deps.database;

  app.get('/v1/tables', {
    config: { role: 'reader' },
    schema: {
      tags: ['health'], summary: 'Table health, newest status change first',
      querystring: Type.Object({
        status: Type.Optional(HealthStatusSchema), owner: Type.Optional(Type.String({ maxLength: 128 })),
        assignee: Type.Optional(Type.String({ maxLength: 128 })), category: Type.Optional(CategorySchema),
        cursor: CursorQuery, limit: LimitQuery,
      }, { additionalProperties: false }),
      response: { 200: listOf(TableHealthSchema), ...errorResponses },
    },
  }, async (request) => {
    const { cursor, limit, ...filters } = request.query;
    return listTableHealth(db, filters, limit ?? 100, parseCursor(cursor));
  });

  app.get('/v1/tables/:table/health', {
    config: { role: 'reader' },
    schema: { tags: ['health'], summary: 'One table\'s health', params: Type.Object({ table: TableName }), response: { 200: TableHealthSchema, ...errorResponses } },
  }, async (request, reply) => {
    const json = await healthReader.read(request.params.table);
    if (json === null) throw new ApiError(404, 'not_found', `no signal has mentioned ${request.params.table} and it is not in the catalog`);
    return sendSerialised(reply as unknown as FastifyReply, json);
  });

  app.get('/v1/tables/:table/history', {
    config: { role: 'reader' },
    schema: {
      tags: ['health'], summary: 'The table\'s health events, newest first', params: Type.Object({ table: TableName }),
      querystring: Type.Object({ cursor: CursorQuery, limit: LimitQuery }, { additionalProperties: false }),
      response: { 200: listOf(HealthEventSchema), ...errorResponses },
    },
  }, async (request) => tableHistory(db, request.params.table, request.query.limit ?? 100, parseCursor(request.query.cursor, 'integer')));
};
