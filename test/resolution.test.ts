import pg from 'pg';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { startTestDaemon, waitFor, type TestDaemon } from './support/testDaemon.ts';
import { startAirflowStandIn } from './support/airflowStandIn.ts';
import { createToken } from '../src/api/tokens.ts';

let daemon: TestDaemon;
let airflow: Awaited<ReturnType<typeof startAirflowStandIn>>;
let db: pg.Client;
let operator: string;
let reader: string;
let run = 0;

const SIGTERM = { type: 'airflow.exceptions.AirflowException', message: 'Task received SIGTERM signal' };

/** A failure callback for a fresh run of table `table`'s DAG; returns its RCA once diagnosed. */
async function fail(table: string, exception: { type: string; message: string } = SIGTERM) {
  run += 1;
  const body = { event: 'failure', dag_id: `dag_${table.replace(/\W/g, '_')}`, task_id: 'load', run_id: `manual__${run}`, try_number: 1, airflow: 'main', tables: [table], exception };
  const accepted = await daemon.call('POST', '/v1/signals/airflow', { body });
  expect(accepted.status).toBe(202);
  const rca = await waitFor(async () => (await daemon.call('GET', `/v1/rca?table=${table}`)).body.items.find((r: { signal_ids: string[] }) => r.signal_ids.includes(accepted.body.signal_id)), 10_000, 'the RCA');
  return { rca, body };
}

const rcaDetail = async (id: string) => (await daemon.call('GET', `/v1/rca/${id}`)).body;

beforeAll(async () => {
  airflow = await startAirflowStandIn();
  daemon = await startTestDaemon('resolution', {
    ...airflow.env,
    MEDIC_RESOLVER_POLL_MS: '100', MEDIC_RESOLVER_MAX_ATTEMPTS: '3',
    MEDIC_RESOLVER_BACKOFF_BASE_MS: '300', MEDIC_RESOLVER_BACKOFF_CAP_MS: '5000', MEDIC_RESOLVER_BACKOFF_JITTER_PCT: '0',
    MEDIC_RESOLVER_RECOVERY_TIMEOUT_MS: '60000', MEDIC_RESOLVER_CHECK_INTERVAL_MS: '200', MEDIC_RESOLVER_WAIT_UP_TO_MS: '1500',
    MEDIC_SLA_MONITOR: 'off',
  });
  db = new pg.Client({ connectionString: daemon.databaseUrl });
  await db.connect();
  operator = await createToken(daemon.database.db, 'oncall-alice', 'operator');
  reader = await createToken(daemon.database.db, 'dashboard', 'reader');
});

afterAll(async () => {
  await db?.end();
  await daemon?.close();
  await airflow?.close();
});

beforeEach(() => {
  airflow.state.failAlways = false;
  airflow.state.failNext = 0;
});

describe('auto-resolution against the Airflow REST API', () => {
  it('recovery: clears the failed task with dry_run false, and the next success resolves the RCA', async () => {
    const { rca, body } = await fail('lake.recovers');
    expect(rca).toMatchObject({ category: 'infra_transient', status: 'resolving', auto_resolution: { resolver: 'retry-with-backoff', max_attempts: 3 } });
    const clear = await waitFor(async () => airflow.clears.find((c) => c.body.dag_run_id === body.run_id), 10_000, 'the clearTaskInstances call');
    expect(clear).toMatchObject({ dagId: body.dag_id, body: { dry_run: false, only_failed: true, dag_run_id: body.run_id, task_ids: ['load'] } });
    await waitFor(async () => (await rcaDetail(rca.id)).auto_resolution.state === 'waiting_recovery', 5000, 'waiting for recovery');

    await daemon.call('POST', '/v1/signals/airflow', { body: { ...body, event: 'success', try_number: 2, exception: null } });
    const resolved = await waitFor(async () => { const r = await rcaDetail(rca.id); return r.status === 'resolved' ? r : null; }, 10_000, 'RCA resolved');
    expect(resolved.auto_resolution).toMatchObject({ state: 'recovered', attempts: 1 });
    expect(resolved.attempts).toEqual([expect.objectContaining({ attempt: 1, outcome: 'retriggered', actor: 'medic', resolver: 'retry-with-backoff' })]);
    expect((await daemon.call('GET', '/v1/tables/lake.recovers/health')).body.status).toBe('healthy');
    const stats = await daemon.call('GET', '/v1/stats/resolvers', { token: reader });
    expect(stats.body.items).toContainEqual(expect.objectContaining({ category: 'infra_transient', resolver: 'retry-with-backoff', recovered: 1, success_rate: 1, median_time_to_recover_s: expect.any(Number) }));
    const metrics = await daemon.call('GET', '/metrics', { token: null });
    expect(metrics.body).toContain('medic_resolver_attempts_total{resolver="retry-with-backoff",outcome="retriggered"}');
    expect(metrics.body).toMatch(/medic_resolver_success_ratio\{category="infra_transient",resolver="retry-with-backoff"\} 1/);
  });

  it('escalation: every attempt fails, with exponential backoff between them, then the RCA is escalated and the table stays unhealthy', async () => {
    airflow.state.failAlways = true;
    const { rca, body } = await fail('lake.escalates');
    const escalated = await waitFor(async () => { const r = await rcaDetail(rca.id); return r.status === 'escalated' ? r : null; }, 20_000, 'RCA escalated');
    expect(escalated.auto_resolution).toMatchObject({ state: 'exhausted', attempts: 3, max_attempts: 3 });
    expect(escalated.auto_resolution.last_error).toContain('503');
    expect(escalated.attempts.map((a: { attempt: number; outcome: string }) => [a.attempt, a.outcome])).toEqual([[1, 'failed'], [2, 'failed'], [3, 'failed']]);
    expect(escalated.manual_steps.length).toBeGreaterThan(50);
    expect(escalated.assignee.team).toBe('data-platform');
    // The backoff schedule, read from the rows: ≥ 300 ms after the 1st failure, ≥ 600 ms after the 2nd (base 300, no jitter).
    const rows = (await db.query('SELECT attempt, started_at FROM resolution_attempts WHERE rca_id = $1 ORDER BY attempt', [rca.id])).rows;
    const gaps = rows.slice(1).map((r, i) => new Date(r.started_at).getTime() - new Date(rows[i].started_at).getTime());
    expect(gaps[0]).toBeGreaterThanOrEqual(300);
    expect(gaps[1]).toBeGreaterThanOrEqual(600);
    expect(gaps[1]).toBeGreaterThan(gaps[0]!);
    expect(airflow.clears.filter((c) => c.body.dag_run_id === body.run_id)).toHaveLength(3);
    expect((await daemon.call('GET', '/v1/tables/lake.escalates/health')).body.status).toBe('unhealthy');
  });

  it('waits for Airflow to record the try as failed before clearing, without spending an attempt', async () => {
    run += 1;
    const runId = `manual__${run}`;
    airflow.state.failNext = 0;
    airflow.taskStates.set(`dag_lake_settling/${runId}/load`, 'running');
    const accepted = await daemon.call('POST', '/v1/signals/airflow', { body: { event: 'failure', dag_id: 'dag_lake_settling', task_id: 'load', run_id: runId, try_number: 1, airflow: 'main', tables: ['lake.settling'], exception: SIGTERM } });
    const rca = await waitFor(async () => (await daemon.call('GET', '/v1/rca?table=lake.settling')).body.items.find((r: { signal_ids: string[] }) => r.signal_ids.includes(accepted.body.signal_id)), 10_000, 'the RCA');
    await new Promise((r) => setTimeout(r, 1500));
    expect(airflow.clears.filter((c) => c.body.dag_run_id === runId)).toHaveLength(0);
    expect((await rcaDetail(rca.id)).auto_resolution).toMatchObject({ state: 'scheduled', attempts: 0 });
    airflow.taskStates.set(`dag_lake_settling/${runId}/load`, 'failed');
    await waitFor(async () => airflow.clears.find((c) => c.body.dag_run_id === runId), 15_000, 'the clear once the try is failed');
    expect((await rcaDetail(rca.id)).attempts).toEqual([expect.objectContaining({ attempt: 1, outcome: 'retriggered' })]);
  });

  it('plans nothing for the categories a retry cannot fix', async () => {
    const never: Array<[string, { type: string; message: string }]> = [
      ['code_error', { type: 'KeyError', message: "'customer_id'" }],
      ['source_auth_failure', { type: 'psycopg2.OperationalError', message: 'FATAL:  password authentication failed for user "etl"' }],
      ['source_schema_change', { type: 'psycopg2.errors.UndefinedColumn', message: 'column "customer_tier" does not exist' }],
      ['resource_exhausted', { type: 'java.lang.OutOfMemoryError', message: 'Java heap space' }],
      ['unknown', { type: 'ValueError', message: 'something odd happened' }],
    ];
    for (const [category, exception] of never) {
      const { rca } = await fail(`lake.never_${category}`, exception);
      expect(rca.category, category).toBe(category);
      expect(rca.auto_resolution, category).toBeNull();
      expect(rca.status, category).toBe('open');
      expect((await db.query('SELECT 1 FROM resolution_jobs WHERE rca_id = $1', [rca.id])).rowCount, category).toBe(0);
    }
  });

  it('does not plan a re-trigger for a retry callback: Airflow is already retrying', async () => {
    run += 1;
    const accepted = await daemon.call('POST', '/v1/signals/airflow', { body: { event: 'retry', dag_id: 'dag_r', task_id: 'load', run_id: `manual__${run}`, try_number: 1, tables: ['lake.retrying'], exception: SIGTERM } });
    const rca = await waitFor(async () => (await daemon.call('GET', '/v1/rca?table=lake.retrying')).body.items[0], 10_000, 'the RCA');
    expect(accepted.status).toBe(202);
    expect(rca.auto_resolution).toBeNull();
  });
});

describe('one-click actions', () => {
  it('acknowledge is idempotent and audited with who and when', async () => {
    const { rca } = await fail('lake.ack', { type: 'KeyError', message: "'x'" });
    const first = await daemon.call('POST', `/v1/rca/${rca.id}/actions/acknowledge`, { token: operator });
    expect(first.status).toBe(200);
    expect(first.body).toMatchObject({ changed: true, status: 'acknowledged' });
    const second = await daemon.call('POST', `/v1/rca/${rca.id}/actions/acknowledge`, { token: operator });
    expect(second.body).toMatchObject({ changed: false, status: 'acknowledged' });
    const detail = await rcaDetail(rca.id);
    expect(detail.actions).toEqual([expect.objectContaining({ action: 'acknowledge', actor: 'oncall-alice', outcome: 'applied', at: expect.any(String) })]);
    expect((await daemon.call('POST', `/v1/rca/${rca.id}/actions/acknowledge`, { token: reader })).status).toBe(403);
    expect((await daemon.call('POST', `/v1/rca/${rca.id}/actions/reboot`, { token: operator })).status).toBe(400);
  });

  it('retry re-triggers a run Medic would not retry itself, never twice in flight, and is rate-limited per table', async () => {
    const { rca, body } = await fail('lake.manual', { type: 'KeyError', message: "'x'" });
    expect(rca.auto_resolution).toBeNull();
    const retried = await daemon.call('POST', `/v1/rca/${rca.id}/actions/retry`, { token: operator });
    expect(retried.status).toBe(200);
    expect(retried.body).toMatchObject({ changed: true, status: 'resolving' });
    await waitFor(async () => airflow.clears.find((c) => c.body.dag_run_id === body.run_id), 5000, 'the manual clear');
    await waitFor(async () => (await rcaDetail(rca.id)).auto_resolution?.state === 'waiting_recovery', 5000, 'in flight');
    const again = await daemon.call('POST', `/v1/rca/${rca.id}/actions/retry`, { token: operator });
    expect(again.status).toBe(409);
    expect(again.body.error.code).toBe('retry_in_flight');
    expect(airflow.clears.filter((c) => c.body.dag_run_id === body.run_id)).toHaveLength(1);

    // Three applied retries per table per 10 minutes (default): two more RCAs of the table, then 429.
    const more = [await fail('lake.manual', { type: 'KeyError', message: "'y'" }), await fail('lake.manual', { type: 'KeyError', message: "'z'" }), await fail('lake.manual', { type: 'KeyError', message: "'w'" })];
    expect((await daemon.call('POST', `/v1/rca/${more[0]!.rca.id}/actions/retry`, { token: operator })).status).toBe(200);
    expect((await daemon.call('POST', `/v1/rca/${more[1]!.rca.id}/actions/retry`, { token: operator })).status).toBe(200);
    const limited = await daemon.call('POST', `/v1/rca/${more[2]!.rca.id}/actions/retry`, { token: operator });
    expect(limited.status).toBe(429);
    expect(limited.body.error.code).toBe('rate_limited');
  });

  it('resolve makes the table healthy when nothing else is open; escalate stops automatic attempts', async () => {
    const { rca } = await fail('lake.resolve_me', { type: 'KeyError', message: "'x'" });
    expect((await daemon.call('GET', '/v1/tables/lake.resolve_me/health')).body.status).toBe('unhealthy');
    const resolved = await daemon.call('POST', `/v1/rca/${rca.id}/actions/resolve`, { token: operator });
    expect(resolved.body).toMatchObject({ changed: true, status: 'resolved' });
    expect((await daemon.call('GET', '/v1/tables/lake.resolve_me/health')).body.status).toBe('healthy');
    const history = await daemon.call('GET', '/v1/tables/lake.resolve_me/history');
    expect(history.body.items[0].reason).toBe('resolved by oncall-alice');

    airflow.state.failAlways = true;
    const { rca: transient } = await fail('lake.escalate_me');
    const escalated = await daemon.call('POST', `/v1/rca/${transient.id}/actions/escalate`, { token: operator });
    expect(escalated.body).toMatchObject({ changed: true, status: 'escalated' });
    const detail = await rcaDetail(transient.id);
    expect(detail.auto_resolution.state).toBe('cancelled');
  });
});

describe('wait-for-condition and rerun-partition, end to end', () => {
  it('wait-for-condition re-triggers once every upstream is healthy, and escalates when the wait runs out', async () => {
    await daemon.call('POST', '/v1/catalog', {
      body: {
        teams: [{ name: 'feeder-eng' }, { name: 'waiter-eng' }],
        tables: [
          { name: 'lake.feeder', owner: 'feeder-eng', pipeline: { airflow: 'main', dag_id: 'feeder_dag' } },
          { name: 'lake.waiter', owner: 'waiter-eng', pipeline: { airflow: 'main', dag_id: 'waiter_dag' }, upstream: ['lake.feeder'] },
          { name: 'lake.waiter2', owner: 'waiter-eng', pipeline: { airflow: 'main', dag_id: 'waiter2_dag' }, upstream: ['lake.feeder'] },
        ],
      },
    });
    await daemon.call('POST', '/v1/signals/airflow', { body: { event: 'failure', dag_id: 'feeder_dag', task_id: 'load', run_id: 'manual__feed', try_number: 1, tables: ['lake.feeder'], exception: { type: 'KeyError', message: "'id'" } } });
    await waitFor(async () => (await daemon.call('GET', '/v1/tables/lake.feeder/health')).body.status === 'unhealthy', 10_000, 'feeder unhealthy');

    const sensorTimeout = { type: 'airflow.exceptions.AirflowSensorTimeout', message: 'Sensor has timed out; run duration of 3600.2 seconds exceeds the specified timeout of 3600.0.' };
    const waiter = await daemon.call('POST', '/v1/signals/airflow', { body: { event: 'failure', dag_id: 'waiter_dag', task_id: 'wait_for_feeder', run_id: 'manual__wait', try_number: 1, airflow: 'main', tables: ['lake.waiter'], exception: sensorTimeout } });
    const rca = await waitFor(async () => (await daemon.call('GET', '/v1/rca?table=lake.waiter')).body.items.find((r: { signal_ids: string[] }) => r.signal_ids.includes(waiter.body.signal_id)), 10_000, 'the waiter RCA');
    expect(rca).toMatchObject({ category: 'upstream_unhealthy', assignee: { team: 'feeder-eng', role: 'upstream_owner' }, auto_resolution: { resolver: 'wait-for-condition' } });
    await new Promise((r) => setTimeout(r, 700));
    expect(airflow.clears.filter((c) => c.body.dag_run_id === 'manual__wait')).toHaveLength(0);

    await daemon.call('POST', '/v1/signals/airflow', { body: { event: 'success', dag_id: 'feeder_dag', task_id: 'load', run_id: 'manual__feed', try_number: 2, tables: ['lake.feeder'] } });
    const clear = await waitFor(async () => airflow.clears.find((c) => c.body.dag_run_id === 'manual__wait'), 10_000, 'the re-trigger after the upstream recovered');
    expect(clear.body).toMatchObject({ dry_run: false, task_ids: ['wait_for_feeder'] });

    // The feeder fails again and stays down: the second waiter's job gives up at the wait limit (1.5 s here).
    await daemon.call('POST', '/v1/signals/airflow', { body: { event: 'failure', dag_id: 'feeder_dag', task_id: 'load', run_id: 'manual__feed2', try_number: 1, tables: ['lake.feeder'], exception: { type: 'KeyError', message: "'id'" } } });
    await waitFor(async () => (await daemon.call('GET', '/v1/tables/lake.feeder/health')).body.status === 'unhealthy', 10_000, 'feeder unhealthy again');
    const waiter2 = await daemon.call('POST', '/v1/signals/airflow', { body: { event: 'failure', dag_id: 'waiter2_dag', task_id: 'wait_for_feeder', run_id: 'manual__wait2', try_number: 1, airflow: 'main', tables: ['lake.waiter2'], exception: sensorTimeout } });
    const rca2 = await waitFor(async () => (await daemon.call('GET', '/v1/rca?table=lake.waiter2')).body.items.find((r: { signal_ids: string[] }) => r.signal_ids.includes(waiter2.body.signal_id)), 10_000, 'the second waiter RCA');
    const escalated = await waitFor(async () => { const r = await rcaDetail(rca2.id); return r.status === 'escalated' ? r : null; }, 10_000, 'escalated at the wait limit');
    expect(escalated.auto_resolution.last_error).toContain('condition was not met');
    expect(airflow.clears.filter((c) => c.body.dag_run_id === 'manual__wait2')).toHaveLength(0);
  });

  it('rerun-partition clears the successful load of an incomplete partition, successful tasks included', async () => {
    await daemon.call('PUT', '/v1/catalog/tables/lake.partitioned', { body: { owner: 'waiter-eng', pipeline: { airflow: 'main', dag_id: 'part_dag', task_ids: ['load'] } } });
    await daemon.call('POST', '/v1/signals/airflow', { body: { event: 'success', dag_id: 'part_dag', task_id: 'load', run_id: 'scheduled__part', try_number: 1, airflow: 'main', tables: ['lake.partitioned'], end_date: new Date(Date.now() - 60_000).toISOString() } });
    const dq = await daemon.call('POST', '/v1/signals/dq-failure', {
      body: { id: 'dq-part-1', table: 'lake.partitioned', check: 'completeness.row_count', check_kind: 'completeness', partition: 'dt=2026-11-27/hr=08', source_count: 1000, lake_count: 900, strategy: 'snapshot', severity: 'error', detected_at: new Date().toISOString() },
    });
    expect(dq.status).toBe(202);
    const clear = await waitFor(async () => airflow.clears.find((c) => c.body.dag_run_id === 'scheduled__part'), 10_000, 'the partition re-run');
    expect(clear.body).toMatchObject({ dry_run: false, only_failed: false, task_ids: ['load'] });
    const rca = (await daemon.call('GET', '/v1/rca?table=lake.partitioned')).body.items[0];
    expect(rca).toMatchObject({ category: 'incomplete_load', auto_resolution: { resolver: 'rerun-partition' } });
  });
});
