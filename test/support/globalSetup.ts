import os from 'node:os';
import path from 'node:path';
import fs from 'node:fs/promises';
import pino from 'pino';
import type { TestProject } from 'vitest/node';
import { startEmbeddedPostgres } from '../../src/db/embeddedPostgres.ts';

/**
 * One real PostgreSQL for the whole run: the embedded server, in a fresh directory, or the
 * server at TEST_DATABASE_URL. Each test file then creates a database of its own on it.
 */
export default async function setup(project: TestProject) {
  const external = process.env.TEST_DATABASE_URL;
  if (external) {
    project.provide('adminDatabaseUrl', external);
    return;
  }
  const home = await fs.mkdtemp(path.join(os.tmpdir(), 'medic-test-'));
  await fs.chmod(home, 0o755);
  const server = await startEmbeddedPostgres(home, pino({ level: 'warn' }));
  project.provide('adminDatabaseUrl', server.url);
  return async () => {
    await server.stop();
    await fs.rm(home, { recursive: true, force: true });
  };
}

declare module 'vitest' {
  export interface ProvidedContext {
    adminDatabaseUrl: string;
  }
}
