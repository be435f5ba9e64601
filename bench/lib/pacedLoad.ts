import http from 'node:http';

/**
 * An open-loop load at a fixed rate: request i is due at start + i / rate, whatever happened to
 * the ones before, and its latency runs from when it was due (not from when a connection was
 * free to send it), so a stalled server shows in the figures instead of slowing the load down.
 *
 * Why not autocannon's `overallRate`: it lets each connection send its share of a second back to
 * back and then pause until the next second, so "1,000 req/s over 50 connections" is 50 bursts of
 * 20 at every second boundary — a flat-out test for a few hundred milliseconds; and its
 * coordinated-omission correction uses an expected interval of ceil(1 / rate) = 1 ms, which
 * adds one synthetic sample per millisecond of every slow response. Both inflate p99 (a bare
 * fastify route returning a constant measured 43–113 ms that way on this 2-core machine).
 */
export interface PacedLoadOptions {
  url: string;
  rate: number;
  durationS: number;
  /** Upper bound on keep-alive connections; requests wait for one (and that wait counts) beyond it. */
  connections: number;
  headers?: Record<string, string>;
  path: (i: number) => string;
}

export interface PacedLoadResult {
  sent: number;
  ok: number;
  non2xx: number;
  errors: number;
  /** Answered requests per second over the run. */
  achievedRate: number;
  p50: number;
  p90: number;
  p99: number;
  max: number;
}

export async function pacedLoad(options: PacedLoadOptions): Promise<PacedLoadResult> {
  const agent = new http.Agent({ keepAlive: true, maxSockets: options.connections });
  const base = new URL(options.url);
  const total = Math.round(options.rate * options.durationS);
  const intervalMs = 1000 / options.rate;
  const latencies: number[] = [];
  let ok = 0;
  let non2xx = 0;
  let errors = 0;
  let sent = 0;
  const inFlight = new Set<Promise<void>>();

  const send = (i: number, dueAt: number) => {
    const done = new Promise<void>((resolve) => {
      const request = http.request({ agent, host: base.hostname, port: base.port, method: 'GET', path: options.path(i), headers: options.headers, timeout: 30_000 }, (response) => {
        response.on('data', () => undefined);
        response.on('end', () => {
          latencies.push(performance.now() - dueAt);
          if (response.statusCode !== undefined && response.statusCode >= 200 && response.statusCode < 300) ok += 1;
          else non2xx += 1;
          resolve();
        });
        response.on('error', () => { errors += 1; resolve(); });
      });
      request.on('timeout', () => request.destroy(new Error('timed out')));
      request.on('error', () => { errors += 1; resolve(); });
      request.end();
    });
    inFlight.add(done);
    void done.then(() => inFlight.delete(done));
  };

  const started = performance.now();
  await new Promise<void>((resolve) => {
    const tick = () => {
      const now = performance.now();
      // Everything due by now goes out now; a late tick sends its backlog at once, still timed from its due time.
      while (sent < total && started + sent * intervalMs <= now) {
        send(sent, started + sent * intervalMs);
        sent += 1;
      }
      if (sent >= total) return resolve();
      setTimeout(tick, Math.max(0, Math.min(intervalMs, started + sent * intervalMs - performance.now())));
    };
    tick();
  });
  await Promise.all(inFlight);
  const elapsedS = (performance.now() - started) / 1000;
  agent.destroy();
  latencies.sort((a, b) => a - b);
  const at = (p: number) => (latencies.length === 0 ? 0 : latencies[Math.min(latencies.length - 1, Math.ceil((p / 100) * latencies.length) - 1)]!);
  const round2 = (x: number) => Math.round(x * 100) / 100;
  return {
    sent, ok, non2xx, errors,
    achievedRate: round2(ok / elapsedS),
    p50: round2(at(50)), p90: round2(at(90)), p99: round2(at(99)), max: round2(latencies[latencies.length - 1] ?? 0),
  };
}
