import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import fs from 'node:fs/promises';
import path from 'node:path';
import Fastify from 'fastify';
import { build } from 'vite';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ADMIN_TOKEN, startTestDaemon, waitFor, type TestDaemon } from './support/testDaemon.ts';
import { startAirflowStandIn } from './support/airflowStandIn.ts';
import { launchBrowser, type Browser } from './support/browser.ts';
import { createToken } from '../src/api/tokens.ts';
import { DEFAULT_UI_DIR, uiRoutes } from '../src/api/routes/uiRoutes.ts';
import type { ApiDeps } from '../src/api/server.ts';

/**
 * The Data Health Workbench (issue 8) end to end: a real daemon (serving web/dist) with an
 * Airflow stand-in, data seeded through the API, and Debian's Chromium driven by
 * playwright-core. Screenshots of each screen go to test/artifacts/workbench-*.png.
 */

const ARTIFACTS = path.resolve('test/artifacts');
const XSS = '<script>alert(1)</script> <img src=x onerror=alert(1)>';

let daemon: TestDaemon;
let airflow: Awaited<ReturnType<typeof startAirflowStandIn>>;
let browser: Browser;
let operator: string;
let reader: string;
const rcaIds = new Map<string, string>();
let run = 0;

async function fail(table: string, dagId: string, exception: { type: string; message: string }) {
  run += 1;
  const body = { event: 'failure', dag_id: dagId, task_id: 'load', run_id: `manual__wb${run}`, try_number: 1, airflow: 'main', tables: [table], exception };
  const accepted = await daemon.call('POST', '/v1/signals/airflow', { body });
  expect(accepted.status).toBe(202);
  const rca = await waitFor(async () => (await daemon.call('GET', `/v1/rca?table=${table}`)).body.items
    .find((r: { signal_ids: string[] }) => r.signal_ids.includes(accepted.body.signal_id)), 15_000, `the RCA of ${table}`);
  rcaIds.set(table, rca.id);
  return { rca, body };
}

/** A page that records every dialog (alert/confirm) and CSP or script error it meets. */
async function openPage(): Promise<{ page: Page; dialogs: string[]; problems: string[] }> {
  const context = await browser.newContext();
  const page = await context.newPage();
  page.setDefaultTimeout(15_000);
  const dialogs: string[] = [];
  const problems: string[] = [];
  page.on('dialog', (dialog) => { dialogs.push(`${dialog.type()}: ${dialog.message()}`); void dialog.dismiss(); });
  page.on('pageerror', (error) => problems.push(`page error: ${error.message}`));
  page.on('console', (message) => {
    if (message.type() === 'error' && /Content Security Policy|Refused to/i.test(message.text())) problems.push(`console: ${message.text()}`);
  });
  return { page, dialogs, problems };
}

async function signIn(page: Page, token: string, screenshot?: string) {
  await page.goto(`${daemon.url}/`);
  await page.getByRole('heading', { level: 1, name: 'Sign in' }).waitFor();
  await page.getByLabel('API token').fill(token);
  if (screenshot) await shot(page, screenshot);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByRole('heading', { level: 1, name: 'Overview' }).waitFor();
}

const shot = (page: Page, name: string) => page.screenshot({ path: path.join(ARTIFACTS, `workbench-${name}.png`), fullPage: true });

const overviewStatuses = (page: Page) => page.locator('[data-testid=overview-table] tbody tr[data-status]')
  .evaluateAll((rows) => rows.map((r) => [r.querySelector('th')?.textContent ?? '', r.getAttribute('data-status') ?? '']));

beforeAll(async () => {
  // `npm test` builds the UI first (pretest); a lone `vitest run` of this file builds it if missing.
  if (!existsSync(path.join(DEFAULT_UI_DIR, 'index.html'))) execFileSync('npm', ['run', 'build:ui'], { stdio: 'inherit' });
  await fs.mkdir(ARTIFACTS, { recursive: true });
  airflow = await startAirflowStandIn();
  daemon = await startTestDaemon('workbench', {
    ...airflow.env,
    MEDIC_SLA_MONITOR: 'off',
    MEDIC_RESOLVER_POLL_MS: '100',
    MEDIC_RESOLVER_BACKOFF_BASE_MS: '60000', MEDIC_RESOLVER_BACKOFF_JITTER_PCT: '0',
  });
  operator = await createToken(daemon.database.db, 'oncall-alice', 'operator');
  reader = await createToken(daemon.database.db, 'dashboard-bob', 'reader');

  const catalog = await daemon.call('POST', '/v1/catalog', {
    body: {
      teams: [{ name: 'orders-eng' }, { name: 'orders-dba' }, { name: 'crm-eng' }, { name: 'finance-eng' }, { name: 'data-platform', platform: true }],
      tables: [
        { name: 'lake.orders', owner: 'orders-eng', tier: 1, pipeline: { airflow: 'main', dag_id: 'orders_hourly' }, source: { kind: 'postgres', name: 'orders-db', owner: 'orders-dba' } },
        { name: 'lake.order_items', owner: 'orders-eng', tier: 1, pipeline: { airflow: 'main', dag_id: 'order_items_hourly' }, source: { kind: 'postgres', name: 'orders-db', owner: 'orders-dba' } },
        { name: 'lake.customers', owner: 'crm-eng', tier: 2, pipeline: { airflow: 'main', dag_id: 'customers_daily' } },
        { name: 'lake.payments', owner: 'finance-eng', tier: 1, pipeline: { airflow: 'main', dag_id: 'payments_hourly' } },
        { name: 'lake.inventory', owner: 'orders-eng', tier: 3, pipeline: { airflow: 'main', dag_id: 'inventory_daily' } },
        { name: 'lake.fx_rates', owner: 'finance-eng', tier: 3, pipeline: { airflow: 'main', dag_id: 'fx_daily' } },
      ],
    },
  });
  expect(catalog.status).toBe(200);

  const refused = { type: 'psycopg2.OperationalError', message: 'could not connect to server: Connection refused\n\tIs the server running on host "orders-db" (10.0.0.5) and accepting\n\tTCP/IP connections on port 5432?' };
  await fail('lake.orders', 'orders_hourly', refused);
  await fail('lake.order_items', 'order_items_hourly', refused);
  await fail('lake.customers', 'customers_daily', { type: 'ValueError', message: `bad row in batch 7: ${XSS}` });
  await fail('lake.payments', 'payments_hourly', { type: 'KeyError', message: "'amount'" });
  const inventory = await fail('lake.inventory', 'inventory_daily', { type: 'KeyError', message: "'sku'" });
  await daemon.call('POST', '/v1/signals/airflow', { body: { ...inventory.body, event: 'success', try_number: 2, exception: null } });
  await waitFor(async () => (await daemon.call('GET', '/v1/tables/lake.inventory/health')).body.status === 'healthy', 10_000, 'lake.inventory healthy');

  browser = await launchBrowser();
}, 120_000);

afterAll(async () => {
  await browser?.close();
  await daemon?.close();
  await airflow?.close();
});

describe('serving the workbench', () => {
  it('serves the app at / and at client routes with a self-only CSP, and leaves the API paths alone', async () => {
    const root = await fetch(`${daemon.url}/`);
    expect(root.status).toBe(200);
    expect(root.headers.get('content-type')).toContain('text/html');
    expect(root.headers.get('content-security-policy')).toContain("script-src 'self'");
    expect(root.headers.get('content-security-policy')).toContain("default-src 'self'");
    expect(root.headers.get('x-content-type-options')).toBe('nosniff');
    const html = await root.text();
    expect(html).toContain('<div id="root"></div>');
    expect(html).not.toMatch(/<script(?![^>]*\bsrc=)[^>]*>/); // no inline script
    const asset = /src="(\/assets\/[^"]+\.js)"/.exec(html)![1]!;
    const js = await fetch(`${daemon.url}${asset}`);
    expect(js.status).toBe(200);
    expect(js.headers.get('content-type')).toContain('javascript');
    expect(js.headers.get('cache-control')).toContain('immutable');

    const deep = await fetch(`${daemon.url}/tables/lake.orders`);
    expect(deep.status).toBe(200);
    expect(await deep.text()).toBe(html);

    const unknownApi = await daemon.call('GET', '/v1/no-such-thing');
    expect(unknownApi.status).toBe(404);
    expect(unknownApi.body.error.code).toBe('not_found');
    expect((await fetch(`${daemon.url}/assets/missing.js`)).status).toBe(404);
    expect((await daemon.call('GET', '/openapi.json', { token: null })).body.paths['/v1/whoami']).toBeDefined();
    expect((await fetch(`${daemon.url}/docs/`)).status).toBeLessThan(400);
    expect((await daemon.call('GET', '/healthz', { token: null })).body).toEqual({ ok: true });
  });

  it('GET /v1/whoami answers the token\'s name and role', async () => {
    expect((await daemon.call('GET', '/v1/whoami', { token: operator })).body).toEqual({ name: 'oncall-alice', role: 'operator' });
    expect((await daemon.call('GET', '/v1/whoami', { token: ADMIN_TOKEN })).body).toEqual({ name: 'admin', role: 'admin' });
    expect((await daemon.call('GET', '/v1/whoami', { token: null })).status).toBe(401);
  });

  it('answers 503 with how to build it when web/dist is missing', async () => {
    const app = Fastify();
    await app.register(uiRoutes({} as ApiDeps, { dir: '/nonexistent/web/dist' }));
    const page = await app.inject({ method: 'GET', url: '/tables/lake.orders' });
    expect(page.statusCode).toBe(503);
    expect(page.body).toContain('npm run build:ui');
    expect(page.headers['content-security-policy']).toContain("default-src 'self'");
    await app.close();
  });
});

describe('the workbench in Chromium', () => {
  it('renders markdown with raw HTML shown as text, unsafe links dropped and nothing executed', async () => {
    // web/src/markdown.ts, bundled on its own and run on a blank page (no CSP there to hide a mistake).
    const bundle = await build({
      configFile: false, logLevel: 'silent', root: path.resolve('web'),
      build: { write: false, minify: false, lib: { entry: path.resolve('web/src/markdown.ts'), formats: ['iife'], name: 'MedicMarkdown' } },
    });
    const output = (Array.isArray(bundle) ? bundle[0]! : bundle) as { output: Array<{ type: string; code?: string }> };
    const code = output.output.find((o) => o.type === 'chunk')!.code!;
    const { page, dialogs } = await openPage();
    await page.setContent('<!doctype html><html><body><div id="out"></div></body></html>');
    await page.addScriptTag({ content: code });
    const markdown = [
      '# Steps', '', 'Raw: <script>alert(1)</script> and <img src=x onerror=alert(2)> inline.', '',
      '<div onclick="alert(3)"><iframe src="javascript:alert(4)"></iframe></div>', '',
      '[click](javascript:alert(5)) [ok](https://example.com/runbook) ![pic](x" onerror="alert(6))', '',
      '<a href="javascript:alert(7)">html link</a> <svg onload=alert(8)></svg>', '',
      '```text', '<script>alert(9)</script>', '```', '', '1. `code <b>`', '2. **bold**',
    ].join('\n');
    const result = await page.evaluate((md) => {
      const html = (window as unknown as { MedicMarkdown: { renderMarkdown(m: string): string } }).MedicMarkdown.renderMarkdown(md);
      const out = document.getElementById('out')!;
      out.innerHTML = html;
      const elements = Array.from(out.querySelectorAll('*'));
      return {
        text: out.textContent ?? '',
        tags: [...new Set(elements.map((e) => e.tagName.toLowerCase()))].sort(),
        handlers: elements.flatMap((e) => Array.from(e.attributes).filter((a) => a.name.startsWith('on')).map((a) => a.name)),
        hrefs: Array.from(out.querySelectorAll('a')).map((a) => a.getAttribute('href')),
      };
    }, markdown);
    await page.waitForTimeout(300);
    expect(dialogs).toEqual([]);
    expect(result.handlers).toEqual([]);
    expect(result.tags.filter((t) => !['a', 'code', 'h1', 'li', 'ol', 'p', 'pre', 'strong'].includes(t))).toEqual([]);
    expect(result.hrefs).toEqual(['https://example.com/runbook']);
    expect(result.text).toContain('<script>alert(1)</script>');
    expect(result.text).toContain('<img src=x onerror=alert(2)>');
    expect(result.text).toContain('<script>alert(9)</script>');
    expect(result.text).toContain('code <b>');
    await page.context().close();
  });

  it('an operator signs in, sees the overview (unhealthy first, counts), opens a table and retries it', async () => {
    const { page, dialogs, problems } = await openPage();
    await signIn(page, operator, 'signin');
    expect(await page.getByTestId('role').textContent()).toBe('operator');

    await page.waitForFunction(() => document.querySelectorAll('[data-testid=overview-table] tbody tr[data-status]').length === 6);
    const rows = await overviewStatuses(page);
    expect(rows.map(([, s]) => s)).toEqual(['unhealthy', 'unhealthy', 'unhealthy', 'unhealthy', 'unknown', 'healthy']);
    expect(rows.slice(4).map(([t]) => t)).toEqual(['lake.fx_rates', 'lake.inventory']);
    expect(await page.getByTestId('count-unhealthy').locator('.count-number').textContent()).toBe('4');
    expect(await page.getByTestId('count-healthy').locator('.count-number').textContent()).toBe('1');
    expect(await page.getByTestId('count-unknown').locator('.count-number').textContent()).toBe('1');
    expect(await page.getByTestId('count-degraded').locator('.count-number').textContent()).toBe('0');
    const ordersRow = page.locator('[data-testid=overview-table] tbody tr', { has: page.getByRole('link', { name: 'lake.orders', exact: true }) });
    expect(await ordersRow.textContent()).toContain('source_unavailable');
    expect(await ordersRow.textContent()).toContain('orders-dba');
    // Its automatic retry is planned (backoff base 60 s here): the overview says so.
    expect(await ordersRow.textContent()).toContain('scheduled (0/');
    await shot(page, 'overview');

    // Filters: a team, then a status; the URL keeps them.
    await page.getByLabel('Team (owner or assignee)').selectOption('finance-eng');
    await page.waitForFunction(() => document.querySelectorAll('[data-testid=overview-table] tbody tr[data-status]').length === 2);
    expect((await overviewStatuses(page)).map(([t]) => t)).toEqual(['lake.payments', 'lake.fx_rates']);
    await page.getByLabel('Status', { exact: true }).selectOption('unhealthy');
    await page.waitForFunction(() => document.querySelectorAll('[data-testid=overview-table] tbody tr[data-status]').length === 1);
    expect(page.url()).toContain('team=finance-eng');
    await shot(page, 'overview-filtered');
    await page.getByRole('button', { name: 'Clear filters' }).click();
    await page.waitForFunction(() => document.querySelectorAll('[data-testid=overview-table] tbody tr[data-status]').length === 6);

    // The table screen: current RCA, assignee and why, steps, no attempts yet.
    await page.getByRole('link', { name: 'lake.payments', exact: true }).click();
    await page.getByRole('heading', { level: 1, name: /lake\.payments/ }).waitFor();
    await page.getByTestId('rca-summary').waitFor();
    expect(await page.getByTestId('assignee').textContent()).toContain('finance-eng');
    expect(await page.getByTestId('manual-steps').locator('pre code').first().textContent()).toContain("'amount'");
    await page.getByTestId('no-attempts').waitFor();
    expect(await page.locator('button[data-action]').allTextContents()).toEqual(['Retry', 'Acknowledge', 'Resolve', 'Escalate']);

    // Retry, and watch the attempt appear without a reload (a marker on window survives only if the page is not reloaded).
    await page.evaluate(() => { (window as unknown as { noReload: boolean }).noReload = true; });
    await page.getByRole('button', { name: 'Retry' }).click();
    await page.getByTestId('action-result').filter({ hasText: /Retry:/ }).waitFor();
    await waitFor(async () => airflow.clears.some((c) => c.dagId === 'payments_hourly'), 10_000, 'the clear of payments_hourly');
    // The attempt is Medic's (its resolution worker makes the call); who asked for it is on the plan and in the actions log.
    await page.locator('[data-testid=attempts] tbody tr[data-outcome=retriggered]').waitFor({ timeout: 15_000 });
    expect(await page.getByTestId('auto-resolution').textContent()).toContain('oncall-alice');
    expect(await page.evaluate(() => (window as unknown as { noReload?: boolean }).noReload)).toBe(true);
    await page.getByTestId('actions-log').filter({ hasText: 'retry by oncall-alice' }).waitFor();
    expect(await page.getByTestId('resolution-state').textContent()).toMatch(/waiting_recovery|running|scheduled/);
    await page.getByTestId('timeline').waitFor();
    await shot(page, 'table-operator');

    // An exception message with markup is text, in the summary and in the how-to-fix steps.
    await page.goto(`${daemon.url}/tables/lake.customers`);
    await page.getByTestId('manual-steps').waitFor();
    expect(await page.getByTestId('manual-steps').textContent()).toContain('<script>alert(1)</script>');
    expect(await page.getByTestId('manual-steps').textContent()).toContain('<img src=x onerror=alert(1)>');
    expect(await page.locator('#main script, #main img, #main [onerror]').count()).toBe(0);
    await page.waitForTimeout(500);
    expect(dialogs).toEqual([]);
    await shot(page, 'table-escaped-exception');

    expect(problems).toEqual([]);
  });

  it('a reader sees the same table without action buttons, and no evidence', async () => {
    const { page, dialogs, problems } = await openPage();
    await signIn(page, reader);
    expect(await page.getByTestId('role').textContent()).toBe('reader');
    await page.getByRole('link', { name: 'lake.payments', exact: true }).click();
    await page.getByTestId('rca-summary').waitFor();
    await page.getByTestId('read-only').waitFor();
    expect(await page.locator('button[data-action]').count()).toBe(0);
    expect(await page.getByRole('button', { name: /^(Retry|Acknowledge|Resolve|Escalate)$/ }).count()).toBe(0);
    await shot(page, 'table-reader');
    await page.getByRole('link', { name: 'Details' }).click();
    await page.getByTestId('evidence-hidden').waitFor();
    expect(await page.getByTestId('evidence').count()).toBe(0);
    expect(dialogs).toEqual([]);
    expect(problems).toEqual([]);
  });

  it('an admin sees the evidence trail of an RCA, and the incidents with their tables', async () => {
    const { page, dialogs, problems } = await openPage();
    await signIn(page, ADMIN_TOKEN);
    await page.goto(`${daemon.url}/rca/${rcaIds.get('lake.orders')}`);
    await page.getByTestId('evidence').waitFor();
    const analysers = await page.locator('[data-testid=evidence] > li h3 code').allTextContents();
    expect(analysers[0]).toBe('exception-classifier');
    expect(analysers.length).toBeGreaterThanOrEqual(2);
    expect(await page.getByTestId('evidence').textContent()).toContain('Duration');
    expect(await page.getByTestId('assignee').textContent()).toContain('orders-dba');
    // Open the first analyser's inputs and observations for the screenshot.
    for (const summary of await page.locator('[data-testid=evidence] > li').first().locator('summary').all()) await summary.click();
    expect(await page.locator('[data-testid=evidence] > li').first().locator('pre.json').first().textContent()).toContain('psycopg2.OperationalError');
    await shot(page, 'rca-admin');

    await page.getByRole('link', { name: 'Incidents' }).click();
    await page.getByRole('heading', { level: 1, name: 'Incidents' }).waitFor();
    const incident = page.locator('[data-testid=incidents] tbody tr', { hasText: 'source_unavailable:orders-db' });
    await incident.waitFor();
    expect(await incident.getByRole('link').allTextContents()).toEqual(expect.arrayContaining(['lake.orders', 'lake.order_items']));
    await shot(page, 'incidents');
    await incident.getByRole('link', { name: 'source_unavailable:orders-db' }).click();
    await page.getByRole('heading', { level: 1, name: /Incident/ }).waitFor();
    await page.locator('#incident-tables').getByRole('link', { name: 'lake.order_items' }).waitFor();
    expect(dialogs).toEqual([]);
    expect(problems).toEqual([]);
  });
});
