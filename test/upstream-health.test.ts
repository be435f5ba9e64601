import { describe, expect, it } from 'vitest';
import upstreamHealth from '../src/diagnosers/analysers/upstream-health.ts';
import type { CatalogView, EvidenceEntry, TableHealthSnapshot } from '../src/diagnosers/types.ts';
import type { Signal } from '../src/signals/types.ts';
import type { Category } from '../src/diagnosers/taxonomy.ts';
import { memoryHistory } from './support/memoryHistory.ts';
import { testHelpers } from './support/analyserHelpers.ts';

const OCCURRED = new Date('2026-11-27T08:10:00Z');
const signal: Signal = {
  id: '00000000-0000-4000-8000-0000000000aa', kind: 'failure', event: 'failure', table: 'lake.orders',
  pipeline: { dag_id: 'orders_hourly', task_id: 'load_orders', run_id: 'r' }, exception: null,
  occurredAt: OCCURRED, receivedAt: OCCURRED, dedupeKey: 'k', source: 'airflow', payload: {},
};

const catalog = (upstream: string[]): CatalogView => ({
  table: { name: 'lake.orders', owner: 'orders-eng', upstream, sla: { schedule: '0 * * * *', complete_within_minutes: 60 } },
  teams: new Map(),
  // Hourly upstreams: late once they miss their own hourly deadline.
  upstream: upstream.map((name) => ({ name, owner: `${name.split('.')[1]}-eng`, sla: { schedule: '0 * * * *', complete_within_minutes: 60 } })),
  platformTeam: 'data-platform',
});

const health = (table: string, status: TableHealthSnapshot['status'], lastSuccess: string | null): TableHealthSnapshot =>
  ({ table, status, since: OCCURRED, lastSuccessAt: lastSuccess ? new Date(lastSuccess) : null });

const earlierVerdict = (category: Category, confidence: number): EvidenceEntry[] => [{
  analyser: 'exception-classifier', version: '1', inputs: {}, observations: {}, findings: [], error: null, duration_ms: 1,
  verdict: { category, confidence, summary: 'x' },
}];

interface Case {
  name: string;
  upstream: string[];
  health: TableHealthSnapshot[];
  earlier?: EvidenceEntry[];
  expect: { category: Category; confidence: number; upstream: string } | { finding: string } | null;
}

const FRESH = '2026-11-27T07:50:00Z';
const cases: Case[] = [
  { name: 'no upstreams in the catalog', upstream: [], health: [], expect: { finding: 'noUpstreams' } },
  { name: 'all upstreams healthy and fresh', upstream: ['lake.customers'], health: [health('lake.customers', 'healthy', FRESH)], expect: null },
  { name: 'an unhealthy upstream, nothing found before', upstream: ['lake.customers'], health: [health('lake.customers', 'unhealthy', FRESH)], expect: { category: 'upstream_unhealthy', confidence: 0.7, upstream: 'lake.customers' } },
  { name: 'a stale upstream (last success 20 h ago)', upstream: ['lake.customers'], health: [health('lake.customers', 'healthy', '2026-11-26T12:00:00Z')], expect: { category: 'upstream_late', confidence: 0.7, upstream: 'lake.customers' } },
  { name: 'a degraded upstream', upstream: ['lake.customers'], health: [health('lake.customers', 'degraded', FRESH)], expect: { category: 'upstream_late', confidence: 0.7, upstream: 'lake.customers' } },
  { name: 'unhealthy beats late', upstream: ['lake.a', 'lake.b'], health: [health('lake.a', 'degraded', FRESH), health('lake.b', 'unhealthy', FRESH)], expect: { category: 'upstream_unhealthy', confidence: 0.7, upstream: 'lake.b' } },
  { name: 'a sensor timeout confirmed by an unhealthy upstream', upstream: ['lake.customers'], health: [health('lake.customers', 'unhealthy', FRESH)], earlier: earlierVerdict('upstream_late', 0.85), expect: { category: 'upstream_unhealthy', confidence: 0.95, upstream: 'lake.customers' } },
  { name: 'a sensor timeout confirmed by a late upstream', upstream: ['lake.customers'], health: [health('lake.customers', 'degraded', FRESH)], earlier: earlierVerdict('upstream_late', 0.85), expect: { category: 'upstream_late', confidence: 0.95, upstream: 'lake.customers' } },
  { name: 'a strong other cause stays; the upstream is a finding', upstream: ['lake.customers'], health: [health('lake.customers', 'unhealthy', FRESH)], earlier: earlierVerdict('code_error', 0.9), expect: { finding: 'alsoUpstream' } },
  { name: 'a weak other guess is overruled', upstream: ['lake.customers'], health: [health('lake.customers', 'unhealthy', FRESH)], earlier: earlierVerdict('code_error', 0.5), expect: { category: 'upstream_unhealthy', confidence: 0.7, upstream: 'lake.customers' } },
  { name: 'an upstream Medic never heard of is not blamed', upstream: ['lake.silent'], health: [], expect: null },
  { name: 'a stale upstream with a strong other cause is only a finding', upstream: ['lake.customers'], health: [health('lake.customers', 'healthy', '2026-11-26T12:00:00Z')], earlier: earlierVerdict('sink_write_failure', 0.7), expect: { finding: 'alsoUpstream' } },
];

describe('upstream-health', () => {
  it.each(cases)('$name', async (c) => {
    const result = await upstreamHealth.analyse({
      signal, catalog: catalog(c.upstream), earlier: c.earlier ?? [],
      helpers: testHelpers({ history: memoryHistory([], c.health) }),
    });
    if (c.expect === null) {
      expect(result.verdict ?? null).toBeNull();
      expect(result.findings ?? []).toEqual([]);
    } else if ('finding' in c.expect) {
      expect(result.verdict ?? null).toBeNull();
      expect(result.findings?.map((f) => f.messageId)).toEqual([c.expect.finding]);
    } else {
      expect(result.verdict).toMatchObject({ category: c.expect.category, confidence: c.expect.confidence, assigneeRole: 'upstream_owner', details: { upstream: c.expect.upstream } });
    }
  });
});

describe('upstream-health judges lateness by the upstream\'s own cadence', () => {
  const daily = (sla: { schedule: string; complete_within_minutes: number } | null): CatalogView => ({
    ...catalog(['lake.customers']),
    upstream: [{ name: 'lake.customers', owner: 'crm-eng', sla }],
  });
  it.each([
    ['a daily upstream without an SLA that landed 5 h ago is not late', null, '2026-11-27T03:20:00Z', null],
    ['a daily upstream without an SLA that last landed 30 h ago is late', null, '2026-11-26T02:00:00Z', 'upstream_late'],
    ['a daily upstream with a 04:00 SLA that landed at 03:20 is not late at 08:10', { schedule: '0 3 * * *', complete_within_minutes: 60 }, '2026-11-27T03:20:00Z', null],
    ['a daily upstream that missed its 04:00 deadline today is late', { schedule: '0 3 * * *', complete_within_minutes: 60 }, '2026-11-26T03:20:00Z', 'upstream_late'],
  ] as const)('%s', async (_name, sla, lastSuccess, category) => {
    const result = await upstreamHealth.analyse({
      signal, catalog: daily(sla), earlier: [],
      helpers: testHelpers({ history: memoryHistory([], [health('lake.customers', 'healthy', lastSuccess)]) }),
    });
    expect(result.verdict?.category ?? null).toBe(category);
  });
});
