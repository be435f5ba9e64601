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
  if (onlyFailed) {
    const notReady = await tasksNotFailedYet(ctx, client, dagId, runId, taskIds);
    if (notReady) return notReady;
  }
  await ctx.beginAction({ airflow: client.name, dag_id: dagId, run_id: runId, task_ids: taskIds, only_failed: onlyFailed });
  try {
    const result = await client.clearTaskInstances(dagId, runId, taskIds, { onlyFailed });
    if (onlyFailed && result.cleared.length === 0) {
      // Never record a re-trigger that re-triggered nothing: the job would wait for a recovery that cannot come.
      return { outcome: 'failed', error: `Airflow cleared nothing for run ${runId} (no failed task instance among ${taskIds.join(', ') || 'the run'})`, detail: { cleared: [] } };
    }
    ctx.log.info({ dag_id: dagId, run_id: runId, cleared: result.cleared }, 're-triggered the run in Airflow');
    return { outcome: 'retriggered', detail: { airflow: client.name, dag_id: dagId, run_id: runId, cleared: result.cleared } };
  } catch (error) {
    return { outcome: 'failed', error: normaliseError(error, 'clearing the task instances').message };
  }
}

/** Task states after which nothing else will happen to a try without a clear. */
const FINAL_STATES = new Set(['failed', 'upstream_failed', 'success', 'skipped', 'removed']);
/** How long to wait for a task to reach a final state before clearing regardless. */
const SETTLE_LIMIT_MS = 10 * 60_000;
const SETTLE_RECHECK_MS = 5_000;

/**
 * Airflow 3 runs on_failure_callback (and emits OpenLineage FAIL) a few seconds before it
 * records the try as failed; a clear with only_failed in that window clears nothing. So the
 * resolver first reads the task instances and, while one is still running or queued, checks
 * again shortly — without spending an attempt. A task that already succeeded needs no clear:
 * its success signal will confirm the recovery.
 */
async function tasksNotFailedYet(ctx: ResolverContext, client: NonNullable<ReturnType<ResolverContext['airflow']>>, dagId: string, runId: string, taskIds: string[]): Promise<AttemptResult | null> {
  if (Date.now() - ctx.job.createdAt.getTime() > SETTLE_LIMIT_MS) return null;
  const states: Record<string, string | null> = {};
  for (const taskId of taskIds) {
    let instance;
    try {
      instance = await client.taskInstance(dagId, runId, taskId);
    } catch {
      return null; // cannot read it: let the clear itself decide
    }
    states[taskId] = instance?.state ?? null;
  }
  const unsettled = Object.entries(states).filter(([, state]) => state !== null && !FINAL_STATES.has(state));
  if (unsettled.length > 0) return { outcome: 'waiting', checkAgainInMs: SETTLE_RECHECK_MS, detail: { waiting_for_final_state: Object.fromEntries(unsettled) } };
  const succeeded = Object.values(states).length > 0 && Object.values(states).every((s) => s === 'success');
  if (succeeded) return { outcome: 'waiting', checkAgainInMs: SETTLE_RECHECK_MS * 6, detail: { note: 'the task already succeeded; waiting for its success signal', states } };
  return null;
}
