import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestDaemon, waitFor, type TestDaemon } from './support/testDaemon.ts';
import { startAirflowStandIn } from './support/airflowStandIn.ts';
import { airflowIdentity, lineageException, type RunEvent } from '../src/signals/openLineage.ts';

let daemon: TestDaemon;
let airflow: Awaited<ReturnType<typeof startAirflowStandIn>>;

/** A RunEvent as Airflow 3's openlineage provider sends it for a task (trimmed to what matters). */
function runEvent(eventType: RunEvent['eventType'], over: Partial<RunEvent> = {}, runId = '01931a2b-0000-7000-8000-000000000001'): RunEvent {
  return {
    eventType,
    eventTime: new Date().toISOString(),
    producer: 'https://github.com/apache/airflow/tree/providers-openlineage/2.3.0',
    schemaURL: 'https://openlineage.io/spec/2-0-2/OpenLineage.json#/$defs/RunEvent',
    run: {
      runId,
      facets: {
        airflow: {
          dag: { dag_id: 'orders_hourly' }, dagRun: { dag_id: 'orders_hourly', run_id: 'scheduled__2026-11-27T08:00:00+00:00' },
          task: { task_id: 'load_orders', operator_class: 'SQLExecuteQueryOperator' }, taskInstance: { try_number: 1, map_index: -1 },
        },
        ...(eventType === 'FAIL' ? {
          errorMessage: {
            _producer: 'x', _schemaURL: 'https://openlineage.io/spec/facets/1-0-0/ErrorMessageRunFacet.json',
            message: 'could not connect to server: Connection refused\n\tIs the server running on host "orders-db" (10.0.0.5) and accepting\n\tTCP/IP connections on port 5432?',
            programmingLanguage: 'python',
            stackTrace: 'Traceback (most recent call last):\n  File "/opt/airflow/task.py", line 12, in execute\n    conn = psycopg2.connect(dsn)\npsycopg2.OperationalError: could not connect to server: Connection refused',
          },
        } : {}),
      },
    },
    job: { namespace: 'airflow://main', name: 'orders_hourly.load_orders' },
    inputs: [{ namespace: 'postgres://orders-db:5432', name: 'orders.public.orders' }],
    outputs: [{ namespace: 's3://lake', name: 'lake.orders' }],
    ...over,
  };
}

beforeAll(async () => {
  airflow = await startAirflowStandIn();
  daemon = await startTestDaemon('lineage_reconciler', {
    ...airflow.env, MEDIC_SLA_MONITOR: 'off', MEDIC_RECONCILER_CRON: '* * * * * *', MEDIC_RESOLVER_BACKOFF_BASE_MS: '600000',
  });
  await daemon.call('POST', '/v1/catalog', {
    body: {
      teams: [{ name: 'orders-eng' }, { name: 'orders-dba' }],
      tables: [
        { name: 'lake.orders', owner: 'orders-eng', pipeline: { airflow: 'main', dag_id: 'orders_hourly', task_ids: ['load_orders'] }, source: { kind: 'postgres', name: 'orders-db', owner: 'orders-dba' } },
        { name: 'lake.by_job', owner: 'orders-eng', pipeline: { airflow: 'main', dag_id: 'jobs_dag', task_ids: ['write'] } },
      ],
    },
  });
});

afterAll(async () => {
  await daemon?.close();
  await airflow?.close();
});

const rcaOf = (signalId: string) => waitFor(async () => (await daemon.call('GET', '/v1/rca?limit=1000')).body.items.find((r: { signal_ids: string[] }) => r.signal_ids.includes(signalId)), 10_000, `the RCA of ${signalId}`);

describe('OpenLineage RunEvents', () => {
  it('reads the exception type from the stack trace and the Airflow identity from the facets', () => {
    const event = runEvent('FAIL');
    expect(lineageException(event)).toMatchObject({ type: 'psycopg2.OperationalError', message: expect.stringContaining('Connection refused') });
    expect(airflowIdentity(event)).toEqual({ dag_id: 'orders_hourly', task_id: 'load_orders', run_id: 'scheduled__2026-11-27T08:00:00+00:00', try_number: 1, map_index: -1 });
    expect(airflowIdentity(runEvent('FAIL', { run: { runId: 'x' }, job: { namespace: 'spark', name: 'nightly_dag.spark_job' } }))).toMatchObject({ dag_id: 'nightly_dag', task_id: 'spark_job' });
  });

  it('FAIL becomes a diagnosed failure; a repeat is a duplicate; COMPLETE makes the table healthy', async () => {
    const fail = await daemon.call('POST', '/api/v1/lineage', { body: runEvent('FAIL') });
    expect(fail.status).toBe(202);
    const again = await daemon.call('POST', '/api/v1/lineage', { body: runEvent('FAIL') });
    expect(again.body).toMatchObject({ duplicate: true, signal_id: fail.body.signal_id });
    const rca = await rcaOf(fail.body.signal_id);
    expect(rca).toMatchObject({ table: 'lake.orders', category: 'source_unavailable', assignee: { team: 'orders-dba' }, auto_resolution: { resolver: 'retry-with-backoff' } });
    const start = await daemon.call('POST', '/api/v1/lineage', { body: runEvent('START', {}, 'run-2') });
    expect(start.status).toBe(200);
    expect(start.body).toEqual({ signal: false, event_type: 'START' });
    const complete = await daemon.call('POST', '/api/v1/lineage', { body: runEvent('COMPLETE', {}, 'run-2') });
    expect(complete.status).toBe(202);
    await waitFor(async () => (await daemon.call('GET', '/v1/tables/lake.orders/health')).body.status === 'healthy', 10_000, 'healthy');
  });

  it('maps the table by output, then by the catalog pipeline of the job, then the first output', async () => {
    const byJob = await daemon.call('POST', '/api/v1/lineage', { body: runEvent('FAIL', { job: { namespace: 'airflow://main', name: 'jobs_dag.write' }, outputs: [{ namespace: 's3://x', name: 'unknown.path' }], run: { runId: 'r-job', facets: { errorMessage: { message: 'boom' } } } }) });
    expect((await rcaOf(byJob.body.signal_id)).table).toBe('lake.by_job');
    const firstOutput = await daemon.call('POST', '/api/v1/lineage', { body: runEvent('FAIL', { job: { namespace: 'spark', name: 'adhoc' }, outputs: [{ namespace: 's3://x', name: 'lake.adhoc_out' }], run: { runId: 'r-out' } }) });
    expect((await rcaOf(firstOutput.body.signal_id)).table).toBe('lake.adhoc_out');
  });

  it('rejects a RunEvent without a run id, naming the field', async () => {
    const bad = await daemon.call('POST', '/api/v1/lineage', { body: { ...runEvent('FAIL'), run: {} } });
    expect(bad.status).toBe(400);
    expect(bad.body.error.field).toBe('body.run.runId');
  });
});

describe('reconciler', () => {
  it('creates a failure signal for a task that failed with no callback, once, and none for one that had its callback', async () => {
    const now = Date.now();
    const ti = (taskId: string, runId: string) => ({
      dag_id: 'orders_hourly', dag_run_id: runId, task_id: taskId, map_index: -1, state: 'failed', try_number: 1, max_tries: 0,
      start_date: new Date(now - 120_000).toISOString(), end_date: new Date(now - 60_000).toISOString(), duration: 60, hostname: 'worker-3', operator: 'PythonOperator', pool: 'default_pool',
    });
    // This one sent its callback.
    await daemon.call('POST', '/v1/signals/airflow', { body: { event: 'failure', dag_id: 'orders_hourly', task_id: 'load_orders', run_id: 'manual__called', try_number: 1, exception: { type: 'KeyError', message: "'x'" } } });
    airflow.failedTaskInstances.push(ti('load_orders', 'manual__called'), ti('load_orders', 'manual__killed'));
    const killed = await waitFor(async () => {
      const list = await daemon.call('GET', '/v1/rca?table=lake.orders&limit=1000');
      return list.body.items.find((r: { evidence: Array<{ inputs: { exception_type: string } }> }) => r.evidence[0]?.inputs.exception_type === 'airflow.TaskInstanceFailedWithoutCallback');
    }, 15_000, 'the reconciled RCA');
    expect(killed).toBeDefined();
    await new Promise((r) => setTimeout(r, 2500));
    const signals = await daemon.database.pool.query(`SELECT source, pipeline->>'run_id' AS run_id FROM signals WHERE kind = 'failure' AND pipeline->>'dag_id' = 'orders_hourly' AND pipeline->>'run_id' IN ('manual__called', 'manual__killed') ORDER BY 2`);
    expect(signals.rows).toEqual([{ source: 'airflow', run_id: 'manual__called' }, { source: 'reconciler', run_id: 'manual__killed' }]);
    expect(airflow.failedQueries.length).toBeGreaterThanOrEqual(2);
    expect(airflow.failedQueries[0]).toContain('state=failed');
  });
});
