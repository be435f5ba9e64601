import type { Analyser, AnalyserResult, Verdict } from '../types.ts';
import { checkUpstreams, lookbackMs } from '../upstreamLateness.ts';

/**
 * upstream-health: a failing run whose catalog upstream is failing or late is usually the
 * upstream's problem (DESIGN 5): a sensor that timed out, a join against a table that never
 * landed. It reads catalog lineage and `table_health` only.
 *
 * How sure it is depends on what the chain already found:
 *  - the exception already pointed upstream (a sensor timeout): the health confirms it → 0.95,
 *    which ends the chain;
 *  - nothing, or only a weak guess (< 0.8): the upstream is the best explanation → 0.7;
 *  - a strong guess of another cause (a KeyError, an OOM): that failure has its own cause; the
 *    upstream's state is recorded as a finding so the on-call engineer sees both.
 */
const upstreamHealth: Analyser = {
  meta: {
    id: 'upstream-health',
    version: '1',
    description: 'Is a catalog upstream of the table failing or late? Then the cause is upstream and its owner must act.',
    appliesTo: ['failure'],
    messages: {
      upstreamUnhealthy: 'The upstream table {upstream} is unhealthy, so {table} could not load.',
      upstreamLate: 'The upstream table {upstream} has not landed (last success {last_success}), so {table} could not load.',
      confirmed: '{what}: confirmed by its health in Medic.',
      alsoUpstream: 'The upstream table {upstream} is {status} too, but the failure has a cause of its own ({category}).',
      noUpstreams: '{table} has no upstream tables in the catalog.',
    },
  },

  async analyse({ signal, catalog, earlier, helpers }): Promise<AnalyserResult> {
    const upstream = catalog.table?.upstream ?? [];
    if (upstream.length === 0) {
      return { observations: { upstream: [] }, findings: [{ messageId: 'noUpstreams', data: { table: signal.table } }] };
    }
    const windowStart = new Date(signal.occurredAt.getTime() - lookbackMs(catalog.table?.sla));
    const check = await checkUpstreams(helpers.history, catalog, windowStart, signal.occurredAt);
    const observations = { upstream: check.checked, health: check.health, window_start: windowStart.toISOString() };
    const late = check.late;
    if (!late) return { observations };

    const category = late.status === 'unhealthy' ? 'upstream_unhealthy' : 'upstream_late';
    const lastSuccess = late.lastSuccessAt ? late.lastSuccessAt.toISOString() : 'never';
    const best = earlier.map((e) => e.verdict).filter((v) => v !== null).sort((a, b) => b.confidence - a.confidence)[0];
    const pointedUpstream = best !== undefined && best.category.startsWith('upstream_');
    // A failing upstream explains a failure with no strong cause of its own; an upstream that is
    // merely behind its schedule (healthy, just stale) explains one only when nothing else does.
    const merelyStale = late.reason === 'stale' || late.reason === 'never_succeeded';
    if (best && !pointedUpstream && best.category !== 'unknown' && (best.confidence >= 0.8 || merelyStale)) {
      return {
        observations,
        findings: [{ messageId: 'alsoUpstream', data: { upstream: late.table, status: late.status, category: best.category } }],
      };
    }
    const verdict: Verdict = {
      category,
      confidence: pointedUpstream ? 0.95 : 0.7,
      assigneeRole: 'upstream_owner',
      summary: { messageId: category === 'upstream_unhealthy' ? 'upstreamUnhealthy' : 'upstreamLate', data: { upstream: late.table, table: signal.table, last_success: lastSuccess } },
      details: { upstream: late.table, upstream_reason: late.reason },
    };
    return {
      observations,
      findings: pointedUpstream ? [{ messageId: 'confirmed', data: { what: `${late.table} is ${late.status}` } }] : [],
      verdict,
    };
  },
};

export default upstreamHealth;
