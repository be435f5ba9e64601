import { execFile } from 'node:child_process';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ADMIN_TOKEN, startTestDaemon, waitFor, type TestDaemon } from './support/testDaemon.ts';
import { freePort } from './support/daemonProcess.ts';
import { createToken } from '../src/api/tokens.ts';

/**
 * The on-call CLI (`medic tables`, `medic rca …`, `medic incidents`) run as a real child
 * process against a real daemon (in this process, on real PostgreSQL), as an engineer would.
 */

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const BIN = path.join(ROOT, 'bin/medic.js');

const CATALOG = {
  teams: [
    { name: 'orders-eng', slack: '#orders-eng' },
    { name: 'orders-dba', slack: '#orders-dba' },
    { name: 'crm-eng', slack: '#crm-eng' },
    { name: 'data-platform', slack: '#data-platform-oncall', platform: true },
  ],
  tables: [
    {
      name: 'lake.orders', owner: 'orders-eng', tier: 1,
      pipeline: { airflow: 'main', dag_id: 'orders_hourly', task_ids: ['load_orders'] },
      source: { kind: 'postgres', name: 'orders-db', owner: 'orders-dba' },
    },
    { name: 'lake.customers', owner: 'crm-eng', tier: 2, pipeline: { airflow: 'main', dag_id: 'customers_daily', task_ids: ['load_customers'] } },
    { name: 'lake.payments', owner: 'orders-eng', tier: 2, pipeline: { airflow: 'main', dag_id: 'payments_hourly', task_ids: ['load_payments'] } },
  ],
};

function callback(dagId: string, taskId: string, table: string, overrides: Record<string, unknown> = {}) {
  return {
    event: 'failure', dag_id: dagId, task_id: taskId, run_id: 'scheduled__2026-11-27T08:00:00+00:00',
    map_index: -1, try_number: 1, max_tries: 3,
    logical_date: '2026-11-27T08:00:00Z', start_date: '2026-11-27T08:00:05Z', end_date: '2026-11-27T08:06:57Z', duration_s: 412.5,
    exception: { type: 'psycopg2.OperationalError', message: 'could not connect to server: Connection refused\n\tIs the server running on host "orders-db" (10.0.0.5) and accepting\n\tTCP/IP connections on port 5432?' },
    tables: [table], airflow: 'main',
    ...overrides,
  };
}

let daemon: TestDaemon;
let emptyHome: string;
let readerToken: string;
let operatorToken: string;
let ordersRca: { id: string; manual_steps: string; assignee: { team: string; reason: string } };

interface CliRun { code: number; stdout: string; stderr: string }

/** `node bin/medic.js …` with only the environment given (plus PATH/HOME): no inherited tokens. */
function medic(args: string[], env: Record<string, string> = {}): Promise<CliRun> {
  return new Promise((resolve) => {
    execFile(process.execPath, [BIN, ...args], {
      cwd: ROOT,
      env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/tmp', MEDIC_HOME: emptyHome, MEDIC_URL: daemon.url, ...env },
      timeout: 30_000,
    }, (error, stdout, stderr) => {
      const code = error ? (typeof error.code === 'number' ? error.code : -1) : 0;
      resolve({ code, stdout, stderr });
    });
  });
}

/** The API's body exactly as it is sent, for comparing with --json. */
async function raw(url: string, token = readerToken): Promise<string> {
  const response = await fetch(`${daemon.url}${url}`, { headers: { authorization: `Bearer ${token}` } });
  expect(response.status).toBe(200);
  return response.text();
}

beforeAll(async () => {
  daemon = await startTestDaemon('on_call_cli', {
    MEDIC_SLA_MONITOR: 'off',
    // Keep the automatic retries far in the future: the records must not change under the test.
    MEDIC_RESOLVER_BACKOFF_BASE_MS: '3600000', MEDIC_RESOLVER_BACKOFF_CAP_MS: '3600000',
  });
  emptyHome = await fs.mkdtemp(path.join(os.tmpdir(), 'medic-cli-home-'));
  readerToken = await createToken(daemon.database.db, 'grafana', 'reader');
  operatorToken = await createToken(daemon.database.db, 'alice', 'operator');
  expect((await daemon.call('POST', '/v1/catalog', { body: CATALOG })).status).toBe(200);

  const signals = [
    callback('orders_hourly', 'load_orders', 'lake.orders'),
    callback('customers_daily', 'load_customers', 'lake.customers', { exception: { type: 'KeyError', message: "'customer_id'" } }),
    callback('payments_hourly', 'load_payments', 'lake.payments', { event: 'success', exception: null }),
  ];
  for (const body of signals) expect((await daemon.call('POST', '/v1/signals/airflow', { body })).status).toBe(202);
  await waitFor(async () => (await daemon.call('GET', '/v1/rca')).body.items.length >= 2, 15_000, 'two RCAs');
  await waitFor(async () => (await daemon.call('GET', '/v1/tables/lake.payments/health')).body.status === 'healthy', 15_000, 'lake.payments healthy');
  const list = await daemon.call('GET', '/v1/rca?table=lake.orders');
  ordersRca = list.body.items[0];
  expect(ordersRca.assignee.team).toBe('orders-dba');
});

afterAll(async () => {
  await daemon?.close();
  if (emptyHome) await fs.rm(emptyHome, { recursive: true, force: true });
});

describe('medic tables', () => {
  it('prints aligned rows, unhealthy first, with relative times and no colour when piped', async () => {
    const run = await medic(['tables'], { MEDIC_TOKEN: readerToken });
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    const lines = run.stdout.split('\n');
    expect(lines[0]).toMatch(/^TABLE\s+STATUS\s+SINCE\s+CATEGORY\s+ASSIGNEE\s+OWNER\s+AUTO-RESOLUTION$/);
    const rows = lines.slice(1, 4);
    expect(rows.map((l) => l.split(/\s+/)[0])).toEqual(expect.arrayContaining(['lake.orders', 'lake.customers', 'lake.payments']));
    // Needs attention first.
    expect(rows[2]).toMatch(/^lake\.payments\s+healthy\s/);
    const orders = rows.find((l) => l.startsWith('lake.orders'))!;
    expect(orders).toMatch(/^lake\.orders\s+unhealthy\s+(just now|\d+[sm] ago)\s+source_unavailable\s+orders-dba\s+orders-eng\s+retry-with-backoff scheduled 0\/\d+ next in \d+[mh]$/);
    expect(rows.find((l) => l.startsWith('lake.customers'))).toMatch(/unhealthy\s+\S+( ago| now)?\s+code_error\s/);
    // Columns line up: every row has STATUS at the same offset as the header.
    const statusAt = lines[0]!.indexOf('STATUS');
    for (const row of rows) expect(row.slice(statusAt)).toMatch(/^(unhealthy|healthy)/);
    expect(run.stdout).toContain('3 tables: 2 unhealthy, 1 healthy');
    expect(run.stdout).not.toContain('\u001b[');
  });

  it('filters by status and prints the API\'s JSON untouched with --json', async () => {
    const run = await medic(['tables', '--status', 'unhealthy', '--json'], { MEDIC_TOKEN: readerToken });
    expect(run.code).toBe(0);
    const api = await raw('/v1/tables?status=unhealthy');
    expect(run.stdout).toBe(`${api}\n`);
    const parsed = JSON.parse(run.stdout);
    expect(parsed.items.map((t: { table: string }) => t.table).sort()).toEqual(['lake.customers', 'lake.orders']);
  });

  it('follows next_cursor with --all', async () => {
    const run = await medic(['tables', '--limit', '1', '--all', '--json'], { MEDIC_TOKEN: readerToken });
    expect(run.code).toBe(0);
    const all = JSON.parse(await raw('/v1/tables?limit=1000'));
    expect(JSON.parse(run.stdout)).toEqual({ items: all.items, next_cursor: null });
    const onePage = await medic(['tables', '--limit', '1'], { MEDIC_TOKEN: readerToken });
    expect(onePage.stdout).toContain('1 table: ');
    expect(onePage.stdout).toContain('more tables on later pages: add --all');
  });

  it('rejects a bad option value before calling anyone', async () => {
    const run = await medic(['tables', '--status', 'sick'], { MEDIC_TOKEN: readerToken });
    expect(run.code).not.toBe(0);
    expect(run.stderr).toContain('Allowed choices are healthy, degraded, unhealthy, unknown');
  });
});

describe('medic rca', () => {
  it('lists records for an assignee', async () => {
    const run = await medic(['rca', 'list', '--assignee', 'orders-dba'], { MEDIC_TOKEN: readerToken });
    expect(run.code).toBe(0);
    const lines = run.stdout.split('\n');
    expect(lines[0]).toMatch(/^ID\s+TABLE\s+STATUS\s+CATEGORY\s+ASSIGNEE\s+CREATED\s+AUTO-RESOLUTION\s+SUMMARY$/);
    expect(lines[1]).toMatch(new RegExp(`^${ordersRca.id}\\s+lake\\.orders\\s+resolving\\s+source_unavailable\\s+orders-dba\\s+`));
    expect(lines[2]).toBe('');
    expect(run.stdout).toContain('1 RCA record: 1 resolving');
    const json = await medic(['rca', 'list', '--assignee', 'orders-dba', '--since', '1h', '--json'], { MEDIC_TOKEN: readerToken });
    expect(json.code).toBe(0);
    expect(JSON.parse(json.stdout)).toEqual(JSON.parse(await raw('/v1/rca?assignee=orders-dba')));
  });

  it('shows one record with the assignee, the reason, auto-resolution and the manual steps', async () => {
    const run = await medic(['rca', 'show', ordersRca.id], { MEDIC_TOKEN: readerToken });
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    expect(run.stdout).toContain(`RCA ${ordersRca.id}`);
    expect(run.stdout).toMatch(/Assignee\s+orders-dba {2}\(source_owner\)/);
    expect(run.stdout).toContain(ordersRca.assignee.reason);
    expect(run.stdout).toMatch(/Auto-resolution\s+retry-with-backoff scheduled 0\/\d+/);
    expect(run.stdout).toContain('Manual steps');
    expect(ordersRca.manual_steps.length).toBeGreaterThan(20);
    expect(run.stdout).toContain(ordersRca.manual_steps.trimEnd());
    // The evidence trail is for admins.
    expect(run.stdout).toMatch(/Evidence\n {2}shown to admin tokens only/);
    const asAdmin = await medic(['rca', 'show', ordersRca.id, '--token', ADMIN_TOKEN]);
    expect(asAdmin.stdout).toMatch(/exception-classifier v\S+\s+\d+ ms\s+→ source_unavailable/);
    const json = await medic(['rca', 'show', ordersRca.id, '--json'], { MEDIC_TOKEN: readerToken });
    expect(json.stdout).toBe(`${await raw(`/v1/rca/${ordersRca.id}`)}\n`);
  });

  it('says what to do for an id that does not exist or is not an id', async () => {
    const missing = await medic(['rca', 'show', '0b6f1c2e-8d4a-4f7e-9c1a-2b3c4d5e6f70'], { MEDIC_TOKEN: readerToken });
    expect(missing.code).toBe(1);
    expect(missing.stderr).toBe('medic: no RCA record 0b6f1c2e-8d4a-4f7e-9c1a-2b3c4d5e6f70: list them with medic rca list\n');
    const garbage = await medic(['rca', 'show', 'orders'], { MEDIC_TOKEN: readerToken });
    expect(garbage.code).toBe(1);
    expect(garbage.stderr).toContain('"orders" is not an RCA id');
  });

  it('acknowledges with an operator token, idempotently, and refuses a reader token with a clear message', async () => {
    const refused = await medic(['rca', 'action', ordersRca.id, 'acknowledge'], { MEDIC_TOKEN: readerToken });
    expect(refused.code).toBe(1);
    expect(refused.stdout).toBe('');
    expect(refused.stderr).toBe('medic: token lacks the operator role (the token "grafana" has reader); create one with medic token create --role operator --name you\n');
    expect((await daemon.call('GET', `/v1/rca/${ordersRca.id}`)).body.status).toBe('resolving');

    const done = await medic(['rca', 'action', ordersRca.id, 'acknowledge'], { MEDIC_TOKEN: operatorToken });
    expect(done.stderr).toBe('');
    expect(done.code).toBe(0);
    expect(done.stdout).toBe(`acknowledge: acknowledged by alice. RCA ${ordersRca.id} is acknowledged.\n`);
    const after = await daemon.call('GET', `/v1/rca/${ordersRca.id}`);
    expect(after.body.status).toBe('acknowledged');
    expect(after.body.actions).toEqual([expect.objectContaining({ action: 'acknowledge', actor: 'alice', outcome: 'applied' })]);

    const again = await medic(['rca', 'action', ordersRca.id, 'acknowledge', '--json'], { MEDIC_TOKEN: operatorToken });
    expect(JSON.parse(again.stdout)).toEqual({ rca_id: ordersRca.id, action: 'acknowledge', changed: false, status: 'acknowledged', message: 'already acknowledged' });
    const shown = await medic(['rca', 'show', ordersRca.id], { MEDIC_TOKEN: readerToken });
    expect(shown.stdout).toMatch(/Actions\n {2}acknowledge {2}applied {2}by alice {2}(just now|\d+[sm] ago)/);
  });
});

describe('medic incidents', () => {
  it('lists incidents, and --json is the API\'s answer', async () => {
    const run = await medic(['incidents'], { MEDIC_TOKEN: readerToken });
    expect(run.code).toBe(0);
    expect(run.stdout.split('\n')[0]).toMatch(/^INCIDENT\s+STATUS\s+OPEN\/RCAS\s+TABLES\s+ASSIGNEE\s+FIRST SEEN\s+LAST SEEN\s+SUMMARY$/);
    expect(run.stdout).toMatch(/\nsource_unavailable:orders-db\s+open\s+1\/1\s+lake\.orders\s+orders-dba\s/);
    const json = await medic(['incidents', '--status', 'open', '--json'], { MEDIC_TOKEN: readerToken });
    expect(json.stdout).toBe(`${await raw('/v1/incidents?status=open')}\n`);
  });
});

describe('tokens and connection errors', () => {
  it('without a token, explains how to get one', async () => {
    const run = await medic(['tables']);
    expect(run.code).toBe(1);
    expect(run.stderr).toMatch(/^medic: no token: set MEDIC_TOKEN or pass --token \(create one with medic token create --role reader --name you\)/);
  });

  it('falls back to $MEDIC_HOME/admin-token when no token is set', async () => {
    const home = await fs.mkdtemp(path.join(os.tmpdir(), 'medic-cli-admin-'));
    try {
      await fs.writeFile(path.join(home, 'admin-token'), `${ADMIN_TOKEN}\n`, { mode: 0o600 });
      const run = await medic(['rca', 'show', ordersRca.id], { MEDIC_HOME: home });
      expect(run.stderr).toBe('');
      expect(run.stdout).toContain('exception-classifier');
    } finally {
      await fs.rm(home, { recursive: true, force: true });
    }
  });

  it('says a refused token is unknown or revoked', async () => {
    const run = await medic(['incidents', '--token', 'medic_not-a-real-token']);
    expect(run.code).toBe(1);
    expect(run.stderr).toBe(`medic: Medic at ${daemon.url} refused the token from --token (unknown or revoked); create one with medic token create --role reader --name you and set MEDIC_TOKEN\n`);
  });

  it('says there is no Medic when the connection is refused', async () => {
    const url = `http://127.0.0.1:${await freePort()}`;
    const run = await medic(['tables'], { MEDIC_URL: url, MEDIC_TOKEN: readerToken });
    expect(run.code).toBe(1);
    expect(run.stdout).toBe('');
    expect(run.stderr).toBe(`medic: no Medic at ${url}: is medic serve running? set MEDIC_URL\n`);
    // --url wins over MEDIC_URL.
    const overridden = await medic(['tables', '--url', daemon.url, '--json'], { MEDIC_URL: url, MEDIC_TOKEN: readerToken });
    expect(overridden.code).toBe(0);
  });

  it('documents the token fallback in --help', async () => {
    const run = await medic(['rca', 'list', '--help']);
    expect(run.code).toBe(0);
    expect(run.stdout).toContain('$MEDIC_HOME/admin-token');
    expect(run.stdout).toContain('MEDIC_TOKEN');
  });
});
