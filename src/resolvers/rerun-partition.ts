import type { Resolver } from './types.ts';
import { clearRun } from './engine/airflowRetrigger.ts';

const DAY_MS = 24 * 3_600_000;

/**
 * rerun-partition: the load "succeeded" but the lake has fewer rows than the source
 * (incomplete_load) — the partition is re-loaded by clearing the task instances of the run that
 * loaded it, successful ones included. The run is the table's newest successful load in the
 * last 2 days; the DQ event names a partition, not a run.
 */
const rerunPartition: Resolver = {
  meta: {
    id: 'rerun-partition',
    description: 'Re-run the load of an incomplete partition by clearing its (successful) run in Airflow',
    handles: ['incomplete_load'],
  },

  plan({ table, catalogTable, details, signal, settings }) {
    const dagId = catalogTable?.pipeline?.dag_id ?? signal.pipeline.dag_id;
    if (!dagId) return null;
    return {
      maxAttempts: Math.min(settings.maxAttempts, 3),
      firstAttemptInMs: 0,
      params: {
        table, airflow: catalogTable?.pipeline?.airflow ?? null, dag_id: dagId,
        task_ids: catalogTable?.pipeline?.task_ids ?? [], partition: details.partition ?? signal.payload.partition ?? null,
        only_failed: false,
      },
    };
  },

  async attempt(ctx) {
    const { params } = ctx.job;
    const loads = await ctx.history.forTable(ctx.job.table, { since: new Date(ctx.job.createdAt.getTime() - 2 * DAY_MS), kinds: ['success'], limit: 20 });
    const load = loads.find((s) => s.pipeline.dag_id === params.dag_id && s.pipeline.run_id);
    if (!load) return { outcome: 'failed', error: `no successful run of ${String(params.dag_id)} for ${ctx.job.table} in the last 2 days to re-run` };
    const taskIds = (params.task_ids as string[]).length > 0 ? params.task_ids : load.pipeline.task_id ? [load.pipeline.task_id] : [];
    return clearRun(ctx, { ...params, run_id: load.pipeline.run_id, task_ids: taskIds, airflow: params.airflow ?? load.pipeline.airflow ?? null });
  },
};

export default rerunPartition;
