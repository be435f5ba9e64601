import { describe, expect, it } from 'vitest';
import {
  alertmanagerPayload, buildPayload, fingerprint, matchesFilter, medicPayload, pagerdutyPayload, statusSeverity,
  type RcaBrief, type TransitionContext, type WebhookFilter,
} from '../src/webhooks/formats.ts';
import { deliveryHeaders, signPayload, verifySignature } from '../src/webhooks/signing.ts';

const AT = new Date('2026-05-01T10:00:00.000Z');
const EARLIER = new Date('2026-05-01T09:00:00.000Z');
const RCA: RcaBrief = {
  id: '11111111-1111-4111-8111-111111111111', incidentId: 'source_unavailable:orders-db', category: 'source_unavailable',
  summary: 'orders-db refused connections on 5432', status: 'open', assigneeTeam: 'orders-dba', assigneeRole: 'source_owner',
};
const OPTIONS = { publicUrl: 'https://medic.example.com/', eventId: '22222222-2222-4222-8222-222222222222', routingKey: 'R0UTINGKEY', receiver: 'oncall' };

/** healthy → unhealthy on lake.orders (tier 1, owner orders-team), opening the episode of RCA. */
function transition(overrides: Partial<TransitionContext> = {}): TransitionContext {
  return {
    healthEventId: 42, table: 'lake.orders', oldStatus: 'healthy', newStatus: 'unhealthy', at: AT,
    reason: 'source_unavailable: orders-db refused connections on 5432', tier: 1, owner: 'orders-team', rca: RCA,
    previous: { at: EARLIER, rca: null }, episode: { key: RCA.incidentId!, startedAt: AT }, ...overrides,
  };
}
const recovery = (overrides: Partial<TransitionContext> = {}) => transition({
  oldStatus: 'unhealthy', newStatus: 'healthy', rca: null, reason: 'success: orders_dag.load run_2',
  previous: { at: AT, rca: RCA }, episode: { key: RCA.incidentId!, startedAt: AT }, at: new Date('2026-05-01T10:30:00.000Z'), healthEventId: 43, ...overrides,
});

describe('medic format', () => {
  it('is the native event: table, old → new status, RCA summary, assignee, link', () => {
    expect(medicPayload(transition(), OPTIONS)).toEqual({
      id: OPTIONS.eventId, type: 'table.health_changed', health_event_id: 42, table: 'lake.orders', old_status: 'healthy', new_status: 'unhealthy',
      at: AT.toISOString(), reason: 'source_unavailable: orders-db refused connections on 5432', tier: 1, owner: 'orders-team',
      summary: 'lake.orders is unhealthy (was healthy): orders-db refused connections on 5432',
      rca: { id: RCA.id, incident_id: RCA.incidentId, category: 'source_unavailable', summary: RCA.summary, status: 'open', assignee: { team: 'orders-dba', role: 'source_owner' } },
      assignee: { team: 'orders-dba', role: 'source_owner' },
      incident_key: 'source_unavailable:orders-db',
      link: 'https://medic.example.com/v1/tables/lake.orders/health',
    });
  });

  it('sends every transition, recoveries included, and escapes the table in the link', () => {
    const body = medicPayload(recovery({ table: 'lake/odd name' }), OPTIONS);
    expect(body).toMatchObject({ new_status: 'healthy', rca: null, assignee: null, link: 'https://medic.example.com/v1/tables/lake%2Fodd%20name/health' });
  });
});

describe('pagerduty format (Events API v2)', () => {
  it.each([
    { name: 'tier 1 unhealthy → critical', t: transition(), severity: 'critical' },
    { name: 'tier 2 unhealthy → error', t: transition({ tier: 2 }), severity: 'error' },
    { name: 'tier 3 unhealthy → warning', t: transition({ tier: 3 }), severity: 'warning' },
    { name: 'tier 4 unhealthy → info', t: transition({ tier: 4 }), severity: 'info' },
    { name: 'no tier → info', t: transition({ tier: null }), severity: 'info' },
    { name: 'degraded on tier 1 → warning', t: transition({ newStatus: 'degraded' }), severity: 'warning' },
    { name: 'degraded never outranks unhealthy (no tier → info)', t: transition({ newStatus: 'degraded', tier: null }), severity: 'info' },
  ])('$name', ({ t, severity }) => {
    const body = pagerdutyPayload(t, OPTIONS)!;
    expect(body).toMatchObject({ routing_key: 'R0UTINGKEY', event_action: 'trigger', dedup_key: 'medic:lake.orders:source_unavailable:orders-db', payload: { severity } });
  });

  it('triggers with summary, source, component, group, class and details', () => {
    expect(pagerdutyPayload(transition(), OPTIONS)).toEqual({
      routing_key: 'R0UTINGKEY', event_action: 'trigger', dedup_key: 'medic:lake.orders:source_unavailable:orders-db',
      payload: {
        summary: 'lake.orders is unhealthy (was healthy): orders-db refused connections on 5432', source: 'medic', severity: 'critical',
        timestamp: AT.toISOString(), component: 'lake.orders', group: 'orders-team', class: 'source_unavailable',
        custom_details: {
          table: 'lake.orders', old_status: 'healthy', new_status: 'unhealthy', reason: 'source_unavailable: orders-db refused connections on 5432',
          tier: 1, owner: 'orders-team', rca_id: RCA.id, incident_id: RCA.incidentId, category: 'source_unavailable',
          assignee: { team: 'orders-dba', role: 'source_owner' }, medic_event_id: OPTIONS.eventId,
        },
      },
      client: 'Pipeline Medic', client_url: 'https://medic.example.com/v1/tables/lake.orders/health',
      links: [{ href: 'https://medic.example.com/v1/tables/lake.orders/health', text: 'lake.orders health' }],
    });
  });

  it('resolves on recovery with the dedup_key of the trigger it closes', () => {
    const trigger = pagerdutyPayload(transition(), OPTIONS)!;
    const resolve = pagerdutyPayload(recovery(), OPTIONS);
    expect(resolve).toEqual({ routing_key: 'R0UTINGKEY', event_action: 'resolve', dedup_key: trigger.dedup_key });
  });

  it('keys the alert on the RCA when there is no incident, and on the table', () => {
    const rca = { ...RCA, incidentId: null };
    expect(pagerdutyPayload(transition({ rca, episode: { key: rca.id, startedAt: AT } }), OPTIONS)!.dedup_key).toBe(`medic:lake.orders:${RCA.id}`);
    expect(pagerdutyPayload(transition({ table: 'lake.other' }), OPTIONS)!.dedup_key).toBe('medic:lake.other:source_unavailable:orders-db');
  });

  it('keeps dedup_key within 255 characters', () => {
    const table = `lake.${'x'.repeat(300)}`;
    const a = pagerdutyPayload(transition({ table }), OPTIONS)!;
    const b = pagerdutyPayload(recovery({ table }), OPTIONS)!;
    expect(a.dedup_key.length).toBeLessThanOrEqual(255);
    expect(b.dedup_key).toBe(a.dedup_key);
  });

  it.each([
    { name: 'unknown → healthy', t: transition({ oldStatus: 'unknown', newStatus: 'healthy', rca: null, episode: null }) },
    { name: 'healthy → unknown', t: transition({ oldStatus: 'healthy', newStatus: 'unknown', rca: null, episode: null }) },
  ])('has nothing to say for $name', ({ t }) => {
    expect(pagerdutyPayload(t, OPTIONS)).toBeNull();
    expect(buildPayload('pagerduty', t, OPTIONS)).toBeNull();
  });
});

describe('alertmanager format (webhook payload version 4)', () => {
  it('fires with the v4 envelope and one alert', () => {
    const body = alertmanagerPayload(transition(), OPTIONS)!;
    const labels = { alertname: 'MedicTableUnhealthy', table: 'lake.orders', status: 'unhealthy', severity: 'critical', category: 'source_unavailable', team: 'orders-team' };
    expect(body).toEqual({
      version: '4', groupKey: '{}:{table="lake.orders"}', truncatedAlerts: 0, status: 'firing', receiver: 'oncall',
      groupLabels: { table: 'lake.orders' }, commonLabels: labels,
      commonAnnotations: expect.objectContaining({ summary: 'lake.orders is unhealthy', runbook_url: `https://medic.example.com/v1/rca/${RCA.id}` }),
      externalURL: 'https://medic.example.com',
      alerts: [{
        status: 'firing', labels,
        annotations: {
          summary: 'lake.orders is unhealthy',
          description: 'lake.orders is unhealthy: orders-db refused connections on 5432 (source_unavailable; assignee orders-dba/source_owner).',
          runbook_url: `https://medic.example.com/v1/rca/${RCA.id}`, rca_id: RCA.id, link: 'https://medic.example.com/v1/tables/lake.orders/health',
        },
        startsAt: AT.toISOString(), endsAt: '0001-01-01T00:00:00Z', generatorURL: 'https://medic.example.com/v1/tables/lake.orders/health',
        fingerprint: fingerprint(labels),
      }],
    });
    expect(body.alerts[0]!.fingerprint).toMatch(/^[0-9a-f]{16}$/);
  });

  it('resolves the alert it fired: same labels and fingerprint, endsAt set', () => {
    const fired = alertmanagerPayload(transition(), OPTIONS)!.alerts[0]!;
    const body = alertmanagerPayload(recovery(), OPTIONS)!;
    expect(body.status).toBe('resolved');
    expect(body.alerts).toHaveLength(1);
    expect(body.alerts[0]).toMatchObject({ status: 'resolved', labels: fired.labels, fingerprint: fired.fingerprint, startsAt: AT.toISOString(), endsAt: '2026-05-01T10:30:00.000Z' });
  });

  it('on degraded → unhealthy, fires the new alert and resolves the degraded one', () => {
    const sla: RcaBrief = { ...RCA, id: '33333333-3333-4333-8333-333333333333', category: 'sla_miss', summary: 'late' };
    const body = alertmanagerPayload(transition({ oldStatus: 'degraded', previous: { at: EARLIER, rca: sla } }), OPTIONS)!;
    expect(body.status).toBe('firing');
    expect(body.alerts.map((a) => [a.status, (a.labels as Record<string, string>).status, (a.labels as Record<string, string>).severity])).toEqual([
      ['firing', 'unhealthy', 'critical'], ['resolved', 'degraded', 'warning'],
    ]);
    expect(body.commonLabels).toEqual({ alertname: 'MedicTableUnhealthy', table: 'lake.orders', team: 'orders-team' });
  });

  it('has nothing to fire or resolve for unknown → healthy', () => {
    expect(alertmanagerPayload(transition({ oldStatus: 'unknown', newStatus: 'healthy', rca: null, episode: null }), OPTIONS)).toBeNull();
  });
});

describe('statusSeverity', () => {
  it.each([
    ['unhealthy', 1, 'critical'], ['unhealthy', 2, 'error'], ['unhealthy', 3, 'warning'], ['unhealthy', 9, 'info'], ['unhealthy', null, 'info'],
    ['degraded', 1, 'warning'], ['degraded', 3, 'warning'], ['degraded', null, 'info'],
  ] as const)('%s on tier %s → %s', (status, tier, severity) => {
    expect(statusSeverity(status, tier)).toBe(severity);
  });
});

describe('matchesFilter', () => {
  const t = { table: 'lake.orders', newStatus: 'unhealthy', owner: 'orders-team', tier: 2 };
  it.each<[string, WebhookFilter, Partial<typeof t>, boolean]>([
    ['empty filter: everything', {}, {}, true],
    ['exact table', { tables: ['lake.orders'] }, {}, true],
    ['other table', { tables: ['lake.customers'] }, {}, false],
    ['prefix', { tables: ['lake.ord*'] }, {}, true],
    ['owner', { owners: ['orders-team'] }, {}, true],
    ['other owner', { owners: ['billing'] }, {}, false],
    ['no owner vs owner filter', { owners: ['orders-team'] }, { owner: null as never }, false],
    ['new status', { statuses: ['unhealthy'] }, {}, true],
    ['other status', { statuses: ['healthy', 'degraded'] }, {}, false],
    ['tier within bounds', { min_tier: 1, max_tier: 2 }, {}, true],
    ['tier above max', { max_tier: 1 }, {}, false],
    ['tier below min', { min_tier: 3 }, {}, false],
    ['no tier vs tier bound', { max_tier: 3 }, { tier: null as never }, false],
    ['all conditions', { tables: ['lake.*'], owners: ['orders-team'], statuses: ['unhealthy'], max_tier: 2 }, {}, true],
  ])('%s', (_name, filter, overrides, expected) => {
    expect(matchesFilter(filter, { ...t, ...overrides })).toBe(expected);
  });
});

describe('signature', () => {
  const secret = 'whsec-0123456789abcdef';
  const body = JSON.stringify({ table: 'lake.orders', note: 'ünïcode ✓' });

  it('verifies what was signed, in constant time, and nothing else', () => {
    const headers = deliveryHeaders({ eventId: 'e1', secret, body, now: new Date('2026-05-01T10:00:00Z') });
    expect(headers['X-Medic-Timestamp']).toBe('1777629600');
    expect(headers['X-Medic-Signature']).toBe(signPayload(secret, 1777629600, body));
    expect(headers['X-Medic-Signature']).toMatch(/^sha256=[0-9a-f]{64}$/);
    expect(verifySignature(secret, headers['X-Medic-Timestamp']!, body, headers['X-Medic-Signature'])).toBe(true);
    expect(verifySignature(secret, headers['X-Medic-Timestamp']!, Buffer.from(body), headers['X-Medic-Signature'])).toBe(true);
    expect(verifySignature('another-secret-0123456789', headers['X-Medic-Timestamp']!, body, headers['X-Medic-Signature'])).toBe(false);
    expect(verifySignature(secret, headers['X-Medic-Timestamp']!, body.replace('orders', 'orderz'), headers['X-Medic-Signature'])).toBe(false);
    expect(verifySignature(secret, '1777629601', body, headers['X-Medic-Signature'])).toBe(false);
    expect(verifySignature(secret, headers['X-Medic-Timestamp']!, body, 'sha256=abc')).toBe(false);
    expect(verifySignature(secret, headers['X-Medic-Timestamp']!, body, undefined)).toBe(false);
  });

  it('rejects stale timestamps when given a tolerance', () => {
    const sig = signPayload(secret, 1777629600, body);
    expect(verifySignature(secret, 1777629600, body, sig, { toleranceS: 300, now: new Date('2026-05-01T10:04:00Z') })).toBe(true);
    expect(verifySignature(secret, 1777629600, body, sig, { toleranceS: 300, now: new Date('2026-05-01T10:06:00Z') })).toBe(false);
  });
});
