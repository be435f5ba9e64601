import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { upsertTable } from '../../src/catalog/catalogStore.ts';
import { sampleDqFailure, sampleSlaMiss } from '../../src/signals/sampleEvents.ts';
import { waitFor } from '../support/testDaemon.ts';
import { attemptFigures, CallbackSender, failureCallback, formatFigures, signalFigures, startCluster, type Cluster } from './support/cluster.ts';

/**
 * Issue #10, item 2: three daemon processes on one database and consumer group, signals
 * spread over them → each signal diagnosed once, each resolution attempt executed once
 * (counted at the Airflow stand-in), the SLA monitor and the reconciler fire once per period.
 */

const REPLICAS = 3;
const HTTP_SIGNALS = 600;
const KAFKA_EVENTS = 600;
const TRANSIENT_EVERY = 4;
/** SLA deadlines every 5 s (a seconds field), so several pass during the test; the monitor looks every second. */
const SLA_SCHEDULE = '*/5 * * * * *';
const SLA_PERIOD_MS = 5000;
const SLA_TABLES = ['lake.replica_sla_a', 'lake.replica_sla_b', 'lake.replica_sla_c'];
/** The reconciler asks Airflow every 2 s. */
const RECONCILER_CRON = '*/2 * * * * *';
const RECONCILER_PERIOD_MS = 2000;
/** Periods of each kind the test watches at least. */
const MIN_PERIODS = 4;

let cluster: Cluster;

beforeAll(async () => {
  cluster = await startCluster({
    label: 'replicas',
    kafka: true,
    env: {
      // Info logs: each replica's share of the work is read from its own output.
      LOG_LEVEL: 'info',
      MEDIC_SLA_MONITOR_CRON: '* * * * * *',
      MEDIC_RECONCILER_CRON: RECONCILER_CRON, MEDIC_RECONCILER_LOOKBACK_MIN: '1',
    },
  });
  for (const name of SLA_TABLES) {
    await upsertTable(cluster.database.db, { name, owner: 'orders-eng', sla: { schedule: SLA_SCHEDULE, complete_within_minutes: 1 } });
  }
  // Onboarded a day ago: the deadlines passing now are misses, not "before onboarding".
  await cluster.database.pool.query(`UPDATE catalog_tables SET created_at = now() - interval '1 day'`);
}, 180_000);

afterAll(async () => {
  await cluster?.stop();
}, 120_000);

const occurrences = (text: string, pattern: RegExp) => (text.match(pattern) ?? []).length;

/** Failed task instances whose callback never came, appearing in the stand-in while the test runs. */
function feedLostTasks(airflow: Cluster['airflow'], everyMs: number): { runIds: string[]; stop(): void } {
  const runIds: string[] = [];
  const timer = setInterval(() => {
    const runId = `manual__lost_${runIds.length}`;
    const now = Date.now();
    airflow.failedTaskInstances.push({
      dag_id: 'replica_lost_dag', dag_run_id: runId, task_id: 'load', map_index: -1, state: 'failed', try_number: 1, max_tries: 0,
      start_date: new Date(now - 30_000).toISOString(), end_date: new Date(now - 500).toISOString(), duration: 29.5,
      hostname: 'worker-9', operator: 'PythonOperator', pool: 'default_pool',
    });
    runIds.push(runId);
  }, everyMs);
  return { runIds, stop: () => clearInterval(timer) };
}

describe(`replicas: ${REPLICAS} daemon processes on one database and consumer group`, () => {
  it('diagnose each signal once, execute each attempt once, and fire the SLA monitor and the reconciler once per period', async () => {
    const { airflow, sql } = cluster;
    airflow.state.failNext = 20;
    const nodes = await Promise.all(Array.from({ length: REPLICAS }, () => cluster.startNode()));
    await cluster.waitForGroup(REPLICAS, 90_000);
    const watchStarted = Date.now();
    const lostTasks = feedLostTasks(airflow, 1500);

    const callbacks = Array.from({ length: HTTP_SIGNALS }, (_, i) =>
      failureCallback(`manual__replica_${i}`, `lake.replica_${i % 30}`, i % TRANSIENT_EVERY === 0 ? 'transient' : 'code'));
    const events = Array.from({ length: KAFKA_EVENTS }, (_, i) => (i % 2 === 0 ? sampleSlaMiss(`lake.replica_kafka_${i % 30}`) : sampleDqFailure(`lake.replica_kafka_${i % 30}`)));
    const sender = new CallbackSender(cluster.token);
    await Promise.all([
      // Round-robin over the replicas, like a load balancer.
      sender.send(callbacks, (i) => nodes[i % REPLICAS]!.url, 24),
      cluster.produce(cluster.topics.slaMiss, events.filter((_, i) => i % 2 === 0)),
      cluster.produce(cluster.topics.dqFailure, events.filter((_, i) => i % 2 === 1)),
    ]);
    expect(sender.unacceptedReport()).toEqual([]);

    // Enough periods of the SLA monitor and the reconciler pass to see each fire once per period.
    const watchUntil = watchStarted + MIN_PERIODS * Math.max(SLA_PERIOD_MS, RECONCILER_PERIOD_MS) + 1000;
    await new Promise((r) => setTimeout(r, Math.max(0, watchUntil - Date.now())));
    lostTasks.stop();
    const lost = [...lostTasks.runIds];
    await waitFor(async () => {
      const reconciled = await cluster.count(`SELECT count(*)::int AS n FROM signals WHERE source = 'reconciler'`);
      const undiagnosed = await cluster.count('SELECT count(*)::int AS n FROM signals WHERE diagnosed_at IS NULL');
      const unsettledJobs = await cluster.count(`SELECT count(*)::int AS n FROM resolution_jobs WHERE state IN ('scheduled', 'running')`);
      const stored = await cluster.count(`SELECT count(*)::int AS n FROM signals WHERE source IN ('airflow', 'kafka')`);
      return reconciled >= lost.length && stored >= HTTP_SIGNALS + KAFKA_EVENTS && undiagnosed === 0 && unsettledJobs === 0;
    }, 90_000, 'every signal diagnosed, every lost task reconciled, every resolution job settled');
    // Two more reconciler periods: a replica that would reconcile the same task again has had its chance.
    await new Promise((r) => setTimeout(r, 2 * RECONCILER_PERIOD_MS));
    const watchedMs = Date.now() - watchStarted;

    // Each signal diagnosed once, and all three replicas took part.
    const signals = await signalFigures(sql, { runIds: sender.acceptedRunIds(), eventIds: events.map((e) => e.id) }, HTTP_SIGNALS + KAFKA_EVENTS);
    const attempts = await attemptFigures(sql, airflow);
    const diagnosedBy = nodes.map((n) => occurrences(n.output(), /"msg":"diagnosed"/g));
    const wastedBy = nodes.map((n) => occurrences(n.output(), /already diagnosed by another process/g));
    const totalRcas = await cluster.count('SELECT count(*)::int AS n FROM rca_records');
    console.info(formatFigures('replicas', signals, attempts));
    console.info(`replicas: RCAs written per replica ${diagnosedBy.join(' + ')} = ${totalRcas} RCAs; diagnoses discarded because another replica got there first ${wastedBy.join(' + ')}; `
      + `callbacks answered 503 under load and retried ${sender.unavailableRetries}`);
    expect(signals.offenders.slice(0, 10)).toEqual([]);
    expect(signals).toMatchObject({ accepted: HTTP_SIGNALS + KAFKA_EVENTS, diagnosed: HTTP_SIGNALS + KAFKA_EVENTS, duplicated: 0, lost: 0, unexpected: 0 });
    expect(diagnosedBy.reduce((a, b) => a + b, 0)).toBe(totalRcas);
    expect(Math.min(...diagnosedBy)).toBeGreaterThan(0);

    // Each resolution attempt executed once at Airflow: clears == attempts that reached it.
    const fromHttp = HTTP_SIGNALS / TRANSIENT_EVERY;
    expect(attempts.jobs).toBeGreaterThanOrEqual(fromHttp);
    expect(attempts.unsettled).toBe(0);
    expect(attempts.overExecuted).toEqual([]);
    expect(attempts.unconfirmed).toEqual([]);
    expect(attempts.unknown).toBe(0);
    expect(attempts.executed).toBe(attempts.expected);
    const clearsPerRun = new Map<string, number>();
    for (const c of airflow.clears) clearsPerRun.set(String(c.body.dag_run_id), (clearsPerRun.get(String(c.body.dag_run_id)) ?? 0) + 1);
    const retriggered = (await sql.query<{ run_id: string }>(`
      SELECT j.params->>'run_id' AS run_id FROM resolution_attempts a JOIN resolution_jobs j ON j.id = a.job_id WHERE a.outcome = 'retriggered'`)).rows;
    // Every job ends re-triggered exactly once (it waits for recovery after that), whichever replica ran it.
    expect(retriggered.length).toBe(attempts.jobs);
    expect(new Set(retriggered.map((r) => r.run_id)).size).toBe(attempts.jobs);

    // SLA monitor: one sla_miss per table and deadline, none skipped, across replicas.
    const misses = (await sql.query<{ table_name: string; expected_by: Date; n: number }>(`
      SELECT table_name, (payload->>'expected_by')::timestamptz AS expected_by, count(*)::int AS n
      FROM signals WHERE source = 'sla-monitor' GROUP BY 1, 2 ORDER BY 1, 2`)).rows;
    const emittedBy = nodes.map((n) => occurrences(n.output(), /sla_miss signal emitted/g));
    const deadlinesPerTable = SLA_TABLES.map((t) => misses.filter((m) => m.table_name === t).length);
    console.info(`replicas: SLA monitor: ${misses.length} sla_miss signals for ${SLA_TABLES.length} tables over ${(watchedMs / 1000).toFixed(0)} s `
      + `(deadlines per table ${deadlinesPerTable.join(', ')}), emitted per replica ${emittedBy.join(' + ')}`);
    expect(misses.filter((m) => m.n !== 1)).toEqual([]);
    expect(Math.min(...deadlinesPerTable)).toBeGreaterThanOrEqual(MIN_PERIODS - 1);
    for (const table of SLA_TABLES) {
      const deadlines = misses.filter((m) => m.table_name === table).map((m) => m.expected_by.getTime());
      const gaps = deadlines.slice(1).map((d, i) => d - deadlines[i]!);
      expect(gaps.filter((g) => g !== SLA_PERIOD_MS), `${table}: deadlines ${deadlines.map((d) => new Date(d).toISOString()).join(', ')}`).toEqual([]);
    }
    expect(emittedBy.reduce((a, b) => a + b, 0)).toBe(misses.length);

    // Reconciler: each lost task found once, and Airflow asked once per period (not once per replica).
    const reconciled = (await sql.query<{ run_id: string; n: number }>(`
      SELECT pipeline->>'run_id' AS run_id, count(*)::int AS n FROM signals WHERE source = 'reconciler' GROUP BY 1`)).rows;
    expect(reconciled.map((r) => r.run_id).sort()).toEqual([...lost].sort());
    expect(reconciled.filter((r) => r.n !== 1)).toEqual([]);
    const queriesPerPeriod = new Map<number, number>();
    for (const url of airflow.failedQueries) {
      const until = Date.parse(new URL(url, 'http://stand-in').searchParams.get('end_date_lt')!);
      const period = Math.floor(until / RECONCILER_PERIOD_MS);
      queriesPerPeriod.set(period, (queriesPerPeriod.get(period) ?? 0) + 1);
    }
    const reconciledBy = nodes.map((n) => occurrences(n.output(), /failure signal created/g));
    const repeated = [...queriesPerPeriod].filter(([, n]) => n > 1);
    // A period with no look (the leader's event loop too busy to tick in time) loses nothing: the next look's window overlaps it.
    const periods = [...queriesPerPeriod.keys()];
    const silent = Math.max(...periods) - Math.min(...periods) + 1 - periods.length;
    const missedTicks = nodes.map((n) => occurrences(n.output(), /missed execution/g));
    console.info(`replicas: reconciler: ${lost.length} lost tasks, ${reconciled.length} reconciled (per replica ${reconciledBy.join(' + ')}); `
      + `${airflow.failedQueries.length} Airflow look-ups over ${queriesPerPeriod.size} periods, ${repeated.length} periods asked more than once, `
      + `${silent} periods with no look (node-cron missed ticks per replica ${missedTicks.join(' + ')})`);
    expect(lost.length).toBeGreaterThanOrEqual(MIN_PERIODS);
    expect(queriesPerPeriod.size).toBeGreaterThanOrEqual(MIN_PERIODS);
    expect(repeated).toEqual([]);
  }, 240_000);
});
