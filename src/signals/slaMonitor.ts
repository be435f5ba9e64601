import { and, eq, gte, isNotNull, sql } from 'drizzle-orm';
import type pg from 'pg';
import type { Logger } from 'pino';
import type { Db } from '../db/client.ts';
import { catalogTables, signals } from '../db/schema.ts';
import type { TableSla } from '../catalog/types.ts';
import { normaliseSlaMiss, type SlaMissEvent } from './kafkaEvents.ts';
import { storeSignals, type NewSignal } from './signalStore.ts';
import { normaliseError } from '../errors.ts';
import { AdvisoryLeadership, schedulePeriodic } from './periodicJob.ts';
import { lastPassedDeadline } from '../catalog/slaSchedule.ts';

/** Held (per transaction) during a check, so two checks never overlap (a replica taking over mid-pass). */
const SLA_MONITOR_LOCK = 7_304_119_002;
/** Held for as long as the replica running the monitor lives: the others never run a period (DESIGN 3.5). */
const SLA_MONITOR_LEADER_LOCK = 7_304_119_005;

export interface SlaCheckResult { checked: number; emitted: NewSignal[]; skipped: boolean }

/**
 * One pass of the SLA monitor (DESIGN 3.5): for every catalog table with an `sla` whose newest
 * deadline passed with no success since its schedule tick, store an `sla_miss` signal — unless
 * one for that deadline already exists (from an external producer or an earlier pass; the event
 * id `sla-monitor:<table>:<tick>` makes the monitor's own idempotent too). Runs under a
 * transaction-level advisory lock so that two checks never overlap; which replica runs the
 * periods is `startSlaMonitor`'s leadership.
 */
export async function runSlaCheck(db: Db, now: Date, log: Logger): Promise<SlaCheckResult> {
  return db.transaction(async (tx) => {
    const lock = await tx.execute<{ locked: boolean }>(sql`SELECT pg_try_advisory_xact_lock(${SLA_MONITOR_LOCK}) AS locked`);
    if (!lock.rows[0]?.locked) return { checked: 0, emitted: [], skipped: true };
    const tables = await tx.select().from(catalogTables).where(isNotNull(catalogTables.sla));
    const emitted: NewSignal[] = [];
    for (const table of tables) {
      const sla = table.sla as TableSla;
      let passed: { tick: Date; deadline: Date };
      try {
        passed = lastPassedDeadline(sla, now);
      } catch (error) {
        log.warn({ table: table.name, schedule: sla.schedule, err: normaliseError(error, 'sla schedule') }, 'cannot read this table\'s SLA schedule; skipped');
        continue;
      }
      // Deadlines from before the table was onboarded are nobody's miss.
      if (passed.tick < table.createdAt) continue;
      const [success] = await tx.select({ id: signals.id }).from(signals)
        .where(and(eq(signals.tableName, table.name), eq(signals.kind, 'success'), gte(signals.occurredAt, passed.tick))).limit(1);
      if (success) continue;
      const expectedBy = passed.deadline.toISOString();
      // Payloads were validated as date-times when stored, so the cast is safe.
      const [already] = await tx.select({ id: signals.id }).from(signals)
        .where(and(eq(signals.tableName, table.name), eq(signals.kind, 'sla_miss'), sql`(${signals.payload}->>'expected_by')::timestamptz = ${expectedBy}::timestamptz`)).limit(1);
      if (already) continue;
      const [lastSuccess] = await tx.select({ at: signals.occurredAt }).from(signals)
        .where(and(eq(signals.tableName, table.name), eq(signals.kind, 'success'))).orderBy(sql`${signals.occurredAt} DESC`).limit(1);
      const pipeline = table.pipeline as { dag_id?: string } | null;
      const event: SlaMissEvent = {
        id: `sla-monitor:${table.name}:${passed.tick.toISOString()}`,
        table: table.name,
        sla_kind: 'completion',
        expected_by: expectedBy,
        detected_at: now.toISOString(),
        dag_id: pipeline?.dag_id ?? null,
        last_success_at: lastSuccess ? lastSuccess.at.toISOString() : null,
        producer: 'medic-sla-monitor',
      };
      const signal = normaliseSlaMiss(event, 'sla-monitor', now);
      const stored = await storeSignals(tx, [signal]);
      if (!stored.duplicate) emitted.push(signal);
    }
    return { checked: tables.length, emitted, skipped: false };
  });
}

/** Runs `runSlaCheck` on a node-cron schedule (every minute by default); errors are logged, never thrown. */
export function startSlaMonitor(options: { db: Db; pool: pg.Pool; log: Logger; schedule: string; onEmitted: () => void }): { stop(): Promise<void> } {
  const log = options.log.child({ component: 'sla-monitor' });
  return schedulePeriodic('sla monitor', options.schedule, log, async () => {
    const result = await runSlaCheck(options.db, new Date(), log);
    for (const s of result.emitted) log.info({ table: s.table, expected_by: s.payload.expected_by }, 'SLA missed: sla_miss signal emitted');
    if (result.emitted.length > 0) options.onEmitted();
  }, new AdvisoryLeadership(options.pool, SLA_MONITOR_LEADER_LOCK));
}
