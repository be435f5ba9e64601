import { randomUUID } from 'node:crypto';
import { and, desc, eq, isNull, lt, or, type SQL } from 'drizzle-orm';
import type { Db } from '../db/client.ts';
import { deadLetters } from '../db/schema.ts';
import { keysetPage } from '../db/healthQueries.ts';
import { parseEventBytes, type EventKind } from './kafkaEvents.ts';
import { storeSignals } from './signalStore.ts';

export interface DeadLetterInput {
  topic: string;
  partition: number;
  offset: string;
  key: Buffer | null;
  value: Buffer | null;
  headers: Record<string, string> | null;
  reason: string;
}

/** Keeps a poison message; a redelivery of the same topic/partition/offset is a no-op. */
export async function insertDeadLetter(db: Db, input: DeadLetterInput): Promise<void> {
  await db.insert(deadLetters).values({
    id: randomUUID(), topic: input.topic, partition: input.partition, offset: input.offset,
    key: input.key, value: input.value, valueBytes: input.value?.length ?? 0, headers: input.headers, reason: input.reason,
  }).onConflictDoNothing();
}

function view(row: typeof deadLetters.$inferSelect) {
  const text = row.value ? row.value.toString('utf8') : null;
  return {
    id: row.id, topic: row.topic, partition: row.partition, offset: row.offset, reason: row.reason,
    key: row.key ? row.key.toString('utf8') : null,
    value_bytes: row.valueBytes,
    /** The value as text, cut to 4 KiB for listing; value_base64 has it whole. */
    value_preview: text === null ? null : text.slice(0, 4096),
    value_base64: row.value ? row.value.toString('base64') : null,
    headers: (row.headers as Record<string, string> | null) ?? null,
    received_at: row.receivedAt.toISOString(),
    replayed_at: row.replayedAt ? row.replayedAt.toISOString() : null,
    replayed_signal_id: row.replayedSignalId,
  };
}

export async function listDeadLetters(db: Db, filters: { topic?: string; pending?: boolean }, limit: number, cursor: { at: Date; id: string } | null) {
  const where: SQL[] = [];
  if (filters.topic) where.push(eq(deadLetters.topic, filters.topic));
  if (filters.pending) where.push(isNull(deadLetters.replayedAt));
  if (cursor) where.push(or(lt(deadLetters.receivedAt, cursor.at), and(eq(deadLetters.receivedAt, cursor.at), lt(deadLetters.id, cursor.id)))!);
  const rows = await db.select().from(deadLetters).where(and(...where)).orderBy(desc(deadLetters.receivedAt), desc(deadLetters.id)).limit(limit + 1);
  return keysetPage(rows, limit, view, (r) => ({ at: r.receivedAt, id: r.id }));
}

export type ReplayOutcome =
  | { status: 'not_found' }
  | { status: 'unknown_topic'; topic: string }
  | { status: 'still_invalid'; reason: string }
  | { status: 'replayed'; signalId: string; duplicate: boolean; alreadyReplayed: boolean };

/**
 * Parses a dead letter again — after the producer or Medic was fixed — and stores the signal
 * it now makes. Idempotent: replaying twice stores one signal (the dedupe key is the event id).
 */
export async function replayDeadLetter(db: Db, id: string, topicKinds: Map<string, EventKind>): Promise<ReplayOutcome> {
  const [row] = await db.select().from(deadLetters).where(eq(deadLetters.id, id));
  if (!row) return { status: 'not_found' };
  const kind = topicKinds.get(row.topic);
  if (!kind) return { status: 'unknown_topic', topic: row.topic };
  const parsed = parseEventBytes(kind, row.value, 'kafka-replay', new Date());
  if (!parsed.ok) return { status: 'still_invalid', reason: parsed.reason };
  const stored = await storeSignals(db, [parsed.signal]);
  const signalId = stored.ids[0]!;
  const alreadyReplayed = row.replayedAt !== null;
  if (!alreadyReplayed) await db.update(deadLetters).set({ replayedAt: new Date(), replayedSignalId: signalId }).where(eq(deadLetters.id, id));
  return { status: 'replayed', signalId, duplicate: stored.duplicate, alreadyReplayed };
}
