import { randomUUID } from 'node:crypto';
import { eq, inArray, sql } from 'drizzle-orm';
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
  /** The new signals stored already claimed for diagnosis (see {@link IntakeClaim}), in order. */
  claimed: Signal[];
}

/**
 * Lets the process that stores signals lease some of them to its own diagnosis worker in the
 * same INSERT (claimed_by, claimed_until, attempts = 1, as a claim would set them): a signal the
 * worker has room for is handed over in memory instead of being claimed back by an UPDATE of
 * its row. The first `count` signals of the batch are claimed, duplicates excepted.
 */
export interface IntakeClaim {
  by: string;
  leaseSeconds: number;
  count: number;
  /**
   * Told the ids about to be stored claimed, before the INSERT: the claimer must know them as
   * its own from the moment they are committed (it takes back claims of its own it does not know).
   */
  onClaiming?(ids: string[]): void;
}

/**
 * What the diagnosis worker of this process offers intake (HTTP routes, the Kafka consumer):
 * `reserve` before storing a batch, `adopt` with what was stored claimed (none when storing
 * failed) — see DiagnosisWorker.
 */
export interface SignalIntake {
  reserve(count: number): IntakeClaim | null;
  adopt(claim: IntakeClaim | null, stored: Signal[]): void;
}

/**
 * Persists signals, deduplicated by `dedupe_key`. Returns only after the rows are committed:
 * the caller acknowledges the sender after this and never before (DESIGN 1).
 */
export async function storeSignals(db: Queryable, batch: NewSignal[], claim?: IntakeClaim): Promise<StoreResult> {
  if (batch.length === 0) return { ids: [], duplicate: false, inserted: 0, claimed: [] };
  const ids: string[] = [];
  const claimed: Signal[] = [];
  let inserted = 0;
  // One statement per chunk, all committed before a Kafka batch's offsets are resolved: a
  // statement's size (and a failed one's retry) stays bounded however large the batch.
  for (let start = 0; start < batch.length; start += STORE_CHUNK_ROWS) {
    const toClaim = claim ? Math.max(0, Math.min(STORE_CHUNK_ROWS, claim.count - start)) : 0;
    const result = await storeChunk(db, batch.slice(start, start + STORE_CHUNK_ROWS), claim && toClaim > 0 ? { ...claim, count: toClaim } : undefined);
    ids.push(...result.ids);
    claimed.push(...result.claimed);
    inserted += result.inserted;
  }
  return { ids, duplicate: inserted === 0, inserted, claimed };
}

/** Rows per INSERT: large enough to amortise the round trip, small enough to keep one statement's work bounded. */
export const STORE_CHUNK_ROWS = 1000;

/**
 * One INSERT whose rows travel as one array parameter per column (unnest), so that building it
 * costs no more than serialising the values: a Kafka batch of 1,000 events is 12 parameters,
 * not 11,000.
 */
async function storeChunk(db: Queryable, batch: NewSignal[], claim: IntakeClaim | undefined): Promise<{ ids: string[]; inserted: number; claimed: Signal[] }> {
  const rows = batch.map((s) => ({ ...s, id: randomUUID() }));
  // sql.param: one bind parameter holding the whole array (a bare array would expand to a list).
  const column = <T>(pick: (row: (typeof rows)[number]) => T) => sql.param(rows.map(pick));
  const claimCount = claim?.count ?? 0;
  if (claimCount > 0) claim?.onClaiming?.(rows.slice(0, claimCount).map((r) => r.id));
  const result = await db.execute<{ id: string; dedupe_key: string; claimed: boolean }>(sql`
    INSERT INTO ${signals} (id, kind, event, source, table_name, pipeline, exception, occurred_at, received_at, dedupe_key, payload,
      claimed_by, claimed_until, attempts)
    SELECT r.id, r.kind, r.event, r.source, r.table_name, r.pipeline, r.exception, r.occurred_at, r.received_at, r.dedupe_key, r.payload,
      CASE WHEN r.n <= ${claimCount} THEN ${claim?.by ?? null}::text END,
      CASE WHEN r.n <= ${claimCount} THEN now() + make_interval(secs => ${claim?.leaseSeconds ?? 0}) END,
      CASE WHEN r.n <= ${claimCount} THEN 1 ELSE 0 END
    FROM unnest(${column((r) => r.id)}::uuid[], ${column((r) => r.kind)}::text[], ${column((r) => r.event)}::text[],
      ${column((r) => r.source)}::text[], ${column((r) => r.table)}::text[], ${column((r) => JSON.stringify(r.pipeline))}::jsonb[],
      ${column((r) => (r.exception === null ? null : JSON.stringify(r.exception)))}::jsonb[], ${column((r) => r.occurredAt.toISOString())}::timestamptz[],
      ${column((r) => r.receivedAt.toISOString())}::timestamptz[], ${column((r) => r.dedupeKey)}::text[], ${column((r) => JSON.stringify(r.payload))}::jsonb[])
      WITH ORDINALITY AS r(id, kind, event, source, table_name, pipeline, exception, occurred_at, received_at, dedupe_key, payload, n)
    ORDER BY r.n
    ON CONFLICT (dedupe_key) DO NOTHING
    RETURNING id, dedupe_key, claimed_by IS NOT NULL AS claimed`);
  const byKey = new Map(result.rows.map((r) => [r.dedupe_key, r.id]));
  const claimedIds = new Set(result.rows.filter((r) => r.claimed).map((r) => r.id));
  const missing = [...new Set(rows.filter((r) => !byKey.has(r.dedupeKey)).map((r) => r.dedupeKey))];
  if (missing.length > 0) {
    const existing = await db.select({ id: signals.id, dedupeKey: signals.dedupeKey }).from(signals).where(inArray(signals.dedupeKey, missing));
    for (const r of existing) byKey.set(r.dedupeKey, r.id);
  }
  return {
    ids: rows.map((r) => byKey.get(r.dedupeKey)!),
    inserted: result.rows.length,
    claimed: rows.filter((r) => claimedIds.has(r.id)),
  };
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
