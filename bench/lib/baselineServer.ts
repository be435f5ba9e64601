/**
 * The baselines of scenarios 1 and 3, run as a child process (like the daemon) so that the
 * load generator never shares an event loop with the server it measures:
 *  - BASELINE_MODE=ingest: POST /v1/signals/airflow → a bare fastify handler that inserts one
 *    `signals` row with pg (pool of 20, like the daemon's) and answers 202;
 *  - BASELINE_MODE=constant: GET /v1/tables/:table/health → a constant body.
 * Sends `{ type: 'ready', port }` over IPC once listening on 127.0.0.1; stops on SIGTERM.
 */
import { randomUUID } from 'node:crypto';
import Fastify from 'fastify';
import pg from 'pg';

const mode = process.env.BASELINE_MODE;
const app = Fastify({ logger: false, routerOptions: { maxParamLength: 300 } });
let pool: pg.Pool | null = null;

if (mode === 'ingest') {
  pool = new pg.Pool({ connectionString: process.env.DATABASE_URL, max: 20 });
  app.post('/v1/signals/airflow', async (request, reply) => {
    const body = request.body as Record<string, any>;
    const table = Array.isArray(body.tables) && body.tables.length > 0 ? String(body.tables[0]) : `${body.dag_id}.${body.task_id}`;
    const key = ['airflow', body.dag_id, body.task_id, body.run_id, body.map_index ?? -1, body.try_number, body.event].join('/');
    const now = new Date();
    const result = await pool!.query(
      `INSERT INTO signals (id, kind, event, source, table_name, pipeline, exception, occurred_at, received_at, dedupe_key, payload)
       VALUES ($1, 'failure', $2, 'airflow', $3, $4, $5, $6, $6, $7, $8) ON CONFLICT (dedupe_key) DO NOTHING RETURNING id`,
      [randomUUID(), body.event, table, { airflow: body.airflow, dag_id: body.dag_id, task_id: body.task_id, run_id: body.run_id }, body.exception ?? null, now, key, body],
    );
    const id = result.rows[0]?.id as string | undefined;
    return reply.code(id ? 202 : 200).send({ signal_id: id ?? null, duplicate: !id });
  });
} else if (mode === 'constant') {
  const constant = {
    table: 'lake.constant', status: 'healthy', since: '2026-01-01T00:00:00.000Z', last_checked_at: '2026-01-01T00:00:00.000Z',
    error: null, rca_id: null, assignee: null, resolution: null, owner: 'team-a', tier: 1, in_catalog: true,
  };
  app.get('/v1/tables/:table/health', async () => constant);
} else {
  throw new Error(`BASELINE_MODE must be ingest or constant (got ${mode})`);
}

await app.listen({ port: 0, host: '127.0.0.1' });
const address = app.server.address();
process.send?.({ type: 'ready', port: typeof address === 'object' && address ? address.port : 0, pid: process.pid });

let stopping = false;
const stop = async () => {
  if (stopping) return;
  stopping = true;
  await app.close();
  await pool?.end();
  process.exit(0);
};
process.on('SIGTERM', () => void stop());
process.on('SIGINT', () => void stop());
process.on('disconnect', () => void stop());
