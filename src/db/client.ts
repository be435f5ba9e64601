import pg from 'pg';
import { drizzle, type NodePgDatabase } from 'drizzle-orm/node-postgres';
import * as schema from './schema.ts';

export type Db = NodePgDatabase<typeof schema>;
/** A transaction handle, usable wherever a query runs. */
export type Tx = Parameters<Parameters<Db['transaction']>[0]>[0];
/** The database or a transaction in progress. */
export type Queryable = Db | Tx;

/** A pool and the drizzle handle on it; `close()` ends the pool. */
export interface Database {
  pool: pg.Pool;
  db: Db;
  close(): Promise<void>;
}

export function openDatabase(url: string, options: { max?: number; onError?: (error: Error) => void } = {}): Database {
  const pool = new pg.Pool({ connectionString: url, max: options.max ?? 20, connectionTimeoutMillis: 5000 });
  // A client losing its connection (database restart) must not crash the daemon: the pool only
  // listens on idle clients, so a checked-out client between two statements of a transaction
  // would otherwise emit an unhandled 'error'. Its pending or next query fails normally.
  pool.on('error', (error) => options.onError?.(error));
  pool.on('connect', (client) => {
    client.on('error', (error) => options.onError?.(error));
  });
  const db = drizzle(pool, { schema });
  return { pool, db, close: () => pool.end() };
}
