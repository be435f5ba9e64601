import http from 'node:http';
import type { AddressInfo } from 'node:net';

export interface ClearRequest { dagId: string; body: Record<string, unknown>; at: number }

/**
 * A small local HTTP server standing in for Airflow 3's REST API (an external system) in
 * resolver tests: JWT from POST /auth/token, GET /api/v2/version, and
 * POST /api/v2/dags/{dag_id}/clearTaskInstances, which it records. `failNext`/`failAlways`
 * make it answer 503; `delayMs` holds the answer (to kill a daemon mid-call).
 */
export async function startAirflowStandIn(options: { username?: string; password?: string } = {}) {
  const username = options.username ?? 'admin';
  const password = options.password ?? 'admin';
  const clears: ClearRequest[] = [];
  const state = { failNext: 0, failAlways: false, delayMs: 0, tokenRequests: 0 };
  /** Task instances GET /api/v2/dags/~/dagRuns/~/taskInstances?state=failed answers with (filtered by end_date). */
  const failedTaskInstances: Array<Record<string, unknown>> = [];
  const failedQueries: string[] = [];
  /** `dag/run/task` → state for GET …/taskInstances/{task}; unknown ones answer 404. */
  const taskStates = new Map<string, string>();
  const token = 'stand-in-jwt';

  const server = http.createServer((req, res) => {
    let raw = '';
    req.on('data', (chunk: Buffer) => { raw += chunk.toString(); });
    req.on('end', () => {
      const send = (status: number, body: unknown) => {
        res.writeHead(status, { 'content-type': 'application/json' });
        res.end(JSON.stringify(body));
      };
      const url = req.url ?? '';
      if (req.method === 'POST' && url === '/auth/token') {
        state.tokenRequests += 1;
        const body = JSON.parse(raw || '{}') as { username?: string; password?: string };
        if (body.username !== username || body.password !== password) return send(401, { detail: 'Invalid credentials' });
        return send(201, { access_token: token, token_type: 'bearer' });
      }
      if (req.headers.authorization !== `Bearer ${token}`) return send(401, { detail: 'Not authenticated' });
      if (req.method === 'GET' && url === '/api/v2/version') return send(200, { version: '3.1.0', git_version: null });
      if (req.method === 'GET' && url.startsWith('/api/v2/dags/~/dagRuns/~/taskInstances?')) {
        failedQueries.push(url);
        const query = new URL(url, 'http://x').searchParams;
        const gte = Date.parse(query.get('end_date_gte') ?? '1970-01-01T00:00:00Z');
        const lt = Date.parse(query.get('end_date_lt') ?? '2999-01-01T00:00:00Z');
        const items = failedTaskInstances.filter((t) => query.get('state') === t.state && Date.parse(String(t.end_date)) >= gte && Date.parse(String(t.end_date)) < lt);
        return send(200, { task_instances: items, total_entries: items.length });
      }
      const instance = /^\/api\/v2\/dags\/([^/]+)\/dagRuns\/([^/]+)\/taskInstances\/([^/?]+)$/.exec(url);
      if (req.method === 'GET' && instance) {
        const [dagId, runId, taskId] = instance.slice(1).map((p) => decodeURIComponent(p!));
        const taskState = taskStates.get(`${dagId}/${runId}/${taskId}`);
        if (!taskState) return send(404, { detail: 'not found' });
        return send(200, { dag_id: dagId, dag_run_id: runId, task_id: taskId, map_index: -1, state: taskState, try_number: 1, max_tries: 0 });
      }
      const clear = /^\/api\/v2\/dags\/([^/]+)\/clearTaskInstances$/.exec(url);
      if (req.method === 'POST' && clear) {
        const body = JSON.parse(raw || '{}') as Record<string, unknown>;
        clears.push({ dagId: decodeURIComponent(clear[1]!), body, at: Date.now() });
        const answer = () => {
          if (state.failAlways || state.failNext > 0) {
            if (state.failNext > 0) state.failNext -= 1;
            return send(503, { detail: 'Service Unavailable' });
          }
          const taskIds = (body.task_ids as string[] | undefined) ?? [];
          send(200, {
            task_instances: taskIds.map((taskId) => ({ dag_id: clear[1], dag_run_id: body.dag_run_id, task_id: taskId, map_index: -1, state: 'failed' })),
            total_entries: taskIds.length,
          });
        };
        if (state.delayMs > 0) setTimeout(answer, state.delayMs);
        else answer();
        return;
      }
      send(404, { detail: `no route ${req.method} ${url}` });
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    url,
    clears,
    state,
    failedTaskInstances,
    failedQueries,
    taskStates,
    env: { AIRFLOW_MAIN_URL: url, AIRFLOW_MAIN_USERNAME: username, AIRFLOW_MAIN_PASSWORD: password, AIRFLOW_MAIN_API: 'v2' },
    close: () => new Promise<void>((resolve) => { server.closeAllConnections(); server.close(() => resolve()); }),
  };
}
