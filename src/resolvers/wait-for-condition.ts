import type { Resolver } from './types.ts';
import { clearRun, pipelineParams } from './engine/airflowRetrigger.ts';

/**
 * wait-for-condition: some failures fix themselves once something else recovers — a source
 * replica catching up with its primary, an upstream table landing. Retrying before that only
 * fails again, so this resolver checks the condition every few minutes (reading, no side
 * effect) for up to an hour, and re-triggers the run once it holds (DESIGN 7).
 */
const waitForCondition: Resolver = {
  meta: {
    id: 'wait-for-condition',
    description: 'Wait until the replica lag is under its threshold, or every upstream table is healthy, then re-trigger the run',
    handles: ['source_replica_lag', 'upstream_unhealthy', 'upstream_late'],
  },

  plan({ category, signal, catalogTable, details, settings }) {
    const run = pipelineParams(signal, catalogTable);
    if (!run) return null;
    let condition: Record<string, unknown>;
    if (category === 'source_replica_lag') {
      const source = catalogTable?.source?.name ?? (typeof details.source === 'string' ? details.source : null);
      if (!source) return null;
      condition = { kind: 'replica_lag', source, threshold_s: catalogTable?.source?.max_replica_lag_s ?? settings.replicaLagThresholdS };
    } else {
      const tables = catalogTable?.upstream?.length ? catalogTable.upstream : typeof details.upstream === 'string' ? [details.upstream] : [];
      if (tables.length === 0) return null;
      condition = { kind: 'upstreams_healthy', tables };
    }
    return {
      maxAttempts: settings.maxAttempts,
      firstAttemptInMs: settings.checkIntervalMs,
      waitUpToMs: settings.waitUpToMs,
      params: { ...run, only_failed: true, condition, check_every_ms: settings.checkIntervalMs },
    };
  },

  async attempt(ctx) {
    const { params } = ctx.job;
    const condition = params.condition as { kind: string; source?: string; threshold_s?: number; tables?: string[] };
    const checkAgainInMs = Number(params.check_every_ms) || 300_000;
    if (condition.kind === 'replica_lag') {
      const lag = await ctx.replicaLagSeconds(condition.source!);
      if (lag === null) return { outcome: 'waiting', checkAgainInMs, detail: { source: condition.source, lag_s: null, note: 'lag unknown (source not configured or not a replica)' } };
      if (lag >= (condition.threshold_s ?? 0)) return { outcome: 'waiting', checkAgainInMs, detail: { source: condition.source, lag_s: lag, threshold_s: condition.threshold_s } };
    } else {
      const tables = condition.tables ?? [];
      const health = await ctx.history.health(tables);
      const notHealthy = tables.filter((t) => health.find((h) => h.table === t)?.status !== 'healthy');
      if (notHealthy.length > 0) return { outcome: 'waiting', checkAgainInMs, detail: { waiting_for: notHealthy } };
    }
    return clearRun(ctx, params);
  },
};

export default waitForCondition;
