import { randomUUID } from 'node:crypto';
import { and, eq, inArray, sql } from 'drizzle-orm';
import type { Logger } from 'pino';
import type { Database, Tx } from '../../db/client.ts';
import { rcaRecords, resolutionAttempts, resolutionJobs } from '../../db/schema.ts';
import type { Metrics } from '../../metrics.ts';
import { normaliseError } from '../../errors.ts';
import { PollingLoop } from '../../pollingLoop.ts';
import type { Config } from '../../config.ts';
import { RESOLVERS } from '../index.ts';
import { backoffDelayMs } from './backoff.ts';
import type { AttemptResult, Resolver, ResolverContext } from '../types.ts';

type JobRow = typeof resolutionJobs.$inferSelect;

export interface ResolutionWorkerOptions {
  database: Database;
  log: Logger;
  metrics: Metrics;
  settings: Config['resolver'];
  clients: Pick<ResolverContext, 'airflow' | 'history' | 'replicaLagSeconds'>;
  registry?: readonly Resolver[];
}

class AlreadyAttempted extends Error {
  override name = 'AlreadyAttempted';
}

/**
 * Runs due resolution jobs (DESIGN 7), asynchronously to diagnosis. Jobs are claimed with
 * SKIP LOCKED and a lease, so with several replicas each job is in one process at a time; each
 * attempt is written (`resolution_attempts`, unique per job and number) before its Airflow call,
 * so an attempt is never made twice — not after a crash, not by a second replica.
 */
export class ResolutionWorker {
  readonly id = `resolve-${randomUUID().slice(0, 8)}`;
  private readonly loop: PollingLoop;
  private readonly registry: readonly Resolver[];

  constructor(private readonly options: ResolutionWorkerOptions) {
    this.registry = options.registry ?? RESOLVERS;
    this.loop = new PollingLoop({ name: 'resolution worker', pollMs: options.settings.pollMs, log: options.log, pass: () => this.pass() });
  }

  start(): void {
    this.loop.start();
  }

  stop(): Promise<void> {
    return this.loop.stop();
  }

  /** Runs one pass now (also what the timer calls); resolves when the claimed jobs are done. */
  tick(): Promise<void> {
    return this.loop.tick();
  }

  private async pass(): Promise<void> {
    for (;;) {
      const jobs = await this.claim(10);
      await Promise.all(jobs.map((job) => this.process(job.row, job.previousState)));
      if (jobs.length < 10 || !this.loop.running) return;
    }
  }

  private async claim(limit: number): Promise<Array<{ row: JobRow; previousState: string }>> {
    const { db } = this.options.database;
    const result = await db.execute<Record<string, unknown>>(sql`
      WITH due AS (
        SELECT id, state AS previous_state FROM ${resolutionJobs}
        WHERE (state IN ('scheduled', 'waiting_recovery') AND run_at <= now())
           OR (state = 'running' AND locked_until < now())
        ORDER BY run_at LIMIT ${limit} FOR UPDATE SKIP LOCKED)
      UPDATE ${resolutionJobs} j SET state = 'running', locked_by = ${this.id},
        locked_until = now() + make_interval(secs => ${this.options.settings.leaseSeconds}), updated_at = now()
      FROM due WHERE j.id = due.id
      RETURNING j.id, due.previous_state`);
    if (result.rows.length === 0) return [];
    const previous = new Map(result.rows.map((r) => [r.id as string, r.previous_state as string]));
    const rows = await db.select().from(resolutionJobs).where(inArray(resolutionJobs.id, [...previous.keys()]));
    return rows.map((row) => ({ row, previousState: previous.get(row.id)! }));
  }

  private async process(job: JobRow, previousState: string): Promise<void> {
    const log = this.options.log.child({ job_id: job.id, rca_id: job.rcaId, table: job.tableName, resolver: job.resolver });
    try {
      if (previousState === 'waiting_recovery') {
        await this.fail(job, `no success signal within ${Math.round(this.options.settings.recoveryTimeoutMs / 1000)} s of the re-trigger`, log);
        return;
      }
      if (previousState === 'running') {
        // The process that held it died. An attempt it had started may or may not have reached
        // Airflow: it is marked unknown and counted, never made again.
        const dangling = await this.options.database.db.update(resolutionAttempts)
          .set({ outcome: 'unknown', finishedAt: new Date(), error: 'the process died during this attempt' })
          .where(and(eq(resolutionAttempts.jobId, job.id), eq(resolutionAttempts.outcome, 'started'))).returning({ attempt: resolutionAttempts.attempt });
        if (dangling.length > 0) {
          await this.fail(job, 'the process died during the attempt; its outcome is unknown', log, true);
          return;
        }
      }
      if (job.deadline && job.deadline.getTime() <= Date.now()) {
        await this.exhaust(job, `the condition was not met by ${job.deadline.toISOString()}`, log);
        return;
      }
      const resolver = this.registry.find((r) => r.meta.id === job.resolver);
      if (!resolver) {
        await this.exhaust(job, `resolver ${job.resolver} is not registered in this version`, log);
        return;
      }
      await this.runAttempt(resolver, job, log);
    } catch (error) {
      const normalised = normaliseError(error, `resolution job ${job.id}`);
      if (error instanceof AlreadyAttempted) {
        log.warn({ err: normalised }, 'another process made this attempt; leaving the job to it');
        return;
      }
      log.error({ err: normalised }, 'resolution attempt failed unexpectedly');
      await this.fail(job, normalised.message, log).catch((e) => log.error({ err: normaliseError(e, 'recording the failure') }, 'could not record the failure; the lease will expire'));
    }
  }

  private async runAttempt(resolver: Resolver, job: JobRow, log: Logger): Promise<void> {
    const { db } = this.options.database;
    let attemptNumber: number | null = null;
    const ctx: ResolverContext = {
      ...this.options.clients,
      job: { id: job.id, rcaId: job.rcaId, table: job.tableName, attempts: job.attempts, maxAttempts: job.maxAttempts, params: job.params as Record<string, unknown>, createdAt: job.createdAt, deadline: job.deadline },
      log,
      abortSignal: this.loop.signal,
      beginAction: async (detail) => {
        attemptNumber = await this.recordStart(job, resolver.meta.id, detail);
      },
    };
    let result: AttemptResult;
    try {
      result = await resolver.attempt(ctx);
    } catch (error) {
      result = { outcome: 'failed', error: normaliseError(error, `resolver ${resolver.meta.id}`).message };
    }
    const now = new Date();
    this.options.metrics.resolverAttempts.inc({ resolver: resolver.meta.id, outcome: result.outcome });
    if (result.outcome === 'waiting') {
      await db.update(resolutionJobs).set({ state: 'scheduled', runAt: new Date(now.getTime() + result.checkAgainInMs), lockedBy: null, lockedUntil: null, updatedAt: now })
        .where(eq(resolutionJobs.id, job.id));
      log.info({ detail: result.detail }, 'condition not met yet; checking again later');
      return;
    }
    if (result.outcome === 'retriggered') {
      await db.transaction(async (tx) => {
        await finishAttempt(tx, job.id, attemptNumber, 'retriggered', result.detail, null);
        await tx.update(resolutionJobs).set({
          state: 'waiting_recovery', runAt: new Date(now.getTime() + this.options.settings.recoveryTimeoutMs),
          lastError: null, lockedBy: null, lockedUntil: null, updatedAt: now,
        }).where(eq(resolutionJobs.id, job.id));
      });
      log.info({ detail: result.detail, attempt: attemptNumber }, 're-triggered; waiting for the success signal');
      return;
    }
    await this.fail({ ...job, attempts: attemptNumber ?? job.attempts }, result.error, log, attemptNumber !== null, result.detail);
  }

  /** Writes the attempt before its side effect; the unique (job, attempt) makes a second writer fail. */
  private async recordStart(job: JobRow, resolver: string, detail: Record<string, unknown>): Promise<number> {
    const attempt = job.attempts + 1;
    try {
      await this.options.database.db.transaction(async (tx) => {
        await tx.insert(resolutionAttempts).values({ id: randomUUID(), jobId: job.id, rcaId: job.rcaId, resolver, attempt, outcome: 'started', detail, actor: 'medic' });
        const moved = await tx.update(resolutionJobs).set({ attempts: attempt, updatedAt: new Date() })
          .where(and(eq(resolutionJobs.id, job.id), eq(resolutionJobs.attempts, job.attempts), eq(resolutionJobs.lockedBy, this.id))).returning({ id: resolutionJobs.id });
        if (moved.length === 0) throw new AlreadyAttempted(`attempt ${attempt} of job ${job.id} is no longer ours`);
      });
    } catch (error) {
      if (error instanceof AlreadyAttempted) throw error;
      const code = (error as { code?: string; cause?: { code?: string } }).code ?? (error as { cause?: { code?: string } }).cause?.code;
      if (code === '23505') throw new AlreadyAttempted(`attempt ${attempt} of job ${job.id} was already made`);
      throw error;
    }
    return attempt;
  }

  /**
   * A failed attempt: retried after the backoff (src/resolvers/backoff.ts), or, once attempts are
   * exhausted, escalated. `counted` says whether the attempt row already exists; a failure before
   * the side effect (Airflow not configured) is recorded and counted here.
   */
  private async fail(job: JobRow, error: string, log: Logger, counted = false, detail?: Record<string, unknown>): Promise<void> {
    const now = new Date();
    let attempts = job.attempts;
    await this.options.database.db.transaction(async (tx) => {
      if (counted) {
        await finishAttempt(tx, job.id, attempts, 'failed', detail ?? null, error, true);
      } else {
        attempts += 1;
        await tx.insert(resolutionAttempts).values({ id: randomUUID(), jobId: job.id, rcaId: job.rcaId, resolver: job.resolver, attempt: attempts, outcome: 'failed', detail: detail ?? null, error, actor: 'medic', finishedAt: now }).onConflictDoNothing();
      }
      if (attempts >= job.maxAttempts) return;
      const delay = backoffDelayMs(attempts, this.options.settings.backoff);
      await tx.update(resolutionJobs).set({ state: 'scheduled', attempts, runAt: new Date(now.getTime() + delay), lastError: error, lockedBy: null, lockedUntil: null, updatedAt: now })
        .where(eq(resolutionJobs.id, job.id));
      log.warn({ attempt: attempts, max_attempts: job.maxAttempts, retry_in_ms: delay, error }, 'resolution attempt failed; retrying after backoff');
    });
    if (attempts >= job.maxAttempts) await this.exhaust({ ...job, attempts }, error, log);
  }

  /** Out of attempts (or time): the RCA is escalated to its assignee with the manual steps; the table stays unhealthy. */
  private async exhaust(job: JobRow, error: string, log: Logger): Promise<void> {
    const now = new Date();
    await this.options.database.db.transaction(async (tx) => {
      await tx.update(resolutionJobs).set({ state: 'exhausted', attempts: job.attempts, lastError: error, finishedAt: now, lockedBy: null, lockedUntil: null, updatedAt: now })
        .where(eq(resolutionJobs.id, job.id));
      await tx.update(rcaRecords).set({ status: 'escalated', updatedAt: now })
        .where(and(eq(rcaRecords.id, job.rcaId), inArray(rcaRecords.status, ['open', 'resolving'])));
    });
    this.options.metrics.resolverEscalations.inc({ resolver: job.resolver });
    log.warn({ attempts: job.attempts, error }, 'auto-resolution exhausted; RCA escalated to its assignee');
  }
}

async function finishAttempt(tx: Tx, jobId: string, attempt: number | null, outcome: string, detail: Record<string, unknown> | null, error: string | null, keepDetail = false): Promise<void> {
  if (attempt === null) return;
  await tx.update(resolutionAttempts).set({ outcome, error, finishedAt: new Date(), ...(keepDetail && !detail ? {} : { detail }) })
    // Only an attempt still marked started: an `unknown` set after a crash stays unknown.
    .where(and(eq(resolutionAttempts.jobId, jobId), eq(resolutionAttempts.attempt, attempt), eq(resolutionAttempts.outcome, 'started')));
}
