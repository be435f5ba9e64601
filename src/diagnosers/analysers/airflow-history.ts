import type { Analyser, AnalyserContext, AnalyserResult, EvidenceEntry, Finding, Verdict } from '../types.ts';
import type { Category } from '../taxonomy.ts';
import { airflowUrlVariable, cachedAirflow, type DagRun, type TaskInstance } from '../../clients/airflowClient.ts';
import { untilAborted } from '../../clients/lookupCache.ts';

/**
 * airflow-history: what Airflow itself knows about the failing task (DESIGN 5) — its tries in
 * this run, its duration and queue time against its own history, the state of its upstream
 * tasks in this run, and how the DAG's recent runs ended. Every look-up goes through the shared
 * LookupCache (keys `airflow:<name>:<what>:…`, see cachedAirflow), so 300 failures of one DAG
 * ask Airflow once per distinct question.
 *
 * These are facts from the system that ran the task, so a verdict built on them reaches the
 * chain's CONFIDENT threshold (0.95), except where noted. Verdicts, in precedence order:
 *
 *  1. runtime_regression 0.95 — this try ran more than 3× the median duration of the task's
 *     earlier successes (at least 5 of them) and failed with a timeout-like exception: the job
 *     got slower until it hit its limit. When an earlier analyser is ≥ 0.8 sure of another
 *     cause, only a finding is recorded, unless the exception is Airflow's own task timeout
 *     (the task was killed for running too long, whatever else went on).
 *  2. scheduler_backlog 0.95 — this try waited in the queue (queued_when → start_date) more
 *     than 3× the median queue time of the task's earlier instances (at least 3) and more than
 *     5 min. A long queue is a fact, but it rarely makes a task fail by itself: when an earlier
 *     analyser is ≥ 0.8 sure of another cause, only a finding is recorded.
 *  3. infra_transient 0.95, "confirmed by Airflow" — only when the earlier best verdict already
 *     is infra_transient: the tries of this run failed on two or more hosts and the previous 3
 *     runs of the task succeeded (the code and the data are fine; the platform was not).
 *     Without that earlier verdict the pattern is a finding.
 *  4. upstream_unhealthy 0.7 — an upstream task in this run is failed or upstream_failed, and
 *     no earlier analyser reached a verdict. The assignee is the owner of the catalog upstream
 *     table that task loads, else the pipeline owner (same DAG). Always also a finding.
 *
 * A finding only, never a verdict: "failing since <date>" when the task failed in each of its
 * last 5+ runs (a persistent failure, typically a code_error or a schema change, not noise).
 *
 * Not configured ⇒ a finding naming AIRFLOW_<NAME>_URL and no verdict. An Airflow error is
 * thrown (labelled by the client: `airflow <name>: GET /path → 503 …`); the runner records it
 * as this analyser's evidence and the chain goes on.
 */

/** Multiple of the median that counts as "far longer than usual". */
const FACTOR = 3;
/** Earlier successes needed before a duration is judged. */
const MIN_SUCCESSES = 5;
/** Earlier queue times needed before a queue time is judged. */
const MIN_QUEUE_HISTORY = 3;
/** A queue shorter than this is never a backlog, whatever the median. */
const MIN_BACKLOG_S = 300;
/** Earlier runs that must have succeeded for the transient pattern. */
const PREVIOUS_OK_RUNS = 3;
/** Consecutive failed runs that make a "failing since". */
const STREAK = 5;
/** Earlier verdicts at or above this are "something stronger" for the gated rules. */
const STRONG_EARLIER = 0.8;

const FAILED_STATES = new Set(['failed', 'upstream_failed']);
const TRY_FAILED_STATES = new Set(['failed', 'up_for_retry']);
const TIMEOUT_LIKE = /timeout|timed out|time out|deadline exceeded|execution_timeout/i;
const AIRFLOW_TASK_TIMEOUT = /AirflowTaskTimeout/;

const messages: Record<string, string> = {
  runtimeRegression: 'Airflow shows try {try_number} of {task_id} ran {duration_s} s, more than {factor}× its median of {median_s} s over {successes} earlier successes, and it failed with a timeout ({exception_type}).',
  schedulerBacklog: 'Airflow shows try {try_number} of {task_id} waited {queued_s} s in the queue before starting, more than {factor}× its usual {median_queued_s} s: the scheduler or executor was backed up.',
  infraConfirmed: 'Confirmed by Airflow: {task_id} failed {failed_tries} tries on {hosts} different hosts ({hostnames}) while its previous {ok_runs} runs succeeded — a platform problem, not the pipeline.',
  upstreamTaskFailed: 'The upstream task {upstream_task} of {task_id} is {upstream_state} in this run.',
  // findings
  notConfigured: 'Airflow instance {name} is not configured: set {env} (and its _USERNAME/_PASSWORD) to let Medic ask it.',
  missingIds: 'The signal names no {missing}: Airflow cannot be asked about this task instance.',
  taskUnknown: 'Airflow does not know task instance {dag_id}.{task_id} of run {run_id}.',
  longRun: 'Try {try_number} ran {duration_s} s, more than {factor}× its median of {median_s} s over {successes} earlier successes.',
  longQueue: 'Try {try_number} waited {queued_s} s in the queue, more than {factor}× its usual {median_queued_s} s; not blamed, since {earlier_analyser} found {earlier_category} ({earlier_confidence}).',
  transientPattern: 'The tries of this run failed on {hosts} different hosts ({hostnames}) while the previous {ok_runs} runs succeeded: the pattern of a transient infrastructure problem.',
  failingSince: '{task_id} has failed in each of its last {streak} runs, since {since}: a persistent failure, not noise.',
};

function median(values: number[]): number | null {
  if (values.length === 0) return null;
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

function round1(n: number): number {
  return Math.round(n * 10) / 10;
}

/** Seconds between queued_when and start_date; null when either is missing or negative. */
function queuedS(ti: TaskInstance): number | null {
  if (!ti.queuedAt || !ti.startDate) return null;
  const s = (ti.startDate.getTime() - ti.queuedAt.getTime()) / 1000;
  return s >= 0 ? s : null;
}

function durationS(ti: TaskInstance): number | null {
  if (ti.durationS !== null) return ti.durationS;
  if (ti.startDate && ti.endDate) return (ti.endDate.getTime() - ti.startDate.getTime()) / 1000;
  return null;
}

/** The earlier analyser verdict with the highest confidence, or null. */
function bestEarlier(earlier: readonly EvidenceEntry[]): { analyser: string; category: Category; confidence: number } | null {
  let best: { analyser: string; category: Category; confidence: number } | null = null;
  for (const e of earlier) {
    if (e.verdict && (!best || e.verdict.confidence > best.confidence)) best = { analyser: e.analyser, category: e.verdict.category, confidence: e.verdict.confidence };
  }
  return best;
}

function iso(d: Date | null): string | null {
  return d ? d.toISOString() : null;
}

const airflowHistory: Analyser = {
  meta: {
    id: 'airflow-history',
    version: '1',
    description:
      "Asks Airflow's REST API about the failing task: its tries in this run, duration and queue time against its history, upstream task states, the DAG's recent outcomes.",
    appliesTo: ['failure'],
    messages,
  },

  async analyse(ctx: AnalyserContext): Promise<AnalyserResult> {
    const { signal, catalog, helpers } = ctx;
    const findings: Finding[] = [];
    const observations: Record<string, unknown> = {};
    const result = (verdict: Verdict | null): AnalyserResult => ({ observations, findings, verdict });

    const name = signal.pipeline.airflow ?? catalog.table?.pipeline?.airflow;
    const client = helpers.airflow(name);
    observations['airflow'] = client?.name ?? name ?? null;
    if (!client) {
      findings.push({ messageId: 'notConfigured', data: { name: name ?? '(unnamed)', env: airflowUrlVariable(name) } });
      return result(null);
    }

    const dagId = signal.pipeline.dag_id ?? catalog.table?.pipeline?.dag_id;
    const runId = signal.pipeline.run_id;
    const catalogTasks = catalog.table?.pipeline?.task_ids ?? [];
    const taskId = signal.pipeline.task_id ?? (catalogTasks.length === 1 ? catalogTasks[0] : undefined);
    const mapIndex = signal.pipeline.map_index ?? -1;
    observations['task'] = { dag_id: dagId ?? null, run_id: runId ?? null, task_id: taskId ?? null, map_index: mapIndex };
    const missing = [!dagId && 'dag_id', !runId && 'run_id', !taskId && 'task_id'].filter((m): m is string => typeof m === 'string');
    if (!dagId || !runId || !taskId) {
      findings.push({ messageId: 'missingIds', data: { missing: missing.join(', ') } });
      return result(null);
    }

    const airflow = cachedAirflow(client, helpers.cache, helpers.settings.lookupTtlMs);
    const wait = <T>(p: Promise<T>) => untilAborted(p, helpers.abortSignal);
    const [ti, tries, taskHistory, runs, runTis, upstreamIds] = await Promise.all([
      wait(airflow.taskInstance(dagId, runId, taskId, mapIndex)),
      wait(airflow.taskTries(dagId, runId, taskId, mapIndex)),
      wait(airflow.taskHistory(dagId, taskId)),
      wait(airflow.recentRuns(dagId)),
      wait(airflow.runTaskInstances(dagId, runId)),
      wait(airflow.upstreamTaskIds(dagId, taskId)),
    ]);
    observations['asked'] = [
      `task instance ${dagId}.${taskId} of ${runId}`,
      `tries (${tries.length})`,
      `task history (${taskHistory.length} instances)`,
      `recent DAG runs (${runs.length})`,
      `task instances of this run (${runTis.length})`,
      `upstream task ids (${upstreamIds.length})`,
    ];

    if (!ti && tries.length === 0) {
      findings.push({ messageId: 'taskUnknown', data: { dag_id: dagId, task_id: taskId, run_id: runId } });
      return result(null);
    }

    // The try that failed: the one the signal names, else the newest failed one, else the current.
    const allTries = tries.length > 0 ? tries : ti ? [ti] : [];
    const signalTry = signal.pipeline.try_number;
    const thisTry =
      (signalTry !== undefined ? allTries.find((t) => t.tryNumber === signalTry) : undefined) ??
      [...allTries].reverse().find((t) => t.state !== null && TRY_FAILED_STATES.has(t.state)) ??
      allTries[allTries.length - 1] ??
      ti!;
    const failedTries = allTries.filter((t) => t.state !== null && TRY_FAILED_STATES.has(t.state));
    if (!failedTries.includes(thisTry)) failedTries.push(thisTry);
    const hostnames = [...new Set(failedTries.map((t) => t.hostname).filter((h): h is string => h !== null))].sort();
    const thisDuration = durationS(thisTry);
    const thisQueued = queuedS(thisTry);
    observations['this_try'] = {
      try_number: thisTry.tryNumber,
      state: thisTry.state,
      hostname: thisTry.hostname,
      queued_at: iso(thisTry.queuedAt),
      start_date: iso(thisTry.startDate),
      end_date: iso(thisTry.endDate),
      queued_s: thisQueued === null ? null : round1(thisQueued),
      duration_s: thisDuration === null ? null : round1(thisDuration),
    };
    observations['tries'] = { count: allTries.length, failed: failedTries.length, hostnames, current_state: ti?.state ?? null, max_tries: ti?.maxTries ?? thisTry.maxTries };

    // The task's earlier instances, in other runs (newest first).
    const earlierTis = taskHistory.filter((t) => t.runId !== runId);
    const successes = earlierTis.filter((t) => t.state === 'success');
    const successDurations = successes.map(durationS).filter((d): d is number => d !== null);
    const queueTimes = earlierTis.map(queuedS).filter((q): q is number => q !== null);
    const medianDuration = median(successDurations);
    const medianQueued = median(queueTimes);
    observations['history'] = {
      instances: earlierTis.length,
      successes: successes.length,
      failed: earlierTis.filter((t) => t.state === 'failed').length,
      median_duration_s: medianDuration === null ? null : round1(medianDuration),
      median_queued_s: medianQueued === null ? null : round1(medianQueued),
      durations: successDurations.length,
      queue_times: queueTimes.length,
    };
    const otherRuns = runs.filter((r: DagRun) => r.runId !== runId);
    observations['recent_runs'] = {
      count: otherRuns.length,
      states: otherRuns.reduce<Record<string, number>>((acc, r) => ({ ...acc, [r.state ?? 'none']: (acc[r.state ?? 'none'] ?? 0) + 1 }), {}),
      last: otherRuns[0] ? { run_id: otherRuns[0].runId, state: otherRuns[0].state } : null,
    };

    const earlier = bestEarlier(ctx.earlier);
    observations['earlier_verdict'] = earlier;
    const strongOther = (category: Category) => earlier !== null && earlier.confidence >= STRONG_EARLIER && earlier.category !== category;
    const exceptionText = signal.exception ? `${signal.exception.type}: ${signal.exception.message}` : '';
    const base = { task_id: taskId, try_number: thisTry.tryNumber };
    const verdicts: Verdict[] = [];

    // 1. Ran far longer than its history, and the exception says it ran out of time.
    if (thisDuration !== null && medianDuration !== null && successDurations.length >= MIN_SUCCESSES && thisDuration > FACTOR * medianDuration) {
      const data = { ...base, duration_s: round1(thisDuration), median_s: round1(medianDuration), successes: successDurations.length, factor: FACTOR };
      observations['long_run'] = true;
      const killedForTime = AIRFLOW_TASK_TIMEOUT.test(exceptionText);
      if (TIMEOUT_LIKE.test(exceptionText) && (killedForTime || !strongOther('runtime_regression'))) {
        verdicts.push({
          category: 'runtime_regression',
          confidence: 0.95,
          summary: { messageId: 'runtimeRegression', data: { ...data, exception_type: signal.exception?.type ?? 'timeout' } },
          details: { ...data, dag_id: dagId, run_id: runId },
        });
      } else {
        findings.push({ messageId: 'longRun', data });
      }
    }

    // 2. Waited in the queue far longer than usual.
    if (thisQueued !== null && medianQueued !== null && queueTimes.length >= MIN_QUEUE_HISTORY && thisQueued > FACTOR * medianQueued && thisQueued > MIN_BACKLOG_S) {
      const data = { ...base, queued_s: round1(thisQueued), median_queued_s: round1(medianQueued), factor: FACTOR };
      observations['long_queue'] = true;
      if (earlier && strongOther('scheduler_backlog')) {
        findings.push({ messageId: 'longQueue', data: { ...data, earlier_analyser: earlier.analyser, earlier_category: earlier.category, earlier_confidence: earlier.confidence } });
      } else {
        verdicts.push({
          category: 'scheduler_backlog',
          confidence: 0.95,
          summary: { messageId: 'schedulerBacklog', data },
          details: { ...data, dag_id: dagId, run_id: runId, ...(thisTry.pool ? { pool: thisTry.pool } : {}) },
        });
      }
    }

    // 3. Failed on several hosts while the previous runs were fine: the platform, not the job.
    const previous = earlierTis.filter((t) => t.state !== null && ['success', 'failed', 'upstream_failed'].includes(t.state)).slice(0, PREVIOUS_OK_RUNS);
    const previousOk = previous.length === PREVIOUS_OK_RUNS && previous.every((t) => t.state === 'success');
    if (failedTries.length >= 2 && hostnames.length >= 2 && previousOk) {
      const data = { ...base, failed_tries: failedTries.length, hosts: hostnames.length, hostnames: hostnames.join(', '), ok_runs: PREVIOUS_OK_RUNS };
      findings.push({ messageId: 'transientPattern', data });
      observations['transient_pattern'] = true;
      if (earlier?.category === 'infra_transient') {
        verdicts.push({ category: 'infra_transient', confidence: 0.95, summary: { messageId: 'infraConfirmed', data }, details: { ...data, dag_id: dagId, run_id: runId } });
      }
    }

    // 4. An upstream task of this run failed.
    const upstreamSet = new Set(upstreamIds);
    const failedUpstream = runTis
      .filter((t) => upstreamSet.has(t.taskId) && t.state !== null && FAILED_STATES.has(t.state))
      .sort((a, b) => (a.taskId < b.taskId ? -1 : a.taskId > b.taskId ? 1 : a.mapIndex - b.mapIndex));
    observations['upstream_tasks'] = {
      ids: upstreamIds,
      states: Object.fromEntries(runTis.filter((t) => upstreamSet.has(t.taskId)).map((t) => [t.mapIndex >= 0 ? `${t.taskId}[${t.mapIndex}]` : t.taskId, t.state])),
    };
    const firstFailedUpstream = failedUpstream[0];
    if (firstFailedUpstream) {
      const data = { task_id: taskId, upstream_task: firstFailedUpstream.taskId, upstream_state: firstFailedUpstream.state ?? 'failed' };
      findings.push({ messageId: 'upstreamTaskFailed', data });
      if (earlier === null) {
        // The table that upstream task loads, when the catalog says so; else it is the same DAG's owner.
        const table = catalog.upstream.find((u) => u.pipeline?.dag_id === dagId && (u.pipeline.task_ids ?? []).includes(firstFailedUpstream.taskId));
        verdicts.push({
          category: 'upstream_unhealthy',
          confidence: 0.7,
          assigneeRole: table ? 'upstream_owner' : 'pipeline_owner',
          summary: { messageId: 'upstreamTaskFailed', data },
          details: { ...data, dag_id: dagId, run_id: runId, ...(table ? { upstream: table.name } : {}) },
        });
      }
    }

    // Finding only: the task failed in each of its last STREAK+ runs (this one included).
    // Instances still queued or running in newer runs neither extend nor break the streak.
    const streakRuns: TaskInstance[] = [];
    for (const t of taskHistory) {
      if (t.state === 'failed' || (t.runId === runId && t.state !== 'success')) streakRuns.push(t);
      else if (t.state === 'success' || t.state === 'upstream_failed' || t.state === 'skipped') break;
    }
    observations['failing_streak'] = streakRuns.length;
    if (streakRuns.length >= STREAK) {
      const oldest = streakRuns[streakRuns.length - 1]!;
      const since = oldest.startDate ?? oldest.runAfter;
      findings.push({ messageId: 'failingSince', data: { task_id: taskId, streak: streakRuns.length, since: since ? since.toISOString() : 'unknown' } });
    }

    observations['rule'] = verdicts[0] ? verdicts[0].category : null;
    return result(verdicts[0] ?? null);
  },
};

export default airflowHistory;
