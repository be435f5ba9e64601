import http from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { createHttpExchange } from '../src/clients/httpExchange.ts';

/** A local server; `handle` may answer, or destroy the socket to play a server that closed a kept-alive connection. */
async function server(handle: (req: http.IncomingMessage, res: http.ServerResponse, requestOnSocket: number) => void) {
  const perSocket = new WeakMap<Socket, number>();
  const sockets = new Set<Socket>();
  let connections = 0;
  let open = 0;
  let maxOpen = 0;
  const srv = http.createServer((req, res) => {
    const n = (perSocket.get(req.socket) ?? 0) + 1;
    perSocket.set(req.socket, n);
    req.resume();
    req.on('end', () => handle(req, res, n));
  });
  srv.on('connection', (socket: Socket) => {
    connections += 1;
    open += 1;
    maxOpen = Math.max(maxOpen, open);
    sockets.add(socket);
    socket.on('close', () => { open -= 1; sockets.delete(socket); });
  });
  await new Promise<void>((resolve) => srv.listen(0, '127.0.0.1', resolve));
  servers.push(srv);
  return { url: `http://127.0.0.1:${(srv.address() as AddressInfo).port}`, stats: () => ({ connections, maxOpen }) };
}

const servers: http.Server[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => { s.closeAllConnections(); return new Promise<void>((resolve) => s.close(() => resolve())); }));
});

const neverAborted = () => new AbortController().signal;

describe('httpExchange', () => {
  it('keeps at most maxSockets connections however many requests are in flight', async () => {
    const { url, stats } = await server((_req, res) => setTimeout(() => res.end('ok'), 20));
    const exchange = createHttpExchange({ maxSockets: 4 });
    const answers = await Promise.all(Array.from({ length: 40 }, () => exchange(new URL(`${url}/x`), { method: 'GET', headers: {}, signal: neverAborted() })));
    expect(answers.every((a) => a.status === 200 && a.text === 'ok')).toBe(true);
    expect(stats().maxOpen).toBeLessThanOrEqual(4);
    expect(stats().connections).toBeLessThanOrEqual(4);
  });

  it.each([
    // A reused connection the server drops: a read is retried once on a fresh one, a write is not.
    { method: 'GET', expected: 'retried' },
    { method: 'POST', expected: 'failed' },
  ])('a kept-alive connection closed under a $method', async ({ method, expected }) => {
    const { url } = await server((_req, res, requestOnSocket) => {
      if (requestOnSocket === 2) res.socket?.destroy();
      else res.end('fine');
    });
    const exchange = createHttpExchange({ maxSockets: 1 });
    const first = await exchange(new URL(`${url}/a`), { method, headers: {}, signal: neverAborted() });
    expect(first.text).toBe('fine');
    const second = await exchange(new URL(`${url}/b`), { method, headers: {}, ...(method === 'POST' ? { body: '{}' } : {}), signal: neverAborted() })
      .then((r) => (r.text === 'fine' ? 'retried' : 'wrong answer'), () => 'failed');
    expect(second).toBe(expected);
  });

  it("stops when the caller's signal aborts, with the signal's reason", async () => {
    const { url } = await server((_req, res) => setTimeout(() => res.end('late'), 2000));
    const exchange = createHttpExchange({ maxSockets: 2 });
    const controller = new AbortController();
    setTimeout(() => controller.abort(new Error('budget spent')), 30);
    const started = Date.now();
    await expect(exchange(new URL(`${url}/slow`), { method: 'GET', headers: {}, signal: controller.signal })).rejects.toThrow('budget spent');
    expect(Date.now() - started).toBeLessThan(1000);
  });
});
