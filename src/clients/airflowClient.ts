import type { Logger } from 'pino';
import { envName, type AirflowInstanceConfig, type Config } from '../config.ts';
import type { LookupCache } from './lookupCache.ts';
import { createHttpExchange } from './httpExchange.ts';

/**
 * Airflow REST API client (DESIGN 2, 5, 7): what the analysers ask (task tries, run history,
 * queue and run times, upstream task states) and what the retry resolver does (clear failed
 * task instances).
 *
 * Endpoints, from the Airflow OpenAPI specs (apache/airflow-client-python `spec/v2.yaml` for
 * Airflow 3, `spec/v1.yaml` for Airflow 2); the prefix is `/api/v2` or `/api/v1`:
 *
 * | method | path | used by |
 * |---|---|---|
 * | GET  | `/dags/{dag_id}/dagRuns/{run_id}/taskInstances/{task_id}[/{map_index}]` | {@link AirflowClient.taskInstance} |
 * | GET  | `/dags/{dag_id}/dagRuns/{run_id}/taskInstances/{task_id}[/{map_index}]/tries` (v1: Airflow ≥ 2.10) | {@link AirflowClient.taskTries} |
 * | GET  | `/dags/{dag_id}/dagRuns?limit=&order_by=-run_after` (v1: `-execution_date`) | {@link AirflowClient.recentRuns} |
 * | GET  | `/dags/{dag_id}/dagRuns/~/taskInstances?task_id=&order_by=-run_after&limit=` (v1: `POST /dags/~/dagRuns/~/taskInstances/list`) | {@link AirflowClient.taskHistory} |
 * | GET  | `/dags/{dag_id}/dagRuns/{run_id}/taskInstances?limit=&offset=` | {@link AirflowClient.runTaskInstances} |
 * | GET  | `/dags/{dag_id}/tasks` (upstreams = tasks whose `downstream_task_ids` name the task) | {@link AirflowClient.dagTasks}, {@link AirflowClient.upstreamTaskIds} |
 * | POST | `/dags/{dag_id}/clearTaskInstances` `{dry_run: false, only_failed, dag_run_id, task_ids}` | {@link AirflowClient.clearTaskInstances} |
 * | GET  | `/api/v2/version`, then `/api/v1/version` | version detection |
 * | POST | `/auth/token` `{username, password}` → `{access_token}` | Airflow 3 JWT |
 *
 * Node's global `fetch` is used rather than axios: it is built into Node 20, supports
 * `AbortSignal` natively (timeouts and cancellation compose with `AbortSignal.any`), and the
 * client needs nothing more than JSON over HTTP — one dependency fewer to keep patched.
 */

/** The REST API generation: `v2` is Airflow 3 (JWT), `v1` is Airflow 2 (basic auth). */
export type AirflowApiVersion = 'v1' | 'v2';

/** A task instance (or one try of it), normalised from either API version. */
export interface TaskInstance {
  dagId: string;
  runId: string;
  taskId: string;
  /** -1 for a task that is not mapped. */
  mapIndex: number;
  /** Airflow's state: success, failed, up_for_retry, running, queued, scheduled, up_for_reschedule, deferred, upstream_failed, skipped, … ; null when none yet. */
  state: string | null;
  tryNumber: number;
  maxTries: number;
  startDate: Date | null;
  endDate: Date | null;
  /** Seconds, as Airflow reports it (or end − start when it does not). */
  durationS: number | null;
  /** When the executor was handed the try (`queued_when`). */
  queuedAt: Date | null;
  /** When the scheduler scheduled it (`scheduled_when`, v2 only). */
  scheduledAt: Date | null;
  hostname: string | null;
  /** Operator class name, e.g. PythonOperator, ExternalTaskSensor. */
  operator: string | null;
  pool: string | null;
  /** The run's logical date (v1: execution_date); null for runs without one. */
  logicalDate: Date | null;
  /** v2: when the run was due (always set); v1: the logical date. */
  runAfter: Date | null;
  /** Rendered template fields (e.g. a sensor's external_dag_id); null when not reported. */
  renderedFields: Record<string, unknown> | null;
}

/** One try of a task instance (Airflow's task instance history). */
export type TaskTry = TaskInstance;

/** A DAG run, normalised from either API version. */
export interface DagRun {
  dagId: string;
  runId: string;
  /** queued, running, success, failed. */
  state: string | null;
  runType: string | null;
  logicalDate: Date | null;
  /** v2 only: when the run was queued; null on Airflow 2. */
  queuedAt: Date | null;
  startDate: Date | null;
  endDate: Date | null;
  /** v2: when the run was due; v1: the logical date. */
  runAfter: Date | null;
}

/** A task of a DAG's definition. */
export interface DagTask {
  taskId: string;
  downstreamTaskIds: string[];
  operator: string | null;
}

/** The direct upstreams of a task: the tasks that list it downstream (sorted). */
export function upstreamsOf(tasks: readonly DagTask[], taskId: string): string[] {
  return tasks.filter((t) => t.downstreamTaskIds.includes(taskId)).map((t) => t.taskId).sort();
}

/** Options every call accepts. */
export interface CallOptions {
  /**
   * Cancels the request. Do not pass an analyser's own signal into a look-up shared through
   * the LookupCache: one analyser's time running out would fail the shared answer for all.
   */
  signal?: AbortSignal;
}

/** What Medic asks of one Airflow instance. */
export interface AirflowClient {
  /** The instance's name, lower-case, as in `AIRFLOW_<NAME>_URL`. */
  readonly name: string;
  /** From `AIRFLOW_<NAME>_API`, else detected once (and again after a failed detection). */
  apiVersion(options?: CallOptions): Promise<AirflowApiVersion>;
  /** The task instance as it is now; null when Airflow does not know it. */
  taskInstance(dagId: string, runId: string, taskId: string, mapIndex?: number, options?: CallOptions): Promise<TaskInstance | null>;
  /** Every try of the task instance, oldest first; [] when Airflow does not know it (or, on Airflow < 2.10, has no such endpoint). */
  taskTries(dagId: string, runId: string, taskId: string, mapIndex?: number, options?: CallOptions): Promise<TaskTry[]>;
  /** The DAG's newest runs, newest first. */
  recentRuns(dagId: string, limit: number, options?: CallOptions): Promise<DagRun[]>;
  /** The task's instances in the DAG's newest runs (current try of each), newest first. */
  taskHistory(dagId: string, taskId: string, limit: number, options?: CallOptions): Promise<TaskInstance[]>;
  /** Every task instance of one run. */
  runTaskInstances(dagId: string, runId: string, options?: CallOptions): Promise<TaskInstance[]>;
  /** The DAG's tasks with their downstream task ids. */
  dagTasks(dagId: string, options?: CallOptions): Promise<DagTask[]>;
  /** The task's direct upstream task ids, sorted. */
  upstreamTaskIds(dagId: string, taskId: string, options?: CallOptions): Promise<string[]>;
  /**
   * Clears task instances of one run so that the scheduler runs them again: always
   * `dry_run: false` (Airflow defaults to a dry run), `only_failed` true unless told otherwise.
   * Returns the task ids Airflow says it cleared (empty when nothing was in a clearable state).
   */
  clearTaskInstances(dagId: string, runId: string, taskIds: string[], options?: { onlyFailed?: boolean } & CallOptions): Promise<{ cleared: string[] }>;
  /** Task instances of every DAG that ended in `failed` within [since, until) — for the reconciler (DESIGN 3.6); up to 1000. */
  failedTaskInstancesSince(since: Date, until: Date, options?: CallOptions): Promise<TaskInstance[]>;
}

/** Options of {@link HttpAirflowClient}. */
export interface HttpAirflowClientOptions {
  /** Per request, including the token request. Default 10 s. */
  timeoutMs?: number;
  log?: Logger;
}

const DEFAULT_TIMEOUT_MS = 10_000;
/** Connections kept to one Airflow at most; more concurrent requests wait for a free one. */
const MAX_SOCKETS = 128;
/** Airflow's default `maximum_page_limit` is 100: a larger limit would be cut silently. */
const PAGE_LIMIT = 100;
/** A run with more task instances than this is not walked further (a mapped task over 1000s of items). */
const MAX_RUN_TASK_INSTANCES = 1000;
/** How much of an error body goes into the error message. */
const ERROR_BODY_CHARS = 200;

class HttpStatusError extends Error {
  constructor(message: string, readonly status: number) {
    super(message);
    this.name = 'AirflowHttpError';
  }
}

type Json = Record<string, unknown>;

function str(value: unknown): string | null {
  return typeof value === 'string' && value !== '' ? value : null;
}

function num(value: unknown): number | null {
  return typeof value === 'number' && Number.isFinite(value) ? value : null;
}

function date(value: unknown): Date | null {
  if (typeof value !== 'string' || value === '') return null;
  const d = new Date(value);
  return Number.isNaN(d.getTime()) ? null : d;
}

function toTaskInstance(raw: Json): TaskInstance {
  const startDate = date(raw['start_date']);
  const endDate = date(raw['end_date']);
  const logicalDate = date(raw['logical_date']) ?? date(raw['execution_date']);
  const rendered = raw['rendered_fields'];
  return {
    dagId: str(raw['dag_id']) ?? '',
    runId: str(raw['dag_run_id']) ?? str(raw['run_id']) ?? '',
    taskId: str(raw['task_id']) ?? '',
    mapIndex: num(raw['map_index']) ?? -1,
    state: str(raw['state']),
    tryNumber: num(raw['try_number']) ?? 0,
    maxTries: num(raw['max_tries']) ?? 0,
    startDate,
    endDate,
    durationS: num(raw['duration']) ?? (startDate && endDate ? (endDate.getTime() - startDate.getTime()) / 1000 : null),
    queuedAt: date(raw['queued_when']),
    scheduledAt: date(raw['scheduled_when']),
    hostname: str(raw['hostname']),
    operator: str(raw['operator']) ?? str(raw['operator_name']),
    pool: str(raw['pool']),
    logicalDate,
    runAfter: date(raw['run_after']) ?? logicalDate,
    renderedFields: rendered && typeof rendered === 'object' && !Array.isArray(rendered) ? (rendered as Json) : null,
  };
}

function toDagRun(raw: Json): DagRun {
  const logicalDate = date(raw['logical_date']) ?? date(raw['execution_date']);
  return {
    dagId: str(raw['dag_id']) ?? '',
    runId: str(raw['dag_run_id']) ?? str(raw['run_id']) ?? '',
    state: str(raw['state']),
    runType: str(raw['run_type']),
    logicalDate,
    queuedAt: date(raw['queued_at']),
    startDate: date(raw['start_date']),
    endDate: date(raw['end_date']),
    runAfter: date(raw['run_after']) ?? logicalDate,
  };
}

function list(body: unknown, key: string): Json[] {
  const items = body && typeof body === 'object' ? (body as Json)[key] : undefined;
  return Array.isArray(items) ? items.filter((i): i is Json => !!i && typeof i === 'object') : [];
}

const seg = encodeURIComponent;

function taskInstancePath(dagId: string, runId: string, taskId: string, mapIndex: number | undefined): string {
  const base = `/dags/${seg(dagId)}/dagRuns/${seg(runId)}/taskInstances/${seg(taskId)}`;
  return mapIndex !== undefined && mapIndex >= 0 ? `${base}/${mapIndex}` : base;
}

/** The text of an error body worth quoting: FastAPI/connexion `detail`/`title`, else the start of the body. */
function errorText(body: string): string {
  let text = body;
  try {
    const parsed = JSON.parse(body) as unknown;
    if (parsed && typeof parsed === 'object') {
      const p = parsed as Json;
      const detail = p['detail'] ?? p['title'] ?? p['message'];
      if (typeof detail === 'string') text = detail;
      else if (detail !== undefined) text = JSON.stringify(detail);
    }
  } catch {
    // not JSON: quote the text
  }
  text = text.replace(/\s+/g, ' ').trim();
  return text.length > ERROR_BODY_CHARS ? `${text.slice(0, ERROR_BODY_CHARS)}…` : text;
}

interface RequestOptions extends CallOptions {
  query?: Record<string, string | number | boolean | undefined>;
  body?: unknown;
  /** Path is taken as is, without the /api/vN prefix (version and token endpoints). */
  raw?: boolean;
  /** Which auth to send; default by API version. */
  auth?: 'none' | AirflowApiVersion;
}

/**
 * The HTTP implementation. Credentials live only in this object: they are never logged and
 * never put into error messages (which name the method, path and status only).
 */
export class HttpAirflowClient implements AirflowClient {
  readonly name: string;
  readonly #config: AirflowInstanceConfig;
  readonly #timeoutMs: number;
  readonly #log: Logger | undefined;
  #version: Promise<AirflowApiVersion> | null = null;
  /** The JWT (Airflow 3), shared by concurrent requests; dropped on a 401. */
  #token: Promise<string> | null = null;
  /** node:http over a bounded keep-alive pool (see httpExchange.ts for why not fetch). */
  readonly #http = createHttpExchange({ maxSockets: MAX_SOCKETS });

  constructor(config: AirflowInstanceConfig, options: HttpAirflowClientOptions = {}) {
    this.name = config.name;
    this.#config = config;
    this.#timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    this.#log = options.log?.child({ airflow: config.name });
    if (config.api) this.#version = Promise.resolve(config.api);
  }

  apiVersion(options: CallOptions = {}): Promise<AirflowApiVersion> {
    if (!this.#version) {
      const detection = this.#detectVersion(options);
      this.#version = detection;
      // A failed detection (Airflow down) is not remembered: the next call tries again.
      detection.catch(() => {
        if (this.#version === detection) this.#version = null;
      });
    }
    return this.#version;
  }

  async #detectVersion(options: CallOptions): Promise<AirflowApiVersion> {
    // 401/403 also prove the API exists (v1's /version may want credentials).
    const exists = (status: number) => (status >= 200 && status < 300) || status === 401 || status === 403;
    const v2 = await this.#fetch('GET', '/api/v2/version', { signal: options.signal, raw: true, auth: 'none' }, true);
    if (exists(v2.status)) return 'v2';
    const v1 = await this.#fetch('GET', '/api/v1/version', { signal: options.signal, raw: true, auth: 'v1' }, true);
    if (exists(v1.status)) return 'v1';
    throw new Error(`airflow ${this.name}: cannot tell the API version: GET /api/v2/version → ${v2.status}, GET /api/v1/version → ${v1.status}`);
  }

  async taskInstance(dagId: string, runId: string, taskId: string, mapIndex?: number, options: CallOptions = {}): Promise<TaskInstance | null> {
    const body = await this.#json('GET', taskInstancePath(dagId, runId, taskId, mapIndex), { ...options }, { notFound: null });
    return body === null ? null : toTaskInstance(body as Json);
  }

  async taskTries(dagId: string, runId: string, taskId: string, mapIndex?: number, options: CallOptions = {}): Promise<TaskTry[]> {
    const body = await this.#json('GET', `${taskInstancePath(dagId, runId, taskId, mapIndex)}/tries`, { ...options }, { notFound: null });
    if (body === null) return [];
    // One entry per try number (Airflow 3 lists the history and the current try), oldest first.
    const byTry = new Map<number, TaskTry>();
    for (const t of list(body, 'task_instances').map(toTaskInstance)) byTry.set(t.tryNumber, t);
    return [...byTry.values()].sort((a, b) => a.tryNumber - b.tryNumber);
  }

  async recentRuns(dagId: string, limit: number, options: CallOptions = {}): Promise<DagRun[]> {
    const version = await this.apiVersion(options);
    // v2: run_after is set on every run; logical_date is null for manual and asset-triggered runs.
    const orderBy = version === 'v2' ? '-run_after' : '-execution_date';
    const body = await this.#json('GET', `/dags/${seg(dagId)}/dagRuns`, { ...options, query: { limit: Math.min(limit, PAGE_LIMIT), order_by: orderBy } });
    return list(body, 'dag_runs').map(toDagRun);
  }

  async taskHistory(dagId: string, taskId: string, limit: number, options: CallOptions = {}): Promise<TaskInstance[]> {
    const version = await this.apiVersion(options);
    const newestFirst = (a: TaskInstance, b: TaskInstance) => (b.runAfter?.getTime() ?? 0) - (a.runAfter?.getTime() ?? 0);
    if (version === 'v2') {
      const body = await this.#json('GET', `/dags/${seg(dagId)}/dagRuns/~/taskInstances`, {
        ...options,
        query: { task_id: taskId, order_by: '-run_after', limit: Math.min(limit, PAGE_LIMIT) },
      });
      return list(body, 'task_instances').map(toTaskInstance).sort(newestFirst).slice(0, limit);
    }
    // Airflow 2 filters task instances by task only in the batch endpoint, which has no limit or
    // order: bound it by the logical date of the oldest of the newest `limit` runs.
    const runs = await this.recentRuns(dagId, limit, options);
    const dates = runs.map((r) => r.logicalDate?.getTime()).filter((t): t is number => t !== undefined);
    if (dates.length === 0) return [];
    const body = await this.#json('POST', '/dags/~/dagRuns/~/taskInstances/list', {
      ...options,
      body: { dag_ids: [dagId], task_ids: [taskId], execution_date_gte: new Date(Math.min(...dates)).toISOString() },
    });
    return list(body, 'task_instances').map(toTaskInstance).sort(newestFirst).slice(0, limit);
  }

  async failedTaskInstancesSince(since: Date, until: Date, options: CallOptions = {}): Promise<TaskInstance[]> {
    const version = await this.apiVersion(options);
    const all: TaskInstance[] = [];
    if (version === 'v1') {
      // Airflow 2: the batch endpoint filters across DAGs by state and end date.
      const body = await this.#json('POST', '/dags/~/dagRuns/~/taskInstances/list', {
        ...options,
        body: { state: ['failed'], end_date_gte: since.toISOString(), end_date_lte: until.toISOString(), page_limit: MAX_RUN_TASK_INSTANCES },
      });
      return list(body, 'task_instances').map(toTaskInstance);
    }
    for (let offset = 0; offset < MAX_RUN_TASK_INSTANCES; offset += PAGE_LIMIT) {
      const body = await this.#json('GET', '/dags/~/dagRuns/~/taskInstances', {
        ...options,
        query: { state: 'failed', end_date_gte: since.toISOString(), end_date_lt: until.toISOString(), order_by: 'end_date', limit: PAGE_LIMIT, offset },
      });
      const page = list(body, 'task_instances').map(toTaskInstance);
      all.push(...page);
      if (page.length < PAGE_LIMIT) break;
    }
    // end_date_lt is newer than some 3.x servers; filter again here so a server that ignores it cannot double-count.
    return all.filter((t) => !t.endDate || (t.endDate >= since && t.endDate < until));
  }

  async runTaskInstances(dagId: string, runId: string, options: CallOptions = {}): Promise<TaskInstance[]> {
    const all: TaskInstance[] = [];
    for (let offset = 0; offset < MAX_RUN_TASK_INSTANCES; offset += PAGE_LIMIT) {
      const body = await this.#json('GET', `/dags/${seg(dagId)}/dagRuns/${seg(runId)}/taskInstances`, { ...options, query: { limit: PAGE_LIMIT, offset } });
      const page = list(body, 'task_instances').map(toTaskInstance);
      all.push(...page);
      const total = num((body as Json | null)?.['total_entries']);
      if (page.length < PAGE_LIMIT || (total !== null && all.length >= total)) break;
    }
    return all;
  }

  async dagTasks(dagId: string, options: CallOptions = {}): Promise<DagTask[]> {
    const body = await this.#json('GET', `/dags/${seg(dagId)}/tasks`, { ...options });
    return list(body, 'tasks')
      .map((t) => ({
        taskId: str(t['task_id']) ?? '',
        downstreamTaskIds: Array.isArray(t['downstream_task_ids']) ? t['downstream_task_ids'].filter((d): d is string => typeof d === 'string') : [],
        operator: str(t['operator_name']) ?? str(t['class_ref'] && typeof t['class_ref'] === 'object' ? (t['class_ref'] as Json)['class_name'] : null),
      }))
      .filter((t) => t.taskId !== '');
  }

  async upstreamTaskIds(dagId: string, taskId: string, options: CallOptions = {}): Promise<string[]> {
    // Neither API lists a task's upstreams; every task lists its downstreams.
    return upstreamsOf(await this.dagTasks(dagId, options), taskId);
  }

  async clearTaskInstances(dagId: string, runId: string, taskIds: string[], options: { onlyFailed?: boolean } & CallOptions = {}): Promise<{ cleared: string[] }> {
    const body = await this.#json('POST', `/dags/${seg(dagId)}/clearTaskInstances`, {
      signal: options.signal,
      // dry_run defaults to true in both APIs: without it nothing would be cleared.
      body: { dry_run: false, only_failed: options.onlyFailed ?? true, dag_run_id: runId, task_ids: taskIds },
    });
    const cleared = list(body, 'task_instances').map((t) => str(t['task_id'])).filter((id): id is string => id !== null);
    return { cleared: [...new Set(cleared)].sort() };
  }

  /** A JSON request under the API prefix; non-2xx throws (except 404 when `notFound` is given). */
  async #json(method: string, path: string, options: RequestOptions, handling: { notFound?: null } = {}): Promise<unknown> {
    const response = await this.#fetch(method, path, options);
    if (response.status === 404 && 'notFound' in handling) return null;
    if (response.status < 200 || response.status >= 300) {
      throw new HttpStatusError(`airflow ${this.name}: ${method} ${response.path} → ${response.status}${response.text ? ` ${errorText(response.text)}` : ''}`, response.status);
    }
    if (response.text === '') return null;
    try {
      return JSON.parse(response.text) as unknown;
    } catch {
      throw new Error(`airflow ${this.name}: ${method} ${response.path} → ${response.status} but the body is not JSON: ${errorText(response.text)}`);
    }
  }

  /**
   * One HTTP exchange, authenticated; on a 401 with a JWT the token is fetched again and the
   * request repeated once (a 401 means Airflow did nothing, so repeating a POST is safe).
   * `allowAnyStatus` returns non-2xx answers instead of treating them specially.
   */
  async #fetch(method: string, path: string, options: RequestOptions, allowAnyStatus = false): Promise<{ status: number; text: string; path: string }> {
    const version = options.raw ? null : await this.apiVersion({ signal: options.signal });
    const fullPath = options.raw ? path : `/api/${version}${path}`;
    const auth = options.auth ?? version ?? 'none';
    const send = async (token: string | null) => {
      const headers: Record<string, string> = { accept: 'application/json' };
      if (options.body !== undefined) headers['content-type'] = 'application/json';
      if (auth === 'v1' && this.#config.username !== null) {
        headers['authorization'] = `Basic ${Buffer.from(`${this.#config.username}:${this.#config.password ?? ''}`).toString('base64')}`;
      } else if (auth === 'v2' && token !== null) {
        headers['authorization'] = `Bearer ${token}`;
      }
      return this.#exchange(method, fullPath, options, headers);
    };
    const useJwt = auth === 'v2' && this.#config.username !== null;
    let token = useJwt ? await this.#bearer(options) : null;
    let response = await send(token);
    if (response.status === 401 && useJwt && !allowAnyStatus) {
      // Expired (or revoked): drop it, unless a concurrent request already replaced it.
      if (token !== null && this.#token !== null && (await this.#token.catch(() => null)) === token) this.#token = null;
      token = await this.#bearer(options);
      response = await send(token);
    }
    return { ...response, path: fullPath };
  }

  /** The cached JWT, or a new one from POST /auth/token; concurrent callers share one request. */
  #bearer(options: CallOptions): Promise<string> {
    if (!this.#token) {
      const request = (async () => {
        const response = await this.#exchange('POST', '/auth/token', { signal: options.signal, body: { username: this.#config.username, password: this.#config.password ?? '' } }, {
          accept: 'application/json',
          'content-type': 'application/json',
        });
        if (response.status < 200 || response.status >= 300) {
          throw new HttpStatusError(`airflow ${this.name}: POST /auth/token → ${response.status}${response.text ? ` ${errorText(response.text)}` : ''}`, response.status);
        }
        let token: unknown;
        try {
          token = (JSON.parse(response.text) as Json)['access_token'];
        } catch {
          token = undefined;
        }
        if (typeof token !== 'string' || token === '') throw new Error(`airflow ${this.name}: POST /auth/token → ${response.status} without an access_token`);
        return token;
      })();
      this.#token = request;
      request.catch(() => {
        if (this.#token === request) this.#token = null;
      });
    }
    return this.#token;
  }

  /** The raw exchange: timeout and caller's signal combined; network failures normalised. */
  async #exchange(method: string, path: string, options: RequestOptions, headers: Record<string, string>): Promise<{ status: number; text: string }> {
    const url = new URL(this.#config.url + path);
    for (const [k, v] of Object.entries(options.query ?? {})) if (v !== undefined) url.searchParams.set(k, String(v));
    const timeout = AbortSignal.timeout(this.#timeoutMs);
    const signal = options.signal ? AbortSignal.any([timeout, options.signal]) : timeout;
    const started = performance.now();
    const label = `airflow ${this.name}: ${method} ${path}`;
    try {
      const response = await this.#http(url, { method, headers, signal, body: options.body === undefined ? undefined : JSON.stringify(options.body) });
      this.#log?.debug({ method, path, status: response.status, ms: Math.round(performance.now() - started) }, 'airflow request');
      return response;
    } catch (thrown) {
      this.#log?.debug({ method, path, ms: Math.round(performance.now() - started) }, 'airflow request failed');
      if (timeout.aborted) throw new Error(`${label} → timed out after ${this.#timeoutMs} ms`, { cause: thrown });
      if (options.signal?.aborted) {
        const reason: unknown = options.signal.reason;
        throw new Error(`${label} → aborted${reason instanceof Error ? ` (${reason.message})` : ''}`, { cause: thrown });
      }
      const cause = thrown instanceof Error && thrown.cause instanceof Error ? thrown.cause : thrown;
      const code = cause && typeof cause === 'object' && 'code' in cause ? String((cause as { code: unknown }).code) : null;
      const message = cause instanceof Error ? cause.message : String(cause);
      throw new Error(`${label} → ${code && !message.includes(code) ? `${code} ` : ''}${message}`, { cause: thrown });
    }
  }
}

/**
 * Clients for the configured Airflow instances. A name is looked up the way its environment
 * variables are spelled (`data-platform` → AIRFLOW_DATA_PLATFORM_URL), case-insensitively; no
 * name means the only configured instance, when there is exactly one.
 */
export function createAirflowClients(config: Config, log: Logger): (name: string | undefined) => AirflowClient | null {
  const clients = new Map<string, AirflowClient>();
  for (const [key, instance] of config.airflow) clients.set(key, new HttpAirflowClient(instance, { log }));
  return (name) => {
    if (name === undefined || name === '') return clients.size === 1 ? [...clients.values()][0]! : null;
    return clients.get(envName(name).toLowerCase()) ?? null;
  };
}

/** `AIRFLOW_<NAME>_URL` for an instance name, for "not configured" findings. */
export function airflowUrlVariable(name: string | undefined): string {
  return `AIRFLOW_${name ? envName(name) : '<NAME>'}_URL`;
}

/** How many of a DAG's newest runs the analysers look at (this run plus ~20 earlier ones). */
export const RECENT_RUNS = 21;

/**
 * The look-ups analysers make, through the shared LookupCache so that a surge of failures of
 * one DAG asks Airflow once per distinct question within the TTL. The keys are fixed here so
 * that different analysers share answers (sla-timeline and airflow-history both read a DAG's
 * recent runs). No abort signal is passed down — the shared request must outlive any one
 * analyser; the client's own timeout bounds it.
 */
export function cachedAirflow(client: AirflowClient, cache: LookupCache, ttlMs: number) {
  const key = (...parts: Array<string | number>) => ['airflow', client.name, ...parts].join(':');
  return {
    name: client.name,
    taskInstance: (dagId: string, runId: string, taskId: string, mapIndex = -1) =>
      cache.get(key('ti', dagId, runId, taskId, mapIndex), ttlMs, () => client.taskInstance(dagId, runId, taskId, mapIndex)),
    taskTries: (dagId: string, runId: string, taskId: string, mapIndex = -1) =>
      cache.get(key('tries', dagId, runId, taskId, mapIndex), ttlMs, () => client.taskTries(dagId, runId, taskId, mapIndex)),
    recentRuns: (dagId: string) => cache.get(key('runs', dagId, RECENT_RUNS), ttlMs, () => client.recentRuns(dagId, RECENT_RUNS)),
    taskHistory: (dagId: string, taskId: string) => cache.get(key('history', dagId, taskId, RECENT_RUNS), ttlMs, () => client.taskHistory(dagId, taskId, RECENT_RUNS)),
    runTaskInstances: (dagId: string, runId: string) => cache.get(key('tis', dagId, runId), ttlMs, () => client.runTaskInstances(dagId, runId)),
    dagTasks: (dagId: string) => cache.get(key('tasks', dagId), ttlMs, () => client.dagTasks(dagId)),
    /** From the DAG's cached task list: one request per DAG, not per task. */
    upstreamTaskIds: async (dagId: string, taskId: string) => upstreamsOf(await cache.get(key('tasks', dagId), ttlMs, () => client.dagTasks(dagId)), taskId),
  };
}

