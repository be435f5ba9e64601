import { describe, it, expect } from 'vitest';
import { testHelpers } from './support/analyserHelpers.ts';
import classifier, { RULE_IDS, editDistance } from '../src/diagnosers/analysers/exception-classifier.ts';
import { MANUAL_STEPS, renderManualSteps } from '../src/diagnosers/manualSteps.ts';
import { CATEGORIES, type Category } from '../src/diagnosers/taxonomy.ts';
import { renderMessage, type AnalyserContext, type AnalyserResult, type CatalogView } from '../src/diagnosers/types.ts';
import type { Signal, SignalException } from '../src/signals/types.ts';
import type { CatalogTable } from '../src/catalog/types.ts';


function signal(exception: SignalException | null, payload: Record<string, unknown> = {}): Signal {
  const now = new Date('2026-11-27T08:07:00Z');
  return {
    id: 'sig-1',
    kind: 'failure',
    event: 'failure',
    table: 'lake.orders',
    pipeline: { airflow: 'main', dag_id: 'orders_hourly', task_id: 'load_orders', run_id: 'scheduled__2026-11-27T08:00:00+00:00', try_number: 3, max_tries: 3 },
    exception,
    occurredAt: now,
    receivedAt: now,
    dedupeKey: 'orders_hourly/load_orders/scheduled__2026-11-27T08:00:00+00:00/-1/3/failure',
    source: 'airflow',
    payload: { operator: 'SparkSubmitOperator', ...payload },
  };
}

function context(exception: SignalException | null, options: { operator?: string; upstream?: CatalogTable[] } = {}): AnalyserContext {
  const catalog: CatalogView = { table: null, teams: new Map(), upstream: options.upstream ?? [], platformTeam: 'data-platform' };
  const payload = options.operator === undefined ? {} : { operator: options.operator };
  return { signal: signal(exception, payload), catalog, earlier: [], helpers: testHelpers() };
}

async function classify(type: string, message: string, options: { operator?: string; upstream?: CatalogTable[] } = {}): Promise<AnalyserResult> {
  return classifier.analyse(context({ type, message }, options));
}

interface Case {
  name: string;
  type: string;
  message: string;
  operator?: string;
  upstream?: CatalogTable[];
  details?: Record<string, string | number>;
  /** The summary must contain this text once rendered. */
  summary?: string;
}

const CUSTOMERS: CatalogTable = { name: 'lake.customers', owner: 'crm-eng', pipeline: { dag_id: 'customers_hourly' } };

const CASES: Partial<Record<Category, Case[]>> = {
  source_unavailable: [
    {
      name: 'psycopg2 < 14, connection refused',
      type: 'psycopg2.OperationalError',
      message: 'could not connect to server: Connection refused\n\tIs the server running on host "orders-db" (10.0.0.5) and accepting\n\tTCP/IP connections on port 5432?\n',
      details: { host: 'orders-db', port: 5432 },
      summary: 'The source orders-db refused the connection (psycopg2.OperationalError)',
    },
    {
      name: 'libpq >= 14, connection refused',
      type: 'psycopg2.OperationalError',
      message: 'connection to server at "orders-db" (10.0.0.5), port 5432 failed: Connection refused\n\tIs the server running on that host and accepting TCP/IP connections?\n',
      details: { host: 'orders-db', port: 5432 },
    },
    {
      name: 'PyMySQL 2003',
      type: 'pymysql.err.OperationalError',
      message: `(2003, "Can't connect to MySQL server on 'mysql-1' ([Errno 111] Connection refused)")`,
      details: { host: 'mysql-1' },
    },
    {
      name: 'MySQL Connector/J',
      type: 'com.mysql.cj.jdbc.exceptions.CommunicationsException',
      message: 'Communications link failure\n\nThe last packet sent successfully to the server was 0 milliseconds ago. The driver has not received any packets from the server.',
    },
    {
      name: 'PgJDBC refused',
      type: 'org.postgresql.util.PSQLException',
      message: 'Connection to orders-db:5432 refused. Check that the hostname and port are correct and that the postmaster is accepting TCP/IP connections.',
      details: { host: 'orders-db', port: 5432 },
    },
    {
      name: 'DNS failure',
      type: 'psycopg2.OperationalError',
      message: 'could not translate host name "orders-db.internal" to address: Name or service not known\n',
      details: { host: 'orders-db.internal' },
      summary: 'could not be resolved (DNS)',
    },
    {
      name: 'Oracle no listener',
      type: 'cx_Oracle.DatabaseError',
      message: 'ORA-12541: TNS:no listener',
    },
    {
      name: 'libpq connect timeout',
      type: 'psycopg2.OperationalError',
      message: 'connection to server at "orders-db" (10.0.0.5), port 5432 failed: timeout expired\n',
      details: { host: 'orders-db', port: 5432 },
      summary: 'timed out',
    },
    {
      name: 'server closed the connection',
      type: 'psycopg2.OperationalError',
      message: 'server closed the connection unexpectedly\n\tThis probably means the server terminated abnormally\n\tbefore or while processing the request.\n',
    },
    {
      name: 'Snowflake 250001 backend unreachable',
      type: 'snowflake.connector.errors.OperationalError',
      message: '250001: Could not connect to Snowflake backend after 2 attempt(s).Aborting',
      summary: 'The source warehouse could not be reached (snowflake.connector.errors.OperationalError)',
    },
    {
      name: 'a database in the cluster is still the source (driver wording before the internal-host rule)',
      type: 'psycopg2.OperationalError',
      message: 'connection to server at "orders-db.data.svc.cluster.local" (10.96.4.2), port 5432 failed: Connection refused\n\tIs the server running on that host and accepting TCP/IP connections?\n',
      details: { host: 'orders-db.data.svc.cluster.local', port: 5432 },
    },
  ],
  source_auth_failure: [
    {
      name: 'libpq password failed (connect failure wording must not win)',
      type: 'psycopg2.OperationalError',
      message: 'connection to server at "orders-db" (10.1.2.3), port 5432 failed: FATAL:  password authentication failed for user "etl"\n',
      details: { user: 'etl', host: 'orders-db' },
    },
    {
      name: 'PyMySQL 1045',
      type: 'pymysql.err.OperationalError',
      message: `(1045, "Access denied for user 'etl'@'10.0.0.7' (using password: YES)")`,
      details: { user: 'etl' },
    },
    {
      name: 'role does not exist',
      type: 'psycopg2.OperationalError',
      message: 'connection to server at "orders-db" (10.1.2.3), port 5432 failed: FATAL:  role "etl_ro" does not exist\n',
      details: { user: 'etl_ro' },
    },
    {
      name: 'permission denied for table',
      type: 'psycopg2.errors.InsufficientPrivilege',
      message: 'permission denied for table orders\n',
      details: { object: 'orders' },
    },
    {
      name: 'Oracle invalid credentials',
      type: 'cx_Oracle.DatabaseError',
      message: 'ORA-01017: invalid username/password; logon denied',
      details: { code: 'ORA-01017' },
    },
    {
      name: 'Snowflake token expired',
      type: 'snowflake.connector.errors.ProgrammingError',
      message: '390114 (08001): Authentication token has expired.  The user must authenticate again.',
    },
    {
      name: 'BigQuery 403 on a query (a read, not a lake write)',
      type: 'google.api_core.exceptions.Forbidden',
      message: '403 Access Denied: Table acme-ads-prod:google_ads_export.p_ads_CampaignBasicStats_1234567890: User does not have permission to query table acme-ads-prod:google_ads_export.p_ads_CampaignBasicStats_1234567890, or perhaps it does not exist.; reason: accessDenied, message: Access Denied: Table acme-ads-prod:google_ads_export.p_ads_CampaignBasicStats_1234567890: User does not have permission to query table',
      details: { object: 'acme-ads-prod:google_ads_export.p_ads_CampaignBasicStats_1234567890' },
    },
    {
      name: 'BigQuery getData permission',
      type: 'google.api_core.exceptions.Forbidden',
      message: '403 GET https://bigquery.googleapis.com/bigquery/v2/projects/acme-ads-prod/datasets/google_ads_export/tables/campaigns/data: Access Denied: Table acme-ads-prod:google_ads_export.campaigns: Permission bigquery.tables.getData denied on table acme-ads-prod:google_ads_export.campaigns (or it may not exist). User does not have bigquery.tables.getData permission for table acme-ads-prod:google_ads_export.campaigns.',
      details: { object: 'acme-ads-prod:google_ads_export.campaigns' },
    },
  ],
  source_schema_change: [
    {
      name: 'PgJDBC column missing',
      type: 'org.postgresql.util.PSQLException',
      message: 'ERROR: column "customer_tier" does not exist\n  Hint: Perhaps you meant to reference the column "o.customer_tie".\n  Position: 8',
      details: { column: 'customer_tier' },
      summary: 'The column customer_tier',
    },
    {
      name: 'psycopg2 qualified column missing',
      type: 'psycopg2.errors.UndefinedColumn',
      message: 'column o.customer_tier does not exist\nLINE 1: SELECT o.id, o.customer_tier FROM orders o\n                     ^\n',
      details: { column: 'customer_tier' },
    },
    {
      name: 'PyMySQL 1054',
      type: 'pymysql.err.OperationalError',
      message: `(1054, "Unknown column 'tier' in 'field list'")`,
      details: { column: 'tier' },
    },
    {
      name: 'Spark >= 3.4 UNRESOLVED_COLUMN',
      type: 'pyspark.errors.exceptions.captured.AnalysisException',
      message: "[UNRESOLVED_COLUMN.WITH_SUGGESTION] A column or function parameter with name `tier` cannot be resolved. Did you mean one of the following? [`id`, `customer_tier`, `amount`].;\n'Project ['tier]\n+- Relation [id#1,customer_tier#2,amount#3] parquet\n",
      details: { column: 'tier' },
    },
    {
      name: 'Spark < 3.4 cannot resolve',
      type: 'org.apache.spark.sql.AnalysisException',
      message: "cannot resolve 'customer_tier' given input columns: [id, amount]; line 1 pos 7",
      details: { column: 'customer_tier' },
    },
    {
      name: 'psycopg2 relation missing',
      type: 'psycopg2.errors.UndefinedTable',
      message: 'relation "public.orders_v2" does not exist\nLINE 1: SELECT * FROM public.orders_v2\n                      ^\n',
      details: { source_table: 'public.orders_v2' },
    },
    {
      name: 'PyMySQL 1146',
      type: 'pymysql.err.ProgrammingError',
      message: `(1146, "Table 'shop.orders' doesn't exist")`,
      details: { source_table: 'shop.orders' },
    },
    {
      name: 'Oracle invalid identifier',
      type: 'cx_Oracle.DatabaseError',
      message: 'ORA-00904: "CUSTOMER_TIER": invalid identifier',
      details: { column: 'CUSTOMER_TIER' },
    },
    {
      name: 'Spark UNRESOLVED_COLUMN, no suggestion close enough to be a typo',
      type: 'pyspark.errors.exceptions.captured.AnalysisException',
      message: "[UNRESOLVED_COLUMN.WITH_SUGGESTION] A column or function parameter with name `coupon_code` cannot be resolved. Did you mean one of the following? [`id`, `promo_code`, `total_cents`].;\n'Project ['coupon_code]\n",
      details: { column: 'coupon_code' },
    },
    {
      name: 'Spark 3 Parquet column type changed',
      type: 'org.apache.spark.SparkException',
      message: 'Job aborted due to stage failure: Task 3 in stage 4.0 failed 4 times, most recent failure: Lost task 3.3 in stage 4.0 (TID 412) (10.0.5.31 executor 2): org.apache.spark.sql.execution.QueryExecutionException: Parquet column cannot be converted in file s3a://supplier-feeds/products/dt=2026-11-27/part-00000-5e0c.snappy.parquet. Column: [price], Expected: decimal(10,2), Found: DOUBLE',
      details: { column: 'price', expected: 'decimal(10,2)', found: 'DOUBLE' },
      summary: 'The column price changed type at the source (expected decimal(10,2), found DOUBLE)',
    },
    {
      name: 'Spark 4 Parquet data type mismatch',
      type: 'org.apache.spark.SparkException',
      message: '[FAILED_READ_FILE.PARQUET_COLUMN_DATA_TYPE_MISMATCH] Error while reading file s3a://supplier-feeds/products/dt=2026-11-27/part-00000.parquet. Data type mismatches when reading Parquet column `price`. Expected Spark type "DECIMAL(10,2)", actual Parquet type "DOUBLE". SQLSTATE: KD001',
      details: { column: 'price', expected: 'DECIMAL(10,2)', found: 'DOUBLE' },
    },
  ],
  source_replica_lag: [
    {
      name: 'hot standby conflict (row versions)',
      type: 'psycopg2.errors.SerializationFailure',
      message: 'canceling statement due to conflict with recovery\nDETAIL:  User query might have needed to see row versions that must be removed.\n',
    },
    {
      name: 'PgJDBC buffer pin conflict',
      type: 'org.postgresql.util.PSQLException',
      message: 'ERROR: canceling statement due to conflict with recovery\n  Detail: User was holding shared buffer pin for too long.',
    },
    {
      name: 'connection terminated by recovery conflict (not source_unavailable)',
      type: 'psycopg2.OperationalError',
      message: 'terminating connection due to conflict with recovery\nDETAIL:  User was holding a relation lock for too long.\nHINT:  In a moment you should be able to reconnect to the database and repeat your command.\nserver closed the connection unexpectedly\n',
    },
    {
      name: 'explicit lag check in the DAG',
      type: 'airflow.exceptions.AirflowException',
      message: 'Replica lag too high on orders-db-replica: Seconds_Behind_Source=1843',
      details: { lag: '1843' },
    },
  ],
  upstream_late: [
    {
      name: 'ExternalTaskSensor timeout, one onboarded upstream',
      type: 'airflow.exceptions.AirflowSensorTimeout',
      message: 'Sensor has timed out; run duration of 3600.2 seconds exceeds the specified timeout of 3600.0.',
      operator: 'ExternalTaskSensor',
      upstream: [CUSTOMERS],
      details: { timeout_s: '3600.0', upstream: 'lake.customers', sensor: 'ExternalTaskSensor' },
    },
    {
      name: 'S3KeySensor timeout',
      type: 'airflow.exceptions.AirflowSensorTimeout',
      message: 'Sensor has timed out; run duration of 7200.5 seconds exceeds the specified timeout of 7200.0.',
      operator: 'S3KeySensor',
      details: { timeout_s: '7200.0' },
      summary: 'The sensor waiting for the upstream timed out after 7200.0 s',
    },
    {
      name: 'old Airflow sensor timeout',
      type: 'airflow.exceptions.AirflowSensorTimeout',
      message: 'Snap. Time is OUT.',
    },
    {
      name: 'a sensor operator with a generic exception',
      type: 'airflow.exceptions.AirflowException',
      message: 'Sensor timed out waiting for partition dt=2026-11-27',
      operator: 'SqlSensor',
    },
  ],
  upstream_unhealthy: [
    {
      name: 'ExternalTaskSensor: external task failed, mapped to the onboarded upstream',
      type: 'airflow.exceptions.AirflowException',
      message: "The external task ['load_customers'] in DAG customers_hourly failed.",
      operator: 'ExternalTaskSensor',
      upstream: [CUSTOMERS, { name: 'lake.products', pipeline: { dag_id: 'products_daily' } }],
      details: { upstream: 'lake.customers', upstream_dag: 'customers_hourly' },
    },
    {
      name: 'external DAG failed, not onboarded',
      type: 'airflow.exceptions.AirflowException',
      message: 'The external DAG crm_export failed.',
      operator: 'ExternalTaskSensor',
      details: { upstream_dag: 'crm_export' },
      summary: 'The upstream DAG crm_export failed',
    },
    {
      name: 'some external tasks failed',
      type: 'airflow.exceptions.AirflowException',
      message: "Some of the external tasks ['extract', 'load'] in DAG 'customers_hourly' failed.",
      operator: 'ExternalTaskSensor',
      details: { upstream_dag: 'customers_hourly' },
    },
  ],
  infra_transient: [
    {
      name: 'zombie',
      type: 'airflow.exceptions.AirflowException',
      message: 'Task instance orders_hourly.load_orders scheduled__2026-11-27T08:00:00+00:00 was detected as zombie',
    },
    {
      name: 'zombie, scheduler wording',
      type: 'airflow.exceptions.AirflowException',
      message: 'Detected <TaskInstance: orders_hourly.load_orders scheduled__2026-11-27T08:00:00+00:00 [running]> as zombie',
    },
    {
      name: 'SIGTERM',
      type: 'airflow.exceptions.AirflowException',
      message: 'Task received SIGTERM signal',
    },
    {
      name: 'executor / scheduler state mismatch',
      type: 'airflow.exceptions.AirflowException',
      message: "Executor reports task instance <TaskInstance: orders_hourly.load_orders scheduled__2026-11-27T08:00:00+00:00 [queued]> finished (failed) although the task says it's queued. (Info: None) Was the task killed externally?",
    },
    {
      name: 'pod evicted for node pressure (memory word must not read as OOM)',
      type: 'airflow.exceptions.AirflowException',
      message: "Pod load-orders-7f9c returned a failure.\nremote_pod: {'status': {'phase': 'Failed', 'reason': 'Evicted', 'message': 'The node was low on resource: memory. Threshold quantity: 100Mi, available: 85Mi.'}}",
    },
    {
      name: 'Kubernetes API 503',
      type: 'kubernetes.client.exceptions.ApiException',
      message: '(503)\nReason: Service Unavailable\nHTTP response headers: HTTPHeaderDict({\'Content-Type\': \'application/json\'})\nHTTP response body: {"kind":"Status","code":503}\n',
      details: { status: 503 },
    },
    {
      name: 'connection reset, no database involved',
      type: 'ConnectionResetError',
      message: '[Errno 104] Connection reset by peer',
    },
    {
      name: 'Celery worker lost',
      type: 'billiard.exceptions.WorkerLostError',
      message: 'Worker exited prematurely: signal 15 (SIGTERM) Job: 12.',
    },
    {
      name: 'Spark executor on a lost node',
      type: 'org.apache.spark.SparkException',
      message: 'Job aborted due to stage failure: Task 3 in stage 7.0 failed 4 times, most recent failure: Lost task 3.3 in stage 7.0 (TID 88) (10.0.3.4 executor 5): ExecutorLostFailure (executor 5 exited unrelated to the running tasks) Reason: Container marked as failed: container_1700000000000_0042_01_000006 on host: ip-10-0-3-4. Exit status: -100. Diagnostics: Container released on a *lost* node.',
    },
    {
      name: 'pod terminated for a node shutdown (spot reclaim)',
      type: 'airflow.exceptions.AirflowException',
      message: "Pod extract-google-ads-7hq2mz returned a failure.\nremote_pod: {'status': {'phase': 'Failed', 'reason': 'Terminated', 'message': 'Pod was terminated in response to imminent node shutdown.'}}",
      details: { detail: 'Pod was terminated in response to imminent node shutdown' },
    },
    {
      name: 'shuffle fetch refused by a lost node (not the source)',
      type: 'org.apache.spark.SparkException',
      message: 'Job aborted due to stage failure: ResultStage 14 (parquet at NativeMethodAccessorImpl.java:0) has failed the maximum allowable number of times: 4. Most recent failure reason:\norg.apache.spark.shuffle.FetchFailedException: Failed to connect to ip-10-0-7-12.ec2.internal/10.0.7.12:7337\n\tat org.apache.spark.errors.SparkCoreErrors$.fetchFailedError(SparkCoreErrors.scala:437)\nCaused by: io.netty.channel.AbstractChannel$AnnotatedConnectException: Connection refused: ip-10-0-7-12.ec2.internal/10.0.7.12:7337\nCaused by: java.net.ConnectException: Connection refused',
      details: { service: 'the Spark shuffle service on ip-10-0-7-12.ec2.internal', status: 'connection refused' },
    },
    {
      name: 'in-cluster service refused (schema registry, not the source)',
      type: 'requests.exceptions.ConnectionError',
      message: "HTTPSConnectionPool(host='schema-registry.platform.svc.cluster.local', port=8081): Max retries exceeded with url: /subjects/clickstream-events-value/versions/latest (Caused by NewConnectionError('<urllib3.connection.HTTPSConnection object at 0x7f0c1b2d4e50>: Failed to establish a new connection: [Errno 111] Connection refused'))",
      details: { service: 'schema-registry.platform.svc.cluster.local' },
      summary: 'A call to schema-registry.platform.svc.cluster.local failed transiently (connection refused)',
    },
    {
      name: 'short Kubernetes service name',
      type: 'urllib3.exceptions.NewConnectionError',
      message: "<urllib3.connection.HTTPConnection object at 0x7f2b>: Failed to establish a new connection: [Errno 111] Connection refused (host='metadata-proxy.airflow.svc', port=80)",
      details: { service: 'metadata-proxy.airflow.svc' },
    },
  ],
  resource_exhausted: [
    {
      name: 'YARN memory limit inside a generic Job aborted (OOM must win)',
      type: 'org.apache.spark.SparkException',
      message: 'Job aborted due to stage failure: Task 12 in stage 3.0 failed 4 times, most recent failure: Lost task 12.3 in stage 3.0 (TID 97, ip-10-0-1-5, executor 3): ExecutorLostFailure (executor 3 exited caused by one of the running tasks) Reason: Container killed by YARN for exceeding memory limits. 12.4 GB of 12 GB physical memory used. Consider boosting spark.yarn.executor.memoryOverhead.',
      details: { resource: 'memory', used: '12.4 GB', limit: '12 GB' },
      summary: '(12.4 GB of 12 GB used)',
    },
    {
      name: 'JVM heap via Py4J',
      type: 'py4j.protocol.Py4JJavaError',
      message: 'An error occurred while calling o123.collectToPython.\n: java.lang.OutOfMemoryError: Java heap space\n\tat java.util.Arrays.copyOf(Arrays.java:3236)\n',
      details: { resource: 'memory', detail: 'Java heap space' },
    },
    {
      name: 'Python MemoryError with no message',
      type: 'MemoryError',
      message: '',
      details: { resource: 'memory' },
    },
    {
      name: 'pod OOMKilled',
      type: 'airflow.exceptions.AirflowException',
      message: "Pod load-orders-x1y2 returned a failure: {'terminated': {'exit_code': 137, 'reason': 'OOMKilled'}}",
    },
    {
      name: 'SIGKILL from the OOM killer',
      type: 'airflow.exceptions.AirflowException',
      message: 'Task exited with return code Negsignal.SIGKILL',
    },
    {
      name: 'disk full',
      type: 'OSError',
      message: "[Errno 28] No space left on device: '/tmp/orders.parquet'",
      details: { resource: 'disk', path: '/tmp/orders.parquet' },
    },
    {
      name: 'BigQuery quota',
      type: 'google.api_core.exceptions.Forbidden',
      message: '403 Quota exceeded: Your project exceeded quota for free query bytes scanned. For more information, see https://cloud.google.com/bigquery/docs/troubleshoot-quotas',
      details: { resource: 'quota' },
    },
    {
      name: 'spark.driver.maxResultSize inside Py4J and Job aborted',
      type: 'py4j.protocol.Py4JJavaError',
      message: 'An error occurred while calling o412.collectToPython.\n: org.apache.spark.SparkException: Job aborted due to stage failure: Total size of serialized results of 2113 tasks (4.0 GiB) is bigger than spark.driver.maxResultSize (4.0 GiB)\n\tat org.apache.spark.scheduler.DAGScheduler.failJobAndIndependentStages(DAGScheduler.scala:2785)',
      details: { resource: 'memory', size: '4.0 GiB', limit: '4.0 GiB' },
    },
    {
      name: 'numpy _ArrayMemoryError',
      type: 'numpy.core._exceptions._ArrayMemoryError',
      message: 'Unable to allocate 11.2 GiB for an array with shape (1503238553,) and data type int64',
      details: { resource: 'memory', detail: 'Unable to allocate 11.2 GiB for an array with shape (1503238553,) and data type int64' },
    },
    {
      name: 'numpy 2 type name, message only',
      type: 'numpy._core._exceptions._ArrayMemoryError',
      message: '',
      details: { resource: 'memory' },
    },
  ],
  sink_write_failure: [
    {
      name: 'S3 SlowDown',
      type: 'botocore.exceptions.ClientError',
      message: 'An error occurred (SlowDown) when calling the PutObject operation (reached max retries: 4): Please reduce your request rate.',
      details: { throttled: 'yes', operation: 'PutObject', code: 'SlowDown' },
    },
    {
      name: 'S3 AccessDenied on PutObject',
      type: 'botocore.exceptions.ClientError',
      message: 'An error occurred (AccessDenied) when calling the PutObject operation: Access Denied',
      details: { throttled: 'no', operation: 'PutObject', code: 'AccessDenied' },
      summary: 'rejected PutObject to the lake bucket (AccessDenied; throttled: no)',
    },
    {
      name: 'S3 503 on multipart upload',
      type: 'botocore.exceptions.ClientError',
      message: 'An error occurred (503) when calling the UploadPart operation (reached max retries: 4): Service Unavailable',
      details: { throttled: 'yes' },
    },
    {
      name: 'Glue throttling',
      type: 'botocore.errorfactory.ThrottlingException',
      message: 'An error occurred (ThrottlingException) when calling the BatchCreatePartition operation (reached max retries: 4): Rate exceeded',
      details: { throttled: 'yes', operation: 'BatchCreatePartition' },
    },
    {
      name: 'Hadoop S3A slow down',
      type: 'org.apache.hadoop.fs.s3a.AWSServiceThrottledException',
      message: 'PUT 0-byte object  on s3a://lake-prod/orders/dt=2026-11-27/_temporary/0: com.amazonaws.services.s3.model.AmazonS3Exception: Slow Down (Service: Amazon S3; Status Code: 503; Error Code: 503 Slow Down; Request ID: 7Q2R; S3 Extended Request ID: abc=)',
      details: { throttled: 'yes', bucket: 'lake-prod' },
    },
    {
      name: 'Glue via the Java SDK',
      type: 'com.amazonaws.services.glue.model.AWSGlueException',
      message: 'Rate exceeded (Service: AWSGlue; Status Code: 400; Error Code: ThrottlingException; Request ID: 5b1e)',
      details: { throttled: 'yes' },
    },
    {
      name: 'GCS 429 on object mutation',
      type: 'google.api_core.exceptions.TooManyRequests',
      message: '429 PUT https://storage.googleapis.com/upload/storage/v1/b/acme-lake-landing/o?uploadType=resumable&upload_id=ADPycdt: {\n  "error": {\n    "code": 429,\n    "message": "The object acme-lake-landing/ad_spend/dt=2026-11-23/_SUCCESS exceeded the rate limit for object mutation operations (create, update, and delete). Please reduce your request rate. See https://cloud.google.com/storage/docs/gcs429."\n  }\n}',
      details: { throttled: 'yes', code: '429', operation: 'PUT', bucket: 'acme-lake-landing' },
    },
    {
      name: 'GCS objects.create denied',
      type: 'google.api_core.exceptions.Forbidden',
      message: '403 POST https://storage.googleapis.com/upload/storage/v1/b/acme-lake-landing/o?uploadType=multipart: svc-etl@acme-data.iam.gserviceaccount.com does not have storage.objects.create access to the Google Cloud Storage object.',
      details: { throttled: 'no', code: 'AccessDenied', operation: 'POST', bucket: 'acme-lake-landing' },
    },
  ],
  source_data_issue: [
    {
      name: 'invalid input syntax',
      type: 'psycopg2.errors.InvalidTextRepresentation',
      message: 'invalid input syntax for type integer: "N/A"\n',
      details: { detail: 'invalid input syntax for type integer: "N/A"' },
    },
    {
      name: 'Spark FAILFAST malformed records',
      type: 'org.apache.spark.SparkException',
      message: "Malformed records are detected in record parsing. Parse Mode: FAILFAST. To process malformed records as null result, try setting the option 'mode' as 'PERMISSIVE'.",
    },
    {
      name: 'pandas tokenizing',
      type: 'pandas.errors.ParserError',
      message: 'Error tokenizing data. C error: Expected 12 fields in line 4031, saw 13\n',
    },
    {
      name: 'pandas empty file',
      type: 'pandas.errors.EmptyDataError',
      message: 'No columns to parse from file',
    },
    {
      name: 'bad encoding',
      type: 'psycopg2.errors.CharacterNotInRepertoire',
      message: 'invalid byte sequence for encoding "UTF8": 0x00\n',
    },
    {
      name: 'Kafka record not Confluent-framed (Python)',
      type: 'confluent_kafka.error.ValueDeserializationError',
      message: 'KafkaError{code=_VALUE_DESERIALIZATION,val=-159,str="Unexpected magic byte 123. This is not Confluent-framed data for topic clickstream-events partition 7 offset 918273645"}',
      details: { detail: 'Unexpected magic byte 123' },
    },
    {
      name: 'Kafka unknown magic byte (Java)',
      type: 'org.apache.kafka.common.errors.SerializationException',
      message: 'Error deserializing Avro message for id -1\nCaused by: org.apache.kafka.common.errors.SerializationException: Unknown magic byte!',
      details: { detail: 'Unknown magic byte' },
    },
    {
      name: 'Kafka deserialisation error without the magic byte text',
      type: 'confluent_kafka.error.ValueDeserializationError',
      message: 'KafkaError{code=_VALUE_DESERIALIZATION,val=-159,str="\'utf-8\' codec can\'t decode byte 0x8f in position 3"}',
    },
    {
      name: 'ValueError quoting the value (float cast)',
      type: 'ValueError',
      message: "could not convert string to float: 'N/A'",
      details: { detail: "could not convert string to float: 'N/A'" },
    },
    {
      name: 'ValueError quoting the value (int cast, inside a Spark UDF)',
      type: 'pyspark.errors.exceptions.captured.PythonException',
      message: "\n  An exception was thrown from the Python worker.\nTraceback (most recent call last):\n  File \"/opt/jobs/products.py\", line 12, in parse_qty\n    return int(raw)\nValueError: invalid literal for int() with base 10: '12 pcs'\n",
      details: { detail: "invalid literal for int() with base 10: '12 pcs'" },
    },
  ],
  runtime_regression: [
    {
      name: 'execution_timeout',
      type: 'airflow.exceptions.AirflowTaskTimeout',
      message: 'Timeout, PID: 4321',
    },
    {
      name: 'execution_timeout, bare',
      type: 'airflow.exceptions.AirflowTaskTimeout',
      message: 'Timeout',
    },
    {
      name: 'execution_timeout wrapped',
      type: 'airflow.exceptions.AirflowException',
      message: 'Task failed with exception: AirflowTaskTimeout: Timeout, PID: 77',
    },
    {
      name: 'PostgreSQL statement_timeout (not a connection failure)',
      type: 'psycopg2.errors.QueryCanceled',
      message: 'canceling statement due to statement timeout\n',
    },
    {
      name: 'Snowflake 000630 statement or warehouse timeout',
      type: 'snowflake.connector.errors.ProgrammingError',
      message: '000630 (57014): 01b8c2d3-0003-4b2e-0000-0a1d0002f2b7: Statement reached its statement or warehouse timeout of 3,600 second(s) and was canceled.',
      details: { timeout: '3600 s' },
      summary: 'at its statement timeout (3600 s)',
    },
    {
      name: 'SQL Server query timeout (not source-timeout)',
      type: 'pyodbc.OperationalError',
      message: "('HYT00', '[HYT00] [Microsoft][ODBC Driver 18 for SQL Server]Query timeout expired (0) (SQLExecDirectW)')",
    },
  ],
  code_error: [
    { name: 'KeyError', type: 'KeyError', message: "'customer_id'", details: { error: 'KeyError' } },
    { name: 'NameError', type: 'NameError', message: "name 'pd' is not defined", details: { error: 'NameError' } },
    { name: 'AttributeError', type: 'AttributeError', message: "'NoneType' object has no attribute 'strip'", details: { error: 'AttributeError' } },
    { name: 'ModuleNotFoundError', type: 'ModuleNotFoundError', message: "No module named 'orders_lib'" },
    {
      name: 'PostgreSQL syntax error',
      type: 'psycopg2.errors.SyntaxError',
      message: 'syntax error at or near "FORM"\nLINE 1: SELECT id FORM orders\n                  ^\n',
      details: { detail: 'syntax error at or near "FORM"' },
    },
    {
      name: 'MySQL 1064',
      type: 'pymysql.err.ProgrammingError',
      message: `(1064, "You have an error in your SQL syntax; check the manual that corresponds to your MySQL server version for the right syntax to use near 'FORM orders' at line 1")`,
    },
    {
      name: 'Spark ParseException',
      type: 'org.apache.spark.sql.catalyst.parser.ParseException',
      message: "\n[PARSE_SYNTAX_ERROR] Syntax error at or near 'FROM'.(line 1, pos 12)\n",
    },
    {
      name: 'Jinja undefined in a template',
      type: 'jinja2.exceptions.UndefinedError',
      message: "'dag_run_conf' is undefined",
      summary: "failed to render: 'dag_run_conf' is undefined",
    },
    {
      name: 'Python error inside a Spark UDF',
      type: 'pyspark.errors.exceptions.captured.PythonException',
      message: '\n  An exception was thrown from the Python worker. Please see the stack trace below.\nTraceback (most recent call last):\n  File "/opt/jobs/orders.py", line 41, in to_cents\n    return amount / rate\nZeroDivisionError: division by zero\n',
      details: { error: 'ZeroDivisionError' },
    },
    {
      name: 'duplicate key (non-idempotent load)',
      type: 'psycopg2.errors.UniqueViolation',
      message: 'duplicate key value violates unique constraint "orders_pkey"\nDETAIL:  Key (id)=(42) already exists.\n',
      details: { constraint: 'orders_pkey' },
    },
    {
      name: 'dbt compilation error, missing ref (cosmos repr)',
      type: 'airflow.exceptions.AirflowException',
      message: "('dbt command failed. The command returned a non-zero exit code 2. Details: ', 'Compilation Error in model fct_daily_revenue (models/marts/finance/fct_daily_revenue.sql)\\n  Model \\'model.analytics.fct_daily_revenue\\' (models/marts/finance/fct_daily_revenue.sql) depends on a node named \\'stg_refunds\\' which was not found')",
      details: { model: 'fct_daily_revenue', node: 'stg_refunds' },
      summary: 'dbt could not compile fct_daily_revenue: it depends on stg_refunds, which was not found.',
    },
    {
      name: 'Snowflake 001003 syntax error',
      type: 'snowflake.connector.errors.ProgrammingError',
      message: "001003 (42000): 01b8c2d2-0003-4b2e-0000-0a1d0002f1a4: SQL compilation error:\nsyntax error line 7 at position 0 unexpected 'FROM'.",
      details: { detail: "syntax error line 7 at position 0 unexpected 'FROM'" },
    },
    {
      name: 'KubernetesPodOperator image tag not found',
      type: 'airflow.providers.cncf.kubernetes.utils.pod_manager.PodLaunchFailedException',
      message: 'Pod docker image cannot be pulled, unable to start: ErrImagePull\nrpc error: code = NotFound desc = failed to pull and unpack image "registry.acme.internal/etl/shipments-loader:2.14.0": failed to resolve reference "registry.acme.internal/etl/shipments-loader:2.14.0": registry.acme.internal/etl/shipments-loader:2.14.0: not found',
      details: { image: 'registry.acme.internal/etl/shipments-loader:2.14.0' },
    },
    {
      name: 'Spark UNRESOLVED_COLUMN with a suggestion one edit away (a typo)',
      type: 'pyspark.errors.exceptions.captured.AnalysisException',
      message: "[UNRESOLVED_COLUMN.WITH_SUGGESTION] A column or function parameter with name `o`.`custmer_id` cannot be resolved. Did you mean one of the following? [`o`.`customer_id`, `o`.`order_id`, `o`.`amount`].;\n'Project ['o.custmer_id]\n",
      details: { column: 'custmer_id', suggestion: 'customer_id', distance: 1 },
      summary: 'The job refers to the column custmer_id, which does not exist; customer_id does',
    },
    {
      name: 'Spark < 3.4 cannot resolve, input column two edits away',
      type: 'org.apache.spark.sql.AnalysisException',
      message: "cannot resolve 'sesion_ts' given input columns: [session_id, session_ts#12, user_id]; line 1 pos 7",
      details: { column: 'sesion_ts', suggestion: 'session_ts', distance: 1 },
    },
  ],
};

describe('exception-classifier', () => {
  it('has unique rule ids and the expected meta', () => {
    expect(new Set(RULE_IDS).size).toBe(RULE_IDS.length);
    expect(classifier.meta.id).toBe('exception-classifier');
    expect(classifier.meta.appliesTo).toEqual(['failure']);
  });

  for (const [category, cases] of Object.entries(CASES) as Array<[Category, Case[]]>) {
    describe(category, () => {
      it('has at least three cases', () => expect(cases.length).toBeGreaterThanOrEqual(3));

      it.each(cases)('$name', async (c) => {
        const result = await classify(c.type, c.message, { operator: c.operator, upstream: c.upstream });
        expect(result.verdict?.category, JSON.stringify(result.observations)).toBe(category);
        const verdict = result.verdict!;
        expect(verdict.confidence).toBeGreaterThan(0);
        expect(verdict.confidence).toBeLessThanOrEqual(1);
        if (c.details) expect(verdict.details).toMatchObject(c.details);

        const template = classifier.meta.messages[verdict.summary.messageId];
        expect(template, `message ${verdict.summary.messageId}`).toBeDefined();
        const text = renderMessage(template!, verdict.summary.data);
        expect(text).not.toMatch(/\{\w+\}/);
        if (c.summary) expect(text).toContain(c.summary);

        expect(result.observations['rule']).toEqual(expect.any(String));
        expect(result.observations['exception_type']).toBe(c.type);
        if (category === 'sink_write_failure') expect(['yes', 'no']).toContain(verdict.details?.['throttled']);
      });
    });
  }

  it('keeps only extracted facts in details, never a made-up host', async () => {
    const result = await classify('com.mysql.cj.jdbc.exceptions.CommunicationsException', 'Communications link failure');
    expect(result.verdict?.details?.['host']).toBeUndefined();
    expect(renderMessage(classifier.meta.messages['sourceRefused']!, result.verdict!.summary.data)).toContain('the source database');
  });

  it('uses the catalog source name when the message names no host', async () => {
    const ctx = context({ type: 'com.mysql.cj.jdbc.exceptions.CommunicationsException', message: 'Communications link failure' });
    ctx.catalog.table = { name: 'lake.orders', source: { kind: 'mysql', name: 'shop-db' } };
    const result = await classifier.analyse(ctx);
    expect(result.verdict?.details).toMatchObject({ host: 'shop-db' });
  });

  it('overrides the assignee for a Kubernetes namespace quota, and only then', async () => {
    const quota = await classify(
      'kubernetes.client.exceptions.ApiException',
      '(403)\nReason: Forbidden\nHTTP response body: {"message":"pods \\"load-orders-abc\\" is forbidden: exceeded quota: compute-resources, requested: limits.memory=8Gi, used: limits.memory=60Gi, limited: limits.memory=64Gi"}',
    );
    expect(quota.verdict).toMatchObject({ category: 'resource_exhausted', assigneeRole: 'platform', details: { quota: 'compute-resources' } });
    const oom = await classify('MemoryError', '');
    expect(oom.verdict?.assigneeRole).toBeUndefined();
  });

  it('reports a certain OOM above an ambiguous duplicate key', async () => {
    const oom = await classify('java.lang.OutOfMemoryError', 'Java heap space');
    const dup = await classify('psycopg2.errors.UniqueViolation', 'duplicate key value violates unique constraint "orders_pkey"');
    expect(oom.verdict!.confidence).toBeGreaterThan(dup.verdict!.confidence);
  });

  it('computes the Levenshtein distance', () => {
    expect(editDistance('', '')).toBe(0);
    expect(editDistance('custmer_id', 'customer_id')).toBe(1);
    expect(editDistance('kitten', 'sitting')).toBe(3);
    expect(editDistance('tier', '')).toBe(4);
    expect(editDistance('flaw', 'lawn')).toBe(2);
  });

  it('does not call a short name a typo of another short name', async () => {
    const result = await classify(
      'pyspark.errors.exceptions.captured.AnalysisException',
      '[UNRESOLVED_COLUMN.WITH_SUGGESTION] A column or function parameter with name `ad` cannot be resolved. Did you mean one of the following? [`id`, `amount`].',
    );
    expect(result.verdict?.category).toBe('source_schema_change');
  });

  it('keeps the Snowflake 250001 with a bad password as an auth failure (auth rules come first)', async () => {
    const result = await classify(
      'snowflake.connector.errors.DatabaseError',
      '250001 (08001): None: Failed to connect to DB: xy12345.eu-west-1.snowflakecomputing.com:443. Incorrect username or password was specified.',
    );
    expect(result.verdict?.category).toBe('source_auth_failure');
  });

  it('keeps a refused connection to an external host with no database context as the source', async () => {
    const result = await classify(
      'requests.exceptions.ConnectionError',
      "HTTPSConnectionPool(host='api.vendor-feeds.com', port=443): Max retries exceeded with url: /v2/products (Caused by NewConnectionError('<urllib3.connection.HTTPSConnection object at 0x7f0c>: Failed to establish a new connection: [Errno 111] Connection refused'))",
    );
    expect(result.observations['rule']).toBe('source-refused-generic');
    expect(result.verdict?.details).toMatchObject({ host: 'api.vendor-feeds.com' });
  });

  it('does not call an unreachable image registry a code error', async () => {
    const result = await classify(
      'airflow.providers.cncf.kubernetes.utils.pod_manager.PodLaunchFailedException',
      'Pod docker image cannot be pulled, unable to start: ErrImagePull\nrpc error: code = Unknown desc = failed to pull and unpack image "registry.acme.internal/etl/shipments-loader:2.14.0": failed to do request: Head "https://registry.acme.internal/v2/etl/shipments-loader/manifests/2.14.0": dial tcp 10.0.9.9:443: i/o timeout',
    );
    expect(result.verdict?.category ?? null).not.toBe('code_error');
  });

  it('keeps text guesses below the chain\'s stop threshold', async () => {
    const results = await Promise.all(
      Object.values(CASES).flat().map((c) => classify(c.type, c.message, { operator: c.operator, upstream: c.upstream })),
    );
    for (const r of results) expect(r.verdict!.confidence).toBeLessThanOrEqual(0.9);
  });

  describe('no verdict', () => {
    it('null exception → observation {exception: null}', async () => {
      const result = await classifier.analyse(context(null));
      expect(result.verdict ?? null).toBeNull();
      expect(result.observations).toEqual({ exception: null });
    });

    it.each([
      ['gibberish', 'FrobnicationError', 'the frobnicator is sad'],
      ['ValueError quoting no value is ambiguous between data and code', 'ValueError', 'Length mismatch: Expected axis has 5 elements, new values have 6 elements'],
      ['AccessDenied on a read: source or lake cannot be told apart', 'botocore.exceptions.ClientError', 'An error occurred (AccessDenied) when calling the GetObject operation: Access Denied'],
      ['a query cancelled by hand is neither a timeout nor an outage', 'psycopg2.errors.QueryCanceled', 'canceling statement due to user request'],
      ['a throttled GCS read is not a lake write', 'google.api_core.exceptions.TooManyRequests', '429 GET https://storage.googleapis.com/storage/v1/b/acme-exports/o/ads.csv?alt=media: rate limited'],
    ])('%s', async (_name, type, message) => {
      const result = await classify(type, message);
      expect(result.verdict ?? null, JSON.stringify(result.verdict)).toBeNull();
      expect(result.observations).toMatchObject({ exception_type: type, rule: null });
    });
  });
});

describe('renderManualSteps', () => {
  const NEVER_RETRY: Category[] = ['code_error', 'source_auth_failure', 'source_schema_change'];

  it('has a template for every category', () => {
    for (const category of CATEGORIES) {
      expect(MANUAL_STEPS[category], category).toMatch(/^### /);
      expect(MANUAL_STEPS[category]).toMatch(/\n1\. /);
      expect(MANUAL_STEPS[category]).toMatch(/\n3\. /);
    }
  });

  it.each([...CATEGORIES])('%s leaves no placeholder unfilled with empty vars', (category) => {
    const text = renderManualSteps(category, {});
    expect(text).not.toMatch(/\{\w+\}/);
    expect(text).toContain('_No exception was reported._');
  });

  it('treats null and empty values as missing', () => {
    const text = renderManualSteps('code_error', { dag_id: null, task_id: '', owner: undefined });
    expect(text).toContain("airflow tasks clear DAG_ID -t '^TASK_ID$'");
    expect(text).toContain('the pipeline owner');
  });

  it('fills the specifics', () => {
    const text = renderManualSteps('source_schema_change', {
      table: 'lake.orders',
      dag_id: 'orders_hourly',
      task_id: 'load_orders',
      run_id: 'scheduled__2026-11-27T08:00:00+00:00',
      airflow: 'main',
      source: 'orders-db',
      source_owner: 'orders-dba',
      column: 'customer_tier',
      exception_type: 'psycopg2.errors.UndefinedColumn',
      exception_message: 'column "customer_tier" does not exist',
    });
    expect(text).toContain('`customer_tier`');
    expect(text).toContain('orders-dba');
    expect(text).toContain('(`psycopg2.errors.UndefinedColumn`)');
    // The logical date is derived from a scheduled run id for the CLI.
    expect(text).toContain("airflow tasks clear orders_hourly -t '^load_orders$' -s 2026-11-27T08:00:00+00:00 -e 2026-11-27T08:00:00+00:00 --only-failed --yes");
  });

  it('renders numbers', () => {
    expect(renderManualSteps('source_unavailable', { host: 'orders-db', port: 5432 })).toContain('pg_isready -h orders-db -p 5432');
  });

  it.each(NEVER_RETRY)('%s never suggests a retry', (category) => {
    expect(MANUAL_STEPS[category]).not.toMatch(/\bretr(y|ies)\b|with backoff/i);
  });

  it('fences an exception message carrying markdown and HTML', () => {
    const evil = 'boom ```\n# Injected heading\n<script>alert(1)</script>\n````` [click](http://evil.example)';
    const text = renderManualSteps('unknown', { exception_message: evil, exception_type: 'Boom`<b>x</b>`' });
    const fences = [...text.matchAll(/^```/gm)];
    expect(fences).toHaveLength(2);
    const start = text.indexOf('```text\n');
    const end = text.indexOf('\n```', start + 8);
    const inside = text.slice(start + 8, end);
    expect(inside).toContain('<script>alert(1)</script>');
    expect(inside).toContain('# Injected heading');
    expect(inside).not.toContain('```');
    const outside = text.slice(0, start) + text.slice(end + 4);
    expect(outside).not.toContain('<script>');
    expect(outside).not.toContain('<b>');
    expect(outside).not.toMatch(/^# Injected/m);
  });

  it('keeps multi-line values on one line outside the fence', () => {
    const text = renderManualSteps('unknown', { table: 'lake.orders\n### owned', exception_message: 'x' });
    expect(text).not.toMatch(/^### owned/m);
  });
});
