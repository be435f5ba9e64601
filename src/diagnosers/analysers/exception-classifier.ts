import type { Analyser, AnalyserContext, Verdict } from '../types.ts';
import type { AssigneeRole, Category } from '../taxonomy.ts';
import { DEFAULT_ASSIGNEE_ROLE } from '../taxonomy.ts';

/**
 * exception-classifier: the failing task's exception type and message → a root-cause category
 * (DESIGN 5). Pure: no I/O, it reads only the signal (and the catalog view for names).
 *
 * The rule table below is evaluated top to bottom and the first rule that matches wins, so the
 * order encodes precedence (comments at each group say why it sits where it does). When no rule
 * matches the analyser returns `verdict: null` with its observations; the chain runner falls back
 * to `unknown` when no analyser concludes. A low-confidence `unknown` verdict is never returned
 * here, so that a later analyser (airflow-history, source-database) can still conclude.
 */

type Details = Record<string, string | number>;

/** What a rule sees: the exception, plus context some rules need to tell cases apart. */
interface RuleInput {
  type: string;
  message: string;
  /** `type: message`, for patterns that may appear in either. */
  text: string;
  /** payload.operator, e.g. ExternalTaskSensor; '' when not reported. */
  operator: string;
  /** Whether the exception comes from a database driver (psycopg2, PyMySQL, JDBC, ...). */
  fromDbDriver: boolean;
  /** The catalog's source name for the table, when onboarded. */
  sourceName: string | null;
  /** The onboarded upstream tables, with the DAG that loads each. */
  upstreamTables: Array<{ name: string; dagId: string | null }>;
}

interface Rule {
  id: string;
  category: Category;
  confidence: number;
  messageId: string;
  /** Overrides DEFAULT_ASSIGNEE_ROLE[category] when the rule knows better. */
  assigneeRole?: AssigneeRole;
  /**
   * Values for every placeholder of the rule's message, used in the summary when extraction
   * finds nothing. Not copied into `details`: those feed the assignee and incident key, where a
   * made-up "the source database" would group unrelated failures.
   */
  defaults?: Details;
  /** Extra summary values derived from the details (e.g. a readable upstream label). */
  label?: (details: Details) => Details;
  /** Details extracted from the exception, or null when the rule does not apply. */
  match: (input: RuleInput) => Details | null;
}

/** The first capture group of the first regex that matches, or undefined. */
function capture(text: string, ...patterns: RegExp[]): string | undefined {
  for (const re of patterns) {
    const m = re.exec(text);
    if (m?.[1] !== undefined && m[1] !== '') return m[1];
  }
  return undefined;
}

/** Drops undefined values so that rule defaults show through. */
function compact(details: Record<string, string | number | undefined>): Details {
  const out: Details = {};
  for (const [k, v] of Object.entries(details)) if (v !== undefined) out[k] = v;
  return out;
}

/** `t`.`tier`, "O"."TIER", o.tier → tier: the column without its qualifiers or quotes. */
function bareIdentifier(raw: string): string {
  const parts = raw.split('.').map((p) => p.replace(/^[`"'[\]]+|[`"'[\]]+$/g, ''));
  return parts[parts.length - 1] ?? raw;
}

function stripQuotes(raw: string): string {
  return raw
    .split('.')
    .map((p) => p.replace(/^[`"'[\]]+|[`"'[\]]+$/g, ''))
    .join('.');
}

const DB_DRIVER_TYPE =
  /psycopg|pg8000|asyncpg|pymysql|mysqldb|_mysql|mysql\.connector|cx_oracle|oracledb|pyodbc|pymssql|snowflake\.connector|sqlalchemy|redshift_connector|PSQLException|jdbc|SQLException|SQLRecoverableException|SQLTransientConnectionException|CommunicationsException/i;

/** Messages that only database drivers produce; used when the type was lost (e.g. wrapped). */
const DB_DRIVER_TEXT = /ORA-\d{5}|\bSQLSTATE\b|\(\d{4}, ["']|connection to server at|could not connect to server/i;

/** Host and port as the usual drivers print them. */
function hostPort(text: string): { host?: string; port?: number } {
  const host = capture(
    text,
    /connection to server at "([^"]+)"/i, // libpq >= 14
    /on host "([^"]+)"/i, // libpq < 14
    /could not translate host name "([^"]+)"/i,
    /Can't connect to MySQL server on '([^':]+)/i,
    /Unknown MySQL server host '([^']+)'/i,
    /Connection to ([\w.-]+):\d+ refused/i, // PgJDBC
    /\bhost=['"]?([A-Za-z0-9_.-]+)/i, // DSNs, urllib3's HTTPConnectionPool(host='x', port=443)
    /(?:https?|jdbc:[a-z]+):\/\/([A-Za-z0-9_.-]+)/i,
  );
  // Only port notations tied to a host: a bare `x:NN` would also match timestamps.
  const portStr = capture(
    text,
    /\bport (\d{2,5})\b/i,
    /\bport=['"]?(\d{2,5})\b/i,
    /Connection to [\w.-]+:(\d{2,5}) refused/i,
    /on '[^':]+:(\d{2,5})'/i,
    /:\/\/[\w.-]+:(\d{2,5})/,
  );
  return { host, port: portStr === undefined ? undefined : Number(portStr) };
}

/**
 * The upstream table a DAG id points at: the onboarded upstream loaded by that DAG, or the only
 * onboarded upstream when the message names none. Never a guess among several.
 */
function upstreamDetails(dag: string | undefined, upstream: RuleInput['upstreamTables']): Details {
  const byDag = dag === undefined ? undefined : upstream.find((u) => u.dagId === dag);
  const only = dag === undefined && upstream.length === 1 ? upstream[0] : undefined;
  return compact({ upstream: (byDag ?? only)?.name, upstream_dag: dag });
}

function upstreamLabel(details: Details): Details {
  if (details['upstream'] !== undefined) return {};
  return details['upstream_dag'] !== undefined ? { upstream: `DAG ${details['upstream_dag']}` } : {};
}

/** S3 / Glue operations that write to the lake (or its catalog); a read is not a sink failure. */
const WRITE_OPERATION =
  /^(PutObject|UploadPart|UploadPartCopy|CreateMultipartUpload|CompleteMultipartUpload|CopyObject|DeleteObjects?|PutObjectAcl|BatchCreatePartition|CreatePartition|BatchUpdatePartition|UpdatePartition|UpdateTable|CreateTable|BatchDeletePartition|DeletePartition|StartTransaction|CommitTransaction|UpdateTableObjects|PutRecords?|PutRecordBatch)$/;
const THROTTLE_CODE =
  /^(SlowDown|503|ServiceUnavailable|Throttling|ThrottlingException|RequestLimitExceeded|TooManyRequestsException|RequestThrottled|ProvisionedThroughputExceededException)$/;

/** botocore: `An error occurred (Code) when calling the Op operation (reached max retries: 4): msg`. */
function botocore(text: string): { code: string; operation: string; reason: string } | null {
  const m = /An error occurred \(([^)]+)\) when calling the (\w+) operation(?: \([^)]*\))?:\s*(.*)/s.exec(text);
  if (!m) return null;
  return { code: m[1] ?? '', operation: m[2] ?? '', reason: (m[3] ?? '').split('\n')[0]?.trim() ?? '' };
}

function bucketOf(text: string): string | undefined {
  return capture(
    text,
    /s3a?n?:\/\/([a-z0-9][a-z0-9.-]+)/i,
    /\bBucket[=: ]+'?"?([a-z0-9][a-z0-9.-]+)/i,
    /gs:\/\/([a-z0-9][a-z0-9._-]+)/i,
    /storage\.googleapis\.com\/(?:upload\/)?storage\/v1\/b\/([a-z0-9][a-z0-9._-]+)/i, // GCS JSON API
  );
}

/** Classic Levenshtein distance (insertions, deletions, substitutions), two rows at a time. */
export function editDistance(a: string, b: string): number {
  if (a === b) return 0;
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const cur = [i];
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      cur[j] = Math.min((prev[j] ?? 0) + 1, (cur[j - 1] ?? 0) + 1, (prev[j - 1] ?? 0) + cost);
    }
    prev = cur;
  }
  return prev[b.length] ?? 0;
}

/** The column names Spark offers next to an unresolved one (3.4+ suggestions, < 3.4 input columns). */
function sparkColumnCandidates(text: string): string[] {
  const list = capture(text, /Did you mean one of the following\? \[([^\]\n]*)\]/i, /given input columns: \[([^\]\n]*)\]/i);
  if (list === undefined) return [];
  return list
    .split(',')
    .map((c) => bareIdentifier(c.trim().replace(/#\d+L?$/, '')))
    .filter((c) => c !== '');
}

/**
 * The suggested column that is a likely typo of `missing`: within edit distance 2, and less than
 * half the name's length (so `id` vs `ad` is not called a typo). Case is ignored.
 */
function typoOf(missing: string, candidates: string[]): { suggestion: string; distance: number } | null {
  let best: { suggestion: string; distance: number } | null = null;
  for (const c of candidates) {
    const distance = editDistance(missing.toLowerCase(), c.toLowerCase());
    if (distance === 0 || distance > 2 || distance * 2 >= missing.length) continue;
    if (best === null || distance < best.distance) best = { suggestion: c, distance };
  }
  return best;
}

/** A type name as Spark prints it, with its precision: DOUBLE, decimal(10,2), varchar(32). A capture group. */
const SQL_TYPE = String.raw`([A-Za-z_]\w*(?:\(\d+(?:,\s*\d+)?\))?)`;

/** Hosts that are the platform's own: Kubernetes service names. */
const INTERNAL_SERVICE_HOST = /\.svc(?:\.cluster\.local)?\.?$/i;
/** Spark's shuffle: block fetches between executors, served by the external shuffle service (7337). */
const SPARK_SHUFFLE = /FetchFailedException|ExternalShuffleClient|ExternalBlockStoreClient|BlockManager|shuffle\.|[/:]7337\b|port 7337\b/;

const PY_CODE_ERRORS = [
  'NameError',
  'TypeError',
  'KeyError',
  'AttributeError',
  'SyntaxError',
  'IndentationError',
  'ZeroDivisionError',
  'IndexError',
  'UnboundLocalError',
  'ImportError',
  'ModuleNotFoundError',
  'NotImplementedError',
  'RecursionError',
  'UndefinedError', // jinja2: a template variable that does not exist
  'TemplateSyntaxError', // jinja2
  'TemplateNotFound', // jinja2
  'NullPointerException',
  'ClassCastException',
  'ClassNotFoundException',
  'NoSuchMethodError',
  'NoClassDefFoundError',
  'ParseException', // Spark SQL parser
];
// ValueError, AssertionError and IllegalArgumentException are deliberately absent: both are as often raised by bad input
// data (int('abc'), a data check's assert) as by a bug, so they stay unknown — except the casts whose message quotes the
// value that failed (`could not convert string to float: 'N/A'`), which data-invalid-value takes at a low confidence.
const PY_CODE_ERROR_TYPE = new RegExp(`(?:^|\\.)(${PY_CODE_ERRORS.join('|')})$`);
/** A Python traceback's last line inside a wrapping exception (Spark PythonException, Py4J). */
const PY_CODE_ERROR_LINE = new RegExp(`(?:^|\\n)\\s*(?:[\\w.]+\\.)?(${PY_CODE_ERRORS.join('|')}): `);

const RULES: Rule[] = [
  // ---- resource_exhausted -------------------------------------------------------------------
  // First: an OOM is usually wrapped in something generic ("Job aborted due to stage failure",
  // ExecutorLostFailure, Py4JJavaError, WorkerLostError) that later rules would otherwise claim.
  {
    id: 'oom-yarn-container',
    category: 'resource_exhausted',
    confidence: 0.9,
    messageId: 'oomContainer',
    defaults: { resource: 'memory', used: '(unknown)', limit: '(unknown)' },
    match: ({ text }) => {
      const m = /killed by YARN for exceeding (?:physical |virtual )?memory limits?\.?\s*([\d.]+ ?[KMGT]?B) of ([\d.]+ ?[KMGT]?B)/i.exec(text);
      if (m) return { resource: 'memory', used: m[1] ?? '', limit: m[2] ?? '' };
      return /killed by YARN for exceeding (?:physical |virtual )?memory limits?/i.test(text) ? ({ resource: 'memory' } as Details) : null;
    },
  },
  {
    id: 'oom-killed-137',
    category: 'resource_exhausted',
    confidence: 0.85,
    messageId: 'oomKilled',
    defaults: { resource: 'memory' },
    // 137 = 128 + SIGKILL, what the kernel OOM killer and Kubernetes' memory limit produce.
    match: ({ text }) =>
      /OOMKilled|exit(?:ed with)? (?:code|status)[:= ]*137\b|exitCode[=: ]+137\b/i.test(text)
        ? { resource: 'memory' }
        : null,
  },
  {
    id: 'oom-jvm-or-python',
    category: 'resource_exhausted',
    confidence: 0.9,
    messageId: 'oomProcess',
    defaults: { resource: 'memory', detail: 'out of memory' },
    match: ({ type, text }) => {
      const detail = capture(
        text,
        /java\.lang\.OutOfMemoryError:?\s*([^\n]*)/,
        /(GC overhead limit exceeded)/i,
        /(Unable to acquire \d+ bytes of memory[^\n]*)/i,
        /(Cannot allocate memory)/i,
        /(Unable to allocate [\d.]+ ?[KMGTP]i?B for an array[^\n]*)/i, // numpy's _ArrayMemoryError
        /(out of memory)/i,
      );
      // numpy raises numpy.core._exceptions._ArrayMemoryError, a MemoryError subclass.
      if (detail !== undefined || /OutOfMemoryError|(?:^|\.)_?(?:Array)?MemoryError$/.test(type) || /(?:^|\n)MemoryError\b/.test(text)) {
        return compact({ resource: 'memory', detail: detail?.trim() || undefined });
      }
      return null;
    },
  },
  {
    // A collect() or broadcast larger than the driver accepts. Spark aborts the job itself (no
    // OOM yet) but the limit protects the driver's memory: raise it or stop collecting. Wrapped
    // in "Job aborted due to stage failure" like the OOMs above, hence in this first group.
    id: 'oom-spark-max-result-size',
    category: 'resource_exhausted',
    confidence: 0.85,
    messageId: 'driverResultSize',
    defaults: { resource: 'memory', size: '(unknown)', limit: '(unknown)' },
    match: ({ text }) => {
      if (!/bigger than spark\.driver\.maxResultSize/i.test(text)) return null;
      const m = /serialized results of \d+ tasks \(([^)]+)\) is bigger than spark\.driver\.maxResultSize \(([^)]+)\)/i.exec(text);
      return compact({ resource: 'memory', size: m?.[1], limit: m?.[2] });
    },
  },
  {
    // Airflow's LocalTaskJob reports a SIGKILLed task this way; in practice that is almost always
    // the OOM killer, but an operator's `kill -9` looks the same — hence the lower confidence.
    id: 'oom-sigkill',
    category: 'resource_exhausted',
    confidence: 0.6,
    messageId: 'sigkill',
    defaults: { resource: 'memory' },
    match: ({ text }) => (/Negsignal\.SIGKILL|return code -9\b/i.test(text) ? { resource: 'memory' } : null),
  },
  {
    id: 'disk-full',
    category: 'resource_exhausted',
    confidence: 0.9,
    messageId: 'diskFull',
    defaults: { resource: 'disk', path: '(unknown path)' },
    match: ({ type, text }) => {
      if (!/No space left on device|ENOSPC|Disk quota exceeded|EDQUOT|not enough space on the disk|could not extend file|DiskFull/i.test(`${type} ${text}`)) return null;
      return compact({
        resource: 'disk',
        path: capture(text, /No space left on device: '([^']+)'/i, /(?:file|directory) "([^"]+)"/i),
      });
    },
  },
  {
    // A Kubernetes namespace ResourceQuota: only the platform can raise it.
    id: 'k8s-resource-quota',
    category: 'resource_exhausted',
    confidence: 0.85,
    messageId: 'quotaExceeded',
    assigneeRole: 'platform',
    defaults: { resource: 'quota', quota: '(unknown quota)' },
    match: ({ text }) => {
      const quota = capture(text, /exceeded quota: ([\w.-]+)/i);
      return quota !== undefined ? { resource: 'quota', quota } : null;
    },
  },
  {
    // Cloud API quotas (BigQuery "Quota exceeded: Your project exceeded quota for ...").
    // "Rate exceeded" (AWS throttling) is not a quota and is handled by the sink rules.
    id: 'quota-exceeded',
    category: 'resource_exhausted',
    confidence: 0.75,
    messageId: 'quotaExceeded',
    defaults: { resource: 'quota', quota: '(unknown quota)' },
    match: ({ text }) => {
      if (!/quota exceeded|exceeded (?:your |the )?quota|QuotaExceeded/i.test(text)) return null;
      return compact({ resource: 'quota', quota: capture(text, /exceeded quota for ([^.\n]+)/i, /quota exceeded: ([^.\n]+)/i) });
    },
  },

  // ---- sink_write_failure -------------------------------------------------------------------
  // Before the source and infra rules: a 503 or "Access Denied" from the lake storage would
  // otherwise read as an unavailable source or a generic transient error.
  {
    id: 'sink-aws-write',
    category: 'sink_write_failure',
    confidence: 0.9,
    messageId: 'sinkRejected',
    defaults: { operation: 'a write', code: '(unknown)', throttled: 'no', bucket: 'the lake bucket' },
    match: ({ text }) => {
      const b = botocore(text);
      if (!b || !WRITE_OPERATION.test(b.operation)) return null;
      const throttled = THROTTLE_CODE.test(b.code) || /rate exceeded|reduce your request rate/i.test(b.reason);
      return compact({ operation: b.operation, code: b.code, throttled: throttled ? 'yes' : 'no', bucket: bucketOf(text) });
    },
  },
  {
    // Glue / Lake Formation throttling: "Rate exceeded" without the S3-style operation context.
    id: 'sink-aws-rate-exceeded',
    category: 'sink_write_failure',
    confidence: 0.8,
    messageId: 'sinkThrottled',
    defaults: { operation: 'a write', code: 'ThrottlingException', throttled: 'yes', bucket: 'the lake bucket' },
    match: ({ text }) => {
      if (!/ThrottlingException|\bRate exceeded\b/i.test(text)) return null;
      return compact({ throttled: 'yes', operation: botocore(text)?.operation, code: botocore(text)?.code });
    },
  },
  {
    // Hadoop S3A / AWS SDK for Java, as Spark prints them when writing the lake.
    id: 'sink-s3a-slowdown',
    category: 'sink_write_failure',
    confidence: 0.85,
    messageId: 'sinkThrottled',
    defaults: { operation: 'a write', code: '503 Slow Down', throttled: 'yes', bucket: 'the lake bucket' },
    match: ({ text }) =>
      /AmazonS3Exception|AWSS3IOException|S3Exception|s3a:\/\//i.test(text) && /Slow ?Down|Status Code: 503|Please reduce your request rate/i.test(text)
        ? compact({ throttled: 'yes', bucket: bucketOf(text) })
        : null,
  },
  {
    // Without an operation name we cannot tell a read from a write; ingestion pipelines read from
    // databases and write to the lake, so an S3 403 is more likely the sink, at lower confidence.
    id: 'sink-s3-access-denied',
    category: 'sink_write_failure',
    confidence: 0.65,
    messageId: 'sinkRejected',
    defaults: { operation: 'a write', code: 'AccessDenied', throttled: 'no', bucket: 'the lake bucket' },
    match: ({ text }) =>
      /(AmazonS3Exception|AccessDeniedException|s3a:\/\/)[\s\S]*(Access Denied|Status Code: 403|AccessDenied)/i.test(text) ||
      /Insufficient Lake Formation permission/i.test(text)
        ? compact({ throttled: 'no', bucket: bucketOf(text) })
        : null,
  },
  {
    id: 'sink-azure-gcs',
    category: 'sink_write_failure',
    confidence: 0.75,
    messageId: 'sinkRejected',
    defaults: { operation: 'a write', code: '(unknown)', throttled: 'no', bucket: 'the lake bucket' },
    match: ({ text }) => {
      // google-cloud-storage prints `429 PUT https://storage.googleapis.com/upload/...`; only the
      // write methods count, a throttled GET is a read (the lake may be someone's source).
      const gcsWrite = /\b(429|403) (PUT|POST|PATCH|DELETE) https:\/\/storage\.googleapis\.com\//.exec(text);
      const bucket = bucketOf(text);
      if (
        /ServerBusy|Ingress is over the account limit|rate of change requests to the object .* exceeds the rate limit|exceeded the rate limit for object mutation|429 Too Many Requests.*storage\.googleapis/i.test(text) ||
        gcsWrite?.[1] === '429'
      ) {
        return compact({ throttled: 'yes', code: gcsWrite?.[1] ?? 'throttled', operation: gcsWrite?.[2], bucket });
      }
      if (/AuthorizationPermissionMismatch|not authorized to perform this operation using this permission|does not have storage\.objects\.(?:create|delete) access/i.test(text)) {
        return compact({ throttled: 'no', code: 'AccessDenied', operation: gcsWrite?.[2], bucket });
      }
      return null;
    },
  },

  // ---- source_replica_lag -------------------------------------------------------------------
  // Before source_unavailable: "terminating connection due to conflict with recovery" also
  // closes the connection, but the cause is the hot standby replaying WAL, not an outage.
  {
    id: 'replica-recovery-conflict',
    category: 'source_replica_lag',
    confidence: 0.85,
    messageId: 'replicaConflict',
    defaults: {},
    match: ({ text }) => (/due to conflict with recovery|User query might have needed to see row versions that must be removed|holding shared buffer pin for too long/i.test(text) ? {} : null),
  },
  {
    id: 'replica-lag-hint',
    category: 'source_replica_lag',
    confidence: 0.75,
    messageId: 'replicaLag',
    defaults: { lag: '(unknown)' },
    match: ({ text }) => {
      if (!/replica(?:tion)? lag|Seconds_Behind_(?:Master|Source)|replica is (?:behind|lagging)|standby is behind/i.test(text)) return null;
      return compact({ lag: capture(text, /(?:lag|Seconds_Behind_(?:Master|Source))[^\d\n]{0,20}(\d+(?:\.\d+)?\s*(?:s|sec|seconds|m|min|minutes)?)/i) });
    },
  },

  // ---- upstream_unhealthy / upstream_late ---------------------------------------------------
  // Before source_unavailable: a sensor's "timed out" is about waiting, not about connecting.
  // `details.upstream` is set only to an onboarded upstream *table* (the assignee resolver looks
  // it up in the catalog); the DAG named by the message goes to `upstream_dag`.
  {
    id: 'upstream-external-task-failed',
    category: 'upstream_unhealthy',
    confidence: 0.85,
    messageId: 'upstreamFailed',
    defaults: { upstream: 'the upstream DAG' },
    label: upstreamLabel,
    match: ({ text, upstreamTables }) => {
      if (/(?:The|Some of the) external (?:tasks?|DAG|task_group)\b[\s\S]*? failed/i.test(text)) {
        const dag = capture(text, /in DAG '?([\w.-]+?)'?\.? failed/i, /external DAG '?([\w.-]+?)'?\.? failed/i);
        return upstreamDetails(dag, upstreamTables);
      }
      if (/\bupstream_failed\b|Upstream task\(s\) failed|upstream task failed/i.test(text)) {
        return upstreamDetails(undefined, upstreamTables);
      }
      return null;
    },
  },
  {
    id: 'upstream-sensor-timeout',
    category: 'upstream_late',
    confidence: 0.85,
    messageId: 'sensorTimeout',
    defaults: { upstream: 'the upstream', timeout_s: '(unknown)' },
    label: upstreamLabel,
    match: ({ type, text, operator, upstreamTables }) => {
      const sensorTimeout =
        /AirflowSensorTimeout/.test(type) ||
        /Sensor has timed out|Snap\. Time is OUT|AirflowSensorTimeout/i.test(text) ||
        (/Sensor/.test(operator) && /timed out|timeout/i.test(text));
      if (!sensorTimeout) return null;
      const dag = capture(text, /external (?:DAG|dag_id)[ =:]+'?([\w.-]+?)'?(?:[\s,.]|$)/i);
      return {
        ...upstreamDetails(dag, upstreamTables),
        ...compact({ timeout_s: capture(text, /specified timeout of (\d+(?:\.\d+)?)/i, /timeout of (\d+(?:\.\d+)?)/i), sensor: operator || undefined }),
      };
    },
  },

  // ---- source_auth_failure ------------------------------------------------------------------
  // Before source_unavailable: libpq prints `connection to server at "h" ... failed: FATAL:
  // password authentication failed` — the connect failed, but because the password was wrong.
  {
    id: 'source-auth-rejected',
    category: 'source_auth_failure',
    confidence: 0.9,
    messageId: 'authRejected',
    defaults: { user: '(unknown user)', host: 'the source database' },
    match: ({ text, sourceName }) => {
      const user = capture(
        text,
        /password authentication failed for user "([^"]+)"/i,
        /Access denied for user '([^']+)'/i,
        /Login failed for user '([^']+)'/i,
        /role "([^"]+)" does not exist/i,
        /no pg_hba\.conf entry for host "[^"]+", user "([^"]+)"/i,
        /IAM authentication failed for user "([^"]+)"/i,
      );
      const matched =
        user !== undefined ||
        /password authentication failed|Access denied for user|Login failed for user|no pg_hba\.conf entry|ORA-01017|ORA-28000|ORA-28001|ORA-01045|Incorrect username or password|invalid username\/password|authentication failed|Authentication failure|SQL30082N/i.test(text);
      if (!matched) return null;
      const { host } = hostPort(text);
      return compact({ user, host: host ?? sourceName ?? undefined, code: capture(text, /(ORA-\d{5})/) });
    },
  },
  {
    id: 'source-permission-denied',
    category: 'source_auth_failure',
    confidence: 0.85,
    messageId: 'permissionDenied',
    defaults: { object: '(unknown object)' },
    match: ({ text }) => {
      const object = capture(
        text,
        /permission denied for (?:table|relation|schema|sequence|view|database|function) "?([\w.]+)"?/i,
        /command denied to user '[^']+'@'[^']+' for table '([^']+)'/i,
        /Access denied for user '[^']+'@'[^']+' to database '([^']+)'/i,
        /SELECT permission was denied on the object '([^']+)'/i,
        // BigQuery: `403 Access Denied: Table p:d.t: User does not have permission to query table p:d.t`.
        // A GCS write denial says storage.objects.create and was claimed by sink-azure-gcs above.
        /does not have permission to query table ([\w.:-]*[\w-])/i,
        /Access Denied: (?:Table|Dataset|Project) ([\w.:-]*[\w-]):? User does not have/i,
        /does not have bigquery\.[\w.]+ permission for (?:table|dataset|project) ([\w.:-]*[\w-])/i,
      );
      if (object !== undefined) return { object };
      return /InsufficientPrivilege|permission denied for|ORA-01031|ORA-00942.*privilege|insufficient privileges|User does not have (?:permission|bigquery\.[\w.]+ permission)/i.test(text) ? ({} as Details) : null;
    },
  },
  {
    id: 'source-token-expired',
    category: 'source_auth_failure',
    confidence: 0.8,
    messageId: 'credentialsExpired',
    defaults: {},
    // A write with an expired AWS token was already claimed by sink-aws-write above.
    match: ({ text }) =>
      /token (?:has |is )?expired|expired token|ExpiredToken|JWT expired|invalid_grant|password (?:has )?expired|ORA-28001|credentials? (?:have |has )?expired/i.test(text) ? {} : null,
  },

  // ---- source_schema_change -----------------------------------------------------------------
  {
    id: 'schema-column-missing',
    category: 'source_schema_change',
    confidence: 0.85,
    messageId: 'columnMissing',
    defaults: { column: '(unknown column)' },
    match: ({ type, text }) => {
      const raw = capture(
        text,
        /column "([^"]+)"(?: of relation "[^"]+")? does not exist/i, // PostgreSQL, quoted
        /column ([\w.]+) does not exist/i, // PostgreSQL, qualified: column o.tier does not exist
        /Unknown column '([^']+)' in '/i, // MySQL 1054
        /ORA-00904: ("?[\w$#]+"?(?:\."?[\w$#]+"?)*): invalid identifier/i, // Oracle
        /Invalid column name '([^']+)'/i, // SQL Server 207
        /invalid identifier '([^']+)'/i, // Snowflake
      );
      if (raw !== undefined) {
        const sourceTable = capture(text, /of relation "([^"]+)"/i);
        return compact({ column: bareIdentifier(raw), source_table: sourceTable });
      }
      return /UndefinedColumn$/.test(type) ? {} : null;
    },
  },
  {
    // Before schema-spark-unresolved-column: Spark resolves columns against the DataFrame the
    // job built, so when it suggests a column one or two edits away from the missing one
    // (`custmer_id` → `customer_id`), the job's own code has a typo; the source did not change.
    id: 'code-spark-column-typo',
    category: 'code_error',
    confidence: 0.7,
    messageId: 'columnTypo',
    defaults: { column: '(unknown column)', suggestion: '(unknown column)' },
    match: ({ text }) => {
      const raw = capture(
        text,
        /\[UNRESOLVED_COLUMN[.\w]*\] A column(?: or function parameter)? with name (`[^\n]*?`) cannot be resolved/i,
        /cannot resolve '(`?[^'\n]+?`?)' given input columns/i, // Spark < 3.4
      );
      if (raw === undefined) return null;
      const column = bareIdentifier(raw);
      const typo = typoOf(column, sparkColumnCandidates(text));
      return typo === null ? null : { column, suggestion: typo.suggestion, distance: typo.distance };
    },
  },
  {
    // Spark resolves columns against the DataFrame built in the pipeline's own code, so a
    // missing column is the source schema only most of the time (a typo looks the same).
    id: 'schema-spark-unresolved-column',
    category: 'source_schema_change',
    confidence: 0.7,
    messageId: 'columnMissing',
    defaults: { column: '(unknown column)' },
    match: ({ text }) => {
      const raw = capture(
        text,
        /\[UNRESOLVED_COLUMN[.\w]*\] A column(?: or function parameter)? with name (`[^\n]*?`) cannot be resolved/i,
        /cannot resolve '(`?[^'\n]+?`?)' given input columns/i, // Spark < 3.4
        /Column '(`?[^'\n]+?`?)' does not exist/i,
        /No such struct field (\w+)/i,
      );
      return raw !== undefined ? { column: bareIdentifier(raw) } : null;
    },
  },
  {
    id: 'schema-table-missing',
    category: 'source_schema_change',
    confidence: 0.8,
    messageId: 'tableMissing',
    defaults: { source_table: '(unknown table)' },
    match: ({ type, text }) => {
      const raw = capture(
        text,
        /relation "([^"]+)" does not exist/i, // PostgreSQL
        /Table '([^']+)' doesn't exist/i, // MySQL 1146
        /Invalid object name '([^']+)'/i, // SQL Server 208
        /\[TABLE_OR_VIEW_NOT_FOUND\] The table or view (`[^\n]*?`) cannot be found/i, // Spark >= 3.4
        /Table or view not found: ([\w.`]+)/i, // Spark < 3.4
        /Object '([^']+)' does not exist or not authorized/i, // Snowflake
      );
      // source_table, not table: `table` is the lake table in the manual steps.
      if (raw !== undefined) return { source_table: stripQuotes(raw) };
      return /ORA-00942|UndefinedTable$/.test(`${text} ${type}`) ? ({} as Details) : null;
    },
  },

  {
    // Files whose column types changed under the table's schema (a supplier's Parquet DECIMAL
    // becoming DOUBLE). No "does not exist" wording, but the source's schema is what moved.
    id: 'schema-type-changed',
    category: 'source_schema_change',
    confidence: 0.8,
    messageId: 'columnTypeChanged',
    defaults: { column: '(unknown column)', expected: '(unknown type)', found: '(unknown type)' },
    match: ({ type, text }) => {
      if (!/Parquet column cannot be converted|PARQUET_COLUMN_DATA_TYPE_MISMATCH|SchemaColumnConvertNotSupportedException/i.test(`${type} ${text}`)) return null;
      return compact({
        // Spark 3.x: `Column: [price], Expected: decimal(10,2), Found: DOUBLE`;
        // Spark 4: `reading Parquet column `price`. Expected Spark type ..., actual Parquet type ...`.
        column: capture(text, /Column: \[([^\]\n]+)\]/i, /reading Parquet column `?([\w.]+?)`?\./i),
        expected: capture(text, new RegExp(`Expected: ${SQL_TYPE}`, 'i'), new RegExp(`Expected Spark type "?${SQL_TYPE}`, 'i')),
        found: capture(text, new RegExp(`Found: ${SQL_TYPE}`, 'i'), new RegExp(`actual Parquet type "?${SQL_TYPE}`, 'i')),
      });
    },
  },

  // ---- source_unavailable -------------------------------------------------------------------
  {
    id: 'source-dns',
    category: 'source_unavailable',
    confidence: 0.9,
    messageId: 'sourceDns',
    defaults: { host: 'the source database' },
    match: (input) => {
      if (!/could not translate host name|Name or service not known|Temporary failure in name resolution|nodename nor servname provided|Unknown MySQL server host|getaddrinfo failed|UnknownHostException|No address associated with hostname/i.test(input.text)) return null;
      const { host, port } = hostPort(input.text);
      return compact({ host: host ?? capture(input.text, /UnknownHostException:\s*([\w.-]+)/) ?? input.sourceName ?? undefined, port });
    },
  },
  {
    // Before source-timeout: a *statement* timeout (PostgreSQL statement_timeout, Snowflake
    // STATEMENT_TIMEOUT_IN_SECONDS, SQL Server's "Query timeout expired") means the query ran
    // longer than the source allows, not that connecting failed. Why it ran long (volume, a plan
    // change, a busy warehouse) is for the history analysers, hence the low confidence, as for
    // AirflowTaskTimeout below.
    id: 'runtime-statement-timeout',
    category: 'runtime_regression',
    confidence: 0.5,
    messageId: 'statementTimeout',
    defaults: { timeout: 'its configured limit' },
    match: ({ text }) => {
      if (!/canceling statement due to statement timeout|reached its statement or warehouse timeout|maximum statement execution time exceeded|Query timeout expired/i.test(text)) return null;
      const seconds = capture(text, /timeout of ([\d,]+) second/i);
      return compact({ timeout: seconds === undefined ? undefined : `${seconds.replace(/,/g, '')} s` });
    },
  },
  {
    // Before source-refused: libpq's "could not connect to server: Connection timed out" is a
    // timeout, which says more (a firewall or a hung host) than the generic connect failure.
    id: 'source-timeout',
    category: 'source_unavailable',
    confidence: 0.8,
    messageId: 'sourceTimeout',
    defaults: { host: 'the source database' },
    match: (input) => {
      const timeout =
        /ORA-12170|TNS:Connect timeout|Connect timed out|connect_timeout|Login timeout expired/i.test(input.text) ||
        (/timeout expired|timed out|Connection timed out/i.test(input.text) && (input.fromDbDriver || DB_DRIVER_TEXT.test(input.text)));
      if (!timeout) return null;
      const { host, port } = hostPort(input.text);
      return compact({ host: host ?? input.sourceName ?? undefined, port });
    },
  },
  {
    id: 'source-refused',
    category: 'source_unavailable',
    confidence: 0.9,
    messageId: 'sourceRefused',
    defaults: { host: 'the source database' },
    match: (input) => {
      const dbRefused =
        /Can't connect to MySQL server|ORA-12541|ORA-12514|ORA-12505|TNS:no listener|the database system is (?:starting up|shutting down|in recovery mode)|Communications link failure|Connection to [\w.-]+:\d+ refused/i.test(input.text) ||
        (/Connection refused|could not connect to server/i.test(input.text) && (input.fromDbDriver || DB_DRIVER_TEXT.test(input.text)));
      if (!dbRefused) return null;
      const { host, port } = hostPort(input.text);
      return compact({ host: host ?? input.sourceName ?? undefined, port });
    },
  },
  {
    // Cloud warehouses reached over HTTPS: the connector gives up after its own retries and
    // prints no socket error. Wrong credentials also come as 250001 but were matched by
    // source-auth-rejected above ("Incorrect username or password").
    id: 'source-warehouse-unreachable',
    category: 'source_unavailable',
    confidence: 0.8,
    messageId: 'sourceUnreachable',
    defaults: { host: 'warehouse' },
    match: (input) => {
      if (!/Could not connect to Snowflake backend|250003: Failed to get the response|Failed to connect to DB: [\w.-]+\.snowflakecomputing\.com/i.test(input.text)) return null;
      const host = capture(input.text, /([\w.-]+\.snowflakecomputing\.com)/i);
      return compact({ host: host ?? input.sourceName ?? undefined });
    },
  },
  {
    // The source closed or dropped the connection mid-query, or refuses new ones. Lower
    // confidence: a crash, a failover or a killed long query all look alike from the client.
    id: 'source-connection-lost',
    category: 'source_unavailable',
    confidence: 0.65,
    messageId: 'sourceLost',
    defaults: { host: 'the source database' },
    match: (input) => {
      const lost =
        /server closed the connection unexpectedly|Lost connection to MySQL server|MySQL server has gone away|too many clients already|Too many connections|remaining connection slots are reserved|ORA-03113|ORA-03114|terminating connection due to administrator command/i.test(input.text) ||
        (/Connection reset by peer|SSL SYSCALL error|EOF detected|Broken pipe/i.test(input.text) && input.fromDbDriver);
      if (!lost) return null;
      const { host, port } = hostPort(input.text);
      return compact({ host: host ?? input.sourceName ?? undefined, port });
    },
  },
  {
    // Before source-refused-generic: a refused connection to one of the platform's own hosts is
    // not the source being down. Spark executors fetch shuffle blocks from each other (the
    // external shuffle service on 7337, the BlockManager): a lost node refuses them. Kubernetes
    // service names (*.svc, *.svc.cluster.local) are in-cluster services the platform runs (a
    // schema registry, a metadata proxy). Not before the database rules: a database run
    // in-cluster is still the source, and its driver's wording was matched above.
    id: 'infra-internal-refused',
    category: 'infra_transient',
    confidence: 0.7,
    messageId: 'internalService',
    defaults: { service: 'an internal service', status: 'connection refused' },
    match: (input) => {
      const refused = /Connection refused|ConnectionRefusedError|ECONNREFUSED|Failed to establish a new connection|Failed to connect to/i.test(`${input.type} ${input.text}`);
      if (!refused) return null;
      if (SPARK_SHUFFLE.test(input.text)) {
        const host = capture(input.text, /Failed to connect to ([\w.-]+)[/:]/i, /Connection refused: ([\w.-]+)[/:]/i);
        return { service: host === undefined ? 'the Spark shuffle service' : `the Spark shuffle service on ${host}`, status: 'connection refused' };
      }
      const host = hostPort(input.text).host ?? capture(input.text, /Failed to connect to ([\w.-]+)[/:]/i, /Connection refused: ([\w.-]+)[/:]/i);
      if (host === undefined || !INTERNAL_SERVICE_HOST.test(host)) return null;
      return { service: host, status: 'connection refused' };
    },
  },
  {
    // A refused connection with no database context. Most connections an ingestion task makes
    // are to its source, but it may be an internal service, hence the lower confidence.
    id: 'source-refused-generic',
    category: 'source_unavailable',
    confidence: 0.6,
    messageId: 'sourceRefused',
    defaults: { host: 'the source database' },
    match: (input) => {
      if (!/Connection refused|ConnectionRefusedError|ECONNREFUSED|Failed to establish a new connection/i.test(`${input.type} ${input.text}`)) return null;
      const { host, port } = hostPort(input.text);
      return compact({ host: host ?? input.sourceName ?? undefined, port });
    },
  },

  // ---- source_data_issue --------------------------------------------------------------------
  // Only where the text says the data itself is malformed or missing. Casts that fail
  // ("invalid input syntax for type integer") are the source's data nine times out of ten, but
  // the pipeline may cast the wrong column: kept at a confidence later analysers can overrule.
  {
    id: 'data-malformed-file',
    category: 'source_data_issue',
    confidence: 0.75,
    messageId: 'dataMalformed',
    defaults: { detail: 'malformed records' },
    match: ({ type, text }) => {
      const detail = capture(
        text,
        /(Malformed (?:CSV |JSON )?records? (?:are |is )?detected[^\n]*)/i,
        /(Error tokenizing data\.[^\n]*)/i,
        /(No columns to parse from file)/i,
        /(invalid byte sequence for encoding "[^"]+": [^\n]*)/i,
        /(Incorrect string value: '[^']*' for column [^\n]*)/i,
        // Confluent-framed Avro/Protobuf: a record some producer wrote in another format.
        /((?:Unexpected|Unknown) magic byte[^\n".!]*)/i,
      );
      if (detail !== undefined) return { detail: detail.trim() };
      if (/_(?:VALUE|KEY)_DESERIALIZATION\b|(?:Value|Key)DeserializationError$/.test(`${text} ${type}`)) {
        return { detail: 'a record could not be deserialised' };
      }
      return /EmptyDataError$/.test(type) ? { detail: 'the source file is empty' } : null;
    },
  },
  {
    id: 'data-invalid-value',
    category: 'source_data_issue',
    confidence: 0.6,
    messageId: 'dataInvalidValue',
    defaults: { detail: 'an invalid value' },
    match: ({ text }) => {
      const detail = capture(
        text,
        /(invalid input syntax for (?:type )?[\w ]+: "[^"\n]*")/i,
        /(date\/time field value out of range: "[^"\n]*")/i,
        /(Incorrect (?:datetime|date|integer|decimal) value: '[^'\n]*'[^\n]*)/i,
        // Python's own casts. ValueError as a type stays unknown (see PY_CODE_ERRORS); these two
        // messages quote the value that failed, which is almost always the data's.
        /(could not convert string to float: '[^'\n]*')/i,
        /(invalid literal for int\(\) with base \d+: '[^'\n]*')/i,
      );
      return detail !== undefined ? { detail } : null;
    },
  },

  // ---- infra_transient ----------------------------------------------------------------------
  {
    id: 'infra-zombie',
    category: 'infra_transient',
    confidence: 0.85,
    messageId: 'zombie',
    defaults: { detail: 'zombie task' },
    match: ({ text }) => (/detected as zombie|Detected zombie job|as zombie\b|zombie task/i.test(text) ? { detail: 'the task was detected as a zombie (heartbeat lost)' } : null),
  },
  {
    id: 'infra-sigterm',
    category: 'infra_transient',
    confidence: 0.75,
    messageId: 'killedExternally',
    defaults: { detail: 'the task received SIGTERM' },
    match: ({ text }) => (/received SIGTERM|Received SIGTERM\. Terminating subprocesses|Task received SIGTERM signal/i.test(text) ? {} : null),
  },
  {
    id: 'infra-executor-mismatch',
    category: 'infra_transient',
    confidence: 0.8,
    messageId: 'killedExternally',
    defaults: { detail: 'the executor lost track of the task' },
    match: ({ text }) =>
      /Executor reports task instance .* finished \(\w+\) although the task says (?:it's|its) \w+|Was the task killed externally\?/is.test(text)
        ? { detail: 'the executor reported the task finished while Airflow thought it was still queued or running' }
        : null,
  },
  {
    // Before infra-pod-evicted (which takes "Pod launching failed"): a pod that cannot start
    // because its image tag does not exist in the registry is a deploy mistake in the pipeline
    // (a tag never pushed, a typo), not a platform fault. Only "not found"/"manifest unknown":
    // a registry that times out or refuses is not matched here.
    id: 'code-image-not-found',
    category: 'code_error',
    confidence: 0.75,
    messageId: 'imageMissing',
    defaults: { image: '(unknown image)' },
    match: ({ text }) => {
      if (!/ErrImagePull|ImagePullBackOff|InvalidImageName/.test(text)) return null;
      if (!/\bnot found\b|manifest unknown|NotFound|InvalidImageName/i.test(text)) return null;
      return compact({ image: capture(text, /(?:pull and unpack image|pull image|resolve reference) "([^"]+)"/i, /manifest for ([^\s]+) not found/i) });
    },
  },
  {
    // Node pressure evictions mention "low on resource: memory" but the node, not the task's
    // own limit, ran short; the task's own OOM (OOMKilled, 137) was matched above. A node
    // shutdown (spot reclaim, upgrade) terminates the pod the same way.
    id: 'infra-pod-evicted',
    category: 'infra_transient',
    confidence: 0.8,
    messageId: 'podEvicted',
    defaults: { detail: 'the pod was evicted' },
    match: ({ text }) => {
      if (!/\bEvicted\b|pod (?:was )?evicted|The node was low on resource|Pod took (?:longer|too long) than \d+ seconds to start|Pod launching failed|Container released on a \*lost\* node|preempted|in response to imminent node shutdown|\bNodeShutdown\b/i.test(text)) return null;
      return compact({
        detail: capture(
          text,
          /(The node was low on resource: [\w-]+)/i,
          /(Pod (?:took|launching)[^\n.]*)/i,
          /(Container released on a \*lost\* node)/i,
          /((?:Pod was )?terminated in response to imminent node shutdown)/i,
        ),
      });
    },
  },
  {
    // A Spark executor lost for a reason other than memory (memory was matched above).
    id: 'infra-executor-lost',
    category: 'infra_transient',
    confidence: 0.6,
    messageId: 'workerLost',
    defaults: { detail: 'an executor was lost' },
    match: ({ text }) => (/ExecutorLostFailure|Slave lost|Executor heartbeat timed out/i.test(text) ? {} : null),
  },
  {
    id: 'infra-worker-lost',
    category: 'infra_transient',
    confidence: 0.75,
    messageId: 'workerLost',
    defaults: { detail: 'the worker was lost' },
    match: ({ type, text }) => (/WorkerLostError|Worker lost|Worker exited prematurely/i.test(`${type} ${text}`) ? {} : null),
  },
  {
    id: 'infra-k8s-api-5xx',
    category: 'infra_transient',
    confidence: 0.75,
    messageId: 'internalService',
    defaults: { service: 'the Kubernetes API', status: '5xx' },
    match: ({ type, message, text }) => {
      if (!/ApiException/.test(`${type} ${text}`)) return null;
      // 429 is the API server shedding load: as transient as a 5xx.
      const status = capture(message, /^\s*\((5\d\d|429)\)/) ?? capture(text, /ApiException: \((5\d\d|429)\)/, /Status(?: Code)?[: ]+(5\d\d|429)\b/i);
      return status !== undefined ? { service: 'the Kubernetes API', status: Number(status) } : null;
    },
  },
  {
    // Connection resets and broken pipes with no database context: an internal service
    // (the metadata DB proxy, a REST hop, the Spark driver) dropped us.
    id: 'infra-connection-reset',
    category: 'infra_transient',
    confidence: 0.6,
    messageId: 'internalService',
    defaults: { service: 'an internal service', status: 'connection dropped' },
    match: ({ type, text }) => {
      if (!/Connection reset by peer|ConnectionResetError|BrokenPipeError|Broken pipe|Remote end closed connection without response|RemoteDisconnected|ECONNRESET|IncompleteRead|Read timed out/i.test(`${type} ${text}`)) return null;
      const { host } = hostPort(text);
      return compact({ service: host });
    },
  },

  // ---- runtime_regression -------------------------------------------------------------------
  // The task hit its execution_timeout. That it ran too long is certain; why (volume, a slow
  // source, a regression) is for airflow-history to say, hence a confidence below most thresholds.
  {
    id: 'runtime-execution-timeout',
    category: 'runtime_regression',
    confidence: 0.5,
    messageId: 'executionTimeout',
    defaults: {},
    match: ({ type, text }) => (/AirflowTaskTimeout/.test(`${type} ${text}`) ? {} : null),
  },

  // ---- code_error ---------------------------------------------------------------------------
  // Last: a bug is what is left when the text names no external cause.
  {
    id: 'code-sql-syntax',
    category: 'code_error',
    confidence: 0.9,
    messageId: 'sqlError',
    defaults: { detail: 'SQL syntax error' },
    match: ({ text }) => {
      const detail = capture(
        text,
        /(syntax error at or near "[^"\n]*")/i,
        /(syntax error at end of input)/i,
        /(You have an error in your SQL syntax[^\n]*?)(?:\s+at line|\)|$)/im,
        /(\[PARSE_SYNTAX_ERROR\][^\n]*)/,
        /(mismatched input '[^'\n]*' expecting[^\n]*)/i,
        /(ORA-009(?:33|36|07|17|23)[^\n]*)/,
        /(column reference "[^"]+" is ambiguous)/i,
        /(function [\w.]+\([^)]*\) does not exist)/i,
        /(operator does not exist: [^\n]*)/i,
        /(\[UNRESOLVED_ROUTINE\][^\n]*)/,
        /(Incorrect syntax near '[^']*')/i,
        /(syntax error line \d+ at position \d+(?: unexpected '[^'\n]*')?)/i, // Snowflake 001003
      );
      return detail !== undefined ? { detail } : null;
    },
  },
  {
    // dbt (astronomer-cosmos, BashOperator) fails to compile the project: a ref() or source()
    // to a node that does not exist, a Jinja error in a model. Nothing ran against a database.
    id: 'code-dbt-compilation',
    category: 'code_error',
    confidence: 0.85,
    messageId: 'dbtCompilation',
    defaults: { model: 'a model', detail: 'compilation error' },
    match: ({ text }) => {
      if (!/Compilation Error\b|depends on a node named .{1,200}? which was not found/is.test(text)) return null;
      // The message often arrives as a repr()'d tuple, its quotes escaped: named \'stg_refunds\'.
      const node = capture(text, /depends on a node named \\?'([^'\\]+)\\?' which was not found/i);
      return compact({
        model: capture(text, /Compilation Error in (?:model|test|snapshot|seed|analysis|macro|source|exposure) ([\w.]+)/i),
        node,
        detail: node === undefined ? undefined : `it depends on ${node}, which was not found`,
      });
    },
  },
  {
    id: 'code-template',
    category: 'code_error',
    confidence: 0.85,
    messageId: 'templateError',
    defaults: { detail: 'template error' },
    match: ({ type, text }) => {
      if (!/jinja2|UndefinedError|TemplateSyntaxError|is undefined|Error rendering template|TemplateNotFound/i.test(`${type} ${text}`)) return null;
      return compact({ detail: capture(text, /('[^'\n]+' is undefined)/, /(TemplateSyntaxError[^\n]*)/, /(TemplateNotFound[^\n]*)/) });
    },
  },
  {
    // The non-idempotent load is the usual cause (a re-run inserting the same keys); duplicate
    // rows in the source are possible too, so this stays below the stop threshold.
    id: 'code-duplicate-key',
    category: 'code_error',
    confidence: 0.5,
    messageId: 'duplicateKey',
    defaults: { constraint: '(unknown constraint)' },
    match: ({ text }) => {
      if (!/duplicate key value violates unique constraint|Duplicate entry '.*' for key|ORA-00001|Violation of PRIMARY KEY constraint/i.test(text)) return null;
      return compact({ constraint: capture(text, /unique constraint "([^"]+)"/i, /for key '([^']+)'/i, /ORA-00001: unique constraint \(([^)]+)\)/i) });
    },
  },
  {
    // "Data too long for column": the pipeline's target DDL is narrower than the data. Could be
    // a new, longer value at the source, but the fix is in the pipeline's schema.
    id: 'code-data-truncation',
    category: 'code_error',
    confidence: 0.55,
    messageId: 'dataTruncation',
    defaults: { column: '(unknown column)' },
    match: ({ text }) => {
      if (!/Data truncation|Data too long for column|value too long for type|String or binary data would be truncated/i.test(text)) return null;
      return compact({ column: capture(text, /for column '([^']+)'/i, /in table '[^']+', column '([^']+)'/i) });
    },
  },
  {
    id: 'code-python-jvm-exception',
    category: 'code_error',
    confidence: 0.8,
    messageId: 'codeException',
    defaults: { error: '(unknown error)' },
    match: ({ type, message }) => {
      const fromType = PY_CODE_ERROR_TYPE.exec(type)?.[1];
      // Spark's PythonException / Py4JJavaError wrap the user's traceback; its last line names it.
      const fromMessage = PY_CODE_ERROR_LINE.exec(message)?.[1];
      const error = fromType ?? fromMessage;
      return error !== undefined ? { error } : null;
    },
  },
];

const messages: Record<string, string> = {
  oomContainer: 'The container was killed for exceeding its memory limit ({used} of {limit} used).',
  oomKilled: 'The task was OOM-killed (exit code 137): it needs more memory or smaller batches.',
  oomProcess: 'The task ran out of memory ({detail}).',
  sigkill: 'The task was SIGKILLed, most likely by the out-of-memory killer.',
  diskFull: 'A disk filled up while the task ran ({path}).',
  quotaExceeded: 'A resource quota was exceeded ({quota}).',
  sinkRejected: 'The lake storage rejected {operation} to {bucket} ({code}; throttled: {throttled}).',
  sinkThrottled: 'The lake storage throttled {operation} ({code}): too many requests.',
  replicaConflict: 'The source read replica cancelled the query because it conflicted with WAL replay (replica lag).',
  replicaLag: 'The source read replica is lagging behind its primary (lag {lag}).',
  upstreamFailed: 'The upstream {upstream} failed, so this task could not run.',
  sensorTimeout: 'The sensor waiting for {upstream} timed out after {timeout_s} s: the upstream has not landed.',
  authRejected: 'The source {host} rejected the credentials of {user}.',
  permissionDenied: 'The pipeline\'s user lacks a permission on the source ({object}).',
  credentialsExpired: 'The credentials or token used to read the source have expired.',
  columnMissing: 'The column {column} the pipeline reads no longer exists at the source.',
  tableMissing: 'The table {source_table} the pipeline reads no longer exists at the source.',
  sourceDns: 'The source host {host} could not be resolved (DNS).',
  sourceRefused: 'The source {host} refused the connection ({type}).',
  sourceTimeout: 'Connecting to the source {host} timed out ({type}).',
  sourceLost: 'The source {host} dropped or refused the connection ({type}).',
  dataMalformed: 'The source data is malformed: {detail}.',
  dataInvalidValue: 'The source holds a value the pipeline cannot parse: {detail}.',
  zombie: 'Airflow lost the task\'s heartbeat ({detail}); the worker likely died.',
  killedExternally: 'The task was stopped from outside ({detail}).',
  podEvicted: 'The task\'s pod or node went away ({detail}).',
  workerLost: 'The worker or executor running the task was lost ({detail}).',
  internalService: 'A call to {service} failed transiently ({status}).',
  executionTimeout: 'The task exceeded its execution_timeout ({type}).',
  sqlError: 'The pipeline\'s SQL is invalid: {detail}.',
  templateError: 'A Jinja template in the DAG failed to render: {detail}.',
  duplicateKey: 'The load inserted a duplicate key ({constraint}); the load is probably not idempotent.',
  dataTruncation: 'A value is too long for the target column {column}.',
  codeException: 'The pipeline\'s code raised {error} ({type}).',
  driverResultSize: 'The Spark driver was sent more than spark.driver.maxResultSize ({size} of {limit}): collect less to the driver or raise the limit.',
  columnTypo: 'The job refers to the column {column}, which does not exist; {suggestion} does: most likely a typo in the job.',
  columnTypeChanged: 'The column {column} changed type at the source (expected {expected}, found {found}).',
  sourceUnreachable: 'The source {host} could not be reached ({type}).',
  statementTimeout: 'The source cancelled the query at its statement timeout ({timeout}): the query ran longer than allowed.',
  imageMissing: 'The task\'s image {image} does not exist in the registry (a tag never pushed, or a typo in the DAG).',
  dbtCompilation: 'dbt could not compile {model}: {detail}.',
};

function stringOrEmpty(value: unknown): string {
  return typeof value === 'string' ? value : '';
}

function classify(input: RuleInput): { rule: Rule; details: Details } | null {
  for (const rule of RULES) {
    const extracted = rule.match(input);
    if (extracted !== null) return { rule, details: extracted };
  }
  return null;
}

/** Exposed for tests and for documentation of the order. */
export const RULE_IDS: readonly string[] = RULES.map((r) => r.id);

const exceptionClassifier: Analyser = {
  meta: {
    id: 'exception-classifier',
    version: '1',
    description: 'Classifies the failing task\'s exception type and message into a root-cause category with an ordered rule table.',
    appliesTo: ['failure'],
    messages,
  },

  analyse(ctx: AnalyserContext) {
    const exception = ctx.signal.exception;
    if (exception === null || (exception.type === '' && exception.message === '')) {
      return { observations: { exception: null } };
    }
    const type = exception.type ?? '';
    const message = exception.message ?? '';
    const operator = stringOrEmpty(ctx.signal.payload['operator']);
    const input: RuleInput = {
      type,
      message,
      text: `${type}: ${message}`,
      operator,
      fromDbDriver: DB_DRIVER_TYPE.test(type),
      sourceName: ctx.catalog.table?.source?.name ?? null,
      upstreamTables: ctx.catalog.upstream.map((t) => ({ name: t.name, dagId: t.pipeline?.dag_id ?? null })),
    };

    const hit = classify(input);
    const observations: Record<string, unknown> = {
      exception_type: type,
      operator: operator || null,
      rule: hit?.rule.id ?? null,
    };
    if (!hit) return { observations, verdict: null };

    observations['category'] = hit.rule.category;
    const verdict: Verdict = {
      category: hit.rule.category,
      confidence: hit.rule.confidence,
      summary: {
        messageId: hit.rule.messageId,
        data: { type: type || '(unknown type)', ...(hit.rule.defaults ?? {}), ...hit.details, ...(hit.rule.label?.(hit.details) ?? {}) },
      },
      details: hit.details,
    };
    const role = hit.rule.assigneeRole ?? DEFAULT_ASSIGNEE_ROLE[hit.rule.category];
    if (role !== DEFAULT_ASSIGNEE_ROLE[hit.rule.category]) verdict.assigneeRole = role;
    return { observations, verdict };
  },
};

export default exceptionClassifier;
