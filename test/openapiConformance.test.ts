import { randomUUID } from 'node:crypto';
import { Ajv, type ValidateFunction } from 'ajv';
import ajvFormats from 'ajv-formats';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ADMIN_TOKEN, startTestDaemon, waitFor, type TestDaemon } from './support/testDaemon.ts';
import { createToken } from '../src/api/tokens.ts';
import { sampleDqFailure, sampleSlaMiss } from '../src/signals/sampleEvents.ts';

/**
 * The OpenAPI document matches what the server does: real requests against a real daemon,
 * each real answer validated (ajv, with formats) against the schema /openapi.json documents
 * for that operation and that status code. An undocumented status code fails.
 */

const CATALOG = {
  teams: [{ name: 'orders-eng' }, { name: 'orders-dba' }, { name: 'data-platform', platform: true }],
  tables: [
    {
      name: 'lake.orders', owner: 'orders-eng', tier: 1,
      pipeline: { airflow: 'main', dag_id: 'orders_hourly', task_ids: ['load_orders'] },
      source: { kind: 'postgres', name: 'orders-db', owner: 'orders-dba' },
      sla: { schedule: '0 * * * *', complete_within_minutes: 60 },
    },
  ],
};

const FAILURE = {
  event: 'failure', dag_id: 'orders_hourly', task_id: 'load_orders', run_id: 'scheduled__2026-11-27T08:00:00+00:00',
  map_index: -1, try_number: 1, max_tries: 3,
  logical_date: '2026-11-27T08:00:00Z', start_date: '2026-11-27T08:00:05Z', end_date: '2026-11-27T08:06:57Z', duration_s: 412.5,
  exception: { type: 'psycopg2.OperationalError', message: 'could not connect to server: Connection refused\n\tIs the server running on host "orders-db" (10.0.0.5) and accepting\n\tTCP/IP connections on port 5432?' },
  tables: ['lake.orders'], airflow: 'main',
};

type Doc = {
  paths: Record<string, Record<string, { responses?: Record<string, { content?: Record<string, { schema?: unknown }> }> }>>;
  components?: { schemas?: Record<string, unknown> };
};

let daemon: TestDaemon;
let doc: Doc;
let ajv: Ajv;
let readerToken: string;
let ingestToken: string;
let operatorToken: string;
let rcaId: string;
let incidentId: string;
const validators = new Map<string, ValidateFunction>();

// ajv-formats is CommonJS: under NodeNext its default import is module.exports, whose `default` is the plugin (the same function).
const addFormats = ajvFormats.default;
const COMPONENTS = 'https://medic.test/components/schemas/';

/** Deep copy with `#/components/schemas/X` pointed at the component registered under its own id. */
function rewriteRefs(schema: unknown): unknown {
  if (Array.isArray(schema)) return schema.map(rewriteRefs);
  if (!schema || typeof schema !== 'object') return schema;
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(schema)) {
    if (key === '$ref' && typeof value === 'string') {
      if (!value.startsWith('#/components/schemas/')) throw new Error(`unexpected $ref ${value}`);
      out[key] = COMPONENTS + value.slice('#/components/schemas/'.length);
    } else {
      out[key] = rewriteRefs(value);
    }
  }
  return out;
}

/** The validator of an operation's documented response for a status, or why there is none. */
function validatorFor(method: string, template: string, status: number): ValidateFunction | string {
  const operation = doc.paths[template]?.[method.toLowerCase()];
  if (!operation) return `${method} ${template} is not in /openapi.json`;
  const response = operation.responses?.[String(status)] ?? operation.responses?.[`${String(status)[0]}XX`] ?? operation.responses?.default;
  if (!response) return `${method} ${template} answered ${status}, which is not documented (documented: ${Object.keys(operation.responses ?? {}).join(', ')})`;
  const schema = response.content?.['application/json']?.schema;
  if (!schema) return `${method} ${template} ${status} documents no application/json schema`;
  const key = `${method} ${template} ${status}`;
  let validate = validators.get(key);
  if (!validate) {
    validate = ajv.compile(rewriteRefs(schema) as object);
    validators.set(key, validate);
  }
  return validate;
}

interface Exchange { method: string; template: string; url: string; token?: string | null; body?: unknown; raw?: string; headers?: Record<string, string> }

/** Sends the request and checks the real answer against the document; returns the answer. */
async function conforms(exchange: Exchange, expectedStatus: number): Promise<{ status: number; body: any }> {
  const response = await send(exchange);
  const where = `${exchange.method} ${exchange.url}`;
  expect(response.status, `${where}: ${JSON.stringify(response.body).slice(0, 400)}`).toBe(expectedStatus);
  expect(response.contentType, `${where} content-type`).toMatch(/^application\/json\b/);
  const validate = validatorFor(exchange.method, exchange.template, response.status);
  if (typeof validate === 'string') expect.fail(validate);
  const valid = validate(response.body);
  expect(valid, `${where} ${response.status} does not match its documented schema: ${ajv.errorsText(validate.errors, { separator: '; ' })}\nbody: ${JSON.stringify(response.body).slice(0, 1000)}`).toBe(true);
  return response;
}

async function send(exchange: Exchange): Promise<{ status: number; body: any; contentType: string }> {
  const headers: Record<string, string> = { ...exchange.headers };
  const token = exchange.token === undefined ? ADMIN_TOKEN : exchange.token;
  if (token) headers.authorization = `Bearer ${token}`;
  let payload = exchange.raw;
  if (exchange.body !== undefined) payload = JSON.stringify(exchange.body);
  if (payload !== undefined) headers['content-type'] ??= 'application/json';
  const response = await fetch(`${daemon.url}${exchange.url}`, { method: exchange.method, headers, body: payload });
  const text = await response.text();
  let body: unknown = text;
  try { body = JSON.parse(text); } catch { /* not JSON: the schema check says so */ }
  return { status: response.status, body, contentType: response.headers.get('content-type') ?? '' };
}

/** A content type no parser accepts is answered 415 (documented on every route with a body). */
const UNSUPPORTED_MEDIA: Exchange[] = [
  { method: 'POST', template: '/v1/signals/airflow', url: '/v1/signals/airflow', raw: 'event=failure', headers: { 'content-type': 'application/x-www-form-urlencoded' } },
  { method: 'POST', template: '/v1/catalog', url: '/v1/catalog', raw: 'teams=', headers: { 'content-type': 'application/x-www-form-urlencoded' } },
];

beforeAll(async () => {
  daemon = await startTestDaemon('openapi_conformance', {
    MEDIC_SLA_MONITOR: 'off', MEDIC_RESOLVER_BACKOFF_BASE_MS: '3600000', MEDIC_RESOLVER_BACKOFF_CAP_MS: '3600000',
  });
  readerToken = await createToken(daemon.database.db, 'reader', 'reader');
  ingestToken = await createToken(daemon.database.db, 'airflow', 'ingest');
  operatorToken = await createToken(daemon.database.db, 'oncall', 'operator');

  const openapi = await daemon.call('GET', '/openapi.json', { token: null });
  expect(openapi.status).toBe(200);
  doc = openapi.body as Doc;
  expect((doc as unknown as { openapi: string }).openapi).toBe('3.0.3');
  ajv = new Ajv({ strict: false, allErrors: true });
  addFormats(ajv);
  for (const [name, schema] of Object.entries(doc.components?.schemas ?? {})) {
    ajv.addSchema(rewriteRefs(schema) as object, COMPONENTS + name);
  }
});

afterAll(async () => {
  await daemon?.close();
});

describe('/openapi.json describes the real answers', () => {
  it('POST /v1/catalog 200', async () => {
    await conforms({ method: 'POST', template: '/v1/catalog', url: '/v1/catalog', body: CATALOG }, 200);
  });

  it('POST /v1/signals/airflow: 202 new, 200 duplicate, 400 invalid', async () => {
    const ex = { method: 'POST', template: '/v1/signals/airflow', url: '/v1/signals/airflow', token: ingestToken };
    const accepted = await conforms({ ...ex, body: FAILURE }, 202);
    await conforms({ ...ex, body: FAILURE }, 200);
    await conforms({ ...ex, body: { ...FAILURE, event: 'exploded' } }, 400);
    await conforms({ ...ex, raw: '{"event": ', headers: { 'content-type': 'application/json' } }, 400);
    await conforms({ ...ex, body: FAILURE, token: null }, 401);
    await conforms({ ...ex, body: FAILURE, token: readerToken }, 403);
    const signalId = accepted.body.signal_id as string;
    const rca = await waitFor(async () => (await daemon.call('GET', '/v1/rca')).body.items.find((r: { signal_ids: string[] }) => r.signal_ids.includes(signalId)), 15_000, 'the RCA');
    rcaId = rca.id;
    incidentId = rca.incident_id;
    expect(incidentId).toBe('source_unavailable:orders-db');
  });

  it('POST /v1/signals/sla-miss and /v1/signals/dq-failure 202', async () => {
    await conforms({ method: 'POST', template: '/v1/signals/sla-miss', url: '/v1/signals/sla-miss', token: ingestToken, body: sampleSlaMiss('lake.orders') }, 202);
    await conforms({ method: 'POST', template: '/v1/signals/dq-failure', url: '/v1/signals/dq-failure', token: ingestToken, body: sampleDqFailure('lake.orders') }, 202);
  });

  it('GET /v1/tables 200, 400, 401', async () => {
    const ex = { method: 'GET', template: '/v1/tables', token: readerToken };
    const list = await conforms({ ...ex, url: '/v1/tables' }, 200);
    expect(list.body.items.length).toBeGreaterThan(0);
    await conforms({ ...ex, url: '/v1/tables?status=unhealthy&limit=1' }, 200);
    await conforms({ ...ex, url: '/v1/tables?cursor=garbage' }, 400);
    await conforms({ ...ex, url: '/v1/tables?status=sick' }, 400);
    await conforms({ ...ex, url: '/v1/tables', token: null }, 401);
  });

  it('GET /v1/tables/{table}/health 200 and 404', async () => {
    const ex = { method: 'GET', template: '/v1/tables/{table}/health', token: readerToken };
    const health = await conforms({ ...ex, url: '/v1/tables/lake.orders/health' }, 200);
    expect(health.body.status).toBe('unhealthy');
    await conforms({ ...ex, url: '/v1/tables/lake.nothing/health' }, 404);
  });

  it('GET /v1/tables/{table}/history 200', async () => {
    const history = await conforms({ method: 'GET', template: '/v1/tables/{table}/history', url: '/v1/tables/lake.orders/history', token: readerToken }, 200);
    expect(history.body.items.length).toBeGreaterThan(0);
  });

  it('GET /v1/rca 200, for a reader and (with evidence) for an admin', async () => {
    const ex = { method: 'GET', template: '/v1/rca', url: '/v1/rca' };
    const asReader = await conforms({ ...ex, token: readerToken }, 200);
    expect(asReader.body.items[0].evidence).toBeUndefined();
    const asAdmin = await conforms(ex, 200);
    expect(asAdmin.body.items[0].evidence.length).toBeGreaterThan(0);
    await conforms({ ...ex, url: '/v1/rca?since=yesterday', token: readerToken }, 400);
  });

  it('GET /v1/rca/{id} 200 (reader, admin) and 404', async () => {
    const ex = { method: 'GET', template: '/v1/rca/{id}' };
    await conforms({ ...ex, url: `/v1/rca/${rcaId}`, token: readerToken }, 200);
    const full = await conforms({ ...ex, url: `/v1/rca/${rcaId}` }, 200);
    expect(full.body.evidence.length).toBeGreaterThan(0);
    await conforms({ ...ex, url: `/v1/rca/${randomUUID()}`, token: readerToken }, 404);
    await conforms({ ...ex, url: '/v1/rca/not-a-uuid', token: readerToken }, 400);
  });

  it('POST /v1/rca/{id}/actions/{action} 200, 403, 404, and the RCA after it', async () => {
    const ex = { method: 'POST', template: '/v1/rca/{id}/actions/{action}' };
    await conforms({ ...ex, url: `/v1/rca/${rcaId}/actions/acknowledge`, token: readerToken }, 403);
    await conforms({ ...ex, url: `/v1/rca/${rcaId}/actions/acknowledge`, token: operatorToken }, 200);
    await conforms({ ...ex, url: `/v1/rca/${rcaId}/actions/acknowledge`, token: operatorToken }, 200);
    await conforms({ ...ex, url: `/v1/rca/${randomUUID()}/actions/acknowledge`, token: operatorToken }, 404);
    const after = await conforms({ method: 'GET', template: '/v1/rca/{id}', url: `/v1/rca/${rcaId}`, token: readerToken }, 200);
    expect(after.body.actions.length).toBe(1);
  });

  it('GET /v1/incidents 200 and /v1/incidents/{id} 200, 404', async () => {
    const list = await conforms({ method: 'GET', template: '/v1/incidents', url: '/v1/incidents', token: readerToken }, 200);
    expect(list.body.items.length).toBeGreaterThan(0);
    await conforms({ method: 'GET', template: '/v1/incidents', url: '/v1/incidents?status=resolved', token: readerToken }, 200);
    const one = await conforms({ method: 'GET', template: '/v1/incidents/{id}', url: `/v1/incidents/${encodeURIComponent(incidentId)}`, token: readerToken }, 200);
    expect(one.body.rca_ids).toContain(rcaId);
    await conforms({ method: 'GET', template: '/v1/incidents/{id}', url: '/v1/incidents/code_error:nothing', token: readerToken }, 404);
  });

  it('GET /v1/stats/resolvers 200', async () => {
    const stats = await conforms({ method: 'GET', template: '/v1/stats/resolvers', url: '/v1/stats/resolvers', token: readerToken }, 200);
    expect(stats.body.items.length).toBeGreaterThan(0);
  });

  it('GET /v1/catalog/tables/{table} 200 and 404; PUT 200/201', async () => {
    const ex = { method: 'GET', template: '/v1/catalog/tables/{table}', token: readerToken };
    const table = await conforms({ ...ex, url: '/v1/catalog/tables/lake.orders' }, 200);
    expect(table.body.name).toBe('lake.orders');
    await conforms({ ...ex, url: '/v1/catalog/tables/lake.nothing' }, 404);
    const put = { method: 'PUT', template: '/v1/catalog/tables/{table}', url: '/v1/catalog/tables/lake.extra', body: { owner: 'orders-eng', tier: 3 } };
    await conforms(put, 201);
    await conforms(put, 200);
    await conforms({ method: 'PUT', template: '/v1/catalog/teams/{team}', url: '/v1/catalog/teams/crm-eng', body: {} }, 201);
  });

  it('GET /v1/dead-letters 200', async () => {
    await conforms({ method: 'GET', template: '/v1/dead-letters', url: '/v1/dead-letters' }, 200);
    await conforms({ method: 'GET', template: '/v1/dead-letters', url: '/v1/dead-letters', token: readerToken }, 403);
    await conforms({ method: 'POST', template: '/v1/dead-letters/{id}/replay', url: `/v1/dead-letters/${randomUUID()}/replay` }, 404);
  });

  it('really checks: refs resolve, formats and required fields are enforced, undocumented codes are caught', async () => {
    const one = (await daemon.call('GET', '/v1/tables/lake.orders/health', { token: readerToken })).body;
    const validate = validatorFor('GET', '/v1/tables/{table}/health', 200) as ValidateFunction;
    expect(validate(one)).toBe(true);
    expect(validate({ ...one, status: 'sick' })).toBe(false);
    expect(validate({ ...one, since: 'yesterday' })).toBe(false);
    expect(validate({ ...one, rca_id: 'not-a-uuid' })).toBe(false);
    const { in_catalog: _dropped, ...missing } = one;
    expect(validate(missing)).toBe(false);
    // Through a $ref into components.schemas (the RCA list items).
    const list = (await daemon.call('GET', '/v1/rca', { token: readerToken })).body;
    const validateList = validatorFor('GET', '/v1/rca', 200) as ValidateFunction;
    expect(JSON.stringify(doc.paths['/v1/rca']!.get!.responses!['200'])).toContain('$ref');
    expect(validateList(list)).toBe(true);
    expect(validateList({ ...list, items: [{ ...list.items[0], category: 'gremlins' }] })).toBe(false);
    expect(validatorFor('GET', '/v1/tables', 418)).toMatch(/answered 418, which is not documented/);
  });

  it('POST /v1/rca/{id}/actions/{action} 409 once the RCA is resolved', async () => {
    const ex = { method: 'POST', template: '/v1/rca/{id}/actions/{action}', token: operatorToken };
    await conforms({ ...ex, url: `/v1/rca/${rcaId}/actions/resolve` }, 200);
    await conforms({ ...ex, url: `/v1/rca/${rcaId}/actions/acknowledge` }, 409);
    await conforms({ ...ex, url: `/v1/rca/${rcaId}/actions/retry` }, 409);
    await conforms({ ...ex, url: `/v1/rca/${rcaId}/actions/nuke` }, 400);
  });

  it('415 for an unsupported content type is documented and answered as documented', async () => {
    for (const exchange of UNSUPPORTED_MEDIA) await conforms(exchange, 415);
  });

  it('GET /healthz and /readyz 200', async () => {
    await conforms({ method: 'GET', template: '/healthz', url: '/healthz', token: null }, 200);
    const ready = await conforms({ method: 'GET', template: '/readyz', url: '/readyz', token: null }, 200);
    expect(ready.body).toEqual({ ok: true, database: true });
  });
});
