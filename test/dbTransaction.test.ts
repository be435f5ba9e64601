import net from 'node:net';
import type { AddressInfo } from 'node:net';
import pg from 'pg';
import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { inTransaction } from '../src/db/client.ts';
import { createTestDatabase } from './support/testDatabase.ts';

let database: Awaited<ReturnType<typeof createTestDatabase>>;
beforeAll(async () => { database = await createTestDatabase('db_transaction'); });
afterAll(async () => { await database?.drop(); });

/**
 * A TCP proxy in front of PostgreSQL that cuts a connection when the client sends a statement
 * containing `cutOn` (case-sensitive): the database "going away" at exactly that statement.
 */
async function cuttingProxy(target: URL, cutOn: string) {
  const server = net.createServer((client) => {
    const upstream = net.connect(Number(target.port), target.hostname);
    client.on('data', (chunk: Buffer) => {
      if (chunk.includes(cutOn)) {
        client.destroy();
        upstream.destroy();
        return;
      }
      upstream.write(chunk);
    });
    upstream.on('data', (chunk: Buffer) => client.write(chunk));
    client.on('error', () => upstream.destroy());
    upstream.on('error', () => client.destroy());
    client.on('close', () => upstream.destroy());
    upstream.on('close', () => client.destroy());
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = new URL(target);
  url.port = String((server.address() as AddressInfo).port);
  return { url: url.toString(), close: () => new Promise<void>((resolve) => server.close(() => resolve())) };
}

/** Resolves with 'ended' when the pool ends, or 'hung' after `ms`. */
const endsWithin = (pool: pg.Pool, ms: number) => Promise.race([
  pool.end().then(() => 'ended' as const),
  new Promise<'hung'>((resolve) => setTimeout(() => resolve('hung'), ms).unref()),
]);

describe('inTransaction', () => {
  it.each([
    // Where the connection is cut, and what the caller sees.
    { cutOn: 'BEGIN', statement: 'SELECT 1' },
    { cutOn: 'medic_cut_here', statement: 'SELECT 1 AS medic_cut_here' },
    { cutOn: 'COMMIT', statement: 'SELECT 1' },
  ])('gives the connection back when it is cut at $cutOn, so the pool can still end', async ({ cutOn, statement }) => {
    const proxy = await cuttingProxy(new URL(database.url), cutOn);
    const pool = new pg.Pool({ connectionString: proxy.url, max: 2 });
    // As openDatabase does: a connection lost while checked out fails its query, not the process.
    pool.on('error', () => undefined);
    pool.on('connect', (client) => client.on('error', () => undefined));
    try {
      await expect(inTransaction(pool, (tx) => tx.execute(sql.raw(statement)))).rejects.toThrow();
      expect(pool.totalCount - pool.idleCount, 'connections still checked out').toBe(0);
      expect(await endsWithin(pool, 3000)).toBe('ended');
    } finally {
      await proxy.close();
    }
  });

  it('commits the work and rolls back a failure', async () => {
    await database.pool.query('CREATE TABLE tx_probe (n int)');
    await inTransaction(database.pool, (tx) => tx.execute(sql`INSERT INTO tx_probe VALUES (1)`));
    await expect(inTransaction(database.pool, async (tx) => {
      await tx.execute(sql`INSERT INTO tx_probe VALUES (2)`);
      throw new Error('changed my mind');
    })).rejects.toThrow('changed my mind');
    expect((await database.pool.query('SELECT array_agg(n) AS ns FROM tx_probe')).rows[0].ns).toEqual([1]);
    expect(database.pool.totalCount - database.pool.idleCount).toBe(0);
  });
});
