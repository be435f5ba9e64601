import { randomUUID } from 'node:crypto';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { spawnDaemon, type DaemonProcess } from '../../test/support/daemonProcess.ts';
import { hashToken } from '../../src/api/tokens.ts';
import { log, stopChild, trackChild, type BenchContext } from './common.ts';

export const ADMIN_TOKEN = 'bench-admin-token-0123456789';
/** What Airflow callbacks and dashboards use in production: role-scoped tokens, not the admin one. */
export const INGEST_TOKEN = 'medic_bench-ingest-token-0123456789';
export const READER_TOKEN = 'medic_bench-reader-token-0123456789';

export interface BenchDaemon extends Omit<DaemonProcess, 'stop'> {
  pid: number;
  databaseUrl: string;
  call(method: string, url: string, body?: unknown, token?: string): Promise<{ status: number; body: any }>;
  stop(): Promise<void>;
}

/**
 * `medic serve` as a child process (test/support/daemonProcess.ts) on `databaseUrl`, with the
 * bench's settings: no SLA monitor or reconciler ticking in the middle of a measurement, the
 * per-token rate limit raised out of the way (a bench measures capacity, not the policy), and
 * warn-level logs. Ingest and reader tokens are created in the database first.
 */
export async function startBenchDaemon(ctx: BenchContext, databaseUrl: string, env: Record<string, string> = {}): Promise<BenchDaemon> {
  const client = new pg.Client({ connectionString: databaseUrl });
  await client.connect();
  try {
    for (const [name, role, token] of [['bench-ingest', 'ingest', INGEST_TOKEN], ['bench-reader', 'reader', READER_TOKEN]] as const) {
      await client.query('INSERT INTO api_tokens (id, name, role, token_hash) VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING', [randomUUID(), name, role, hashToken(token)]);
    }
  } finally {
    await client.end();
  }
  const home = await fs.mkdtemp(path.join(os.tmpdir(), 'medic-bench-home-'));
  let daemon: Awaited<ReturnType<typeof spawnDaemon>>;
  try {
    daemon = await spawnDaemon({
      DATABASE_URL: databaseUrl, MEDIC_HOME: home, MEDIC_ADMIN_TOKEN: ADMIN_TOKEN, LOG_LEVEL: 'warn',
      MEDIC_SLA_MONITOR: 'off', MEDIC_RECONCILER: 'off', MEDIC_RATE_LIMIT_PER_MIN: '10000000',
      ...env, ...ctx.daemonEnv,
      // Only the tail of the output: a long run at warn level must not grow the harness's memory.
    }, { execArgv: ctx.daemonExecArgv, outputLimit: 64_000 });
    trackChild(daemon.child);
  } catch (error) {
    await fs.rm(home, { recursive: true, force: true });
    throw error;
  }
  let stopped: Promise<void> | null = null;
  const stop = () => {
    stopped ??= (async () => {
      await stopChild(daemon.child);
      await fs.rm(home, { recursive: true, force: true });
    })();
    return stopped;
  };
  const undefer = ctx.defer('daemon', stop);
  log(`process pid ${daemon.child.pid} started (medic serve, ready in ${daemon.readyMs} ms at ${daemon.url})`);
  return {
    ...daemon,
    pid: daemon.child.pid!,
    databaseUrl,
    async call(method, url, body, token = ADMIN_TOKEN) {
      const response = await fetch(`${daemon.url}${url}`, {
        method,
        headers: { authorization: `Bearer ${token}`, ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
        body: body === undefined ? undefined : JSON.stringify(body),
      });
      const text = await response.text();
      let parsed: unknown = text;
      try { parsed = JSON.parse(text); } catch { /* keep text */ }
      return { status: response.status, body: parsed };
    },
    async stop() {
      undefer();
      await stop();
    },
  };
}
