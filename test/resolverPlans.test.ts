import { describe, expect, it } from 'vitest';
import { backoffDelayMs, DEFAULT_BACKOFF } from '../src/resolvers/engine/backoff.ts';
import { planResolution } from '../src/resolvers/engine/planResolution.ts';
import retryWithBackoff from '../src/resolvers/retry-with-backoff.ts';
import waitForCondition from '../src/resolvers/wait-for-condition.ts';
import rerunPartition from '../src/resolvers/rerun-partition.ts';
import type { PlanInput, ResolverSettings } from '../src/resolvers/types.ts';
import type { Category } from '../src/diagnosers/taxonomy.ts';
import { CATEGORIES } from '../src/diagnosers/taxonomy.ts';
import type { Signal } from '../src/signals/types.ts';
import type { CatalogTable } from '../src/catalog/types.ts';

const settings: ResolverSettings = { maxAttempts: 5, checkIntervalMs: 300_000, waitUpToMs: 3_600_000, firstRetryInMs: 60_000, replicaLagThresholdS: 300 };
const signal = (over: Partial<Signal['pipeline']> = {}, event = 'failure'): Signal => ({
  id: 'sig', kind: 'failure', event, table: 'lake.orders', exception: null, dedupeKey: 'k', source: 'airflow', payload: { partition: 'dt=2026-11-27/hr=08' },
  occurredAt: new Date(), receivedAt: new Date(),
  pipeline: { airflow: 'main', dag_id: 'orders_hourly', task_id: 'load_orders', run_id: 'scheduled__2026-11-27T08:00:00+00:00', ...over },
});
const table: CatalogTable = {
  name: 'lake.orders', owner: 'orders-eng', pipeline: { airflow: 'main', dag_id: 'orders_hourly', task_ids: ['load_orders'] },
  upstream: ['lake.customers'], source: { kind: 'postgres', name: 'orders-db', owner: 'orders-dba', max_replica_lag_s: 900 },
};
const input = (category: Category, over: Partial<PlanInput> = {}): PlanInput & { inherited: boolean } =>
  ({ category, table: 'lake.orders', signal: signal(), catalogTable: table, details: {}, settings, inherited: false, ...over });

describe('backoff: min(cap, base·2^(n−1))·(1 − jitter·r)', () => {
  it.each([
    [1, 0, 60_000], [2, 0, 120_000], [3, 0, 240_000], [5, 0, 960_000], [6, 0, 1_800_000], [20, 0, 1_800_000],
    [1, 0.5, 54_000], [3, 0.999, 192_048],
  ])('attempt %i, r=%f → %i ms', (attempt, r, expected) => {
    expect(backoffDelayMs(attempt, DEFAULT_BACKOFF, () => r)).toBe(expected);
  });
});

describe('planResolution', () => {
  it.each<[Category, string | null]>([
    ['infra_transient', 'retry-with-backoff'],
    ['source_unavailable', 'retry-with-backoff'],
    ['source_replica_lag', 'wait-for-condition'],
    ['upstream_unhealthy', 'wait-for-condition'],
    ['upstream_late', 'wait-for-condition'],
    ['incomplete_load', 'rerun-partition'],
    ['code_error', null], ['source_auth_failure', null], ['source_schema_change', null], ['resource_exhausted', null], ['unknown', null],
    ['scheduler_backlog', null], ['runtime_regression', null], ['source_data_issue', null],
  ])('%s → %s', (category, resolver) => {
    expect(planResolution(input(category))?.resolver ?? null).toBe(resolver);
  });

  it('covers every category of the taxonomy in the table above', () => {
    expect(CATEGORIES.length).toBe(15);
  });

  it('retries a sink write only when it was throttled', () => {
    expect(planResolution(input('sink_write_failure', { details: { throttled: 'yes' } }))?.resolver).toBe('retry-with-backoff');
    expect(planResolution(input('sink_write_failure', { details: { throttled: 'no' } }))).toBeNull();
  });

  it('never plans for a retry callback or an inherited diagnosis', () => {
    expect(planResolution(input('infra_transient', { signal: signal({}, 'retry') }))).toBeNull();
    expect(planResolution({ ...input('infra_transient'), inherited: true })).toBeNull();
  });

  it('never plans the forbidden categories even if a resolver claims them', () => {
    const greedy = { ...retryWithBackoff, meta: { ...retryWithBackoff.meta, handles: [...CATEGORIES] } };
    for (const category of ['code_error', 'source_auth_failure', 'source_schema_change', 'resource_exhausted', 'unknown'] as const) {
      expect(planResolution(input(category), [greedy]), category).toBeNull();
    }
  });
});

describe('resolver plans', () => {
  it('retry-with-backoff clears only the failed task instances of the signal\'s run', () => {
    expect(retryWithBackoff.plan(input('infra_transient'))).toEqual({
      maxAttempts: 5, firstAttemptInMs: 60_000,
      params: { airflow: 'main', dag_id: 'orders_hourly', run_id: 'scheduled__2026-11-27T08:00:00+00:00', task_ids: ['load_orders'], only_failed: true },
    });
    expect(retryWithBackoff.plan(input('infra_transient', { signal: signal({ run_id: undefined }) }))).toBeNull();
  });

  it('wait-for-condition waits on the replica lag with the catalog threshold, every check interval, up to the wait limit', () => {
    expect(waitForCondition.plan(input('source_replica_lag'))).toMatchObject({
      firstAttemptInMs: 300_000, waitUpToMs: 3_600_000,
      params: { condition: { kind: 'replica_lag', source: 'orders-db', threshold_s: 900 }, check_every_ms: 300_000, dag_id: 'orders_hourly' },
    });
    expect(waitForCondition.plan(input('source_replica_lag', { catalogTable: { ...table, source: { kind: 'postgres', name: 'orders-db' } } }))?.params.condition).toMatchObject({ threshold_s: 300 });
  });

  it('wait-for-condition waits for every upstream table to be healthy', () => {
    expect(waitForCondition.plan(input('upstream_unhealthy'))?.params.condition).toEqual({ kind: 'upstreams_healthy', tables: ['lake.customers'] });
    expect(waitForCondition.plan(input('upstream_late', { catalogTable: { ...table, upstream: [] }, details: { upstream: 'lake.x' } }))?.params.condition).toEqual({ kind: 'upstreams_healthy', tables: ['lake.x'] });
    expect(waitForCondition.plan(input('upstream_late', { catalogTable: null }))).toBeNull();
  });

  it('rerun-partition re-runs the catalog pipeline\'s tasks, successful ones included', () => {
    expect(rerunPartition.plan(input('incomplete_load', { details: { partition: 'dt=2026-11-27/hr=08' } }))).toMatchObject({
      maxAttempts: 3, firstAttemptInMs: 0,
      params: { dag_id: 'orders_hourly', task_ids: ['load_orders'], partition: 'dt=2026-11-27/hr=08', only_failed: false, airflow: 'main' },
    });
  });
});
