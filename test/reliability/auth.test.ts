import { execFile } from 'node:child_process';
import { createHash, createHmac, randomBytes } from 'node:crypto';
import fs from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawnDaemon, type DaemonProcess } from '../support/daemonProcess.ts';
import { createTestDatabase } from '../support/testDatabase.ts';
import { waitFor } from '../support/testDaemon.ts';
import { startAirflowStandIn } from '../support/airflowStandIn.ts';
import { startWebhookReceiver } from '../support/webhookReceiver.ts';
import { revokeToken } from '../../src/api/tokens.ts';

/**
 * Issue #10, item 6, beyond the route × role matrix (routeRoleMatrix.test.ts): API tokens are
 * hashed at rest and nothing in the database holds one in clear; a revoked token stops working
 * within the verifier's cache time; malformed Authorization headers are a 401 (or the HTTP
 * parser's 400/431), never a 5xx; and a daemon at LOG_LEVEL=debug that handled tokens, webhook
 * secrets, a PagerDuty key, an Airflow password, a source DSN password and a DATABASE_URL
 * password writes none of them to its log.
 */

const run = promisify(execFile);
const BIN = path.resolve('bin/medic.js');
const secret = (label: string) => `${label}-${randomBytes(18).toString('base64url')}`;

/** Fresh every run, so a hit in the log can only come from this run. */
const ADMIN_TOKEN = secret('medic_admin');
const AIRFLOW_PASSWORD = secret('airflow-pw');
const SOURCE_PASSWORD = secret('source-pw');
const WEBHOOK_SECRET = secret('hook-secret');
const PAGERDUTY_KEY = secret('pd-key');
const TEAM_PAGERDUTY_KEY = secret('team-pd-key');
const HOOK_URL_PASSWORD = secret('hook-url-pw');

let database: Awaited<ReturnType<typeof createTestDatabase>>;
let daemon: DaemonProcess;
let home: string;
let airflow: Awaited<ReturnType<typeof startAirflowStandIn>>;
let receiver: Awaited<ReturnType<typeof startWebhookReceiver>>;
let databasePassword: string;
let cliEnv: Record<string, string>;
/** Tokens made with `medic token create`, by role. */
const cliTokens = new Map<string, string>();
/** Everything the CLI printed, except `token create`'s stdout (the one place a token is shown, by design). */
const cliOutput: string[] = [];

async function cli(...args: string[]): Promise<{ stdout: string; stderr: string }> {
  const out = await run(process.execPath, [BIN, ...args], { env: cliEnv });
  return out;
}

async function call(method: string, url: string, token: string | null, body?: unknown): Promise<{ status: number; body: any }> {
  const headers: Record<string, string> = token ? { authorization: `Bearer ${token}` } : {};
  if (body !== undefined) headers['content-type'] = 'application/json';
  const response = await fetch(`${daemon.url}${url}`, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  const text = await response.text();
  let parsed: unknown = text;
  try { parsed = JSON.parse(text); } catch { /* not JSON */ }
  return { status: response.status, body: parsed };
}

/** One HTTP/1.1 request written byte for byte (fetch refuses the malformed headers this is for). */
async function rawRequest(requestPath: string, headerLines: Buffer): Promise<{ status: number; text: string }> {
  const { port, hostname } = new URL(daemon.url);
  return new Promise((resolve, reject) => {
    const socket = net.connect(Number(port), hostname);
    const chunks: Buffer[] = [];
    socket.setTimeout(10_000, () => socket.destroy(new Error('raw request timed out')));
    socket.on('data', (chunk) => chunks.push(chunk));
    socket.on('error', reject);
    socket.on('close', () => {
      const text = Buffer.concat(chunks).toString('latin1');
      resolve({ status: Number(/^HTTP\/1\.1 (\d{3})/.exec(text)?.[1] ?? 0), text });
    });
    socket.write(Buffer.concat([Buffer.from(`GET ${requestPath} HTTP/1.1\r\nHost: ${hostname}:${port}\r\nConnection: close\r\n`), headerLines, Buffer.from('\r\n')]));
  });
}

beforeAll(async () => {
  database = await createTestDatabase('reliability_auth');
  databasePassword = decodeURIComponent(new URL(database.url).password);
  home = await fs.mkdtemp(path.join(os.tmpdir(), 'medic-auth-'));
  airflow = await startAirflowStandIn({ username: 'medic-svc', password: AIRFLOW_PASSWORD });
  receiver = await startWebhookReceiver();
  receiver.state.failAlways.add('/fails');
  const pg = new URL(database.url);
  const env = {
    DATABASE_URL: database.url, MEDIC_ADMIN_TOKEN: ADMIN_TOKEN, MEDIC_HOME: home, LOG_LEVEL: 'debug',
    ...airflow.env,
    // A real server that refuses this login: the source-database analyser probes it and fails to authenticate.
    SOURCE_ORDERS_DB_DSN: `postgres://medic_probe:${SOURCE_PASSWORD}@${pg.host}/postgres`,
    MEDIC_SLA_MONITOR: 'off', MEDIC_RECONCILER: 'off', MEDIC_DIAGNOSIS_POLL_MS: '100', MEDIC_RESOLVER_POLL_MS: '100',
    MEDIC_WEBHOOK_POLL_MS: '100', MEDIC_WEBHOOK_BACKOFF_BASE_MS: '100', MEDIC_WEBHOOK_BACKOFF_CAP_MS: '200',
  };
  cliEnv = { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/tmp', DATABASE_URL: database.url, MEDIC_HOME: home, LOG_LEVEL: 'debug' };
  daemon = await spawnDaemon(env);
}, 120_000);

afterAll(async () => {
  await daemon?.stop();
  await receiver?.close();
  await airflow?.close();
  await database?.drop();
  if (home) await fs.rm(home, { recursive: true, force: true });
});

describe('tokens at rest, revocation, malformed headers and secrets in logs', () => {
  it('creates tokens with the CLI, prints each exactly once, and stores only its SHA-256', async () => {
    expect(databasePassword.length, 'the test database URL must carry a password for the log check to mean anything').toBeGreaterThanOrEqual(16);
    // In parallel: each CLI run is a Node start of a few seconds.
    const roles = ['ingest', 'reader', 'operator', 'admin'];
    const runs = await Promise.all(roles.map((role) => cli('token', 'create', '--role', role, '--name', `cli-${role}`)));
    for (const [index, role] of roles.entries()) {
      const created = runs[index]!;
      const token = created.stdout.trim();
      expect(token).toMatch(/^medic_[A-Za-z0-9_-]{32}$/);
      expect(created.stdout).toBe(`${token}\n`);
      cliOutput.push(created.stderr);
      cliTokens.set(role, token);
    }
    const listed = await cli('token', 'list');
    cliOutput.push(listed.stdout, listed.stderr);
    for (const role of cliTokens.keys()) expect(listed.stdout).toContain(`cli-${role}`);

    const rows = (await database.pool.query('SELECT * FROM api_tokens ORDER BY name')).rows as Array<Record<string, unknown>>;
    expect(rows.map((r) => r.name)).toEqual(['cli-admin', 'cli-ingest', 'cli-operator', 'cli-reader']);
    for (const row of rows) {
      const token = cliTokens.get(String(row.name).replace('cli-', ''))!;
      expect(row.token_hash).toBe(createHash('sha256').update(token).digest('hex'));
      for (const [column, value] of Object.entries(row)) expect(String(value), `api_tokens.${column}`).not.toContain(token);
    }
    // The roles work as created: reader and up see whoami, ingest may only send signals.
    for (const [role, token] of cliTokens) {
      const whoami = await call('GET', '/v1/whoami', token);
      expect(whoami.status, role).toBe(role === 'ingest' ? 403 : 200);
      if (role !== 'ingest') expect(whoami.body).toEqual({ name: `cli-${role}`, role });
    }
  });

  it('uses every secret for real: webhooks signed, the PagerDuty key sent, Airflow and the source logged into', async () => {
    const catalog = await call('POST', '/v1/catalog', ADMIN_TOKEN, {
      teams: [{ name: 'orders-eng', pagerduty_routing_key: TEAM_PAGERDUTY_KEY }, { name: 'orders-dba' }, { name: 'data-platform', platform: true }],
      tables: [{ name: 'lake.orders', owner: 'orders-eng', tier: 1, pipeline: { airflow: 'main', dag_id: 'orders_hourly', task_ids: ['load_orders'] }, source: { kind: 'postgres', name: 'orders-db', owner: 'orders-dba' } }],
    });
    expect(catalog.status).toBe(200);
    // Credentials in a webhook URL are refused: fetch cannot send them, and every failure would log them.
    const hookUrl = new URL(receiver.url('/basic'));
    hookUrl.username = 'hookuser';
    hookUrl.password = HOOK_URL_PASSWORD;
    const withCredentials = await call('POST', '/v1/subscriptions', ADMIN_TOKEN, { url: hookUrl.toString(), secret: WEBHOOK_SECRET, format: 'medic' });
    expect(withCredentials.status).toBe(400);
    expect(withCredentials.body.error.field).toBe('body.url');
    expect(JSON.stringify(withCredentials.body)).not.toContain(HOOK_URL_PASSWORD);
    const subscriptions = [
      { url: receiver.url('/hook'), secret: WEBHOOK_SECRET, format: 'medic' },
      { url: receiver.url('/pd'), secret: WEBHOOK_SECRET, format: 'pagerduty', pagerduty_routing_key: PAGERDUTY_KEY },
      { url: receiver.url('/fails'), secret: WEBHOOK_SECRET, format: 'alertmanager' },
    ];
    for (const body of subscriptions) {
      const created = await call('POST', '/v1/subscriptions', ADMIN_TOKEN, body);
      expect(created.status).toBe(201);
      expect(JSON.stringify(created.body)).not.toContain(WEBHOOK_SECRET);
      expect(JSON.stringify(created.body)).not.toContain(PAGERDUTY_KEY);
    }

    const failure = {
      event: 'failure', dag_id: 'orders_hourly', task_id: 'load_orders', run_id: 'scheduled__2026-11-27T08:00:00+00:00', try_number: 1, airflow: 'main',
      exception: { type: 'psycopg2.OperationalError', message: 'could not connect to server: Connection refused\n\tIs the server running on host "orders-db" and accepting\n\tTCP/IP connections on port 5432?' },
    };
    const accepted = await call('POST', '/v1/signals/airflow', cliTokens.get('ingest')!, failure);
    expect(accepted.status).toBe(202);
    const rca = await waitFor(async () => (await call('GET', '/v1/rca?table=lake.orders', ADMIN_TOKEN)).body.items?.[0], 20_000, 'the RCA');
    const detail = await call('GET', `/v1/rca/${rca.id}`, ADMIN_TOKEN);
    const sourceEvidence = (detail.body.evidence as Array<{ analyser: string; observations: Record<string, unknown> }>).find((e) => e.analyser === 'source-database');
    expect(sourceEvidence?.observations.configured, 'the source DSN was used').toBe(true);
    expect(JSON.stringify(detail.body)).not.toContain(SOURCE_PASSWORD);

    // An operator's one-click retry logs in to Airflow (username + password → JWT) and clears the task.
    const retry = await call('POST', `/v1/rca/${rca.id}/actions/retry`, cliTokens.get('operator')!);
    expect(retry.status, JSON.stringify(retry.body)).toBe(200);
    await waitFor(async () => airflow.clears.length > 0, 20_000, 'the Airflow clear');
    expect(airflow.state.tokenRequests).toBeGreaterThan(0);

    // Health turned unhealthy: each subscription got its delivery, signed with the secret.
    const delivered = await waitFor(async () => receiver.on('/hook')[0], 20_000, 'the medic-format webhook');
    const expected = createHmac('sha256', WEBHOOK_SECRET).update(`${delivered.headers['x-medic-timestamp']}.${delivered.body}`).digest('hex');
    expect(delivered.headers['x-medic-signature']).toBe(`sha256=${expected}`);
    const paged = await waitFor(async () => receiver.on('/pd')[0], 20_000, 'the PagerDuty-format webhook');
    expect(paged.json.routing_key).toBe(PAGERDUTY_KEY);
    // A receiver answering 500: the worker logs each failure, and retries with the same signature scheme.
    await waitFor(async () => receiver.on('/fails').length >= 2, 20_000, 'two failed deliveries');
    expect(receiver.on('/fails')[0]!.headers['x-medic-signature']).toMatch(/^sha256=[0-9a-f]{64}$/);
  });

  it('rejects near-miss, hashed and revoked tokens with 401', async () => {
    const reader = cliTokens.get('reader')!;
    const nearMisses = [
      `${reader}x`, reader.slice(0, -1), reader.toUpperCase(), reader.replace('medic_', 'medic-'),
      createHash('sha256').update(reader).digest('hex'),
      createHash('sha256').update(ADMIN_TOKEN).digest('hex'),
      `medic_${randomBytes(24).toString('base64url')}`,
    ];
    for (const token of nearMisses) {
      const answer = await call('GET', '/v1/whoami', token);
      expect(answer.status, token).toBe(401);
      expect(answer.body.error.code).toBe('unauthenticated');
    }

    // With the CLI, as an operator would: refused at once afterwards (the CLI's own start outlasts the verifier's cache).
    const operator = cliTokens.get('operator')!;
    expect((await call('GET', '/v1/whoami', operator)).status).toBe(200);
    const revoked = await cli('token', 'revoke', '--name', 'cli-operator');
    cliOutput.push(revoked.stdout, revoked.stderr);
    await waitFor(async () => (await call('GET', '/v1/whoami', operator)).status === 401, 7_000, 'the CLI-revoked token refused');
    expect((await call('POST', '/v1/rca/00000000-0000-0000-0000-000000000000/actions/acknowledge', operator)).status).toBe(401);

    // Right after a successful call (the token is in the verifier's 5 s cache): refused within the cache time.
    const admin = cliTokens.get('admin')!;
    expect((await call('GET', '/v1/dead-letters', admin)).status).toBe(200);
    expect(await revokeToken(database.db, 'cli-admin')).toBe(true);
    const started = Date.now();
    await waitFor(async () => (await call('GET', '/v1/dead-letters', admin)).status === 401, 7_000, 'the revoked admin token refused');
    const tookMs = Date.now() - started;
    console.info(`auth: a token revoked while cached was refused after ${tookMs} ms (verifier cache 5000 ms)`);
    expect(tookMs).toBeLessThanOrEqual(5_500);
    const rows = (await database.pool.query(`SELECT name FROM api_tokens WHERE revoked_at IS NOT NULL ORDER BY name`)).rows;
    expect(rows.map((r) => r.name)).toEqual(['cli-admin', 'cli-operator']);
    // Revoking one token leaves the others alone.
    expect((await call('GET', '/v1/whoami', reader)).status).toBe(200);
  });

  it('answers malformed Authorization headers with 401 (or the HTTP parser\'s 400/431), never 5xx', async () => {
    const reader = cliTokens.get('reader')!;
    const header = (value: string | Buffer) => Buffer.concat([Buffer.from('Authorization: '), Buffer.isBuffer(value) ? value : Buffer.from(value, 'latin1'), Buffer.from('\r\n')]);
    const cases: Array<{ label: string; lines: Buffer; status: number }> = [
      { label: 'no header', lines: Buffer.alloc(0), status: 401 },
      { label: 'empty value', lines: header(''), status: 401 },
      { label: 'scheme only', lines: header('Bearer'), status: 401 },
      { label: 'scheme and space', lines: header('Bearer '), status: 401 },
      { label: 'Basic with the admin token as password', lines: header(`Basic ${Buffer.from(`admin:${ADMIN_TOKEN}`).toString('base64')}`), status: 401 },
      { label: 'another scheme', lines: header(`Token ${reader}`), status: 401 },
      { label: 'no scheme', lines: header(reader), status: 401 },
      { label: 'two credentials', lines: header(`Bearer ${reader} ${reader}`), status: 401 },
      { label: 'SQL with spaces', lines: header("Bearer '; DROP TABLE api_tokens; --"), status: 401 },
      { label: 'SQL without spaces', lines: header("Bearer ';DROP/**/TABLE/**/api_tokens;--"), status: 401 },
      { label: 'markup', lines: header('Bearer <script>alert(1)</script>'), status: 401 },
      { label: '8 KB token', lines: header(`Bearer ${'A'.repeat(8000)}`), status: 401 },
      { label: '20 KB token (over the header limit)', lines: header(`Bearer ${'A'.repeat(20_000)}`), status: 431 },
      { label: 'UTF-8 token', lines: header(Buffer.from('Bearer tökén😀', 'utf8')), status: 401 },
      { label: 'NUL in the token', lines: header(`Bearer ab\u0000cd`), status: 400 },
      { label: 'CR alone in the token', lines: header(`Bearer ab\rcd`), status: 400 },
      { label: 'obsolete line folding', lines: Buffer.from(`Authorization: Bearer\r\n ${reader}\r\n`), status: 400 },
      { label: 'a bad header, then a good one', lines: Buffer.concat([header('Bearer nope'), header(`Bearer ${reader}`)]), status: 401 },
      { label: 'the revoked token', lines: header(`Bearer ${cliTokens.get('operator')!}`), status: 401 },
      // Sanity: the same path with a well-formed header works, scheme case and header-name case notwithstanding.
      { label: 'lower-case scheme (allowed)', lines: header(`bearer ${reader}`), status: 200 },
      { label: 'upper-case header name (allowed)', lines: Buffer.from(`AUTHORIZATION: Bearer ${reader}\r\n`), status: 200 },
    ];
    const results: string[] = [];
    for (const c of cases) {
      for (const route of ['/v1/whoami', '/v1/dead-letters']) {
        const answer = await rawRequest(route, c.lines);
        const expected = c.status === 200 && route === '/v1/dead-letters' ? 403 : c.status;
        results.push(`${c.label} ${route}: ${answer.status}`);
        expect(answer.status, `${c.label} on ${route}: ${answer.text.slice(0, 300)}`).toBe(expected);
        // The answer never echoes what was sent as a token.
        if (answer.status !== 200) expect(answer.text).not.toContain(reader);
      }
    }
    console.info(`auth: ${results.length} malformed-header requests, statuses ${[...new Set(results.map((r) => r.split(': ')[1]))].join('/')}, none 5xx`);
    expect(daemon.child.exitCode).toBeNull();
  });

  it('keeps every token and secret out of the debug log, and out of the database where it is not needed', async () => {
    daemon.child.kill('SIGTERM');
    expect(await daemon.exited).toBe(0);
    const log = daemon.output();
    const debugLines = log.split('\n').filter((line) => line.includes('"level":20'));
    // The log really was at debug level and covered the paths that handle the secrets.
    expect(debugLines.length).toBeGreaterThan(0);
    expect(log).toContain('airflow request');
    expect(log).toContain('source database checked');
    expect(log).toContain('webhook');

    const secrets: Record<string, string> = {
      'MEDIC_ADMIN_TOKEN': ADMIN_TOKEN,
      ...Object.fromEntries([...cliTokens].map(([role, token]) => [`${role} token`, token])),
      'DATABASE_URL password': databasePassword,
      'DATABASE_URL password (URL-encoded)': encodeURIComponent(databasePassword),
      'Airflow password': AIRFLOW_PASSWORD,
      'Airflow basic credentials': Buffer.from(`medic-svc:${AIRFLOW_PASSWORD}`).toString('base64'),
      'Airflow JWT': 'stand-in-jwt',
      'source DSN password': SOURCE_PASSWORD,
      'webhook secret': WEBHOOK_SECRET,
      'PagerDuty routing key': PAGERDUTY_KEY,
      'team PagerDuty key': TEAM_PAGERDUTY_KEY,
      'webhook URL password': HOOK_URL_PASSWORD,
      'webhook basic credentials': Buffer.from(`hookuser:${HOOK_URL_PASSWORD}`).toString('base64'),
    };
    const everything = [log, ...cliOutput].join('\n');
    const leaks = Object.entries(secrets).filter(([, value]) => everything.includes(value)).map(([name]) => name);
    console.info(`auth: ${log.split('\n').length} log lines (${debugLines.length} at debug) and ${cliOutput.length} CLI outputs searched for ${Object.keys(secrets).length} secrets: ${leaks.length} found`);
    expect(leaks).toEqual([]);

    // At rest: no token, and no password Medic only uses to log in elsewhere, in any column of any table.
    const atRest = [ADMIN_TOKEN, ...cliTokens.values(), databasePassword, AIRFLOW_PASSWORD, SOURCE_PASSWORD];
    const columns = (await database.pool.query(`
      SELECT table_name, column_name FROM information_schema.columns
      WHERE table_schema = 'public' AND data_type IN ('text', 'character varying', 'json', 'jsonb')`)).rows as Array<{ table_name: string; column_name: string }>;
    expect(columns.length).toBeGreaterThan(30);
    const found: string[] = [];
    for (const { table_name: table, column_name: column } of columns) {
      const hits = await database.pool.query(`SELECT count(*)::int AS n FROM "${table}" WHERE EXISTS (SELECT 1 FROM unnest($1::text[]) AS s WHERE position(s IN "${column}"::text) > 0)`, [atRest]);
      if (hits.rows[0].n > 0) found.push(`${table}.${column}`);
    }
    console.info(`auth: ${columns.length} text/json columns searched for ${atRest.length} tokens and passwords: ${found.length} hold one`);
    expect(found).toEqual([]);
  });
});
