import { randomUUID } from 'node:crypto';
import { eq, inArray } from 'drizzle-orm';
import type { Db, Queryable } from '../db/client.ts';
import { signals } from '../db/schema.ts';
import type { Signal } from './types.ts';

/** A signal before it has an id. */
export type NewSignal = Omit<Signal, 'id'>;

export interface StoreResult {
  /** One id per signal, in order: the new row's, or the existing row's for a duplicate. */
  ids: string[];
  /** True when every signal was already stored. */
  duplicate: boolean;
  inserted: number;
}

/**
 * Persists signals, deduplicated by `dedupe_key`. Returns only after the rows are committed:
 * the caller acknowledges the sender after this and never before (DESIGN 1).
 */
export async function storeSignals(db: Queryable, batch: NewSignal[]): Promise<StoreResult> {
  if (batch.length === 0) return { ids: [], duplicate: false, inserted: 0 };
  const ids: string[] = [];
  let inserted = 0;
  // PostgreSQL takes at most 65,535 bind parameters per statement (11 per row here): a large
  // Kafka batch is written in chunks, all committed before its offsets are resolved.
  for (let start = 0; start < batch.length; start += STORE_CHUNK_ROWS) {
    const result = await storeChunk(db, batch.slice(start, start + STORE_CHUNK_ROWS));
    ids.push(...result.ids);
    inserted += result.inserted;
  }
  return { ids, duplicate: inserted === 0, inserted };
}

/** Rows per INSERT: far below the bind-parameter limit, large enough to amortise the round trip. */
export const STORE_CHUNK_ROWS = 1000;

async function storeChunk(db: Queryable, batch: NewSignal[]): Promise<{ ids: string[]; inserted: number }> {
  const rows = batch.map((s) => ({
    id: randomUUID(),
    kind: s.kind,
    event: s.event,
    source: s.source,
    tableName: s.table,
    pipeline: s.pipeline,
    exception: s.exception,
    occurredAt: s.occurredAt,
    receivedAt: s.receivedAt,
    dedupeKey: s.dedupeKey,
    payload: s.payload,
  }));
  const inserted = await db.insert(signals).values(rows).onConflictDoNothing({ target: signals.dedupeKey })
    .returning({ id: signals.id, dedupeKey: signals.dedupeKey });
  const byKey = new Map(inserted.map((r) => [r.dedupeKey, r.id]));
  const missing = [...new Set(rows.filter((r) => !byKey.has(r.dedupeKey)).map((r) => r.dedupeKey))];
  if (missing.length > 0) {
    const existing = await db.select({ id: signals.id, dedupeKey: signals.dedupeKey }).from(signals).where(inArray(signals.dedupeKey, missing));
    for (const r of existing) byKey.set(r.dedupeKey, r.id);
  }
  return { ids: rows.map((r) => byKey.get(r.dedupeKey)!), inserted: inserted.length };
}

export function rowToSignal(row: typeof signals.$inferSelect): Signal {
  return {
    id: row.id,
    kind: row.kind as Signal['kind'],
    event: row.event,
    table: row.tableName,
    pipeline: row.pipeline as Signal['pipeline'],
    exception: row.exception as Signal['exception'],
    occurredAt: row.occurredAt,
    receivedAt: row.receivedAt,
    dedupeKey: row.dedupeKey,
    source: row.source,
    payload: row.payload as Record<string, unknown>,
  };
}

export async function getSignal(db: Db, id: string): Promise<Signal | null> {
  const [row] = await db.select().from(signals).where(eq(signals.id, id));
  return row ? rowToSignal(row) : null;
}
