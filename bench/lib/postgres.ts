import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import pino from 'pino';
import { startEmbeddedPostgres, type EmbeddedPostgres } from '../../src/db/embeddedPostgres.ts';
import { openDatabase } from '../../src/db/client.ts';
import { runMigrations } from '../../src/db/migrate.ts';

/** The bench's own embedded PostgreSQL, in a fresh temporary home; every scenario creates its databases on it. */
export interface BenchPostgres {
  adminUrl: string;
  server: EmbeddedPostgres;
  createDatabase(label: string): Promise<string>;
  stop(): Promise<void>;
}

export async function startBenchPostgres(): Promise<BenchPostgres> {
  const home = await fs.mkdtemp(path.join(os.tmpdir(), 'medic-bench-pg-'));
  // As root the server runs as the postgres user, which must be able to traverse the home.
  await fs.chmod(home, 0o755);
  const server = await startEmbeddedPostgres(home, pino({ level: 'warn' }));
  let counter = 0;
  return {
    adminUrl: server.url,
    server,
    async createDatabase(label: string) {
      const name = `bench_${label.replace(/[^a-z0-9]/gi, '_').toLowerCase()}_${++counter}`;
      const admin = new pg.Client({ connectionString: server.url });
      await admin.connect();
      try {
        await admin.query(`CREATE DATABASE ${name}`);
      } finally {
        await admin.end();
      }
      const url = new URL(server.url);
      url.pathname = `/${name}`;
      const database = openDatabase(url.toString(), { max: 2 });
      try {
        await runMigrations(database.pool);
      } finally {
        await database.close();
      }
      return url.toString();
    },
    async stop() {
      await server.stop();
      await fs.rm(home, { recursive: true, force: true });
    },
  };
}
