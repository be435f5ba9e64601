import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { Writable } from 'node:stream';
import { afterEach, describe, expect, it } from 'vitest';
import pino from 'pino';
import { HttpAirflowClient, createAirflowClients } from '../src/clients/airflowClient.ts';
import type { AirflowInstanceConfig, Config } from '../src/config.ts';

/**
 * The client against a small local HTTP server answering with Airflow's REST shapes (v2 from
 * Airflow 3's OpenAPI spec, v1 from Airflow 2's): an external-API stand-in, not a mock of ours.
 */

interface Seen {
  method: string;
  path: string;
  query: URLSearchParams;
  authorization: string | undefined;
  body: unknown;
}
interface Reply {
  status?: number;
  body?: unknown;
  delayMs?: number;
}

const servers: http.Server[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => new Promise<void>((resolve) => { s.closeAllConnections(); s.close(() => resolve()); })));
});

async function fakeAirflow(handle: (req: Seen) => Reply | undefined): Promise<{ url: string; seen: Seen[] }> {
  const seen: Seen[] = [];
  const server = http.createServer((req, res) => {
    let raw = '';
    req.on('data', (c: Buffer) => (raw += c.toString()));
    req.on('end', () => {
      const url = new URL(req.url ?? '/', 'http://x');
      const entry: Seen = { method: req.method ?? 'GET', path: decodeURIComponent(url.pathname), query: url.searchParams, authorization: req.headers.authorization, body: raw ? JSON.parse(raw) : undefined };
      seen.push(entry);
      const reply = handle(entry) ?? { status: 404, body: { detail: 'Not Found' } };
      const send = () => {
        if (res.destroyed) return;
        res.writeHead(reply.status ?? 200, { 'content-type': 'application/json' });
        res.end(reply.body === undefined ? '' : typeof reply.body === 'string' ? reply.body : JSON.stringify(reply.body));
      };
      if (reply.delayMs) setTimeout(send, reply.delayMs);
      else send();
    });
  });
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, seen };
}

function instance(url: string, overrides: Partial<AirflowInstanceConfig> = {}): AirflowInstanceConfig {
  return { name: 'main', url, username: 'medic', password: 's3cret-pw', api: null, ...overrides };
}

const DAG = 'orders_hourly';
const RUN = 'scheduled__2026-11-27T08:00:00+00:00';

/** A v2 TaskInstanceResponse. */
function tiV2(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    id: '0193-aaaa', task_id: 'load_orders', dag_id: DAG, dag_run_id: RUN, map_index: -1,
    logical_date: '2026-11-27T08:00:00Z', run_after: '2026-11-27T09:00:00Z',
    start_date: '2026-11-27T09:01:00Z', end_date: '2026-11-27T09:21:00Z', duration: 1200,
    state: 'failed', try_number: 2, max_tries: 3, task_display_name: 'load_orders', dag_display_name: DAG,
    hostname: 'worker-2', unixname: 'airflow', pool: 'default_pool', pool_slots: 1, queue: 'default',
    priority_weight: 1, operator: 'PythonOperator', operator_name: 'PythonOperator',
    queued_when: '2026-11-27T09:00:30Z', scheduled_when: '2026-11-27T09:00:10Z', pid: 42,
    executor: null, executor_config: '{}', note: null, rendered_map_index: null, rendered_fields: {},
    trigger: null, triggerer_job: null, dag_version: null,
    ...overrides,
  };
}

/** An Airflow 3 that issues JWTs; `valid` is the token it currently accepts. */
function airflow3(routes: (req: Seen) => Reply | undefined) {
  const state = { issued: 0, valid: '' };
  const handle = (req: Seen): Reply | undefined => {
    if (req.method === 'GET' && req.path === '/api/v2/version') return { body: { version: '3.1.0', git_version: null } };
    if (req.method === 'POST' && req.path === '/auth/token') {
      const body = req.body as { username?: string; password?: string };
      if (body.username !== 'medic' || body.password !== 's3cret-pw') return { status: 401, body: { detail: 'Invalid credentials' } };
      state.issued++;
      state.valid = `jwt-${state.issued}`;
      return { status: 201, body: { access_token: state.valid } };
    }
    if (req.authorization !== `Bearer ${state.valid}`) return { status: 401, body: { detail: 'Invalid JWT' } };
    return routes(req);
  };
  return { state, handle };
}

const runsV2 = { dag_runs: [{ dag_run_id: RUN, dag_id: DAG, state: 'running', run_type: 'scheduled', logical_date: '2026-11-27T08:00:00Z', queued_at: '2026-11-27T09:00:01Z', start_date: '2026-11-27T09:00:05Z', end_date: null, run_after: '2026-11-27T09:00:00Z', dag_versions: [], dag_display_name: DAG }], total_entries: 1 };

describe('HttpAirflowClient, Airflow 3 (v2, JWT)', () => {
  it('fetches a token once, reuses it, and fetches it again once after a 401', async () => {
    const af = airflow3((req) => (req.path === `/api/v2/dags/${DAG}/dagRuns` ? { body: runsV2 } : undefined));
    const { url, seen } = await fakeAirflow(af.handle);
    const client = new HttpAirflowClient(instance(url));
    // Concurrent first calls share one token request.
    await Promise.all([client.recentRuns(DAG, 5), client.recentRuns(DAG, 5), client.recentRuns(DAG, 5)]);
    expect(seen.filter((r) => r.path === '/auth/token')).toHaveLength(1);
    expect(seen.filter((r) => r.path === '/api/v2/version')).toHaveLength(1);
    expect(seen.filter((r) => r.path.startsWith('/api/v2/dags')).every((r) => r.authorization === 'Bearer jwt-1')).toBe(true);

    af.state.valid = 'rotated'; // the token expired
    const runs = await client.recentRuns(DAG, 5);
    expect(runs[0]?.runId).toBe(RUN);
    expect(seen.filter((r) => r.path === '/auth/token')).toHaveLength(2);
    const last = seen.filter((r) => r.path.startsWith('/api/v2/dags')).slice(-2);
    expect(last.map((r) => r.authorization)).toEqual(['Bearer jwt-1', 'Bearer jwt-2']);
  });

  it('gives up after one re-fetch when Airflow still answers 401', async () => {
    const { url, seen } = await fakeAirflow((req) => {
      if (req.path === '/auth/token') return { status: 201, body: { access_token: 'never-accepted' } };
      return { status: 401, body: { detail: 'Forbidden for you' } };
    });
    const client = new HttpAirflowClient(instance(url, { api: 'v2' }));
    await expect(client.recentRuns(DAG, 5)).rejects.toThrow(`airflow main: GET /api/v2/dags/${DAG}/dagRuns → 401 Forbidden for you`);
    expect(seen.filter((r) => r.path === '/auth/token')).toHaveLength(2);
    expect(seen.filter((r) => r.path.endsWith('/dagRuns'))).toHaveLength(2);
  });

  it('reports rejected credentials without the password', async () => {
    const af = airflow3(() => undefined);
    const { url } = await fakeAirflow(af.handle);
    const client = new HttpAirflowClient(instance(url, { password: 'wrong-password' }));
    const error = await client.recentRuns(DAG, 5).then(() => null, (e: Error) => e);
    expect(error?.message).toBe('airflow main: POST /auth/token → 401 Invalid credentials');
    expect(error?.message).not.toContain('wrong-password');
  });

  it('asks for the newest runs by run_after and normalises them', async () => {
    const af = airflow3((req) => (req.path === `/api/v2/dags/${DAG}/dagRuns` ? { body: runsV2 } : undefined));
    const { url, seen } = await fakeAirflow(af.handle);
    const runs = await new HttpAirflowClient(instance(url)).recentRuns(DAG, 21);
    const asked = seen.find((r) => r.path.endsWith('/dagRuns'))!;
    expect(asked.query.get('limit')).toBe('21');
    expect(asked.query.get('order_by')).toBe('-run_after');
    expect(runs).toEqual([{
      dagId: DAG, runId: RUN, state: 'running', runType: 'scheduled',
      logicalDate: new Date('2026-11-27T08:00:00Z'), queuedAt: new Date('2026-11-27T09:00:01Z'),
      startDate: new Date('2026-11-27T09:00:05Z'), endDate: null, runAfter: new Date('2026-11-27T09:00:00Z'),
    }]);
  });

  it('reads a task instance (mapped or not), its tries, and null/[] for one Airflow does not know', async () => {
    const base = `/api/v2/dags/${DAG}/dagRuns/${RUN}/taskInstances/load_orders`;
    const af = airflow3((req) => {
      if (req.path === base) return { body: tiV2() };
      if (req.path === `${base}/3`) return { body: tiV2({ map_index: 3, hostname: 'worker-9' }) };
      if (req.path === `${base}/tries`) {
        return { body: { task_instances: [tiV2({ try_number: 2, hostname: 'worker-2' }), tiV2({ try_number: 1, hostname: 'worker-1', state: 'failed' }), tiV2({ try_number: 2, hostname: 'worker-2' })], total_entries: 3 } };
      }
      return undefined;
    });
    const { url, seen } = await fakeAirflow(af.handle);
    const client = new HttpAirflowClient(instance(url));
    const ti = await client.taskInstance(DAG, RUN, 'load_orders');
    expect(ti).toMatchObject({
      dagId: DAG, runId: RUN, taskId: 'load_orders', mapIndex: -1, state: 'failed', tryNumber: 2, maxTries: 3,
      durationS: 1200, hostname: 'worker-2', operator: 'PythonOperator', pool: 'default_pool',
      queuedAt: new Date('2026-11-27T09:00:30Z'), scheduledAt: new Date('2026-11-27T09:00:10Z'), startDate: new Date('2026-11-27T09:01:00Z'),
    });
    expect((await client.taskInstance(DAG, RUN, 'load_orders', 3))?.hostname).toBe('worker-9');
    expect(await client.taskInstance(DAG, RUN, 'nope')).toBeNull();
    const tries = await client.taskTries(DAG, RUN, 'load_orders');
    expect(tries.map((t) => [t.tryNumber, t.hostname])).toEqual([[1, 'worker-1'], [2, 'worker-2']]);
    expect(await client.taskTries(DAG, RUN, 'nope')).toEqual([]);
    // Run ids are path-encoded (':' and '+' survive the trip).
    expect(seen.some((r) => r.path === base)).toBe(true);
  });

  it("lists a task's history across runs, a run's task instances (paged) and a task's upstreams", async () => {
    const af = airflow3((req) => {
      if (req.path === `/api/v2/dags/${DAG}/dagRuns/~/taskInstances`) return { body: { task_instances: [tiV2({ dag_run_id: 'r1', run_after: '2026-11-27T07:00:00Z' }), tiV2({ dag_run_id: 'r2' })], total_entries: 2 } };
      if (req.path === `/api/v2/dags/${DAG}/dagRuns/${RUN}/taskInstances`) {
        const offset = Number(req.query.get('offset'));
        const count = offset === 0 ? 100 : 50;
        return { body: { task_instances: Array.from({ length: count }, (_, i) => tiV2({ task_id: `t${offset + i}` })), total_entries: 150 } };
      }
      if (req.path === `/api/v2/dags/${DAG}/tasks`) {
        return { body: { tasks: [
          { task_id: 'extract_a', downstream_task_ids: ['load_orders'], operator_name: 'SqlToS3Operator' },
          { task_id: 'load_orders', downstream_task_ids: ['publish'] },
          { task_id: 'extract_b', downstream_task_ids: ['other', 'load_orders'] },
          { task_id: 'publish', downstream_task_ids: [] },
        ], total_entries: 4 } };
      }
      return undefined;
    });
    const { url, seen } = await fakeAirflow(af.handle);
    const client = new HttpAirflowClient(instance(url));
    const history = await client.taskHistory(DAG, 'load_orders', 21);
    expect(history.map((t) => t.runId)).toEqual(['r2', 'r1']);
    const asked = seen.find((r) => r.path.endsWith('/~/taskInstances'))!;
    expect(Object.fromEntries(asked.query)).toEqual({ task_id: 'load_orders', order_by: '-run_after', limit: '21' });
    expect(await client.runTaskInstances(DAG, RUN)).toHaveLength(150);
    expect(seen.filter((r) => r.path.endsWith(`${RUN}/taskInstances`)).map((r) => r.query.get('offset'))).toEqual(['0', '100']);
    expect(await client.upstreamTaskIds(DAG, 'load_orders')).toEqual(['extract_a', 'extract_b']);
    expect((await client.dagTasks(DAG))[0]).toEqual({ taskId: 'extract_a', downstreamTaskIds: ['load_orders'], operator: 'SqlToS3Operator' });
  });

  it('clears with dry_run false, only_failed, the run and the task ids', async () => {
    const af = airflow3((req) => {
      if (req.method === 'POST' && req.path === `/api/v2/dags/${DAG}/clearTaskInstances`) {
        return { body: { task_instances: [tiV2({ task_id: 'load_orders', state: null }), tiV2({ task_id: 'load_orders', map_index: 1 })], total_entries: 2 } };
      }
      return undefined;
    });
    const { url, seen } = await fakeAirflow(af.handle);
    const client = new HttpAirflowClient(instance(url));
    expect(await client.clearTaskInstances(DAG, RUN, ['load_orders'])).toEqual({ cleared: ['load_orders'] });
    await client.clearTaskInstances(DAG, RUN, ['load_orders', 'publish'], { onlyFailed: false });
    const bodies = seen.filter((r) => r.path.endsWith('/clearTaskInstances')).map((r) => r.body);
    expect(bodies).toEqual([
      { dry_run: false, only_failed: true, dag_run_id: RUN, task_ids: ['load_orders'] },
      { dry_run: false, only_failed: false, dag_run_id: RUN, task_ids: ['load_orders', 'publish'] },
    ]);
  });
});

describe('HttpAirflowClient, Airflow 2 (v1, basic auth)', () => {
  it('sends basic auth under /api/v1 and reads execution_date', async () => {
    const expected = `Basic ${Buffer.from('medic:s3cret-pw').toString('base64')}`;
    const { url, seen } = await fakeAirflow((req) => {
      if (req.authorization !== expected) return { status: 401, body: { title: 'Unauthorized', status: 401 } };
      if (req.path === `/api/v1/dags/${DAG}/dagRuns`) {
        return { body: { dag_runs: [{ dag_run_id: RUN, dag_id: DAG, state: 'failed', execution_date: '2026-11-27T08:00:00+00:00', start_date: '2026-11-27T09:00:05+00:00', end_date: '2026-11-27T09:30:00+00:00', run_type: 'scheduled', external_trigger: false }], total_entries: 1 } };
      }
      if (req.path === `/api/v1/dags/~/dagRuns/~/taskInstances/list`) {
        return { body: { task_instances: [{ task_id: 'load_orders', dag_id: DAG, dag_run_id: RUN, execution_date: '2026-11-27T08:00:00+00:00', state: 'failed', try_number: 1, max_tries: 2, duration: 60.5, hostname: 'w1', operator: 'PythonOperator', queued_when: '2026-11-27T09:00:06+00:00' }], total_entries: 1 } };
      }
      return undefined;
    });
    const client = new HttpAirflowClient(instance(url, { api: 'v1' }));
    expect(await client.apiVersion()).toBe('v1');
    const runs = await client.recentRuns(DAG, 10);
    expect(runs[0]).toMatchObject({ runId: RUN, state: 'failed', logicalDate: new Date('2026-11-27T08:00:00Z'), queuedAt: null });
    expect(seen[0]?.query.get('order_by')).toBe('-execution_date');
    const history = await client.taskHistory(DAG, 'load_orders', 10);
    expect(history[0]).toMatchObject({ taskId: 'load_orders', runId: RUN, durationS: 60.5, hostname: 'w1' });
    expect(seen.find((r) => r.path.endsWith('/list'))?.body).toEqual({ dag_ids: [DAG], task_ids: ['load_orders'], execution_date_gte: '2026-11-27T08:00:00.000Z' });
    expect(seen.every((r) => r.authorization === expected)).toBe(true);
    expect(seen.some((r) => r.path === '/auth/token')).toBe(false);
  });
});

describe('API version detection', () => {
  it('v2 when /api/v2/version answers, detected once', async () => {
    const af = airflow3(() => undefined);
    const { url, seen } = await fakeAirflow(af.handle);
    const client = new HttpAirflowClient(instance(url));
    expect(await Promise.all([client.apiVersion(), client.apiVersion()])).toEqual(['v2', 'v2']);
    expect(seen.map((r) => r.path)).toEqual(['/api/v2/version']);
  });

  it('v1 when only /api/v1/version answers', async () => {
    const { url, seen } = await fakeAirflow((req) => (req.path === '/api/v1/version' ? { body: { version: '2.10.5', git_version: null } } : undefined));
    expect(await new HttpAirflowClient(instance(url)).apiVersion()).toBe('v1');
    expect(seen.map((r) => r.path)).toEqual(['/api/v2/version', '/api/v1/version']);
  });

  it('the configured version is not detected', async () => {
    const { url, seen } = await fakeAirflow(() => undefined);
    expect(await new HttpAirflowClient(instance(url, { api: 'v1' })).apiVersion()).toBe('v1');
    expect(seen).toHaveLength(0);
  });

  it('neither: an error naming both answers, and the next call tries again', async () => {
    const { url, seen } = await fakeAirflow(() => ({ status: 404, body: '<html>nginx</html>' }));
    const client = new HttpAirflowClient(instance(url));
    await expect(client.apiVersion()).rejects.toThrow('airflow main: cannot tell the API version: GET /api/v2/version → 404, GET /api/v1/version → 404');
    await expect(client.apiVersion()).rejects.toThrow();
    expect(seen).toHaveLength(4);
  });
});

describe('errors', () => {
  it('a 503 names the method, path, status and the body, never the credentials', async () => {
    const af = airflow3(() => ({ status: 503, body: { detail: 'Service Unavailable: the metadata database is down' } }));
    const { url } = await fakeAirflow(af.handle);
    const error = await new HttpAirflowClient(instance(url)).recentRuns(DAG, 5).then(() => null, (e: Error) => e);
    expect(error?.message).toBe(`airflow main: GET /api/v2/dags/${DAG}/dagRuns → 503 Service Unavailable: the metadata database is down`);
    expect(error?.message).not.toMatch(/s3cret|jwt-/);
  });

  it('a long non-JSON error body is cut short', async () => {
    const af = airflow3(() => ({ status: 502, body: `<html>${'x'.repeat(1000)}</html>` }));
    const { url } = await fakeAirflow(af.handle);
    const error = await new HttpAirflowClient(instance(url)).recentRuns(DAG, 5).then(() => null, (e: Error) => e);
    expect(error?.message).toMatch(/→ 502 <html>x+…$/);
    expect(error!.message.length).toBeLessThan(320);
  });

  it('times out', async () => {
    const { url } = await fakeAirflow(() => ({ body: { version: '3.1.0' }, delayMs: 2000 }));
    const client = new HttpAirflowClient(instance(url), { timeoutMs: 100 });
    const started = Date.now();
    await expect(client.apiVersion()).rejects.toThrow('airflow main: GET /api/v2/version → timed out after 100 ms');
    expect(Date.now() - started).toBeLessThan(1500);
  });

  it("stops when the caller's signal aborts", async () => {
    const { url } = await fakeAirflow(() => ({ body: { dag_runs: [] }, delayMs: 2000 }));
    const client = new HttpAirflowClient(instance(url, { api: 'v1' }));
    const controller = new AbortController();
    setTimeout(() => controller.abort(new Error('analyser budget spent')), 50);
    await expect(client.recentRuns(DAG, 5, { signal: controller.signal })).rejects.toThrow(`airflow main: GET /api/v1/dags/${DAG}/dagRuns → aborted (analyser budget spent)`);
  });

  it('an unreachable Airflow', async () => {
    const { url } = await fakeAirflow(() => undefined);
    await Promise.all(servers.splice(0).map((s) => new Promise<void>((resolve) => s.close(() => resolve()))));
    await expect(new HttpAirflowClient(instance(url, { api: 'v2' }), { timeoutMs: 2000 }).recentRuns(DAG, 5)).rejects.toThrow(/^airflow main: POST \/auth\/token → .*ECONNREFUSED/);
  });

  it('logs requests without credentials or tokens', async () => {
    const af = airflow3((req) => (req.path.endsWith('/dagRuns') ? { body: runsV2 } : undefined));
    const { url } = await fakeAirflow(af.handle);
    let logged = '';
    const log = pino({ level: 'debug' }, new Writable({ write(chunk: Buffer, _enc, done) { logged += chunk.toString(); done(); } }));
    await new HttpAirflowClient(instance(url), { log }).recentRuns(DAG, 5);
    expect(logged).toContain('/api/v2/dags/orders_hourly/dagRuns');
    expect(logged).not.toMatch(/s3cret|jwt-1|Bearer|Basic/);
  });
});

describe('createAirflowClients', () => {
  const config = (names: string[]): Config =>
    ({ airflow: new Map(names.map((n) => [n, instance(`http://127.0.0.1:9/${n}`, { name: n })])) }) as unknown as Config;
  const log = pino({ level: 'silent' });

  it('looks names up case-insensitively, spelled as their environment variables', () => {
    const lookup = createAirflowClients(config(['main', 'data_platform']), log);
    expect(lookup('MAIN')?.name).toBe('main');
    expect(lookup('data-platform')?.name).toBe('data_platform');
    expect(lookup('other')).toBeNull();
    expect(lookup(undefined)).toBeNull();
  });

  it('no name: the only configured instance, or none', () => {
    expect(createAirflowClients(config(['main']), log)(undefined)?.name).toBe('main');
    expect(createAirflowClients(config([]), log)(undefined)).toBeNull();
    expect(createAirflowClients(config([]), log)('main')).toBeNull();
  });

  it('returns the same client for the same instance, so its token and version are shared', () => {
    const lookup = createAirflowClients(config(['main']), log);
    expect(lookup('main')).toBe(lookup('Main'));
  });
});
