import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HealthCache } from '../src/db/healthCache.ts';
import { startTableHealthReader, type TableHealthReader } from '../src/db/healthCache.ts';
import { HealthChangeFeed, type HealthChanges } from '../src/db/healthChangeFeed.ts';
import { getTableHealth, readTableHealth, readTableHealthPage } from '../src/db/healthQueries.ts';
import { seedTables } from '../bench/scenarios/health.ts';
import { spawnDaemon, type DaemonProcess } from './support/daemonProcess.ts';
import { createTestDatabase } from './support/testDatabase.ts';
import { startTestDaemon, waitFor, type TestDaemon } from './support/testDaemon.ts';
import { startTcpProxy, type TcpProxy } from './support/tcpProxy.ts';

const silent = pino({ level: 'silent' });
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

type TestDatabase = Awaited<ReturnType<typeof createTestDatabase>>;

/** A cache fed by hand: loads resolve when the test says so, the feed is current when it says so. */
function handFedCache(maxBytes = 1_000_000) {
  const pending = new Map<string, Array<(json: string | null) => void>>();
  let current = true;
  const cache = new HealthCache({
    load: (table) => new Promise((resolve) => { pending.set(table, [...(pending.get(table) ?? []), resolve]); }),
    mayServe: () => current,
    mayFill: () => current,
    maxBytes,
  });
  return {
    cache,
    setCurrent: (value: boolean) => { current = value; },
    /** Answers the oldest load of `table` with `json`; returns how many were waiting. */
    answer: async (table: string, json: string | null) => {
      const waiting = pending.get(table) ?? [];
      waiting.shift()?.(json);
      await sleep(0);
      return waiting.length + 1;
    },
  };
}

describe('HealthCache: a load that a change overtook is never kept', () => {
  // Each case: what happens while the first load of lake.a is in flight, and whether its answer is kept.
  const cases: Array<{ name: string; during: (h: ReturnType<typeof handFedCache>) => void; kept: boolean }> = [
    { name: 'nothing happens', during: () => undefined, kept: true },
    { name: 'another table changes', during: (h) => h.cache.apply({ all: false, tables: ['lake.b'] }), kept: true },
    { name: 'the table changes', during: (h) => h.cache.apply({ all: false, tables: ['lake.a'] }), kept: false },
    { name: 'everything is flushed', during: (h) => h.cache.apply({ all: true }), kept: false },
    { name: 'the feed falls behind', during: (h) => h.setCurrent(false), kept: false },
  ];
  for (const c of cases) {
    it(`${c.name}: ${c.kept ? 'kept' : 'not kept'}`, async () => {
      const h = handFedCache();
      const first = h.cache.read('lake.a');
      expect(first).toBeInstanceOf(Promise);
      c.during(h);
      await h.answer('lake.a', '{"v":1}');
      await expect(first).resolves.toBe('{"v":1}');
      h.setCurrent(true);
      const second = h.cache.read('lake.a');
      if (c.kept) {
        expect(second).toBe('{"v":1}');
        expect(h.cache.hits).toBe(1);
      } else {
        expect(second).toBeInstanceOf(Promise);
        await h.answer('lake.a', '{"v":2}');
        await expect(second).resolves.toBe('{"v":2}');
      }
    });
  }

  it('concurrent misses share one load; unknown tables (null) are cached too', async () => {
    const h = handFedCache();
    const reads = [h.cache.read('lake.none'), h.cache.read('lake.none'), h.cache.read('lake.none')];
    expect(await h.answer('lake.none', null)).toBe(1);
    expect(await Promise.all(reads)).toEqual([null, null, null]);
    expect(h.cache.read('lake.none')).toBeNull();
    expect({ hits: h.cache.hits, misses: h.cache.misses, size: h.cache.size }).toEqual({ hits: 1, misses: 3, size: 1 });
  });

  it('while the feed is behind every read goes to the database and nothing is stored', async () => {
    const h = handFedCache();
    h.setCurrent(false);
    const read = h.cache.read('lake.a');
    await h.answer('lake.a', '{"v":1}');
    await read;
    expect({ bypasses: h.cache.bypasses, size: h.cache.size }).toEqual({ bypasses: 1, size: 0 });
  });

  it('stays within its memory bound, dropping the oldest entries first', async () => {
    const json = 'x'.repeat(900);
    const h = handFedCache(10_000); // about 10 entries of 1,000 bytes
    for (let i = 0; i < 30; i++) {
      const read = h.cache.read(`t${i}`);
      await h.answer(`t${i}`, json);
      await read;
    }
    expect(h.cache.approxBytes).toBeLessThanOrEqual(10_000);
    expect(h.cache.size).toBeGreaterThanOrEqual(8);
    expect(h.cache.read('t29')).toBe(json);
    expect(h.cache.read('t0')).toBeInstanceOf(Promise);
  });
});

describe('table health in plain SQL', () => {
  let database: TestDatabase;
  beforeAll(async () => {
    database = await createTestDatabase('health_sql');
    // 60 seeded tables: healthy ones, unhealthy ones with an open RCA, some with a scheduled job.
    await seedTables(database.url, 60);
    await database.pool.query(`INSERT INTO catalog_tables (name, owner, tier) VALUES ('lake.onboarded_only', 'team-1', 2)`);
    await database.pool.query(`INSERT INTO table_health (table_name, status, since, last_checked_at) VALUES ('lake.heard_of_only', 'degraded', now() - interval '5 minutes', now())`);
    await database.pool.query(`UPDATE rca_records SET status = 'resolved' WHERE table_name = 'lake.t_30'`);
  });
  afterAll(async () => { await database?.drop(); });

  const cases = [
    ['healthy, in the catalog', 'lake.t_1'],
    ['unhealthy with an open RCA and a scheduled job', 'lake.t_20'],
    ['unhealthy with an open RCA, no job', 'lake.t_10'],
    ['pointing at a resolved RCA', 'lake.t_30'],
    ['onboarded, never heard of (unknown)', 'lake.onboarded_only'],
    ['heard of, not in the catalog', 'lake.heard_of_only'],
    ['neither', 'lake.nowhere'],
  ] as const;
  for (const [what, table] of cases) {
    it(`${what}: the same view as the drizzle reference`, async () => {
      const reference = await getTableHealth(database.db, table);
      expect(await readTableHealth(database.pool, table)).toEqual(reference);
      if (table !== 'lake.nowhere') expect(reference).not.toBeNull();
    });
  }

  it('pages cover every known table once, in name order, each with its single-table view', async () => {
    const seen: string[] = [];
    for (let after = ''; ;) {
      const page = await readTableHealthPage(database.pool, after, 7);
      for (const view of page) {
        seen.push(view.table);
        expect(view).toEqual(await readTableHealth(database.pool, view.table));
      }
      if (page.length < 7) break;
      after = page[page.length - 1]!.table;
    }
    expect(seen).toHaveLength(62);
    expect(new Set(seen).size).toBe(62);
  });
});

describe('the change feed (table_health_changes)', () => {
  let database: TestDatabase;
  beforeAll(async () => { database = await createTestDatabase('health_feed'); });
  afterAll(async () => { await database?.drop(); });

  it('reports each committed write once, by table; TRUNCATE and bulk writes as "all"; prunes what every replica has seen', async () => {
    const seen: HealthChanges[] = [];
    const feed = new HealthChangeFeed({
      newClient: () => new pg.Client({ connectionString: database.url }), onChanges: (c) => seen.push(c), log: silent, pollMs: 30, retentionMs: 300,
    });
    feed.start();
    try {
      await waitFor(async () => seen.length > 0, 5000, 'the first poll');
      expect(seen).toEqual([{ all: true }]);
      const tablesSeen = () => seen.flatMap((c) => (c.all ? ['*'] : c.tables));
      // A transaction left open across polls: its change must still be reported once it commits.
      const slow = await database.pool.connect();
      await slow.query('BEGIN');
      await slow.query(`INSERT INTO catalog_tables (name) VALUES ('lake.slow')`);
      await database.pool.query(`INSERT INTO table_health (table_name, status, since, last_checked_at) VALUES ('lake.fast', 'healthy', now(), now())`);
      await waitFor(async () => tablesSeen().includes('lake.fast'), 5000, 'lake.fast reported');
      await sleep(100);
      expect(tablesSeen()).not.toContain('lake.slow');
      await slow.query('COMMIT');
      slow.release();
      await waitFor(async () => tablesSeen().includes('lake.slow'), 5000, 'lake.slow reported after its commit');
      // Rolled back: never reported.
      await database.pool.query(`BEGIN; INSERT INTO catalog_tables (name) VALUES ('lake.rolled_back'); ROLLBACK`);
      await database.pool.query(`UPDATE table_health SET status = 'unhealthy' WHERE table_name = 'lake.fast'`);
      await waitFor(async () => tablesSeen().filter((t) => t === 'lake.fast').length === 2, 5000, 'the update of lake.fast');
      expect(tablesSeen()).not.toContain('lake.rolled_back');

      seen.length = 0;
      await database.pool.query('TRUNCATE resolution_jobs');
      await waitFor(async () => seen.some((c) => c.all), 5000, 'TRUNCATE reported as all');
      seen.length = 0;
      await database.pool.query(`INSERT INTO catalog_tables (name) SELECT 'lake.bulk_' || g FROM generate_series(1, 10001) g`);
      await waitFor(async () => seen.some((c) => c.all), 5000, 'a bulk insert reported as all');

      // Retention 300 ms: rows of transactions that ended long enough ago are deleted.
      await waitFor(async () => (await database.pool.query('SELECT count(*)::int AS n FROM table_health_changes')).rows[0].n === 0, 10_000, 'the log pruned');
    } finally {
      await feed.stop();
    }
  }, 30_000);
});

/** The cache counters of a daemon, from its /metrics. */
async function cacheReads(url: string): Promise<{ hit: number; miss: number; bypass: number }> {
  const text = await (await fetch(`${url}/metrics`)).text();
  const value = (result: string) => Number(new RegExp(`^medic_health_cache_reads_total\\{result="${result}"\\} (\\S+)$`, 'm').exec(text)?.[1] ?? NaN);
  return { hit: value('hit'), miss: value('miss'), bypass: value('bypass') };
}

/** Whether `read` was answered from the daemon's cache (the hit counter went up by exactly one). */
async function servedFromCache(url: string, read: () => Promise<unknown>): Promise<boolean> {
  const before = (await cacheReads(url)).hit;
  await read();
  return (await cacheReads(url)).hit === before + 1;
}

async function api(url: string, token: string, method: string, route: string, body?: unknown) {
  const response = await fetch(`${url}${route}`, {
    method, headers: { authorization: `Bearer ${token}`, ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await response.text();
  return { status: response.status, text, body: text ? JSON.parse(text) : null, contentType: response.headers.get('content-type') };
}

const airflowCallback = (table: string, event: 'failure' | 'success', runId: string) => ({
  event, dag_id: `dag_${table.replace(/\W/g, '_')}`, task_id: 'load', run_id: runId, try_number: 1, tables: [table],
  ...(event === 'failure' ? { exception: { type: 'psycopg2.OperationalError', message: 'could not connect to server: Connection refused' } } : {}),
});

/** Waits until `read` returns what the database says (`truth`), and how long that took. */
async function msUntilSame(read: () => Promise<unknown>, truth: () => Promise<unknown>, timeoutMs: number, what: string): Promise<number> {
  const started = Date.now();
  await waitFor(async () => JSON.stringify(await read()) === JSON.stringify(await truth()), timeoutMs, what);
  return Date.now() - started;
}

describe('one daemon: writes through the diagnosis path show at once', () => {
  let daemon: TestDaemon;
  beforeAll(async () => { daemon = await startTestDaemon('health_cache_daemon'); });
  afterAll(async () => { await daemon?.close(); });

  it('a failure, then a success, change what GET /v1/tables/{table}/health answers from the cache within a poll', async () => {
    const { url, databaseUrl } = daemon;
    const token = 'test-admin-token-0123456789';
    const table = 'lake.cached_orders';
    const db = daemon.database;
    expect((await api(url, token, 'PUT', `/v1/catalog/tables/${table}`, { owner: null, tier: 1 })).status).toBe(201);
    const truth = async () => readTableHealth(db.pool, table);

    const first = await api(url, token, 'GET', `/v1/tables/${table}/health`);
    expect(first.status).toBe(200);
    expect(first.contentType).toBe('application/json; charset=utf-8');
    expect(first.body).toEqual(await truth());
    expect(first.body.status).toBe('unknown');
    const before = await cacheReads(url);
    await waitFor(async () => servedFromCache(url, async () => expect((await api(url, token, 'GET', `/v1/tables/${table}/health`)).body).toEqual(first.body)), 2000, 'an answer from the cache');

    expect((await api(url, token, 'POST', '/v1/signals/airflow', airflowCallback(table, 'failure', 'manual__1'))).status).toBe(202);
    const client = new pg.Client({ connectionString: databaseUrl });
    await client.connect();
    try {
      await waitFor(async () => (await client.query(`SELECT 1 FROM table_health WHERE table_name = $1 AND status = 'unhealthy'`, [table])).rowCount === 1, 15_000, 'the diagnosis committed');
      const afterFailureMs = await msUntilSame(async () => (await api(url, token, 'GET', `/v1/tables/${table}/health`)).body, truth, 2000, 'the API to show the failure');
      const unhealthy = (await api(url, token, 'GET', `/v1/tables/${table}/health`)).body;
      expect(unhealthy.status).toBe('unhealthy');
      expect(unhealthy.rca_id).toEqual(expect.any(String));

      expect((await api(url, token, 'POST', '/v1/signals/airflow', airflowCallback(table, 'success', 'manual__2'))).status).toBe(202);
      await waitFor(async () => (await client.query(`SELECT 1 FROM table_health WHERE table_name = $1 AND status = 'healthy'`, [table])).rowCount === 1, 15_000, 'the success applied');
      const afterSuccessMs = await msUntilSame(async () => (await api(url, token, 'GET', `/v1/tables/${table}/health`)).body, truth, 2000, 'the API to show the recovery');
      expect((await api(url, token, 'GET', `/v1/tables/${table}/health`)).body).toMatchObject({ status: 'healthy', rca_id: null, error: null });
      console.info(`health cache, one daemon: the API showed the failure ${afterFailureMs} ms and the recovery ${afterSuccessMs} ms after their commits were seen in PostgreSQL`);

      // An unknown table is a 404, and stays one until a signal names it.
      expect((await api(url, token, 'GET', '/v1/tables/lake.not_yet/health')).status).toBe(404);
      expect((await api(url, token, 'GET', '/v1/tables/lake.not_yet/health')).status).toBe(404);
      expect((await api(url, token, 'POST', '/v1/signals/airflow', airflowCallback('lake.not_yet', 'failure', 'manual__3'))).status).toBe(202);
      await waitFor(async () => (await api(url, token, 'GET', '/v1/tables/lake.not_yet/health')).status === 200, 15_000, 'the new table to appear');
      expect((await cacheReads(url)).hit).toBeGreaterThan(before.hit);
    } finally {
      await client.end();
    }
  }, 60_000);
});

describe('two daemons on one database: a write through either is seen by both', () => {
  const TOKEN = 'health-cache-replicas-token-0001';
  let database: TestDatabase;
  const daemons: DaemonProcess[] = [];
  beforeAll(async () => {
    database = await createTestDatabase('health_cache_replicas');
    for (let i = 0; i < 2; i++) {
      daemons.push(await spawnDaemon({
        DATABASE_URL: database.url, MEDIC_ADMIN_TOKEN: TOKEN, MEDIC_SLA_MONITOR: 'off', MEDIC_RECONCILER: 'off',
        MEDIC_HOME: await fs.mkdtemp(path.join(os.tmpdir(), 'medic-health-cache-')),
      }));
    }
  }, 60_000);
  afterAll(async () => {
    for (const d of daemons) {
      d.child.kill('SIGTERM');
      await d.exited;
    }
    await database?.drop();
  });

  it('diagnosis, a one-click resolve and a catalog change, each written by one daemon, are answered by the other within a second', async () => {
    const [a, b] = daemons as [DaemonProcess, DaemonProcess];
    const table = 'lake.replicated';
    const get = async (d: DaemonProcess) => (await api(d.url, TOKEN, 'GET', `/v1/tables/${table}/health`)).body;
    const truth = async () => readTableHealth(database.pool, table);
    const lagMs: Record<string, number> = {};

    expect((await api(a.url, TOKEN, 'PUT', `/v1/catalog/tables/${table}`, { owner: null, tier: 2 })).status).toBe(201);
    await msUntilSame(() => get(a), truth, 2000, 'a to show the table');
    await msUntilSame(() => get(b), truth, 2000, 'b to show the table');
    // B serves it from its cache once its feed has caught up with the write.
    await waitFor(async () => servedFromCache(b.url, () => get(b)), 2000, 'b to answer from its cache');

    expect((await api(a.url, TOKEN, 'POST', '/v1/signals/airflow', airflowCallback(table, 'failure', 'manual__r1'))).status).toBe(202);
    await waitFor(async () => (await truth())?.status === 'unhealthy', 15_000, 'the diagnosis (by either daemon)');
    lagMs.diagnosis_a = await msUntilSame(() => get(a), truth, 1000, 'a to show the failure');
    lagMs.diagnosis_b = await msUntilSame(() => get(b), truth, 1000, 'b to show the failure');
    const rcaId = (await get(b)).rca_id as string;
    expect(rcaId).toEqual(expect.any(String));

    await waitFor(async () => servedFromCache(b.url, () => get(b)), 2000, 'b to answer from its cache');
    expect((await api(b.url, TOKEN, 'POST', `/v1/rca/${rcaId}/actions/resolve`, {})).status).toBe(200);
    // Read-your-writes: the daemon that took the action answers with it at once.
    expect(await get(b)).toEqual(await truth());
    lagMs.resolve_b = await msUntilSame(() => get(b), truth, 1000, 'b to show the resolve');
    lagMs.resolve_a = await msUntilSame(() => get(a), truth, 1000, 'a to show the resolve');
    expect((await get(a)).status).toBe('healthy');

    expect((await api(a.url, TOKEN, 'PUT', '/v1/catalog/teams/orders-team', {})).status).toBe(201);
    await waitFor(async () => servedFromCache(a.url, () => get(a)), 2000, 'a to answer from its cache');
    expect((await api(a.url, TOKEN, 'PUT', `/v1/catalog/tables/${table}`, { owner: 'orders-team', tier: 0 })).status).toBe(200);
    expect(await get(a)).toMatchObject({ owner: 'orders-team', tier: 0 });
    lagMs.catalog_b = await msUntilSame(() => get(b), truth, 1000, 'b to show the new owner');
    expect(await get(b)).toMatchObject({ owner: 'orders-team', tier: 0 });
    expect(await get(a)).toEqual(await get(b));
    console.info(`health cache, two daemons: ms until each daemon answered the committed state ${JSON.stringify(lagMs)}`);
    // Both answered from memory (reads right after their own API writes went to PostgreSQL: counted as bypass).
    const reads = [await cacheReads(a.url), await cacheReads(b.url)];
    expect(reads.every((r) => r.hit > 0)).toBe(true);
  }, 60_000);
});

describe('the change feed loses its connection: no stale reads', () => {
  let database: TestDatabase;
  let proxy: TcpProxy;
  const table = 'lake.t_5';
  beforeAll(async () => {
    database = await createTestDatabase('health_feed_loss');
    await seedTables(database.url, 20);
    const target = new URL(database.url);
    proxy = await startTcpProxy({ host: target.hostname, port: Number(target.port) });
  });
  afterAll(async () => {
    await proxy?.close();
    await database?.drop();
  });

  /** A reader whose feed connects through the proxy; reads and writes go straight to PostgreSQL. */
  function readerThroughProxy(options: { queryTimeoutMs: number; maxStalenessMs: number }): TableHealthReader {
    const proxied = new URL(database.url);
    proxied.port = String(proxy.port);
    return startTableHealthReader({
      pool: database.pool, log: silent, pollMs: 50, maxStalenessMs: options.maxStalenessMs,
      feed: { queryTimeoutMs: options.queryTimeoutMs, resetAfterMs: 60_000 },
      newFeedClient: () => new pg.Client({ connectionString: proxied.toString() }),
    });
  }
  const setStatus = (status: string) => database.pool.query(`UPDATE table_health SET status = $2, since = now() WHERE table_name = $1`, [table, status]);
  const statusIn = async (json: Promise<string | null> | string | null) => (JSON.parse((await json)!) as { status: string }).status;

  /**
   * Writes while the feed is cut off and reads every 10 ms: returns how long after the write the
   * first fresh answer came, and fails on any stale answer after that.
   */
  async function freshAfterWrite(reader: TableHealthReader, status: string, watchMs: number): Promise<number> {
    await setStatus(status);
    const written = Date.now();
    let firstFresh: number | null = null;
    while (Date.now() - written < watchMs) {
      const seen = await statusIn(reader.read(table));
      if (seen === status) firstFresh ??= Date.now() - written;
      else if (firstFresh !== null) throw new Error(`stale answer ${seen} after a fresh one (${status})`);
      await sleep(10);
    }
    if (firstFresh === null) throw new Error(`never answered ${status}`);
    return firstFresh;
  }

  for (const mode of ['refuse', 'blackhole'] as const) {
    it(`${mode === 'refuse' ? 'connection reset' : 'silent partition (no error, no answer)'}: reads go to PostgreSQL within the staleness bound, until the feed is back`, async () => {
      // Blackhole: a query timeout far beyond the bound, so only the bound protects the reads.
      const reader = readerThroughProxy({ queryTimeoutMs: mode === 'refuse' ? 1000 : 5000, maxStalenessMs: 300 });
      try {
        await setStatus('healthy');
        await waitFor(async () => reader.cache.size >= 20, 5000, 'the cache warmed');
        expect(await statusIn(reader.read(table))).toBe('healthy');
        const hits = reader.cache.hits;
        expect(await statusIn(reader.read(table))).toBe('healthy');
        expect(reader.cache.hits).toBe(hits + 1);

        proxy.setMode(mode);
        const firstMs = await freshAfterWrite(reader, 'unhealthy', 800);
        // Within the bound (300 ms since the last good poll, which was at most one poll before the cut).
        expect(firstMs).toBeLessThanOrEqual(300 + 50 + 100);
        // Still cut off: a second write is seen by the very next read, nothing is kept meanwhile.
        const sizeWhileDown = reader.cache.size;
        expect(await freshAfterWrite(reader, 'degraded', 200)).toBeLessThan(50);
        expect(reader.cache.bypasses).toBeGreaterThan(0);
        expect(reader.cache.size).toBeLessThanOrEqual(sizeWhileDown);

        // A blackholed connection stays hung until its query times out: reset it, so the feed reconnects now.
        if (mode === 'blackhole') proxy.setMode('refuse');
        proxy.setMode('pass');
        await waitFor(async () => reader.feed.isCurrent(300), 10_000, 'the feed back');
        expect(await statusIn(reader.read(table))).toBe('degraded');
        const hitsBack = reader.cache.hits;
        expect(await statusIn(reader.read(table))).toBe('degraded');
        expect(reader.cache.hits).toBe(hitsBack + 1);
        // And it follows writes again.
        await setStatus('healthy');
        await waitFor(async () => (await statusIn(reader.read(table))) === 'healthy', 1000, 'the write after recovery');
        console.info(`health cache, feed ${mode}: first fresh read ${firstMs} ms after the write; ${reader.feed.failures} failed polls; ${reader.cache.bypasses} reads went to PostgreSQL`);
      } finally {
        proxy.setMode('pass');
        await reader.stop();
      }
    }, 30_000);
  }
});
