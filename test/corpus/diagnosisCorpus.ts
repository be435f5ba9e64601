import type { AirflowCallback } from '../../src/signals/airflowSignal.ts';
import type { DqFailureEvent, SlaMissEvent } from '../../src/signals/kafkaEvents.ts';
import type { CatalogDocument } from '../../src/catalog/types.ts';
import type { HistoricSignal, TableHealthSnapshot } from '../../src/diagnosers/types.ts';
import type { AssigneeRole, Category } from '../../src/diagnosers/taxonomy.ts';

/**
 * A labelled corpus of realistic pipeline incidents, run end to end by
 * test/diagnosisAccuracy.test.ts. Each case is what Medic would receive (an Airflow callback,
 * an SLA-miss or a DQ-failure event), the catalog and what Medic already knew (earlier signals
 * with their RCAs, table health), and the conclusion a senior data engineer would reach: the
 * root-cause category and the team that must act.
 *
 * Labels are the engineer's conclusion, not the classifier's output: where the two disagree the
 * accuracy test reports it. Cases marked `hard` are ambiguous or need context the exception
 * text alone does not give; their description says why the label is what it is.
 *
 * The exception texts are the formats the drivers and frameworks really print (psycopg 2/3,
 * mysqlclient/PyMySQL, pyodbc, python-oracledb/cx_Oracle, PgJDBC, mssql-jdbc, Connector/J,
 * Spark, Hadoop S3A, botocore, google-api-core, snowflake-connector-python, dbt, Airflow,
 * Kubernetes); they deliberately differ from the unit cases in test/exception-classifier.test.ts.
 *
 * All times are UTC on 2026-11-27 unless written otherwise.
 */

export interface Expected {
  category: Category;
  /** The team the RCA must be assigned to (after catalog resolution). */
  assigneeTeam: string;
}

export interface CaseHistory {
  /** Earlier signals Medic holds, newest or oldest first (the history sorts them). */
  signals?: HistoricSignal[];
  /** Current health of tables as Medic's table_health holds it. */
  health?: TableHealthSnapshot[];
}

interface CaseBase {
  id: string;
  description: string;
  /** The catalog in force; DEFAULT_CATALOG when absent. */
  catalog?: CatalogDocument;
  history?: CaseHistory;
  expected: Expected;
  /** Ambiguous, or needs more than the exception text to get right. */
  hard?: boolean;
}

export type CorpusCase =
  | (CaseBase & { kind: 'airflow'; input: AirflowCallback })
  | (CaseBase & { kind: 'sla_miss'; input: SlaMissEvent })
  | (CaseBase & { kind: 'dq_failure'; input: DqFailureEvent });

// ---------------------------------------------------------------------------------------------
// The default catalog: a mid-sized lake with sources on five database engines, a Kafka topic,
// a vendor file drop, two warehouse extracts and two dbt marts.
// ---------------------------------------------------------------------------------------------

export const DEFAULT_CATALOG: CatalogDocument = {
  teams: [
    { name: 'orders-eng', slack: '#orders-eng' },
    { name: 'orders-dba', slack: '#orders-dba' },
    { name: 'crm-eng', slack: '#crm-eng' },
    { name: 'crm-dba', slack: '#crm-dba' },
    { name: 'payments-eng', slack: '#payments-eng' },
    { name: 'payments-dba', slack: '#payments-dba' },
    { name: 'finance-eng', slack: '#finance-eng' },
    { name: 'erp-dba', slack: '#erp-dba' },
    { name: 'logistics-eng', slack: '#logistics-eng' },
    { name: 'wms-dba', slack: '#wms-dba' },
    { name: 'growth-eng', slack: '#growth-eng' },
    { name: 'web-platform', slack: '#web-platform' },
    { name: 'marketing-analytics', slack: '#marketing-analytics' },
    { name: 'marketing-ops', slack: '#marketing-ops' },
    { name: 'sales-eng', slack: '#sales-eng' },
    { name: 'sales-ops', slack: '#sales-ops' },
    { name: 'catalog-eng', slack: '#catalog-eng' },
    { name: 'supplier-integrations', slack: '#supplier-integrations' },
    { name: 'analytics-eng', slack: '#analytics-eng' },
    { name: 'data-platform', slack: '#data-platform-oncall', platform: true },
  ],
  tables: [
    {
      name: 'lake.orders', owner: 'orders-eng', tier: 1,
      pipeline: { airflow: 'main', dag_id: 'orders_hourly', task_ids: ['load_orders'] },
      upstream: ['lake.customers'],
      source: { kind: 'postgres', name: 'orders-db', owner: 'orders-dba', max_replica_lag_s: 900 },
      sla: { schedule: '0 * * * *', complete_within_minutes: 60 },
    },
    {
      name: 'lake.customers', owner: 'crm-eng', tier: 1,
      pipeline: { airflow: 'main', dag_id: 'customers_daily', task_ids: ['extract_customers'] },
      source: { kind: 'mysql', name: 'crm-mysql', owner: 'crm-dba', max_replica_lag_s: 1800 },
      sla: { schedule: '0 3 * * *', complete_within_minutes: 180 },
    },
    {
      name: 'lake.payments', owner: 'payments-eng', tier: 1,
      pipeline: { airflow: 'main', dag_id: 'payments_hourly', task_ids: ['load_payments'] },
      source: { kind: 'postgres', name: 'payments-db-replica', owner: 'payments-dba', max_replica_lag_s: 600 },
      sla: { schedule: '15 * * * *', complete_within_minutes: 45 },
    },
    {
      name: 'lake.invoices', owner: 'finance-eng', tier: 1,
      pipeline: { airflow: 'main', dag_id: 'invoices_daily', task_ids: ['extract_invoices'] },
      source: { kind: 'oracle', name: 'erp-oracle', owner: 'erp-dba' },
      sla: { schedule: '0 4 * * *', complete_within_minutes: 120 },
    },
    {
      name: 'lake.shipments', owner: 'logistics-eng', tier: 2,
      pipeline: { airflow: 'main', dag_id: 'shipments_hourly', task_ids: ['load_shipments'] },
      source: { kind: 'sqlserver', name: 'wms-sqlserver', owner: 'wms-dba' },
      sla: { schedule: '30 * * * *', complete_within_minutes: 60 },
    },
    {
      name: 'lake.clickstream', owner: 'growth-eng', tier: 2,
      pipeline: { airflow: 'main', dag_id: 'clickstream_hourly', task_ids: ['spark_clickstream'] },
      source: { kind: 'kafka', name: 'clickstream-events', owner: 'web-platform' },
      sla: { schedule: '0 * * * *', complete_within_minutes: 90 },
    },
    {
      name: 'lake.ad_spend', owner: 'marketing-analytics', tier: 3,
      pipeline: { airflow: 'main', dag_id: 'ad_spend_daily', task_ids: ['extract_google_ads'] },
      source: { kind: 'bigquery', name: 'ads-bq', owner: 'marketing-ops' },
      sla: { schedule: '0 6 * * *', complete_within_minutes: 180 },
    },
    {
      name: 'lake.sf_accounts', owner: 'sales-eng', tier: 2,
      pipeline: { airflow: 'main', dag_id: 'sf_accounts_daily', task_ids: ['extract_accounts'] },
      source: { kind: 'snowflake', name: 'sales-snowflake', owner: 'sales-ops' },
      sla: { schedule: '0 5 * * *', complete_within_minutes: 120 },
    },
    {
      name: 'lake.products', owner: 'catalog-eng', tier: 2,
      pipeline: { airflow: 'main', dag_id: 'products_daily', task_ids: ['load_products'] },
      source: { kind: 's3', name: 'supplier-feeds', owner: 'supplier-integrations' },
      sla: { schedule: '0 2 * * *', complete_within_minutes: 90 },
    },
    {
      name: 'mart.daily_revenue', owner: 'analytics-eng', tier: 1,
      pipeline: { airflow: 'main', dag_id: 'revenue_daily', task_ids: ['wait_for_sources', 'dbt_run_revenue'] },
      upstream: ['lake.orders', 'lake.payments'],
      sla: { schedule: '0 7 * * *', complete_within_minutes: 120 },
    },
    {
      name: 'mart.customer_ltv', owner: 'analytics-eng', tier: 2,
      pipeline: { airflow: 'main', dag_id: 'customer_ltv_daily', task_ids: ['wait_for_customers', 'build_ltv'] },
      upstream: ['lake.customers', 'lake.orders'],
      sla: { schedule: '0 8 * * *', complete_within_minutes: 120 },
    },
  ],
};

/** A second catalog whose platform team has another name, for tables nobody onboarded. */
export const SMALL_CATALOG: CatalogDocument = {
  teams: [
    { name: 'lake-platform', slack: '#lake-platform', platform: true },
    { name: 'orders-eng' },
  ],
  tables: [
    { name: 'lake.orders', owner: 'orders-eng', pipeline: { dag_id: 'orders_hourly', task_ids: ['load_orders'] } },
  ],
};

// ---------------------------------------------------------------------------------------------
// What Medic's table_health holds in a normal day: every onboarded table healthy, its last
// success its latest normal landing. Cases override the tables their story is about.
// ---------------------------------------------------------------------------------------------

const MIN = 60_000;
const HOUR = 60 * MIN;
const DAY = 24 * HOUR;

/** When each table normally lands: hourly at :mm, or daily at hh:mm. */
const LANDINGS: Record<string, { every: 'hour' | 'day'; atMin: number }> = {
  'lake.orders': { every: 'hour', atMin: 7 },
  'lake.payments': { every: 'hour', atMin: 22 },
  'lake.shipments': { every: 'hour', atMin: 37 },
  'lake.clickstream': { every: 'hour', atMin: 31 },
  'lake.customers': { every: 'day', atMin: 3 * 60 + 20 },
  'lake.products': { every: 'day', atMin: 2 * 60 + 30 },
  'lake.invoices': { every: 'day', atMin: 4 * 60 + 55 },
  'lake.sf_accounts': { every: 'day', atMin: 5 * 60 + 10 },
  'lake.ad_spend': { every: 'day', atMin: 6 * 60 + 40 },
  'mart.daily_revenue': { every: 'day', atMin: 7 * 60 + 45 },
  'mart.customer_ltv': { every: 'day', atMin: 8 * 60 + 50 },
};

function lastLanding(table: string, at: Date): Date {
  const l = LANDINGS[table]!;
  const period = l.every === 'hour' ? HOUR : DAY;
  let t = Math.floor(at.getTime() / period) * period + l.atMin * MIN;
  if (t > at.getTime()) t -= period;
  return new Date(t);
}

/** Every onboarded table healthy as of `at`, except the snapshots given (which replace theirs). */
export function worldHealth(at: string, overrides: TableHealthSnapshot[] = []): TableHealthSnapshot[] {
  const when = new Date(at);
  const replaced = new Set(overrides.map((o) => o.table));
  const normal = Object.keys(LANDINGS)
    .filter((t) => !replaced.has(t))
    .map((table): TableHealthSnapshot => {
      const landed = lastLanding(table, when);
      return { table, status: 'healthy', since: landed, lastSuccessAt: landed };
    });
  return [...normal, ...overrides];
}

function health(table: string, status: TableHealthSnapshot['status'], since: string, lastSuccess: string | null): TableHealthSnapshot {
  return { table, status, since: new Date(since), lastSuccessAt: lastSuccess === null ? null : new Date(lastSuccess) };
}

// ---------------------------------------------------------------------------------------------
// Builders: an Airflow failure callback, SLA and DQ events, earlier signals with their RCAs.
// ---------------------------------------------------------------------------------------------

const T = (hhmmss: string, day = '2026-11-27') => `${day}T${hhmmss}Z`;
const runIdOf = (logical: string) => `scheduled__${logical.replace(/Z$/, '+00:00')}`;
const plus = (iso: string, seconds: number) => new Date(Date.parse(iso) + seconds * 1000).toISOString();

interface FailureSpec {
  dag: string;
  task: string;
  /** The table the task writes; omitted ⇒ the callback names none and the catalog maps dag/task. */
  table?: string;
  logical: string;
  start: string;
  durationS: number;
  /** null ⇒ the callback carries no exception. */
  exception: [type: string, message: string] | null;
  operator: string;
  event?: 'failure' | 'retry';
  tryNumber?: number;
  maxTries?: number;
  hostname?: string;
  queue?: string;
  pool?: string;
}

function failure(s: FailureSpec): AirflowCallback {
  const maxTries = s.maxTries ?? 3;
  return {
    event: s.event ?? 'failure',
    dag_id: s.dag,
    task_id: s.task,
    run_id: runIdOf(s.logical),
    map_index: -1,
    try_number: s.tryNumber ?? maxTries,
    max_tries: maxTries,
    logical_date: s.logical,
    start_date: s.start,
    end_date: plus(s.start, s.durationS),
    duration_s: s.durationS,
    exception: s.exception === null ? null : { type: s.exception[0], message: s.exception[1] },
    operator: s.operator,
    hostname: s.hostname ?? 'airflow-worker-3.airflow-worker.airflow.svc.cluster.local',
    queue: s.queue ?? 'default',
    pool: s.pool ?? 'default_pool',
    ...(s.table ? { tables: [s.table] } : {}),
    airflow: 'main',
  };
}

function slaMiss(e: Omit<SlaMissEvent, 'producer' | 'sla_kind'> & { sla_kind?: SlaMissEvent['sla_kind']; producer?: string }): SlaMissEvent {
  return { sla_kind: 'completion', producer: 'dq-platform', ...e };
}

function dq(e: Omit<DqFailureEvent, 'producer' | 'severity'> & { severity?: DqFailureEvent['severity']; producer?: string }): DqFailureEvent {
  return { severity: 'error', producer: 'great-expectations', ...e };
}

type Rca = NonNullable<HistoricSignal['rca']>;

function rca(id: string, category: Category, team: string, role: AssigneeRole, resource: string, summary: string, status = 'open'): Rca {
  return { id, category, status, summary, incidentId: `${category}:${resource}`, assigneeTeam: team, assigneeRole: role, assigneeReason: `${team} (${role}) from the catalog` };
}

interface RunSpec {
  id: string;
  table: string;
  dag: string;
  task: string;
  logical: string;
  start: string;
  durationS: number;
  event?: 'success' | 'failure' | 'retry';
  /** false ⇒ the payload has start/end dates but no duration_s (older callback versions). */
  withDuration?: boolean;
  exception?: [type: string, message: string];
  tryNumber?: number;
  rca?: Rca | null;
}

/** An earlier signal of a task run, as Medic stored it (payload = the callback body). */
function ran(r: RunSpec): HistoricSignal {
  const event = r.event ?? 'success';
  const end = plus(r.start, r.durationS);
  const payload: Record<string, unknown> = {
    event, dag_id: r.dag, task_id: r.task, run_id: runIdOf(r.logical), map_index: -1, try_number: r.tryNumber ?? 1,
    logical_date: r.logical, start_date: r.start, end_date: end, tables: [r.table], airflow: 'main',
  };
  if (r.withDuration !== false) payload.duration_s = r.durationS;
  if (r.exception) payload.exception = { type: r.exception[0], message: r.exception[1] };
  return {
    id: r.id,
    kind: event === 'success' ? 'success' : 'failure',
    event,
    table: r.table,
    occurredAt: new Date(end),
    pipeline: { airflow: 'main', dag_id: r.dag, task_id: r.task, run_id: runIdOf(r.logical), map_index: -1, try_number: r.tryNumber ?? 1 },
    payload,
    rca: r.rca ?? null,
  };
}

/**
 * Earlier successful runs of one task: `durations[i]` is the run `i + 1` periods before `logical`,
 * each started `startDelayS` after its interval ended.
 */
function earlierSuccesses(
  prefix: string, table: string, dag: string, task: string, logical: string,
  every: 'hour' | 'day', durations: number[], startDelayS = 30, withDuration = true,
): HistoricSignal[] {
  const period = every === 'hour' ? HOUR : DAY;
  return durations.map((d, i) => {
    const lg = new Date(Date.parse(logical) - (i + 1) * period).toISOString().replace('.000Z', 'Z');
    const start = plus(new Date(Date.parse(lg) + period).toISOString(), startDelayS);
    return ran({ id: `${prefix}-${i + 1}`, table, dag, task, logical: lg, start, durationS: d, withDuration });
  });
}

// ---------------------------------------------------------------------------------------------
// The cases.
// ---------------------------------------------------------------------------------------------

const ORDERS = { dag: 'orders_hourly', task: 'load_orders', table: 'lake.orders' } as const;
const CUSTOMERS = { dag: 'customers_daily', task: 'extract_customers', table: 'lake.customers' } as const;
const PAYMENTS = { dag: 'payments_hourly', task: 'load_payments', table: 'lake.payments' } as const;
const INVOICES = { dag: 'invoices_daily', task: 'extract_invoices', table: 'lake.invoices' } as const;
const SHIPMENTS = { dag: 'shipments_hourly', task: 'load_shipments', table: 'lake.shipments' } as const;
const CLICKS = { dag: 'clickstream_hourly', task: 'spark_clickstream', table: 'lake.clickstream' } as const;
const ADS = { dag: 'ad_spend_daily', task: 'extract_google_ads', table: 'lake.ad_spend' } as const;
const ACCOUNTS = { dag: 'sf_accounts_daily', task: 'extract_accounts', table: 'lake.sf_accounts' } as const;
const PRODUCTS = { dag: 'products_daily', task: 'load_products', table: 'lake.products' } as const;
const REVENUE = { dag: 'revenue_daily', task: 'dbt_run_revenue', table: 'mart.daily_revenue' } as const;
const LTV = { dag: 'customer_ltv_daily', task: 'build_ltv', table: 'mart.customer_ltv' } as const;

const SPARK_JOB_ABORTED = (stage: string, executor: number, host: string, cause: string) =>
  `Job aborted due to stage failure: Task 3 in stage ${stage} failed 4 times, most recent failure: Lost task 3.3 in stage ${stage} (TID 412) (${host} executor ${executor}): ${cause}`;

const RAW_CASES: CorpusCase[] = [
  // ======================================= source_unavailable ==================================
  {
    id: 'unavail-psycopg3-refused',
    description: 'psycopg 3 cannot reach the payments read replica: connection refused on 5432 (replica restarted by a failover drill).',
    kind: 'airflow',
    input: failure({ ...PAYMENTS, logical: T('07:15:00'), start: T('08:15:22'), durationS: 3.4, operator: 'PythonOperator',
      exception: ['psycopg.OperationalError', 'connection failed: connection to server at "10.40.2.17", port 5432 failed: Connection refused\n\tIs the server running on that host and accepting TCP/IP connections?'] }),
    expected: { category: 'source_unavailable', assigneeTeam: 'payments-dba' },
  },
  {
    id: 'unavail-mysqlclient-2003',
    description: 'mysqlclient (MySQLdb) cannot connect to the CRM read replica: errno 111.',
    kind: 'airflow',
    input: failure({ ...CUSTOMERS, logical: T('03:00:00', '2026-11-26'), start: T('03:00:41'), durationS: 10.2, operator: 'PythonOperator',
      exception: ['MySQLdb.OperationalError', `(2003, "Can't connect to MySQL server on 'crm-mysql-ro.prod.internal:3306' (111)")`] }),
    expected: { category: 'source_unavailable', assigneeTeam: 'crm-dba' },
  },
  {
    id: 'unavail-pyodbc-login-timeout',
    description: 'pyodbc with ODBC Driver 18: the SQL Server instance does not answer (TCP provider error, login timeout).',
    kind: 'airflow',
    input: failure({ ...SHIPMENTS, logical: T('07:30:00'), start: T('08:30:12'), durationS: 31.0, operator: 'PythonOperator',
      exception: ['pyodbc.OperationalError', "('HYT00', '[HYT00] [Microsoft][ODBC Driver 18 for SQL Server]Login timeout expired (0) (SQLDriverConnect); [HYT00] [Microsoft][ODBC Driver 18 for SQL Server]A network-related or instance-specific error has occurred while establishing a connection to SQL Server. Server is not found or not accessible. Check if instance name is correct and if SQL Server is configured to allow remote connections. For more information see SQL Server Books Online. (-1)')"] }),
    expected: { category: 'source_unavailable', assigneeTeam: 'wms-dba' },
  },
  {
    id: 'unavail-spark-mssql-jdbc-refused',
    description: 'A Spark JDBC read of the WMS database fails in the driver: mssql-jdbc reports the TCP/IP connection refused (wrapped in Py4JJavaError).',
    kind: 'airflow',
    input: failure({ ...SHIPMENTS, logical: T('06:30:00'), start: T('07:30:20'), durationS: 48.7, operator: 'SparkSubmitOperator',
      exception: ['py4j.protocol.Py4JJavaError', 'An error occurred while calling o87.load.\n: com.microsoft.sqlserver.jdbc.SQLServerException: The TCP/IP connection to the host wms-sql01.corp.internal, port 1433 has failed. Error: "Connection refused. Verify the connection properties. Make sure that an instance of SQL Server is running on the host and accepting TCP/IP connections at the port. Make sure that TCP connections to the port are not blocked by a firewall.".\n\tat com.microsoft.sqlserver.jdbc.SQLServerException.makeFromDriverError(SQLServerException.java:237)\n\tat com.microsoft.sqlserver.jdbc.SQLServerConnection.connectHelper(SQLServerConnection.java:3806)'] }),
    expected: { category: 'source_unavailable', assigneeTeam: 'wms-dba' },
  },
  {
    id: 'unavail-oracledb-thin-refused',
    description: 'python-oracledb in thin mode: DPY-6005, the ERP listener host refuses connections during its maintenance window.',
    kind: 'airflow',
    input: failure({ ...INVOICES, logical: T('04:00:00', '2026-11-26'), start: T('04:00:35'), durationS: 2.1, operator: 'PythonOperator',
      exception: ['oracledb.exceptions.OperationalError', 'DPY-6005: cannot connect to database (CONNECTION_ID=q3Hk8rVd2xZ9Qm1nF0aLtw==).\n[Errno 111] Connection refused'] }),
    expected: { category: 'source_unavailable', assigneeTeam: 'erp-dba' },
  },
  {
    id: 'unavail-pymysql-too-many-connections',
    description: 'PyMySQL 1040: the CRM replica is out of connection slots (a runaway app pool), so the extract cannot connect.',
    kind: 'airflow',
    input: failure({ ...CUSTOMERS, logical: T('03:00:00', '2026-11-26'), start: T('03:00:38'), durationS: 0.8, operator: 'PythonOperator',
      exception: ['pymysql.err.OperationalError', '(1040, \'Too many connections\')'] }),
    expected: { category: 'source_unavailable', assigneeTeam: 'crm-dba' },
  },
  {
    id: 'unavail-pgjdbc-unknown-host',
    description: 'PgJDBC in a Spark job cannot resolve the orders database host after a DNS record was removed during a migration.',
    kind: 'airflow',
    input: failure({ ...ORDERS, logical: T('07:00:00'), start: T('08:00:25'), durationS: 21.3, operator: 'SparkSubmitOperator',
      exception: ['org.postgresql.util.PSQLException', 'The connection attempt failed.\n\tat org.postgresql.core.v3.ConnectionFactoryImpl.openConnectionImpl(ConnectionFactoryImpl.java:354)\nCaused by: java.net.UnknownHostException: orders-db.prod.internal\n\tat java.base/sun.nio.ch.NioSocketImpl.connect(NioSocketImpl.java:567)'] }),
    expected: { category: 'source_unavailable', assigneeTeam: 'orders-dba' },
  },
  {
    id: 'unavail-snowflake-250001',
    description: 'snowflake-connector-python cannot reach the Snowflake account (250001 after its own retries): the source is unreachable.',
    kind: 'airflow',
    hard: true,
    input: failure({ ...ACCOUNTS, logical: T('05:00:00', '2026-11-26'), start: T('05:00:40'), durationS: 63.0, operator: 'SnowflakeSqlApiOperator',
      exception: ['snowflake.connector.errors.OperationalError', '250001: Could not connect to Snowflake backend after 2 attempt(s).Aborting'] }),
    expected: { category: 'source_unavailable', assigneeTeam: 'sales-ops' },
  },

  // ======================================= source_auth_failure =================================
  {
    id: 'auth-pyodbc-18456',
    description: 'SQL Server rejects the pipeline login (18456) after the service account password was rotated in AD but not in the Airflow connection.',
    kind: 'airflow',
    input: failure({ ...SHIPMENTS, logical: T('08:30:00'), start: T('09:30:14'), durationS: 1.2, operator: 'PythonOperator',
      exception: ['pyodbc.InterfaceError', "('28000', \"[28000] [Microsoft][ODBC Driver 18 for SQL Server][SQL Server]Login failed for user 'svc_lake_etl'. (18456) (SQLDriverConnect)\")"] }),
    expected: { category: 'source_auth_failure', assigneeTeam: 'logistics-eng' },
  },
  {
    id: 'auth-pgjdbc-password',
    description: 'A Spark JDBC extract of payments: PgJDBC reports password authentication failed for the ingest role.',
    kind: 'airflow',
    input: failure({ ...PAYMENTS, logical: T('08:15:00'), start: T('09:15:31'), durationS: 18.9, operator: 'SparkSubmitOperator',
      exception: ['org.postgresql.util.PSQLException', 'FATAL: password authentication failed for user "lake_ingest"\n\tat org.postgresql.core.v3.ConnectionFactoryImpl.doAuthentication(ConnectionFactoryImpl.java:693)'] }),
    expected: { category: 'source_auth_failure', assigneeTeam: 'payments-eng' },
  },
  {
    id: 'auth-oracle-account-locked',
    description: 'cx_Oracle: ORA-28000, the ETL account is locked after repeated failed logins.',
    kind: 'airflow',
    input: failure({ ...INVOICES, logical: T('04:00:00', '2026-11-26'), start: T('04:00:28'), durationS: 0.9, operator: 'PythonOperator',
      exception: ['cx_Oracle.DatabaseError', 'ORA-28000: The account is locked.'] }),
    expected: { category: 'source_auth_failure', assigneeTeam: 'finance-eng' },
  },
  {
    id: 'auth-snowflake-bad-password',
    description: 'Snowflake rejects the service user: incorrect username or password (250001 / 08001).',
    kind: 'airflow',
    input: failure({ ...ACCOUNTS, logical: T('05:00:00', '2026-11-26'), start: T('05:00:33'), durationS: 2.7, operator: 'PythonOperator',
      exception: ['snowflake.connector.errors.DatabaseError', '250001 (08001): None: Failed to connect to DB: xy12345.eu-west-1.snowflakecomputing.com:443. Incorrect username or password was specified.'] }),
    expected: { category: 'source_auth_failure', assigneeTeam: 'sales-eng' },
  },
  {
    id: 'auth-mysql-1142-select-denied',
    description: 'MySQL 1142: the extract user lost SELECT on a table after a grants clean-up on the CRM database.',
    kind: 'airflow',
    input: failure({ ...CUSTOMERS, logical: T('03:00:00', '2026-11-26'), start: T('03:00:44'), durationS: 4.4, operator: 'PythonOperator',
      exception: ['MySQLdb.OperationalError', `(1142, "SELECT command denied to user 'etl_reader'@'10.12.4.7' for table 'loyalty_points'")`] }),
    expected: { category: 'source_auth_failure', assigneeTeam: 'crm-eng' },
  },
  {
    id: 'auth-bigquery-403-read',
    description: 'google-cloud-bigquery: 403 Access Denied querying the Google Ads export dataset (the service account lost roles/bigquery.dataViewer). A read from the source, not a write to the lake.',
    kind: 'airflow',
    hard: true,
    input: failure({ ...ADS, logical: T('06:00:00', '2026-11-26'), start: T('06:00:52'), durationS: 5.5, operator: 'BigQueryInsertJobOperator',
      exception: ['google.api_core.exceptions.Forbidden', '403 Access Denied: Table acme-ads-prod:google_ads_export.p_ads_CampaignBasicStats_1234567890: User does not have permission to query table acme-ads-prod:google_ads_export.p_ads_CampaignBasicStats_1234567890, or perhaps it does not exist.; reason: accessDenied, message: Access Denied: Table acme-ads-prod:google_ads_export.p_ads_CampaignBasicStats_1234567890: User does not have permission to query table'] }),
    expected: { category: 'source_auth_failure', assigneeTeam: 'marketing-analytics' },
  },

  // ======================================= source_schema_change ================================
  {
    id: 'schema-psycopg3-undefined-column',
    description: 'psycopg 3: the orders service dropped coupon_code from public.orders in its last release.',
    kind: 'airflow',
    input: failure({ ...ORDERS, logical: T('06:00:00'), start: T('07:00:19'), durationS: 2.3, operator: 'PythonOperator',
      exception: ['psycopg.errors.UndefinedColumn', 'column "coupon_code" does not exist\nLINE 1: SELECT id, customer_id, coupon_code, total_cents, updated_at FROM p...\n                                 ^'] }),
    expected: { category: 'source_schema_change', assigneeTeam: 'orders-eng' },
  },
  {
    id: 'schema-pyodbc-invalid-column',
    description: 'SQL Server 207 through pyodbc: carrier_code was renamed at the WMS source.',
    kind: 'airflow',
    input: failure({ ...SHIPMENTS, logical: T('05:30:00'), start: T('06:30:11'), durationS: 1.9, operator: 'PythonOperator',
      exception: ['pyodbc.ProgrammingError', "('42S22', \"[42S22] [Microsoft][ODBC Driver 18 for SQL Server][SQL Server]Invalid column name 'carrier_code'. (207) (SQLExecDirectW)\")"] }),
    expected: { category: 'source_schema_change', assigneeTeam: 'logistics-eng' },
  },
  {
    id: 'schema-snowflake-invalid-identifier',
    description: 'Snowflake 000904: ACCOUNT_TIER no longer exists in the sales share.',
    kind: 'airflow',
    input: failure({ ...ACCOUNTS, logical: T('05:00:00', '2026-11-26'), start: T('05:00:36'), durationS: 3.1, operator: 'PythonOperator',
      exception: ['snowflake.connector.errors.ProgrammingError', "000904 (42000): 01b8c2d1-0003-4b2e-0000-0a1d0002f07e: SQL compilation error: error line 1 at position 41\ninvalid identifier 'ACCOUNT_TIER'"] }),
    expected: { category: 'source_schema_change', assigneeTeam: 'sales-eng' },
  },
  {
    id: 'schema-connectorj-unknown-column',
    description: 'Spark JDBC read of the CRM MySQL database via Connector/J: Unknown column loyalty_tier (moved to another table by the CRM team).',
    kind: 'airflow',
    input: failure({ ...CUSTOMERS, logical: T('03:00:00', '2026-11-26'), start: T('03:00:29'), durationS: 37.6, operator: 'SparkSubmitOperator',
      exception: ['java.sql.SQLSyntaxErrorException', "Unknown column 'loyalty_tier' in 'field list'\n\tat com.mysql.cj.jdbc.exceptions.SQLError.createSQLException(SQLError.java:121)\n\tat com.mysql.cj.jdbc.ClientPreparedStatement.executeInternal(ClientPreparedStatement.java:916)"] }),
    expected: { category: 'source_schema_change', assigneeTeam: 'crm-eng' },
  },
  {
    id: 'schema-pyodbc-invalid-object',
    description: 'SQL Server 208: dbo.ShipmentEvents was moved to the events schema at the source.',
    kind: 'airflow',
    input: failure({ ...SHIPMENTS, logical: T('04:30:00'), start: T('05:30:09'), durationS: 1.1, operator: 'PythonOperator',
      exception: ['pyodbc.ProgrammingError', "('42S02', \"[42S02] [Microsoft][ODBC Driver 18 for SQL Server][SQL Server]Invalid object name 'dbo.ShipmentEvents'. (208) (SQLExecDirectW)\")"] }),
    expected: { category: 'source_schema_change', assigneeTeam: 'logistics-eng' },
  },
  {
    id: 'schema-parquet-type-change',
    description: 'The supplier changed price from DECIMAL(10,2) to DOUBLE in its Parquet drop; Spark cannot read the new files with the table schema. A source schema change with no "column does not exist" wording.',
    kind: 'airflow',
    hard: true,
    input: failure({ ...PRODUCTS, logical: T('02:00:00', '2026-11-26'), start: T('02:00:31'), durationS: 211.0, operator: 'SparkSubmitOperator',
      exception: ['org.apache.spark.SparkException', SPARK_JOB_ABORTED('4.0', 2, '10.0.5.31', 'org.apache.spark.sql.execution.QueryExecutionException: Parquet column cannot be converted in file s3a://supplier-feeds/acme-supply/products/dt=2026-11-27/part-00000-5e0c.snappy.parquet. Column: [price], Expected: decimal(10,2), Found: DOUBLE')] }),
    expected: { category: 'source_schema_change', assigneeTeam: 'catalog-eng' },
  },
  {
    id: 'schema-pandas-not-in-index',
    description: 'The extract is SELECT * from the CRM table; selecting the expected columns fails because discount_pct is gone from the source. A KeyError, but the cause is the source schema, not a bug (the pipeline owner acts either way).',
    kind: 'airflow',
    hard: true,
    input: failure({ ...CUSTOMERS, logical: T('03:00:00', '2026-11-26'), start: T('03:00:35'), durationS: 54.0, operator: 'PythonOperator',
      exception: ['KeyError', `"['discount_pct'] not in index"`] }),
    expected: { category: 'source_schema_change', assigneeTeam: 'crm-eng' },
  },

  // ======================================= source_data_issue ===================================
  {
    id: 'data-copy-invalid-date',
    description: 'COPY of the supplier CSV into staging fails on valid_from "31/11/2026": an impossible date in the vendor file.',
    kind: 'airflow',
    input: failure({ ...PRODUCTS, logical: T('02:00:00', '2026-11-26'), start: T('02:00:27'), durationS: 14.6, operator: 'PythonOperator',
      exception: ['psycopg2.errors.DatetimeFieldOverflow', 'date/time field value out of range: "31/11/2026"\nHINT:  Perhaps you need a different "datestyle" setting.\nCONTEXT:  COPY stg_products, line 1842, column valid_from: "31/11/2026"\n'] }),
    expected: { category: 'source_data_issue', assigneeTeam: 'supplier-integrations' },
  },
  {
    id: 'data-spark35-malformed-record',
    description: 'Spark 3.5 FAILFAST CSV read of the supplier drop: a record with an unbalanced quote.',
    kind: 'airflow',
    input: failure({ ...PRODUCTS, logical: T('02:00:00', '2026-11-25'), start: T('02:00:30', '2026-11-26'), durationS: 96.0, operator: 'SparkSubmitOperator',
      exception: ['org.apache.spark.SparkException', SPARK_JOB_ABORTED('1.0', 1, '10.0.5.12', 'org.apache.spark.SparkException: [MALFORMED_RECORD_IN_PARSING.WITHOUT_SUGGESTION] Malformed records are detected in record parsing: [null,null,null,null].\nParse Mode: FAILFAST. To process malformed records as null result, try setting the option \'mode\' as \'PERMISSIVE\'.')] }),
    expected: { category: 'source_data_issue', assigneeTeam: 'supplier-integrations' },
  },
  {
    id: 'data-kafka-magic-byte',
    description: 'The clickstream consumer hits a record that is not Confluent-Avro (a producer shipped JSON to the Avro topic): poison data from the source.',
    kind: 'airflow',
    hard: true,
    input: failure({ ...CLICKS, logical: T('06:00:00'), start: T('07:00:33'), durationS: 402.0, operator: 'PythonOperator',
      exception: ['confluent_kafka.error.ValueDeserializationError', 'KafkaError{code=_VALUE_DESERIALIZATION,val=-159,str="Unexpected magic byte 123. This is not Confluent-framed data for topic clickstream-events partition 7 offset 918273645"}'] }),
    expected: { category: 'source_data_issue', assigneeTeam: 'web-platform' },
  },
  {
    id: 'data-valueerror-na-price',
    description: 'pandas cast of the vendor price column fails on "N/A": the vendor broke the file contract. A ValueError, which the classifier deliberately leaves alone; the message shows a data value.',
    kind: 'airflow',
    hard: true,
    input: failure({ ...PRODUCTS, logical: T('02:00:00', '2026-11-24'), start: T('02:00:29', '2026-11-25'), durationS: 33.0, operator: 'PythonOperator',
      exception: ['ValueError', "could not convert string to float: 'N/A'"] }),
    expected: { category: 'source_data_issue', assigneeTeam: 'supplier-integrations' },
  },

  // ======================================= source_replica_lag ==================================
  {
    id: 'lag-psycopg3-lock-conflict',
    description: 'psycopg 3 on the payments hot standby: the extract is cancelled by a recovery conflict (relation lock held by WAL replay).',
    kind: 'airflow',
    input: failure({ ...PAYMENTS, logical: T('05:15:00'), start: T('06:15:18'), durationS: 612.0, operator: 'PythonOperator',
      exception: ['psycopg.errors.QueryCanceled', 'canceling statement due to conflict with recovery\nDETAIL:  User was holding a relation lock for too long.'] }),
    expected: { category: 'source_replica_lag', assigneeTeam: 'payments-dba' },
  },
  {
    id: 'lag-spark-pgjdbc-recovery-conflict',
    description: 'A Spark JDBC read of orders from the replica; the stage fails because PgJDBC got a recovery conflict (wrapped in Job aborted).',
    kind: 'airflow',
    input: failure({ ...ORDERS, logical: T('05:00:00'), start: T('06:00:27'), durationS: 1480.0, operator: 'SparkSubmitOperator',
      exception: ['org.apache.spark.SparkException', SPARK_JOB_ABORTED('2.0', 4, '10.0.4.21', 'org.postgresql.util.PSQLException: ERROR: canceling statement due to conflict with recovery\n  Detail: User query might have needed to see row versions that must be removed.\n\tat org.postgresql.core.v3.QueryExecutorImpl.receiveErrorResponse(QueryExecutorImpl.java:2713)')] }),
    expected: { category: 'source_replica_lag', assigneeTeam: 'orders-dba' },
  },
  {
    id: 'lag-mysql-guard-check',
    description: 'The DAG\'s own guard refuses to extract a partial day from the CRM replica: Seconds_Behind_Source above the threshold.',
    kind: 'airflow',
    input: failure({ ...CUSTOMERS, logical: T('03:00:00', '2026-11-26'), start: T('03:00:31'), durationS: 0.4, operator: 'PythonOperator',
      exception: ['airflow.exceptions.AirflowFailException', 'crm-mysql-ro is 2212 s behind its primary (Seconds_Behind_Source=2212 > max_replica_lag_s=1800); refusing to extract a partial day'] }),
    expected: { category: 'source_replica_lag', assigneeTeam: 'crm-dba' },
  },

  // ======================================= upstream_unhealthy ==================================
  {
    id: 'upstream-external-dag-failed',
    description: 'The revenue mart\'s ExternalTaskSensor (providers-standard) sees payments_hourly fail; lake.payments is unhealthy in Medic.',
    kind: 'airflow',
    input: failure({ dag: 'revenue_daily', task: 'wait_for_sources', table: 'mart.daily_revenue', logical: T('07:00:00', '2026-11-26'), start: T('07:00:12'), durationS: 1830.0, operator: 'ExternalTaskSensor', tryNumber: 1, maxTries: 1,
      exception: ['airflow.providers.standard.exceptions.ExternalDagFailedError', 'The external DAG payments_hourly failed.'] }),
    history: { health: [health('lake.payments', 'unhealthy', T('06:24:10'), T('05:22:40'))] },
    expected: { category: 'upstream_unhealthy', assigneeTeam: 'payments-eng' },
  },
  {
    id: 'upstream-external-task-group-failed',
    description: 'Airflow 2 ExternalTaskSensor on the orders DAG\'s load task group, which failed; lake.orders is unhealthy.',
    kind: 'airflow',
    input: failure({ dag: 'revenue_daily', task: 'wait_for_sources', table: 'mart.daily_revenue', logical: T('07:00:00', '2026-11-25'), start: T('07:00:09', '2026-11-26'), durationS: 905.0, operator: 'ExternalTaskSensor', tryNumber: 1, maxTries: 1,
      exception: ['airflow.exceptions.AirflowException', "The external task_group 'load' in DAG 'orders_hourly' failed."] }),
    history: { health: [health('lake.orders', 'unhealthy', T('06:09:00', '2026-11-26'), T('05:07:00', '2026-11-26'))] },
    expected: { category: 'upstream_unhealthy', assigneeTeam: 'orders-eng' },
  },
  {
    id: 'upstream-sla-unhealthy',
    description: 'The LTV mart misses its deadline; lake.customers has been failing since 03:14 (its RCA is a CRM KeyError). No run of the mart reported.',
    kind: 'sla_miss',
    input: slaMiss({ id: 'sla-ltv-20261127', table: 'mart.customer_ltv', expected_by: T('10:00:00'), detected_at: T('10:00:45'), dag_id: 'customer_ltv_daily', run_id: runIdOf(T('08:00:00', '2026-11-26')), last_success_at: T('08:51:10', '2026-11-26') }),
    history: { health: [health('lake.customers', 'unhealthy', T('03:14:00'), T('03:19:30', '2026-11-26'))] },
    expected: { category: 'upstream_unhealthy', assigneeTeam: 'crm-eng' },
  },
  {
    id: 'upstream-dq-freshness-unhealthy',
    description: 'Freshness check on the revenue mart fails; lake.payments is unhealthy and the mart has no failure of its own.',
    kind: 'dq_failure',
    input: dq({ id: 'dq-rev-fresh-20261127', table: 'mart.daily_revenue', check: 'freshness.max_order_ts', check_kind: 'freshness', partition: 'dt=2026-11-26', detected_at: T('09:30:00') }),
    history: { health: [health('lake.payments', 'unhealthy', T('06:24:10'), T('05:22:40'))] },
    expected: { category: 'upstream_unhealthy', assigneeTeam: 'payments-eng' },
  },

  {
    id: 'upstream-sensor-failed-states-upstream-failed',
    description: 'Airflow 2 ExternalTaskSensor with failed_states=["failed", "upstream_failed"]: the customers extract is upstream_failed; lake.customers is unhealthy.',
    kind: 'airflow',
    input: failure({ dag: 'customer_ltv_daily', task: 'wait_for_customers', table: 'mart.customer_ltv', logical: T('08:00:00', '2026-11-26'), start: T('08:00:14'), durationS: 62.0, operator: 'ExternalTaskSensor', tryNumber: 1, maxTries: 1,
      exception: ['airflow.exceptions.AirflowException', "Some of the external tasks ['extract_customers'] in DAG customers_daily failed."] }),
    history: { health: [health('lake.customers', 'unhealthy', T('03:41:00'), T('03:20:10', '2026-11-26'))] },
    expected: { category: 'upstream_unhealthy', assigneeTeam: 'crm-eng' },
  },

  // ======================================= upstream_late =======================================
  {
    id: 'late-sensor-single-upstream',
    description: 'lake.orders waits for the daily customers snapshot with an ExternalTaskSensor that times out; lake.customers is degraded (its own SLA missed).',
    kind: 'airflow',
    input: failure({ dag: 'orders_hourly', task: 'load_orders', table: 'lake.orders', logical: T('03:00:00'), start: T('04:00:05'), durationS: 3600.4, operator: 'ExternalTaskSensor', tryNumber: 1, maxTries: 1,
      exception: ['airflow.exceptions.AirflowSensorTimeout', 'Sensor has timed out; run duration of 3600.41 seconds exceeds the specified timeout of 3600.0.'] }),
    history: { health: [health('lake.customers', 'degraded', T('03:00:20'), T('03:21:02', '2026-11-26'))] },
    expected: { category: 'upstream_late', assigneeTeam: 'crm-eng' },
  },
  {
    id: 'late-sensor-two-upstreams',
    description: 'The revenue mart\'s sensor (reschedule mode) times out; the message names no DAG. Of its two upstreams, lake.payments is degraded (late), lake.orders healthy: payments is the one to chase.',
    kind: 'airflow',
    hard: true,
    input: failure({ dag: 'revenue_daily', task: 'wait_for_sources', table: 'mart.daily_revenue', logical: T('07:00:00', '2026-11-26'), start: T('07:00:10'), durationS: 7200.9, operator: 'ExternalTaskSensor', tryNumber: 1, maxTries: 1,
      exception: ['airflow.exceptions.AirflowSensorTimeout', 'Sensor has timed out; run duration of 7200.92 seconds exceeds the specified timeout of 7200.0.'] }),
    history: { health: [health('lake.payments', 'degraded', T('06:00:30'), T('04:21:55'))] },
    expected: { category: 'upstream_late', assigneeTeam: 'payments-eng' },
  },
  {
    id: 'late-sla-upstream-degraded',
    description: 'The revenue mart misses 09:00; lake.payments is degraded (SLA missed at 08:15), lake.orders fine. No run of the mart reported yet.',
    kind: 'sla_miss',
    input: slaMiss({ id: 'sla-rev-20261127', table: 'mart.daily_revenue', expected_by: T('09:00:00'), detected_at: T('09:01:00'), dag_id: 'revenue_daily', run_id: runIdOf(T('07:00:00', '2026-11-26')), last_success_at: T('07:44:00', '2026-11-26') }),
    history: { health: [health('lake.payments', 'degraded', T('08:15:30'), T('06:58:12'))] },
    expected: { category: 'upstream_late', assigneeTeam: 'payments-eng' },
  },
  {
    id: 'late-sla-upstream-paused',
    description: 'The LTV mart misses 10:00; customers_daily was paused during a migration yesterday, so lake.customers last landed 31 h ago without any failure (health still "healthy").',
    kind: 'sla_miss',
    input: slaMiss({ id: 'sla-ltv-20261127-b', table: 'mart.customer_ltv', expected_by: T('10:00:00'), detected_at: T('10:00:40'), dag_id: 'customer_ltv_daily', last_success_at: T('08:50:00', '2026-11-26') }),
    history: { health: [health('lake.customers', 'healthy', T('03:18:00', '2026-11-26'), T('03:18:00', '2026-11-26'))] },
    expected: { category: 'upstream_late', assigneeTeam: 'crm-eng' },
  },
  {
    id: 'late-dq-freshness-degraded',
    description: 'Freshness check on the LTV mart: lake.customers is degraded (late), the mart itself has no failure.',
    kind: 'dq_failure',
    input: dq({ id: 'dq-ltv-fresh-20261127', table: 'mart.customer_ltv', check: 'freshness.customers_max_updated_at', check_kind: 'freshness', severity: 'warn', detected_at: T('06:10:00') }),
    history: { health: [health('lake.customers', 'degraded', T('06:00:20'), T('03:20:40', '2026-11-26'))] },
    expected: { category: 'upstream_late', assigneeTeam: 'crm-eng' },
  },

  // ======================================= infra_transient =====================================
  {
    id: 'infra-zombie-airflow2-callback',
    description: 'Airflow 2.10 zombie callback (the Celery worker pod was OOM-killed by a neighbour and the heartbeat stopped).',
    kind: 'airflow',
    input: failure({ ...CLICKS, logical: T('05:00:00'), start: T('06:00:31'), durationS: 1244.0, operator: 'SparkSubmitOperator', tryNumber: 1, maxTries: 2, event: 'retry',
      exception: ['airflow.exceptions.AirflowException', "Detected zombie job: {'full_filepath': '/opt/airflow/dags/clickstream_hourly.py', 'processor_subdir': '/opt/airflow/dags', 'msg': \"{'DAG Id': 'clickstream_hourly', 'Task Id': 'spark_clickstream', 'Run Id': 'scheduled__2026-11-27T05:00:00+00:00', 'Hostname': 'airflow-worker-2.airflow-worker.airflow.svc.cluster.local', 'External Executor Id': '1b7f4c2e-93ad-4d8e-9a53-0c6d2b8f1e47'}\", 'simple_task_instance': <airflow.models.taskinstance.SimpleTaskInstance object at 0x7f3a2c1e5d90>, 'is_failure_callback': True}"] }),
    expected: { category: 'infra_transient', assigneeTeam: 'data-platform' },
  },
  {
    id: 'infra-pod-evicted-disk-pressure',
    description: 'KubernetesPodOperator: the pod was evicted because its node had DiskPressure (another pod filled the node\'s disk).',
    kind: 'airflow',
    input: failure({ ...INVOICES, logical: T('04:00:00', '2026-11-26'), start: T('04:00:31'), durationS: 822.0, operator: 'KubernetesPodOperator',
      exception: ['airflow.exceptions.AirflowException', "Pod extract-invoices-x8k2d9 returned a failure.\nremote_pod: {'api_version': 'v1', 'kind': 'Pod', 'metadata': {'name': 'extract-invoices-x8k2d9', 'namespace': 'airflow-jobs'}, 'status': {'phase': 'Failed', 'reason': 'Evicted', 'message': 'Pod was rejected: The node had condition: [DiskPressure]. '}}"] }),
    expected: { category: 'infra_transient', assigneeTeam: 'data-platform' },
  },
  {
    id: 'infra-spark-executor-heartbeat',
    description: 'A Spark executor stops heart-beating (node network blip); Spark gives up after 4 task failures.',
    kind: 'airflow',
    input: failure({ ...CLICKS, logical: T('02:00:00'), start: T('03:00:28'), durationS: 2210.0, operator: 'SparkSubmitOperator',
      exception: ['org.apache.spark.SparkException', SPARK_JOB_ABORTED('9.0', 12, '10.0.6.44', 'ExecutorLostFailure (executor 12 exited unrelated to the running tasks) Reason: Executor heartbeat timed out after 163544 ms')] }),
    expected: { category: 'infra_transient', assigneeTeam: 'data-platform' },
  },
  {
    id: 'infra-shuffle-fetch-failed',
    description: 'FetchFailedException: the external shuffle service on a lost node refuses connections. "Connection refused" here is an internal Spark node, not the source.',
    kind: 'airflow',
    hard: true,
    input: failure({ ...CLICKS, logical: T('01:00:00'), start: T('02:00:30'), durationS: 1870.0, operator: 'SparkSubmitOperator',
      exception: ['org.apache.spark.SparkException', 'Job aborted due to stage failure: ResultStage 14 (parquet at NativeMethodAccessorImpl.java:0) has failed the maximum allowable number of times: 4. Most recent failure reason:\norg.apache.spark.shuffle.FetchFailedException: Failed to connect to ip-10-0-7-12.ec2.internal/10.0.7.12:7337\n\tat org.apache.spark.errors.SparkCoreErrors$.fetchFailedError(SparkCoreErrors.scala:437)\nCaused by: io.netty.channel.AbstractChannel$AnnotatedConnectException: Connection refused: ip-10-0-7-12.ec2.internal/10.0.7.12:7337\nCaused by: java.net.ConnectException: Connection refused'] }),
    expected: { category: 'infra_transient', assigneeTeam: 'data-platform' },
  },
  {
    id: 'infra-schema-registry-refused',
    description: 'The Avro decode step cannot reach the internal Schema Registry (platform-run) during its rolling restart; the source Kafka topic is fine.',
    kind: 'airflow',
    hard: true,
    input: failure({ ...CLICKS, logical: T('04:00:00'), start: T('05:00:30'), durationS: 12.0, operator: 'PythonOperator', event: 'retry', tryNumber: 1, maxTries: 2,
      exception: ['requests.exceptions.ConnectionError', "HTTPSConnectionPool(host='schema-registry.platform.svc.cluster.local', port=8081): Max retries exceeded with url: /subjects/clickstream-events-value/versions/latest (Caused by NewConnectionError('<urllib3.connection.HTTPSConnection object at 0x7f0c1b2d4e50>: Failed to establish a new connection: [Errno 111] Connection refused'))"] }),
    expected: { category: 'infra_transient', assigneeTeam: 'data-platform' },
  },
  {
    id: 'infra-gke-node-shutdown',
    description: 'The task pod ran on a spot node that was reclaimed: Kubernetes terminated it for the node shutdown.',
    kind: 'airflow',
    hard: true,
    input: failure({ ...ADS, logical: T('06:00:00', '2026-11-26'), start: T('06:00:40'), durationS: 1511.0, operator: 'KubernetesPodOperator', event: 'retry', tryNumber: 1, maxTries: 3,
      exception: ['airflow.exceptions.AirflowException', "Pod extract-google-ads-7hq2mz returned a failure.\nremote_pod: {'status': {'phase': 'Failed', 'reason': 'Terminated', 'message': 'Pod was terminated in response to imminent node shutdown.'}}"] }),
    expected: { category: 'infra_transient', assigneeTeam: 'data-platform' },
  },
  {
    id: 'infra-sigterm-worker-rollout',
    description: 'Airflow 2 LocalTaskJob: the worker was restarted by a Helm rollout mid-task and the task got SIGTERM.',
    kind: 'airflow',
    input: failure({ ...SHIPMENTS, logical: T('03:30:00'), start: T('04:30:15'), durationS: 140.0, operator: 'PythonOperator', event: 'retry', tryNumber: 1, maxTries: 3,
      exception: ['airflow.exceptions.AirflowException', 'Task received SIGTERM signal'] }),
    expected: { category: 'infra_transient', assigneeTeam: 'data-platform' },
  },

  // ======================================= resource_exhausted ==================================
  {
    id: 'oom-yarn-exit-137',
    description: 'Spark on YARN: an executor container killed with exit code 137 (the NodeManager enforced the memory limit) while sorting a skewed partition.',
    kind: 'airflow',
    input: failure({ ...CLICKS, logical: T('00:00:00'), start: T('01:00:29'), durationS: 2760.0, operator: 'SparkSubmitOperator',
      exception: ['org.apache.spark.SparkException', SPARK_JOB_ABORTED('11.0', 7, 'ip-10-0-2-9.ec2.internal', 'ExecutorLostFailure (executor 7 exited caused by one of the running tasks) Reason: Container from a bad node: container_1732665600000_0311_01_000009 on host: ip-10-0-2-9.ec2.internal. Exit status: 137. Diagnostics: [2026-11-27 01:46:12.081]Container killed on request. Exit code is 137\n[2026-11-27 01:46:12.081]Container exited with a non-zero exit code 137. \n[2026-11-27 01:46:12.082]Killed by external signal\n.')] }),
    expected: { category: 'resource_exhausted', assigneeTeam: 'growth-eng' },
  },
  {
    id: 'oom-spark-unable-to-acquire',
    description: 'SparkOutOfMemoryError in a sort-merge join of orders with order lines (execution memory exhausted).',
    kind: 'airflow',
    input: failure({ ...ORDERS, logical: T('04:00:00'), start: T('05:00:22'), durationS: 1920.0, operator: 'SparkSubmitOperator',
      exception: ['org.apache.spark.SparkException', SPARK_JOB_ABORTED('6.0', 3, '10.0.3.17', 'org.apache.spark.memory.SparkOutOfMemoryError: Unable to acquire 65536 bytes of memory, got 0\n\tat org.apache.spark.memory.MemoryConsumer.throwOom(MemoryConsumer.java:157)')] }),
    expected: { category: 'resource_exhausted', assigneeTeam: 'orders-eng' },
  },
  {
    id: 'oom-spark-max-result-size',
    description: 'A collect() of the day\'s sessions to the driver exceeds spark.driver.maxResultSize: driver memory is the limit (raise it or stop collecting).',
    kind: 'airflow',
    hard: true,
    input: failure({ ...CLICKS, logical: T('03:00:00'), start: T('04:00:30'), durationS: 1380.0, operator: 'SparkSubmitOperator',
      exception: ['py4j.protocol.Py4JJavaError', 'An error occurred while calling o412.collectToPython.\n: org.apache.spark.SparkException: Job aborted due to stage failure: Total size of serialized results of 2113 tasks (4.0 GiB) is bigger than spark.driver.maxResultSize (4.0 GiB)\n\tat org.apache.spark.scheduler.DAGScheduler.failJobAndIndependentStages(DAGScheduler.scala:2785)'] }),
    expected: { category: 'resource_exhausted', assigneeTeam: 'growth-eng' },
  },
  {
    id: 'oom-numpy-array-memory',
    description: 'numpy cannot allocate 11.2 GiB while pandas concatenates a year of ad stats in one frame.',
    kind: 'airflow',
    hard: true,
    input: failure({ ...ADS, logical: T('06:00:00', '2026-11-25'), start: T('06:00:44', '2026-11-26'), durationS: 905.0, operator: 'PythonOperator',
      exception: ['numpy.core._exceptions._ArrayMemoryError', 'Unable to allocate 11.2 GiB for an array with shape (1503238553,) and data type int64'] }),
    expected: { category: 'resource_exhausted', assigneeTeam: 'marketing-analytics' },
  },
  {
    id: 'disk-spark-shuffle-no-space',
    description: 'Spark shuffle spill fills the executor\'s local disk (spark.local.dir on a small EBS volume).',
    kind: 'airflow',
    input: failure({ ...CLICKS, logical: T('23:00:00', '2026-11-26'), start: T('00:00:31'), durationS: 3010.0, operator: 'SparkSubmitOperator',
      exception: ['org.apache.spark.SparkException', SPARK_JOB_ABORTED('5.0', 9, '10.0.2.40', 'java.io.IOException: No space left on device\n\tat java.base/java.io.FileOutputStream.writeBytes(Native Method)\n\tat org.apache.spark.storage.DiskBlockObjectWriter.commitAndGet(DiskBlockObjectWriter.scala:184)')] }),
    expected: { category: 'resource_exhausted', assigneeTeam: 'growth-eng' },
  },
  {
    id: 'quota-k8s-namespace',
    description: 'KubernetesPodOperator cannot create the pod: the airflow-jobs namespace ResourceQuota for memory is exhausted. Only the platform can raise it.',
    kind: 'airflow',
    input: failure({ ...INVOICES, logical: T('04:00:00', '2026-11-25'), start: T('04:00:33', '2026-11-26'), durationS: 1.4, operator: 'KubernetesPodOperator',
      exception: ['kubernetes.client.exceptions.ApiException', '(403)\nReason: Forbidden\nHTTP response headers: HTTPHeaderDict({\'Audit-Id\': \'2c1b7f9e-0d5a-4f3e-9b8a-71e6c0d4a2f1\', \'Content-Type\': \'application/json\'})\nHTTP response body: {"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":"pods \\"extract-invoices-p2k9x\\" is forbidden: exceeded quota: airflow-jobs-quota, requested: limits.memory=16Gi, used: limits.memory=120Gi, limited: limits.memory=128Gi","reason":"Forbidden","details":{"name":"extract-invoices-p2k9x","kind":"pods"},"code":403}\n'] }),
    expected: { category: 'resource_exhausted', assigneeTeam: 'data-platform' },
  },

  // ======================================= sink_write_failure ==================================
  {
    id: 'sink-s3a-access-denied',
    description: 'Spark S3A commit to the lake bucket is denied after the bucket policy was tightened (AccessDeniedException on PUT).',
    kind: 'airflow',
    input: failure({ ...ORDERS, logical: T('02:00:00'), start: T('03:00:24'), durationS: 845.0, operator: 'SparkSubmitOperator',
      exception: ['java.nio.file.AccessDeniedException', 's3a://acme-lake-prod/lake/orders/dt=2026-11-27/hr=02/part-00000-9b1f.c000.snappy.parquet: PUT 0-byte object  on lake/orders/dt=2026-11-27/hr=02/part-00000-9b1f.c000.snappy.parquet: com.amazonaws.services.s3.model.AmazonS3Exception: Access Denied (Service: Amazon S3; Status Code: 403; Error Code: AccessDenied; Request ID: 8X2K4M9QZ1; S3 Extended Request ID: Zx0+fQ=; Proxy: null), S3 Extended Request ID: Zx0+fQ=:AccessDenied'] }),
    expected: { category: 'sink_write_failure', assigneeTeam: 'data-platform' },
  },
  {
    id: 'sink-glue-partition-denied',
    description: 'boto3 Glue BatchCreatePartition is not authorised for the worker role (IAM change in the platform account).',
    kind: 'airflow',
    input: failure({ ...SHIPMENTS, logical: T('02:30:00'), start: T('03:30:18'), durationS: 95.0, operator: 'PythonOperator',
      exception: ['botocore.exceptions.ClientError', 'An error occurred (AccessDeniedException) when calling the BatchCreatePartition operation: User: arn:aws:sts::123456789012:assumed-role/airflow-worker/i-0a1b2c3d4e5f is not authorized to perform: glue:BatchCreatePartition on resource: arn:aws:glue:eu-west-1:123456789012:table/lake/shipments because no identity-based policy allows the glue:BatchCreatePartition action'] }),
    expected: { category: 'sink_write_failure', assigneeTeam: 'data-platform' },
  },
  {
    id: 'sink-gcs-objects-create-403',
    description: 'Writing the ad-spend Parquet to the GCS landing bucket: the service account lacks storage.objects.create.',
    kind: 'airflow',
    input: failure({ ...ADS, logical: T('06:00:00', '2026-11-24'), start: T('06:00:38', '2026-11-25'), durationS: 402.0, operator: 'PythonOperator',
      exception: ['google.api_core.exceptions.Forbidden', '403 POST https://storage.googleapis.com/upload/storage/v1/b/acme-lake-landing/o?uploadType=multipart: {\n  "error": {\n    "code": 403,\n    "message": "svc-etl@acme-data.iam.gserviceaccount.com does not have storage.objects.create access to the Google Cloud Storage object. Permission \'storage.objects.create\' denied on resource (or it may not exist).",\n    "errors": [{"message": "...", "domain": "global", "reason": "forbidden"}]\n  }\n}\n: (\'Request failed with status code\', 403, \'Expected one of\', <HTTPStatus.OK: 200>)'] }),
    expected: { category: 'sink_write_failure', assigneeTeam: 'data-platform' },
  },
  {
    id: 'sink-gcs-mutation-rate-429',
    description: 'GCS 429 on the same object rewritten once per micro-batch (_SUCCESS marker): the lake storage throttles writes.',
    kind: 'airflow',
    hard: true,
    input: failure({ ...ADS, logical: T('06:00:00', '2026-11-23'), start: T('06:00:35', '2026-11-24'), durationS: 611.0, operator: 'PythonOperator',
      exception: ['google.api_core.exceptions.TooManyRequests', '429 PUT https://storage.googleapis.com/upload/storage/v1/b/acme-lake-landing/o?uploadType=resumable&upload_id=ADPycdt: {\n  "error": {\n    "code": 429,\n    "message": "The object acme-lake-landing/ad_spend/dt=2026-11-23/_SUCCESS exceeded the rate limit for object mutation operations (create, update, and delete). Please reduce your request rate. See https://cloud.google.com/storage/docs/gcs429."\n  }\n}'] }),
    expected: { category: 'sink_write_failure', assigneeTeam: 'data-platform' },
  },
  {
    id: 'sink-boto3-upload-slowdown',
    description: 'boto3 upload_file to the lake bucket gets 503 SlowDown after its retries (a hot prefix).',
    kind: 'airflow',
    input: failure({ ...SHIPMENTS, logical: T('01:30:00'), start: T('02:30:20'), durationS: 188.0, operator: 'PythonOperator', event: 'retry', tryNumber: 1, maxTries: 3,
      exception: ['boto3.exceptions.S3UploadFailedError', 'Failed to upload /tmp/tmpq1w2e3r4/shipments.parquet to acme-lake-prod/lake/shipments/dt=2026-11-27/hr=01/part-0000.parquet: An error occurred (SlowDown) when calling the PutObject operation (reached max retries: 4): Please reduce your request rate.'] }),
    expected: { category: 'sink_write_failure', assigneeTeam: 'data-platform' },
  },

  // ======================================= code_error ==========================================
  {
    id: 'code-typeerror-decimal-float',
    description: 'A transform adds a float tax rate to Decimal amounts read from PostgreSQL numeric columns.',
    kind: 'airflow',
    input: failure({ ...ORDERS, logical: T('01:00:00'), start: T('02:00:19'), durationS: 41.0, operator: 'PythonOperator',
      exception: ['TypeError', "unsupported operand type(s) for +: 'decimal.Decimal' and 'float'"] }),
    expected: { category: 'code_error', assigneeTeam: 'orders-eng' },
  },
  {
    id: 'code-airflow3-context-execution-date',
    description: 'After the Airflow 3 upgrade the callable still reads context["execution_date"], which no longer exists.',
    kind: 'airflow',
    input: failure({ ...INVOICES, logical: T('04:00:00', '2026-11-24'), start: T('04:00:30', '2026-11-25'), durationS: 0.6, operator: 'PythonOperator',
      exception: ['KeyError', "'execution_date'"] }),
    expected: { category: 'code_error', assigneeTeam: 'finance-eng' },
  },
  {
    id: 'code-dbt-compilation-missing-ref',
    description: 'astronomer-cosmos runs dbt: Compilation Error, the model refs stg_refunds which was renamed in the same PR.',
    kind: 'airflow',
    input: failure({ ...REVENUE, logical: T('07:00:00', '2026-11-25'), start: T('07:31:02', '2026-11-26'), durationS: 38.0, operator: 'DbtRunLocalOperator',
      exception: ['airflow.exceptions.AirflowException', "('dbt command failed. The command returned a non-zero exit code 2. Details: ', 'Compilation Error in model fct_daily_revenue (models/marts/finance/fct_daily_revenue.sql)\\n  Model \\'model.analytics.fct_daily_revenue\\' (models/marts/finance/fct_daily_revenue.sql) depends on a node named \\'stg_refunds\\' which was not found')"] }),
    expected: { category: 'code_error', assigneeTeam: 'analytics-eng' },
  },
  {
    id: 'code-snowflake-sql-syntax',
    description: 'Snowflake 001003: a trailing comma before FROM in the extract query deployed this morning.',
    kind: 'airflow',
    input: failure({ ...ACCOUNTS, logical: T('05:00:00', '2026-11-25'), start: T('05:00:34', '2026-11-26'), durationS: 1.8, operator: 'SnowflakeOperator',
      exception: ['snowflake.connector.errors.ProgrammingError', "001003 (42000): 01b8c2d2-0003-4b2e-0000-0a1d0002f1a4: SQL compilation error:\nsyntax error line 7 at position 0 unexpected 'FROM'."] }),
    expected: { category: 'code_error', assigneeTeam: 'sales-eng' },
  },
  {
    id: 'code-spark-unresolved-typo',
    description: 'UNRESOLVED_COLUMN on `sesion_id` with `session_id` suggested: a typo in the job\'s own select, on a DataFrame the job built. The source did not change.',
    kind: 'airflow',
    hard: true,
    input: failure({ ...CLICKS, logical: T('22:00:00', '2026-11-26'), start: T('23:00:31', '2026-11-26'), durationS: 64.0, operator: 'SparkSubmitOperator',
      exception: ['pyspark.errors.exceptions.captured.AnalysisException', "[UNRESOLVED_COLUMN.WITH_SUGGESTION] A column or function parameter with name `sesion_id` cannot be resolved. Did you mean one of the following? [`session_id`, `event_id`, `user_id`, `event_ts`, `page_type`].;\n'Aggregate ['sesion_id], ['sesion_id, count(1) AS events#812L]\n+- Project [event_id#801, session_id#802, user_id#803, event_ts#804, page_type#805]\n"] }),
    expected: { category: 'code_error', assigneeTeam: 'growth-eng' },
  },
  {
    id: 'code-kpo-image-tag-missing',
    description: 'KubernetesPodOperator cannot pull the image tag named in the DAG (2.14.0 was never pushed): a deployment mistake in the pipeline, not a transient platform issue.',
    kind: 'airflow',
    hard: true,
    input: failure({ ...SHIPMENTS, logical: T('00:30:00'), start: T('01:30:12'), durationS: 125.0, operator: 'KubernetesPodOperator',
      exception: ['airflow.providers.cncf.kubernetes.utils.pod_manager.PodLaunchFailedException', 'Pod docker image cannot be pulled, unable to start: ErrImagePull\nrpc error: code = NotFound desc = failed to pull and unpack image "registry.acme.internal/etl/shipments-loader:2.14.0": failed to resolve reference "registry.acme.internal/etl/shipments-loader:2.14.0": registry.acme.internal/etl/shipments-loader:2.14.0: not found'] }),
    expected: { category: 'code_error', assigneeTeam: 'logistics-eng' },
  },

  // ======================================= runtime_regression (failures) =======================
  {
    id: 'runtime-execution-timeout',
    description: 'The invoices extract (usually 20 min) hits its 2 h execution_timeout after the ERP added a year of history to the view.',
    kind: 'airflow',
    input: failure({ ...INVOICES, logical: T('04:00:00', '2026-11-23'), start: T('04:00:29', '2026-11-24'), durationS: 7200.6, operator: 'PythonOperator',
      exception: ['airflow.exceptions.AirflowTaskTimeout', 'Timeout, PID: 18234'] }),
    expected: { category: 'runtime_regression', assigneeTeam: 'finance-eng' },
  },
  {
    id: 'runtime-pg-statement-timeout',
    description: 'The orders extract exceeds the source role\'s statement_timeout (a plan change made it 10x slower).',
    kind: 'airflow',
    hard: true,
    input: failure({ ...ORDERS, logical: T('00:00:00'), start: T('01:00:21'), durationS: 1801.2, operator: 'PythonOperator',
      exception: ['psycopg2.errors.QueryCanceled', 'canceling statement due to statement timeout\n'] }),
    expected: { category: 'runtime_regression', assigneeTeam: 'orders-eng' },
  },
  {
    id: 'runtime-snowflake-warehouse-timeout',
    description: 'Snowflake cancels the accounts extract at the warehouse\'s STATEMENT_TIMEOUT_IN_SECONDS (usually 6 min, now > 1 h).',
    kind: 'airflow',
    hard: true,
    input: failure({ ...ACCOUNTS, logical: T('05:00:00', '2026-11-24'), start: T('05:00:31', '2026-11-25'), durationS: 3602.0, operator: 'SnowflakeOperator',
      exception: ['snowflake.connector.errors.ProgrammingError', '000630 (57014): 01b8c2d3-0003-4b2e-0000-0a1d0002f2b7: Statement reached its statement or warehouse timeout of 3,600 second(s) and was canceled.'] }),
    expected: { category: 'runtime_regression', assigneeTeam: 'sales-eng' },
  },

  {
    id: 'runtime-dagrun-timeout-sigterm',
    description: 'dagrun_timeout (3 h) expired and the scheduler killed the still-running extract: SIGTERM after 10 790 s, against ~55 min for every earlier success Medic holds. The run took too long; the SIGTERM is the symptom, not a platform fault.',
    kind: 'airflow',
    hard: true,
    input: failure({ ...INVOICES, logical: T('04:00:00', '2026-11-26'), start: T('04:00:31'), durationS: 10790.0, operator: 'PythonOperator', tryNumber: 1, maxTries: 1,
      exception: ['airflow.exceptions.AirflowException', 'Task received SIGTERM signal'] }),
    history: { signals: earlierSuccesses('s-inv-t', 'lake.invoices', 'invoices_daily', 'extract_invoices', T('04:00:00', '2026-11-26'), 'day', [3310, 3260, 3400, 3280, 3350, 3330], 30) },
    expected: { category: 'runtime_regression', assigneeTeam: 'finance-eng' },
  },

  // ======================================= unknown (failures) ==================================
  {
    id: 'unknown-no-exception',
    description: 'A failure callback with no exception at all (the task was marked failed by hand in the UI).',
    kind: 'airflow',
    input: failure({ ...PAYMENTS, logical: T('02:15:00'), start: T('03:15:20'), durationS: 377.0, operator: 'PythonOperator', exception: null }),
    expected: { category: 'unknown', assigneeTeam: 'data-platform' },
  },
  {
    id: 'unknown-bash-exit-1',
    description: 'BashOperator: the script exited 1. Nothing in the callback says why.',
    kind: 'airflow',
    input: failure({ ...PRODUCTS, logical: T('02:00:00', '2026-11-22'), start: T('02:00:33', '2026-11-23'), durationS: 12.0, operator: 'BashOperator',
      exception: ['airflow.exceptions.AirflowException', 'Bash command failed. The command returned a non-zero exit code 1.'] }),
    expected: { category: 'unknown', assigneeTeam: 'data-platform' },
  },
  {
    id: 'unknown-spark-submit-exit-1',
    description: 'The spark-submit wrapper only reports a non-zero exit; the driver log holds the cause.',
    kind: 'airflow',
    input: failure({ ...SHIPMENTS, logical: T('23:30:00', '2026-11-26'), start: T('00:30:14'), durationS: 96.0, operator: 'BashOperator',
      exception: ['subprocess.CalledProcessError', "Command '['/opt/spark/bin/spark-submit', '--master', 'k8s://https://kubernetes.default.svc', '--deploy-mode', 'cluster', 's3a://acme-artifacts/jobs/shipments_load.py']' returned non-zero exit status 1."] }),
    expected: { category: 'unknown', assigneeTeam: 'data-platform' },
  },
  {
    id: 'unknown-bare-assertion',
    description: 'A bare assert in the transform (no message): could be a data check or a bug.',
    kind: 'airflow',
    input: failure({ ...ACCOUNTS, logical: T('05:00:00', '2026-11-23'), start: T('05:00:30', '2026-11-24'), durationS: 88.0, operator: 'PythonOperator',
      exception: ['AssertionError', ''] }),
    expected: { category: 'unknown', assigneeTeam: 'data-platform' },
  },

  // ======================================= tables outside the catalog ==========================
  {
    id: 'uncatalogued-pipeline-refused',
    description: 'A pipeline nobody onboarded (no tables in the callback, no catalog mapping) cannot reach its PostgreSQL source: source_unavailable, routed to the platform team of this catalog (lake-platform).',
    kind: 'airflow',
    catalog: SMALL_CATALOG,
    input: failure({ dag: 'growth_experiments_hourly', task: 'load_assignments', logical: T('06:00:00'), start: T('07:00:18'), durationS: 2.0, operator: 'PythonOperator',
      exception: ['psycopg2.OperationalError', 'connection to server at "experiments-db.prod.internal" (10.60.1.8), port 5432 failed: Connection refused\n\tIs the server running on that host and accepting TCP/IP connections?\n'] }),
    expected: { category: 'source_unavailable', assigneeTeam: 'lake-platform' },
  },
  {
    id: 'catalog-mapped-oom-no-tables',
    description: 'The callback names no tables; the catalog maps orders_hourly/load_orders to lake.orders. The pod was OOMKilled.',
    kind: 'airflow',
    catalog: SMALL_CATALOG,
    input: failure({ dag: 'orders_hourly', task: 'load_orders', logical: T('06:00:00'), start: T('07:00:22'), durationS: 388.0, operator: 'KubernetesPodOperator',
      exception: ['airflow.exceptions.AirflowException', "Pod load-orders-9z8y7x returned a failure.\nremote_pod: {'status': {'phase': 'Failed', 'container_statuses': [{'name': 'base', 'state': {'terminated': {'exit_code': 137, 'reason': 'OOMKilled', 'finished_at': '2026-11-27T07:06:50+00:00'}}}]}}"] }),
    expected: { category: 'resource_exhausted', assigneeTeam: 'orders-eng' },
  },

  // ======================================= SLA misses whose run failed =========================
  {
    id: 'sla-inherits-source-unavailable',
    description: 'lake.orders misses 10:00; its 08:00 run failed at 09:07 because orders-db refused connections (RCA open, retries in progress). The miss takes that diagnosis.',
    kind: 'sla_miss',
    input: slaMiss({ id: 'sla-orders-20261127T08', table: 'lake.orders', expected_by: T('10:00:00'), detected_at: T('10:00:30'), dag_id: 'orders_hourly', run_id: runIdOf(T('08:00:00')), last_success_at: T('08:07:40') }),
    history: { signals: [
      ran({ id: 'f-orders-0800', ...ORDERS, logical: T('08:00:00'), start: T('09:00:20'), durationS: 412, event: 'failure', tryNumber: 3,
        exception: ['psycopg2.OperationalError', 'could not connect to server: Connection refused'],
        rca: rca('rca-orders-0800', 'source_unavailable', 'orders-dba', 'source_owner', 'orders-db', 'The source orders-db refused the connection', 'resolving') }),
    ] },
    expected: { category: 'source_unavailable', assigneeTeam: 'orders-dba' },
  },
  {
    id: 'sla-inherits-oom-after-retries',
    description: 'lake.clickstream misses 10:30; the 08:00 run OOMed on both tries (retry, then final failure). The miss takes the final failure\'s diagnosis.',
    kind: 'sla_miss',
    input: slaMiss({ id: 'sla-clicks-20261127T08', table: 'lake.clickstream', expected_by: T('10:30:00'), detected_at: T('10:30:20'), dag_id: 'clickstream_hourly', run_id: runIdOf(T('08:00:00')), last_success_at: T('08:31:00') }),
    history: { signals: [
      ran({ id: 'r-clicks-0800-1', ...CLICKS, logical: T('08:00:00'), start: T('09:00:30'), durationS: 2460, event: 'retry', tryNumber: 1,
        exception: ['org.apache.spark.SparkException', 'Container killed by YARN for exceeding physical memory limits. 18.2 GB of 18 GB physical memory used.'],
        rca: rca('rca-clicks-0800-1', 'resource_exhausted', 'growth-eng', 'pipeline_owner', 'lake.clickstream', 'The container was killed for exceeding its memory limit') }),
      ran({ id: 'f-clicks-0800-2', ...CLICKS, logical: T('08:00:00'), start: T('09:45:00'), durationS: 2280, event: 'failure', tryNumber: 2,
        exception: ['org.apache.spark.SparkException', 'Container killed by YARN for exceeding physical memory limits. 18.4 GB of 18 GB physical memory used.'],
        rca: rca('rca-clicks-0800-2', 'resource_exhausted', 'growth-eng', 'pipeline_owner', 'lake.clickstream', 'The container was killed for exceeding its memory limit') }),
    ] },
    expected: { category: 'resource_exhausted', assigneeTeam: 'growth-eng' },
  },
  {
    id: 'sla-inherits-code-error',
    description: 'The revenue mart misses 09:00 because its dbt run failed at 07:48 on a compilation error (RCA code_error, analytics-eng). Upstreams are healthy.',
    kind: 'sla_miss',
    input: slaMiss({ id: 'sla-rev-20261127-b', table: 'mart.daily_revenue', expected_by: T('09:00:00'), detected_at: T('09:00:40'), dag_id: 'revenue_daily', run_id: runIdOf(T('07:00:00', '2026-11-26')) }),
    history: { signals: [
      ran({ id: 'f-rev-1126', ...REVENUE, logical: T('07:00:00', '2026-11-26'), start: T('07:47:20'), durationS: 40, event: 'failure', tryNumber: 1,
        exception: ['airflow.exceptions.AirflowException', 'dbt command failed. Compilation Error in model fct_daily_revenue'],
        rca: rca('rca-rev-1126', 'code_error', 'analytics-eng', 'pipeline_owner', 'mart.daily_revenue', 'A bug in the dbt project') }),
    ] },
    expected: { category: 'code_error', assigneeTeam: 'analytics-eng' },
  },
  {
    id: 'sla-inherits-sink-failure',
    description: 'lake.shipments misses 10:30; the 08:30 run failed at 09:52 writing to S3 (AccessDenied, RCA sink_write_failure on the platform team).',
    kind: 'sla_miss',
    input: slaMiss({ id: 'sla-ship-20261127T0830', table: 'lake.shipments', expected_by: T('10:30:00'), detected_at: T('10:30:15'), dag_id: 'shipments_hourly', run_id: runIdOf(T('08:30:00')), last_success_at: T('08:37:00') }),
    history: { signals: [
      ran({ id: 'f-ship-0830', ...SHIPMENTS, logical: T('08:30:00'), start: T('09:30:30'), durationS: 1300, event: 'failure', tryNumber: 3,
        exception: ['botocore.exceptions.ClientError', 'An error occurred (AccessDenied) when calling the PutObject operation: Access Denied'],
        rca: rca('rca-ship-0830', 'sink_write_failure', 'data-platform', 'platform', 'lake.shipments', 'The lake storage rejected PutObject') }),
    ] },
    expected: { category: 'sink_write_failure', assigneeTeam: 'data-platform' },
  },
  {
    id: 'sla-inherits-auth-retrying',
    description: 'lake.invoices misses 06:00; its run is still retrying on ORA-01017 (only retry signals so far, RCA source_auth_failure).',
    kind: 'sla_miss',
    input: slaMiss({ id: 'sla-inv-20261127', table: 'lake.invoices', expected_by: T('06:00:00'), detected_at: T('06:00:30'), dag_id: 'invoices_daily', run_id: runIdOf(T('04:00:00', '2026-11-26')), last_success_at: T('04:56:00', '2026-11-26') }),
    history: { signals: [
      ran({ id: 'r-inv-1126-1', ...INVOICES, logical: T('04:00:00', '2026-11-26'), start: T('04:00:30'), durationS: 2, event: 'retry', tryNumber: 1,
        exception: ['cx_Oracle.DatabaseError', 'ORA-01017: invalid username/password; logon denied'],
        rca: rca('rca-inv-1126-1', 'source_auth_failure', 'finance-eng', 'pipeline_owner', 'erp-oracle', 'The source rejected the credentials') }),
      ran({ id: 'r-inv-1126-2', ...INVOICES, logical: T('04:00:00', '2026-11-26'), start: T('04:35:30'), durationS: 2, event: 'retry', tryNumber: 2,
        exception: ['cx_Oracle.DatabaseError', 'ORA-01017: invalid username/password; logon denied'],
        rca: rca('rca-inv-1126-2', 'source_auth_failure', 'finance-eng', 'pipeline_owner', 'erp-oracle', 'The source rejected the credentials') }),
    ] },
    expected: { category: 'source_auth_failure', assigneeTeam: 'finance-eng' },
  },

  // ======================================= scheduler_backlog ===================================
  {
    id: 'backlog-late-start-normal-duration',
    description: 'lake.payments: the 08:15 run started at 09:56 (the default pool was saturated by a backfill) and took its usual 402 s, finishing after 10:00.',
    kind: 'sla_miss',
    input: slaMiss({ id: 'sla-pay-20261127T0815', table: 'lake.payments', expected_by: T('10:00:00'), detected_at: T('10:05:00'), dag_id: 'payments_hourly', run_id: runIdOf(T('08:15:00')), last_success_at: T('08:22:10') }),
    history: { signals: [
      ran({ id: 's-pay-0815', ...PAYMENTS, logical: T('08:15:00'), start: T('09:56:30'), durationS: 402 }),
      ...earlierSuccesses('s-pay', 'lake.payments', 'payments_hourly', 'load_payments', T('08:15:00'), 'hour', [380, 395, 410, 388, 420]),
    ] },
    expected: { category: 'scheduler_backlog', assigneeTeam: 'data-platform' },
  },
  {
    id: 'backlog-run-never-reported',
    description: 'lake.shipments: the 08:30 run has not reported anything by the 10:30 deadline while the previous hourly runs reported normally (Celery queue backlog).',
    kind: 'sla_miss',
    input: slaMiss({ id: 'sla-ship-20261127T0830-b', table: 'lake.shipments', expected_by: T('10:30:00'), detected_at: T('10:30:40'), dag_id: 'shipments_hourly', run_id: runIdOf(T('08:30:00')), last_success_at: T('08:36:50') }),
    history: { signals: earlierSuccesses('s-ship', 'lake.shipments', 'shipments_hourly', 'load_shipments', T('08:30:00'), 'hour', [410, 395, 402, 388]) },
    expected: { category: 'scheduler_backlog', assigneeTeam: 'data-platform' },
  },
  {
    id: 'backlog-orders-queued-daily-upstream',
    description: 'lake.orders: the 08:00 run queued until 09:58 and took its usual ~410 s. Its upstream lake.customers is daily and landed normally at 03:20 today: not late.',
    kind: 'sla_miss',
    hard: true,
    input: slaMiss({ id: 'sla-orders-20261127T08-b', table: 'lake.orders', expected_by: T('10:00:00'), detected_at: T('10:10:00'), dag_id: 'orders_hourly', run_id: runIdOf(T('08:00:00')), last_success_at: T('08:06:55') }),
    history: { signals: [
      ran({ id: 's-orders-0800', ...ORDERS, logical: T('08:00:00'), start: T('09:58:10'), durationS: 412 }),
      ...earlierSuccesses('s-orders', 'lake.orders', 'orders_hourly', 'load_orders', T('08:00:00'), 'hour', [401, 415, 398, 430, 407, 412]),
    ] },
    expected: { category: 'scheduler_backlog', assigneeTeam: 'data-platform' },
  },

  // ======================================= runtime_regression (SLA) ============================
  {
    id: 'regression-late-success-3x',
    description: 'lake.clickstream: the 08:00 run started on time but took 6040 s against a ~30 min history (traffic spike from a campaign).',
    kind: 'sla_miss',
    input: slaMiss({ id: 'sla-clicks-20261127T08-b', table: 'lake.clickstream', expected_by: T('10:30:00'), detected_at: T('10:45:00'), dag_id: 'clickstream_hourly', run_id: runIdOf(T('08:00:00')), last_success_at: T('08:31:00') }),
    history: { signals: [
      ran({ id: 's-clicks-0800', ...CLICKS, logical: T('08:00:00'), start: T('09:00:30'), durationS: 6040 }),
      ...earlierSuccesses('s-clicks', 'lake.clickstream', 'clickstream_hourly', 'spark_clickstream', T('08:00:00'), 'hour', [1780, 1820, 1700, 1905, 1760, 1840]),
    ] },
    expected: { category: 'runtime_regression', assigneeTeam: 'growth-eng' },
  },
  {
    id: 'regression-start-end-only',
    description: 'lake.invoices: older callbacks carry only start/end dates. The run took 2 h 50 min against ~55 min on earlier days.',
    kind: 'sla_miss',
    input: slaMiss({ id: 'sla-inv-20261127-b', table: 'lake.invoices', expected_by: T('06:00:00'), detected_at: T('07:00:00'), dag_id: 'invoices_daily', run_id: runIdOf(T('04:00:00', '2026-11-26')) }),
    history: { signals: [
      ran({ id: 's-inv-1126', ...INVOICES, logical: T('04:00:00', '2026-11-26'), start: T('04:02:10'), durationS: 10220, withDuration: false }),
      ...earlierSuccesses('s-inv', 'lake.invoices', 'invoices_daily', 'extract_invoices', T('04:00:00', '2026-11-26'), 'day', [3300, 3240, 3410, 3290, 3350], 130, false),
    ] },
    expected: { category: 'runtime_regression', assigneeTeam: 'finance-eng' },
  },
  {
    id: 'regression-ltv-daily-upstream',
    description: 'The LTV mart finished at 10:19 (deadline 10:00) after 8340 s against ~55 min; lake.customers (daily) landed normally at 03:21 today and lake.orders is current.',
    kind: 'sla_miss',
    hard: true,
    input: slaMiss({ id: 'sla-ltv-20261127-c', table: 'mart.customer_ltv', expected_by: T('10:00:00'), detected_at: T('10:25:00'), dag_id: 'customer_ltv_daily', run_id: runIdOf(T('08:00:00', '2026-11-26')) }),
    history: { signals: [
      ran({ id: 's-ltv-1126', ...LTV, logical: T('08:00:00', '2026-11-26'), start: T('08:00:40'), durationS: 8340 }),
      ...earlierSuccesses('s-ltv', 'mart.customer_ltv', 'customer_ltv_daily', 'build_ltv', T('08:00:00', '2026-11-26'), 'day', [3310, 3180, 3420, 3050, 3290, 3390], 40),
    ] },
    expected: { category: 'runtime_regression', assigneeTeam: 'analytics-eng' },
  },

  // ======================================= SLA misses: other ===================================
  {
    id: 'sla-freshness-on-time-load-stale-source',
    description: 'Freshness SLA on lake.ad_spend: the load succeeded on time at 06:41, yet the newest data is 2 days old — the Google Ads transfer into BigQuery is behind. The source has not delivered.',
    kind: 'sla_miss',
    hard: true,
    input: slaMiss({ id: 'sla-ads-fresh-20261127', table: 'lake.ad_spend', sla_kind: 'freshness', expected_by: T('09:00:00'), detected_at: T('09:00:30'), dag_id: 'ad_spend_daily', last_success_at: T('06:41:10') }),
    history: { signals: [
      ran({ id: 's-ads-1126', ...ADS, logical: T('06:00:00', '2026-11-26'), start: T('06:00:40'), durationS: 2430 }),
    ] },
    expected: { category: 'source_data_issue', assigneeTeam: 'marketing-ops' },
  },
  {
    id: 'sla-unknown-table-never-heard-of',
    description: 'An external SLA producer reports a miss for a table Medic has never heard of (not onboarded, no signal ever): nothing says whether it was queued, running or never scheduled.',
    kind: 'sla_miss',
    hard: true,
    input: slaMiss({ id: 'sla-rebates-20261127', table: 'lake.partner_rebates', expected_by: T('09:00:00'), detected_at: T('09:00:30'), producer: 'monte-carlo' }),
    expected: { category: 'unknown', assigneeTeam: 'data-platform' },
  },

  // ======================================= DQ: incomplete_load =================================
  {
    id: 'dq-incomplete-after-success-cdc',
    description: 'lake.orders hr=08: the load succeeded at 09:06 but the lake holds 4323 fewer rows than the source (CDC events past the extract\'s high-water mark).',
    kind: 'dq_failure',
    input: dq({ id: 'dq-orders-20261127T08', table: 'lake.orders', check: 'completeness.row_count', check_kind: 'completeness', partition: 'dt=2026-11-27/hr=08', source_count: 184_233, lake_count: 179_910, strategy: 'cdc', detected_at: T('09:20:00') }),
    history: { signals: [ran({ id: 's-orders-0800-b', ...ORDERS, logical: T('08:00:00'), start: T('09:00:20'), durationS: 400 })] },
    expected: { category: 'incomplete_load', assigneeTeam: 'data-platform' },
  },
  {
    id: 'dq-incomplete-after-success-snapshot',
    description: 'lake.customers daily snapshot: success at 03:21 but 17 275 rows short (the extract paginated with OFFSET while rows were inserted).',
    kind: 'dq_failure',
    input: dq({ id: 'dq-cust-20261126', table: 'lake.customers', check: 'completeness.row_count', check_kind: 'completeness', partition: 'dt=2026-11-26', source_count: 2_418_377, lake_count: 2_401_102, strategy: 'snapshot', detected_at: T('03:45:00') }),
    history: { signals: [ran({ id: 's-cust-1126', ...CUSTOMERS, logical: T('03:00:00', '2026-11-26'), start: T('03:00:30'), durationS: 1230 })] },
    expected: { category: 'incomplete_load', assigneeTeam: 'data-platform' },
  },
  {
    id: 'dq-incomplete-no-load-signal',
    description: 'lake.shipments hr=08 append is 2.1 % short; Medic holds no load signal for the table (callbacks not wired yet), but the counts point at the load.',
    kind: 'dq_failure',
    input: dq({ id: 'dq-ship-20261127T08', table: 'lake.shipments', check: 'completeness.row_count', check_kind: 'completeness', partition: 'dt=2026-11-27/hr=08', source_count: 51_870, lake_count: 50_781, strategy: 'append', detected_at: T('09:50:00') }),
    expected: { category: 'incomplete_load', assigneeTeam: 'data-platform' },
  },

  // ======================================= DQ: source data, schema, code =======================
  {
    id: 'dq-source-zero-rows',
    description: 'lake.invoices: the ERP posted no invoices for 2026-11-26 (its month-end batch did not run): source and lake both 0.',
    kind: 'dq_failure',
    input: dq({ id: 'dq-inv-20261126', table: 'lake.invoices', check: 'completeness.row_count', check_kind: 'completeness', partition: 'dt=2026-11-26', source_count: 0, lake_count: 0, strategy: 'snapshot', detected_at: T('05:10:00') }),
    history: { signals: [ran({ id: 's-inv-1126-b', ...INVOICES, logical: T('04:00:00', '2026-11-26'), start: T('04:00:30'), durationS: 3300 })] },
    expected: { category: 'source_data_issue', assigneeTeam: 'erp-dba' },
  },
  {
    id: 'dq-uniqueness-vendor-sku',
    description: 'lake.products: duplicate sku values in the vendor file itself (the supplier merged two catalogues).',
    kind: 'dq_failure',
    input: dq({ id: 'dq-prod-uniq-20261127', table: 'lake.products', check: 'unique.sku', check_kind: 'uniqueness', partition: 'dt=2026-11-27', columns: ['sku'], detected_at: T('02:40:00') }),
    expected: { category: 'source_data_issue', assigneeTeam: 'supplier-integrations' },
  },
  {
    id: 'dq-nullness-crm-email',
    description: 'lake.customers: 4 % NULL email after a CRM release started allowing sign-ups by phone only.',
    kind: 'dq_failure',
    input: dq({ id: 'dq-cust-null-20261126', table: 'lake.customers', check: 'not_null.email', check_kind: 'nullness', severity: 'warn', partition: 'dt=2026-11-26', columns: ['email'], detected_at: T('03:40:00') }),
    expected: { category: 'source_data_issue', assigneeTeam: 'crm-dba' },
  },
  {
    id: 'dq-custom-negative-cost',
    description: 'lake.ad_spend custom check: negative cost_micros rows (refund adjustments the Ads export now emits).',
    kind: 'dq_failure',
    input: dq({ id: 'dq-ads-custom-20261126', table: 'lake.ad_spend', check: 'expect_column_values_to_be_between.cost_micros', check_kind: 'custom', partition: 'dt=2026-11-26', columns: ['cost_micros'], detected_at: T('06:55:00') }),
    expected: { category: 'source_data_issue', assigneeTeam: 'marketing-ops' },
  },
  {
    id: 'dq-schema-carrier-code',
    description: 'lake.shipments schema check: carrier_code changed from varchar to int at the WMS source.',
    kind: 'dq_failure',
    input: dq({ id: 'dq-ship-schema-20261127', table: 'lake.shipments', check: 'schema.column_types', check_kind: 'schema', partition: 'dt=2026-11-27/hr=05', columns: ['carrier_code'], detected_at: T('06:45:00') }),
    expected: { category: 'source_schema_change', assigneeTeam: 'logistics-eng' },
  },
  {
    id: 'dq-schema-clickstream-field',
    description: 'lake.clickstream schema check: event_properties.page_type disappeared from the web events (a new tracker version).',
    kind: 'dq_failure',
    input: dq({ id: 'dq-clicks-schema-20261127', table: 'lake.clickstream', check: 'schema.expected_columns', check_kind: 'schema', partition: 'dt=2026-11-27/hr=07', columns: ['event_properties.page_type'], detected_at: T('08:40:00') }),
    expected: { category: 'source_schema_change', assigneeTeam: 'growth-eng' },
  },
  {
    id: 'dq-duplicates-append',
    description: 'lake.clickstream hr=06 has 12 % more rows than the topic had: the hour was appended twice after a manual re-run.',
    kind: 'dq_failure',
    input: dq({ id: 'dq-clicks-dup-20261127T06', table: 'lake.clickstream', check: 'completeness.row_count', check_kind: 'completeness', partition: 'dt=2026-11-27/hr=06', source_count: 3_120_554, lake_count: 3_495_020, strategy: 'append', detected_at: T('07:50:00') }),
    history: { signals: [ran({ id: 's-clicks-0600', ...CLICKS, logical: T('06:00:00'), start: T('07:00:30'), durationS: 1800 })] },
    expected: { category: 'code_error', assigneeTeam: 'growth-eng' },
  },
  {
    id: 'dq-nullness-lake-audit-column',
    description: 'lake.orders: _loaded_at is NULL on every row of the hour — the new merge statement forgot to set it.',
    kind: 'dq_failure',
    input: dq({ id: 'dq-orders-null-20261127T07', table: 'lake.orders', check: 'not_null._loaded_at', check_kind: 'nullness', partition: 'dt=2026-11-27/hr=07', columns: ['_loaded_at'], detected_at: T('08:20:00') }),
    expected: { category: 'code_error', assigneeTeam: 'orders-eng' },
  },
  {
    id: 'dq-uniqueness-cdc-primary-key',
    description: 'lake.payments: duplicate payment_id, which is the source table\'s primary key — the source cannot hold duplicates, so the CDC merge applied replayed events as inserts.',
    kind: 'dq_failure',
    hard: true,
    input: dq({ id: 'dq-pay-uniq-20261127T07', table: 'lake.payments', check: 'unique.payment_id', check_kind: 'uniqueness', partition: 'dt=2026-11-27/hr=07', columns: ['payment_id'], strategy: 'cdc', detected_at: T('08:40:00') }),
    expected: { category: 'code_error', assigneeTeam: 'payments-eng' },
  },

  // ======================================= DQ: load failed, freshness inheritance ==============
  {
    id: 'dq-short-after-failed-load',
    description: 'lake.orders hr=09 is short because the load died half-way (zombie, RCA infra_transient): the check takes that diagnosis.',
    kind: 'dq_failure',
    input: dq({ id: 'dq-orders-20261127T09', table: 'lake.orders', check: 'completeness.row_count', check_kind: 'completeness', partition: 'dt=2026-11-27/hr=09', source_count: 176_004, lake_count: 91_220, strategy: 'cdc', detected_at: T('10:20:00') }),
    history: { signals: [
      ran({ id: 's-orders-0800-c', ...ORDERS, logical: T('08:00:00'), start: T('09:00:20'), durationS: 400 }),
      ran({ id: 'f-orders-0900', ...ORDERS, logical: T('09:00:00'), start: T('10:00:20'), durationS: 260, event: 'failure', tryNumber: 3,
        exception: ['airflow.exceptions.AirflowException', 'Detected <TaskInstance: orders_hourly.load_orders scheduled__2026-11-27T09:00:00+00:00 [running]> as zombie'],
        rca: rca('rca-orders-0900', 'infra_transient', 'data-platform', 'platform', 'lake.orders', 'Airflow lost the task\'s heartbeat') }),
    ] },
    expected: { category: 'infra_transient', assigneeTeam: 'data-platform' },
  },
  {
    id: 'dq-freshness-open-auth-failure',
    description: 'lake.invoices freshness fails because every load since yesterday failed on ORA-01017 (RCA open).',
    kind: 'dq_failure',
    input: dq({ id: 'dq-inv-fresh-20261127', table: 'lake.invoices', check: 'freshness.max_posted_at', check_kind: 'freshness', detected_at: T('07:00:00') }),
    history: { signals: [
      ran({ id: 'f-inv-1126', ...INVOICES, logical: T('04:00:00', '2026-11-26'), start: T('05:35:30'), durationS: 2, event: 'failure', tryNumber: 3,
        exception: ['cx_Oracle.DatabaseError', 'ORA-01017: invalid username/password; logon denied'],
        rca: rca('rca-inv-1126', 'source_auth_failure', 'finance-eng', 'pipeline_owner', 'erp-oracle', 'The source rejected the credentials') }),
    ] },
    expected: { category: 'source_auth_failure', assigneeTeam: 'finance-eng' },
  },

  // ======================================= DQ: unknown =========================================
  {
    id: 'dq-completeness-counts-agree',
    description: 'lake.payments completeness "fails" with equal counts: the check itself is misconfigured (compares another window). Nothing to blame.',
    kind: 'dq_failure',
    input: dq({ id: 'dq-pay-20261127T06', table: 'lake.payments', check: 'completeness.row_count', check_kind: 'completeness', partition: 'dt=2026-11-27/hr=06', source_count: 48_211, lake_count: 48_211, strategy: 'cdc', detected_at: T('07:40:00') }),
    history: { signals: [ran({ id: 's-pay-0615', ...PAYMENTS, logical: T('06:15:00'), start: T('07:15:20'), durationS: 400 })] },
    expected: { category: 'unknown', assigneeTeam: 'data-platform' },
  },
  {
    id: 'dq-freshness-no-information',
    description: 'lake.sf_accounts freshness fails; Medic holds no signal of its loads at all and the table has no upstreams: nothing to go on.',
    kind: 'dq_failure',
    input: dq({ id: 'dq-acc-fresh-20261127', table: 'lake.sf_accounts', check: 'freshness.max_systemmodstamp', check_kind: 'freshness', detected_at: T('08:00:00') }),
    expected: { category: 'unknown', assigneeTeam: 'data-platform' },
  },
];

/** The time Medic saw the case's signal: the callback's end, or the event's detection. */
export function signalTime(c: CorpusCase): string {
  if (c.kind === 'airflow') return c.input.end_date ?? c.input.start_date ?? c.input.logical_date ?? '2026-11-27T00:00:00Z';
  return c.input.detected_at;
}

/**
 * The corpus. Every case sees a normal day's table health (every onboarded table healthy at its
 * usual landing time, see {@link worldHealth}) except where its own snapshots say otherwise —
 * Medic's table_health knows every table that sends signals, not only the ones a story is about.
 */
export const DIAGNOSIS_CORPUS: readonly CorpusCase[] = RAW_CASES.map((c) => ({
  ...c,
  history: { signals: c.history?.signals ?? [], health: worldHealth(signalTime(c), c.history?.health ?? []) },
}));
