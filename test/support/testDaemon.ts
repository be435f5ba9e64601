import os from 'node:os';
import path from 'node:path';
import fs from 'node:fs/promises';
import { loadConfig } from '../../src/config.ts';
import { createLogger } from '../../src/log.ts';
import { startDaemon, type RunningDaemon } from '../../src/daemon.ts';
import { createTestDatabase } from './testDatabase.ts';

export const ADMIN_TOKEN = 'test-admin-token-0123456789';

export interface TestDaemon extends RunningDaemon {
  databaseUrl: string;
  call(method: string, url: string, options?: { body?: unknown; token?: string | null; raw?: string; headers?: Record<string, string> }): Promise<{ status: number; body: any }>;
  close(): Promise<void>;
}

/** A real daemon in this process, on a fresh database, listening on a free port. */
export async function startTestDaemon(label: string, env: Record<string, string> = {}): Promise<TestDaemon> {
  const database = await createTestDatabase(label);
  await database.close();
  const home = await fs.mkdtemp(path.join(os.tmpdir(), 'medic-home-'));
  const config = loadConfig({
    DATABASE_URL: database.url, PORT: '0', MEDIC_HOME: home, MEDIC_ADMIN_TOKEN: ADMIN_TOKEN, LOG_LEVEL: 'silent',
    MEDIC_DIAGNOSIS_POLL_MS: '100', ...env,
  });
  const daemon = await startDaemon(config, createLogger(config.logLevel));
  return {
    ...daemon,
    databaseUrl: database.url,
    async call(method, url, options = {}) {
      const headers: Record<string, string> = { ...options.headers };
      const token = options.token === undefined ? ADMIN_TOKEN : options.token;
      if (token) headers.authorization = `Bearer ${token}`;
      let payload: string | undefined = options.raw;
      if (options.body !== undefined) payload = JSON.stringify(options.body);
      if (payload !== undefined) headers['content-type'] ??= 'application/json';
      const response = await fetch(`${daemon.url}${url}`, { method, headers, body: payload });
      const text = await response.text();
      let body: unknown = text;
      try { body = JSON.parse(text); } catch { /* not JSON: keep the text */ }
      return { status: response.status, body };
    },
    async close() {
      await daemon.stop();
      await database.drop();
      await fs.rm(home, { recursive: true, force: true });
    },
  };
}

/** Polls until `check` returns a truthy value, or fails after `timeoutMs`. */
export async function waitFor<T>(check: () => Promise<T | null | undefined | false>, timeoutMs = 10_000, what = 'condition'): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}
