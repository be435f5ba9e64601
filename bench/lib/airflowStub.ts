import http from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * A stand-in for Airflow 3's REST API that answers every GET under /api/v2 with an empty but
 * valid v2 body after `delayMs` (50 ms: a real Airflow's typical answer time), and /auth/token
 * and /api/v2/version at once. Listens on 127.0.0.1 only; counts what it was asked.
 */
export async function startAirflowStub(options: { delayMs?: number } = {}) {
  const delayMs = options.delayMs ?? 50;
  const counts = { token: 0, version: 0, get: 0, post: 0, other: 0 };
  const token = 'bench-stub-jwt';
  const server = http.createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      const send = (status: number, body: unknown) => {
        if (res.destroyed) return;
        const text = JSON.stringify(body);
        res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
        res.end(text);
      };
      const url = (req.url ?? '').split('?')[0]!;
      if (req.method === 'POST' && url === '/auth/token') {
        counts.token += 1;
        return send(201, { access_token: token, token_type: 'bearer' });
      }
      if (req.method === 'GET' && url === '/api/v2/version') {
        counts.version += 1;
        return send(200, { version: '3.1.0', git_version: null });
      }
      if (req.method === 'GET' && url.startsWith('/api/v2/')) {
        counts.get += 1;
        setTimeout(() => send(200, v2Body(url.slice('/api/v2'.length))), delayMs);
        return;
      }
      if (req.method === 'POST' && /^\/api\/v2\/dags\/[^/]+\/clearTaskInstances$/.test(url)) {
        counts.post += 1;
        setTimeout(() => send(200, { task_instances: [], total_entries: 0 }), delayMs);
        return;
      }
      counts.other += 1;
      send(404, { detail: `no route ${req.method} ${url}` });
    });
  });
  server.keepAliveTimeout = 30_000;
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    url,
    counts,
    env: { AIRFLOW_MAIN_URL: url, AIRFLOW_MAIN_USERNAME: 'bench', AIRFLOW_MAIN_PASSWORD: 'bench' },
    close: () => new Promise<void>((resolve) => { server.closeAllConnections(); server.close(() => resolve()); }),
  };
}

const seg = '([^/]+)';
const TASK_INSTANCE = new RegExp(`^/dags/${seg}/dagRuns/${seg}/taskInstances/${seg}(?:/(-?\\d+))?$`);
const TRIES = new RegExp(`^/dags/${seg}/dagRuns/${seg}/taskInstances/${seg}(?:/(-?\\d+))?/tries$`);

/** The empty-but-valid v2 answer for a GET path (without the /api/v2 prefix). */
function v2Body(path: string): unknown {
  if (TRIES.test(path)) return { task_instances: [], total_entries: 0 };
  const ti = TASK_INSTANCE.exec(path);
  if (ti) {
    const [, dagId, runId, taskId, mapIndex] = ti.map((s) => (s === undefined ? s : decodeURIComponent(s)));
    return {
      id: '00000000-0000-0000-0000-000000000000', dag_id: dagId, dag_run_id: runId, task_id: taskId, map_index: mapIndex ? Number(mapIndex) : -1,
      state: 'failed', try_number: 1, max_tries: 0, start_date: null, end_date: null, duration: null, queued_when: null, scheduled_when: null,
      hostname: null, operator: null, operator_name: null, pool: 'default_pool', logical_date: null, run_after: new Date(0).toISOString(), rendered_fields: {},
    };
  }
  if (/\/taskInstances$/.test(path)) return { task_instances: [], total_entries: 0 };
  if (/^\/dags\/[^/]+\/dagRuns$/.test(path)) return { dag_runs: [], total_entries: 0 };
  if (/^\/dags\/[^/]+\/tasks$/.test(path)) return { tasks: [], total_entries: 0 };
  return { total_entries: 0 };
}
