import type { FastifyPluginAsync } from 'fastify';
import { Type } from '@sinclair/typebox';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { ApiDeps } from '../server.ts';

const Probe = Type.Object({ ok: Type.Boolean(), database: Type.Optional(Type.Boolean()), reason: Type.Optional(Type.String()) });

/** Probes and metrics: unauthenticated so orchestrators and Prometheus can reach them. */
export const opsRoutes = (deps: ApiDeps): FastifyPluginAsync => async (fastify) => {
  const app = fastify.withTypeProvider<TypeBoxTypeProvider>();

  app.get('/healthz', { schema: { tags: ['ops'], summary: 'Liveness: the process is up', response: { 200: Probe } } }, async () => ({ ok: true }));

  app.get('/readyz', {
    schema: { tags: ['ops'], summary: 'Readiness: accepting requests and the database answers', response: { 200: Probe, 503: Probe } },
  }, async (_request, reply) => {
    if (!deps.isAccepting()) return reply.code(503).send({ ok: false, reason: 'starting or shutting down' });
    const database = await pingDatabase(deps);
    if (!database) return reply.code(503).send({ ok: false, database, reason: 'database unreachable' });
    return { ok: true, database };
  });

  app.get('/metrics', { schema: { tags: ['ops'], summary: 'Prometheus metrics' } }, async (_request, reply) => {
    const text = await deps.metrics.registry.metrics();
    return reply.type(deps.metrics.registry.contentType).send(text);
  });
};

async function pingDatabase(deps: ApiDeps): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  try {
    const timeout = new Promise<never>((_, reject) => { timer = setTimeout(() => reject(new Error('timeout')), 2000); });
    await Promise.race([deps.database.pool.query('SELECT 1'), timeout]);
    return true;
  } catch {
    return false;
  } finally {
    clearTimeout(timer);
  }
}
