import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createToken, type Role } from '../../src/api/tokens.ts';
import { spawnDaemon, type DaemonProcess } from '../support/daemonProcess.ts';
import { createTestDatabase } from '../support/testDatabase.ts';
import { waitFor } from '../support/testDaemon.ts';
import { parseCursor, type CursorIdKind } from '../../src/api/cursor.ts';
import { isStorableInstant } from '../../src/api/dateTimeFormat.ts';
import { defectsOf, listOperations, requestsFor, type FuzzRequest, type JsonSchema, type KnownValues, type OpenApiDocument, type Operation, type TokensByRole } from './support/openapiFuzz.ts';

/**
 * Issue #10, item 5: hostile input against a real `medic serve` process. Requests generated
 * from the daemon's own /openapi.json for every operation — valid-ish, with one known defect,
 * with injection strings, malformed or oversized bodies, wrong roles — never get a 5xx and
 * never take the process down; each 4xx names what was wrong; SQL and markup sent as data are
 * stored and answered back as exactly that data.
 */

const ADMIN_TOKEN = 'hostile-input-admin-token-0001';
const REQUESTS_PER_OPERATION = 200;
const CONCURRENCY = 8;
const BODY_LIMIT_BYTES = 1_048_576;
/** Printed with the figures; FUZZ_SEED=<n> replays a run. */
const SEED = Number(process.env.FUZZ_SEED ?? Math.floor(Math.random() * 2 ** 31));

const SQL = "'; DROP TABLE signals; --";
const SCRIPT = '<script>alert(1)</script><img src=x onerror=alert(2)>';
const UNICODE = '😀 Ω≈ç \u202Eevil\u202C zero\u200Bwidth';

let database: Awaited<ReturnType<typeof createTestDatabase>>;
let daemon: DaemonProcess;
let home: string;
let doc: OpenApiDocument;
let operations: Operation[];
let tokens: TokensByRole;
const known: KnownValues = {};

interface Answer { status: number; contentType: string; text: string }

async function send(request: Pick<FuzzRequest, 'method' | 'url' | 'headers' | 'body'>): Promise<Answer> {
  try {
    const response = await fetch(`${daemon.url}${request.url}`, {
      method: request.method, headers: request.headers, body: request.body, redirect: 'manual', signal: AbortSignal.timeout(30_000),
    });
    return { status: response.status, contentType: response.headers.get('content-type') ?? '', text: await response.text() };
  } catch (error) {
    // No answer at all (connection reset, timeout) is counted as status 0: as bad as a 5xx.
    return { status: 0, contentType: '', text: String((error as Error).cause ?? error) };
  }
}

async function call(method: string, url: string, body?: unknown, token: string | null = ADMIN_TOKEN): Promise<{ status: number; body: any; contentType: string }> {
  const headers: Record<string, string> = token ? { authorization: `Bearer ${token}` } : {};
  if (body !== undefined) headers['content-type'] = 'application/json';
  const answer = await send({ method, url, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  let parsed: unknown = answer.text;
  try { parsed = JSON.parse(answer.text); } catch { /* not JSON */ }
  return { status: answer.status, body: parsed, contentType: answer.contentType };
}

/** Runs `work` over `items`, at most `limit` at a time, keeping the order of results. */
async function pool<T, R>(items: T[], limit: number, work: (item: T) => Promise<R>): Promise<R[]> {
  const results = new Array<R>(items.length);
  let next = 0;
  await Promise.all(Array.from({ length: limit }, async () => {
    while (next < items.length) {
      const index = next++;
      results[index] = await work(items[index]!);
    }
  }));
  return results;
}

/** What is wrong with one answer, or null: never 5xx, the error shape, and what the generator expected. */
function judge(request: FuzzRequest, answer: Answer): string | null {
  if (answer.status === 0) return `no answer: ${answer.text}`;
  if (answer.status >= 500) return `server error ${answer.status}: ${answer.text.slice(0, 300)}`;
  if (answer.status >= 400 && !answer.contentType.startsWith('application/json')) return `${answer.status} answered as ${answer.contentType}, not the JSON error shape`;
  let body: any = null;
  try { body = JSON.parse(answer.text); } catch { /* checked below where it matters */ }
  if (answer.status >= 400) {
    const error = body?.error;
    if (typeof error?.code !== 'string' || typeof error?.message !== 'string') return `${answer.status} without {error: {code, message}}: ${answer.text.slice(0, 300)}`;
    if (error.code === 'invalid_request' && !/^(body|params|querystring|headers)(\.|$)/.test(error.field ?? '')) return `invalid_request that names no field: ${answer.text.slice(0, 300)}`;
  }
  const expected = request.expect;
  if (!expected) return null;
  if (answer.status !== expected.status) return `expected ${expected.status}${expected.field ? ` naming ${expected.field}` : ''}, got ${answer.status}: ${answer.text.slice(0, 300)}`;
  if (expected.field !== undefined && body?.error?.field !== expected.field) return `expected field ${JSON.stringify(expected.field)}, got ${JSON.stringify(body?.error?.field)}: ${answer.text.slice(0, 300)}`;
  if (expected.code !== undefined && body?.error?.code !== expected.code) return `expected code ${expected.code}, got ${body?.error?.code}`;
  return null;
}

const describeRequest = (r: FuzzRequest) => `${r.method} ${r.url.slice(0, 200)} [${r.kind}] ${r.headers['content-type'] ?? ''} ${r.body === undefined ? '' : r.body.slice(0, 300)}`;

beforeAll(async () => {
  database = await createTestDatabase('reliability_hostile');
  home = await fs.mkdtemp(path.join(os.tmpdir(), 'medic-hostile-'));
  daemon = await spawnDaemon({
    DATABASE_URL: database.url, MEDIC_ADMIN_TOKEN: ADMIN_TOKEN, MEDIC_HOME: home, LOG_LEVEL: 'warn',
    MEDIC_BODY_LIMIT_BYTES: String(BODY_LIMIT_BYTES),
    // Thousands of requests from one token in a minute are the point here, not a rate to refuse.
    MEDIC_RATE_LIMIT_PER_MIN: '10000000',
    // Webhooks the fuzzer subscribes point at a closed local port; give up on them quickly.
    MEDIC_WEBHOOK_TIMEOUT_MS: '500', MEDIC_DIAGNOSIS_POLL_MS: '200',
  });
  tokens = { admin: ADMIN_TOKEN } as TokensByRole;
  for (const role of ['ingest', 'reader', 'operator'] as Role[]) tokens[role] = await createToken(database.db, `fuzz-${role}`, role);

  const openapi = await call('GET', '/openapi.json', undefined, null);
  expect(openapi.status).toBe(200);
  doc = openapi.body as OpenApiDocument;
  // Deletes last, so the seeded subscription is still there for the operations that read it.
  operations = listOperations(doc).sort((a, b) => Number(a.method === 'DELETE') - Number(b.method === 'DELETE'));

  // Real rows for path parameters to land on now and then: a catalog table, an RCA and its incident, a subscription.
  expect((await call('PUT', '/v1/catalog/tables/lake.orders', { owner: 'orders-eng', tier: 1, pipeline: { dag_id: 'orders_hourly' } })).status).toBeLessThan(300);
  const signal = await call('POST', '/v1/signals/airflow', {
    event: 'failure', dag_id: 'orders_hourly', task_id: 'load', run_id: 'seed', try_number: 1, tables: ['lake.orders'],
    exception: { type: 'psycopg2.OperationalError', message: 'could not connect to server: Connection refused' },
  });
  expect(signal.status).toBe(202);
  const rca = await waitFor(async () => (await call('GET', '/v1/rca?table=lake.orders')).body.items?.[0], 20_000, 'the seed RCA');
  const subscription = await call('POST', '/v1/subscriptions', { url: 'http://127.0.0.1:9/seed', secret: 'seed-secret-0123456789', format: 'medic' });
  expect(subscription.status).toBe(201);
  Object.assign(known, { table: ['lake.orders'], team: ['orders-eng'], id: [rca.id, subscription.body.id, ...(rca.incident_id ? [rca.incident_id] : [])] });
}, 120_000);

afterAll(async () => {
  await daemon?.stop();
  await database?.drop();
  if (home) await fs.rm(home, { recursive: true, force: true });
});

describe('hostile input from /openapi.json against a real medic serve', () => {
  it('never answers 5xx or crashes, and every 4xx names what was wrong', async () => {
    expect(operations.length).toBeGreaterThanOrEqual(25);
    const started = Date.now();
    const problems: string[] = [];
    const figures: string[] = [];
    const overall = new Map<number, number>();
    const kinds = new Map<string, number>();
    let sent = 0;
    let expectations = 0;
    const unreached: string[] = [];
    for (const [index, op] of operations.entries()) {
      const requests = fc.sample(requestsFor(op, tokens, known), { numRuns: REQUESTS_PER_OPERATION, seed: SEED + index });
      const answers = await pool(requests, CONCURRENCY, send);
      const histogram = new Map<number, number>();
      requests.forEach((request, i) => {
        const answer = answers[i]!;
        histogram.set(answer.status, (histogram.get(answer.status) ?? 0) + 1);
        overall.set(answer.status, (overall.get(answer.status) ?? 0) + 1);
        const kind = request.kind.replace(/:.*/, '');
        kinds.set(kind, (kinds.get(kind) ?? 0) + 1);
        if (request.expect) expectations += 1;
        const problem = judge(request, answer);
        if (problem) problems.push(`${describeRequest(request)}\n    → ${problem}`);
      });
      sent += requests.length;
      const twoHundreds = [...histogram].filter(([s]) => s >= 200 && s < 300).reduce((n, [, c]) => n + c, 0);
      // A generator that never gets past validation tests nothing behind it.
      if (op.body !== null && twoHundreds === 0) unreached.push(`${op.method} ${op.template}`);
      figures.push(`  ${op.method.padEnd(6)} ${op.template.padEnd(36)} ${String(requests.length).padStart(4)} sent  ${[...histogram].sort(([a], [b]) => a - b).map(([s, c]) => `${s}×${c}`).join(' ')}`);
    }
    const fiveHundreds = [...overall].filter(([s]) => s >= 500 || s === 0).reduce((n, [, c]) => n + c, 0);
    console.info([
      `hostile input (seed ${SEED}; FUZZ_SEED=${SEED} replays it): ${sent} requests over ${operations.length} operations in ${((Date.now() - started) / 1000).toFixed(1)} s`,
      ...figures,
      `  statuses: ${[...overall].sort(([a], [b]) => a - b).map(([s, c]) => `${s}×${c}`).join(' ')}`,
      `  kinds: ${[...kinds].map(([k, c]) => `${k}×${c}`).join(', ')}; ${expectations} requests with a known expected answer`,
      `  5xx or no answer: ${fiveHundreds}; other problems: ${problems.length}`,
    ].join('\n'));
    // A crash first, with the daemon's last words: every later request fails only because of it.
    expect(daemon.child.exitCode ?? daemon.child.signalCode, daemon.output().slice(-3000)).toBeNull();
    expect(problems.slice(0, 25), `${problems.length} problems (seed ${SEED})`).toEqual([]);
    expect(fiveHundreds).toBe(0);
    expect(unreached, 'operations whose valid-ish bodies never got a 2xx').toEqual([]);
    expect(expectations).toBeGreaterThan(sent / 4);
    expect((await call('GET', '/readyz', undefined, null)).status).toBe(200);
  }, 240_000);

  it('refuses a body over MEDIC_BODY_LIMIT_BYTES with 413 on every operation that takes a body', async () => {
    const oversized = JSON.stringify({ padding: 'x'.repeat(BODY_LIMIT_BYTES + 1) });
    const withBody = operations.filter((op) => op.method === 'POST' || op.method === 'PUT');
    expect(withBody.length).toBeGreaterThanOrEqual(10);
    const outcomes: string[] = [];
    for (const op of withBody) {
      const url = op.template.replace(/\{(\w+)\}/g, (_, name: string) => encodeURIComponent(known[name]?.[0] ?? 'x'));
      const answer = await send({ method: op.method, url, headers: { authorization: `Bearer ${ADMIN_TOKEN}`, 'content-type': 'application/json' }, body: oversized });
      outcomes.push(`${op.method} ${url} → ${answer.status} ${answer.text.slice(0, 120)}`);
      expect(answer.status, outcomes.at(-1)).toBe(413);
      expect(JSON.parse(answer.text).error.code).toBe('body_too_large');
    }
    console.info(`oversized bodies (${oversized.length} bytes, limit ${BODY_LIMIT_BYTES}): ${withBody.length} operations, all 413`);
    expect(daemon.child.exitCode).toBeNull();
  });

  it('stores SQL-like and script strings as data and answers them back byte for byte', async () => {
    const table = 'lake.inert_strings';
    const catalogTable = { owner: 'orders-eng', tier: 2, pipeline: { dag_id: `${SQL}${SCRIPT}`, task_ids: [SCRIPT, UNICODE] }, source: { kind: SQL, name: `${SCRIPT} ${UNICODE}` } };
    expect((await call('PUT', `/v1/catalog/tables/${table}`, catalogTable)).status).toBeLessThan(300);
    const readTable = await call('GET', `/v1/catalog/tables/${table}`);
    expect(readTable.contentType).toMatch(/^application\/json/);
    expect(readTable.body).toMatchObject({ name: table, pipeline: catalogTable.pipeline, source: { kind: SQL, name: catalogTable.source.name } });

    const subscription = await call('POST', '/v1/subscriptions', { name: `${SQL} ${SCRIPT}`, url: 'http://127.0.0.1:9/inert', secret: `${SQL}-secret`, format: 'medic', filter: { tables: [SQL, `${SCRIPT}*`] } });
    expect(subscription.status).toBe(201);
    const readSubscription = await call('GET', `/v1/subscriptions/${subscription.body.id}`);
    expect(readSubscription.body.name).toBe(`${SQL} ${SCRIPT}`);
    expect(readSubscription.body.filter).toEqual({ tables: [SQL, `${SCRIPT}*`] });

    const exception = { type: SCRIPT, message: `${SQL}\n${SCRIPT}\n${UNICODE}\n$$; DELETE FROM api_tokens; $$` };
    const callback = { event: 'failure', dag_id: `${SQL} dag`, task_id: SCRIPT, run_id: `${SQL}${UNICODE}`, try_number: 1, operator: SCRIPT, hostname: SQL, tables: [table], exception };
    const accepted = await call('POST', '/v1/signals/airflow', callback);
    expect(accepted.status).toBe(202);
    const rca = await waitFor(async () => (await call('GET', `/v1/rca?table=${table}`)).body.items?.[0], 20_000, 'the RCA of the hostile callback');
    const detail = await call('GET', `/v1/rca/${rca.id}`);
    expect(detail.contentType).toMatch(/^application\/json/);
    expect(detail.body.table).toBe(table);
    // The evidence names the exception type exactly as sent: data, not markup.
    const types = (detail.body.evidence as Array<{ inputs: Record<string, unknown> }>).map((e) => e.inputs.exception_type);
    expect(types).toContain(SCRIPT);

    // Byte for byte in the database too, and the tables the strings name are all still there.
    const stored = await database.pool.query(`SELECT payload, exception FROM signals WHERE id = $1`, [accepted.body.signal_id]);
    expect(stored.rows[0].exception).toEqual(exception);
    expect(stored.rows[0].payload).toMatchObject({ dag_id: callback.dag_id, task_id: SCRIPT, run_id: callback.run_id, operator: SCRIPT, hostname: SQL });
    const tables = await database.pool.query(`SELECT to_regclass('public.signals') AS signals, to_regclass('public.rca_records') AS rca, to_regclass('public.api_tokens') AS tokens`);
    expect(tables.rows[0]).toEqual({ signals: 'signals', rca: 'rca_records', tokens: 'api_tokens' });
    expect((await database.pool.query('SELECT count(*)::int AS n FROM api_tokens WHERE revoked_at IS NULL')).rows[0].n).toBe(3);
    expect((await call('GET', '/v1/whoami', undefined, tokens.reader)).status).toBe(200);

    // The Workbench renders these strings only under a script-src 'self' policy (test/workbench.test.ts drives Chromium through it).
    const page = await fetch(`${daemon.url}/`);
    await page.arrayBuffer();
    const csp = page.headers.get('content-security-policy') ?? '';
    expect(csp).toContain("script-src 'self'");
    expect(csp).toContain("object-src 'none'");
    expect(csp).not.toContain('unsafe-inline');
    expect(page.headers.get('x-content-type-options')).toBe('nosniff');
  });

  it('is still alive afterwards: /readyz 200, every stored signal diagnosed, a clean SIGTERM', async () => {
    const started = Date.now();
    const pending = async () => (await database.pool.query('SELECT count(*)::int AS n FROM signals WHERE diagnosed_at IS NULL')).rows[0].n as number;
    await waitFor(async () => (await pending()) === 0, 90_000, 'every fuzzed signal diagnosed');
    const counts = (await database.pool.query(`SELECT (SELECT count(*)::int FROM signals) AS signals, (SELECT count(*)::int FROM rca_records) AS rcas`)).rows[0];
    console.info(`hostile input: ${counts.signals} signals stored from fuzzed bodies, ${counts.rcas} RCA records, all diagnosed ${((Date.now() - started) / 1000).toFixed(1)} s after the fuzzing`);
    expect((await call('GET', '/readyz', undefined, null)).status).toBe(200);
    expect(daemon.child.exitCode).toBeNull();
    daemon.child.kill('SIGTERM');
    expect(await daemon.exited).toBe(0);
    // The log of the whole run: no crash report, no unhandled rejection.
    expect(daemon.output()).not.toMatch(/uncaught|unhandled|FATAL|Maximum call stack/i);
  }, 120_000);
});

describe('the pieces the fuzzer relies on, and the fixes it led to', () => {
  const schema: JsonSchema = {
    type: 'object', required: ['name'], additionalProperties: false,
    properties: { name: { type: 'string', minLength: 1, maxLength: 5 }, tier: { type: 'integer', minimum: 0, maximum: 9, nullable: true }, tags: { type: 'array', maxItems: 2, items: { type: 'string', enum: ['a', 'b'] } } },
  };
  it.each([
    ['missing required property', 'body.name'],
    ['unknown property', "body.'; DROP TABLE signals; --"],
    ['string too long', 'body.name'],
    ['empty string', 'body.name'],
    ['below minimum', 'body.tier'],
    ['above maximum', 'body.tier'],
    ['fraction for an integer', 'body.tier'],
    ['too many items', 'body.tags'],
    ['unknown enum value', 'body.tags.1'],
  ])('defectsOf finds "%s" and names %s', (kind, field) => {
    const defects = defectsOf(schema, { name: 'ok', tier: 3, tags: ['a', 'b'] });
    expect(defects.filter((d) => d.kind === kind).map((d) => d.field)).toContain(field);
  });

  it('defectsOf leaves alone what Ajv would coerce to null on a nullable field', () => {
    const defects = defectsOf(schema, { name: 'ok', tier: 1 });
    expect(defects.filter((d) => d.field === 'body.tier').map((d) => (d.value as { tier: unknown }).tier)).not.toContain(0);
  });

  it.each([
    ['2026-11-27T08:00:00Z', true],
    ['0001-01-01T00:00:00Z', true],
    ['9999-12-31T23:59:59Z', true],
    ['2016-12-31T23:59:60Z', false],
    ['0000-01-01T00:00:00Z', false],
    ['0001-01-01T00:00:00+14:00', false],
    ['9999-12-31T23:59:59-12:00', false],
  ])('a date-time %s is storable: %s', (text, storable) => {
    expect(isStorableInstant(new Date(text))).toBe(storable);
  });

  const cursor = (pair: unknown) => Buffer.from(JSON.stringify(pair)).toString('base64url');
  it.each<[string, string, CursorIdKind, boolean]>([
    ['a uuid id', cursor(['2026-01-01T00:00:00.000Z', '6d5a699e-568f-44b8-a986-681888098657']), 'uuid', true],
    ['SQL as a uuid id', cursor(['2026-01-01T00:00:00.000Z', "'; DROP TABLE signals; --"]), 'uuid', false],
    ['a sequence number', cursor(['2026-01-01T00:00:00.000Z', '42']), 'integer', true],
    ['text as a sequence number', cursor(['2026-01-01T00:00:00.000Z', '4 2']), 'integer', false],
    ['a table name', cursor(['2026-01-01T00:00:00.000Z', 'lake.orders']), 'text', true],
    ['a NUL in text', cursor(['2026-01-01T00:00:00.000Z', 'a\u0000b']), 'text', false],
    ['year 275760', cursor(['+275760-09-13T00:00:00.000Z', 'lake.orders']), 'text', false],
    ['year 0', cursor(['0000-01-01T00:00:00.000Z', 'lake.orders']), 'text', false],
    ['not base64 JSON', 'bm90IGpzb24', 'text', false],
  ])('parseCursor: %s', (_label, value, kind, accepted) => {
    if (accepted) expect(parseCursor(value, kind)).not.toBeNull();
    else expect(() => parseCursor(value, kind)).toThrow(/not a cursor this API returned/);
  });
});
