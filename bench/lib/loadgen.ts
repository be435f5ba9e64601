import http from 'node:http';

export interface PostResult { status: number; ms: number; body: string }

/** A keep-alive HTTP client for one origin with at most `maxSockets` connections. */
export function httpClient(baseUrl: string, maxSockets: number) {
  const agent = new http.Agent({ keepAlive: true, maxSockets });
  const base = new URL(baseUrl);
  const request = (method: string, path: string, body: string | null, headers: Record<string, string>) => new Promise<PostResult>((resolve, reject) => {
    const started = performance.now();
    const req = http.request({
      agent, host: base.hostname, port: base.port, method, path,
      headers: { ...headers, ...(body !== null ? { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) } : {}) },
      timeout: 60_000,
    }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => { text += c; });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, ms: performance.now() - started, body: text }));
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error(`${method} ${path} timed out`)));
    req.on('error', reject);
    req.end(body ?? undefined);
  });
  return {
    post: (path: string, body: string, headers: Record<string, string> = {}) => request('POST', path, body, headers),
    get: (path: string, headers: Record<string, string> = {}) => request('GET', path, null, headers),
    close: () => agent.destroy(),
  };
}

export interface LoadResult {
  /** Requests sent (≤ total: a deadline may stop the loop first). */
  sent: number;
  byStatus: Record<string, number>;
  errors: number;
  firstError: string | null;
  latenciesMs: number[];
  startedAt: number;
  finishedAt: number;
  elapsedMs: number;
}

/**
 * Sends `total` requests with at most `concurrency` in flight, stopping by itself after
 * `total` or at `deadlineMs` (whichever first). `make(i)` returns the i-th request's promise.
 */
export async function runBounded(total: number, concurrency: number, deadlineMs: number, make: (i: number) => Promise<PostResult>): Promise<LoadResult> {
  const result: LoadResult = { sent: 0, byStatus: {}, errors: 0, firstError: null, latenciesMs: [], startedAt: Date.now(), finishedAt: 0, elapsedMs: 0 };
  const started = performance.now();
  const stopAt = Date.now() + deadlineMs;
  let next = 0;
  const worker = async () => {
    while (next < total && Date.now() < stopAt) {
      const i = next++;
      result.sent += 1;
      try {
        const response = await make(i);
        result.byStatus[response.status] = (result.byStatus[response.status] ?? 0) + 1;
        result.latenciesMs.push(response.ms);
        if (response.status >= 400 && result.firstError === null) result.firstError = `HTTP ${response.status}: ${response.body.slice(0, 300)}`;
      } catch (error) {
        result.errors += 1;
        result.firstError ??= (error as Error).message;
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, total) }, worker));
  result.finishedAt = Date.now();
  result.elapsedMs = performance.now() - started;
  return result;
}

/** Requests answered with a 2xx status. */
export function ok(result: LoadResult): number {
  return Object.entries(result.byStatus).filter(([s]) => s.startsWith('2')).reduce((n, [, c]) => n + c, 0);
}
