import pino from 'pino';
import { describe, expect, it } from 'vitest';
import { runChain } from '../src/diagnosers/runChain.ts';
import { resolveAssignee } from '../src/diagnosers/assignee.ts';
import { buildDiagnosis, incidentKey } from '../src/diagnosers/buildDiagnosis.ts';
import type { Analyser, AnalyserResult, CatalogView } from '../src/diagnosers/types.ts';
import type { Signal } from '../src/signals/types.ts';
import type { AssigneeRole } from '../src/diagnosers/taxonomy.ts';
import { testSharedHelpers } from './support/analyserHelpers.ts';

const log = pino({ level: 'silent' });
const shared = testSharedHelpers();

const signal: Signal = {
  id: '00000000-0000-4000-8000-000000000001', kind: 'failure', event: 'failure', table: 'lake.orders',
  pipeline: { airflow: 'main', dag_id: 'orders_hourly', task_id: 'load_orders', run_id: 'scheduled__2026-11-27T08:00:00+00:00' },
  exception: { type: 'psycopg2.OperationalError', message: 'could not connect to server: Connection refused' },
  occurredAt: new Date('2026-11-27T08:06:00Z'), receivedAt: new Date('2026-11-27T08:06:01Z'),
  dedupeKey: 'k', source: 'airflow', payload: {},
};

const catalog: CatalogView = {
  table: {
    name: 'lake.orders', owner: 'orders-eng', tier: 1, upstream: ['lake.customers', 'lake.products'],
    source: { kind: 'postgres', name: 'orders-db', owner: 'orders-dba' },
  },
  teams: new Map(),
  upstream: [{ name: 'lake.customers', owner: 'crm-eng' }, { name: 'lake.products', owner: null }],
  platformTeam: 'data-platform',
};

/** A test analyser: a real implementation of the contract, not a mock of ours. */
function analyser(id: string, behaviour: (signal: AbortSignal) => Promise<AnalyserResult> | AnalyserResult): Analyser {
  return {
    meta: { id, version: '7', description: id, appliesTo: ['failure'], messages: { found: 'found {what}' } },
    analyse: (ctx) => behaviour(ctx.helpers.abortSignal),
  };
}

const verdict = (confidence: number, what: string): AnalyserResult => ({
  observations: { what },
  verdict: { category: 'infra_transient', confidence, summary: { messageId: 'found', data: { what } } },
});

describe('runChain', () => {
  it('records a thrown error as evidence, labelled with the analyser, and continues', async () => {
    const outcome = await runChain([
      analyser('thrower', () => { throw new TypeError('boom'); }),
      analyser('sure', () => verdict(0.95, 'it')),
    ], { signal, catalog }, { timeoutMs: 1000, log, shared });
    expect(outcome.evidence.map((e) => e.analyser)).toEqual(['thrower', 'sure']);
    expect(outcome.evidence[0]!.error).toBe('analyser thrower: boom');
    expect(outcome.verdict).toMatchObject({ analyser: 'sure', summaryText: 'found it', category: 'infra_transient' });
  });

  it('stops at the first confident verdict', async () => {
    let ranAfter = false;
    const outcome = await runChain([
      analyser('sure', () => verdict(0.95, 'first')),
      analyser('later', () => { ranAfter = true; return verdict(0.99, 'second'); }),
    ], { signal, catalog }, { timeoutMs: 1000, log, shared });
    expect(ranAfter).toBe(false);
    expect(outcome.verdict?.summaryText).toBe('found first');
  });

  it('keeps the best of several unsure verdicts', async () => {
    const outcome = await runChain([
      analyser('weak', () => verdict(0.3, 'weak')),
      analyser('better', () => verdict(0.6, 'better')),
      analyser('none', () => ({ observations: {} })),
    ], { signal, catalog }, { timeoutMs: 1000, log, shared });
    expect(outcome.evidence).toHaveLength(3);
    expect(outcome.verdict?.analyser).toBe('better');
  });

  it('times out a slow analyser, aborts its signal, records it and continues', async () => {
    let aborted = false;
    const outcome = await runChain([
      analyser('slow', (abort) => new Promise((resolve) => {
        abort.addEventListener('abort', () => { aborted = true; });
        setTimeout(() => resolve(verdict(0.99, 'too late')), 5000).unref();
      })),
      analyser('fast', () => verdict(0.95, 'fast')),
    ], { signal, catalog }, { timeoutMs: 50, log, shared });
    expect(aborted).toBe(true);
    expect(outcome.evidence[0]!.error).toBe('analyser slow: timed out after 50 ms');
    expect(outcome.evidence[0]!.duration_ms).toBeGreaterThanOrEqual(45);
    expect(outcome.verdict?.analyser).toBe('fast');
    expect(outcome.evidence[1]).toMatchObject({ analyser: 'fast', version: '7', inputs: { table: 'lake.orders', in_catalog: true } });
  });
});

describe('resolveAssignee', () => {
  const notInCatalog: CatalogView = { ...catalog, table: null, upstream: [] };
  const noOwners: CatalogView = { ...catalog, table: { name: 'lake.orders', owner: null, source: { kind: 'postgres', name: 'orders-db' } }, upstream: [] };
  const cases: Array<[string, AssigneeRole, CatalogView, string | undefined, string, RegExp]> = [
    ['pipeline owner is the table owner', 'pipeline_owner', catalog, undefined, 'orders-eng', /owns lake.orders/],
    ['source owner is the source owner', 'source_owner', catalog, undefined, 'orders-dba', /owns the source orders-db/],
    ['upstream owner is the named upstream table owner', 'upstream_owner', catalog, 'lake.customers', 'crm-eng', /upstream table lake.customers/],
    ['upstream without owner falls back to platform', 'upstream_owner', catalog, 'lake.products', 'data-platform', /has no owner/],
    ['platform is the platform team', 'platform', catalog, undefined, 'data-platform', /platform team/],
    ['a table not in the catalog goes to platform', 'pipeline_owner', notInCatalog, undefined, 'data-platform', /not in the catalog/],
    ['no table owner goes to platform', 'pipeline_owner', noOwners, undefined, 'data-platform', /no owner/],
    ['no source owner and no table owner goes to platform', 'source_owner', noOwners, undefined, 'data-platform', /neither/],
  ];
  it.each(cases)('%s', (_name, role, view, upstream, team, reason) => {
    const assignee = resolveAssignee(role, view, 'lake.orders', upstream);
    expect(assignee.team).toBe(team);
    expect(assignee.role).toBe(role);
    expect(assignee.reason).toMatch(reason);
  });
});

describe('buildDiagnosis', () => {
  it('falls back to unknown, assigned to the platform team, when no analyser concludes', async () => {
    const diagnosis = await buildDiagnosis(signal, catalog, { timeoutMs: 1000, log, shared, registry: [analyser('none', () => ({ observations: {} }))] });
    expect(diagnosis).toMatchObject({ category: 'unknown', confidence: 0, assignee: { team: 'data-platform', role: 'platform' }, incidentId: 'unknown:lake.orders' });
    expect(diagnosis.summary).toContain('psycopg2.OperationalError');
    expect(diagnosis.manualSteps).not.toMatch(/\{\w+\}/);
  });
  it('notes in the evidence that a table is not in the catalog', async () => {
    const diagnosis = await buildDiagnosis(signal, { ...catalog, table: null, upstream: [] }, { timeoutMs: 1000, log, shared });
    expect(diagnosis.evidence[0]!.findings[0]!.text).toContain('not in the catalog');
    expect(diagnosis.assignee.team).toBe('data-platform');
  });
  it.each([
    ['source_unavailable', {}, 'source_unavailable:orders-db'],
    ['upstream_unhealthy', { upstream: 'lake.customers' }, 'upstream_unhealthy:lake.customers'],
    ['code_error', {}, 'code_error:lake.orders'],
  ] as const)('groups %s into incident %s', (category, details, key) => {
    expect(incidentKey(category, 'lake.orders', catalog, details)).toBe(key);
  });
});
