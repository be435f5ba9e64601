import { describe, it, expect } from 'vitest';
import { memoryHistory } from './support/memoryHistory.ts';
import { testHelpers } from './support/analyserHelpers.ts';
import dqCompleteness, { isLakeAddedColumn } from '../src/diagnosers/analysers/dq-completeness.ts';
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
import { bucket, catalogView, failure, health, rca, RUN, success as anySuccess, t, UPSTREAMS_FINE, type Bucket } from './support/ordersFixtures.ts';

/** A successful load of this run (15 min). */
const success = (id: string, at: string) => anySuccess(id, at, { duration_s: 900 });


const PARTITION = 'dt=2026-11-27/hr=08';

/** A DQ failure detected at 09:05; `undefined` in overrides removes a field. */
function dqSignal(overrides: Record<string, unknown>): Signal {
  const payload: Record<string, unknown> = {
    id: 'dq-1',
    table: 'lake.orders',
    check: 'completeness.row_count',
    check_kind: 'completeness',
    partition: PARTITION,
    source_count: 120000,
    lake_count: 118250,
    strategy: 'cdc',
    severity: 'error',
    detected_at: '2026-11-27T09:05:00Z',
    producer: 'dq-platform',
    ...overrides,
  };
  for (const [k, v] of Object.entries(payload)) if (v === undefined) delete payload[k];
  const detected = t('09:05');
  return {
    id: 'sig-dq-1',
    kind: 'dq_failure',
    event: null,
    table: 'lake.orders',
    pipeline: {},
    exception: null,
    occurredAt: detected,
    receivedAt: detected,
    dedupeKey: 'dq-1',
    source: 'kafka',
    payload,
  };
}







interface Case {
  name: string;
  event: Record<string, unknown>;
  catalog?: CatalogView;
  signals?: HistoricSignal[];
  health?: TableHealthSnapshot[];
  category: Category | null;
  confidence?: Bucket;
  assigneeRole?: AssigneeRole;
  inherit?: Omit<Partial<InheritedDiagnosis>, 'assignee'> & { assignee?: Partial<InheritedDiagnosis['assignee']> };
  details?: Record<string, string | number>;
  /** Keys that must not be in details. */
  noDetails?: string[];
  summary?: string;
  rule?: string | null;
  finding?: string;
  observations?: Record<string, unknown>;
}

async function analyse(c: Pick<Case, 'event' | 'catalog' | 'signals' | 'health'>): Promise<AnalyserResult> {
  return dqCompleteness.analyse({
    signal: dqSignal(c.event),
    catalog: c.catalog ?? catalogView(),
    earlier: [],
    helpers: testHelpers({ history: memoryHistory(c.signals ?? [], c.health ?? UPSTREAMS_FINE) }),
  });
}

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
    for (const key of c.noDetails ?? []) expect(v!.details ?? {}, why).not.toHaveProperty(key);
    const template = dqCompleteness.meta.messages[v!.summary.messageId];
    expect(template, v!.summary.messageId).toBeDefined();
    const text = renderMessage(template!, v!.summary.data);
    expect(text).not.toMatch(/\{\w+\}/);
    if (c.summary) expect(text).toContain(c.summary);
  }
  if (c.rule !== undefined) expect(result.observations['rule'], why).toBe(c.rule);
  if (c.observations) expect(result.observations, why).toMatchObject(c.observations);
  for (const f of result.findings ?? []) {
    const template = dqCompleteness.meta.messages[f.messageId];
    expect(template, f.messageId).toBeDefined();
    expect(renderMessage(template!, f.data)).not.toMatch(/\{\w+\}/);
  }
  if (c.finding) expect((result.findings ?? []).map((f) => f.messageId), why).toContain(c.finding);
}

const SHORT = { source_count: 120000, lake_count: 118250 };

const INCOMPLETE_LOAD: Case[] = [
  {
    name: 'lake short after a successful load',
    event: {},
    signals: [success('s-1', '08:40')],
    category: 'incomplete_load',
    confidence: 'high',
    details: { partition: PARTITION, missing_rows: 1750, missing_pct: 1.46, strategy: 'cdc', source_count: 120000, lake_count: 118250 },
    summary: `The load of ${PARTITION} succeeded, but the lake has 118250 rows against 120000 at the source: 1750 rows (1.46 %) missing.`,
    rule: 'lake-short-after-success',
    finding: 'loadSucceeded',
  },
  {
    name: 'the newest load signal decides: a success after an earlier failure',
    event: { strategy: 'snapshot' },
    signals: [failure('f-1', '08:10', { rca: rca('rca-1', 'source_unavailable') }), success('s-1', '08:40')],
    category: 'incomplete_load',
    confidence: 'high',
    details: { strategy: 'snapshot', missing_rows: 1750 },
  },
  {
    name: 'no partition and no strategy named',
    event: { partition: undefined, strategy: undefined, source_count: 1000, lake_count: 1 },
    signals: [success('s-1', '08:40')],
    category: 'incomplete_load',
    confidence: 'high',
    details: { missing_rows: 999, missing_pct: 99.9 },
    noDetails: ['partition', 'strategy'],
    summary: 'The load of the checked data succeeded',
  },
  {
    name: 'no load signal at all: incomplete load, lower confidence',
    event: {},
    category: 'incomplete_load',
    confidence: 'medium',
    details: { partition: PARTITION, missing_rows: 1750, missing_pct: 1.46 },
    summary: 'no load signal was seen',
    rule: 'lake-short-no-load-signal',
    finding: 'noLoadSignal',
  },
  {
    name: 'a success older than 24 h is no load signal',
    event: {},
    signals: [success('s-old', '2026-11-26T09:04:00Z')],
    category: 'incomplete_load',
    confidence: 'medium',
    finding: 'noLoadSignal',
  },
  {
    name: 'a success after the check does not count',
    event: {},
    signals: [success('s-later', '09:30')],
    category: 'incomplete_load',
    confidence: 'medium',
  },
];

const LOAD_FAILED: Case[] = [
  {
    name: 'lake short and the newest load failed with an RCA: inherit it',
    event: {},
    signals: [
      success('s-0', '07:40'),
      failure('f-1', '08:20', {
        rca: rca('rca-1', 'source_unavailable'),
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
    details: { partition: PARTITION, missing_rows: 1750, failure_signal: 'f-1', rca_id: 'rca-1', run_id: RUN, task_id: 'load_orders', exception_type: 'psycopg2.OperationalError' },
    summary: 'The load failed before the check: source_unavailable — summary of rca-1',
    rule: 'lake-short-after-failure',
    finding: 'loadFailureInherited',
  },
  {
    name: 'a retry with an RCA is inherited too',
    event: {},
    signals: [failure('f-1', '08:20', { event: 'retry', rca: rca('rca-1', 'infra_transient', { assigneeRole: 'platform', assigneeTeam: 'data-platform' }) })],
    category: 'infra_transient',
    confidence: 'high',
    inherit: { rcaId: 'rca-1', assignee: { team: 'data-platform', role: 'platform' } },
  },
  {
    name: 'a non-default assignee role is carried over',
    event: {},
    signals: [failure('f-1', '08:20', { rca: rca('rca-1', 'resource_exhausted', { assigneeRole: 'platform', assigneeTeam: 'data-platform' }) })],
    category: 'resource_exhausted',
    confidence: 'high',
    assigneeRole: 'platform',
    inherit: { rcaId: 'rca-1' },
  },
];

const SOURCE_ZERO: Case[] = [
  {
    name: 'source 0, lake 0',
    event: { source_count: 0, lake_count: 0 },
    signals: [success('s-1', '08:40')],
    category: 'source_data_issue',
    confidence: 'high',
    assigneeRole: 'source_owner',
    details: { partition: PARTITION, source_count: 0, lake_count: 0 },
    summary: `The source reported 0 rows for ${PARTITION}: the source data is missing.`,
    rule: 'source-zero',
  },
  {
    name: 'source 0 but rows in the lake',
    event: { source_count: 0, lake_count: 15 },
    category: 'source_data_issue',
    confidence: 'high',
    assigneeRole: 'source_owner',
  },
  {
    name: 'source 0 even after a failed load',
    event: { source_count: 0, lake_count: 0, partition: undefined },
    signals: [failure('f-1', '08:20', { rca: rca('rca-1', 'source_unavailable') })],
    category: 'source_data_issue',
    confidence: 'high',
    assigneeRole: 'source_owner',
    summary: 'The source reported 0 rows for the checked data',
  },
];

const LAKE_OVER: Case[] = [
  {
    name: 'cdc: duplicates from replayed change events',
    event: { source_count: 1000, lake_count: 1100, strategy: 'cdc' },
    signals: [success('s-1', '08:40')],
    category: 'code_error',
    confidence: 'medium',
    details: { partition: PARTITION, extra_rows: 100, extra_pct: 10, strategy: 'cdc' },
    summary: 'duplicates from replayed change events',
    rule: 'lake-over',
  },
  {
    name: 'append: the partition was appended twice',
    event: { source_count: 1000, lake_count: 2000, strategy: 'append' },
    category: 'code_error',
    confidence: 'medium',
    details: { extra_rows: 1000, strategy: 'append' },
    summary: 'appended more than once',
  },
  {
    name: 'snapshot written without replacing the previous one',
    event: { source_count: 1000, lake_count: 1500, strategy: 'snapshot' },
    category: 'code_error',
    confidence: 'medium',
    summary: 'without replacing the previous one',
  },
  {
    name: 'no strategy',
    event: { source_count: 10, lake_count: 11, strategy: undefined },
    category: 'code_error',
    confidence: 'medium',
    noDetails: ['strategy'],
    summary: 'the load wrote duplicates',
  },
];

const NO_VERDICT: Case[] = [
  {
    name: 'equal counts',
    event: { source_count: 1000, lake_count: 1000 },
    signals: [success('s-1', '08:40')],
    category: null,
    rule: 'counts-agree',
    finding: 'countsAgree',
  },
  {
    name: 'equal counts after a failed load',
    event: { source_count: 5, lake_count: 5 },
    signals: [failure('f-1', '08:20', { rca: rca('rca-1', 'source_unavailable') })],
    category: null,
    rule: 'counts-agree',
  },
  {
    name: 'lake short, newest load failed without an RCA yet',
    event: {},
    signals: [success('s-0', '07:40'), failure('f-1', '08:20')],
    category: null,
    rule: 'lake-short-failure-undiagnosed',
    finding: 'loadUndiagnosed',
  },
  {
    name: 'source_count missing',
    event: { source_count: undefined },
    category: null,
    observations: { missing: ['source_count'] },
    finding: 'countsMissing',
  },
  {
    name: 'lake_count is a string',
    event: { lake_count: '118250' },
    category: null,
    observations: { missing: ['lake_count'], lake_count: '118250' },
  },
  {
    name: 'both counts missing',
    event: { source_count: undefined, lake_count: undefined },
    category: null,
    observations: { missing: ['source_count', 'lake_count'] },
  },
  {
    name: 'a negative count is no count',
    event: { source_count: -1, lake_count: 5 },
    category: null,
    observations: { missing: ['source_count'] },
  },
  {
    name: 'an unknown check kind',
    event: { check_kind: 'volume' },
    category: null,
    finding: 'unknownCheckKind',
  },
];

const VALUES: Case[] = [
  {
    name: 'nullness on a source column',
    event: { check: 'not_null.customer_id', check_kind: 'nullness', columns: ['customer_id'] },
    category: 'source_data_issue',
    confidence: 'medium',
    assigneeRole: 'source_owner',
    details: { check: 'not_null.customer_id', columns: 'customer_id', partition: PARTITION },
    summary: 'The nullness check not_null.customer_id failed on values the source produced (customer_id).',
    rule: 'source-values',
  },
  {
    name: 'uniqueness on a source key',
    event: { check: 'unique.order_id', check_kind: 'uniqueness', columns: ['order_id'] },
    category: 'source_data_issue',
    confidence: 'medium',
    assigneeRole: 'source_owner',
  },
  {
    name: 'custom check without columns',
    event: { check: 'custom.amount_positive', check_kind: 'custom' },
    category: 'source_data_issue',
    confidence: 'medium',
    assigneeRole: 'source_owner',
    noDetails: ['columns'],
    summary: 'columns not named',
  },
  {
    name: 'a lake column with a source column: still the source',
    event: { check_kind: 'uniqueness', columns: ['order_id', '_loaded_at'] },
    category: 'source_data_issue',
    confidence: 'medium',
    assigneeRole: 'source_owner',
  },
  {
    name: 'warn severity does not change the category',
    event: { check_kind: 'nullness', columns: ['email'], severity: 'warn' },
    category: 'source_data_issue',
    confidence: 'medium',
    assigneeRole: 'source_owner',
    observations: { severity: 'warn' },
  },
];

const LAKE_COLUMNS: Case[] = [
  {
    name: 'nullness on _loaded_at only',
    event: { check: 'not_null._loaded_at', check_kind: 'nullness', columns: ['_loaded_at'] },
    category: 'code_error',
    confidence: 'medium',
    assigneeRole: 'pipeline_owner',
    details: { columns: '_loaded_at', check: 'not_null._loaded_at' },
    summary: 'failed only on columns the pipeline adds (_loaded_at)',
    rule: 'lake-added-columns',
  },
  {
    name: 'uniqueness on etl_ and ingested_ columns',
    event: { check_kind: 'uniqueness', columns: ['etl_run_id', 'ingested_at'] },
    category: 'code_error',
    confidence: 'medium',
    assigneeRole: 'pipeline_owner',
  },
  {
    name: 'custom check on a qualified, quoted CDC column',
    event: { check_kind: 'custom', columns: ['o."_cdc_lsn"'], severity: 'warn' },
    category: 'code_error',
    confidence: 'medium',
    assigneeRole: 'pipeline_owner',
  },
];

const SCHEMA: Case[] = [
  {
    name: 'schema check with a column',
    event: { check: 'schema.columns', check_kind: 'schema', columns: ['customer_tier'] },
    category: 'source_schema_change',
    confidence: 'medium',
    details: { column: 'customer_tier', check: 'schema.columns' },
    summary: 'The schema check schema.columns failed: the source schema changed (customer_tier).',
    rule: 'schema',
  },
  {
    name: 'schema check without columns',
    event: { check: 'schema.types', check_kind: 'schema' },
    category: 'source_schema_change',
    confidence: 'medium',
    noDetails: ['column'],
  },
  {
    name: 'warn severity, after a successful load',
    event: { check_kind: 'schema', severity: 'warn' },
    signals: [success('s-1', '08:40')],
    category: 'source_schema_change',
    confidence: 'medium',
  },
];

const FRESH = { check: 'freshness.max_loaded_at', check_kind: 'freshness', source_count: undefined, lake_count: undefined };

const FRESHNESS: Case[] = [
  {
    name: 'an open load failure in the last 24 h is inherited',
    event: FRESH,
    signals: [success('s-0', '06:40'), failure('f-1', '08:20', { rca: rca('rca-1', 'source_replica_lag') })],
    health: [health('lake.customers', 'unhealthy', '05:00')],
    category: 'source_replica_lag',
    confidence: 'high',
    inherit: { rcaId: 'rca-1', incidentId: 'source_replica_lag:orders-db', assignee: { team: 'orders-dba' } },
    details: { failure_signal: 'f-1', partition: PARTITION },
    rule: 'freshness-load-failed',
  },
  {
    name: 'an acknowledged failure counts as open; a final failure beats a newer retry',
    event: FRESH,
    signals: [
      failure('f-final', '07:20', { rca: rca('rca-final', 'code_error', { status: 'acknowledged', assigneeRole: 'pipeline_owner', assigneeTeam: 'orders-eng' }) }),
      failure('f-retry', '08:20', { event: 'retry', rca: rca('rca-retry', 'infra_transient') }),
    ],
    category: 'code_error',
    confidence: 'high',
    inherit: { rcaId: 'rca-final', assignee: { team: 'orders-eng', role: 'pipeline_owner' } },
  },
  {
    name: 'a resolved failure is not inherited: the upstream is',
    event: FRESH,
    signals: [failure('f-1', '08:20', { rca: rca('rca-1', 'source_unavailable', { status: 'resolved' }) })],
    health: [health('lake.customers', 'unhealthy', '05:00'), health('lake.products', 'healthy', '08:45')],
    category: 'upstream_unhealthy',
    confidence: 'high',
    assigneeRole: 'upstream_owner',
    details: { upstream: 'lake.customers', upstream_reason: 'unhealthy' },
    summary: 'The data is stale because the upstream lake.customers is failing.',
    rule: 'freshness-upstream-unhealthy',
  },
  {
    name: 'a failure older than 24 h is not inherited',
    event: FRESH,
    signals: [failure('f-old', '2026-11-26T09:00:00Z', { rca: rca('rca-old', 'source_unavailable') })],
    health: [health('lake.customers', 'healthy', '08:30'), health('lake.products', 'degraded', '07:00')],
    category: 'upstream_late',
    confidence: 'high',
    assigneeRole: 'upstream_owner',
    details: { upstream: 'lake.products', upstream_reason: 'degraded' },
  },
  {
    name: 'an upstream whose last success predates the 6 h window is late',
    event: FRESH,
    health: [health('lake.customers', 'healthy', '03:00'), health('lake.products', 'healthy', '08:45')],
    category: 'upstream_late',
    confidence: 'high',
    assigneeRole: 'upstream_owner',
    details: { upstream: 'lake.customers', upstream_reason: 'stale' },
    summary: 'has not landed (last success: 2026-11-27T03:00:00.000Z)',
    observations: { window: { since: '2026-11-27T03:05:00.000Z', until: '2026-11-27T09:05:00.000Z' } },
  },
  {
    name: 'nothing explains it: no verdict',
    event: FRESH,
    signals: [failure('f-1', '08:20', { rca: null }), success('s-1', '08:40')],
    category: null,
    rule: null,
    finding: 'nothingStale',
  },
  {
    name: 'not in the catalog: no upstreams to check, no verdict',
    event: FRESH,
    catalog: catalogView(null),
    health: [health('lake.customers', 'unhealthy', '05:00')],
    category: null,
    observations: { upstream: null },
  },
];

describe('dq-completeness', () => {
  it('has the expected meta', () => {
    expect(dqCompleteness.meta).toMatchObject({ id: 'dq-completeness', version: '1', appliesTo: ['dq_failure'] });
  });

  const groups: Array<[string, Case[]]> = [
    ['completeness: incomplete load', INCOMPLETE_LOAD],
    ['completeness: the load failed, inherit', LOAD_FAILED],
    ['completeness: source reported 0 rows', SOURCE_ZERO],
    ['completeness: lake over source', LAKE_OVER],
    ['no verdict', NO_VERDICT],
    ['nullness / uniqueness / custom on source values', VALUES],
    ['checks on lake-added columns only', LAKE_COLUMNS],
    ['schema', SCHEMA],
    ['freshness', FRESHNESS],
  ];
  for (const [title, cases] of groups) {
    describe(title, () => {
      it('has at least three cases', () => expect(cases.length).toBeGreaterThanOrEqual(3));
      it.each(cases)('$name', async (c) => check(await analyse(c), c));
    });
  }

  it('is not thrown off by the short counts when the check is not completeness', async () => {
    const result = await analyse({ event: { ...SHORT, check_kind: 'nullness', columns: ['amount'] } });
    expect(result.verdict?.category).toBe('source_data_issue');
  });
});

describe('isLakeAddedColumn', () => {
  it.each([
    ['_loaded_at', true],
    ['_op', true],
    ['etl_run_id', true],
    ['ingested_at', true],
    ['INGESTED_AT', true],
    ['t._batch_id', true],
    ['"_cdc_lsn"', true],
    ['`etl_source_file`', true],
    ['customer_id', false],
    ['loaded_at', false],
    ['order_etl_flag', false],
    ['t.amount', false],
  ])('%s → %s', (column, expected) => expect(isLakeAddedColumn(column)).toBe(expected));
});
