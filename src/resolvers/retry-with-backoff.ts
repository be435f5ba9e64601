import type { Resolver } from './types.ts';
import { clearRun, pipelineParams } from './engine/airflowRetrigger.ts';

/**
 * retry-with-backoff: for failures a later try usually gets past — a source briefly down, a
 * lost worker, a throttled sink — clear the failed task instances of the run in Airflow, with
 * exponential backoff between attempts, until a success signal confirms recovery.
 * A sink write failure is retried only when it was throttling (503 SlowDown): access denied
 * will not fix itself.
 */
const retryWithBackoff: Resolver = {
  meta: {
    id: 'retry-with-backoff',
    description: 'Clear the failed task instances of the run through the Airflow REST API, with exponential backoff',
    handles: ['infra_transient', 'source_unavailable', 'sink_write_failure'],
  },

  plan({ category, details, signal, catalogTable, settings }) {
    if (category === 'sink_write_failure' && details.throttled !== 'yes') return null;
    const params = pipelineParams(signal, catalogTable);
    if (!params) return null;
    return { maxAttempts: settings.maxAttempts, firstAttemptInMs: settings.firstRetryInMs, params: { ...params, only_failed: true } };
  },

  attempt: (ctx) => clearRun(ctx, ctx.job.params),
};

export default retryWithBackoff;
