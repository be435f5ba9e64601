import pg from 'pg';
import mysql from 'mysql2';
import type { Connection as MysqlConnection, RowDataPacket } from 'mysql2';

/**
 * Probes a source database by DSN (DESIGN 5, `source-database`): is it reachable, how far is a
 * read replica behind, is a column or table still there. Every probe opens one connection with
 * a short connect timeout and a statement timeout, and always closes it — a surge of failures
 * must not leave connections behind on a source that is already struggling. Callers share
 * probes through the LookupCache; nothing is pooled here.
 *
 * Supported DSNs: `postgres://` / `postgresql://` (pg) and `mysql://` / `mariadb://` (mysql2).
 * DSNs carry passwords: nothing here puts one into an error message or a return value; use
 * {@link redactDsn} for anything that is logged or stored.
 */

export type SourceDriver = 'postgres' | 'mysql';

/** A parsed DSN. `password` is here for the driver only; never log or store this object. */
export interface ParsedDsn {
  driver: SourceDriver;
  scheme: string;
  host: string;
  port: number;
  database: string | null;
  user: string | null;
  password: string | null;
  /** The DSN as given, for drivers that take a connection string (pg reads sslmode etc. from it). */
  raw: string;
}

/** Thrown for a DSN Medic cannot use; its message never contains the DSN's password. */
export class DsnError extends Error {
  override name = 'DsnError';
}

const SCHEMES: Record<string, { driver: SourceDriver; port: number }> = {
  postgres: { driver: 'postgres', port: 5432 },
  postgresql: { driver: 'postgres', port: 5432 },
  mysql: { driver: 'mysql', port: 3306 },
  mariadb: { driver: 'mysql', port: 3306 },
};

export const SUPPORTED_SCHEMES: readonly string[] = Object.keys(SCHEMES);

/** Parses a DSN; throws DsnError (without echoing the DSN) for a malformed one or an unknown scheme. */
export function parseDsn(dsn: string): ParsedDsn {
  const scheme = /^([a-z][a-z0-9+.-]*):\/\//i.exec(dsn.trim())?.[1]?.toLowerCase();
  if (scheme === undefined) throw new DsnError('the DSN is not a URL (expected scheme://user:password@host:port/database)');
  const known = SCHEMES[scheme];
  if (!known) {
    throw new DsnError(`unsupported DSN scheme "${scheme}://": Medic can probe ${SUPPORTED_SCHEMES.map((s) => `${s}://`).join(', ')}`);
  }
  let url: URL;
  try {
    url = new URL(dsn.trim());
  } catch {
    // Node's TypeError carries the whole input (password included) in `.input`: never rethrow it.
    throw new DsnError(`the ${scheme}:// DSN is not a valid URL`);
  }
  if (url.hostname === '') throw new DsnError(`the ${scheme}:// DSN names no host`);
  const database = decodeURIComponent(url.pathname.replace(/^\//, '')) || null;
  return {
    driver: known.driver,
    scheme,
    host: url.hostname.replace(/^\[|\]$/g, ''),
    port: url.port === '' ? known.port : Number(url.port),
    database,
    user: url.username === '' ? null : decodeURIComponent(url.username),
    password: url.password === '' ? null : decodeURIComponent(url.password),
    raw: dsn.trim(),
  };
}

/**
 * `scheme://host:port/database` — what may be logged or stored about a DSN: no user, no
 * password, no query string (which may carry sslpassword, tokens, ...).
 */
export function redactDsn(dsn: string): string {
  try {
    const parsed = parseDsn(dsn);
    const host = parsed.host.includes(':') ? `[${parsed.host}]` : parsed.host;
    return `${parsed.scheme}://${host}:${parsed.port}/${parsed.database ?? ''}`;
  } catch {
    const scheme = /^([a-z][a-z0-9+.-]*):\/\//i.exec(dsn)?.[1];
    return scheme ? `${scheme.toLowerCase()}://(unparseable)` : '(unparseable DSN)';
  }
}

/** Why a connection failed, in one vocabulary for both drivers. */
export type ProbeErrorCode =
  /** Nothing listens on the port (ECONNREFUSED). */
  | 'connection_refused'
  /** The host name does not resolve (ENOTFOUND, EAI_AGAIN). */
  | 'host_not_found'
  /** No answer within the connect timeout (ETIMEDOUT, a black-holed host, a hung server). */
  | 'timeout'
  /** The server or something in between dropped the connection (reset, closed before the handshake). */
  | 'connection_lost'
  /** The server is starting up, shutting down or in crash recovery (57P03, 57P01). */
  | 'server_not_ready'
  /** The server is up but has no free connection slots (53300, ER_CON_COUNT_ERROR). */
  | 'too_many_connections'
  /** The server answered and rejected the credentials or the right to connect. */
  | 'auth_failed'
  /** The server answered, but the DSN's database does not exist on it. */
  | 'database_not_found'
  /** TLS negotiation failed (certificate, required SSL). */
  | 'tls_error'
  /** Anything else; `error` says what. */
  | 'error';

/** Codes that mean "the source is not there" (DESIGN 5: refused, timeout, DNS) — not a rejection by a live server. */
export const UNREACHABLE_CODES: ReadonlySet<ProbeErrorCode> = new Set<ProbeErrorCode>([
  'connection_refused', 'host_not_found', 'timeout', 'connection_lost', 'server_not_ready', 'too_many_connections',
]);

export type ReachableResult =
  | { reachable: true; server_version: string; duration_ms: number }
  | { reachable: false; error_code: ProbeErrorCode; error: string; duration_ms: number };

export interface ProbeOptions {
  /** Connect timeout; default 3000 ms. */
  connectTimeoutMs?: number;
  /** Statement timeout (server-side where the driver allows, client-side as well); default 3000 ms. */
  statementTimeoutMs?: number;
  /** Aborting ends the connection at once and rejects with the signal's reason. */
  signal?: AbortSignal;
}

const DEFAULT_CONNECT_TIMEOUT_MS = 3_000;
/**
 * Catalog look-ups answer in milliseconds; 3 s each keeps the worst path of one analyser run
 * (connect, then connect + query) under the default 10 s analyser budget.
 */
const DEFAULT_STATEMENT_TIMEOUT_MS = 3_000;
const APPLICATION_NAME = 'pipeline-medic';

interface ErrorLike { code?: unknown; errno?: unknown; message?: unknown; sqlState?: unknown }

/** Maps a pg / mysql2 / Node socket error to a ProbeErrorCode. Exported for tests. */
export function classifyConnectError(thrown: unknown): ProbeErrorCode {
  const e = (typeof thrown === 'object' && thrown !== null ? thrown : {}) as ErrorLike;
  const code = typeof e.code === 'string' ? e.code : '';
  const message = typeof e.message === 'string' ? e.message : String(thrown);
  switch (code) {
    case 'ECONNREFUSED': return 'connection_refused';
    case 'ENOTFOUND': case 'EAI_AGAIN': case 'EAI_NONAME': return 'host_not_found';
    case 'ETIMEDOUT': case 'ESOCKETTIMEDOUT': case 'PROTOCOL_SEQUENCE_TIMEOUT': return 'timeout';
    case 'ECONNRESET': case 'EPIPE': case 'EHOSTUNREACH': case 'ENETUNREACH': case 'PROTOCOL_CONNECTION_LOST': return 'connection_lost';
    // PostgreSQL SQLSTATEs (pg puts them in `code`).
    case '28P01': case '28000': case '42501': return 'auth_failed';
    case '3D000': return 'database_not_found';
    case '57P03': case '57P01': case '57P02': return 'server_not_ready';
    case '53300': case '53400': return 'too_many_connections';
    // MySQL / MariaDB server errors (mysql2 puts the symbol in `code`).
    case 'ER_ACCESS_DENIED_ERROR': case 'ER_DBACCESS_DENIED_ERROR': case 'ER_ACCESS_DENIED_NO_PASSWORD_ERROR':
    case 'ER_NOT_SUPPORTED_AUTH_MODE': case 'ER_HOST_NOT_PRIVILEGED': case 'ER_MUST_CHANGE_PASSWORD_LOGIN':
    case 'ER_ACCOUNT_HAS_BEEN_LOCKED': case 'AUTH_SWITCH_PLUGIN_ERROR':
      return 'auth_failed';
    case 'ER_BAD_DB_ERROR': return 'database_not_found';
    case 'ER_CON_COUNT_ERROR': case 'ER_TOO_MANY_USER_CONNECTIONS': return 'too_many_connections';
    case 'ER_SERVER_SHUTDOWN': case 'ER_SERVER_OFFLINE_MODE': return 'server_not_ready';
    case 'HANDSHAKE_NO_SSL_SUPPORT': case 'HANDSHAKE_SSL_ERROR': return 'tls_error';
    default: break;
  }
  if (/^(ERR_TLS_|CERT_|DEPTH_ZERO_SELF_SIGNED_CERT|SELF_SIGNED_CERT|UNABLE_TO_VERIFY_LEAF_SIGNATURE)/.test(code) || /does not support SSL|SSL (?:off|required)|certificate/i.test(message)) return 'tls_error';
  // pg's own connect timeout ("timeout expired"); a query that hit query_timeout.
  if (/timeout expired|timed out|Query read timeout|Connection terminated due to connection timeout/i.test(message)) return 'timeout';
  if (/Connection terminated unexpectedly|Connection terminated|socket hang up|server closed the connection|read ECONNRESET/i.test(message)) return 'connection_lost';
  if (/password authentication failed|no pg_hba\.conf entry|Access denied for user/i.test(message)) return 'auth_failed';
  return 'error';
}

/** A driver error as text that can be stored: the password scrubbed, one line, bounded. */
function describeError(thrown: unknown, dsn: ParsedDsn): string {
  // Node's happy-eyeballs connect fails with an AggregateError whose own message is empty.
  let text = thrown instanceof AggregateError && thrown.message === ''
    ? thrown.errors.map((e: unknown) => (e instanceof Error ? e.message : String(e))).join('; ')
    : thrown instanceof Error ? thrown.message || thrown.name : String(thrown);
  const code = typeof (thrown as ErrorLike)?.code === 'string' ? String((thrown as ErrorLike).code) : '';
  if (code !== '' && !text.includes(code)) text = `${text} (${code})`;
  if (dsn.password) text = text.split(dsn.password).join('***');
  return text.replace(/\s+/g, ' ').trim().slice(0, 500);
}

/** A probe's failure as text fit for evidence and logs: the DSN's password never appears in it. */
export function describeProbeError(thrown: unknown, dsn: string): string {
  let parsed: ParsedDsn | null = null;
  try { parsed = parseDsn(dsn); } catch { /* an unusable DSN: its DsnError message is already safe */ }
  return parsed ? describeError(thrown, parsed) : thrown instanceof Error ? thrown.message : String(thrown);
}

/** Rejects with the signal's reason as soon as it aborts; `work` keeps running and is cleaned up by its owner. */
function raceAbort<T>(work: Promise<T>, signal: AbortSignal | undefined): Promise<T> {
  if (!signal) return work;
  if (signal.aborted) return Promise.reject(abortReason(signal));
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(abortReason(signal));
    signal.addEventListener('abort', onAbort, { once: true });
    work.then(
      (value) => { signal.removeEventListener('abort', onAbort); resolve(value); },
      (error: unknown) => { signal.removeEventListener('abort', onAbort); reject(error); },
    );
  });
}

function abortReason(signal: AbortSignal): Error {
  const reason: unknown = signal.reason;
  return reason instanceof Error ? reason : new Error(`aborted${reason === undefined ? '' : `: ${String(reason)}`}`);
}

/** Bounded close: a half-dead server must not keep a probe (or the daemon's shutdown) waiting. */
async function closeWithin(close: () => Promise<unknown>, destroy: () => void, ms = 1_000): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const timedOut = new Promise<'timeout'>((resolve) => { timer = setTimeout(() => resolve('timeout'), ms); timer.unref(); });
  const result = await Promise.race([close().then(() => 'closed' as const, () => 'failed' as const), timedOut]);
  clearTimeout(timer);
  if (result !== 'closed') destroy();
}

/** A minimal query interface over both drivers. */
interface SourceSession {
  query<R extends Record<string, unknown>>(sql: string, params?: unknown[]): Promise<R[]>;
}

/** Opens one connection, runs `work`, and always closes it. */
async function withSession<T>(dsn: ParsedDsn, options: ProbeOptions, work: (session: SourceSession) => Promise<T>): Promise<T> {
  const connectTimeoutMs = options.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS;
  const statementTimeoutMs = options.statementTimeoutMs ?? DEFAULT_STATEMENT_TIMEOUT_MS;
  const signal = options.signal;
  if (signal?.aborted) throw abortReason(signal);
  return dsn.driver === 'postgres'
    ? withPostgres(dsn, connectTimeoutMs, statementTimeoutMs, signal, work)
    : withMysql(dsn, connectTimeoutMs, statementTimeoutMs, signal, work);
}

async function withPostgres<T>(dsn: ParsedDsn, connectTimeoutMs: number, statementTimeoutMs: number, signal: AbortSignal | undefined, work: (s: SourceSession) => Promise<T>): Promise<T> {
  const client = new pg.Client({
    connectionString: dsn.raw,
    connectionTimeoutMillis: connectTimeoutMs,
    // Server-side, sent in the startup packet; query_timeout is the client-side backstop for a hung socket.
    statement_timeout: statementTimeoutMs,
    query_timeout: statementTimeoutMs + 500,
    application_name: APPLICATION_NAME,
  });
  // A connection the server drops after connecting emits 'error' on the client: without a
  // listener that would crash the daemon.
  client.on('error', () => undefined);
  const onAbort = () => { void client.end().catch(() => undefined); };
  signal?.addEventListener('abort', onAbort, { once: true });
  try {
    await raceAbort(client.connect(), signal);
    const session: SourceSession = {
      query: async <R extends Record<string, unknown>>(sql: string, params: unknown[] = []) => (await raceAbort(client.query<R>(sql, params), signal)).rows,
    };
    return await work(session);
  } finally {
    signal?.removeEventListener('abort', onAbort);
    await closeWithin(() => client.end(), () => {
      (client as unknown as { connection?: { stream?: { destroy(): void } } }).connection?.stream?.destroy();
    });
  }
}

async function withMysql<T>(dsn: ParsedDsn, connectTimeoutMs: number, statementTimeoutMs: number, signal: AbortSignal | undefined, work: (s: SourceSession) => Promise<T>): Promise<T> {
  const ssl = new URL(dsn.raw).searchParams.get('ssl');
  const connection: MysqlConnection = mysql.createConnection({
    host: dsn.host,
    port: dsn.port,
    user: dsn.user ?? undefined,
    password: dsn.password ?? undefined,
    database: dsn.database ?? undefined,
    connectTimeout: connectTimeoutMs,
    connectAttributes: { program_name: APPLICATION_NAME },
    ...(ssl === 'true' || ssl === 'required' ? { ssl: {} } : {}),
  });
  connection.on('error', () => undefined);
  const onAbort = () => connection.destroy();
  signal?.addEventListener('abort', onAbort, { once: true });
  try {
    await raceAbort(new Promise<void>((resolve, reject) => connection.connect((error) => (error ? reject(error) : resolve()))), signal);
    const session: SourceSession = {
      query: <R extends Record<string, unknown>>(sql: string, params: unknown[] = []) =>
        raceAbort(
          new Promise<R[]>((resolve, reject) => {
            // mysql2's `timeout` is client-side: MySQL's max_execution_time covers SELECTs only and MariaDB spells it differently.
            connection.query<RowDataPacket[]>({ sql, values: params, timeout: statementTimeoutMs }, (error, rows) =>
              error ? reject(error) : resolve(rows as unknown as R[]));
          }),
          signal,
        ),
    };
    return await work(session);
  } finally {
    signal?.removeEventListener('abort', onAbort);
    await closeWithin(
      () => new Promise<void>((resolve, reject) => connection.end((error) => (error ? reject(error) : resolve()))),
      () => connection.destroy(),
    );
  }
}

/**
 * Connects and asks the server's version. Never throws for a connection failure (that is the
 * answer); throws only for an unusable DSN or an abort.
 */
export async function probeReachable(dsn: string, options: ProbeOptions = {}): Promise<ReachableResult> {
  const parsed = parseDsn(dsn);
  const started = performance.now();
  const elapsed = () => Math.round(performance.now() - started);
  try {
    const server_version = await withSession(parsed, options, async (session) => {
      const sql = parsed.driver === 'postgres' ? "SELECT current_setting('server_version') AS version" : 'SELECT VERSION() AS version';
      const [row] = await session.query<{ version: unknown }>(sql);
      return String(row?.version ?? '');
    });
    return { reachable: true, server_version, duration_ms: elapsed() };
  } catch (error) {
    if (options.signal?.aborted) throw error;
    return { reachable: false, error_code: classifyConnectError(error), error: describeError(error, parsed), duration_ms: elapsed() };
  }
}

/** How a replica's lag was established. */
export type LagMethod =
  /** PostgreSQL: everything received is replayed and replay is not paused ⇒ 0. */
  | 'caught_up'
  /** PostgreSQL: now() − pg_last_xact_replay_timestamp(). */
  | 'replay_timestamp'
  /** MySQL / MariaDB: Seconds_Behind_Source (or _Master). */
  | 'seconds_behind'
  /** The server is a replica but the lag cannot be measured (nothing replayed yet, replication stopped). */
  | 'unknown';

export type ReplicaStatus =
  | { role: 'primary' }
  | {
    role: 'replica';
    /** null when it cannot be measured; see `method`. */
    lag_s: number | null;
    method: LagMethod;
    /** PostgreSQL: WAL replay paused (pg_wal_replay_pause()). */
    paused?: boolean;
    /** Whether the replication link is streaming / both replication threads run (null: not visible). */
    replication_running?: boolean | null;
  };

function round1(n: number): number {
  return Math.round(n * 10) / 10;
}

function toNumber(value: unknown): number | null {
  if (typeof value === 'number' && Number.isFinite(value)) return value;
  if (typeof value === 'bigint') return Number(value);
  if (typeof value === 'string' && value.trim() !== '' && Number.isFinite(Number(value))) return Number(value);
  return null;
}

/**
 * PostgreSQL replica lag. `now() - pg_last_xact_replay_timestamp()` alone is wrong on an idle
 * primary: with no new commits the last replayed one grows old and the "lag" grows forever
 * although the replica has everything. So:
 *  - not in recovery ⇒ a primary (lag does not apply);
 *  - replay paused (`pg_is_wal_replay_paused()`, true from the moment a pause is requested) ⇒
 *    the replay-timestamp age, even if nothing new has arrived: a paused replica falls behind
 *    with the primary's next commit, and its owner should know;
 *  - else, everything received is replayed (`pg_last_wal_receive_lsn() = pg_last_wal_replay_lsn()`)
 *    and the WAL receiver is streaming (or its status is not visible to us: without
 *    pg_read_all_stats `pg_stat_wal_receiver` hides it) ⇒ caught up, 0;
 *  - else the replay-timestamp age. That over-states the lag when the primary was idle before
 *    the commit still in flight; the cache TTL and the threshold absorb such a moment. A
 *    receiver that is not streaming (link down) makes the replica stale, which the age shows.
 * Clock skew between primary and replica can make the age negative: clamped to 0.
 */
function postgresReplicaStatus(row: Record<string, unknown>): ReplicaStatus {
  const paused = row['paused'] === true;
  const receiverStatus = typeof row['receiver_status'] === 'string' ? row['receiver_status'] : null;
  const streaming = receiverStatus === null ? null : receiverStatus === 'streaming';
  const age = toNumber(row['replay_age_s']);
  if (!paused && row['caught_up'] === true && streaming !== false) {
    return { role: 'replica', lag_s: 0, method: 'caught_up', paused, replication_running: streaming };
  }
  if (age === null) return { role: 'replica', lag_s: null, method: 'unknown', paused, replication_running: streaming };
  return { role: 'replica', lag_s: round1(Math.max(0, age)), method: 'replay_timestamp', paused, replication_running: streaming };
}

/**
 * The rows of `SHOW REPLICA STATUS` (MySQL ≥ 8.0.22, MariaDB ≥ 10.5.1) or `SHOW SLAVE STATUS`
 * → replica status. No rows ⇒ not a replica. Several rows (multi-source channels) ⇒ the worst
 * channel. `Seconds_Behind_*` is NULL when the replication threads do not run: the lag is then
 * unknown (the replica is stale by an unknown amount), reported with `replication_running: false`.
 * Exported for tests: no MySQL server runs in CI.
 */
export function mysqlReplicaStatus(rows: ReadonlyArray<Record<string, unknown>>): ReplicaStatus {
  if (rows.length === 0) return { role: 'primary' };
  let worst: number | null = 0;
  let running = true;
  for (const row of rows) {
    const io = String(row['Replica_IO_Running'] ?? row['Slave_IO_Running'] ?? '');
    const sql = String(row['Replica_SQL_Running'] ?? row['Slave_SQL_Running'] ?? '');
    if (io !== 'Yes' || sql !== 'Yes') running = false;
    const lag = toNumber(row['Seconds_Behind_Source'] ?? row['Seconds_Behind_Master']);
    if (lag === null) worst = null;
    else if (worst !== null) worst = Math.max(worst, lag);
  }
  if (worst === null) return { role: 'replica', lag_s: null, method: 'unknown', replication_running: running };
  return { role: 'replica', lag_s: worst, method: 'seconds_behind', replication_running: running };
}

/** Whether the server is a replica and how far behind it is; see postgresReplicaStatus / mysqlReplicaStatus. */
export async function replicaStatus(dsn: string, options: ProbeOptions = {}): Promise<ReplicaStatus> {
  const parsed = parseDsn(dsn);
  return withSession(parsed, options, async (session) => {
    if (parsed.driver === 'postgres') {
      const [recovery] = await session.query<{ in_recovery: boolean }>('SELECT pg_is_in_recovery() AS in_recovery');
      if (recovery?.in_recovery !== true) return { role: 'primary' };
      const [row] = await session.query(`
        SELECT pg_is_wal_replay_paused() AS paused,
               pg_last_wal_receive_lsn() = pg_last_wal_replay_lsn() AS caught_up,
               EXTRACT(EPOCH FROM clock_timestamp() - pg_last_xact_replay_timestamp())::float8 AS replay_age_s,
               (SELECT status FROM pg_stat_wal_receiver LIMIT 1) AS receiver_status`);
      return postgresReplicaStatus(row ?? {});
    }
    let rows: Record<string, unknown>[];
    try {
      rows = await session.query('SHOW REPLICA STATUS');
    } catch (error) {
      // Older servers do not know the statement: ER_PARSE_ERROR.
      if ((error as ErrorLike).code !== 'ER_PARSE_ERROR') throw error;
      rows = await session.query('SHOW SLAVE STATUS');
    }
    return mysqlReplicaStatus(rows);
  });
}

/** Seconds the replica is behind; null when the server is a primary, or a replica whose lag cannot be measured. */
export async function replicaLagSeconds(dsn: string, options: ProbeOptions = {}): Promise<number | null> {
  const status = await replicaStatus(dsn, options);
  return status.role === 'primary' ? null : status.lag_s;
}

/** `"shop"."Orders"`, `` `shop`.`orders` ``, `db.shop.orders` → { schema: shop, name: Orders }. */
export function splitTableName(table: string): { schema: string | null; name: string } {
  const parts = table.split('.').map((p) => p.trim().replace(/^[`"'[]+|[`"'\]]+$/g, '')).filter((p) => p !== '');
  const name = parts[parts.length - 1] ?? table;
  const schema = parts.length >= 2 ? parts[parts.length - 2]! : null;
  return { schema, name };
}

function bareName(identifier: string): string {
  return identifier.trim().replace(/^[`"'[]+|[`"'\]]+$/g, '');
}

export interface TableLookup {
  exists: boolean;
  /** `schema.table` as the source spells it, when found. */
  found: string | null;
}

export interface ColumnLookup {
  exists: boolean;
  /** Whether the named table exists; null when no table was named (the column was searched in every table). */
  table_exists: boolean | null;
  /** `schema.table.column` as the source spells it, when found. */
  found: string | null;
}

/*
 * Existence checks. PostgreSQL: pg_catalog rather than information_schema, because
 * information_schema lists only objects the connected user has a privilege on — a probe user
 * without SELECT on the table would see it "missing" and Medic would claim a schema change.
 * Names match exactly or in lower case (unquoted identifiers fold to lower case), schema too.
 * MySQL: information_schema (it has no other catalog), case-insensitively. A bare table or
 * column is searched in every non-system schema, so "missing" means missing everywhere.
 */
const PG_SYSTEM = `n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg\\_%'`;
const PG_RELKINDS = `c.relkind IN ('r', 'p', 'v', 'm', 'f')`;
const MYSQL_SYSTEM = `TABLE_SCHEMA NOT IN ('mysql', 'information_schema', 'performance_schema', 'sys')`;

export async function lookupTable(dsn: string, table: string, options: ProbeOptions = {}): Promise<TableLookup> {
  const parsed = parseDsn(dsn);
  const { schema, name } = splitTableName(table);
  return withSession(parsed, options, async (session) => {
    const rows = parsed.driver === 'postgres'
      ? await session.query<{ found: string }>(`
          SELECT n.nspname || '.' || c.relname AS found
            FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
           WHERE ${PG_RELKINDS} AND c.relname::text IN ($1::text, lower($1::text))
             AND (CASE WHEN $2::text IS NULL THEN ${PG_SYSTEM} ELSE n.nspname::text IN ($2::text, lower($2::text)) END)
           ORDER BY (c.relname::text = $1::text) DESC, (n.nspname::text = $2::text) DESC NULLS LAST
           LIMIT 1`, [name, schema])
      : await session.query<{ found: string }>(`
          SELECT CONCAT(TABLE_SCHEMA, '.', TABLE_NAME) AS found FROM information_schema.TABLES
           WHERE LOWER(TABLE_NAME) = LOWER(?)
             AND (CASE WHEN ? IS NULL THEN ${MYSQL_SYSTEM} ELSE LOWER(TABLE_SCHEMA) = LOWER(?) END)
           LIMIT 1`, [name, schema, schema]);
    const found = rows[0]?.found ?? null;
    return { exists: found !== null, found };
  });
}

export async function lookupColumn(dsn: string, target: { table?: string | null; column: string }, options: ProbeOptions = {}): Promise<ColumnLookup> {
  const parsed = parseDsn(dsn);
  const column = bareName(target.column);
  const table = target.table ? splitTableName(target.table) : null;
  return withSession(parsed, options, async (session) => {
    let tableFound: string | null = null;
    if (table) {
      const tables = parsed.driver === 'postgres'
        ? await session.query<{ found: string }>(`
            SELECT n.nspname || '.' || c.relname AS found
              FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
             WHERE ${PG_RELKINDS} AND c.relname::text IN ($1::text, lower($1::text))
               AND (CASE WHEN $2::text IS NULL THEN ${PG_SYSTEM} ELSE n.nspname::text IN ($2::text, lower($2::text)) END)`, [table.name, table.schema])
        : await session.query<{ found: string }>(`
            SELECT CONCAT(TABLE_SCHEMA, '.', TABLE_NAME) AS found FROM information_schema.TABLES
             WHERE LOWER(TABLE_NAME) = LOWER(?)
               AND (CASE WHEN ? IS NULL THEN ${MYSQL_SYSTEM} ELSE LOWER(TABLE_SCHEMA) = LOWER(?) END)`, [table.name, table.schema, table.schema]);
      if (tables.length === 0) return { exists: false, table_exists: false, found: null };
      tableFound = tables[0]!.found;
    }
    const rows = parsed.driver === 'postgres'
      ? await session.query<{ found: string }>(`
          SELECT n.nspname || '.' || c.relname || '.' || a.attname AS found
            FROM pg_catalog.pg_attribute a
            JOIN pg_catalog.pg_class c ON c.oid = a.attrelid
            JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
           WHERE a.attnum > 0 AND NOT a.attisdropped AND ${PG_RELKINDS}
             AND a.attname::text IN ($1::text, lower($1::text))
             AND ($2::text IS NULL OR c.relname::text IN ($2::text, lower($2::text)))
             AND (CASE WHEN $3::text IS NULL THEN ${PG_SYSTEM} ELSE n.nspname::text IN ($3::text, lower($3::text)) END)
           ORDER BY (a.attname::text = $1::text) DESC
           LIMIT 1`, [column, table?.name ?? null, table?.schema ?? null])
      : await session.query<{ found: string }>(`
          SELECT CONCAT(TABLE_SCHEMA, '.', TABLE_NAME, '.', COLUMN_NAME) AS found FROM information_schema.COLUMNS
           WHERE LOWER(COLUMN_NAME) = LOWER(?)
             AND (? IS NULL OR LOWER(TABLE_NAME) = LOWER(?))
             AND (CASE WHEN ? IS NULL THEN ${MYSQL_SYSTEM} ELSE LOWER(TABLE_SCHEMA) = LOWER(?) END)
           LIMIT 1`, [column, table?.name ?? null, table?.name ?? null, table?.schema ?? null, table?.schema ?? null]);
    const found = rows[0]?.found ?? null;
    return { exists: found !== null, table_exists: table ? tableFound !== null : null, found };
  });
}

/** Whether `table` (`schema.table` or bare) exists at the source. */
export async function tableExists(dsn: string, table: string, options: ProbeOptions = {}): Promise<boolean> {
  return (await lookupTable(dsn, table, options)).exists;
}

/** Whether `column` exists on `table` (or, without a table, on any table) at the source. */
export async function columnExists(dsn: string, target: { table?: string | null; column: string }, options: ProbeOptions = {}): Promise<boolean> {
  return (await lookupColumn(dsn, target, options)).exists;
}
