import type { Analyser, AnalyserContext, AnalyserResult, Finding, HistoricSignal, Verdict } from '../types.ts';
import { checkUpstreams, lookbackMs } from '../upstreamLateness.ts';
import { inheritedVerdict } from '../inheritDiagnosis.ts';

/**
 * dq-completeness: why a data-quality check failed (DESIGN 5). Reads the DQ event, the catalog
 * and the load signals Medic already holds; no I/O of its own.
 *
 * By `check_kind`:
 *  - completeness (source vs lake row counts): source 0 ⇒ the source is missing data; lake short
 *    ⇒ depends on the load (succeeded: incomplete load; failed: that failure's diagnosis); lake
 *    over ⇒ duplicates written by a non-idempotent load; equal ⇒ nothing to say.
 *  - nullness / uniqueness / custom: the values come from the source ⇒ source data issue, unless
 *    the check is only on columns the pipeline itself adds (see {@link isLakeAddedColumn}).
 *  - schema ⇒ the source schema changed.
 *  - freshness ⇒ an open load failure explains it (inherit), else a failing or late upstream.
 *
 * `severity: warn` never changes the category: it only makes the table degraded instead of
 * unhealthy, which the health tracker does elsewhere (DESIGN 6).
 */

const HOUR_MS = 3_600_000;
/** How far before the check a load signal still explains it: a day covers daily partitions. */
const LOAD_LOOKBACK_MS = 24 * HOUR_MS;

const messages: Record<string, string> = {
  sourceZero: 'The source reported 0 rows for {partition}: the source data is missing.',
  incompleteLoad: 'The load of {partition} succeeded, but the lake has {lake_count} rows against {source_count} at the source: {missing_rows} rows ({missing_pct} %) missing.',
  incompleteLoadNoSignal: 'The lake has {lake_count} rows for {partition} against {source_count} at the source: {missing_rows} rows ({missing_pct} %) missing; no load signal was seen.',
  loadFailed: 'The load failed before the check: {category} — {summary}',
  duplicatesCdc: 'The lake has {extra_rows} more rows than the source for {partition} ({lake_count} vs {source_count}): duplicates from replayed change events, the CDC merge is not idempotent.',
  duplicatesAppend: 'The lake has {extra_rows} more rows than the source for {partition} ({lake_count} vs {source_count}): the partition was appended more than once, the load is not idempotent.',
  duplicatesSnapshot: 'The lake has {extra_rows} more rows than the source for {partition} ({lake_count} vs {source_count}): the snapshot was written without replacing the previous one.',
  duplicates: 'The lake has {extra_rows} more rows than the source for {partition} ({lake_count} vs {source_count}): the load wrote duplicates, it is not idempotent.',
  sourceValues: 'The {check_kind} check {check} failed on values the source produced ({columns}).',
  lakeColumns: 'The {check_kind} check {check} failed only on columns the pipeline adds ({columns}): a bug in the load.',
  schemaChanged: 'The schema check {check} failed: the source schema changed ({columns}).',
  upstreamUnhealthy: 'The data is stale because the upstream {upstream} is failing.',
  upstreamLate: 'The data is stale because the upstream {upstream} has not landed (last success: {last_success}).',
  // findings
  countsMissing: 'The completeness check has no numeric {fields}: the counts cannot be compared.',
  countsAgree: 'Source and lake agree ({count} rows): the check itself may be wrong.',
  noLoadSignal: 'No load signal (failure or success) for {table} in the 24 h before the check.',
  loadSucceeded: 'The newest load signal {load_signal} is a success at {at}.',
  loadUndiagnosed: 'The newest load signal {load_signal} is a failure without an RCA yet; leaving the check to later analysers.',
  loadFailureInherited: 'The load failed (signal {load_signal}, {event}); its RCA {rca_id} ({category}, {status}) is taken over.',
  upstreamFound: 'Upstream {upstream} is {reason} (last success: {last_success}).',
  nothingStale: 'No open load failure and no failing or late upstream explain the stale data.',
  unknownCheckKind: 'Unknown check_kind {check_kind}.',
};

type Details = Record<string, string | number>;

/** A count that can be compared: a finite, non-negative number (strings are not coerced). */
function count(value: unknown): number | null {
  return typeof value === 'number' && Number.isFinite(value) && value >= 0 ? value : null;
}

function stringOr(value: unknown): string | undefined {
  return typeof value === 'string' && value !== '' ? value : undefined;
}

/** Percentage with two decimals: 1.46 rather than 1.4583333. */
function pct(part: number, whole: number): number {
  return whole === 0 ? 0 : Math.round((part / whole) * 10_000) / 100;
}

/**
 * Columns the lake adds on load and the source never had. The convention (documented for the
 * pipelines' authors): audit columns start with `_` (`_loaded_at`, `_ingested_at`, `_op`,
 * `_cdc_lsn`, `_batch_id`), `etl_` (`etl_run_id`) or `ingested_` (`ingested_at`). Qualifiers and
 * quotes are ignored (`t."_loaded_at"`). A check only on such columns tests the pipeline's own
 * output, so its failure is the pipeline's bug; the catalog does not list columns, so the name is
 * all we can go by.
 */
export function isLakeAddedColumn(column: string): boolean {
  const bare = (column.split('.').pop() ?? column).replace(/^[`"'[\]]+|[`"'[\]]+$/g, '').toLowerCase();
  return /^(_|etl_|ingested_)/.test(bare);
}

function columnsOf(payload: Record<string, unknown>): string[] {
  const raw = payload['columns'];
  return Array.isArray(raw) ? raw.filter((c): c is string => typeof c === 'string' && c !== '') : [];
}

/** A verdict that takes over a load failure's diagnosis (the check failed because the load did). */
function loadFailedVerdict(failure: HistoricSignal, base: Details): Verdict {
  return inheritedVerdict({ ...failure, rca: failure.rca! }, { confidence: 0.85, messageId: 'loadFailed', base });
}

function inheritFinding(failure: HistoricSignal): Finding {
  const rca = failure.rca!;
  return {
    messageId: 'loadFailureInherited',
    data: { load_signal: failure.id, event: failure.event ?? 'failure', rca_id: rca.id, category: rca.category, status: rca.status },
  };
}

const dqCompleteness: Analyser = {
  meta: {
    id: 'dq-completeness',
    version: '1',
    description:
      'For a data-quality failure: compares source and lake row counts against the load\'s outcome, and tells source data, schema, load bugs and upstream staleness apart by the kind of check.',
    appliesTo: ['dq_failure'],
    messages,
  },

  async analyse(ctx: AnalyserContext): Promise<AnalyserResult> {
    const { signal, catalog, helpers } = ctx;
    const { history } = helpers;
    const payload = signal.payload;
    const table = signal.table;
    const detectedAt = signal.occurredAt;
    const checkKind = stringOr(payload['check_kind']) ?? null;
    const check = stringOr(payload['check']) ?? '(unnamed check)';
    const partition = stringOr(payload['partition']);
    const strategy = stringOr(payload['strategy']);
    const columns = columnsOf(payload);
    const findings: Finding[] = [];
    const observations: Record<string, unknown> = {
      check,
      check_kind: checkKind,
      severity: stringOr(payload['severity']) ?? null,
      partition: partition ?? null,
      strategy: strategy ?? null,
      columns: columns.length > 0 ? columns : null,
    };
    const result = (verdict: Verdict | null): AnalyserResult => ({ observations, findings, verdict });
    /** The partition (when named) in details, so the manual steps can name what to re-run. */
    const where: Details = partition ? { partition } : {};
    const partitionText = partition ?? 'the checked data';

    switch (checkKind) {
      case 'completeness': {
        const source = count(payload['source_count']);
        const lake = count(payload['lake_count']);
        observations['source_count'] = payload['source_count'] ?? null;
        observations['lake_count'] = payload['lake_count'] ?? null;
        const missing = [source === null ? 'source_count' : null, lake === null ? 'lake_count' : null].filter((f): f is string => f !== null);
        if (source === null || lake === null) {
          observations['missing'] = missing;
          findings.push({ messageId: 'countsMissing', data: { fields: missing.join(' and ') } });
          return result(null);
        }
        const counts = { source_count: source, lake_count: lake };

        // The source itself has nothing for the partition: whatever the load did, the lake cannot
        // be complete, and only the source's owner can say why the data is absent.
        if (source === 0) {
          observations['rule'] = 'source-zero';
          return result({
            category: 'source_data_issue',
            confidence: 0.85,
            assigneeRole: 'source_owner',
            summary: { messageId: 'sourceZero', data: { partition: partitionText } },
            details: { ...where, ...counts },
          });
        }

        if (lake < source) {
          const missingRows = source - lake;
          const numbers = { ...counts, missing_rows: missingRows, missing_pct: pct(missingRows, source) };
          // Short rows mean different things depending on how the load ended: a success that
          // wrote too little is an incomplete load (re-run the partition); a failure explains
          // the gap by itself, so the check takes the failure's diagnosis.
          const [newest] = await history.forTable(table, {
            since: new Date(detectedAt.getTime() - LOAD_LOOKBACK_MS),
            until: detectedAt,
            kinds: ['failure', 'success'],
            limit: 1,
          });
          observations['newest_load'] = newest
            ? { id: newest.id, kind: newest.kind, event: newest.event, at: newest.occurredAt.toISOString(), rca_id: newest.rca?.id ?? null }
            : null;
          const details: Details = { ...where, ...numbers, ...(strategy ? { strategy } : {}) };
          if (!newest) {
            // Counts alone still point at the load, but nothing confirms it ran to completion.
            observations['rule'] = 'lake-short-no-load-signal';
            findings.push({ messageId: 'noLoadSignal', data: { table } });
            return result({
              category: 'incomplete_load',
              confidence: 0.6,
              summary: { messageId: 'incompleteLoadNoSignal', data: { partition: partitionText, ...numbers } },
              details,
            });
          }
          if (newest.kind === 'success') {
            observations['rule'] = 'lake-short-after-success';
            findings.push({ messageId: 'loadSucceeded', data: { load_signal: newest.id, at: newest.occurredAt.toISOString() } });
            return result({
              category: 'incomplete_load',
              confidence: 0.85,
              summary: { messageId: 'incompleteLoad', data: { partition: partitionText, ...numbers } },
              details,
            });
          }
          if (!newest.rca) {
            // The load failed and is not diagnosed yet: "incomplete load" would be wrong (it did
            // not succeed), and anything else would guess at the failure's cause.
            observations['rule'] = 'lake-short-failure-undiagnosed';
            findings.push({ messageId: 'loadUndiagnosed', data: { load_signal: newest.id } });
            return result(null);
          }
          observations['rule'] = 'lake-short-after-failure';
          observations['inherited_rca'] = newest.rca.id;
          findings.push(inheritFinding(newest));
          return result(loadFailedVerdict(newest, details));
        }

        if (lake > source) {
          // More rows in the lake than the source ever had: the load wrote some rows twice. That
          // is the pipeline's bug — a load must be idempotent (overwrite the partition, or merge
          // on a key) so that Airflow retries and re-runs are safe. With CDC, the usual cause is
          // change events replayed after a restart (offsets or LSN not committed with the write)
          // and applied as inserts. Confidence stays low: a source count taken before late
          // deletes, or a check comparing different windows, looks the same.
          const extraRows = lake - source;
          const messageId =
            strategy === 'cdc' ? 'duplicatesCdc' : strategy === 'append' ? 'duplicatesAppend' : strategy === 'snapshot' ? 'duplicatesSnapshot' : 'duplicates';
          observations['rule'] = 'lake-over';
          return result({
            category: 'code_error',
            confidence: 0.6,
            summary: { messageId, data: { partition: partitionText, ...counts, extra_rows: extraRows } },
            details: { ...where, ...counts, extra_rows: extraRows, extra_pct: pct(extraRows, source), ...(strategy ? { strategy } : {}) },
          });
        }

        // Equal counts: the completeness check should not have failed on these numbers, so it
        // may compare something else (a filter, a window) — nothing here to blame.
        observations['rule'] = 'counts-agree';
        findings.push({ messageId: 'countsAgree', data: { count: lake } });
        return result(null);
      }

      case 'nullness':
      case 'uniqueness':
      case 'custom': {
        const columnsText = columns.length > 0 ? columns.join(', ') : 'columns not named';
        const data = { check_kind: checkKind, check, columns: columnsText };
        const details: Details = { ...where, check, ...(columns.length > 0 ? { columns: columns.join(', ') } : {}) };
        // Only when every named column is one the lake adds (see isLakeAddedColumn) is the
        // pipeline at fault; otherwise the values under test came from the source.
        if (columns.length > 0 && columns.every(isLakeAddedColumn)) {
          observations['rule'] = 'lake-added-columns';
          return result({ category: 'code_error', confidence: 0.6, assigneeRole: 'pipeline_owner', summary: { messageId: 'lakeColumns', data }, details });
        }
        observations['rule'] = 'source-values';
        return result({ category: 'source_data_issue', confidence: 0.7, assigneeRole: 'source_owner', summary: { messageId: 'sourceValues', data }, details });
      }

      case 'schema': {
        // The lake's schema follows the pipeline; a schema check failing means the source
        // delivered columns or types the pipeline did not expect.
        observations['rule'] = 'schema';
        const details: Details = { ...where, check, ...(columns.length > 0 ? { column: columns.join(', ') } : {}) };
        return result({
          category: 'source_schema_change',
          confidence: 0.7,
          summary: { messageId: 'schemaChanged', data: { check, columns: columns.length > 0 ? columns.join(', ') : 'columns not named' } },
          details,
        });
      }

      case 'freshness': {
        // Stale data first because the load is failing: take that failure's diagnosis (an open
        // one: a resolved failure was followed by a good load, so it no longer explains staleness).
        const failures = await history.forTable(table, {
          since: new Date(detectedAt.getTime() - LOAD_LOOKBACK_MS),
          until: detectedAt,
          kinds: ['failure'],
          limit: 200,
        });
        const open = failures
          .filter((s) => s.rca !== null && s.rca.status !== 'resolved')
          .sort((a, b) => (a.event === 'retry' ? 1 : 0) - (b.event === 'retry' ? 1 : 0) || b.occurredAt.getTime() - a.occurredAt.getTime());
        observations['failures'] = failures.map((s) => ({ id: s.id, event: s.event, rca_id: s.rca?.id ?? null, status: s.rca?.status ?? null }));
        const chosen = open[0];
        if (chosen) {
          observations['rule'] = 'freshness-load-failed';
          observations['inherited_rca'] = chosen.rca!.id;
          findings.push(inheritFinding(chosen));
          return result(loadFailedVerdict(chosen, where));
        }
        // Then an upstream that is failing or late: the load ran on old input, or waits for it.
        const windowStart = new Date(detectedAt.getTime() - lookbackMs(catalog.table?.sla));
        const upstream = await checkUpstreams(history, catalog, windowStart, detectedAt);
        observations['window'] = { since: windowStart.toISOString(), until: detectedAt.toISOString() };
        observations['upstream'] = upstream.checked.length > 0 ? { checked: upstream.checked, health: upstream.health } : null;
        if (upstream.late) {
          const late = upstream.late;
          const lastSuccess = late.lastSuccessAt?.toISOString() ?? 'never';
          observations['rule'] = `freshness-upstream-${late.status}`;
          findings.push({ messageId: 'upstreamFound', data: { upstream: late.table, reason: late.reason, last_success: lastSuccess } });
          return result({
            category: late.status === 'unhealthy' ? 'upstream_unhealthy' : 'upstream_late',
            confidence: 0.8,
            assigneeRole: 'upstream_owner',
            summary: { messageId: late.status === 'unhealthy' ? 'upstreamUnhealthy' : 'upstreamLate', data: { upstream: late.table, last_success: lastSuccess } },
            details: { ...where, upstream: late.table, upstream_reason: late.reason },
          });
        }
        observations['rule'] = null;
        findings.push({ messageId: 'nothingStale' });
        return result(null);
      }

      default:
        observations['rule'] = null;
        findings.push({ messageId: 'unknownCheckKind', data: { check_kind: checkKind ?? '(none)' } });
        return result(null);
    }
  },
};

export default dqCompleteness;
