import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startEmbeddedPostgres, type EmbeddedPostgres } from '../src/db/embeddedPostgres.ts';
import { loadConfig } from '../src/config.ts';
import { createLogger } from '../src/log.ts';
import { startDaemon, type RunningDaemon } from '../src/daemon.ts';
import { waitFor } from './support/testDaemon.ts';
import { startOnPort } from './reliability/support/outage.ts';

// A PostgreSQL of its own, so stopping it disturbs no other test file.
let home: string;
let server: EmbeddedPostgres;
let daemon: RunningDaemon;
const TOKEN = 'outage-test-admin-token-01';

beforeAll(async () => {
  home = await fs.mkdtemp(path.join(os.tmpdir(), 'medic-outage-'));
  await fs.chmod(home, 0o755);
  server = await startEmbeddedPostgres(home, pino({ level: 'silent' }));
  const config = loadConfig({ DATABASE_URL: server.url, PORT: '0', MEDIC_HOME: home, MEDIC_ADMIN_TOKEN: TOKEN, LOG_LEVEL: 'silent', MEDIC_DIAGNOSIS_POLL_MS: '100' });
  daemon = await startDaemon(config, createLogger(process.env.DEBUG_OUTAGE ? 'info' : 'silent'));
});

afterAll(async () => {
  await daemon?.stop();
  await server?.stop().catch(() => undefined);
  await fs.rm(home, { recursive: true, force: true });
});

const post = (i: number) => fetch(`${daemon.url}/v1/signals/airflow`, {
  method: 'POST',
  headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' },
  body: JSON.stringify({ event: 'failure', dag_id: 'd', task_id: 't', run_id: `r${i}`, try_number: 1, tables: ['lake.outage'], exception: { type: 'KeyError', message: 'x' } }),
});

describe('database outage', () => {
  it('answers 503 (never 2xx) and /readyz false while PostgreSQL is down, and recovers by itself', async () => {
    expect((await post(1)).status).toBe(202);
    await server.stop();
    const readyz = await fetch(`${daemon.url}/readyz`);
    expect(readyz.status).toBe(503);
    expect(await readyz.json()).toMatchObject({ ok: false, database: false });
    const during = await post(2);
    expect(during.status).toBe(503);
    expect((await during.json()).error.code).toBe('database_unavailable');
    expect(during.headers.get('retry-after')).toBe('5');

    // Same data directory, same port recorded in it? A restart picks a free port, so start
    // on the same one the daemon's pool points at.
    const port = new URL(server.url).port;
    const restarted = await startOnPort(home, port);
    await waitFor(async () => (await fetch(`${daemon.url}/readyz`)).status === 200, 20_000, 'readyz to recover');
    expect((await post(3)).status).toBe(202);
    expect((await post(2)).status).toBe(202);
    const rcas = await waitFor(async () => {
      const list = await (await fetch(`${daemon.url}/v1/rca?table=lake.outage`, { headers: { authorization: `Bearer ${TOKEN}` } })).json();
      return list.items.length === 3 ? list.items : null;
    }, 20_000, 'three RCAs');
    expect(rcas).toHaveLength(3);
    server = restarted;
  });
});
