import type { Analyser, AnalyserContext, AnalyserResult, Finding, HistoricSignal, Verdict } from '../types.ts';
import { checkUpstreams, lookbackMs } from '../upstreamLateness.ts';
import { inheritedVerdict } from '../inheritDiagnosis.ts';
import { airflowUrlVariable, cachedAirflow, type DagRun, type TaskInstance } from '../../clients/airflowClient.ts';
import { untilAborted } from '../../clients/lookupCache.ts';

/**
 * sla-timeline: why a table missed its deadline (DESIGN 5), from the catalog, the signals Medic
 * already holds and — when the table's Airflow instance is configured — Airflow's own view of
 * the run (version 2). Without an Airflow client the analyser behaves exactly as version 1.
 *
 * The window looked at runs from `expected_by − lookback` (see {@link lookbackMs}: twice the SLA's
 * allowed run time, at least 6 h, 24 h without an SLA) to `detected_at`. The rules are tried in
 * order and the first that concludes wins; the order is the precedence:
 *
 *  a. the run already failed → the failure's own diagnosis: the lateness has the failure's cause,
 *     and one incident with one assignee is better than a second, vaguer one;
 *  A. Airflow's view of the run (the event's dag_id/run_id, else the DAG's newest run), facts
 *     from the system that runs it, so 0.95 unless noted:
 *     A1. still queued → scheduler_backlog 0.95;
 *     A2. a sensor of the run is waiting (a running/deferred task whose operator ends in
 *         `Sensor`, or any task in up_for_reschedule) → upstream_late 0.9, upstream owner
 *         (details.upstream when the sensor's external_dag_id is a catalog upstream's DAG);
 *         0.9, not 0.95: the sensor shows what the run waits for, not why that is late;
 *     A3. queued (queued_at → start_date) more than 3× the median of earlier runs and more than
 *         5 min → scheduler_backlog 0.95;
 *     A4. running (or ran) more than twice the median duration of earlier successful runs
 *         (at least 3) → runtime_regression 0.95;
 *     Airflow reporting the run failed with no failure signal gives a finding and no verdict
 *     (the failure's diagnosis is the answer, and it is not there yet); a run Airflow shows as
 *     started rules out d.
 *  b. an upstream is failing or late → the upstream (a run waiting on a sensor cannot finish);
 *  c. the run succeeded after the deadline → ran too long (runtime regression) or started late
 *     (scheduler backlog), told apart by the run's duration against its history;
 *  d. no run reported at all → never started or still queued (scheduler backlog).
 *
 * Nothing else concludes: a window with runs of other DAG runs but none of this one after the
 * deadline is left to later analysers (and to `unknown`).
 */

const HOUR_MS = 3_600_000;
/** Durations of earlier successes are compared over this period... */
const HISTORY_MS = 14 * 24 * HOUR_MS;
/** ...and need at least this many of them to call a run "far longer than usual". */
const MIN_HISTORY = 3;
/** A run longer than this multiple of the median is a regression, not noise. */
const REGRESSION_FACTOR = 2;
/** Enough for an hourly table with a few tasks over 24 h, and for 14 days of successes. */
const QUERY_LIMIT = 1000;

const messages: Record<string, string> = {
  runFailed: 'The run failed before its deadline: {category} — {summary}',
  upstreamUnhealthy: 'The upstream {upstream} is failing, so {table} could not be ready by {expected_by}.',
  upstreamLate: 'The upstream {upstream} has not landed (last success: {last_success}), so {table} could not be ready by {expected_by}.',
  runtimeRegression: 'The run finished at {finished_at}, after its deadline {expected_by}: it took {duration_s} s, more than twice its median of {median_s} s.',
  startedLate: 'The run finished at {finished_at}, after its deadline {expected_by}, in its usual time ({duration_s} s, median {median_s} s): it started late.',
  startedLateUnsure: 'The run finished at {finished_at}, after its deadline {expected_by}; there is too little history to judge its duration, so it most likely started late.',
  runMissing: 'No run of {dag_id} reported since {since}: never started or still queued.',
  airflowStillQueued: 'Airflow shows run {run_id} of {dag_id} still queued at {detected_at} (queued since {queued_at}), past its deadline {expected_by}: the scheduler has not started it.',
  airflowQueuedLong: 'Airflow shows run {run_id} of {dag_id} waited {queued_s} s in the queue before starting, more than {factor}× its usual {median_queued_s} s.',
  airflowSensorWaiting: 'Airflow shows run {run_id} of {dag_id} waiting on the sensor {sensor_task} ({operator}) for {upstream}, so {table} could not be ready by {expected_by}.',
  airflowRunningLong: 'Airflow shows run {run_id} of {dag_id} {state_text} {elapsed_s} s, more than twice its median of {median_s} s over {history} earlier successful runs.',
  // findings
  noDeadline: 'The SLA miss has no valid expected_by; the detection time {detected_at} is used as the deadline.',
  noSla: '{table} has no SLA in the catalog: looked back 24 h.',
  failureUndiagnosed: 'The run already failed (signal {failure_signal}, {event}) but that failure has no RCA yet; leaving the SLA miss to later analysers.',
  failureInherited: 'The run already failed (signal {failure_signal}, {event}); its RCA {rca_id} ({category}, {status}) is taken over.',
  upstreamFound: 'Upstream {upstream} is {reason} (last success: {last_success}).',
  lateSuccess: 'Success signal {success_signal} arrived at {finished_at}, {late_by_min} min after the deadline.',
  tooLittleHistory: 'Only {count} earlier successes with a duration in 14 days (need {needed}): the run\'s duration cannot be judged.',
  runSignalsElsewhere: '{count} run signal(s) in the window, none of them a failure of this run or a success after the deadline.',
  airflowNotConfigured: 'Airflow instance {name} is not configured ({env}): the run\'s queue and run times could not be asked.',
  airflowRunNotFound: 'Airflow does not list run {run_id} among the {count} newest runs of {dag_id}.',
  airflowNoRuns: 'Airflow lists no run of {dag_id} due before {expected_by} among its {count} newest runs.',
  airflowRunFailed: 'Airflow shows run {run_id} failed, but Medic has no failure signal for it yet; leaving the SLA miss to later analysers.',
  airflowError: 'Airflow could not be asked about the run: {error}',
  airflowRunState: 'Airflow shows run {run_id} {state} (started {start_date}); it is not queued, waiting on a sensor, nor running far longer than usual.',
};

/** Only the run itself, or a signal that names no run (it could be this one); never another run. */
function matchesRun(s: HistoricSignal, runId: string | undefined): boolean {
  return runId === undefined || s.pipeline.run_id === undefined || s.pipeline.run_id === runId;
}

/** Airflow's `retry` is an attempt that will be tried again; `failure` (or an event-less failure) is final. */
function isRetry(s: HistoricSignal): boolean {
  return s.event === 'retry';
}

/**
 * Orders candidate failures: this very run first (not merely a run-less signal), then an RCA
 * that is still open (a resolved one was about an earlier problem), then a final failure over a
 * retry, then the newest.
 */
function failurePreference(runId: string | undefined) {
  const key = (s: HistoricSignal): number[] => [
    runId !== undefined && s.pipeline.run_id === runId ? 0 : 1,
    s.rca?.status === 'resolved' ? 1 : 0,
    isRetry(s) ? 1 : 0,
    -s.occurredAt.getTime(),
  ];
  return (a: HistoricSignal, b: HistoricSignal): number => {
    const ka = key(a);
    const kb = key(b);
    for (let i = 0; i < ka.length; i++) if (ka[i] !== kb[i]) return (ka[i] ?? 0) - (kb[i] ?? 0);
    return 0;
  };
}

function parseDate(value: unknown): Date | null {
  if (typeof value !== 'string' && !(value instanceof Date)) return null;
  const d = new Date(value);
  return Number.isNaN(d.getTime()) ? null : d;
}

/** payload.duration_s, else end_date − start_date; null when neither is usable. */
function runDurationS(payload: Record<string, unknown>): number | null {
  const d = payload['duration_s'];
  if (typeof d === 'number' && Number.isFinite(d) && d >= 0) return d;
  const start = parseDate(payload['start_date']);
  const end = parseDate(payload['end_date']);
  if (start && end && end >= start) return (end.getTime() - start.getTime()) / 1000;
  return null;
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? (sorted[mid] ?? 0) : ((sorted[mid - 1] ?? 0) + (sorted[mid] ?? 0)) / 2;
}

function round1(n: number): number {
  return Math.round(n * 10) / 10;
}

function stringOr(value: unknown): string | undefined {
  return typeof value === 'string' && value !== '' ? value : undefined;
}

/** Multiple of the median queue time that counts as a backlog (and never under 5 min). */
const QUEUE_FACTOR = 3;
const MIN_BACKLOG_S = 300;

interface AirflowOutcome {
  verdict: Verdict | null;
  /** Airflow settled it without a verdict (the run failed): the history rules must not guess. */
  stop: boolean;
  /** Airflow shows the run started, so "never started" (rule d) is ruled out. */
  started: boolean;
}

interface AirflowInput {
  dagId: string | undefined;
  runId: string | undefined;
  expectedBy: Date;
  detectedAt: Date;
  findings: Finding[];
  observations: Record<string, unknown>;
}

function seconds(from: Date, to: Date): number {
  return (to.getTime() - from.getTime()) / 1000;
}

/** A task that shows the run is waiting on something outside it. */
function isWaitingSensor(t: TaskInstance): boolean {
  if (t.state === 'up_for_reschedule') return true;
  return (t.state === 'running' || t.state === 'deferred') && /Sensor$/.test(t.operator ?? '');
}

/**
 * Rules A1–A4 (see the top of the file). Airflow errors do not fail the analyser: they are
 * recorded, and the history rules still run.
 */
async function airflowRules(ctx: AnalyserContext, input: AirflowInput): Promise<AirflowOutcome> {
  const none: AirflowOutcome = { verdict: null, stop: false, started: false };
  const { signal, catalog, helpers } = ctx;
  const { dagId, expectedBy, detectedAt, findings, observations } = input;
  const name = signal.pipeline.airflow ?? stringOr(signal.payload['airflow']) ?? catalog.table?.pipeline?.airflow;
  const client = helpers.airflow(name);
  if (!client) {
    // An observation, not a finding: without Airflow the analyser reads exactly as version 1.
    observations['airflow'] = { configured: false, ...(name ? { name, env: airflowUrlVariable(name) } : {}) };
    return none;
  }
  if (!dagId) {
    observations['airflow'] = { name: client.name, skipped: 'no dag_id in the event or the catalog' };
    return none;
  }
  const seen: Record<string, unknown> = { name: client.name, asked: [] as string[] };
  observations['airflow'] = seen;
  const asked = seen['asked'] as string[];
  const airflow = cachedAirflow(client, helpers.cache, helpers.settings.lookupTtlMs);
  let runs: DagRun[];
  let tis: TaskInstance[];
  let run: DagRun | undefined;
  try {
    asked.push(`recent runs of ${dagId}`);
    runs = await untilAborted(airflow.recentRuns(dagId), helpers.abortSignal);
    // The event's run; else the newest run due before the deadline (a run due after it is the
    // next one, and cannot be the one that missed).
    run = input.runId ? runs.find((r) => r.runId === input.runId) : runs.find((r) => r.runAfter !== null && r.runAfter < expectedBy);
    if (!run) {
      if (input.runId) findings.push({ messageId: 'airflowRunNotFound', data: { run_id: input.runId, dag_id: dagId, count: runs.length } });
      else findings.push({ messageId: 'airflowNoRuns', data: { dag_id: dagId, expected_by: expectedBy.toISOString(), count: runs.length } });
      return none;
    }
    asked.push(`task instances of ${run.runId}`);
    tis = await untilAborted(airflow.runTaskInstances(dagId, run.runId), helpers.abortSignal);
  } catch (thrown) {
    const error = thrown instanceof Error ? thrown.message : String(thrown);
    seen['error'] = error;
    findings.push({ messageId: 'airflowError', data: { error } });
    return none;
  }

  const thisRun = run;
  const others = runs.filter((r) => r.runId !== thisRun.runId);
  const queueTimes = others.map((r) => (r.queuedAt && r.startDate ? seconds(r.queuedAt, r.startDate) : null)).filter((q): q is number => q !== null && q >= 0);
  const durations = others
    .filter((r) => r.state === 'success' && r.startDate && r.endDate)
    .map((r) => seconds(r.startDate!, r.endDate!))
    .filter((d) => d >= 0);
  const medianQueued = queueTimes.length > 0 ? median(queueTimes) : null;
  const medianDuration = durations.length > 0 ? median(durations) : null;
  const taskStates = tis.reduce<Record<string, number>>((acc, t) => ({ ...acc, [t.state ?? 'none']: (acc[t.state ?? 'none'] ?? 0) + 1 }), {});
  Object.assign(seen, {
    run: {
      run_id: thisRun.runId,
      state: thisRun.state,
      queued_at: thisRun.queuedAt?.toISOString() ?? null,
      start_date: thisRun.startDate?.toISOString() ?? null,
      end_date: thisRun.endDate?.toISOString() ?? null,
    },
    task_states: taskStates,
    earlier_runs: others.length,
    median_queued_s: medianQueued === null ? null : round1(medianQueued),
    median_duration_s: medianDuration === null ? null : round1(medianDuration),
    queue_history: queueTimes.length,
    duration_history: durations.length,
  });
  const ids = { run_id: thisRun.runId, dag_id: dagId };
  const started = thisRun.startDate !== null;

  if (thisRun.state === 'failed') {
    findings.push({ messageId: 'airflowRunFailed', data: { run_id: thisRun.runId } });
    observations['rule'] = 'airflow-run-failed';
    return { verdict: null, stop: true, started };
  }

  // A1. Still queued at detection time: nothing of it ran, the scheduler has not started it.
  if (thisRun.state === 'queued' || (!started && thisRun.state !== 'success')) {
    observations['rule'] = 'airflow-still-queued';
    const queuedAt = thisRun.queuedAt?.toISOString() ?? 'unknown';
    const details: Record<string, string | number> = { ...ids, queued_at: queuedAt };
    if (thisRun.queuedAt) details['queued_s'] = round1(seconds(thisRun.queuedAt, detectedAt));
    return {
      verdict: {
        category: 'scheduler_backlog',
        confidence: 0.95,
        summary: { messageId: 'airflowStillQueued', data: { ...ids, queued_at: queuedAt, detected_at: detectedAt.toISOString(), expected_by: expectedBy.toISOString() } },
        details,
      },
      stop: false,
      started,
    };
  }

  // A2. Waiting on a sensor: the run cannot finish before what it waits for lands.
  const sensor = thisRun.state === 'running' ? tis.filter(isWaitingSensor).sort((a, b) => (a.taskId < b.taskId ? -1 : a.taskId > b.taskId ? 1 : 0))[0] : undefined;
  if (sensor) {
    observations['rule'] = 'airflow-sensor-waiting';
    const target = stringOr(sensor.renderedFields?.['external_dag_id']);
    const upstream = target === undefined ? undefined : catalog.upstream.find((u) => u.pipeline?.dag_id === target);
    const label = upstream?.name ?? (target ? `DAG ${target}` : 'its upstream');
    const details: Record<string, string | number> = { ...ids, sensor_task: sensor.taskId, sensor_state: sensor.state ?? 'running' };
    if (sensor.operator) details['operator'] = sensor.operator;
    if (upstream) details['upstream'] = upstream.name;
    if (target) details['upstream_dag'] = target;
    return {
      verdict: {
        category: 'upstream_late',
        confidence: 0.9,
        assigneeRole: 'upstream_owner',
        summary: {
          messageId: 'airflowSensorWaiting',
          data: { ...ids, sensor_task: sensor.taskId, operator: sensor.operator ?? sensor.state ?? 'sensor', upstream: label, table: signal.table, expected_by: expectedBy.toISOString() },
        },
        details,
      },
      stop: false,
      started,
    };
  }

  // A3. Started, but only after queueing far longer than usual.
  if (thisRun.queuedAt && thisRun.startDate && medianQueued !== null && queueTimes.length >= MIN_HISTORY) {
    const queued = seconds(thisRun.queuedAt, thisRun.startDate);
    if (queued > QUEUE_FACTOR * medianQueued && queued > MIN_BACKLOG_S) {
      observations['rule'] = 'airflow-queued-long';
      const data = { ...ids, queued_s: round1(queued), median_queued_s: round1(medianQueued), factor: QUEUE_FACTOR };
      return { verdict: { category: 'scheduler_backlog', confidence: 0.95, summary: { messageId: 'airflowQueuedLong', data }, details: data }, stop: false, started };
    }
  }

  // A4. Running (or ran) far longer than the DAG's successful runs.
  if (thisRun.startDate && medianDuration !== null && durations.length >= MIN_HISTORY) {
    const finished = thisRun.endDate !== null;
    const elapsed = seconds(thisRun.startDate, thisRun.endDate ?? detectedAt);
    if (elapsed > REGRESSION_FACTOR * medianDuration) {
      observations['rule'] = 'airflow-running-long';
      const details = { ...ids, elapsed_s: round1(elapsed), median_s: round1(medianDuration), history: durations.length };
      return {
        verdict: {
          category: 'runtime_regression',
          confidence: 0.95,
          summary: { messageId: 'airflowRunningLong', data: { ...details, state_text: finished ? 'ran' : 'has been running for' } },
          details,
        },
        stop: false,
        started,
      };
    }
  }

  findings.push({ messageId: 'airflowRunState', data: { run_id: thisRun.runId, state: thisRun.state ?? 'unknown', start_date: thisRun.startDate?.toISOString() ?? 'never' } });
  return { verdict: null, stop: false, started };
}

const slaTimeline: Analyser = {
  meta: {
    id: 'sla-timeline',
    version: '2',
    description:
      "For an SLA miss: did the run fail (take its diagnosis), queue or run far longer than usual or wait on a sensor (from Airflow's REST API), wait on a late upstream, start late, or never report at all — from Airflow, the catalog and earlier signals.",
    appliesTo: ['sla_miss'],
    messages,
  },

  async analyse(ctx: AnalyserContext): Promise<AnalyserResult> {
    const { signal, catalog, helpers } = ctx;
    const { history } = helpers;
    const findings: Finding[] = [];
    const table = signal.table;
    const detectedAt = signal.occurredAt;
    const runId = signal.pipeline.run_id ?? stringOr(signal.payload['run_id']);
    const dagId = signal.pipeline.dag_id ?? stringOr(signal.payload['dag_id']) ?? catalog.table?.pipeline?.dag_id;

    // The deadline drives every rule; without one the detection time is the best bound we have
    // (the deadline had passed by then).
    let expectedBy = parseDate(signal.payload['expected_by']);
    if (!expectedBy) {
      findings.push({ messageId: 'noDeadline', data: { detected_at: detectedAt.toISOString() } });
      expectedBy = detectedAt;
    }
    const sla = catalog.table?.sla ?? null;
    if (!sla) findings.push({ messageId: 'noSla', data: { table } });
    const windowStart = new Date(expectedBy.getTime() - lookbackMs(sla));
    const observations: Record<string, unknown> = {
      sla_kind: stringOr(signal.payload['sla_kind']) ?? null,
      expected_by: expectedBy.toISOString(),
      detected_at: detectedAt.toISOString(),
      run_id: runId ?? null,
      window: { since: windowStart.toISOString(), until: detectedAt.toISOString() },
      last_success_at: stringOr(signal.payload['last_success_at']) ?? null,
    };
    const result = (verdict: Verdict | null): AnalyserResult => ({ observations, findings, verdict });

    const runSignals = await history.forTable(table, { since: windowStart, until: detectedAt, kinds: ['failure', 'success'], limit: QUERY_LIMIT });
    const failures = runSignals.filter((s) => s.kind === 'failure' && matchesRun(s, runId));
    const successes = runSignals.filter((s) => s.kind === 'success');
    observations['run_signals'] = runSignals.length;
    observations['failures'] = failures.map((s) => ({ id: s.id, event: s.event, run_id: s.pipeline.run_id ?? null, rca_id: s.rca?.id ?? null }));
    observations['successes'] = successes.length;

    // a. The run already failed: the lateness has the failure's cause, so the SLA miss takes that
    //    diagnosis (DESIGN 5). A failure not yet diagnosed gives no verdict: any other rule would
    //    blame something the failure explains better, so the chain falls back instead.
    if (failures.length > 0) {
      const diagnosed = failures.filter((s) => s.rca !== null).sort(failurePreference(runId));
      const chosen = diagnosed[0];
      if (!chosen?.rca) {
        const first = [...failures].sort(failurePreference(runId))[0]!;
        findings.push({ messageId: 'failureUndiagnosed', data: { failure_signal: first.id, event: first.event ?? 'failure' } });
        observations['rule'] = 'failed-undiagnosed';
        return result(null);
      }
      const rca = chosen.rca;
      observations['rule'] = 'failed';
      observations['inherited_rca'] = rca.id;
      findings.push({
        messageId: 'failureInherited',
        data: { failure_signal: chosen.id, event: chosen.event ?? 'failure', rca_id: rca.id, category: rca.category, status: rca.status },
      });
      const verdict = inheritedVerdict({ ...chosen, rca }, { confidence: 0.9, messageId: 'runFailed', runId });
      return result(verdict);
    }

    // A. Airflow's view of the run, when the table's instance is configured.
    const airflowOutcome = await airflowRules(ctx, { dagId, runId, expectedBy, detectedAt, findings, observations });
    if (airflowOutcome.verdict) return result(airflowOutcome.verdict);
    if (airflowOutcome.stop) return result(null);

    // b. An upstream is failing or late: the run waits on it (a sensor) or loads stale input,
    //    and only the upstream's owner can fix that.
    const upstream = await checkUpstreams(history, catalog, windowStart, expectedBy);
    observations['upstream'] = upstream.checked.length > 0 ? { checked: upstream.checked, health: upstream.health } : null;
    if (upstream.late) {
      const late = upstream.late;
      const lastSuccess = late.lastSuccessAt?.toISOString() ?? 'never';
      observations['rule'] = `upstream-${late.status}`;
      findings.push({ messageId: 'upstreamFound', data: { upstream: late.table, reason: late.reason, last_success: lastSuccess } });
      return result({
        category: late.status === 'unhealthy' ? 'upstream_unhealthy' : 'upstream_late',
        confidence: 0.8,
        assigneeRole: 'upstream_owner',
        summary: {
          messageId: late.status === 'unhealthy' ? 'upstreamUnhealthy' : 'upstreamLate',
          data: { upstream: late.table, table, expected_by: expectedBy.toISOString(), last_success: lastSuccess },
        },
        details: { upstream: late.table, upstream_reason: late.reason },
      });
    }

    // c. The run succeeded, but after the deadline: either it ran far longer than its history
    //    (the job got slower) or it took its usual time and so must have started late.
    //    This run's own success first, else the first one after the deadline.
    const ownRun = (s: HistoricSignal): number => (runId !== undefined && s.pipeline.run_id === runId ? 0 : 1);
    const lateSuccess = successes
      .filter((s) => s.occurredAt > expectedBy && matchesRun(s, runId))
      .sort((a, b) => ownRun(a) - ownRun(b) || a.occurredAt.getTime() - b.occurredAt.getTime())[0];
    if (lateSuccess) {
      const finishedAt = lateSuccess.occurredAt.toISOString();
      findings.push({
        messageId: 'lateSuccess',
        data: { success_signal: lateSuccess.id, finished_at: finishedAt, late_by_min: round1((lateSuccess.occurredAt.getTime() - expectedBy.getTime()) / 60_000) },
      });
      const duration = runDurationS(lateSuccess.payload);
      // Earlier successes of the same task only: a table loaded by several tasks has several
      // duration histories, and mixing them would make the median meaningless.
      const taskId = lateSuccess.pipeline.task_id;
      const earlier = (await history.forTable(table, {
        since: new Date(lateSuccess.occurredAt.getTime() - HISTORY_MS),
        until: lateSuccess.occurredAt,
        kinds: ['success'],
        limit: QUERY_LIMIT,
      }))
        .filter((s) => s.id !== lateSuccess.id && s.occurredAt < lateSuccess.occurredAt && (taskId === undefined || s.pipeline.task_id === taskId))
        .map((s) => runDurationS(s.payload))
        .filter((d): d is number => d !== null);
      observations['late_success'] = { id: lateSuccess.id, finished_at: finishedAt, duration_s: duration, task_id: taskId ?? null };
      observations['earlier_durations'] = earlier.length;
      const base = { finished_at: finishedAt, expected_by: expectedBy.toISOString() };
      if (duration === null || earlier.length < MIN_HISTORY) {
        // Without a comparable history "started late" is only the likelier of the two stories:
        // lower confidence than when the duration was shown to be normal.
        findings.push({ messageId: 'tooLittleHistory', data: { count: earlier.length, needed: MIN_HISTORY } });
        observations['rule'] = 'late-success-no-history';
        const details: Record<string, string | number> = { finished_at: finishedAt };
        if (duration !== null) details['duration_s'] = round1(duration);
        return result({ category: 'scheduler_backlog', confidence: 0.45, summary: { messageId: 'startedLateUnsure', data: base }, details });
      }
      const med = median(earlier);
      observations['median_s'] = round1(med);
      const details = { duration_s: round1(duration), median_s: round1(med), finished_at: finishedAt };
      if (duration > REGRESSION_FACTOR * med) {
        observations['rule'] = 'runtime-regression';
        return result({ category: 'runtime_regression', confidence: 0.8, summary: { messageId: 'runtimeRegression', data: { ...base, ...details } }, details });
      }
      observations['rule'] = 'started-late';
      return result({ category: 'scheduler_backlog', confidence: 0.6, summary: { messageId: 'startedLate', data: { ...base, ...details } }, details });
    }

    // d. No run reported at all: it never started or is still queued. With upstreams in the
    //    catalog, b. has already ruled out a failing or late one, so the scheduler stays the
    //    likeliest cause. A run id in the SLA event narrows "a run" to that run; signals that name
    //    no run could be it, so they count as a report.
    //    A table neither onboarded nor named with its DAG tells us nothing about its schedule:
    //    "no run seen" is then no evidence of a backlog.
    const reported = runSignals.filter((s) => matchesRun(s, runId));
    if (reported.length === 0 && !airflowOutcome.started && (catalog.table !== null || dagId)) {
      const since = windowStart.toISOString();
      observations['rule'] = 'run-missing';
      return result({
        category: 'scheduler_backlog',
        confidence: 0.5,
        summary: { messageId: 'runMissing', data: { dag_id: dagId ?? table, since } },
        details: { since, ...(dagId ? { dag_id: dagId } : {}) },
      });
    }

    observations['rule'] = null;
    if (reported.length > 0) findings.push({ messageId: 'runSignalsElsewhere', data: { count: runSignals.length } });
    return result(null);
  },
};

export default slaTimeline;
