import type { Analyser, AnalyserContext, AnalyserResult, Finding, HistoricSignal, Verdict } from '../types.ts';
import { checkUpstreams, lookbackMs } from '../upstreamLateness.ts';
import { inheritedVerdict } from '../inheritDiagnosis.ts';

/**
 * sla-timeline: why a table missed its deadline (DESIGN 5). Version 1 works only from the
 * catalog and the signals Medic already holds; Airflow's REST timings (queued vs running) come
 * in a later version.
 *
 * The window looked at runs from `expected_by − lookback` (see {@link lookbackMs}: twice the SLA's
 * allowed run time, at least 6 h, 24 h without an SLA) to `detected_at`. The rules are tried in
 * order and the first that concludes wins; the order is the precedence:
 *
 *  a. the run already failed → the failure's own diagnosis: the lateness has the failure's cause,
 *     and one incident with one assignee is better than a second, vaguer one;
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
  // findings
  noDeadline: 'The SLA miss has no valid expected_by; the detection time {detected_at} is used as the deadline.',
  noSla: '{table} has no SLA in the catalog: looked back 24 h.',
  failureUndiagnosed: 'The run already failed (signal {failure_signal}, {event}) but that failure has no RCA yet; leaving the SLA miss to later analysers.',
  failureInherited: 'The run already failed (signal {failure_signal}, {event}); its RCA {rca_id} ({category}, {status}) is taken over.',
  upstreamFound: 'Upstream {upstream} is {reason} (last success: {last_success}).',
  lateSuccess: 'Success signal {success_signal} arrived at {finished_at}, {late_by_min} min after the deadline.',
  tooLittleHistory: 'Only {count} earlier successes with a duration in 14 days (need {needed}): the run\'s duration cannot be judged.',
  runSignalsElsewhere: '{count} run signal(s) in the window, none of them a failure of this run or a success after the deadline.',
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

const slaTimeline: Analyser = {
  meta: {
    id: 'sla-timeline',
    version: '1',
    description:
      'For an SLA miss: did the run fail (take its diagnosis), wait on a late upstream, run far longer than usual, start late, or never report at all — from the catalog and earlier signals.',
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

    // b. An upstream is failing or late: the run waits on it (a sensor) or loads stale input,
    //    and only the upstream's owner can fix that.
    const upstream = await checkUpstreams(history, catalog, windowStart);
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
    const reported = runSignals.filter((s) => matchesRun(s, runId));
    if (reported.length === 0) {
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
    findings.push({ messageId: 'runSignalsElsewhere', data: { count: runSignals.length } });
    return result(null);
  },
};

export default slaTimeline;
