import pg from 'pg';
import { cpuTimeMs, log, percentile, pollUntil, round, rssSampler, spawnTsChild, type BenchContext } from '../lib/common.ts';
import { httpClient, ok, runBounded, type LoadResult } from '../lib/loadgen.ts';
import { startAirflowStub } from '../lib/airflowStub.ts';
import { INGEST_TOKEN, startBenchDaemon } from '../lib/daemon.ts';

/** The i-th failure callback: pipeline i mod P, its (i div P)-th run; a SQL error the classifier only guesses at (0.9), so every analyser runs, airflow-history included. */
export function failureCallback(i: number, pipelines: number, prefix = 'bench'): string {
  const p = i % pipelines;
  const run = Math.floor(i / pipelines);
  const start = new Date(Date.UTC(2026, 0, 1) + run * 3_600_000);
  return JSON.stringify({
    event: 'failure', dag_id: `${prefix}_dag_${p}`, task_id: 'load', run_id: `scheduled__${start.toISOString()}`,
    map_index: -1, try_number: 1, max_tries: 0,
    logical_date: start.toISOString(), start_date: start.toISOString(), end_date: new Date(start.getTime() + 60_000).toISOString(), duration_s: 60,
    exception: { type: 'psycopg2.errors.SyntaxError', message: `syntax error at or near "FROM"\nLINE 1: SELECT id, FROM orders_${p}` },
    operator: 'SQLExecuteQueryOperator', hostname: `worker-${p % 8}`, queue: 'default', pool: 'default_pool',
    tables: [`lake.${prefix}_${p}`], airflow: 'main',
  });
}

const latencyNames = [['p50', 50], ['p95', 95], ['p99', 99]] as const;

/**
 * Scenario 1: N failure callbacks from N/10 pipelines over HTTP (64 in flight), the analysers
 * asking a 50 ms Airflow stand-in. Baseline: the same POSTs into a bare fastify handler that
 * only inserts the signal row (same PostgreSQL server), run first.
 */
export async function runIngest(ctx: BenchContext): Promise<void> {
  const { callbacks: n, pipelines, concurrency, drainTimeoutMs } = ctx.scale.ingest;
  const bodies = Array.from({ length: n }, (_, i) => failureCallback(i, pipelines));
  const warmup = Math.max(10, Math.min(200, Math.floor(n / 10)));
  const warmBodies = Array.from({ length: warmup }, (_, i) => failureCallback(i, Math.min(pipelines, warmup), 'warm'));
  const headers = { authorization: `Bearer ${INGEST_TOKEN}` };
  const loadDeadlineMs = Math.max(60_000, drainTimeoutMs);

  // ---- baseline: a bare handler that inserts the row ----
  const baseUrl = await ctx.createDatabase('ingest_base');
  const base = await spawnTsChild<{ type: string; port?: number }>('lib/baselineServer.ts', { BASELINE_MODE: 'ingest', DATABASE_URL: baseUrl });
  const undeferBase = ctx.defer('baseline ingest server', base.stop);
  const baseSampler = rssSampler(base.child.pid!);
  const baseClient = httpClient(`http://127.0.0.1:${base.ready.port}`, concurrency);
  await runBounded(warmup, concurrency, 30_000, (i) => baseClient.post('/v1/signals/airflow', warmBodies[i]!, headers));
  log(`ingest: baseline, ${n} POSTs, ${concurrency} in flight`);
  const baseCpuBefore = cpuTimeMs(base.child.pid!);
  const baseLoad = await runBounded(n, concurrency, loadDeadlineMs, (i) => baseClient.post('/v1/signals/airflow', bodies[i]!, headers));
  const baseCpuMs = (cpuTimeMs(base.child.pid!) ?? NaN) - (baseCpuBefore ?? NaN);
  const baseRss = baseSampler.stop();
  baseClient.close();
  undeferBase();
  await base.stop();
  const baseRate = ok(baseLoad) / (baseLoad.elapsedMs / 1000);
  checkLoad('baseline', baseLoad, n);

  // ---- the daemon ----
  const stub = await startAirflowStub({ delayMs: 50 });
  const undeferStub = ctx.defer('airflow stub', stub.close);
  const dbUrl = await ctx.createDatabase('ingest');
  const daemon = await startBenchDaemon(ctx, dbUrl, stub.env);
  const sampler = rssSampler(daemon.pid);
  const db = new pg.Client({ connectionString: dbUrl });
  await db.connect();
  const undeferDb = ctx.defer('ingest db client', () => db.end());
  try {
    const teams = [{ name: 'bench-eng' }, { name: 'data-platform', platform: true }];
    const tables = [
      ...Array.from({ length: pipelines }, (_, p) => ({ name: `lake.bench_${p}`, owner: 'bench-eng', tier: 2, pipeline: { airflow: 'main', dag_id: `bench_dag_${p}`, task_ids: ['load'] } })),
      ...Array.from({ length: Math.min(pipelines, warmup) }, (_, p) => ({ name: `lake.warm_${p}`, owner: 'bench-eng', tier: 2, pipeline: { airflow: 'main', dag_id: `warm_dag_${p}`, task_ids: ['load'] } })),
    ];
    const applied = await daemon.call('POST', '/v1/catalog', { teams, tables });
    if (applied.status !== 200) throw new Error(`catalog apply failed: ${applied.status} ${JSON.stringify(applied.body)}`);

    const client = httpClient(daemon.url, concurrency);
    // Warm-up: JIT, pool, the Airflow client's token and version detection. Not measured.
    await runBounded(warmup, concurrency, 30_000, (i) => client.post('/v1/signals/airflow', warmBodies[i]!, headers));
    await pollUntil(async () => Number((await db.query(`SELECT count(*) AS c FROM rca_records WHERE table_name LIKE 'lake.warm\\_%'`)).rows[0].c) >= warmup, 60_000, 200);

    log(`ingest: daemon, ${n} POSTs from ${pipelines} pipelines, ${concurrency} in flight`);
    const cpuBefore = cpuTimeMs(daemon.pid);
    const load = await runBounded(n, concurrency, loadDeadlineMs, (i) => client.post('/v1/signals/airflow', bodies[i]!, headers));
    client.close();
    checkLoad('daemon', load, n);
    const accepted = ok(load);
    const rate = accepted / (load.elapsedMs / 1000);
    log(`ingest: ${accepted} accepted in ${Math.round(load.elapsedMs)} ms (${Math.round(rate)}/s); waiting for the RCAs`);
    const countRcas = async () => Number((await db.query(`SELECT count(*) AS c FROM rca_records WHERE table_name LIKE 'lake.bench\\_%'`)).rows[0].c);
    const drained = await pollUntil(async () => (await countRcas()) >= accepted, drainTimeoutMs, 250);
    const peak = sampler.stop();
    const daemonCpuMs = (cpuTimeMs(daemon.pid) ?? NaN) - (cpuBefore ?? NaN);
    const stats = (await db.query(`
      SELECT count(*)::int AS n,
        percentile_cont(ARRAY[0.5, 0.95, 0.99]) WITHIN GROUP (ORDER BY extract(epoch FROM r.created_at - s.received_at) * 1000) AS pct,
        extract(epoch FROM max(r.created_at)) * 1000 AS last_rca_ms
      FROM rca_records r JOIN signals s ON s.id = r.signal_id WHERE r.table_name LIKE 'lake.bench\\_%'`)).rows[0];
    const diagnosed = Number(stats.n);
    const pct = (stats.pct ?? [0, 0, 0]).map(Number) as number[];
    const rcaWindowMs = Math.max(1, Number(stats.last_rca_ms) - load.startedAt);
    const categories = (await db.query(`SELECT category, count(*)::int AS n FROM rca_records WHERE table_name LIKE 'lake.bench\\_%' GROUP BY category`)).rows;
    const analyserErrors = (await db.query(`
      SELECT e->>'analyser' AS analyser, count(*)::int AS n FROM rca_records r, jsonb_array_elements(r.evidence) e
      WHERE r.table_name LIKE 'lake.bench\\_%' AND e->>'error' IS NOT NULL GROUP BY 1`)).rows;

    // Where a diagnosis spends its time, from the evidence trail each RCA carries.
    const analyserMs = (await db.query(`
      SELECT e->>'analyser' AS analyser, round(avg((e->>'duration_ms')::float)::numeric, 1) AS avg_ms,
        round(percentile_cont(0.99) WITHIN GROUP (ORDER BY (e->>'duration_ms')::float)::numeric, 1) AS p99_ms
      FROM rca_records r, jsonb_array_elements(r.evidence) e WHERE r.table_name LIKE 'lake.bench\\_%' GROUP BY 1 ORDER BY 1`)).rows;
    ctx.note('ingest', 'analyser_ms', Object.fromEntries(analyserMs.map((r) => [r.analyser, { avg: Number(r.avg_ms), p99: Number(r.p99_ms) }])));
    ctx.record('ingest', 'signals_per_s', round(rate, 1), 'signals/s', round(baseRate, 1));
    ctx.record('ingest', 'rca_per_s', round(diagnosed / (rcaWindowMs / 1000), 1), 'rca/s', round(baseRate, 1));
    for (const [name, p] of latencyNames) {
      const index = name === 'p50' ? 0 : name === 'p95' ? 1 : 2;
      ctx.record('ingest', `signal_to_rca_${name}_ms`, round(pct[index] ?? 0, 1), 'ms', round(Math.max(0.01, percentile(baseLoad.latenciesMs, p)), 2));
    }
    ctx.record('ingest', 'ack_p99_ms', round(percentile(load.latenciesMs, 99), 2), 'ms', round(Math.max(0.01, percentile(baseLoad.latenciesMs, 99)), 2));
    if (ctx.wantMemory) ctx.record('memory', 'peak_rss_ingest_mb', round(peak, 1), 'MB', round(baseRss, 1));
    ctx.note('ingest', 'callbacks', n);
    ctx.note('ingest', 'pipelines', pipelines);
    ctx.note('ingest', 'concurrency', concurrency);
    ctx.note('ingest', 'daemon_http_status', load.byStatus);
    ctx.note('ingest', 'baseline_http_status', baseLoad.byStatus);
    ctx.note('ingest', 'daemon_post_ms', Math.round(load.elapsedMs));
    ctx.note('ingest', 'baseline_post_ms', Math.round(baseLoad.elapsedMs));
    ctx.note('ingest', 'diagnosed', diagnosed);
    // Load-independent cost: the daemon's CPU from the first POST to the last RCA, per signal
    // (intake and diagnosis), next to the bare handler's CPU per POST.
    ctx.note('ingest', 'daemon_cpu_ms_per_signal', round(daemonCpuMs / Math.max(1, diagnosed), 3));
    ctx.note('ingest', 'baseline_cpu_ms_per_signal', round(baseCpuMs / Math.max(1, ok(baseLoad)), 3));
    ctx.note('ingest', 'daemon_peak_rss_mb', round(peak, 1));
    ctx.note('ingest', 'all_diagnosed', Boolean(drained));
    ctx.note('ingest', 'first_post_to_last_rca_ms', Math.round(rcaWindowMs));
    ctx.note('ingest', 'categories', Object.fromEntries(categories.map((r) => [r.category, r.n])));
    ctx.note('ingest', 'analyser_errors', Object.fromEntries(analyserErrors.map((r) => [r.analyser, r.n])));
    ctx.note('ingest', 'airflow_stub_requests', { ...stub.counts });
    ctx.note('ingest', 'latency_baseline_is', 'the bare handler\'s POST round trip at the same percentile (time to make a signal durable, nothing else)');
    ctx.note('ingest', 'memory_baseline_is', 'peak RSS of the bare fastify+pg ingest server during the same POSTs');
  } finally {
    undeferDb();
    await db.end();
    await daemon.stop();
    undeferStub();
    await stub.close();
  }
}

function checkLoad(what: string, load: LoadResult, n: number): void {
  const good = ok(load);
  if (good < n) log(`ingest: ${what}: only ${good}/${n} answered 2xx (sent ${load.sent}, errors ${load.errors}; first: ${load.firstError})`);
}
