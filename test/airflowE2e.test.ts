import { execFile } from 'node:child_process';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort, spawnDaemon, type DaemonProcess } from './support/daemonProcess.ts';
import { ensureAirflowVenv, startRealAirflow, type RealAirflow } from './support/realAirflow.ts';
import { createTestDatabase } from './support/testDatabase.ts';
import { waitFor } from './support/testDaemon.ts';

/**
 * End to end with a REAL Airflow 3 (pip-installed into a venv cached outside the repository by
 * scripts/airflow-env.sh; SQLite, LocalExecutor, api-server + scheduler + dag-processor), a
 * running `medic serve`, and the medic_airflow notifier in the DAGs
 * (integrations/airflow/e2e/dags). Also runs the notifier's own pytest suite in that venv.
 *
 * Scenarios: (1) transient failure → infra_transient → Medic clears the task through Airflow's
 * REST API → success → healthy + resolved; (2) code error → code_error, no automatic action;
 * (3) the same failure as (1) through the OpenLineage provider's HTTP transport;
 * (4) a SIGKILLed task (no callback) found by Medic's reconciler.
 */

const execFileAsync = promisify(execFile);
const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const TOKEN = 'airflow-e2e-admin-token-0123456789';
const AIRFLOW_PASSWORD = 'airflow-e2e-password-0123';
const DAGS = ['medic_e2e_transient', 'medic_e2e_code_error', 'medic_e2e_openlineage', 'medic_e2e_sigkill'];

const CATALOG = {
  teams: [
    { name: 'orders-eng', slack: '#orders-eng' },
    { name: 'data-platform', slack: '#data-platform', platform: true },
  ],
  tables: [
    { name: 'lake.e2e_transient', owner: 'orders-eng', pipeline: { airflow: 'main', dag_id: 'medic_e2e_transient', task_ids: ['load_orders'] } },
    { name: 'lake.e2e_code_error', owner: 'orders-eng', pipeline: { airflow: 'main', dag_id: 'medic_e2e_code_error', task_ids: ['transform'] } },
    { name: 'lake.e2e_lineage', owner: 'orders-eng', pipeline: { airflow: 'main', dag_id: 'medic_e2e_openlineage', task_ids: ['load_events'] } },
    { name: 'lake.e2e_sigkill', owner: 'orders-eng', pipeline: { airflow: 'main', dag_id: 'medic_e2e_sigkill', task_ids: ['load_big'] } },
  ],
};

let venv: string;
let airflow: RealAirflow | undefined;
let medic: DaemonProcess | undefined;
let database: Awaited<ReturnType<typeof createTestDatabase>> | undefined;
let db: pg.Client | undefined;
let medicHome: string | undefined;
let medicEnv: Record<string, string>;
const timings: Record<string, number> = {};

async function call(method: string, url: string, body?: unknown): Promise<{ status: number; body: any }> {
  const response = await fetch(`${medic!.url}${url}`, {
    method,
    headers: { authorization: `Bearer ${TOKEN}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await response.text();
  let parsed: unknown = text;
  try { parsed = JSON.parse(text); } catch { /* text */ }
  return { status: response.status, body: parsed };
}

async function rcasOf(table: string): Promise<any[]> {
  const { status, body } = await call('GET', `/v1/rca?table=${encodeURIComponent(table)}`);
  expect(status).toBe(200);
  return body.items as any[];
}

async function healthOf(table: string): Promise<any> {
  const { status, body } = await call('GET', `/v1/tables/${encodeURIComponent(table)}/health`);
  return status === 200 ? body : null;
}

async function signalsOf(table: string): Promise<Array<{ kind: string; event: string | null; source: string; pipeline: any; exception: any }>> {
  return (await db!.query('SELECT kind, event, source, pipeline, exception FROM signals WHERE table_name = $1 ORDER BY received_at', [table])).rows;
}

/** On a failure, the Medic output and the Airflow component logs say why. */
async function diagnostics(extra = ''): Promise<string> {
  const parts = [extra, `--- medic output (tail)\n${(medic?.output() ?? '').split('\n').slice(-40).join('\n')}`];
  if (airflow) for (const c of ['scheduler', 'dag-processor', 'api-server'] as const) parts.push(`--- airflow ${c} (tail)\n${await airflow.logTail(c, 20)}`);
  return parts.join('\n');
}

async function withDiagnostics<T>(work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (error) {
    const e = error as Error;
    e.message = `${e.message}\n${await diagnostics()}`;
    throw e;
  }
}

beforeAll(async () => {
  const t0 = Date.now();
  venv = await ensureAirflowVenv();
  timings.venvMs = Date.now() - t0;

  database = await createTestDatabase('airflow_e2e');
  db = new pg.Client({ connectionString: database.url });
  await db.connect();
  medicHome = await fs.mkdtemp(path.join(os.tmpdir(), 'medic-e2e-home-'));
  const [medicPort, airflowPort] = await Promise.all([freePort(), freePort()]);
  const medicUrl = `http://127.0.0.1:${medicPort}`;
  medicEnv = {
    DATABASE_URL: database.url,
    MEDIC_HOME: medicHome,
    MEDIC_ADMIN_TOKEN: TOKEN,
    MEDIC_SLA_MONITOR: 'off',
    AIRFLOW_MAIN_URL: `http://127.0.0.1:${airflowPort}`,
    AIRFLOW_MAIN_USERNAME: 'medic-e2e',
    AIRFLOW_MAIN_PASSWORD: AIRFLOW_PASSWORD,
    // Airflow 3 records a FAILED state only when the task process exits (the supervisor's
    // finish() call), about 5 s after on_failure_callback and the OpenLineage FAIL event ran.
    // A 2 s first attempt lands inside that window on purpose: the resolver must wait for the
    // final state (without spending an attempt) instead of clearing nothing.
    MEDIC_RESOLVER_BACKOFF_BASE_MS: process.env.MEDIC_E2E_BACKOFF_BASE_MS ?? '2000',
    MEDIC_RESOLVER_BACKOFF_JITTER_PCT: '0',
    MEDIC_RESOLVER_POLL_MS: '500',
    MEDIC_DIAGNOSIS_POLL_MS: '200',
    MEDIC_LOOKUP_TTL_MS: '1000',
    // The reconciler looks every 5 s. On Airflow 3 a failed state is recorded only after the
    // task process (and so its callbacks) has finished, so the reconciler cannot overtake a
    // callback; scenario 4 checks that it added signals for the SIGKILLed task only.
    MEDIC_RECONCILER: 'on',
    MEDIC_RECONCILER_CRON: '*/5 * * * * *',
  };
  const t1 = Date.now();
  const [startedAirflow, startedMedic] = await Promise.all([
    startRealAirflow({
      venv,
      port: airflowPort,
      password: AIRFLOW_PASSWORD,
      expectDags: DAGS,
      env: {
        // The notifier (medic_airflow) reads these in the task processes.
        MEDIC_URL: medicUrl,
        MEDIC_TOKEN: TOKEN,
        MEDIC_AIRFLOW_INSTANCE: 'main',
        // OpenLineage provider → Medic's /api/v1/lineage; only DAGs with enable_lineage() emit.
        AIRFLOW__OPENLINEAGE__DISABLED: 'False',
        AIRFLOW__OPENLINEAGE__SELECTIVE_ENABLE: 'True',
        AIRFLOW__OPENLINEAGE__NAMESPACE: 'medic-e2e',
        AIRFLOW__OPENLINEAGE__TRANSPORT: JSON.stringify({
          type: 'http', url: medicUrl, endpoint: 'api/v1/lineage', timeout: 5, auth: { type: 'api_key', apiKey: TOKEN },
        }),
      },
    }),
    spawnDaemon({ ...medicEnv, PORT: String(medicPort) }),
  ]);
  airflow = startedAirflow;
  medic = startedMedic;
  timings.airflowStartMs = airflow.startMs;
  timings.bothReadyMs = Date.now() - t1;
  const applied = await call('POST', '/v1/catalog', CATALOG);
  expect(applied.status, JSON.stringify(applied.body)).toBe(200);
}, 900_000);

afterAll(async () => {
  console.log(`[airflowE2e] timings ${JSON.stringify(timings)}`);
  medic?.child.kill('SIGTERM');
  await Promise.all([medic?.exited, airflow?.stop()]);
  await db?.end().catch(() => undefined);
  await database?.drop();
  if (medicHome) await fs.rm(medicHome, { recursive: true, force: true });
}, 120_000);

describe('Airflow 3 end to end: notifier, REST re-trigger, OpenLineage, reconciler', () => {
  it('the medic_airflow package passes its own tests in the Airflow venv', async () => {
    const t = Date.now();
    const { stdout } = await execFileAsync(path.join(venv, 'bin', 'python'), ['-m', 'pytest', '-q', '-p', 'no:cacheprovider', 'tests'], {
      cwd: path.join(ROOT, 'integrations/airflow'), timeout: 120_000, env: { ...process.env, AIRFLOW_HOME: path.join(airflow!.home, 'pytest-home'), PYTHONDONTWRITEBYTECODE: '1' },
    }).catch((error: Error & { stdout?: string; stderr?: string }) => { throw new Error(`pytest failed:\n${error.stdout ?? ''}\n${error.stderr ?? ''}`); });
    expect(stdout).toMatch(/passed/);
    timings.pytestMs = Date.now() - t;
  }, 150_000);

  it('1. a transient failure is diagnosed infra_transient, re-triggered through the REST API, and recovers', async () => withDiagnostics(async () => {
    const t = Date.now();
    const dagId = 'medic_e2e_transient';
    const table = 'lake.e2e_transient';
    const runId = await airflow!.trigger(dagId, { fail_tries: 1 });
    await airflow!.waitForTask(dagId, runId, 'load_orders', { state: 'failed', tryNumber: 1 }, 120_000);
    timings.s1FailedMs = Date.now() - t;

    // The notifier's failure callback → an RCA with a retry-with-backoff plan.
    const rca = await waitFor(async () => (await rcasOf(table))[0], 60_000, `an RCA for ${table}`);
    expect(rca.category).toBe('infra_transient');
    expect(rca.auto_resolution).toMatchObject({ resolver: 'retry-with-backoff' });
    const failure = (await signalsOf(table)).find((s) => s.kind === 'failure')!;
    expect(failure).toMatchObject({ source: 'airflow', event: 'failure' });
    expect(failure.pipeline).toMatchObject({ dag_id: dagId, task_id: 'load_orders', run_id: runId, try_number: 1, airflow: 'main' });
    expect(failure.exception).toEqual({ type: 'ConnectionResetError', message: '[Errno 104] Connection reset by peer' });
    timings.s1RcaMs = Date.now() - t;

    // Medic's resolver clears the task through Airflow's REST API; try 2 succeeds.
    const recovered = await airflow!.waitForTask(dagId, runId, 'load_orders', { state: 'success', tryNumber: 2 }, 150_000);
    expect(recovered.try_number).toBe(2);
    timings.s1RetriedMs = Date.now() - t;

    // The success callback → healthy table, resolved RCA, one re-trigger attempt recorded.
    await waitFor(async () => (await healthOf(table))?.status === 'healthy', 60_000, `${table} healthy`);
    const resolved = await waitFor(async () => (await rcasOf(table)).find((r) => r.id === rca.id && r.status === 'resolved'), 30_000, 'the RCA resolved');
    expect(resolved.resolved_at).toBeTruthy();
    const detail = await call('GET', `/v1/rca/${rca.id}`);
    expect(detail.body.attempts.length).toBeGreaterThanOrEqual(1);
    expect(detail.body.attempts[0]).toMatchObject({ resolver: 'retry-with-backoff', outcome: 'retriggered' });
    // Airflow really cleared the task (an empty list would mean the clear came too early).
    expect(detail.body.attempts[0].detail.cleared).toContain('load_orders');
    expect((await signalsOf(table)).map((s) => `${s.source}:${s.event}`)).toEqual(['airflow:failure', 'airflow:success']);
    timings.s1TotalMs = Date.now() - t;
  }), 360_000);

  it('2. a code error is diagnosed code_error with manual steps and no automatic action', async () => withDiagnostics(async () => {
    const t = Date.now();
    const dagId = 'medic_e2e_code_error';
    const table = 'lake.e2e_code_error';
    const runId = await airflow!.trigger(dagId);
    await airflow!.waitForTask(dagId, runId, 'transform', { state: 'failed', tryNumber: 1 }, 120_000);
    const rca = await waitFor(async () => (await rcasOf(table))[0], 60_000, `an RCA for ${table}`);
    expect(rca.category).toBe('code_error');
    expect(rca.auto_resolution).toBeNull();
    expect(rca.manual_steps.length).toBeGreaterThan(20);
    expect(rca.assignee).toMatchObject({ team: 'orders-eng' });
    const [failure] = await signalsOf(table);
    expect(failure!.exception).toEqual({ type: 'KeyError', message: "'customer_id'" });
    expect((await healthOf(table))?.status).toBe('unhealthy');
    // Nothing re-triggers it.
    await new Promise((r) => setTimeout(r, 3000));
    expect((await airflow!.taskInstance(dagId, runId, 'transform'))).toMatchObject({ state: 'failed', try_number: 1 });
    timings.s2TotalMs = Date.now() - t;
  }), 240_000);

  it('3. the same transient failure reported through the OpenLineage provider becomes an RCA', async () => withDiagnostics(async () => {
    const t = Date.now();
    const dagId = 'medic_e2e_openlineage';
    const table = 'lake.e2e_lineage';
    const runId = await airflow!.trigger(dagId, { fail_tries: 1 });
    await airflow!.waitForTask(dagId, runId, 'load_events', { state: 'failed', tryNumber: 1 }, 120_000);
    const rca = await waitFor(async () => (await rcasOf(table))[0], 60_000, `an RCA for ${table} from an OpenLineage FAIL event`);
    const signals = await signalsOf(table);
    expect(signals[0]).toMatchObject({ source: 'openlineage', kind: 'failure' });
    expect(JSON.stringify(signals[0]!.exception)).toContain('Connection reset by peer');
    expect(rca.category).toBe('infra_transient');
    timings.s3RcaMs = Date.now() - t;
    // The retry resolver re-triggers it as in (1); the COMPLETE event then resolves it.
    await airflow!.waitForTask(dagId, runId, 'load_events', { state: 'success', tryNumber: 2 }, 150_000);
    await waitFor(async () => (await healthOf(table))?.status === 'healthy', 60_000, `${table} healthy after the COMPLETE event`);
    timings.s3TotalMs = Date.now() - t;
  }), 360_000);

  it('4. a SIGKILLed task sends no callback; the reconciler finds it and an RCA follows', async () => withDiagnostics(async () => {
    const t = Date.now();
    const dagId = 'medic_e2e_sigkill';
    const table = 'lake.e2e_sigkill';
    const runId = await airflow!.trigger(dagId);
    await airflow!.waitForTask(dagId, runId, 'load_big', { state: 'failed' }, 120_000);
    timings.s4FailedMs = Date.now() - t;
    const rca = await waitFor(async () => (await rcasOf(table))[0], 90_000, `an RCA for ${table} from the reconciler`);
    // The only signal came from the reconciler: no callback ran in the killed process (a
    // callback would have stored its signal first, with the same dedupe key).
    const signals = await signalsOf(table);
    expect(signals).toHaveLength(1);
    expect(signals[0]).toMatchObject({ source: 'reconciler', kind: 'failure' });
    expect(signals[0]!.pipeline).toMatchObject({ dag_id: dagId, task_id: 'load_big', run_id: runId, try_number: 1 });
    expect(rca.table).toBe(table);
    // Scenarios 1–3 had their signals (notifier, OpenLineage): the reconciler added none for them.
    const reconciled = (await db!.query(`SELECT table_name FROM signals WHERE source = 'reconciler'`)).rows.map((r) => r.table_name);
    expect(reconciled).toEqual([table]);
    timings.s4TotalMs = Date.now() - t;
  }), 240_000);
});
