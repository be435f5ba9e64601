import { randomUUID } from 'node:crypto';
import PQueue from 'p-queue';
import { sql } from 'drizzle-orm';
import type { Logger } from 'pino';
import type { Database } from '../db/client.ts';
import { signals } from '../db/schema.ts';
import { applySuccess, recordDiagnosis, type WriteOutcome } from '../db/healthWriter.ts';
import { loadCatalogView } from '../catalog/catalogStore.ts';
import { rowToSignal } from '../signals/signalStore.ts';
import type { Signal } from '../signals/types.ts';
import { normaliseError } from '../errors.ts';
import type { Metrics } from '../metrics.ts';
import { buildDiagnosis } from './buildDiagnosis.ts';
import type { Analyser, SharedHelpers } from './types.ts';
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
}

/**
 * Takes persisted, undiagnosed signals and diagnoses them on a p-queue. Signals are claimed
 * with a lease (`claimed_until`) using SKIP LOCKED, so several processes share the work and a
 * crashed process's signals are taken over once its lease runs out; the `diagnosed_at IS NULL`
 * guard in the writing transaction makes the result exactly-once. The worker claims only as
 * many signals as the queue has room for: a surge waits in PostgreSQL, not in memory.
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

  constructor(private readonly options: DiagnosisWorkerOptions) {
    this.queue = new PQueue({ concurrency: options.concurrency });
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
      const room = capacity - this.inFlight;
      if (room <= 0) return;
      const batch = await this.claim(Math.min(room, 500));
      for (const row of batch) {
        this.active.add(row.signal.id);
        void this.queue.add(() => this.diagnose(row.signal, row.attempts).finally(() => this.active.delete(row.signal.id)));
      }
      this.options.metrics.diagnosisQueue.set(this.inFlight);
      if (batch.length < Math.min(room, 500)) return;
    }
  }

  private async claim(limit: number): Promise<Array<{ signal: Signal; attempts: number }>> {
    const { db } = this.options.database;
    const result = await db.execute<Record<string, unknown>>(sql`
      UPDATE ${signals} SET claimed_by = ${this.id},
        claimed_until = now() + make_interval(secs => ${this.options.leaseSeconds}),
        attempts = attempts + 1
      WHERE id IN (
        SELECT id FROM ${signals}
        WHERE diagnosed_at IS NULL AND (claimed_until IS NULL OR claimed_until < now()
          -- Our own claims that we no longer work on (their diagnosis failed while the
          -- database was down, so not even the release could be written): no need to wait out the lease.
          OR (claimed_by = ${this.id} AND NOT (id::text = ANY(string_to_array(${[...this.active].join(',')}, ',')))))
        ORDER BY received_at LIMIT ${limit}
        FOR UPDATE SKIP LOCKED)
      RETURNING id`);
    const ids = result.rows.map((r) => r.id as string);
    if (ids.length === 0) return [];
    const rows = await db.query.signals.findMany({ where: (s, { inArray }) => inArray(s.id, ids) });
    return rows.map((row) => ({ signal: rowToSignal(row), attempts: row.attempts }));
  }

  private async diagnose(signal: Signal, attempts: number): Promise<void> {
    const { database, log, metrics } = this.options;
    const started = performance.now();
    const signalLog = log.child({ signal_id: signal.id, table: signal.table, kind: signal.kind });
    try {
      let outcome: WriteOutcome;
      let category: string | null = null;
      if (signal.kind === 'success') {
        outcome = await applySuccess(database.db, signal);
      } else {
        const catalog = await loadCatalogView(database.db, signal.table, this.options.platformTeam);
        const diagnosis = await buildDiagnosis(signal, catalog, {
          timeoutMs: this.options.analyserTimeoutMs, log: signalLog, shutdown: this.shutdown.signal, registry: this.options.registry, shared: this.options.shared,
        });
        category = diagnosis.category;
        const resolution = planResolution({
          category: diagnosis.category, table: signal.table, signal, catalogTable: catalog.table,
          details: diagnosis.details, settings: this.options.resolverSettings, inherited: diagnosis.inherited,
        });
        outcome = await recordDiagnosis(database.db, signal, diagnosis, resolution);
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
        await recordDiagnosis(this.options.database.db, signal, {
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
