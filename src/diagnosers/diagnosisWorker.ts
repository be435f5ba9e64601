import { randomUUID } from 'node:crypto';
import PQueue from 'p-queue';
import { sql } from 'drizzle-orm';
import type { Logger } from 'pino';
import { inTransaction, type Database } from '../db/client.ts';
import { isDatabaseUnavailable } from '../api/errors.ts';
import { signals } from '../db/schema.ts';
import { applySuccess, recordDiagnoses, recordDiagnosis, type DiagnosisWrite, type WriteOutcome } from '../db/healthWriter.ts';
import { loadCatalogViews } from '../catalog/catalogStore.ts';
import type { Signal } from '../signals/types.ts';
import type { IntakeClaim } from '../signals/signalStore.ts';
import { normaliseError } from '../errors.ts';
import type { Metrics } from '../metrics.ts';
import { buildDiagnosis } from './buildDiagnosis.ts';
import type { Analyser, CatalogView, SharedHelpers } from './types.ts';
import { createTickBatcher, type TickBatcher } from './tickBatcher.ts';
import { createGroupCommit, type GroupCommit } from './groupCommit.ts';
import { planResolution } from '../resolvers/engine/planResolution.ts';
import type { ResolverSettings } from '../resolvers/types.ts';

export interface DiagnosisWorkerOptions {
  database: Database;
  log: Logger;
  metrics: Metrics;
  concurrency: number;
  leaseSeconds: number;
  pollMs: number;
  analyserTimeoutMs: number;
  platformTeam: string;
  /** Timings the resolvers plan with. */
  resolverSettings: ResolverSettings;
  /** History, look-up cache, Airflow clients, source DSNs, settings: what every analyser gets. */
  shared: SharedHelpers;
  registry?: readonly Analyser[];
  /** After this many failed attempts the signal gets an `unknown` RCA carrying the error, rather than being retried forever. */
  maxAttempts?: number;
  /** At most this many diagnoses are written in one transaction (group commit); default 250. */
  writeBatch?: number;
}

/**
 * Takes persisted, undiagnosed signals and diagnoses them on a p-queue. Signals are claimed
 * with a lease (`claimed_until`) using SKIP LOCKED, so several processes share the work and a
 * crashed process's signals are taken over once its lease runs out; the `diagnosed_at IS NULL`
 * guard in the writing transaction makes the result exactly-once. The worker claims only as
 * many signals as the queue has room for: a surge waits in PostgreSQL, not in memory.
 *
 * Everything that touches the database is batched, so a diagnosis costs about one round trip
 * rather than a dozen: a claim leases up to 500 signals in one statement (and intake hands this
 * process's new signals over without one, see {@link reserve}); the catalog views and history
 * reads of diagnoses started together go out as one query each (tickBatcher); finished
 * diagnoses are written many per transaction (groupCommit, recordDiagnoses).
 */
export class DiagnosisWorker {
  readonly id = `diag-${randomUUID().slice(0, 8)}`;
  private readonly queue: PQueue;
  private readonly shutdown = new AbortController();
  private timer: NodeJS.Timeout | undefined;
  private filling: Promise<void> | null = null;
  private refill = false;
  private running = false;
  /** Ids this process is diagnosing right now; its other claims are orphans it may take back. */
  private readonly active = new Set<string>();
  /** The catalog views the diagnoses of one claimed batch need, loaded together. */
  private readonly catalogViews: TickBatcher<string, CatalogView>;
  /** Finished diagnoses, written many per transaction. */
  private readonly writer: GroupCommit<DiagnosisWrite, WriteOutcome>;
  /** The last claim got all it asked for: more signals are probably waiting in PostgreSQL. */
  private backlog = false;
  /** Queue slots promised to intake for signals it is storing right now ({@link reserve}). */
  private reserved = 0;
  /** The ids each reservation is storing claimed, until adopted. */
  private readonly held = new Map<IntakeClaim, string[]>();

  constructor(private readonly options: DiagnosisWorkerOptions) {
    this.queue = new PQueue({ concurrency: options.concurrency });
    const { database } = options;
    this.catalogViews = createTickBatcher((tables) => loadCatalogViews(database.db, tables, options.platformTeam));
    this.writer = createGroupCommit((writes) => recordDiagnoses(database, writes), {
      maxBatch: options.writeBatch ?? 250,
      // A database that is down fails every write alike; anything else may be one bad row.
      retryAlone: (error) => !isDatabaseUnavailable(error),
    });
  }

  start(): void {
    this.running = true;
    this.schedule(0);
  }

  /** Called after a signal is stored in this process, so it is diagnosed without waiting for the poll. */
  poke(): void {
    if (this.running) void this.fill();
  }

  /** Stops claiming and waits (up to `timeoutMs`) for diagnoses in flight; unfinished ones are re-claimed after the lease. */
  async stop(timeoutMs = 10_000): Promise<void> {
    this.running = false;
    clearTimeout(this.timer);
    await this.filling;
    const idle = this.queue.onIdle();
    const timedOut = new Promise<'timeout'>((resolve) => setTimeout(() => resolve('timeout'), timeoutMs).unref());
    if ((await Promise.race([idle, timedOut])) === 'timeout') {
      this.options.log.warn({ pending: this.queue.pending, waiting: this.queue.size }, 'diagnoses still running at shutdown; their signals will be re-claimed after the lease');
      this.shutdown.abort();
      this.queue.clear();
    }
  }

  /**
   * Intake asks for room before it stores a batch: the signals this worker has room for are
   * stored already leased to it and handed over by {@link adopt}, which spares each of them the
   * UPDATE of a claim. Null when the queue is full, when older signals are waiting in
   * PostgreSQL (they go first: oldest first holds under overload too) or when the worker is
   * stopping: then the new ones wait in PostgreSQL for a claim, as before.
   */
  reserve(count: number): IntakeClaim | null {
    const room = Math.min(count, this.options.concurrency * 2 - this.inFlight - this.reserved);
    if (!this.running || this.backlog) return null;
    if (room < count) {
      // Some of these will wait in PostgreSQL: from now on the queue is topped up from there.
      this.backlog = true;
      if (room <= 0) return null;
    }
    this.reserved += room;
    const held: string[] = [];
    const claim: IntakeClaim = {
      by: this.id, leaseSeconds: this.options.leaseSeconds, count: room,
      // Known as ours before the INSERT commits, or a claim running meanwhile would take them for orphans.
      onClaiming: (ids) => {
        for (const id of ids) this.active.add(id);
        held.push(...ids);
      },
    };
    this.held.set(claim, held);
    return claim;
  }

  /** Takes the signals stored under `claim` (none when storing failed) and frees the rest of the reservation. */
  adopt(claim: IntakeClaim | null, stored: Signal[]): void {
    if (!claim) return;
    this.reserved -= claim.count;
    const storedIds = new Set(stored.map((s) => s.id));
    for (const id of this.held.get(claim) ?? []) if (!storedIds.has(id)) this.active.delete(id);
    this.held.delete(claim);
    if (stored.length === 0) return;
    if (!this.running) {
      for (const id of storedIds) this.active.delete(id);
      // Stopped meanwhile: give the leases back so that another process need not wait them out.
      void this.options.database.db.execute(sql`
        UPDATE ${signals} SET claimed_by = NULL, claimed_until = NULL, attempts = attempts - 1
        WHERE id = ANY(${`{${stored.map((s) => s.id).join(',')}}`}::uuid[]) AND claimed_by = ${this.id} AND diagnosed_at IS NULL`)
        .catch((thrown: unknown) => this.options.log.warn({ err: normaliseError(thrown, 'releasing signals at shutdown') }, 'their leases will run out instead'));
      return;
    }
    for (const signal of stored) this.enqueue(signal, 1);
    this.options.metrics.diagnosisQueue.set(this.inFlight);
  }

  /** Signals this process holds: waiting in the queue plus running. */
  get inFlight(): number {
    return this.queue.size + this.queue.pending;
  }

  private schedule(ms: number): void {
    clearTimeout(this.timer);
    if (!this.running) return;
    this.timer = setTimeout(() => { void this.fill(); }, ms);
  }

  private fill(): Promise<void> {
    if (this.filling) {
      this.refill = true;
      return this.filling;
    }
    this.filling = (async () => {
      try {
        do {
          this.refill = false;
          await this.claimUntilFull();
        } while (this.refill && this.running);
      } catch (thrown) {
        this.options.log.error({ err: normaliseError(thrown, 'diagnosis worker') }, 'claiming signals failed; will try again');
      } finally {
        this.filling = null;
        this.schedule(this.options.pollMs);
      }
    })();
    return this.filling;
  }

  private async claimUntilFull(): Promise<void> {
    const capacity = this.options.concurrency * 2;
    while (this.running) {
      const room = capacity - this.inFlight - this.reserved;
      if (room <= 0) return;
      const asked = Math.min(room, 500);
      const batch = await this.claim(asked);
      this.backlog = batch.length === asked;
      for (const row of batch) this.enqueue(row.signal, row.attempts);
      this.options.metrics.diagnosisQueue.set(this.inFlight);
      if (!this.backlog) return;
    }
  }

  private enqueue(signal: Signal, attempts: number): void {
    this.active.add(signal.id);
    void this.queue.add(() => this.diagnose(signal, attempts).finally(() => this.finished(signal.id)));
  }

  /**
   * With a backlog in PostgreSQL, the queue is topped up once half of it is done rather than on
   * the next poll; without one, new signals arrive by poke and nothing is asked for.
   */
  private finished(signalId: string): void {
    this.active.delete(signalId);
    if (this.backlog && this.running && this.inFlight <= this.options.concurrency) void this.fill();
  }

  /** Leases up to `limit` undiagnosed signals to this process, oldest first, in one statement. */
  private async claim(limit: number): Promise<Array<{ signal: Signal; attempts: number }>> {
    const { db, pool } = this.options.database;
    const claimSql = sql`
      UPDATE ${signals} SET claimed_by = ${this.id},
        claimed_until = now() + make_interval(secs => ${this.options.leaseSeconds}),
        attempts = attempts + 1
      -- = ANY(ARRAY(…)), not IN (…): with IN the planner hash-joins the picked ids against a
      -- sequential scan of every signal; the array form updates them through the primary key.
      WHERE id = ANY(ARRAY(
        SELECT id FROM ${signals}
        WHERE diagnosed_at IS NULL AND (claimed_until IS NULL OR claimed_until < now()
          -- Our own claims that we no longer work on (their diagnosis failed while the
          -- database was down, so not even the release could be written): no need to wait out the lease.
          OR (claimed_by = ${this.id} AND NOT (id = ANY(${`{${[...this.active].join(',')}}`}::uuid[]))))
        ORDER BY received_at LIMIT ${limit}
        FOR UPDATE SKIP LOCKED))
      RETURNING id, kind, event, source, table_name, pipeline, exception, occurred_at, received_at, dedupe_key, payload, attempts`;
    // The oldest undiagnosed signals should come straight off signals_undiagnosed_idx, in order,
    // the scan stopping at the limit. After a surge the statistics are stale (they still say
    // "few undiagnosed rows") and the planner sorts the whole backlog instead, on every claim:
    // measured 24 ms per claim with 25,000 waiting, growing with the backlog. So while there is
    // a backlog (the last claim was full), sorting is ruled out; otherwise one round trip.
    const result = this.backlog
      ? await inTransaction(pool, async (tx) => {
        await tx.execute(sql`SET LOCAL enable_sort = off`);
        return tx.execute<Record<string, unknown>>(claimSql);
      })
      : await db.execute<Record<string, unknown>>(claimSql);
    return result.rows.map((row) => ({ signal: claimedSignal(row), attempts: Number(row.attempts) }))
      .sort((a, b) => a.signal.receivedAt.getTime() - b.signal.receivedAt.getTime());
  }

  private async diagnose(signal: Signal, attempts: number): Promise<void> {
    const { database, log, metrics } = this.options;
    const started = performance.now();
    const signalLog = log.child({ signal_id: signal.id, table: signal.table, kind: signal.kind });
    try {
      let outcome: WriteOutcome;
      let category: string | null = null;
      if (signal.kind === 'success') {
        outcome = await applySuccess(database, signal);
      } else {
        const catalog = await this.catalogViews.load(signal.table);
        const diagnosis = await buildDiagnosis(signal, catalog, {
          timeoutMs: this.options.analyserTimeoutMs, log: signalLog, shutdown: this.shutdown.signal, registry: this.options.registry, shared: this.options.shared,
        });
        category = diagnosis.category;
        const resolution = planResolution({
          category: diagnosis.category, table: signal.table, signal, catalogTable: catalog.table,
          details: diagnosis.details, settings: this.options.resolverSettings, inherited: diagnosis.inherited,
        });
        outcome = await this.writer.submit({ signal, diagnosis, resolution });
      }
      if (!outcome.applied) {
        signalLog.info('already diagnosed by another process; nothing written');
        return;
      }
      metrics.diagnosisDuration.observe({ kind: signal.kind }, (performance.now() - started) / 1000);
      metrics.diagnosisLatency.observe({ kind: signal.kind }, Math.max(0, Date.now() - signal.receivedAt.getTime()) / 1000);
      if (category) metrics.rcaCreated.inc({ category });
      signalLog.info({ rca_id: outcome.rcaId, category, status: `${outcome.oldStatus} -> ${outcome.newStatus}`, superseded: outcome.superseded }, signal.kind === 'success' ? 'success applied' : 'diagnosed');
    } catch (thrown) {
      const error = normaliseError(thrown, `diagnosis of signal ${signal.id}`);
      metrics.diagnosisErrors.inc();
      await this.recordFailure(signal, attempts, error, signalLog);
    } finally {
      metrics.diagnosisQueue.set(this.inFlight);
    }
  }

  /**
   * A diagnosis that throws is retried with a growing delay (the lease is pushed out); once
   * attempts are exhausted the signal gets an `unknown` RCA that carries the error, so a
   * poison signal is neither lost nor retried forever.
   */
  private async recordFailure(signal: Signal, attempts: number, error: Error, signalLog: Logger): Promise<void> {
    const maxAttempts = this.options.maxAttempts ?? 5;
    try {
      if (attempts >= maxAttempts && signal.kind !== 'success') {
        signalLog.error({ err: error, attempts }, 'diagnosis keeps failing; recording an unknown RCA with the error');
        await recordDiagnosis(this.options.database, signal, {
          category: 'unknown',
          summary: `Diagnosis failed ${attempts} times: ${error.message}`,
          confidence: 0,
          assignee: { team: this.options.platformTeam, role: 'platform', reason: 'diagnosis itself failed; the platform team runs Medic' },
          incidentId: `unknown:${signal.table}`,
          manualSteps: `Medic could not diagnose this signal: \`${error.message.replace(/`/g, "'")}\`. Check the Medic logs for signal ${signal.id}.`,
          evidence: [{ analyser: 'diagnosis', version: '1', inputs: { signal_id: signal.id }, observations: { attempts }, findings: [], verdict: null, error: error.message, duration_ms: 0 }],
          details: {},
          inherited: false,
        }, null);
        return;
      }
      const delaySeconds = Math.min(300, 2 ** attempts);
      signalLog.warn({ err: error, attempts, retry_in_s: delaySeconds }, 'diagnosis failed; will retry');
      await this.options.database.db.execute(sql`
        UPDATE ${signals} SET last_error = ${error.message}, claimed_by = NULL, claimed_until = now() + make_interval(secs => ${delaySeconds})
        WHERE id = ${signal.id} AND diagnosed_at IS NULL`);
    } catch (thrown) {
      signalLog.error({ err: normaliseError(thrown, 'recording a diagnosis failure'), cause: error.message }, 'could not record the failure; the lease will expire and the signal be retried');
    }
  }
}

/** A signal from a raw `RETURNING` row (snake_case columns, timestamps as text). */
function claimedSignal(row: Record<string, unknown>): Signal {
  return {
    id: row.id as string,
    kind: row.kind as Signal['kind'],
    event: row.event as string | null,
    table: row.table_name as string,
    pipeline: row.pipeline as Signal['pipeline'],
    exception: row.exception as Signal['exception'],
    occurredAt: asDate(row.occurred_at),
    receivedAt: asDate(row.received_at),
    dedupeKey: row.dedupe_key as string,
    source: row.source as string,
    payload: row.payload as Record<string, unknown>,
  };
}

function asDate(value: unknown): Date {
  return value instanceof Date ? value : new Date(String(value));
}
