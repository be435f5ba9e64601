import type { Analyser, AnalyserContext, AnalyserResult, EvidenceEntry, Finding, Verdict } from '../types.ts';
import type { Category } from '../taxonomy.ts';
import type { TableSource } from '../../catalog/types.ts';
import { envName } from '../../config.ts';
import { untilAborted } from '../../clients/lookupCache.ts';
import {
  describeProbeError, lookupColumn, lookupTable, parseDsn, probeReachable, redactDsn, replicaStatus, UNREACHABLE_CODES,
  type ColumnLookup, type ParsedDsn, type ProbeErrorCode, type ReachableResult, type ReplicaStatus, type TableLookup,
} from '../../clients/sourceProbe.ts';

/**
 * source-database: asks the failing table's source database what the exception text can only
 * suggest (DESIGN 5) — is it reachable, does it accept Medic's credentials, is the read replica
 * behind, is the column or table the pipeline reads still there. A confirmation by the source is
 * a verdict at 0.95 (CONFIDENT: it ends the chain); when the source contradicts an earlier guess
 * the analyser says so in a finding and gives no verdict, so the guess stands at its own, lower
 * confidence (see {@link conclude} for why it does not overrule it).
 *
 * Every probe goes through `helpers.cache` (one key per source and question), so 500 failures
 * of one dead source cost a handful of connection attempts. The shared probe is deliberately not
 * bound to the caller's AbortSignal: one diagnosis running out of time must not abort (and cache
 * as failed) the probe the other 499 are waiting on. Each caller stops waiting on its own
 * signal instead; the probe itself is bounded by its connect (3 s) and statement (3 s) timeouts.
 *
 * DSNs carry passwords: only `scheme://host:port/database` ever reaches observations or logs.
 */

type Details = Record<string, string | number>;

const messages: Record<string, string> = {
  // verdict summaries
  unreachable: 'The source {source} ({endpoint}) does not answer: {reason}.',
  authFailed: 'The source {source} ({endpoint}) rejected the credentials of {user}: {error}.',
  replicaLag: 'The source replica {source} is {lag_s} s behind its primary (threshold {threshold_s} s).',
  columnMissingOnTable: 'The column {column} no longer exists on {source_table} at the source {source}.',
  columnMissing: 'No table at the source {source} has a column {column} any more.',
  tableMissing: 'The table {source_table} does not exist at the source {source}.',
  // findings
  notConfigured: 'Medic has no DSN for the source {source}: set {env_var} to let it check reachability, replica lag and the schema.',
  dsnInvalid: 'The DSN configured for the source {source} ({env_var}) cannot be used: {error}.',
  connectFailed: 'Connecting to the source {source} ({endpoint}) failed ({error_code}): {error}.',
  transient: 'The source {source} answers now: the outage was transient.',
  authOk: 'The source {source} accepts Medic\'s own credentials: the pipeline\'s credentials or grants may differ from them.',
  lagWithin: 'The replica {source} is {lag_s} s behind its primary, within the {threshold_s} s threshold.',
  lagUnknown: 'The source {source} is a replica, but its lag cannot be measured (replication running: {running}).',
  notReplica: 'The source {source} is a primary, not a read replica: replica lag does not apply.',
  lagCheckFailed: 'Measuring the replica lag of {source} failed: {error}.',
  columnExists: 'The column {column} exists on the source ({found}): the pipeline\'s query may be wrong.',
  tableExists: 'The table {source_table} exists on the source ({found}): the pipeline may read it from another database or under another user.',
  schemaCheckFailed: 'Checking {what} on the source {source} failed: {error}.',
};

const REASONS: Record<ProbeErrorCode, string> = {
  connection_refused: 'connection refused',
  host_not_found: 'the host name does not resolve (DNS)',
  timeout: 'connecting timed out',
  connection_lost: 'the connection was dropped before the handshake completed',
  server_not_ready: 'the server is starting up, shutting down or recovering',
  too_many_connections: 'no free connection slots (max_connections)',
  auth_failed: 'credentials rejected',
  database_not_found: 'the database does not exist',
  tls_error: 'TLS negotiation failed',
  error: 'connection error',
};

/** A DB driver's exception type (Python, JVM): the failure touched a database, so asking the source is worthwhile. */
const DB_DRIVER_TYPE =
  /psycopg|pg8000|asyncpg|pymysql|mysqldb|_mysql|mysql\.connector|mariadb|cx_oracle|oracledb|pyodbc|pymssql|sqlalchemy|redshift_connector|PSQLException|jdbc|SQLException|SQLRecoverableException|SQLTransientConnectionException|CommunicationsException|OperationalError|DatabaseError|InterfaceError/i;

/** The earlier verdict the analyser weighs: the most confident one (the chain only gets here when none reached CONFIDENT). */
export interface EarlierVerdict {
  analyser: string;
  category: Category;
  confidence: number;
  details: Details;
}

export function earlierVerdict(earlier: readonly EvidenceEntry[]): EarlierVerdict | null {
  let best: EarlierVerdict | null = null;
  for (const entry of earlier) {
    const v = entry.verdict;
    if (v && (!best || v.confidence > best.confidence)) {
      best = { analyser: entry.analyser, category: v.category, confidence: v.confidence, details: v.details ?? {} };
    }
  }
  return best;
}

export type RunDecision =
  | { run: true; reason: 'earlier_source_verdict' | 'no_earlier_verdict' | 'db_driver_exception' }
  | { run: false; reason: 'no_source' | 'unrelated_verdict' };

/**
 * Whether asking the source can help: only for an onboarded table with a source, and only when
 * an earlier analyser suspects the source, nobody has an idea yet, or the exception comes from a
 * database driver. An OOM or a sensor timeout is not worth a connection to someone's database.
 */
export function shouldProbe(input: { source: TableSource | null | undefined; earlier: EarlierVerdict | null; exceptionType: string | null | undefined }): RunDecision {
  if (!input.source?.name) return { run: false, reason: 'no_source' };
  if (input.earlier === null) return { run: true, reason: 'no_earlier_verdict' };
  if (input.earlier.category.startsWith('source_')) return { run: true, reason: 'earlier_source_verdict' };
  if (input.exceptionType && DB_DRIVER_TYPE.test(input.exceptionType)) return { run: true, reason: 'db_driver_exception' };
  return { run: false, reason: 'unrelated_verdict' };
}

/** What the earlier verdict asks to verify in the schema. */
export interface SchemaTarget {
  column: string | null;
  sourceTable: string | null;
}

function named(value: unknown): string | null {
  // Rule defaults such as "(unknown column)" are placeholders, not names.
  return typeof value === 'string' && value.trim() !== '' && !value.startsWith('(') ? value.trim() : null;
}

/**
 * The column / table to look up: only from a `source_schema_change` guess. Other categories
 * name columns too (code_error's "Data too long for column" is the lake's column), and checking
 * those at the source would turn a lake-side problem into a "confirmed" schema change.
 */
export function schemaTarget(earlier: EarlierVerdict | null): SchemaTarget | null {
  if (earlier?.category !== 'source_schema_change') return null;
  const column = named(earlier.details['column']);
  const sourceTable = named(earlier.details['source_table']);
  return column === null && sourceTable === null ? null : { column, sourceTable };
}

/** The settled answers of the probes; `error` when a probe itself failed. */
export interface SourceFacts {
  source: string;
  /** host:port, for summaries and the manual steps. */
  endpoint: { host: string; port: number; user: string | null };
  earlier: EarlierVerdict | null;
  reach: ReachableResult;
  /** null: not asked (unreachable). */
  replica: { status: ReplicaStatus } | { error: string } | null;
  thresholdS: number;
  /** null: nothing to check. */
  schema: { target: SchemaTarget; lookup: ColumnLookup | TableLookup } | { target: SchemaTarget; error: string } | null;
}

/**
 * Facts → verdict and findings. Order matters:
 *  1. unreachable (refused, DNS, timeout, dropped, not ready, full) ⇒ source_unavailable 0.95;
 *  2. credentials rejected ⇒ source_auth_failure 0.95 (Medic's credentials, see the summary);
 *     any other connection error (database missing, TLS, unknown) ⇒ a finding only;
 *  3. replica lag above the threshold ⇒ source_replica_lag 0.95 — before the schema, because a
 *     column added on the primary and not yet replayed is "missing" on a lagging replica;
 *  4. the guessed column / table missing ⇒ source_schema_change 0.95; present ⇒ a finding.
 * When the source contradicts the earlier guess (it answers although the classifier read
 * "connection refused"; the lag is within the threshold; the column is there) there is no
 * verdict, only the finding: the failure happened in the past and the source's answer now does
 * not prove the guess wrong (an outage can be over, a lag can have caught up), so the guess
 * stands at its own confidence (≤ 0.9) and the reader sees both.
 */
export function conclude(facts: SourceFacts): { verdict: Verdict | null; findings: Finding[] } {
  const findings: Finding[] = [];
  const { source, reach, earlier } = facts;
  const endpoint = `${facts.endpoint.host}:${facts.endpoint.port}`;
  /** The classifier's details (user, host, ...) are kept when we confirm its category; ours win. */
  const keep = (category: Category): Details => (earlier?.category === category ? earlier.details : {});
  const verdict = (category: Category, messageId: string, data: Details, details: Details): Verdict => ({
    category, confidence: 0.95, summary: { messageId, data }, details: { ...keep(category), source, ...details },
  });

  if (!reach.reachable) {
    if (UNREACHABLE_CODES.has(reach.error_code)) {
      return {
        verdict: verdict('source_unavailable', 'unreachable', { source, endpoint, reason: REASONS[reach.error_code] },
          { error_code: reach.error_code, host: facts.endpoint.host, port: facts.endpoint.port }),
        findings,
      };
    }
    if (reach.error_code === 'auth_failed') {
      return {
        verdict: verdict('source_auth_failure', 'authFailed', { source, endpoint, user: facts.endpoint.user ?? '(no user)', error: reach.error },
          { error_code: reach.error_code, host: facts.endpoint.host, port: facts.endpoint.port }),
        findings,
      };
    }
    findings.push({ messageId: 'connectFailed', data: { source, endpoint, error_code: reach.error_code, error: reach.error } });
    return { verdict: null, findings };
  }

  if (earlier?.category === 'source_auth_failure') findings.push({ messageId: 'authOk', data: { source } });

  const replica = facts.replica;
  if (replica && 'error' in replica) {
    findings.push({ messageId: 'lagCheckFailed', data: { source, error: replica.error } });
  } else if (replica) {
    const status = replica.status;
    if (status.role === 'replica' && status.lag_s !== null && status.lag_s > facts.thresholdS) {
      return {
        verdict: verdict('source_replica_lag', 'replicaLag', { source, lag_s: status.lag_s, threshold_s: facts.thresholdS },
          { lag_s: status.lag_s, threshold_s: facts.thresholdS }),
        findings,
      };
    }
    if (status.role === 'replica' && status.lag_s === null) {
      findings.push({ messageId: 'lagUnknown', data: { source, running: status.replication_running === null || status.replication_running === undefined ? 'unknown' : status.replication_running ? 'yes' : 'no' } });
    } else if (status.role === 'replica' && earlier?.category === 'source_replica_lag') {
      findings.push({ messageId: 'lagWithin', data: { source, lag_s: status.lag_s ?? 0, threshold_s: facts.thresholdS } });
    } else if (status.role === 'primary' && earlier?.category === 'source_replica_lag') {
      findings.push({ messageId: 'notReplica', data: { source } });
    }
  }

  const schema = facts.schema;
  if (schema) {
    const { column, sourceTable } = schema.target;
    const names: Details = { ...(column ? { column } : {}), ...(sourceTable ? { source_table: sourceTable } : {}) };
    if ('error' in schema) {
      findings.push({ messageId: 'schemaCheckFailed', data: { source, what: column ? `the column ${column}` : `the table ${sourceTable}`, error: schema.error } });
    } else if (column !== null) {
      const lookup = schema.lookup as ColumnLookup;
      if (lookup.table_exists === false) {
        return { verdict: verdict('source_schema_change', 'tableMissing', { source, source_table: sourceTable! }, names), findings };
      }
      if (!lookup.exists) {
        return {
          verdict: sourceTable
            ? verdict('source_schema_change', 'columnMissingOnTable', { source, column, source_table: sourceTable }, names)
            : verdict('source_schema_change', 'columnMissing', { source, column }, names),
          findings,
        };
      }
      findings.push({ messageId: 'columnExists', data: { column, found: lookup.found ?? column } });
    } else {
      const lookup = schema.lookup as TableLookup;
      if (!lookup.exists) return { verdict: verdict('source_schema_change', 'tableMissing', { source, source_table: sourceTable! }, names), findings };
      findings.push({ messageId: 'tableExists', data: { source_table: sourceTable!, found: lookup.found ?? sourceTable! } });
    }
  }

  if (earlier?.category === 'source_unavailable') findings.push({ messageId: 'transient', data: { source } });
  return { verdict: null, findings };
}


/** The env var that configures a source's DSN: `orders-db` → SOURCE_ORDERS_DB_DSN. */
export function sourceDsnVariable(sourceName: string): string {
  return `SOURCE_${envName(sourceName)}_DSN`;
}

const sourceDatabase: Analyser = {
  meta: {
    id: 'source-database',
    version: '1',
    description:
      'Connects to the table\'s source database to confirm or rule out what the exception suggests: reachable, credentials accepted, read-replica lag, the column or table the pipeline reads still there.',
    appliesTo: ['failure'],
    messages,
  },

  async analyse(ctx: AnalyserContext): Promise<AnalyserResult> {
    const { helpers } = ctx;
    const started = performance.now();
    const source = ctx.catalog.table?.source ?? null;
    const earlier = earlierVerdict(ctx.earlier);
    const decision = shouldProbe({ source, earlier, exceptionType: ctx.signal.exception?.type });
    const observations: Record<string, unknown> = {
      source: source?.name ?? null,
      kind: source?.kind ?? null,
      decision: decision.reason,
      earlier_category: earlier?.category ?? null,
    };
    if (!decision.run || !source) return { observations, verdict: null };

    const name = source.name;
    const envVar = sourceDsnVariable(name);
    const dsn = helpers.sourceDsn(name);
    observations['configured'] = dsn !== null;
    if (dsn === null) {
      return { observations, findings: [{ messageId: 'notConfigured', data: { source: name, env_var: envVar } }], verdict: null };
    }
    let parsed: ParsedDsn;
    try {
      parsed = parseDsn(dsn);
    } catch (error) {
      observations['dsn_error'] = (error as Error).message;
      return { observations, findings: [{ messageId: 'dsnInvalid', data: { source: name, env_var: envVar, error: (error as Error).message } }], verdict: null };
    }
    observations['driver'] = parsed.driver;
    observations['dsn'] = redactDsn(dsn);

    const ttl = helpers.settings.lookupTtlMs;
    const checks: Array<{ check: string; waited_ms: number; outcome: string }> = [];
    /** One shared, cached probe; records how long this diagnosis waited for it. */
    const probe = async <T>(check: string, subject: string | null, load: () => Promise<T>, outcome: (value: T) => string): Promise<T> => {
      const t0 = performance.now();
      try {
        const value = await untilAborted(helpers.cache.get(`source-database:${check}:${name}${subject === null ? '' : `:${subject}`}`, ttl, load), helpers.abortSignal);
        checks.push({ check, waited_ms: Math.round(performance.now() - t0), outcome: outcome(value) });
        return value;
      } catch (error) {
        checks.push({ check, waited_ms: Math.round(performance.now() - t0), outcome: 'error' });
        throw error;
      }
    };
    observations['checks'] = checks;

    const reach = await probe('reachable', null, () => probeReachable(dsn), (r) => (r.reachable ? 'reachable' : r.error_code));
    observations['reachable'] = reach.reachable;
    if (reach.reachable) observations['server_version'] = reach.server_version;
    else Object.assign(observations, { error_code: reach.error_code, error: reach.error });
    observations['probe_ms'] = reach.duration_ms;

    const thresholdS = source.max_replica_lag_s ?? helpers.settings.replicaLagThresholdS;
    let replica: SourceFacts['replica'] = null;
    let schema: SourceFacts['schema'] = null;
    if (reach.reachable) {
      const target = schemaTarget(earlier);
      const lagCheck = probe('replica_lag', null, () => replicaStatus(dsn), (s) => (s.role === 'primary' ? 'primary' : `lag ${s.lag_s ?? 'unknown'}`))
        .then((status): SourceFacts['replica'] => ({ status }), (error: unknown): SourceFacts['replica'] => {
          if (helpers.abortSignal.aborted) throw error;
          return { error: describeProbeError(error, dsn) };
        });
      const schemaCheck = target === null
        ? Promise.resolve(null)
        : (target.column !== null
          ? probe('column', `${target.sourceTable ?? '*'}.${target.column}`,
            () => lookupColumn(dsn, { table: target.sourceTable, column: target.column! }), (l) => (l.exists ? 'exists' : 'missing'))
          : probe('table', target.sourceTable!, () => lookupTable(dsn, target.sourceTable!), (l) => (l.exists ? 'exists' : 'missing')))
          .then((lookup: ColumnLookup | TableLookup): SourceFacts['schema'] => ({ target, lookup }), (error: unknown): SourceFacts['schema'] => {
            if (helpers.abortSignal.aborted) throw error;
            return { target, error: describeProbeError(error, dsn) };
          });
      [replica, schema] = await Promise.all([lagCheck, schemaCheck]);
      observations['threshold_s'] = thresholdS;
      if (replica && 'status' in replica) {
        observations['role'] = replica.status.role;
        if (replica.status.role === 'replica') {
          Object.assign(observations, { lag_s: replica.status.lag_s, lag_method: replica.status.method, replay_paused: replica.status.paused ?? null });
        }
      }
      if (schema) {
        observations['schema_target'] = { column: schema.target.column, source_table: schema.target.sourceTable };
        observations['schema_found'] = 'lookup' in schema ? schema.lookup.found : null;
      }
    }

    const { verdict, findings } = conclude({
      source: name,
      endpoint: { host: parsed.host, port: parsed.port, user: parsed.user },
      earlier,
      reach,
      replica,
      thresholdS,
      schema,
    });
    observations['duration_ms'] = Math.round(performance.now() - started);
    helpers.log.debug({ source: name, dsn: observations['dsn'], reachable: reach.reachable, category: verdict?.category ?? null }, 'source database checked');
    return { observations, findings, verdict };
  },
};

export default sourceDatabase;
