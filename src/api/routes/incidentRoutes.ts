import type { FastifyPluginAsync } from 'fastify';
import { Type } from '@sinclair/typebox';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { getIncident, listIncidents } from '../../db/incidentQueries.ts';
import { ApiError } from '../errors.ts';
import { AssigneeSchema, CategorySchema, CursorQuery, errorResponses, LimitQuery, listOf } from '../schemas.ts';
import type { ApiDeps } from '../server.ts';
import { parseCursor } from '../cursor.ts';

const IncidentSchema = Type.Object({
  id: Type.String({ description: 'category:resource, e.g. source_unavailable:orders-db' }),
  category: CategorySchema,
  resource: Type.String(),
  status: Type.Union([Type.Literal('open'), Type.Literal('resolved')]),
  summary: Type.String(),
  assignee: Type.Omit(AssigneeSchema, ['reason']),
  tables: Type.Array(Type.String()),
  rca_count: Type.Integer(),
  open_rca_count: Type.Integer(),
  first_seen: Type.String({ format: 'date-time' }),
  last_seen: Type.String({ format: 'date-time' }),
}, { $id: 'Incident' });

/** Correlated groups of RCA records (DESIGN 8). */
export const incidentRoutes = (deps: ApiDeps): FastifyPluginAsync => async (fastify) => {
  const app = fastify.withTypeProvider<TypeBoxTypeProvider>();
  const { db } = deps.database;

  app.get('/v1/incidents', {
    config: { role: 'reader' },
    schema: {
      tags: ['rca'], summary: 'Incidents: RCAs grouped by root cause and resource, most recently active first',
      querystring: Type.Object({ status: Type.Optional(Type.Union([Type.Literal('open'), Type.Literal('resolved')])), category: Type.Optional(CategorySchema), cursor: CursorQuery, limit: LimitQuery }, { additionalProperties: false }),
      response: { 200: listOf(IncidentSchema), ...errorResponses },
    },
  }, async (request) => {
    const { cursor, limit, ...filters } = request.query;
    return listIncidents(db, filters, limit ?? 100, parseCursor(cursor));
  });

  app.get('/v1/incidents/:id', {
    config: { role: 'reader' },
    schema: {
      tags: ['rca'], summary: 'One incident with its RCA ids (newest first, up to 1000)',
      params: Type.Object({ id: Type.String({ minLength: 1, maxLength: 400 }) }),
      response: { 200: Type.Intersect([IncidentSchema, Type.Object({ rca_ids: Type.Array(Type.String({ format: 'uuid' })) })]), ...errorResponses },
    },
  }, async (request) => {
    const incident = await getIncident(db, request.params.id);
    if (!incident) throw new ApiError(404, 'not_found', `no incident ${request.params.id}`);
    return incident;
  });
};
