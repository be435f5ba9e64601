import type { FastifyPluginAsync } from 'fastify';
import { Type } from '@sinclair/typebox';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { CatalogDocumentSchema, TableBodySchema, TableName, TeamBodySchema, TeamName } from '../../catalog/catalogSchema.ts';
import { applyCatalog, CatalogError, getTable, unknownTeamWarnings, upsertTable, upsertTeam } from '../../catalog/catalogStore.ts';
import { ApiError } from '../errors.ts';
import { errorResponses } from '../schemas.ts';
import type { ApiDeps } from '../server.ts';
import { ensureHealthRows } from '../../db/healthWriter.ts';

const Applied = Type.Object({ teams: Type.Integer(), tables: Type.Integer(), warnings: Type.Array(Type.String()) });
const Upserted = Type.Object({ name: Type.String(), created: Type.Boolean(), warnings: Type.Array(Type.String()) });

/** The catalog of onboarded tables and teams (DESIGN 4); writes need the admin role. */
export const catalogRoutes = (deps: ApiDeps): FastifyPluginAsync => async (fastify) => {
  const app = fastify.withTypeProvider<TypeBoxTypeProvider>();
  const { db } = deps.database;

  app.post('/v1/catalog', {
    config: { role: 'admin' },
    schema: { tags: ['catalog'], summary: 'Upsert a whole catalog document (teams and tables), all or nothing', body: CatalogDocumentSchema, response: { 200: Applied, ...errorResponses } },
  }, async (request) => {
    try {
      const result = await applyCatalog(db, request.body);
      await ensureHealthRows(db, (request.body.tables ?? []).map((t) => t.name));
      return result;
    } catch (error) {
      if (error instanceof CatalogError) throw new ApiError(400, 'invalid_catalog', error.message);
      throw error;
    }
  });

  app.put('/v1/catalog/tables/:table', {
    config: { role: 'admin' },
    schema: { tags: ['catalog'], summary: 'Create or replace one table', params: Type.Object({ table: TableName }), body: TableBodySchema, response: { 200: Upserted, 201: Upserted, ...errorResponses } },
  }, async (request, reply) => {
    const table = { ...request.body, name: request.params.table };
    const { created } = await upsertTable(db, table);
    await ensureHealthRows(db, [table.name]);
    return reply.code(created ? 201 : 200).send({ name: table.name, created, warnings: await unknownTeamWarnings(db, [table]) });
  });

  app.get('/v1/catalog/tables/:table', {
    config: { role: 'reader' },
    schema: { tags: ['catalog'], summary: 'One catalog table', params: Type.Object({ table: TableName }), response: { 200: Type.Record(Type.String(), Type.Unknown()), ...errorResponses } },
  }, async (request) => {
    const table = await getTable(db, request.params.table);
    if (!table) throw new ApiError(404, 'not_found', `table ${request.params.table} is not in the catalog`);
    return table as unknown as Record<string, unknown>;
  });

  app.put('/v1/catalog/teams/:team', {
    config: { role: 'admin' },
    schema: { tags: ['catalog'], summary: 'Create or replace one team', params: Type.Object({ team: TeamName }), body: TeamBodySchema, response: { 200: Upserted, 201: Upserted, ...errorResponses } },
  }, async (request, reply) => {
    const { created } = await upsertTeam(db, { ...request.body, name: request.params.team });
    return reply.code(created ? 201 : 200).send({ name: request.params.team, created, warnings: [] });
  });
};
