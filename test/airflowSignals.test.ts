import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import pg from 'pg';
import { startTestDaemon, waitFor, type TestDaemon } from './support/testDaemon.ts';
import { createToken } from '../src/api/tokens.ts';

const CATALOG = {
  teams: [
    { name: 'orders-eng', slack: '#orders-eng' },
    { name: 'orders-dba', slack: '#orders-dba' },
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
    { name: 'lake.customers', owner: 'crm-eng', tier: 2, pipeline: { dag_id: 'customers_daily' } },
  ],
};

let tries = 0;
function callback(overrides: Record<string, unknown> = {}) {
  tries += 1;
  return {
    event: 'failure', dag_id: 'orders_hourly', task_id: 'load_orders', run_id: `scheduled__2026-11-27T0${tries % 10}:00:00+00:00`,
    map_index: -1, try_number: 1, max_tries: 3,
    logical_date: '2026-11-27T08:00:00Z', start_date: '2026-11-27T08:00:05Z', end_date: '2026-11-27T08:06:57Z', duration_s: 412.5,
    exception: { type: 'psycopg2.OperationalError', message: 'could not connect to server: Connection refused\n\tIs the server running on host "orders-db" (10.0.0.5) and accepting\n\tTCP/IP connections on port 5432?' },
    operator: 'SparkSubmitOperator', hostname: 'worker-7', queue: 'default', pool: 'default_pool',
    tables: ['lake.orders'], airflow: 'main',
    ...overrides,
  };
}

let daemon: TestDaemon;
let db: pg.Client;
let readerToken: string;
let ingestToken: string;

async function count(table: string): Promise<number> {
  const result = await db.query(`SELECT count(*)::int AS n FROM ${table}`);
  return result.rows[0].n;
}

async function rcaFor(signalId: string, token?: string) {
  return waitFor(async () => {
    const list = await daemon.call('GET', '/v1/rca?limit=1000', { token });
    return list.body.items.find((r: { signal_ids: string[] }) => r.signal_ids.includes(signalId));
  }, 10_000, `an RCA for signal ${signalId}`);
}

beforeAll(async () => {
  daemon = await startTestDaemon('airflow_signals');
  db = new pg.Client({ connectionString: daemon.databaseUrl });
  await db.connect();
  readerToken = await createToken(daemon.database.db, 'grafana', 'reader');
  ingestToken = await createToken(daemon.database.db, 'airflow-prod', 'ingest');
  const applied = await daemon.call('POST', '/v1/catalog', { body: CATALOG });
  expect(applied.status).toBe(200);
  expect(applied.body).toMatchObject({ teams: 3, tables: 2 });
  expect(applied.body.warnings.join()).toContain('crm-eng');
});

afterAll(async () => {
  await db?.end();
  await daemon?.close();
});

describe('POST /v1/signals/airflow → diagnosis → RCA → table health', () => {
  it('stores, diagnoses and exposes a failure, then resolves it on success', async () => {
    const body = callback();
    const accepted = await daemon.call('POST', '/v1/signals/airflow', { body, token: ingestToken });
    expect(accepted.status).toBe(202);
    expect(accepted.body.duplicate).toBe(false);
    const signalId = accepted.body.signal_id as string;
    // The row is committed before the answer.
    const stored = await db.query('SELECT kind, table_name, dedupe_key FROM signals WHERE id = $1', [signalId]);
    expect(stored.rows[0]).toMatchObject({ kind: 'failure', table_name: 'lake.orders' });

    const rca = await rcaFor(signalId);
    expect(rca).toMatchObject({
      table: 'lake.orders', status: 'resolving', category: 'source_unavailable',
      assignee: { team: 'orders-dba', role: 'source_owner' }, incident_id: 'source_unavailable:orders-db',
      auto_resolution: { resolver: 'retry-with-backoff', state: 'scheduled', attempts: 0, max_attempts: 5 },
    });
    expect(rca.manual_steps).toContain('orders-db');
    expect(rca.evidence[0]).toMatchObject({ analyser: 'exception-classifier', error: null });
    expect(rca.evidence[0].verdict.category).toBe('source_unavailable');

    const health = await daemon.call('GET', '/v1/tables/lake.orders/health', { token: readerToken });
    expect(health.status).toBe(200);
    expect(health.body).toMatchObject({ table: 'lake.orders', status: 'unhealthy', rca_id: rca.id, error: { category: 'source_unavailable' }, assignee: { team: 'orders-dba' }, resolution: { resolver: 'retry-with-backoff', state: 'scheduled' } });

    const success = await daemon.call('POST', '/v1/signals/airflow', { body: { ...body, event: 'success', try_number: 2, exception: null }, token: ingestToken });
    expect(success.status).toBe(202);
    await waitFor(async () => (await daemon.call('GET', '/v1/tables/lake.orders/health')).body.status === 'healthy', 10_000, 'table healthy');
    const resolved = await daemon.call('GET', `/v1/rca/${rca.id}`);
    expect(resolved.body.status).toBe('resolved');
    // The success confirmed the recovery: the job is done, nothing left to retry.
    expect(resolved.body.auto_resolution.state).toBe('recovered');
    expect(resolved.body.resolved_at).not.toBeNull();

    const history = await daemon.call('GET', '/v1/tables/lake.orders/history', { token: readerToken });
    expect(history.body.items.map((e: { new_status: string }) => e.new_status)).toEqual(['healthy', 'unhealthy']);
    const firstPage = await daemon.call('GET', '/v1/tables/lake.orders/history?limit=1', { token: readerToken });
    expect(firstPage.body.items.map((e: { new_status: string }) => e.new_status)).toEqual(['healthy']);
    const secondPage = await daemon.call('GET', `/v1/tables/lake.orders/history?limit=1&cursor=${firstPage.body.next_cursor}`, { token: readerToken });
    expect(secondPage.body.items.map((e: { new_status: string }) => e.new_status)).toEqual(['unhealthy']);
    expect(secondPage.body.next_cursor).toBeNull();
  });

  it('answers a repeated callback 200 duplicate and changes nothing', async () => {
    const body = callback({ exception: { type: 'KeyError', message: "'customer_id'" } });
    const first = await daemon.call('POST', '/v1/signals/airflow', { body, token: ingestToken });
    expect(first.status).toBe(202);
    await rcaFor(first.body.signal_id);
    const before = { signals: await count('signals'), rca: await count('rca_records'), events: await count('health_events') };
    const again = await daemon.call('POST', '/v1/signals/airflow', { body, token: ingestToken });
    expect(again.status).toBe(200);
    expect(again.body).toMatchObject({ duplicate: true, signal_id: first.body.signal_id });
    await new Promise((r) => setTimeout(r, 300));
    expect({ signals: await count('signals'), rca: await count('rca_records'), events: await count('health_events') }).toEqual(before);
  });

  it('stores and diagnoses a signal for a table the catalog does not know, assigned to the platform team', async () => {
    const accepted = await daemon.call('POST', '/v1/signals/airflow', {
      body: callback({ dag_id: 'adhoc', task_id: 'load_x', tables: ['lake.not_onboarded'], exception: { type: 'java.lang.OutOfMemoryError', message: 'Java heap space' } }),
    });
    expect(accepted.status).toBe(202);
    const rca = await rcaFor(accepted.body.signal_id);
    expect(rca.table).toBe('lake.not_onboarded');
    expect(rca.assignee.team).toBe('data-platform');
    expect(rca.assignee.reason).toContain('not in the catalog');
    expect(rca.evidence.some((e: { findings: Array<{ text: string }> }) => e.findings.some((f) => f.text.includes('not in the catalog')))).toBe(true);
    const health = await daemon.call('GET', '/v1/tables/lake.not_onboarded/health');
    expect(health.body).toMatchObject({ status: 'unhealthy', owner: null, in_catalog: false });
  });

  it('maps a callback without tables to the catalog table of its DAG and task, else to dag_id.task_id', async () => {
    const mapped = await daemon.call('POST', '/v1/signals/airflow', { body: callback({ tables: undefined, dag_id: 'customers_daily', task_id: 'extract' }) });
    expect((await rcaFor(mapped.body.signal_id)).table).toBe('lake.customers');
    const unmapped = await daemon.call('POST', '/v1/signals/airflow', { body: callback({ tables: undefined, dag_id: 'mystery_dag', task_id: 'step_1' }) });
    expect((await rcaFor(unmapped.body.signal_id)).table).toBe('mystery_dag.step_1');
  });

  it('makes a table degraded, not unhealthy, on a retry callback', async () => {
    const accepted = await daemon.call('POST', '/v1/signals/airflow', { body: callback({ event: 'retry', tables: ['lake.retrying'] }) });
    await rcaFor(accepted.body.signal_id);
    expect((await daemon.call('GET', '/v1/tables/lake.retrying/health')).body.status).toBe('degraded');
  });

  it('lists tables with filters and cursor pagination', async () => {
    const unhealthy = await daemon.call('GET', '/v1/tables?status=unhealthy&limit=1', { token: readerToken });
    expect(unhealthy.status).toBe(200);
    expect(unhealthy.body.items).toHaveLength(1);
    expect(unhealthy.body.items[0].status).toBe('unhealthy');
    expect(unhealthy.body.next_cursor).toEqual(expect.any(String));
    const seen = new Set<string>(unhealthy.body.items.map((t: { table: string }) => t.table));
    let cursor = unhealthy.body.next_cursor;
    while (cursor) {
      const page = await daemon.call('GET', `/v1/tables?status=unhealthy&limit=1&cursor=${cursor}`, { token: readerToken });
      for (const t of page.body.items) {
        expect(seen.has(t.table)).toBe(false);
        seen.add(t.table);
      }
      cursor = page.body.next_cursor;
    }
    const all = await daemon.call('GET', '/v1/tables?status=unhealthy&limit=1000', { token: readerToken });
    expect(seen.size).toBe(all.body.items.length);
    const owned = await daemon.call('GET', '/v1/tables?owner=orders-eng');
    expect(owned.body.items.map((t: { table: string }) => t.table)).toEqual(['lake.orders']);
    expect((await daemon.call('GET', '/v1/tables?cursor=garbage')).status).toBe(400);
  });

  it('shows the evidence trail to admins only', async () => {
    const list = await daemon.call('GET', '/v1/rca?limit=1', { token: readerToken });
    expect(list.body.items[0].evidence).toBeUndefined();
    const one = await daemon.call('GET', `/v1/rca/${list.body.items[0].id}`, { token: readerToken });
    expect(one.body.evidence).toBeUndefined();
    const asAdmin = await daemon.call('GET', `/v1/rca/${list.body.items[0].id}`);
    expect(asAdmin.body.evidence.length).toBeGreaterThan(0);
  });
});

describe('bad input: 4xx naming the field, nothing stored', () => {
  const cases: Array<{ name: string; body?: unknown; raw?: string; headers?: Record<string, string>; status: number; field?: string; code?: string }> = [
    { name: 'missing event', body: { ...callback(), event: undefined }, status: 400, field: 'body.event' },
    { name: 'unknown event', body: callback({ event: 'exploded' }), status: 400, field: 'body.event' },
    { name: 'missing dag_id', body: { ...callback(), dag_id: undefined }, status: 400, field: 'body.dag_id' },
    { name: 'try_number not a number', body: callback({ try_number: 'third' }), status: 400, field: 'body.try_number' },
    { name: 'exception without message', body: callback({ exception: { type: 'X' } }), status: 400, field: 'body.exception.message' },
    { name: 'table name with a space', body: callback({ tables: ['lake orders'] }), status: 400, field: 'body.tables.0' },
    { name: 'end_date not a date', body: callback({ end_date: 'yesterday' }), status: 400, field: 'body.end_date' },
    { name: 'malformed JSON', raw: '{"event": "failure", ', status: 400, code: 'malformed_json' },
    { name: 'a JSON array', body: [callback()], status: 400 },
    { name: 'oversized body', body: callback({ exception: { type: 'X', message: 'x'.repeat(2_000_000) } }), status: 413, code: 'body_too_large' },
    { name: 'not JSON', raw: 'event=failure', headers: { 'content-type': 'application/x-www-form-urlencoded' }, status: 415 },
  ];
  for (const c of cases) {
    it(`${c.name} → ${c.status}`, async () => {
      const before = await count('signals');
      const response = await daemon.call('POST', '/v1/signals/airflow', { body: c.body, raw: c.raw, headers: c.headers, token: ingestToken });
      expect(response.status).toBe(c.status);
      expect(response.body.error.message).toEqual(expect.any(String));
      if (c.field) expect(response.body.error.field).toBe(c.field);
      if (c.code) expect(response.body.error.code).toBe(c.code);
      expect(await count('signals')).toBe(before);
    });
  }
});

describe('auth', () => {
  const routes: Array<[string, string, unknown?]> = [
    ['POST', '/v1/signals/airflow', callback()],
    ['GET', '/v1/tables'],
    ['GET', '/v1/tables/lake.orders/health'],
    ['GET', '/v1/rca'],
    ['POST', '/v1/catalog', { teams: [] }],
    ['PUT', '/v1/catalog/teams/x-team', {}],
  ];
  it('answers 401 without a token and with an unknown one, on every protected route', async () => {
    for (const [method, url, body] of routes) {
      expect((await daemon.call(method, url, { body, token: null })).status, `${method} ${url}`).toBe(401);
      expect((await daemon.call(method, url, { body, token: 'medic_not-a-real-token' })).status, `${method} ${url}`).toBe(401);
    }
  });
  it('answers 403 for the wrong role', async () => {
    expect((await daemon.call('POST', '/v1/signals/airflow', { body: callback(), token: readerToken })).status).toBe(403);
    expect((await daemon.call('GET', '/v1/tables', { token: ingestToken })).status).toBe(403);
    expect((await daemon.call('POST', '/v1/catalog', { body: { teams: [] }, token: readerToken })).status).toBe(403);
  });
  it('keeps only hashes of tokens', async () => {
    const rows = await db.query('SELECT token_hash FROM api_tokens');
    expect(rows.rows.length).toBeGreaterThanOrEqual(2);
    for (const row of rows.rows) {
      expect(row.token_hash).toMatch(/^[0-9a-f]{64}$/);
      expect([readerToken, ingestToken]).not.toContain(row.token_hash);
    }
  });
  it('leaves probes, metrics and the OpenAPI document open', async () => {
    expect((await daemon.call('GET', '/healthz', { token: null })).status).toBe(200);
    expect((await daemon.call('GET', '/readyz', { token: null })).body).toMatchObject({ ok: true, database: true });
    const metrics = await daemon.call('GET', '/metrics', { token: null });
    expect(metrics.body).toContain('medic_signals_received_total{kind="failure",source="airflow"}');
    expect(metrics.body).toContain('medic_rca_created_total{category="source_unavailable"}');
    expect(metrics.body).toMatch(/medic_tables\{status="unhealthy"\} [1-9]/);
    expect(metrics.body).toContain('medic_diagnosis_latency_seconds_bucket');
    const openapi = await daemon.call('GET', '/openapi.json', { token: null });
    expect(openapi.body.openapi).toBe('3.0.3');
    expect(Object.keys(openapi.body.paths)).toEqual(expect.arrayContaining(['/v1/signals/airflow', '/v1/tables', '/v1/tables/{table}/health', '/v1/rca', '/v1/rca/{id}', '/v1/catalog']));
  });
});
