import net from 'node:net';
import pg from 'pg';
import { log, pollUntil, type BenchContext } from '../lib/common.ts';
import { httpClient, ok, runBounded } from '../lib/loadgen.ts';
import { INGEST_TOKEN, startBenchDaemon } from '../lib/daemon.ts';

/** A dead database behind a load balancer: accepts every TCP connection and drops it; counts them. */
async function dropper() {
  const state = { connections: 0 };
  const server = net.createServer((socket) => { state.connections += 1; socket.destroy(); });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { port: (server.address() as net.AddressInfo).port, state, close: () => new Promise<void>((resolve) => server.close(() => resolve())) };
}

const connectionRefused = { type: 'psycopg2.OperationalError', message: 'could not connect to server: Connection refused\n\tIs the server running on host "orders-db" (10.0.0.5) and accepting\n\tTCP/IP connections on port 5432?' };

function callback(dagId: string, table: string): string {
  return JSON.stringify({ event: 'failure', dag_id: dagId, task_id: 'load', run_id: 'scheduled__2026-01-01T00:00:00+00:00', try_number: 1, exception: connectionRefused, tables: [table] });
}

/**
 * Scenario 4: one source database dies and N pipelines reading it fail at once (their callbacks
 * sent with 64 in flight). Time until all are diagnosed, incidents, probes of the source.
 * Baselines from the same run: one failure of another dead source diagnosed alone (time), the
 * number of tables that failed (what uncorrelated alerting would open), the number of
 * diagnoses that needed the source's state (what probing per failure would cost).
 */
export async function runSurge(ctx: BenchContext): Promise<void> {
  const { pipelines: n, concurrency, timeoutMs } = ctx.scale.surge;
  const orders = await dropper();
  const solo = await dropper();
  const undeferDroppers = ctx.defer('dead sources', async () => { await orders.close(); await solo.close(); });
  const dbUrl = await ctx.createDatabase('surge');
  const daemon = await startBenchDaemon(ctx, dbUrl, {
    SOURCE_ORDERS_DB_DSN: `postgres://etl:secret@127.0.0.1:${orders.port}/orders`,
    SOURCE_SOLO_DB_DSN: `postgres://etl:secret@127.0.0.1:${solo.port}/solo`,
  });
  const db = new pg.Client({ connectionString: dbUrl });
  await db.connect();
  const client = httpClient(daemon.url, concurrency);
  const headers = { authorization: `Bearer ${INGEST_TOKEN}` };
  try {
    const tables = [
      ...Array.from({ length: n }, (_, i) => ({ name: `lake.orders_${i}`, owner: 'orders-eng', pipeline: { dag_id: `orders_${i}` }, source: { kind: 'postgres', name: 'orders-db', owner: 'orders-dba' } })),
      { name: 'lake.solo', owner: 'orders-eng', pipeline: { dag_id: 'solo' }, source: { kind: 'postgres', name: 'solo-db', owner: 'orders-dba' } },
    ];
    const applied = await daemon.call('POST', '/v1/catalog', { teams: [{ name: 'orders-dba' }, { name: 'orders-eng' }], tables });
    if (applied.status !== 200) throw new Error(`catalog apply failed: ${applied.status} ${JSON.stringify(applied.body)}`);
    const rcaCount = async (like: string) => Number((await db.query('SELECT count(*) AS c FROM rca_records WHERE table_name LIKE $1', [like])).rows[0].c);

    // Baseline: one failure, alone.
    const soloStarted = Date.now();
    const soloPost = await client.post('/v1/signals/airflow', callback('solo', 'lake.solo'), headers);
    if (soloPost.status !== 202) throw new Error(`solo callback: ${soloPost.status} ${soloPost.body}`);
    await pollUntil(async () => (await rcaCount('lake.solo')) >= 1, timeoutMs, 10);
    const soloRow = (await db.query(`SELECT extract(epoch FROM created_at) * 1000 AS at FROM rca_records WHERE table_name = 'lake.solo'`)).rows[0];
    const soloMs = soloRow ? Number(soloRow.at) - soloStarted : timeoutMs;

    log(`surge: ${n} pipelines fail at once`);
    const bodies = Array.from({ length: n }, (_, i) => callback(`orders_${i}`, `lake.orders_${i}`));
    const started = Date.now();
    const load = await runBounded(n, concurrency, timeoutMs, (i) => client.post('/v1/signals/airflow', bodies[i]!, headers));
    const done = await pollUntil(async () => (await rcaCount('lake.orders\\_%')) >= ok(load), timeoutMs, 50);
    const row = (await db.query(`
      SELECT count(*)::int AS n, count(DISTINCT incident_id)::int AS incidents, count(DISTINCT table_name)::int AS tables,
        extract(epoch FROM max(created_at)) * 1000 AS last,
        count(*) FILTER (WHERE evidence @> '[{"analyser":"source-database"}]')::int AS asked_source,
        min(confidence) AS min_confidence
      FROM rca_records WHERE table_name LIKE 'lake.orders\\_%'`)).rows[0];
    const allMs = done ? Number(row.last) - started : Date.now() - started;
    const incidents = (await db.query(`SELECT incident_id, count(*)::int AS n FROM rca_records WHERE table_name LIKE 'lake.orders\\_%' GROUP BY 1 ORDER BY 2 DESC LIMIT 5`)).rows;

    ctx.record('surge', 'time_to_all_diagnosed_ms', Math.round(allMs), 'ms', Math.max(1, Math.round(soloMs)));
    ctx.record('surge', 'incidents', Number(row.incidents), 'incidents', Math.max(1, Number(row.tables)));
    ctx.record('surge', 'source_probes', orders.state.connections, 'probes', Math.max(1, Number(row.asked_source)));
    ctx.note('surge', 'pipelines', n);
    ctx.note('surge', 'accepted', ok(load));
    ctx.note('surge', 'diagnosed', Number(row.n));
    ctx.note('surge', 'all_diagnosed', Boolean(done));
    ctx.note('surge', 'post_ms', Math.round(load.elapsedMs));
    ctx.note('surge', 'incident_ids', Object.fromEntries(incidents.map((r) => [r.incident_id, r.n])));
    ctx.note('surge', 'min_confidence', Number(row.min_confidence));
    ctx.note('surge', 'solo_probes', solo.state.connections);
    ctx.note('surge', 'baselines_are', 'time: one failure of another dead source diagnosed alone; incidents: tables that failed (one alert each without correlation); probes: diagnoses that asked the source-database analyser');
  } finally {
    client.close();
    await db.end();
    await daemon.stop();
    undeferDroppers();
    await orders.close();
    await solo.close();
  }
}
