import type { Signal } from '../../signals/types.ts';
import type { CatalogTable } from '../../catalog/types.ts';
import { normaliseError } from '../../errors.ts';
import type { AttemptResult, ResolverContext } from '../types.ts';

/** Which run to re-trigger: the signal's Airflow, DAG, run and task; null when the signal does not say. */
export function pipelineParams(signal: Signal, catalogTable: CatalogTable | null): Record<string, unknown> | null {
  const { dag_id: dagId, run_id: runId, task_id: taskId } = signal.pipeline;
  if (!dagId || !runId || !taskId) return null;
  return { airflow: signal.pipeline.airflow ?? catalogTable?.pipeline?.airflow ?? null, dag_id: dagId, run_id: runId, task_ids: [taskId] };
}

/**
 * Clears the task instances of one run (Airflow re-runs them): the shared re-trigger of every
 * resolver. The attempt is recorded (beginAction) before the call.
 */
export async function clearRun(ctx: ResolverContext, params: Record<string, unknown>): Promise<AttemptResult> {
  const name = typeof params.airflow === 'string' ? params.airflow : undefined;
  const client = ctx.airflow(name);
  if (!client) return { outcome: 'failed', error: `no Airflow instance ${name ?? '(unnamed)'} is configured: set AIRFLOW_${(name ?? 'MAIN').toUpperCase().replace(/[^A-Z0-9]/g, '_')}_URL and its credentials` };
  const dagId = String(params.dag_id);
  const runId = String(params.run_id);
  const taskIds = (params.task_ids as string[] | undefined) ?? [];
  const onlyFailed = params.only_failed !== false;
  await ctx.beginAction({ airflow: client.name, dag_id: dagId, run_id: runId, task_ids: taskIds, only_failed: onlyFailed });
  try {
    const result = await client.clearTaskInstances(dagId, runId, taskIds, { onlyFailed });
    ctx.log.info({ dag_id: dagId, run_id: runId, cleared: result.cleared }, 're-triggered the run in Airflow');
    return { outcome: 'retriggered', detail: { airflow: client.name, dag_id: dagId, run_id: runId, cleared: result.cleared } };
  } catch (error) {
    return { outcome: 'failed', error: normaliseError(error, 'clearing the task instances').message };
  }
}
