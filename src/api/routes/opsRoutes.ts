import type { FastifyPluginAsync } from 'fastify';
import { Type } from '@sinclair/typebox';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import pg from 'pg';
import type { ApiDeps } from '../server.ts';

const Probe = Type.Object({ ok: Type.Boolean(), database: Type.Optional(Type.Boolean()), reason: Type.Optional(Type.String()) });

/** Probes and metrics: unauthenticated so orchestrators and Prometheus can reach them. */
export const opsRoutes = (deps: ApiDeps): FastifyPluginAsync => async (fastify) => {
  const app = fastify.withTypeProvider<TypeBoxTypeProvider>();
  const probe = probePool(deps.database.pool);
  fastify.addHook('onClose', async () => { await probe.end().catch(() => undefined); });

  app.get('/healthz', { schema: { tags: ['ops'], summary: 'Liveness: the process is up', response: { 200: Probe } } }, async () => ({ ok: true }));

  app.get('/readyz', {
    schema: { tags: ['ops'], summary: 'Readiness: accepting requests and the database answers', response: { 200: Probe, 503: Probe } },
  }, async (_request, reply) => {
    if (!deps.isAccepting()) return reply.code(503).send({ ok: false, reason: 'starting or shutting down' });
    const database = await pingDatabase(probe);
    if (!database) return reply.code(503).send({ ok: false, database, reason: 'database unreachable' });
    return { ok: true, database };
  });

  app.get('/metrics', { schema: { tags: ['ops'], summary: 'Prometheus metrics' } }, async (_request, reply) => {
    const text = await deps.metrics.registry.metrics();
    return reply.type(deps.metrics.registry.contentType).send(text);
  });
};

/**
 * The readiness probe gets a connection of its own. Through the shared pool, a SELECT 1 queues
 * behind every busy request and diagnosis: while a backlog drains (after a database outage, say)
 * it waited past the timeout, and /readyz called an answering database unreachable, which would
 * take a working replica out of its load balancer exactly while it catches up.
 */
function probePool(shared: pg.Pool): pg.Pool {
  // `password` is a non-enumerable property of pool options: pass it on explicitly.
  const pool = new pg.Pool({ ...shared.options, password: shared.options.password, max: 1, connectionTimeoutMillis: 2000 });
  // A probe connection dropped by a database restart must not crash the daemon; the next probe reconnects.
  pool.on('error', () => undefined);
  pool.on('connect', (client) => { client.on('error', () => undefined); });
  return pool;
}

async function pingDatabase(probe: pg.Pool): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  try {
    const timeout = new Promise<never>((_, reject) => { timer = setTimeout(() => reject(new Error('timeout')), 2000); });
    await Promise.race([probe.query('SELECT 1'), timeout]);
    return true;
  } catch {
    return false;
  } finally {
    clearTimeout(timer);
  }
}
