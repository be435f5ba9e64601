import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { freePort } from './daemonProcess.ts';

const execFileAsync = promisify(execFile);
const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

/** Absolute path of `scripts/airflow-env.sh`. */
export const AIRFLOW_ENV_SCRIPT = path.join(ROOT, 'scripts/airflow-env.sh');
/** The DAGs of the end-to-end suite. */
export const E2E_DAGS_DIR = path.join(ROOT, 'integrations/airflow/e2e/dags');

/**
 * Creates (once) the cached Airflow virtualenv with `scripts/airflow-env.sh` and resolves with
 * its path. The first call installs Airflow from PyPI (about a minute), later ones take a second.
 */
export async function ensureAirflowVenv(timeoutMs = 900_000): Promise<string> {
  try {
    const { stdout } = await execFileAsync('bash', [AIRFLOW_ENV_SCRIPT, 'ensure'], { timeout: timeoutMs, maxBuffer: 32 * 1024 * 1024, env: process.env });
    const venv = stdout.trim().split('\n').pop() ?? '';
    if (!venv) throw new Error('airflow-env.sh printed no venv path');
    return venv;
  } catch (error) {
    const e = error as Error & { stderr?: string };
    throw new Error(`scripts/airflow-env.sh failed: ${e.message}\n${(e.stderr ?? '').slice(-4000)}`);
  }
}

/** A task instance as Airflow 3's REST API returns it (the fields the tests read). */
export interface AirflowTaskInstance {
  dag_id: string;
  dag_run_id: string;
  task_id: string;
  map_index: number;
  state: string | null;
  try_number: number;
  max_tries: number;
  start_date: string | null;
  end_date: string | null;
  [key: string]: unknown;
}

export interface RealAirflowOptions {
  /** Directory whose files are copied into the DAGs folder (default: integrations/airflow/e2e/dags). */
  dagsDir?: string;
  /** DAG ids to wait for (parsed and known to the API) before resolving. Default: none. */
  expectDags?: string[];
  /** Extra environment for every Airflow process (and so for the tasks): MEDIC_URL, OpenLineage config, … */
  env?: Record<string, string>;
  /** API server port (default: a free one). */
  port?: number;
  /** Venv from {@link ensureAirflowVenv} (default: ensured here). */
  venv?: string;
  /** How long start may take (default 180 s). */
  startTimeoutMs?: number;
  /** LocalExecutor worker processes (default 2: the machines have 2 cores). */
  parallelism?: number;
  /** The admin user (default medic-e2e) and its password (default: random). */
  username?: string;
  password?: string;
}

export interface RealAirflow {
  /** Base URL of the API server, e.g. http://127.0.0.1:38080 (REST API under /api/v2). */
  url: string;
  /** A simple-auth-manager admin user and its password (POST /auth/token). */
  username: string;
  password: string;
  /** AIRFLOW_HOME (temporary): airflow.db, dags/, logs/, <component>.log. */
  home: string;
  venv: string;
  /** Milliseconds from `db migrate` to the API answering and the expected DAGs parsed. */
  startMs: number;
  /** The Airflow version the API reports. */
  version: string;
  /** An authenticated JSON call to the API server (path from the root, e.g. `/api/v2/dags`). */
  api(method: string, apiPath: string, body?: unknown): Promise<{ status: number; body: any }>;
  /** Triggers a DAG run; resolves with its run id. */
  trigger(dagId: string, conf?: Record<string, unknown>, runId?: string): Promise<string>;
  /** The task instance now (null when unknown). */
  taskInstance(dagId: string, runId: string, taskId: string): Promise<AirflowTaskInstance | null>;
  /** Polls the task instance until `until` holds; fails with its state and the scheduler log tail otherwise. */
  waitForTask(dagId: string, runId: string, taskId: string, until: ((ti: AirflowTaskInstance) => boolean) | { state: string; tryNumber?: number }, timeoutMs?: number): Promise<AirflowTaskInstance>;
  /** The last lines of a component's log (api-server, scheduler, dag-processor) or of a task's log files. */
  logTail(component: 'api-server' | 'scheduler' | 'dag-processor', lines?: number): Promise<string>;
  taskLog(dagId: string, runId: string, taskId: string, tryNumber: number): Promise<string>;
  /** Stops every Airflow process (SIGTERM to each process group, SIGKILL after 20 s). Safe to call twice. */
  stop(): Promise<void>;
}

const COMPONENTS = ['api-server', 'scheduler', 'dag-processor'] as const;

/** Environment of the parent minus anything Airflow or Medic would read by accident. */
function baseEnv(): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (v === undefined || k.startsWith('AIRFLOW') || k.startsWith('MEDIC_') || k === 'PYTHONPATH' || k === 'VIRTUAL_ENV') continue;
    env[k] = v;
  }
  return env;
}

/**
 * Starts a real Airflow 3 for tests: AIRFLOW_HOME in a temporary directory, SQLite,
 * LocalExecutor, the simple auth manager with one admin user whose password is written to its
 * passwords file, `airflow db migrate`, then `api-server`, `scheduler` and `dag-processor` as
 * separate process groups (no triggerer: no deferrable tasks). Resolves once the API answers,
 * the scheduler and DAG processor report healthy and the expected DAGs are parsed.
 * Always call `stop()` (afterAll).
 */
export async function startRealAirflow(options: RealAirflowOptions = {}): Promise<RealAirflow> {
  const started = Date.now();
  const venv = options.venv ?? (await ensureAirflowVenv());
  const home = await fs.mkdtemp(path.join(os.tmpdir(), 'medic-airflow-'));
  const dags = path.join(home, 'dags');
  await fs.cp(options.dagsDir ?? E2E_DAGS_DIR, dags, { recursive: true, filter: (src) => !src.includes('__pycache__') });
  const port = options.port ?? (await freePort());
  const url = `http://127.0.0.1:${port}`;
  const username = options.username ?? 'medic-e2e';
  const password = options.password ?? randomBytes(12).toString('base64url');
  const passwordsFile = path.join(home, 'simple_auth_manager_passwords.json');
  await fs.writeFile(passwordsFile, `${JSON.stringify({ [username]: password })}\n`, { mode: 0o600 });

  const env: Record<string, string> = {
    ...baseEnv(),
    AIRFLOW_HOME: home,
    AIRFLOW__CORE__DAGS_FOLDER: dags,
    AIRFLOW__DATABASE__SQL_ALCHEMY_CONN: `sqlite:///${path.join(home, 'airflow.db')}`,
    AIRFLOW__CORE__EXECUTOR: 'LocalExecutor',
    AIRFLOW__CORE__PARALLELISM: String(options.parallelism ?? 2),
    AIRFLOW__CORE__LOAD_EXAMPLES: 'False',
    AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION: 'False',
    AIRFLOW__CORE__AUTH_MANAGER: 'airflow.api_fastapi.auth.managers.simple.simple_auth_manager.SimpleAuthManager',
    AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS: `${username}:admin`,
    AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE: passwordsFile,
    AIRFLOW__CORE__EXECUTION_API_SERVER_URL: `${url}/execution/`,
    AIRFLOW__API__HOST: '127.0.0.1',
    AIRFLOW__API__PORT: String(port),
    AIRFLOW__API__WORKERS: '1',
    AIRFLOW__API__BASE_URL: url,
    AIRFLOW__API__SECRET_KEY: randomBytes(16).toString('hex'),
    // One secret for every component: the scheduler signs the tasks' execution-API tokens.
    AIRFLOW__API_AUTH__JWT_SECRET: randomBytes(32).toString('hex'),
    AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL: '5',
    AIRFLOW__DAG_PROCESSOR__MIN_FILE_PROCESS_INTERVAL: '60',
    AIRFLOW__DAG_PROCESSOR__PARSING_PROCESSES: '1',
    AIRFLOW__SCHEDULER__ENABLE_HEALTH_CHECK: 'False',
    AIRFLOW__LOGGING__BASE_LOG_FOLDER: path.join(home, 'logs'),
    AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT: String(await freePort()),
    AIRFLOW__OPENLINEAGE__DISABLED: 'True',
    PYTHONUNBUFFERED: '1',
    PATH: `${path.join(venv, 'bin')}:${process.env.PATH ?? ''}`,
    ...options.env,
  };
  const airflowBin = path.join(venv, 'bin', 'airflow');

  try {
    await execFileAsync(airflowBin, ['db', 'migrate'], { env, cwd: home, timeout: 120_000, maxBuffer: 32 * 1024 * 1024 });
  } catch (error) {
    const e = error as Error & { stdout?: string; stderr?: string };
    throw new Error(`airflow db migrate failed: ${e.message}\n${(e.stderr ?? '').slice(-3000)}`);
  }

  const children = new Map<string, ChildProcess>();
  const exits = new Map<string, Promise<void>>();
  for (const component of COMPONENTS) {
    const out = createWriteStream(path.join(home, `${component}.log`));
    await new Promise((resolve) => out.once('open', resolve));
    // A process group of its own: stop() reaches the workers and log server it forks.
    const child = spawn(airflowBin, [component], { env, cwd: home, detached: true, stdio: ['ignore', out, out] });
    children.set(component, child);
    exits.set(component, new Promise((resolve) => child.once('exit', () => resolve())));
  }
  const killAll = (signal: NodeJS.Signals) => {
    for (const child of children.values()) {
      if (child.pid !== undefined && child.exitCode === null && child.signalCode === null) {
        try { process.kill(-child.pid, signal); } catch { /* gone */ }
      }
    }
  };
  const onExit = () => killAll('SIGKILL');
  process.once('exit', onExit);

  let stopped = false;
  const stop = async () => {
    if (stopped) return;
    stopped = true;
    process.removeListener('exit', onExit);
    killAll('SIGTERM');
    const all = Promise.all(exits.values());
    const timedOut = await Promise.race([all.then(() => false), new Promise<boolean>((r) => setTimeout(() => r(true), 20_000).unref())]);
    // Process groups: workers and the log server may outlive their parent.
    for (const child of children.values()) {
      if (child.pid !== undefined) try { process.kill(-child.pid, 'SIGKILL'); } catch { /* gone */ }
    }
    if (timedOut) await Promise.race([all, new Promise((r) => setTimeout(r, 5000).unref())]);
    if (!process.env.MEDIC_KEEP_AIRFLOW_HOME) await fs.rm(home, { recursive: true, force: true }).catch(() => undefined);
  };

  const logTail = async (component: string, lines = 40) => {
    const text = await fs.readFile(path.join(home, `${component}.log`), 'utf8').catch(() => '');
    return text.split('\n').slice(-lines).join('\n');
  };
  const allTails = async () => (await Promise.all(COMPONENTS.map(async (c) => `--- ${c}.log\n${await logTail(c, 25)}`))).join('\n');

  let token: string | null = null;
  const fetchToken = async () => {
    const response = await fetch(`${url}/auth/token`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ username, password }) });
    const body = (await response.json().catch(() => ({}))) as { access_token?: string };
    if (!response.ok || !body.access_token) throw new Error(`POST /auth/token → ${response.status}`);
    return body.access_token;
  };
  const api = async (method: string, apiPath: string, body?: unknown): Promise<{ status: number; body: any }> => {
    for (let attempt = 0; ; attempt += 1) {
      token ??= await fetchToken();
      const response = await fetch(`${url}${apiPath}`, {
        method,
        headers: { authorization: `Bearer ${token}`, accept: 'application/json', ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
        body: body === undefined ? undefined : JSON.stringify(body),
      });
      if (response.status === 401 && attempt === 0) { token = null; continue; }
      const text = await response.text();
      let parsed: unknown = text;
      try { parsed = JSON.parse(text); } catch { /* text */ }
      return { status: response.status, body: parsed };
    }
  };

  const deadline = started + (options.startTimeoutMs ?? 180_000);
  const exitedEarly = () => [...children.entries()].find(([, c]) => c.exitCode !== null || c.signalCode !== null);
  const waitUntil = async (what: string, check: () => Promise<boolean>) => {
    for (;;) {
      const dead = exitedEarly();
      if (dead) { await stop(); throw new Error(`airflow ${dead[0]} exited while waiting for ${what}\n${await allTails()}`); }
      if (await check().catch(() => false)) return;
      if (Date.now() > deadline) {
        const tails = await allTails();
        await stop();
        throw new Error(`airflow: timed out waiting for ${what}\n${tails}`);
      }
      await new Promise((r) => setTimeout(r, 500));
    }
  };

  let version = '';
  await waitUntil('the API server', async () => {
    const response = await fetch(`${url}/api/v2/version`);
    if (!response.ok) return false;
    version = ((await response.json()) as { version: string }).version;
    return true;
  });
  await waitUntil('the scheduler and DAG processor heartbeats', async () => {
    const health = (await (await fetch(`${url}/api/v2/monitor/health`)).json()) as Record<string, { status?: string }>;
    return health.scheduler?.status === 'healthy' && health.dag_processor?.status === 'healthy';
  });
  for (const dagId of options.expectDags ?? []) {
    await waitUntil(`DAG ${dagId} to be parsed`, async () => {
      const { status } = await api('GET', `/api/v2/dags/${encodeURIComponent(dagId)}`);
      if (status === 200) return true;
      const errors = await api('GET', '/api/v2/importErrors');
      const list = (errors.body?.import_errors ?? []) as Array<{ filename: string; stack_trace: string }>;
      if (list.length > 0) {
        const text = list.map((e) => `${e.filename}:\n${e.stack_trace}`).join('\n');
        await stop();
        throw new Error(`airflow could not import DAG files:\n${text}`);
      }
      return false;
    });
  }

  const taskInstance = async (dagId: string, runId: string, taskId: string): Promise<AirflowTaskInstance | null> => {
    const { status, body } = await api('GET', `/api/v2/dags/${encodeURIComponent(dagId)}/dagRuns/${encodeURIComponent(runId)}/taskInstances/${encodeURIComponent(taskId)}`);
    if (status === 404) return null;
    if (status !== 200) throw new Error(`GET task instance ${dagId}/${runId}/${taskId} → ${status} ${JSON.stringify(body)}`);
    return body as AirflowTaskInstance;
  };

  return {
    url,
    username,
    password,
    home,
    venv,
    version,
    startMs: Date.now() - started,
    api,
    async trigger(dagId, conf = {}, runId) {
      const id = runId ?? `e2e__${dagId}__${Date.now()}_${randomBytes(3).toString('hex')}`;
      const { status, body } = await api('POST', `/api/v2/dags/${encodeURIComponent(dagId)}/dagRuns`, { dag_run_id: id, logical_date: null, conf });
      if (status !== 200 && status !== 201) throw new Error(`trigger ${dagId} → ${status} ${JSON.stringify(body)}`);
      return (body as { dag_run_id: string }).dag_run_id;
    },
    taskInstance,
    async waitForTask(dagId, runId, taskId, until, timeoutMs = 120_000) {
      const test = typeof until === 'function' ? until : (ti: AirflowTaskInstance) => ti.state === until.state && (until.tryNumber === undefined || ti.try_number === until.tryNumber);
      const end = Date.now() + timeoutMs;
      let last: AirflowTaskInstance | null = null;
      for (;;) {
        last = await taskInstance(dagId, runId, taskId).catch(() => last);
        if (last && test(last)) return last;
        if (Date.now() > end) {
          throw new Error(`timed out after ${timeoutMs} ms waiting for ${dagId}/${runId}/${taskId}: now ${last ? `${last.state} try ${last.try_number}` : 'unknown'}\n${await logTail('scheduler', 30)}`);
        }
        await new Promise((r) => setTimeout(r, 500));
      }
    },
    logTail,
    async taskLog(dagId, runId, taskId, tryNumber) {
      const { body } = await api('GET', `/api/v2/dags/${encodeURIComponent(dagId)}/dagRuns/${encodeURIComponent(runId)}/taskInstances/${encodeURIComponent(taskId)}/logs/${tryNumber}?full_content=true`);
      if (body && typeof body === 'object' && Array.isArray(body.content)) {
        return (body.content as Array<{ event?: string; level?: string } | string>).map((line) => (typeof line === 'string' ? line : `${line.level ?? ''} ${line.event ?? JSON.stringify(line)}`)).join('\n');
      }
      return typeof body === 'string' ? body : JSON.stringify(body);
    },
    stop,
  };
}
