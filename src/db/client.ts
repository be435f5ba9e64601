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

/**
 * Runs `work` in a transaction on one pooled connection and gives the connection back whatever
 * fails. drizzle's `db.transaction` (0.45) sends BEGIN outside its try/finally: when BEGIN
 * itself fails — the database restarting under a busy daemon — the connection is never
 * released, and `pool.end()` at shutdown waits for it forever. A connection whose ROLLBACK
 * failed is broken and is dropped, not reused.
 */
export async function inTransaction<T>(pool: pg.Pool, work: (tx: Db) => Promise<T>): Promise<T> {
  const client = await pool.connect();
  let broken: Error | undefined;
  try {
    await client.query('BEGIN');
  } catch (error) {
    client.release(error instanceof Error ? error : new Error(String(error)));
    throw error;
  }
  try {
    const result = await work(drizzle(client, { schema }));
    await client.query('COMMIT');
    return result;
  } catch (error) {
    await client.query('ROLLBACK').catch((rollbackError: unknown) => {
      broken = rollbackError instanceof Error ? rollbackError : new Error(String(rollbackError));
    });
    throw error;
  } finally {
    client.release(broken);
  }
}
