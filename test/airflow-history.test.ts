import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import pino from 'pino';
import airflowHistory from '../src/diagnosers/analysers/airflow-history.ts';
import { HttpAirflowClient } from '../src/clients/airflowClient.ts';
import { createLookupCache } from '../src/clients/lookupCache.ts';
import { runChain } from '../src/diagnosers/runChain.ts';
import { testHelpers, testSharedHelpers } from './support/analyserHelpers.ts';
import { renderMessage, type AnalyserResult, type CatalogView, type EvidenceEntry } from '../src/diagnosers/types.ts';
import type { AssigneeRole, Category } from '../src/diagnosers/taxonomy.ts';
import type { Signal } from '../src/signals/types.ts';
import type { CatalogTable } from '../src/catalog/types.ts';

/**
 * airflow-history against a small local HTTP server that answers like Airflow 3's REST API
 * (/api/v2, JWT from /auth/token) with canned task instances, tries, runs and tasks per case:
 * an external-API stand-in, never a mock of Medic's own modules.
 */

const DAG = 'orders_hourly';
const TASK = 'load_orders';
const RUN = 'scheduled__2026-11-27T08:00:00+00:00';
const RUN_AFTER = Date.parse('2026-11-27T09:00:00Z');
const H = 3_600_000;

interface EarlierTi {
  state?: string;
  duration?: number;
  queued_s?: number;
  hostname?: string;
}
interface Try {
  state: string;
  hostname?: string;
  duration?: number;
  queued_s?: number;
}
/** What the fake Airflow knows about the DAG, for one case. */
interface Scenario {
  /** The task's instances in earlier runs, newest first. */
  history?: EarlierTi[];
  /** This run's tries, oldest first; the last is the task instance's current state. */
  tries?: Try[];
  /** States of other tasks in this run. */
  runTasks?: Record<string, string>;
  /** Every /api/v2/dags request is answered with this instead. */
  fail?: { status: number; body: unknown };
  /** Task instance and tries answer 404. */
  unknownTask?: boolean;
}

const iso = (ms: number) => new Date(ms).toISOString();

/** A v2 TaskInstanceResponse (the tries endpoint answers the same shape). */
function ti(o: { taskId?: string; runId: string; runAfter: number; state: string | null; tryNumber?: number; queuedAt?: number; queuedS?: number; duration?: number | null; hostname?: string; mapIndex?: number; operator?: string }): Record<string, unknown> {
  const queued = o.queuedAt ?? o.runAfter + 10_000;
  const start = queued + (o.queuedS ?? 30) * 1000;
  const duration = o.duration === undefined ? 600 : o.duration;
  const finished = o.state !== 'running' && o.state !== 'queued' && duration !== null;
  return {
    id: `${o.runId}-${o.taskId ?? TASK}-${o.tryNumber ?? 1}`, task_id: o.taskId ?? TASK, dag_id: DAG, dag_run_id: o.runId, map_index: o.mapIndex ?? -1,
    logical_date: iso(o.runAfter - H), run_after: iso(o.runAfter),
    start_date: iso(start), end_date: finished ? iso(start + (duration ?? 0) * 1000) : null, duration: finished ? duration : null,
    state: o.state, try_number: o.tryNumber ?? 1, max_tries: 3, task_display_name: o.taskId ?? TASK, dag_display_name: DAG,
    hostname: o.hostname ?? 'worker-1', unixname: 'airflow', pool: 'default_pool', pool_slots: 1, queue: 'default', priority_weight: 1,
    operator: o.operator ?? 'PythonOperator', operator_name: o.operator ?? 'PythonOperator',
    queued_when: iso(queued), scheduled_when: iso(queued - 5000), pid: 4242, executor: null, executor_config: '{}', note: null,
    rendered_map_index: null, rendered_fields: {}, trigger: null, triggerer_job: null, dag_version: null,
  };
}

const DEFAULT_HISTORY: EarlierTi[] = Array.from({ length: 10 }, () => ({ state: 'success', duration: 600, queued_s: 30 }));
const DEFAULT_TRIES: Try[] = [{ state: 'failed', hostname: 'worker-1', duration: 620, queued_s: 30 }];

/** Answers for one task of one scenario, by path. */
function answers(s: Scenario, taskId: string) {
  const history = (s.history ?? DEFAULT_HISTORY).map((h, i) => {
    const runAfter = RUN_AFTER - (i + 1) * H;
    return ti({ taskId, runId: `scheduled__${iso(runAfter - H)}`, runAfter, state: h.state ?? 'success', duration: h.duration, queuedS: h.queued_s, hostname: h.hostname });
  });
  const tries = (s.tries ?? DEFAULT_TRIES).map((t, i) =>
    ti({ taskId, runId: RUN, runAfter: RUN_AFTER, state: t.state, tryNumber: i + 1, queuedAt: RUN_AFTER + 10_000 + i * 1800_000, queuedS: t.queued_s, duration: t.duration, hostname: t.hostname }),
  );
  const current = tries[tries.length - 1]!;
  const runTis = [current, ...Object.entries(s.runTasks ?? {}).map(([id, state]) => ti({ taskId: id, runId: RUN, runAfter: RUN_AFTER, state }))];
  const dagRuns = [
    { dag_run_id: RUN, dag_id: DAG, state: 'failed', run_type: 'scheduled', logical_date: iso(RUN_AFTER - H), run_after: iso(RUN_AFTER), queued_at: iso(RUN_AFTER + 1000), start_date: iso(RUN_AFTER + 2000), end_date: null, dag_versions: [], dag_display_name: DAG },
    ...history.map((h) => ({ dag_run_id: h['dag_run_id'], dag_id: DAG, state: h['state'], run_type: 'scheduled', logical_date: h['logical_date'], run_after: h['run_after'], queued_at: h['queued_when'], start_date: h['start_date'], end_date: h['end_date'], dag_versions: [], dag_display_name: DAG })),
  ];
  const tasks = [
    { task_id: 'extract_orders', downstream_task_ids: [TASK, 'load_t0', 'load_t1', 'load_t2', 'load_t3', 'load_t4'] },
    { task_id: 'extract_customers', downstream_task_ids: [TASK] },
    { task_id: taskId, downstream_task_ids: ['publish'] },
    { task_id: 'publish', downstream_task_ids: [] },
  ];
  return { history: [current, ...history], tries, current, runTis, dagRuns, tasks };
}

interface Seen { method: string; path: string; query: string }

/** One fake Airflow 3 for the whole file; `scenario` is swapped per case. */
const fake = {
  scenario: {} as Scenario,
  seen: [] as Seen[],
  tokens: 0,
  url: '',
  server: null as http.Server | null,
};

function route(method: string, path: string, query: URLSearchParams): { status: number; body: unknown } {
  const s = fake.scenario;
  if (method === 'GET' && path === '/api/v2/version') return { status: 200, body: { version: '3.1.0', git_version: null } };
  if (s.fail && path.startsWith('/api/v2/dags')) return s.fail;
  const notFound = { status: 404, body: { detail: 'Not Found' } };
  const dagRuns = `/api/v2/dags/${DAG}/dagRuns`;
  if (path === dagRuns) return { status: 200, body: { dag_runs: answers(s, TASK).dagRuns.slice(0, Number(query.get('limit') ?? 50)), total_entries: 11 } };
  if (path === `${dagRuns}/~/taskInstances`) {
    const list = answers(s, query.get('task_id') ?? TASK).history.slice(0, Number(query.get('limit') ?? 50));
    return { status: 200, body: { task_instances: list, total_entries: list.length } };
  }
  if (path === `${dagRuns}/${RUN}/taskInstances`) {
    const list = answers(s, TASK).runTis;
    return { status: 200, body: { task_instances: list, total_entries: list.length } };
  }
  const m = new RegExp(`^${dagRuns.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}/${RUN.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}/taskInstances/([^/]+)(?:/(\\d+))?(/tries)?$`).exec(path);
  if (m) {
    if (s.unknownTask) return notFound;
    const a = answers(s, m[1]!);
    const mapIndex = m[2] === undefined ? -1 : Number(m[2]);
    const withIndex = (t: Record<string, unknown>) => ({ ...t, map_index: mapIndex });
    if (m[3]) return { status: 200, body: { task_instances: a.tries.map(withIndex), total_entries: a.tries.length } };
    return { status: 200, body: withIndex(a.current) };
  }
  if (path === `/api/v2/dags/${DAG}/tasks`) return { status: 200, body: { tasks: answers(s, TASK).tasks, total_entries: 4 } };
  return notFound;
}

beforeAll(async () => {
  fake.server = http.createServer((req, res) => {
    let raw = '';
    req.on('data', (c: Buffer) => (raw += c.toString()));
    req.on('end', () => {
      const url = new URL(req.url ?? '/', 'http://x');
      const path = decodeURIComponent(url.pathname);
      fake.seen.push({ method: req.method ?? 'GET', path, query: url.search });
      let reply: { status: number; body: unknown };
      if (req.method === 'POST' && path === '/auth/token') {
        fake.tokens++;
        reply = JSON.parse(raw).password === 'pw' ? { status: 201, body: { access_token: 'jwt' } } : { status: 401, body: { detail: 'Invalid credentials' } };
      } else if (path.startsWith('/api/v2/dags') && req.headers.authorization !== 'Bearer jwt') {
        reply = { status: 401, body: { detail: 'Not authenticated' } };
      } else {
        reply = route(req.method ?? 'GET', path, url.searchParams);
      }
      res.writeHead(reply.status, { 'content-type': 'application/json' });
      res.end(JSON.stringify(reply.body));
    });
  });
  await new Promise<void>((resolve) => fake.server!.listen(0, '127.0.0.1', resolve));
  fake.url = `http://127.0.0.1:${(fake.server!.address() as AddressInfo).port}`;
});
afterAll(async () => {
  fake.server?.closeAllConnections();
  await new Promise<void>((resolve) => fake.server?.close(() => resolve()));
});

function newClient(): HttpAirflowClient {
  return new HttpAirflowClient({ name: 'main', url: fake.url, username: 'medic', password: 'pw', api: null });
}

const ORDERS: CatalogTable = {
  name: 'lake.orders',
  owner: 'orders-eng',
  pipeline: { airflow: 'main', dag_id: DAG, task_ids: [TASK] },
  upstream: ['lake.customers'],
  source: { kind: 'postgres', name: 'orders-db', owner: 'orders-dba' },
};
/** An upstream table loaded by a task of the same DAG. */
const CUSTOMERS: CatalogTable = { name: 'lake.customers', owner: 'crm-eng', pipeline: { dag_id: DAG, task_ids: ['extract_customers'] } };

function catalogView(upstream: CatalogTable[] = []): CatalogView {
  return { table: ORDERS, teams: new Map(), upstream, platformTeam: 'data-platform' };
}

function failureSignal(o: { taskId?: string; runId?: string | null; tryNumber?: number; exception?: { type: string; message: string }; airflow?: string; mapIndex?: number; id?: string } = {}): Signal {
  const at = new Date(RUN_AFTER + 2 * H);
  const pipeline: Signal['pipeline'] = { airflow: o.airflow ?? 'main', dag_id: DAG, task_id: o.taskId ?? TASK };
  if (o.runId !== null) pipeline.run_id = o.runId ?? RUN;
  if (o.tryNumber !== undefined) pipeline.try_number = o.tryNumber;
  if (o.mapIndex !== undefined) pipeline.map_index = o.mapIndex;
  return {
    id: o.id ?? 'sig-1', kind: 'failure', event: 'failure', table: 'lake.orders', pipeline,
    exception: o.exception ?? { type: 'RuntimeError', message: 'boom' },
    occurredAt: at, receivedAt: at, dedupeKey: o.id ?? 'sig-1', source: 'airflow', payload: {},
  };
}

function earlierVerdict(category: Category, confidence: number): EvidenceEntry {
  return {
    analyser: 'exception-classifier', version: '1', inputs: {}, observations: {}, findings: [],
    verdict: { category, confidence, summary: `the classifier says ${category}` }, error: null, duration_ms: 1,
  };
}

const TIMEOUT = { type: 'airflow.exceptions.AirflowTaskTimeout', message: 'Timeout, PID: 4242' };
const DRIVER_TIMEOUT = { type: 'psycopg2.OperationalError', message: 'connection to server at "orders-db" (10.0.0.5), port 5432 failed: timeout expired' };

interface Case {
  name: string;
  scenario: Scenario;
  exception?: { type: string; message: string };
  earlier?: EvidenceEntry[];
  upstreamTables?: CatalogTable[];
  tryNumber?: number;
  category: Category | null;
  confidence?: number;
  assigneeRole?: AssigneeRole;
  details?: Record<string, string | number>;
  summary?: string;
  finding?: string;
  noFinding?: string;
}

async function analyse(c: Pick<Case, 'scenario' | 'exception' | 'earlier' | 'upstreamTables' | 'tryNumber'>): Promise<AnalyserResult> {
  fake.scenario = c.scenario;
  const client = newClient();
  return airflowHistory.analyse({
    signal: failureSignal({ exception: c.exception, tryNumber: c.tryNumber }),
    catalog: catalogView(c.upstreamTables),
    earlier: c.earlier ?? [],
    helpers: testHelpers({ airflow: (name) => (name === undefined || name.toLowerCase() === 'main' ? client : null), cache: createLookupCache() }),
  });
}

function check(result: AnalyserResult, c: Case): void {
  const why = JSON.stringify({ observations: result.observations, findings: result.findings, verdict: result.verdict });
  if (c.category === null) {
    expect(result.verdict ?? null, why).toBeNull();
  } else {
    const v = result.verdict!;
    expect(v?.category, why).toBe(c.category);
    expect(v.confidence, why).toBe(c.confidence);
    expect(v.assigneeRole, why).toBe(c.assigneeRole);
    if (c.details) expect(v.details, why).toMatchObject(c.details);
    const template = airflowHistory.meta.messages[v.summary.messageId];
    expect(template, v.summary.messageId).toBeDefined();
    const text = renderMessage(template!, v.summary.data);
    expect(text).not.toMatch(/\{\w+\}/);
    if (c.summary) expect(text).toContain(c.summary);
  }
  const ids = (result.findings ?? []).map((f) => f.messageId);
  for (const f of result.findings ?? []) {
    const template = airflowHistory.meta.messages[f.messageId];
    expect(template, f.messageId).toBeDefined();
    expect(renderMessage(template!, f.data)).not.toMatch(/\{\w+\}/);
  }
  if (c.finding) expect(ids, why).toContain(c.finding);
  if (c.noFinding) expect(ids, why).not.toContain(c.noFinding);
}

const successes = (n: number, duration = 600, queued_s = 30): EarlierTi[] => Array.from({ length: n }, () => ({ state: 'success', duration, queued_s }));

const RUNTIME: Case[] = [
  {
    name: '4× the median and killed by its execution_timeout: runtime_regression',
    scenario: { tries: [{ state: 'failed', duration: 2400 }] },
    exception: TIMEOUT,
    category: 'runtime_regression',
    confidence: 0.95,
    details: { duration_s: 2400, median_s: 600, successes: 10, dag_id: DAG, run_id: RUN },
    summary: 'ran 2400 s, more than 3× its median of 600 s over 10 earlier successes',
  },
  {
    name: "killed for time: a regression even when the classifier was sure of another cause",
    scenario: { tries: [{ state: 'failed', duration: 2400 }] },
    exception: TIMEOUT,
    earlier: [earlierVerdict('infra_transient', 0.9)],
    category: 'runtime_regression',
    confidence: 0.95,
  },
  {
    name: 'a driver timeout the classifier already explained: only a finding',
    scenario: { tries: [{ state: 'failed', duration: 2400 }] },
    exception: DRIVER_TIMEOUT,
    earlier: [earlierVerdict('source_unavailable', 0.9)],
    category: null,
    finding: 'longRun',
  },
  {
    name: 'a long run that did not time out: only a finding',
    scenario: { tries: [{ state: 'failed', duration: 2400 }] },
    exception: { type: 'KeyError', message: "'customer_id'" },
    category: null,
    finding: 'longRun',
  },
  {
    name: 'four earlier successes are too few to judge',
    scenario: { history: [...successes(4), { state: 'failed', duration: 50 }], tries: [{ state: 'failed', duration: 2400 }] },
    exception: TIMEOUT,
    category: null,
    noFinding: 'longRun',
  },
  {
    name: 'exactly 3× the median is not far longer',
    scenario: { tries: [{ state: 'failed', duration: 1800 }] },
    exception: TIMEOUT,
    category: null,
    noFinding: 'longRun',
  },
];

const BACKLOG: Case[] = [
  {
    name: 'queued 20 min against a usual 30 s: scheduler_backlog',
    scenario: { tries: [{ state: 'failed', queued_s: 1200 }] },
    category: 'scheduler_backlog',
    confidence: 0.95,
    details: { queued_s: 1200, median_queued_s: 30, pool: 'default_pool' },
    summary: 'waited 1200 s in the queue before starting, more than 3× its usual 30 s',
  },
  {
    name: 'a weak earlier verdict does not hold it back',
    scenario: { tries: [{ state: 'failed', queued_s: 1200 }] },
    earlier: [earlierVerdict('infra_transient', 0.6)],
    category: 'scheduler_backlog',
    confidence: 0.95,
  },
  {
    name: 'the classifier found something stronger: only a finding',
    scenario: { tries: [{ state: 'failed', queued_s: 1200 }] },
    earlier: [earlierVerdict('code_error', 0.9)],
    category: null,
    finding: 'longQueue',
  },
  {
    name: 'a 4-minute queue is never a backlog, whatever the median',
    scenario: { tries: [{ state: 'failed', queued_s: 240 }] },
    category: null,
    noFinding: 'longQueue',
  },
  {
    name: 'too few earlier queue times',
    scenario: { history: successes(2), tries: [{ state: 'failed', queued_s: 1200 }] },
    category: null,
  },
];

const TRANSIENT: Case[] = [
  {
    name: 'tries failed on two hosts, earlier runs fine, classifier said infra_transient: confirmed',
    scenario: { tries: [{ state: 'failed', hostname: 'worker-1' }, { state: 'failed', hostname: 'worker-7' }] },
    tryNumber: 2,
    earlier: [earlierVerdict('infra_transient', 0.85)],
    category: 'infra_transient',
    confidence: 0.95,
    details: { failed_tries: 2, hosts: 2, hostnames: 'worker-1, worker-7', ok_runs: 3 },
    summary: 'Confirmed by Airflow: load_orders failed 2 tries on 2 different hosts (worker-1, worker-7)',
    finding: 'transientPattern',
  },
  {
    name: 'the same pattern without an infra_transient verdict before: a finding only',
    scenario: { tries: [{ state: 'failed', hostname: 'worker-1' }, { state: 'failed', hostname: 'worker-7' }] },
    earlier: [earlierVerdict('source_unavailable', 0.9)],
    category: null,
    finding: 'transientPattern',
  },
  {
    name: 'every try on the same host: no pattern',
    scenario: { tries: [{ state: 'failed', hostname: 'worker-1' }, { state: 'failed', hostname: 'worker-1' }] },
    earlier: [earlierVerdict('infra_transient', 0.85)],
    category: null,
    noFinding: 'transientPattern',
  },
  {
    name: 'one of the previous three runs failed: no pattern',
    scenario: { history: [{ state: 'success' }, { state: 'failed' }, ...successes(8)], tries: [{ state: 'failed', hostname: 'worker-1' }, { state: 'failed', hostname: 'worker-7' }] },
    earlier: [earlierVerdict('infra_transient', 0.85)],
    category: null,
    noFinding: 'transientPattern',
  },
  {
    name: 'a single try: no pattern',
    scenario: { tries: [{ state: 'failed', hostname: 'worker-7' }] },
    earlier: [earlierVerdict('infra_transient', 0.85)],
    category: null,
    noFinding: 'transientPattern',
  },
];

const UPSTREAM: Case[] = [
  {
    name: 'an upstream task failed in this run, no earlier verdict: upstream_unhealthy 0.7, same DAG so the pipeline owner',
    scenario: { runTasks: { extract_orders: 'failed', extract_customers: 'success', publish: 'upstream_failed' } },
    category: 'upstream_unhealthy',
    confidence: 0.7,
    assigneeRole: 'pipeline_owner',
    details: { upstream_task: 'extract_orders', upstream_state: 'failed' },
    summary: 'The upstream task extract_orders of load_orders is failed in this run.',
    finding: 'upstreamTaskFailed',
  },
  {
    name: 'the failed upstream task loads a catalog upstream table: its owner',
    scenario: { runTasks: { extract_orders: 'success', extract_customers: 'upstream_failed' } },
    upstreamTables: [CUSTOMERS],
    category: 'upstream_unhealthy',
    confidence: 0.7,
    assigneeRole: 'upstream_owner',
    details: { upstream_task: 'extract_customers', upstream: 'lake.customers' },
  },
  {
    name: 'with an earlier verdict the failed upstream is a finding only',
    scenario: { runTasks: { extract_orders: 'failed' } },
    earlier: [earlierVerdict('code_error', 0.6)],
    category: null,
    finding: 'upstreamTaskFailed',
  },
  {
    name: 'a failed downstream task is not an upstream',
    scenario: { runTasks: { extract_orders: 'success', publish: 'failed' } },
    category: null,
    noFinding: 'upstreamTaskFailed',
  },
];

const STREAK: Case[] = [
  {
    name: 'failed in each of the last 6 runs: failing since the oldest of them',
    scenario: { history: [...Array.from({ length: 5 }, () => ({ state: 'failed', duration: 30 })), ...successes(5)] },
    category: null,
    finding: 'failingSince',
  },
  {
    name: 'four failures, then a success: no streak',
    scenario: { history: [...Array.from({ length: 3 }, () => ({ state: 'failed', duration: 30 })), ...successes(7)] },
    category: null,
    noFinding: 'failingSince',
  },
  {
    name: 'a fresh failure after successes: no streak',
    scenario: {},
    category: null,
    noFinding: 'failingSince',
  },
];

describe('airflow-history', () => {
  it('has the expected meta', () => {
    expect(airflowHistory.meta).toMatchObject({ id: 'airflow-history', version: '1', appliesTo: ['failure'] });
  });

  const groups: Array<[string, Case[]]> = [
    ['runtime_regression', RUNTIME],
    ['scheduler_backlog', BACKLOG],
    ['infra_transient', TRANSIENT],
    ['upstream task failed', UPSTREAM],
    ['failing since', STREAK],
  ];
  for (const [title, cases] of groups) {
    describe(title, () => {
      it('has at least three cases', () => expect(cases.length).toBeGreaterThanOrEqual(3));
      it.each(cases)('$name', async (c) => check(await analyse(c), c));
    });
  }

  it('dates the streak from the oldest failed run', async () => {
    const result = await analyse({ scenario: { history: [...Array.from({ length: 5 }, () => ({ state: 'failed', duration: 30 })), ...successes(5)] } });
    const finding = result.findings?.find((f) => f.messageId === 'failingSince');
    // History run i started at RUN_AFTER − (i+1) h + 10 s queued + 30 s; the 5th earlier run is the oldest failure.
    expect(finding?.data).toEqual({ task_id: TASK, streak: 6, since: iso(RUN_AFTER - 5 * H + 40_000) });
    expect(result.observations['failing_streak']).toBe(6);
  });

  it('observes what it asked and what it saw', async () => {
    const result = await analyse({ scenario: { tries: [{ state: 'failed', hostname: 'worker-1', duration: 700, queued_s: 45 }], runTasks: { extract_orders: 'success', extract_customers: 'success' } } });
    expect(result.observations).toMatchObject({
      airflow: 'main',
      task: { dag_id: DAG, run_id: RUN, task_id: TASK, map_index: -1 },
      this_try: { try_number: 1, state: 'failed', hostname: 'worker-1', queued_s: 45, duration_s: 700 },
      tries: { count: 1, failed: 1, hostnames: ['worker-1'] },
      history: { instances: 10, successes: 10, failed: 0, median_duration_s: 600, median_queued_s: 30 },
      recent_runs: { count: 10, states: { success: 10 } },
      upstream_tasks: { ids: ['extract_customers', 'extract_orders'], states: { extract_orders: 'success', extract_customers: 'success' } },
      failing_streak: 1,
      rule: null,
    });
    expect(result.observations['asked']).toHaveLength(6);
  });

  it('asks about the mapped task instance the signal names', async () => {
    fake.scenario = {};
    fake.seen = [];
    const client = newClient();
    const result = await airflowHistory.analyse({
      signal: failureSignal({ mapIndex: 2 }),
      catalog: catalogView(),
      earlier: [],
      helpers: testHelpers({ airflow: () => client }),
    });
    expect(result.observations['task']).toMatchObject({ map_index: 2 });
    const paths = fake.seen.map((r) => r.path);
    expect(paths).toContain(`/api/v2/dags/${DAG}/dagRuns/${RUN}/taskInstances/${TASK}/2`);
    expect(paths).toContain(`/api/v2/dags/${DAG}/dagRuns/${RUN}/taskInstances/${TASK}/2/tries`);
  });

  it('not configured: a finding naming the variable to set, no verdict', async () => {
    for (const [name, env] of [['main', 'AIRFLOW_MAIN_URL'], ['data-platform', 'AIRFLOW_DATA_PLATFORM_URL']] as const) {
      const result = await airflowHistory.analyse({ signal: failureSignal({ airflow: name }), catalog: catalogView(), earlier: [], helpers: testHelpers() });
      expect(result.verdict ?? null).toBeNull();
      expect(result.findings).toEqual([{ messageId: 'notConfigured', data: { name, env } }]);
    }
  });

  it('a signal without a run id: a finding, Airflow not asked', async () => {
    fake.seen = [];
    const client = newClient();
    const result = await airflowHistory.analyse({ signal: failureSignal({ runId: null }), catalog: catalogView(), earlier: [], helpers: testHelpers({ airflow: () => client }) });
    expect(result.verdict ?? null).toBeNull();
    expect(result.findings).toEqual([{ messageId: 'missingIds', data: { missing: 'run_id' } }]);
    expect(fake.seen).toHaveLength(0);
  });

  it('a task instance Airflow does not know: a finding', async () => {
    const result = await analyse({ scenario: { unknownTask: true } });
    expect(result.verdict ?? null).toBeNull();
    expect(result.findings?.map((f) => f.messageId)).toEqual(['taskUnknown']);
  });

  it('an Airflow error is recorded as evidence and the chain goes on', async () => {
    fake.scenario = { fail: { status: 503, body: { detail: 'Service Unavailable' } } };
    const client = newClient();
    const outcome = await runChain(
      [airflowHistory],
      { signal: failureSignal(), catalog: catalogView() },
      { timeoutMs: 5000, log: pino({ level: 'silent' }), shared: testSharedHelpers({ airflow: () => client }) },
    );
    expect(outcome.verdict).toBeNull();
    expect(outcome.evidence[0]?.error).toMatch(/^analyser airflow-history: airflow main: GET \/api\/v2\/dags\/orders_hourly\/[^ ]+ → 503 Service Unavailable$/);
  });

  it('50 concurrent failures of one DAG through one shared cache ask each path at most twice', async () => {
    // The previous case's analyser stopped at its first error; its other requests may still be
    // arriving. Count from when the fake has been quiet for a moment.
    for (let before = -1; before !== fake.seen.length;) {
      before = fake.seen.length;
      await new Promise((r) => setTimeout(r, 50));
    }
    fake.scenario = { tries: [{ state: 'failed', queued_s: 1200 }] };
    fake.seen = [];
    const tokensBefore = fake.tokens;
    const client = newClient();
    const shared = testSharedHelpers({ airflow: () => client, cache: createLookupCache() });
    const tasks = ['load_t0', 'load_t1', 'load_t2', 'load_t3', 'load_t4'];
    const results = await Promise.all(
      Array.from({ length: 50 }, (_, i) =>
        airflowHistory.analyse({
          signal: failureSignal({ taskId: tasks[i % tasks.length], id: `sig-${i}` }),
          catalog: catalogView(),
          earlier: [],
          helpers: { ...shared, log: pino({ level: 'silent' }), abortSignal: new AbortController().signal },
        }),
      ),
    );
    expect(results.every((r) => r.verdict?.category === 'scheduler_backlog')).toBe(true);
    const perPath = new Map<string, number>();
    for (const r of fake.seen) perPath.set(`${r.method} ${r.path}${r.query}`, (perPath.get(`${r.method} ${r.path}${r.query}`) ?? 0) + 1);
    expect(Math.max(...perPath.values()), JSON.stringify([...perPath])).toBeLessThanOrEqual(2);
    // One token and one version detection for the whole surge; per task: instance, tries, history;
    // per DAG: runs, tasks; per run: its task instances.
    expect(fake.tokens - tokensBefore).toBe(1);
    expect(perPath.get('GET /api/v2/version')).toBe(1);
    expect(perPath.size).toBe(2 + tasks.length * 3 + 3);
  });
});
