import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { HttpAirflowClient } from '../src/clients/airflowClient.ts';
import { memoryHistory } from './support/memoryHistory.ts';
import { testHelpers } from './support/analyserHelpers.ts';
import slaTimeline from '../src/diagnosers/analysers/sla-timeline.ts';
import { findLateUpstream, lookbackMs, type LateUpstream, type UpstreamLatenessInput } from '../src/diagnosers/upstreamLateness.ts';
import type { AssigneeRole, Category } from '../src/diagnosers/taxonomy.ts';
import {
  renderMessage,
  type AnalyserResult,
  type CatalogView,
  type HistoricSignal,
  type InheritedDiagnosis,
  type TableHealthSnapshot,
} from '../src/diagnosers/types.ts';
import type { Signal } from '../src/signals/types.ts';
import { bucket, catalogView, CUSTOMERS, failure, health, ORDERS, rca, RUN, success, t, UPSTREAMS_FINE, type Bucket } from './support/ordersFixtures.ts';


const PREVIOUS_RUN = 'scheduled__2026-11-27T07:00:00+00:00';

/** `detectedAt` is a UTC time of day on 2026-11-27, HH:MM:SS. */
function slaSignal(overrides: Record<string, unknown> = {}, detectedAt = '09:00:30'): Signal {
  const detected = new Date(`2026-11-27T${detectedAt}Z`);
  const payload: Record<string, unknown> = {
    id: 'sla-1',
    table: 'lake.orders',
    sla_kind: 'completion',
    expected_by: '2026-11-27T09:00:00Z',
    detected_at: detected.toISOString(),
    dag_id: 'orders_hourly',
    run_id: RUN,
    last_success_at: '2026-11-27T07:58:00Z',
    producer: 'dq-platform',
    ...overrides,
  };
  for (const [k, v] of Object.entries(payload)) if (v === undefined) delete payload[k];
  const pipeline: Signal['pipeline'] = {};
  if (typeof payload['dag_id'] === 'string') pipeline.dag_id = payload['dag_id'];
  if (typeof payload['run_id'] === 'string') pipeline.run_id = payload['run_id'];
  return {
    id: 'sig-sla-1',
    kind: 'sla_miss',
    event: null,
    table: 'lake.orders',
    pipeline,
    exception: null,
    occurredAt: detected,
    receivedAt: detected,
    dedupeKey: 'sla-1',
    source: 'kafka',
    payload,
  };
}




/** Earlier successes of other runs on previous days, each with the given duration. */
function history(durations: number[], options: { task_id?: string; daysBack?: number } = {}): HistoricSignal[] {
  return durations.map((d, i) => {
    const at = new Date(t('08:40').getTime() - ((options.daysBack ?? 1) + i) * 86_400_000).toISOString();
    return success(`prev-${i}`, at, { run_id: `scheduled__prev-${i}`, duration_s: d, ...(options.task_id ? { task_id: options.task_id } : {}) });
  });
}




interface Case {
  name: string;
  event?: Record<string, unknown>;
  detectedAt?: string;
  catalog?: CatalogView;
  signals?: HistoricSignal[];
  health?: TableHealthSnapshot[];
  category: Category | null;
  confidence?: Bucket;
  assigneeRole?: AssigneeRole;
  inherit?: Omit<Partial<InheritedDiagnosis>, 'assignee'> & { assignee?: Partial<InheritedDiagnosis['assignee']> };
  details?: Record<string, string | number>;
  /** The rendered summary must contain this. */
  summary?: string;
  rule?: string | null;
  /** A finding with this message id must be present. */
  finding?: string;
  /** What the (fake) Airflow answers; without it no Airflow is configured. */
  airflow?: AirflowScenario;
  /** Airflow must not have been asked anything. */
  airflowNotAsked?: boolean;
}

async function analyse(c: Pick<Case, 'event' | 'detectedAt' | 'catalog' | 'signals' | 'health' | 'airflow'>): Promise<AnalyserResult> {
  let airflow: (name: string | undefined) => HttpAirflowClient | null = () => null;
  if (c.airflow) {
    fakeAirflow.scenario = c.airflow;
    const client = new HttpAirflowClient({ name: 'main', url: fakeAirflow.url, username: 'medic', password: 'pw', api: 'v2' });
    airflow = (name) => (name === undefined || name === 'main' ? client : null);
  }
  return slaTimeline.analyse({
    signal: slaSignal(c.event, c.detectedAt),
    catalog: c.catalog ?? catalogView(),
    earlier: [],
    helpers: testHelpers({ history: memoryHistory(c.signals ?? [], c.health ?? UPSTREAMS_FINE), airflow }),
  });
}

// --- A fake Airflow 3 (REST /api/v2, JWT) for the Airflow-timing rules: an external-API stand-in.

interface AirflowRun {
  run_id: string;
  state: string;
  /** UTC times of day on 2026-11-27 (HH:MM or HH:MM:SS), or null. */
  run_after: string;
  queued_at?: string | null;
  start_date?: string | null;
  end_date?: string | null;
}
interface AirflowTask {
  task_id: string;
  state: string;
  operator?: string;
  rendered_fields?: Record<string, unknown>;
}
interface AirflowScenario {
  /** This run first or not, any order: the fake sorts by run_after descending. */
  runs: AirflowRun[];
  /** Task instances per run id. */
  tasks?: Record<string, AirflowTask[]>;
  fail?: { status: number; body: unknown };
}

const hm = (time: string | null | undefined): string | null => (time ? new Date(`2026-11-27T${time.length === 5 ? `${time}:00` : time}Z`).toISOString() : null);

/** Hourly successful runs before 08:00: queued 5 s after they were due, 30 s in the queue, 20 min running. */
function earlierRuns(count = 6): AirflowRun[] {
  return Array.from({ length: count }, (_, i) => {
    const h = String(7 - i).padStart(2, '0');
    return { run_id: `scheduled__2026-11-27T${h}:00:00+00:00`, state: 'success', run_after: `${h}:00`, queued_at: `${h}:00:05`, start_date: `${h}:00:35`, end_date: `${h}:20:35` };
  });
}

const fakeAirflow = { url: '', scenario: { runs: [] } as AirflowScenario, seen: [] as string[], server: null as http.Server | null };

function airflowReply(method: string, path: string, query: URLSearchParams, auth: string | undefined): { status: number; body: unknown } {
  const s = fakeAirflow.scenario;
  if (method === 'POST' && path === '/auth/token') return { status: 201, body: { access_token: 'jwt' } };
  if (auth !== 'Bearer jwt') return { status: 401, body: { detail: 'Not authenticated' } };
  if (s.fail) return s.fail;
  const runs = [...s.runs].sort((a, b) => (b.run_after < a.run_after ? -1 : 1));
  if (path === '/api/v2/dags/orders_hourly/dagRuns') {
    const dagRuns = runs.slice(0, Number(query.get('limit') ?? 50)).map((r) => ({
      dag_run_id: r.run_id, dag_id: 'orders_hourly', state: r.state, run_type: 'scheduled', run_after: hm(r.run_after), logical_date: hm(r.run_after),
      queued_at: hm(r.queued_at), start_date: hm(r.start_date), end_date: hm(r.end_date), dag_versions: [], dag_display_name: 'orders_hourly',
    }));
    return { status: 200, body: { dag_runs: dagRuns, total_entries: runs.length } };
  }
  const m = /^\/api\/v2\/dags\/orders_hourly\/dagRuns\/([^/]+)\/taskInstances$/.exec(path);
  if (m) {
    const tis = (s.tasks?.[m[1]!] ?? []).map((ti) => ({
      id: `${m[1]}-${ti.task_id}`, task_id: ti.task_id, dag_id: 'orders_hourly', dag_run_id: m[1], map_index: -1, run_after: null, try_number: 1, max_tries: 1,
      state: ti.state, operator: ti.operator ?? 'PythonOperator', operator_name: ti.operator ?? 'PythonOperator', rendered_fields: ti.rendered_fields ?? {},
      start_date: null, end_date: null, duration: null, queued_when: null, hostname: 'worker-1', pool: 'default_pool', pool_slots: 1,
      executor_config: '{}', task_display_name: ti.task_id, dag_display_name: 'orders_hourly',
    }));
    return { status: 200, body: { task_instances: tis, total_entries: tis.length } };
  }
  return { status: 404, body: { detail: 'Not Found' } };
}

beforeAll(async () => {
  fakeAirflow.server = http.createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      const url = new URL(req.url ?? '/', 'http://x');
      const path = decodeURIComponent(url.pathname);
      fakeAirflow.seen.push(`${req.method} ${path}`);
      const reply = airflowReply(req.method ?? 'GET', path, url.searchParams, req.headers.authorization);
      res.writeHead(reply.status, { 'content-type': 'application/json' });
      res.end(JSON.stringify(reply.body));
    });
  });
  await new Promise<void>((resolve) => fakeAirflow.server!.listen(0, '127.0.0.1', resolve));
  fakeAirflow.url = `http://127.0.0.1:${(fakeAirflow.server!.address() as AddressInfo).port}`;
});
afterAll(async () => {
  fakeAirflow.server?.closeAllConnections();
  await new Promise<void>((resolve) => fakeAirflow.server?.close(() => resolve()));
});

function check(result: AnalyserResult, c: Case): void {
  const why = JSON.stringify({ observations: result.observations, findings: result.findings, verdict: result.verdict });
  if (c.category === null) {
    expect(result.verdict ?? null, why).toBeNull();
  } else {
    const v = result.verdict;
    expect(v?.category, why).toBe(c.category);
    if (c.confidence) expect(bucket(v!.confidence), why).toBe(c.confidence);
    expect(v!.assigneeRole, why).toBe(c.assigneeRole);
    if (c.inherit) expect(v!.inherit, why).toMatchObject(c.inherit);
    else expect(v!.inherit, why).toBeUndefined();
    if (c.details) expect(v!.details, why).toMatchObject(c.details);
    const template = slaTimeline.meta.messages[v!.summary.messageId];
    expect(template, v!.summary.messageId).toBeDefined();
    const text = renderMessage(template!, v!.summary.data);
    expect(text).not.toMatch(/\{\w+\}/);
    if (c.summary) expect(text).toContain(c.summary);
  }
  if (c.rule !== undefined) expect(result.observations['rule'], why).toBe(c.rule);
  for (const f of result.findings ?? []) {
    const template = slaTimeline.meta.messages[f.messageId];
    expect(template, f.messageId).toBeDefined();
    expect(renderMessage(template!, f.data)).not.toMatch(/\{\w+\}/);
  }
  if (c.finding) expect((result.findings ?? []).map((f) => f.messageId), why).toContain(c.finding);
}

async function analyseAndCheck(c: Case): Promise<void> {
  fakeAirflow.seen = [];
  check(await analyse(c), c);
  if (c.airflowNotAsked) expect(fakeAirflow.seen).toEqual([]);
}

const INHERIT: Case[] = [
  {
    name: 'a failure of the same run with an open RCA is inherited: category, incident and assignee',
    signals: [
      failure('f-1', '08:20', {
        rca: rca('rca-1', 'source_unavailable', { summary: 'The source orders-db refused the connection (psycopg2.OperationalError).' }),
        exception: { type: 'psycopg2.OperationalError', message: 'could not connect to server: Connection refused' },
      }),
    ],
    category: 'source_unavailable',
    confidence: 'high',
    inherit: {
      rcaId: 'rca-1',
      incidentId: 'source_unavailable:orders-db',
      assignee: { team: 'orders-dba', role: 'source_owner', reason: "inherited from the failure's RCA rca-1: orders-dba owns the source orders-db" },
    },
    details: { failure_signal: 'f-1', rca_id: 'rca-1', run_id: RUN, task_id: 'load_orders', exception_type: 'psycopg2.OperationalError' },
    summary: 'The run failed before its deadline: source_unavailable — The source orders-db refused the connection',
    rule: 'failed',
    finding: 'failureInherited',
  },
  {
    name: 'an open RCA is preferred over a newer resolved one',
    signals: [
      failure('f-old', '07:10', { rca: rca('rca-open', 'resource_exhausted', { assigneeRole: 'pipeline_owner', assigneeTeam: 'orders-eng' }) }),
      failure('f-new', '08:30', { rca: rca('rca-resolved', 'infra_transient', { status: 'resolved' }) }),
    ],
    category: 'resource_exhausted',
    confidence: 'high',
    inherit: { rcaId: 'rca-open', assignee: { team: 'orders-eng', role: 'pipeline_owner' } },
  },
  {
    name: 'a final failure is preferred over a newer retry',
    signals: [
      failure('f-final', '08:20', { rca: rca('rca-final', 'code_error', { assigneeRole: 'pipeline_owner', assigneeTeam: 'orders-eng' }) }),
      failure('f-retry', '08:40', { event: 'retry', rca: rca('rca-retry', 'infra_transient') }),
    ],
    category: 'code_error',
    confidence: 'high',
    inherit: { rcaId: 'rca-final' },
  },
  {
    name: 'a retry alone is inherited too (the run is failing and retrying)',
    signals: [failure('f-retry', '08:40', { event: 'retry', rca: rca('rca-retry', 'infra_transient', { assigneeRole: 'platform', assigneeTeam: 'data-platform' }) })],
    category: 'infra_transient',
    confidence: 'high',
    inherit: { rcaId: 'rca-retry', assignee: { team: 'data-platform', role: 'platform' } },
  },
  {
    name: 'without a run id in the event, any failure of the table in the window is taken — before a failing upstream',
    event: { run_id: undefined },
    signals: [failure('f-1', '06:10', { run_id: PREVIOUS_RUN, rca: rca('rca-1', 'source_replica_lag') })],
    health: [health('lake.customers', 'unhealthy', '05:00'), health('lake.products', 'healthy', '08:45')],
    category: 'source_replica_lag',
    confidence: 'high',
    inherit: { rcaId: 'rca-1' },
  },
  {
    name: 'this run\'s failure beats a newer failure that names no run',
    signals: [
      failure('f-own', '08:10', { rca: rca('rca-own', 'source_auth_failure', { assigneeRole: 'pipeline_owner', assigneeTeam: 'orders-eng' }) }),
      failure('f-anon', '08:50', { run_id: null, rca: rca('rca-anon', 'infra_transient') }),
    ],
    category: 'source_auth_failure',
    confidence: 'high',
    inherit: { rcaId: 'rca-own' },
  },
  {
    name: 'the failure\'s non-default assignee role is carried over',
    signals: [failure('f-1', '08:20', { rca: rca('rca-1', 'resource_exhausted', { assigneeRole: 'platform', assigneeTeam: 'data-platform' }) })],
    category: 'resource_exhausted',
    confidence: 'high',
    assigneeRole: 'platform',
    inherit: { rcaId: 'rca-1', assignee: { role: 'platform' } },
  },
];

const UPSTREAM: Case[] = [
  {
    name: 'an unhealthy upstream',
    health: [health('lake.customers', 'unhealthy', '05:00'), health('lake.products', 'healthy', '08:45')],
    category: 'upstream_unhealthy',
    confidence: 'high',
    assigneeRole: 'upstream_owner',
    details: { upstream: 'lake.customers', upstream_reason: 'unhealthy' },
    summary: 'The upstream lake.customers is failing',
    rule: 'upstream-unhealthy',
  },
  {
    name: 'a degraded upstream is late',
    health: [health('lake.customers', 'healthy', '08:30'), health('lake.products', 'degraded', '07:45')],
    category: 'upstream_late',
    confidence: 'high',
    assigneeRole: 'upstream_owner',
    details: { upstream: 'lake.products', upstream_reason: 'degraded' },
    rule: 'upstream-late',
  },
  {
    name: 'a healthy upstream whose last success predates the window is late',
    health: [health('lake.customers', 'healthy', '2026-11-27T02:59:00Z'), health('lake.products', 'healthy', '08:45')],
    category: 'upstream_late',
    confidence: 'high',
    assigneeRole: 'upstream_owner',
    details: { upstream: 'lake.customers', upstream_reason: 'stale' },
    summary: 'last success: 2026-11-27T02:59:00.000Z',
  },
  {
    name: 'an onboarded upstream that never succeeded is late',
    health: [health('lake.customers', 'healthy', '08:30'), health('lake.products', 'unknown', null)],
    category: 'upstream_late',
    confidence: 'high',
    assigneeRole: 'upstream_owner',
    details: { upstream: 'lake.products', upstream_reason: 'never_succeeded' },
    summary: 'last success: never',
  },
  {
    name: 'unhealthy beats late, whatever the names',
    health: [health('lake.customers', 'degraded', '08:30'), health('lake.products', 'unhealthy', '08:00')],
    category: 'upstream_unhealthy',
    confidence: 'high',
    assigneeRole: 'upstream_owner',
    details: { upstream: 'lake.products' },
  },
  {
    name: 'two unhealthy upstreams: the first by name',
    health: [health('lake.products', 'unhealthy', '08:00'), health('lake.customers', 'unhealthy', '08:00')],
    category: 'upstream_unhealthy',
    confidence: 'high',
    assigneeRole: 'upstream_owner',
    details: { upstream: 'lake.customers' },
  },
  {
    name: 'the upstream is blamed before a late success is judged',
    signals: [success('s-late', '09:10', { duration_s: 5000 }), ...history([1000, 1000, 1000])],
    detectedAt: '09:20:00',
    health: [health('lake.customers', 'unhealthy', '05:00')],
    category: 'upstream_unhealthy',
    confidence: 'high',
    assigneeRole: 'upstream_owner',
  },
];

const LATE_SUCCESS: Case[] = [
  {
    name: 'ran more than twice its median: runtime regression',
    detectedAt: '09:20:00',
    signals: [success('s-late', '09:10', { duration_s: 3000 }), ...history([1000, 1100, 900, 1050])],
    category: 'runtime_regression',
    confidence: 'high',
    details: { duration_s: 3000, median_s: 1025, finished_at: '2026-11-27T09:10:00.000Z' },
    summary: 'it took 3000 s, more than twice its median of 1025 s',
    rule: 'runtime-regression',
    finding: 'lateSuccess',
  },
  {
    name: 'duration from start and end dates when duration_s is absent',
    detectedAt: '09:20:00',
    signals: [success('s-late', '09:10', { start_date: '2026-11-27T08:05:00Z', end_date: '2026-11-27T09:10:00Z' }), ...history([600, 700, 650])],
    category: 'runtime_regression',
    confidence: 'high',
    details: { duration_s: 3900, median_s: 650 },
  },
  {
    name: 'usual duration: it started late (scheduler backlog)',
    detectedAt: '09:20:00',
    signals: [success('s-late', '09:10', { duration_s: 1200 }), ...history([1000, 1100, 900, 1050])],
    category: 'scheduler_backlog',
    confidence: 'medium',
    details: { duration_s: 1200, median_s: 1025 },
    summary: 'in its usual time (1200 s, median 1025 s): it started late',
    rule: 'started-late',
  },
  {
    name: 'exactly twice the median is not a regression',
    detectedAt: '09:20:00',
    signals: [success('s-late', '09:10', { duration_s: 2000 }), ...history([1000, 1000, 1000])],
    category: 'scheduler_backlog',
    confidence: 'medium',
    details: { duration_s: 2000, median_s: 1000 },
  },
  {
    name: 'two earlier successes are too few to judge: backlog, low confidence',
    detectedAt: '09:20:00',
    signals: [success('s-late', '09:10', { duration_s: 5000 }), ...history([1000, 1000])],
    category: 'scheduler_backlog',
    confidence: 'low',
    details: { duration_s: 5000 },
    rule: 'late-success-no-history',
    finding: 'tooLittleHistory',
  },
  {
    name: 'successes older than 14 days do not count',
    detectedAt: '09:20:00',
    signals: [success('s-late', '09:10', { duration_s: 5000 }), ...history([1000, 1000, 1000], { daysBack: 15 })],
    category: 'scheduler_backlog',
    confidence: 'low',
  },
  {
    name: 'durations of another task of the table do not count',
    detectedAt: '09:20:00',
    signals: [success('s-late', '09:10', { duration_s: 5000 }), ...history([1000, 1000, 1000], { task_id: 'load_order_lines' })],
    category: 'scheduler_backlog',
    confidence: 'low',
  },
];

const RUN_MISSING: Case[] = [
  {
    name: 'nothing reported and the upstreams are fine: never started or still queued',
    category: 'scheduler_backlog',
    confidence: 'low',
    details: { since: '2026-11-27T03:00:00.000Z', dag_id: 'orders_hourly' },
    summary: 'No run of orders_hourly reported since 2026-11-27T03:00:00.000Z: never started or still queued',
    rule: 'run-missing',
  },
  {
    name: 'a table outside the catalog looks back 24 h',
    catalog: catalogView(null),
    category: 'scheduler_backlog',
    confidence: 'low',
    details: { since: '2026-11-26T09:00:00.000Z', dag_id: 'orders_hourly' },
    finding: 'noSla',
  },
  {
    name: 'a long SLA widens the window to twice its run time',
    catalog: catalogView({ ...ORDERS, sla: { schedule: '0 2 * * *', complete_within_minutes: 600 } }),
    category: 'scheduler_backlog',
    confidence: 'low',
    details: { since: '2026-11-26T13:00:00.000Z' },
  },
  {
    name: 'only signals of other runs (the event names its run)',
    signals: [success('s-prev', '07:58', { run_id: PREVIOUS_RUN, duration_s: 900 }), failure('f-prev', '06:50', { run_id: PREVIOUS_RUN, rca: rca('rca-prev', 'infra_transient') })],
    category: 'scheduler_backlog',
    confidence: 'low',
  },
  {
    name: 'signals before the window do not count',
    signals: [success('s-old', '02:30', { duration_s: 900 }), failure('f-old', '01:00', { rca: rca('rca-old', 'infra_transient') })],
    category: 'scheduler_backlog',
    confidence: 'low',
  },
  {
    name: 'no upstreams in the catalog, dag id from the catalog when the event has none',
    event: { dag_id: undefined },
    catalog: catalogView({ ...ORDERS, upstream: [] }, []),
    health: [],
    category: 'scheduler_backlog',
    confidence: 'low',
    summary: 'No run of orders_hourly reported',
  },
  {
    name: 'an upstream outside the catalog that never succeeded is not blamed',
    catalog: catalogView(ORDERS, [CUSTOMERS]),
    health: [health('lake.customers', 'healthy', '08:30'), health('lake.products', 'unknown', null)],
    category: 'scheduler_backlog',
    confidence: 'low',
  },
  {
    name: 'an upstream Medic never heard of is not blamed',
    health: [health('lake.customers', 'healthy', '08:30')],
    category: 'scheduler_backlog',
    confidence: 'low',
  },
];

const NO_VERDICT: Case[] = [
  {
    name: 'the run failed but the failure has no RCA yet: the chain falls back',
    signals: [failure('f-1', '08:20', { rca: null })],
    health: [health('lake.customers', 'unhealthy', '05:00')],
    category: null,
    rule: 'failed-undiagnosed',
    finding: 'failureUndiagnosed',
  },
  {
    name: 'the run succeeded before the deadline',
    signals: [success('s-1', '08:50', { duration_s: 900 })],
    category: null,
    rule: null,
    finding: 'runSignalsElsewhere',
  },
  {
    name: 'no run id and only earlier runs\' successes before the deadline',
    event: { run_id: undefined },
    signals: [success('s-prev', '07:58', { run_id: PREVIOUS_RUN, duration_s: 900 })],
    category: null,
  },
];


const AIRFLOW: Case[] = [
  {
    name: 'Airflow shows the run still queued: scheduler_backlog 0.95',
    airflow: { runs: [{ run_id: RUN, state: 'queued', run_after: '08:00', queued_at: '08:00:05' }, ...earlierRuns()] },
    category: 'scheduler_backlog',
    confidence: 'high',
    details: { run_id: RUN, dag_id: 'orders_hourly', queued_at: '2026-11-27T08:00:05.000Z', queued_s: 3625 },
    summary: 'still queued at 2026-11-27T09:00:30.000Z (queued since 2026-11-27T08:00:05.000Z)',
    rule: 'airflow-still-queued',
  },
  {
    name: 'queued 45 min against a usual 30 s, then started: scheduler_backlog 0.95',
    airflow: { runs: [{ run_id: RUN, state: 'running', run_after: '08:00', queued_at: '08:00:05', start_date: '08:45:00' }, ...earlierRuns()] },
    category: 'scheduler_backlog',
    confidence: 'high',
    details: { queued_s: 2695, median_queued_s: 30 },
    summary: 'waited 2695 s in the queue before starting, more than 3× its usual 30 s',
    rule: 'airflow-queued-long',
  },
  {
    name: 'an ExternalTaskSensor waits on a catalog upstream: upstream_late, that upstream',
    airflow: {
      runs: [{ run_id: RUN, state: 'running', run_after: '08:00', queued_at: '08:00:05', start_date: '08:00:35' }, ...earlierRuns()],
      tasks: { [RUN]: [
        { task_id: 'wait_for_customers', state: 'running', operator: 'ExternalTaskSensor', rendered_fields: { external_dag_id: 'customers_hourly', external_task_id: 'load' } },
        { task_id: 'load_orders', state: 'none' },
      ] },
    },
    category: 'upstream_late',
    confidence: 'high',
    assigneeRole: 'upstream_owner',
    details: { upstream: 'lake.customers', upstream_dag: 'customers_hourly', sensor_task: 'wait_for_customers', operator: 'ExternalTaskSensor' },
    summary: 'waiting on the sensor wait_for_customers (ExternalTaskSensor) for lake.customers, so lake.orders could not be ready',
    rule: 'airflow-sensor-waiting',
  },
  {
    name: 'a sensor in up_for_reschedule with no known target: upstream_late, no upstream guessed',
    airflow: {
      runs: [{ run_id: RUN, state: 'running', run_after: '08:00', queued_at: '08:00:05', start_date: '08:00:35' }, ...earlierRuns()],
      tasks: { [RUN]: [{ task_id: 'wait_for_file', state: 'up_for_reschedule', operator: 'S3KeySensor' }] },
    },
    category: 'upstream_late',
    confidence: 'high',
    assigneeRole: 'upstream_owner',
    details: { sensor_task: 'wait_for_file', sensor_state: 'up_for_reschedule' },
    summary: 'for its upstream',
  },
  {
    name: 'running an hour against a usual 20 min: runtime_regression 0.95',
    airflow: { runs: [{ run_id: RUN, state: 'running', run_after: '08:00', queued_at: '08:00:05', start_date: '08:00:35' }, ...earlierRuns()] },
    category: 'runtime_regression',
    confidence: 'high',
    details: { elapsed_s: 3595, median_s: 1200, history: 6 },
    summary: 'has been running for 3595 s, more than twice its median of 1200 s over 6 earlier successful runs',
    rule: 'airflow-running-long',
  },
  {
    name: 'no run id in the event: the newest run due before the deadline, not the next one',
    event: { run_id: undefined },
    airflow: {
      runs: [
        { run_id: 'scheduled__2026-11-27T09:00:00+00:00', state: 'queued', run_after: '09:00', queued_at: '09:00:05' },
        { run_id: RUN, state: 'running', run_after: '08:00', queued_at: '08:00:05', start_date: '08:00:35' },
        ...earlierRuns(),
      ],
    },
    category: 'runtime_regression',
    confidence: 'high',
    details: { run_id: RUN },
  },
  {
    name: 'Airflow facts come before a late upstream from history',
    airflow: { runs: [{ run_id: RUN, state: 'queued', run_after: '08:00', queued_at: '08:00:05' }, ...earlierRuns()] },
    health: [health('lake.customers', 'unhealthy', '05:00')],
    category: 'scheduler_backlog',
    confidence: 'high',
    rule: 'airflow-still-queued',
  },
  {
    name: 'the run already failed with an RCA: inherited, Airflow not asked',
    airflow: { runs: [{ run_id: RUN, state: 'queued', run_after: '08:00', queued_at: '08:00:05' }] },
    signals: [failure('f-1', '08:20', { rca: rca('rca-1', 'source_unavailable') })],
    category: 'source_unavailable',
    confidence: 'high',
    inherit: { rcaId: 'rca-1' },
    rule: 'failed',
    airflowNotAsked: true,
  },
];

const AIRFLOW_NO_VERDICT: Case[] = [
  {
    name: 'running in its usual time: no verdict, and not "never started"',
    airflow: { runs: [{ run_id: RUN, state: 'running', run_after: '08:00', queued_at: '08:44:30', start_date: '08:45:00' }, ...earlierRuns()] },
    category: null,
    rule: null,
    finding: 'airflowRunState',
  },
  {
    name: 'Airflow shows the run failed but Medic has no failure signal: the chain falls back',
    airflow: { runs: [{ run_id: RUN, state: 'failed', run_after: '08:00', queued_at: '08:00:05', start_date: '08:00:35', end_date: '08:30:00' }, ...earlierRuns()] },
    health: [health('lake.customers', 'unhealthy', '05:00')],
    category: null,
    rule: 'airflow-run-failed',
    finding: 'airflowRunFailed',
  },
  {
    name: 'too little run history to judge an hour-long run: no verdict',
    airflow: { runs: [{ run_id: RUN, state: 'running', run_after: '08:00', queued_at: '08:00:05', start_date: '08:00:35' }, ...earlierRuns(2)] },
    category: null,
    finding: 'airflowRunState',
  },
];

const AIRFLOW_FALLBACK: Case[] = [
  {
    name: 'Airflow answers 503: a finding, and the history rules still conclude',
    airflow: { runs: [], fail: { status: 503, body: { detail: 'Service Unavailable' } } },
    category: 'scheduler_backlog',
    confidence: 'low',
    rule: 'run-missing',
    finding: 'airflowError',
  },
  {
    name: 'the run is not among the newest runs: a finding, history rules go on',
    airflow: { runs: earlierRuns() },
    category: 'scheduler_backlog',
    confidence: 'low',
    rule: 'run-missing',
    finding: 'airflowRunNotFound',
  },
  {
    name: 'no run due before the deadline: a finding, history rules go on',
    event: { run_id: undefined },
    airflow: { runs: [{ run_id: 'scheduled__2026-11-27T09:00:00+00:00', state: 'queued', run_after: '09:00', queued_at: '09:00:05' }] },
    category: 'scheduler_backlog',
    confidence: 'low',
    finding: 'airflowNoRuns',
  },
];

describe('sla-timeline', () => {
  it('has the expected meta', () => {
    expect(slaTimeline.meta).toMatchObject({ id: 'sla-timeline', version: '2', appliesTo: ['sla_miss'] });
  });

  const groups: Array<[string, Case[]]> = [
    ['a. the run already failed: inherit', INHERIT],
    ['b. upstream unhealthy or late', UPSTREAM],
    ['c. succeeded after the deadline', LATE_SUCCESS],
    ['d. run missing', RUN_MISSING],
    ['no verdict', NO_VERDICT],
    ['A. Airflow timings', AIRFLOW],
    ['A. Airflow: no verdict', AIRFLOW_NO_VERDICT],
    ['A. Airflow unavailable or unhelpful: the history rules go on', AIRFLOW_FALLBACK],
  ];
  for (const [title, cases] of groups) {
    describe(title, () => {
      it('has at least three cases', () => expect(cases.length).toBeGreaterThanOrEqual(3));
      it.each(cases)('$name', analyseAndCheck);
    });
  }

  it('without an Airflow client: an observation only, as in version 1', async () => {
    const result = await analyse({});
    expect(result.observations['airflow']).toEqual({ configured: false, name: 'main', env: 'AIRFLOW_MAIN_URL' });
    expect(result.findings?.map((f) => f.messageId).filter((id) => id.startsWith('airflow'))).toEqual([]);
  });

  it('observes what Airflow said about the run', async () => {
    const result = await analyse({ airflow: { runs: [{ run_id: RUN, state: 'running', run_after: '08:00', queued_at: '08:00:05', start_date: '08:00:35' }, ...earlierRuns()] } });
    expect(result.observations['airflow']).toMatchObject({
      name: 'main',
      asked: ['recent runs of orders_hourly', `task instances of ${RUN}`],
      run: { run_id: RUN, state: 'running', queued_at: '2026-11-27T08:00:05.000Z', start_date: '2026-11-27T08:00:35.000Z', end_date: null },
      earlier_runs: 6,
      median_queued_s: 30,
      median_duration_s: 1200,
    });
  });

  it('observes the window and what it found', async () => {
    const result = await analyse({ signals: [success('s-1', '08:50', { duration_s: 900 }), success('s-prev', '07:58', { run_id: PREVIOUS_RUN })] });
    expect(result.observations).toMatchObject({
      expected_by: '2026-11-27T09:00:00.000Z',
      detected_at: '2026-11-27T09:00:30.000Z',
      run_id: RUN,
      window: { since: '2026-11-27T03:00:00.000Z', until: '2026-11-27T09:00:30.000Z' },
      run_signals: 2,
      successes: 2,
      failures: [],
      upstream: { checked: ['lake.customers', 'lake.products'] },
    });
  });

  it('uses the detection time when expected_by is missing or invalid', async () => {
    const result = await analyse({ event: { expected_by: 'not a date' } });
    expect(result.observations['expected_by']).toBe('2026-11-27T09:00:30.000Z');
    expect(result.findings?.map((f) => f.messageId)).toContain('noDeadline');
    expect(result.verdict?.details).toMatchObject({ since: '2026-11-27T03:00:30.000Z' });
  });
});

describe('findLateUpstream', () => {
  const windowStart = t('03:00');
  const base: UpstreamLatenessInput = { upstream: ['lake.a', 'lake.b'], onboarded: ['lake.a', 'lake.b'], health: [], windowStart };
  const h = (table: string, status: TableHealthSnapshot['status'], last: string | null) => health(table, status, last);

  it.each<[string, Partial<UpstreamLatenessInput>, Partial<LateUpstream> | null]>([
    ['all healthy and fresh', { health: [h('lake.a', 'healthy', '08:00'), h('lake.b', 'healthy', '03:00')] }, null],
    ['no health known', {}, null],
    ['no upstreams', { upstream: [], health: [h('lake.a', 'unhealthy', null)] }, null],
    ['unhealthy', { health: [h('lake.a', 'healthy', '08:00'), h('lake.b', 'unhealthy', '08:00')] }, { status: 'unhealthy', table: 'lake.b', reason: 'unhealthy' }],
    ['degraded', { health: [h('lake.b', 'degraded', '08:00')] }, { status: 'late', table: 'lake.b', reason: 'degraded' }],
    ['stale, one millisecond before the window', { health: [h('lake.a', 'healthy', '2026-11-27T02:59:59.999Z')] }, { status: 'late', table: 'lake.a', reason: 'stale' }],
    ['never succeeded, onboarded', { health: [h('lake.a', 'unhealthy', null), h('lake.b', 'unknown', null)] }, { status: 'unhealthy', table: 'lake.a' }],
    ['never succeeded, onboarded, not failing', { health: [h('lake.b', 'unknown', null)] }, { status: 'late', table: 'lake.b', reason: 'never_succeeded', lastSuccessAt: null }],
    ['never succeeded, not onboarded', { onboarded: ['lake.a'], health: [h('lake.b', 'healthy', null)] }, null],
    ['unhealthy beats late', { health: [h('lake.a', 'degraded', '08:00'), h('lake.b', 'unhealthy', '08:00')] }, { status: 'unhealthy', table: 'lake.b' }],
    ['ties by name', { upstream: ['lake.b', 'lake.a'], health: [h('lake.b', 'degraded', '08:00'), h('lake.a', 'healthy', '01:00')] }, { status: 'late', table: 'lake.a', reason: 'stale' }],
    ['health of tables not upstream is ignored', { health: [h('lake.z', 'unhealthy', null)] }, null],
  ])('%s', (_name, input, expected) => {
    const result = findLateUpstream({ ...base, ...input });
    if (expected === null) expect(result).toBeNull();
    else expect(result).toMatchObject(expected);
  });

  it('lookback: twice the SLA, at least 6 h, 24 h without an SLA', () => {
    expect(lookbackMs({ schedule: '0 * * * *', complete_within_minutes: 60 })).toBe(6 * 3_600_000);
    expect(lookbackMs({ schedule: '0 2 * * *', complete_within_minutes: 240 })).toBe(8 * 3_600_000);
    expect(lookbackMs(null)).toBe(24 * 3_600_000);
    expect(lookbackMs(undefined)).toBe(24 * 3_600_000);
    expect(lookbackMs({ schedule: '0 * * * *', complete_within_minutes: 0 })).toBe(24 * 3_600_000);
  });
});
