import { readFileSync } from 'node:fs';
import autocannon from 'autocannon';
import pg from 'pg';
import { log, pollUntil, round, rssSampler, spawnTsChild, type BenchContext } from '../lib/common.ts';
import { READER_TOKEN, startBenchDaemon, type BenchDaemon } from '../lib/daemon.ts';
import { pacedLoad } from '../lib/pacedLoad.ts';

/**
 * Seeds N catalog tables with their health straight in SQL (the API would take minutes for
 * 100,000): 50 teams; every 10th table unhealthy with an open RCA carrying a realistic
 * evidence trail and manual steps, every 20th with a scheduled resolution job; the rest healthy.
 */
export async function seedTables(databaseUrl: string, n: number): Promise<void> {
  const db = new pg.Client({ connectionString: databaseUrl });
  await db.connect();
  try {
    await db.query(`INSERT INTO teams (name, slack) SELECT 'team-' || g, '#team-' || g FROM generate_series(0, 49) g`);
    await db.query(`
      INSERT INTO catalog_tables (name, owner, tier, pipeline, dag_id, upstream, source)
      SELECT 'lake.t_' || g, 'team-' || (g % 50), g % 4,
        jsonb_build_object('airflow', 'main', 'dag_id', 'dag_' || g, 'task_ids', jsonb_build_array('load')), 'dag_' || g,
        CASE WHEN g > 0 AND g % 7 = 0 THEN ARRAY['lake.t_' || (g - 1)] ELSE '{}'::text[] END,
        jsonb_build_object('kind', 'postgres', 'name', 'src-' || (g % 200), 'owner', 'team-' || ((g + 1) % 50))
      FROM generate_series(0, $1 - 1) g`, [n]);
    const evidence = JSON.stringify(Array.from({ length: 4 }, (_, k) => ({
      analyser: ['exception-classifier', 'upstream-health', 'source-database', 'airflow-history'][k], version: '1',
      inputs: { kind: 'failure', table: 'lake.t_x', in_catalog: true, exception_type: 'psycopg2.OperationalError' },
      observations: { detail: 'x'.repeat(400), asked: ['task instance', 'tries (2)', 'recent DAG runs (20)'] },
      findings: [{ messageId: 'm', text: 'y'.repeat(200), data: {} }], verdict: null, error: null, duration_ms: 51.3,
    })));
    await db.query(`
      WITH picked AS (SELECT g, gen_random_uuid() AS rid, gen_random_uuid() AS sid FROM generate_series(0, $1 - 1, 10) g),
      rcas AS (
        INSERT INTO rca_records (id, table_name, signal_id, signal_ids, incident_id, status, category, summary, confidence,
          assignee_team, assignee_role, assignee_reason, auto_resolution, manual_steps, evidence, created_at, updated_at)
        SELECT rid, 'lake.t_' || g, sid, ARRAY[sid], 'source_unavailable:src-' || (g % 200), 'open', 'source_unavailable',
          'Source src-' || (g % 200) || ' refused connections', 0.95, 'team-' || ((g + 1) % 50), 'source_owner', 'the source owner fixes its database',
          CASE WHEN g % 20 = 0 THEN '{"resolver":"retry-with-backoff","max_attempts":5}'::jsonb END, repeat('### Step\\n', 100), $2::jsonb,
          now() - make_interval(secs => g), now() - make_interval(secs => g)
        FROM picked RETURNING id, table_name
      ),
      jobs AS (
        INSERT INTO resolution_jobs (id, rca_id, table_name, resolver, state, attempts, max_attempts, run_at, params)
        SELECT gen_random_uuid(), id, table_name, 'retry-with-backoff', 'scheduled', 1, 5, now() + interval '1 hour', '{"dag_id":"d","run_id":"r"}'::jsonb
        FROM rcas WHERE (substring(table_name from 8)::int) % 20 = 0
        RETURNING rca_id
      )
      SELECT count(*) FROM jobs`, [n, evidence]);
    await db.query(`
      INSERT INTO table_health (table_name, status, since, last_checked_at, rca_id, last_success_at)
      SELECT c.name, CASE WHEN r.id IS NULL THEN 'healthy' ELSE 'unhealthy' END, now() - interval '1 hour', now(), r.id, now() - interval '2 hours'
      FROM catalog_tables c LEFT JOIN rca_records r ON r.table_name = c.name`);
    await db.query('ANALYZE');
  } finally {
    await db.end();
  }
}

/** The daemon's table health cache counters, from its /metrics (src/db/healthCache.ts). */
async function cacheFigures(daemon: BenchDaemon): Promise<{ entries: number; hit: number; miss: number; bypass: number }> {
  const response = await fetch(`${daemon.url}/metrics`);
  const text = await response.text();
  const value = (pattern: RegExp) => Number(pattern.exec(text)?.[1] ?? 0);
  return {
    entries: value(/^medic_health_cache_entries (\S+)$/m),
    hit: value(/^medic_health_cache_reads_total\{result="hit"\} (\S+)$/m),
    miss: value(/^medic_health_cache_reads_total\{result="miss"\} (\S+)$/m),
    bypass: value(/^medic_health_cache_reads_total\{result="bypass"\} (\S+)$/m),
  };
}

/** CPU time (user + system) a process spends from now on, per request served. */
function cpuMeter(pid: number) {
  const cpuMs = () => {
    // Fields 14 and 15 of /proc/PID/stat, in clock ticks (100 a second on Linux), after the command name.
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
    return (Number(fields[11]) + Number(fields[12])) * 10;
  };
  const start = cpuMs();
  return { usPer: (requests: number) => ((cpuMs() - start) * 1000) / Math.max(1, requests) };
}

interface CannonFigures { reqPerS: number; p99: number; p50: number; non2xx: number; errors: number; total: number }

async function cannon(url: string, tables: number, options: { durationS: number; connections: number; overallRate?: number; headers?: Record<string, string> }): Promise<CannonFigures> {
  const result = await autocannon({
    url,
    connections: options.connections,
    duration: options.durationS,
    ...(options.overallRate ? { overallRate: options.overallRate } : {}),
    headers: options.headers ?? {},
    requests: [{
      method: 'GET',
      setupRequest: (request) => ({ ...request, path: `/v1/tables/lake.t_${Math.floor(Math.random() * tables)}/health` }),
    }],
  });
  const twoXx = (result as unknown as Record<string, number>)['2xx'] ?? 0;
  return {
    reqPerS: twoXx / Math.max(0.001, result.duration),
    p99: result.latency.p99,
    p50: result.latency.p50,
    non2xx: result.non2xx,
    errors: result.errors + result.timeouts,
    total: result.requests.total,
  };
}

/**
 * Scenario 3: GET /v1/tables/{table}/health over N seeded tables with autocannon (50
 * connections): req/s and p99 flat out, and p99 at a fixed 1,000 req/s (paced, bench/lib/
 * pacedLoad.ts; autocannon's overallRate figures are kept as notes). Baseline: a bare fastify
 * route returning a constant, same settings. Runs alternate daemon/baseline so drift in the
 * machine's load hits both.
 */
export async function runHealth(ctx: BenchContext): Promise<void> {
  const { tables, durationS, warmupS, connections, fixedRate } = ctx.scale.health;
  const dbUrl = await ctx.createDatabase('health');
  const seedStarted = Date.now();
  await seedTables(dbUrl, tables);
  log(`health: seeded ${tables} tables in ${Date.now() - seedStarted} ms`);
  const daemon = await startBenchDaemon(ctx, dbUrl);
  const sampler = rssSampler(daemon.pid);
  const base = await spawnTsChild<{ type: string; port?: number }>('lib/baselineServer.ts', { BASELINE_MODE: 'constant' });
  const undeferBase = ctx.defer('baseline constant server', base.stop);
  const baseSampler = rssSampler(base.child.pid!);
  const baseUrl = `http://127.0.0.1:${base.ready.port}`;
  const headers = { authorization: `Bearer ${READER_TOKEN}` };
  try {
    const probe = await daemon.call('GET', '/v1/tables/lake.t_10/health', undefined, READER_TOKEN);
    if (probe.status !== 200) throw new Error(`health probe failed: ${probe.status} ${JSON.stringify(probe.body)}`);
    // The steady state is measured: the daemon fills its table health cache at start (in pages,
    // in the background); wait for that like for /readyz, and say how long it took.
    const warmStarted = Date.now();
    const warmed = await pollUntil(async () => ((await cacheFigures(daemon)).entries >= tables ? true : null), 120_000, 250);
    ctx.note('health', 'cache_warm_wait_ms', warmed ? Date.now() - warmStarted : 'not warm after 120 s');
    if (warmupS > 0) {
      await cannon(daemon.url, tables, { durationS: warmupS, connections, headers });
      await cannon(baseUrl, tables, { durationS: warmupS, connections });
    }
    log(`health: flat out, ${connections} connections, ${durationS} s each`);
    const cacheBefore = await cacheFigures(daemon);
    const medicCpu = cpuMeter(daemon.pid);
    const medic = await cannon(daemon.url, tables, { durationS, connections, headers });
    const medicCpuUs = medicCpu.usPer(medic.total);
    const cacheAfter = await cacheFigures(daemon);
    const bareCpu = cpuMeter(base.child.pid!);
    const bare = await cannon(baseUrl, tables, { durationS, connections });
    const bareCpuUs = bareCpu.usPer(bare.total);
    log(`health: fixed ${fixedRate} req/s (paced), ${durationS} s each`);
    const path = () => `/v1/tables/lake.t_${Math.floor(Math.random() * tables)}/health`;
    const medicFixed = await pacedLoad({ url: daemon.url, rate: fixedRate, durationS, connections, headers, path });
    const bareFixed = await pacedLoad({ url: baseUrl, rate: fixedRate, durationS, connections, path });
    log(`health: fixed ${fixedRate} req/s (autocannon overallRate, for comparison with earlier runs), ${durationS} s each`);
    const medicFixedAc = await cannon(daemon.url, tables, { durationS, connections, overallRate: fixedRate, headers });
    const bareFixedAc = await cannon(baseUrl, tables, { durationS, connections, overallRate: fixedRate });
    const peak = sampler.stop();
    const basePeak = baseSampler.stop();

    ctx.record('health', 'req_per_s', round(medic.reqPerS, 1), 'req/s', round(bare.reqPerS, 1));
    ctx.record('health', 'p99_ms', medic.p99, 'ms', Math.max(0.01, bare.p99));
    ctx.record('health', 'p99_at_fixed_rate_ms', medicFixed.p99, 'ms', Math.max(0.01, bareFixed.p99));
    // CPU time per request is what the req/s ratio means on a quiet machine; it barely moves when other work shares the cores.
    ctx.note('health', 'cpu_us_per_request', { daemon: round(medicCpuUs, 1), baseline: round(bareCpuUs, 1), ratio: round(bareCpuUs / medicCpuUs, 3) });
    ctx.note('health', 'cache_reads_during_flat_out', {
      hit: cacheAfter.hit - cacheBefore.hit, miss: cacheAfter.miss - cacheBefore.miss, bypass: cacheAfter.bypass - cacheBefore.bypass, entries: cacheAfter.entries,
    });
    ctx.note('health', 'daemon_fixed_rate_autocannon', medicFixedAc);
    ctx.note('health', 'baseline_fixed_rate_autocannon', bareFixedAc);
    if (ctx.wantMemory) ctx.record('memory', 'peak_rss_health_mb', round(peak, 1), 'MB', round(basePeak, 1));
    // Kept even without --only memory: a read cache must stay within the RSS budget of target 5.
    ctx.note('health', 'daemon_peak_rss_mb', round(peak, 1));
    ctx.note('health', 'baseline_peak_rss_mb', round(basePeak, 1));
    ctx.note('health', 'tables', tables);
    ctx.note('health', 'connections', connections);
    ctx.note('health', 'duration_s', durationS);
    ctx.note('health', 'fixed_rate', fixedRate);
    ctx.note('health', 'daemon_flat_out', medic);
    ctx.note('health', 'baseline_flat_out', bare);
    ctx.note('health', 'daemon_fixed_rate', medicFixed);
    ctx.note('health', 'baseline_fixed_rate', bareFixed);
    ctx.note('health', 'token', 'a reader token from api_tokens (what dashboards use), not the in-memory admin token');
    ctx.note('health', 'memory_baseline_is', 'peak RSS of the bare fastify constant-route server during the same runs');
    for (const [what, figures] of [['daemon', medic], ['daemon fixed', medicFixed], ['daemon fixed (autocannon)', medicFixedAc]] as const) {
      if (figures.non2xx > 0 || figures.errors > 0) log(`health: ${what}: ${figures.non2xx} non-2xx, ${figures.errors} errors/timeouts`);
    }
  } finally {
    undeferBase();
    await base.stop();
    await daemon.stop();
  }
}
