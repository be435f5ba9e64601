import http from 'node:http';
import type { AddressInfo } from 'node:net';

export interface ReceivedWebhook {
  path: string;
  headers: http.IncomingHttpHeaders;
  /** The raw body, as received (what the signature covers). */
  body: string;
  json: any;
  /** The status this receiver answered. */
  answered: number;
}

/**
 * A local HTTP server standing in for webhook receivers: records every request and answers
 * 200, or 500 while told to fail (`failNext` per path, or `failAlways`).
 */
export async function startWebhookReceiver() {
  const received: ReceivedWebhook[] = [];
  const state = { failNext: new Map<string, number>(), failAlways: new Set<string>(), delayMs: 0 };
  const server = http.createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (c: Buffer) => chunks.push(c));
    request.on('end', () => {
      const body = Buffer.concat(chunks).toString('utf8');
      const path = request.url ?? '/';
      const pending = state.failNext.get(path) ?? 0;
      const fail = state.failAlways.has(path) || pending > 0;
      if (pending > 0) state.failNext.set(path, pending - 1);
      const answered = fail ? 500 : 200;
      let json: unknown = null;
      try { json = JSON.parse(body); } catch { /* not JSON */ }
      received.push({ path, headers: request.headers, body, json, answered });
      setTimeout(() => {
        response.writeHead(answered, { 'content-type': 'application/json' });
        response.end(fail ? '{"error":"receiver is down"}' : '{"ok":true}');
      }, state.delayMs);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: (path: string) => `http://127.0.0.1:${port}${path}`,
    received,
    state,
    on: (path: string) => received.filter((r) => r.path === path),
    reset() {
      received.length = 0;
      state.failNext.clear();
      state.failAlways.clear();
      state.delayMs = 0;
    },
    close: () => new Promise<void>((resolve) => { server.closeAllConnections(); server.close(() => resolve()); }),
  };
}
