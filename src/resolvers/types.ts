import type { Logger } from 'pino';
import type { Category } from '../diagnosers/taxonomy.ts';
import type { AirflowClient } from '../clients/airflowClient.ts';
import type { SignalHistory } from '../diagnosers/types.ts';
import type { Signal } from '../signals/types.ts';
import type { CatalogTable } from '../catalog/types.ts';

/** What a resolver sees of a fresh diagnosis when it plans. */
export interface PlanInput {
  category: Category;
  table: string;
  signal: Signal;
  catalogTable: CatalogTable | null;
  /** The deciding verdict's details (e.g. throttled, upstream, source, lag_s). */
  details: Record<string, string | number>;
  settings: ResolverSettings;
}

/** Timings from config, so tests and operators can tune them without touching resolvers. */
export interface ResolverSettings {
  maxAttempts: number;
  /** How often a wait-for-condition job re-checks its condition (DESIGN 7: every 5 min). */
  checkIntervalMs: number;
  /** How long a wait-for-condition job waits before escalating (DESIGN 7: up to 1 h). */
  waitUpToMs: number;
  /** Delay of the first attempt of a retry, the backoff's first step. */
  firstRetryInMs: number;
  /** Replica lag threshold when the catalog source sets none. */
  replicaLagThresholdS: number;
}

/** A resolver's plan, stored on the job and summarised on the RCA (`auto_resolution`). */
export interface ResolutionPlan {
  maxAttempts: number;
  /** Delay before the first attempt. */
  firstAttemptInMs: number;
  /** For wait-for-condition: how long to keep checking before escalating. */
  waitUpToMs?: number;
  /** What the attempt needs, persisted as JSON. */
  params: Record<string, unknown>;
}

/** What `attempt()` may use; clients are passed in, never globals (DESIGN 10.4). */
export interface ResolverContext {
  job: { id: string; rcaId: string; table: string; attempts: number; maxAttempts: number; params: Record<string, unknown>; createdAt: Date; deadline: Date | null };
  log: Logger;
  abortSignal: AbortSignal;
  airflow(name: string | undefined): AirflowClient | null;
  history: SignalHistory;
  /** Replica lag of a catalog source in seconds (null: not a replica / not configured). */
  replicaLagSeconds(sourceName: string): Promise<number | null>;
  /**
   * Must be called right before the side effect (the Airflow call). It records the attempt
   * durably first, so that a crash during the call never leads to the attempt being made twice;
   * it throws if another process already made this attempt.
   */
  beginAction(detail: Record<string, unknown>): Promise<void>;
}

/**
 * The outcome of one attempt:
 *  - `retriggered`: the run was cleared in Airflow; the job now waits for the success signal;
 *  - `waiting`: the condition to re-trigger is not met yet; check again in `checkAgainInMs`
 *    (not counted as an attempt);
 *  - `failed`: the attempt did not work (Airflow down, refused); retried with backoff.
 */
export type AttemptResult =
  | { outcome: 'retriggered'; detail: Record<string, unknown> }
  | { outcome: 'waiting'; checkAgainInMs: number; detail: Record<string, unknown> }
  | { outcome: 'failed'; error: string; detail?: Record<string, unknown> };

/** One resolver: one file, one export (DESIGN 7, 10.1). */
export interface Resolver {
  meta: { id: string; description: string; handles: Category[] };
  /** A plan for this diagnosis, or null when this resolver will not act on it. */
  plan(input: PlanInput): ResolutionPlan | null;
  attempt(ctx: ResolverContext): Promise<AttemptResult>;
}

/** Categories a wrong automatic action would make worse (DESIGN 5): never planned, whatever a resolver claims. */
export const NEVER_AUTOMATIC: readonly Category[] = ['code_error', 'source_auth_failure', 'source_schema_change', 'resource_exhausted', 'unknown'];
