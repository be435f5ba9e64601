import http from 'node:http';
import https from 'node:https';

/**
 * One HTTP request with node:http over a keep-alive agent, the response read as text.
 *
 * Why not fetch: the diagnosis of one failure asks Airflow three to six questions, and
 * undici's fetch costs several times node:http's CPU and garbage per request (WHATWG streams,
 * Request/Response/Headers objects, a transferable AbortSignal each) — at 1,000 failures a
 * second it was the daemon's largest cost. Its pool is also unbounded: 256 concurrent
 * diagnoses opened 1,500 sockets to one Airflow. The agent here keeps at most `maxSockets`.
 */
export interface HttpExchange {
  (url: URL, request: { method: string; headers: Record<string, string>; body?: string; signal: AbortSignal }): Promise<{ status: number; text: string }>;
}

export function createHttpExchange(options: { maxSockets: number; idleSocketMs?: number }): HttpExchange {
  const agentOptions = {
    keepAlive: true,
    maxSockets: options.maxSockets,
    // Idle sockets are closed before a typical server keep-alive (uvicorn: 5 s) closes them under a request.
    timeout: options.idleSocketMs ?? 4000,
  };
  const agents = { http: new http.Agent(agentOptions), https: new https.Agent(agentOptions) };

  const once = (url: URL, request: Parameters<HttpExchange>[1]) => new Promise<{ status: number; text: string; reused: boolean }>((resolve, reject) => {
    const { signal } = request;
    if (signal.aborted) {
      reject(abortReason(signal));
      return;
    }
    const secure = url.protocol === 'https:';
    const headers = request.body === undefined ? request.headers : { ...request.headers, 'content-length': String(Buffer.byteLength(request.body)) };
    let reused = false;
    let settled = false;
    const finish = (error: unknown, value?: { status: number; text: string }) => {
      if (settled) return;
      settled = true;
      signal.removeEventListener('abort', onAbort);
      if (error) reject(Object.assign(error instanceof Error ? error : new Error(String(error)), { reusedSocket: reused }));
      else resolve({ ...value!, reused });
    };
    const req = (secure ? https : http).request(url, { method: request.method, headers, agent: secure ? agents.https : agents.http }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () => finish(null, { status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString('utf8') }));
      res.on('error', (error) => finish(error));
      res.on('close', () => { if (!res.complete) finish(new Error('the connection closed before the response was complete')); });
    });
    const onAbort = () => req.destroy(abortReason(signal));
    signal.addEventListener('abort', onAbort, { once: true });
    req.on('socket', () => { reused = req.reusedSocket; });
    req.on('error', (error) => finish(error));
    req.end(request.body);
  });

  return async (url, request) => {
    try {
      const { status, text } = await once(url, request);
      return { status, text };
    } catch (error) {
      // A kept-alive socket the server closed just as it was reused: the request never reached
      // it, so one retry on a fresh socket is safe for reads (never for writes).
      if (request.method === 'GET' && (error as { reusedSocket?: boolean }).reusedSocket && !request.signal.aborted
        && ['ECONNRESET', 'EPIPE'].includes(String((error as { code?: unknown }).code))) {
        const { status, text } = await once(url, request);
        return { status, text };
      }
      throw error;
    }
  };
}

function abortReason(signal: AbortSignal): Error {
  return signal.reason instanceof Error ? signal.reason : new Error('aborted');
}
