import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestDaemon, waitFor, type TestDaemon } from './support/testDaemon.ts';
import { sampleDqFailure, sampleSlaMiss } from '../src/signals/sampleEvents.ts';

let daemon: TestDaemon;

beforeAll(async () => {
  daemon = await startTestDaemon('sla_dq_diagnosis', { MEDIC_SLA_MONITOR: 'off' });
  const catalog = await daemon.call('POST', '/v1/catalog', {
    body: {
      teams: [{ name: 'orders-eng' }, { name: 'orders-dba' }, { name: 'crm-eng' }, { name: 'data-platform', platform: true }],
      tables: [
        { name: 'lake.orders', owner: 'orders-eng', pipeline: { dag_id: 'orders_hourly', task_ids: ['load_orders'] }, source: { kind: 'postgres', name: 'orders-db', owner: 'orders-dba' }, sla: { schedule: '0 * * * *', complete_within_minutes: 60 } },
        { name: 'lake.invoices', owner: 'orders-eng', upstream: ['lake.customers'], sla: { schedule: '0 * * * *', complete_within_minutes: 60 } },
        { name: 'lake.customers', owner: 'crm-eng', pipeline: { dag_id: 'customers_daily' } },
      ],
    },
  });
  expect(catalog.status).toBe(200);
});

afterAll(async () => { await daemon?.close(); });

async function rcaOf(signalId: string) {
  return waitFor(async () => {
    const list = await daemon.call('GET', '/v1/rca?limit=1000');
    return list.body.items.find((r: { signal_ids: string[] }) => r.signal_ids.includes(signalId));
  }, 10_000, `the RCA of ${signalId}`);
}

const now = Date.now();
const iso = (offsetMinutes: number) => new Date(now + offsetMinutes * 60_000).toISOString();

describe('SLA misses and DQ failures are diagnosed from what Medic already knows', () => {
  it('an SLA miss whose run failed takes the failure\'s category, assignee and incident', async () => {
    const failure = await daemon.call('POST', '/v1/signals/airflow', {
      body: {
        event: 'failure', dag_id: 'orders_hourly', task_id: 'load_orders', run_id: 'scheduled__late', try_number: 1, end_date: iso(-30),
        exception: { type: 'psycopg2.OperationalError', message: 'could not connect to server: Connection refused' },
      },
    });
    const failureRca = await rcaOf(failure.body.signal_id);
    const sla = await daemon.call('POST', '/v1/signals/sla-miss', { body: sampleSlaMiss('lake.orders', new Date(now), { expected_by: iso(-1), detected_at: iso(0), run_id: 'scheduled__late', dag_id: 'orders_hourly' }) });
    expect(sla.status).toBe(202);
    const rca = await rcaOf(sla.body.signal_id);
    expect(rca).toMatchObject({ category: 'source_unavailable', incident_id: failureRca.incident_id, assignee: { team: 'orders-dba', role: 'source_owner' } });
    expect(rca.assignee.reason).toContain(failureRca.id);
    expect(rca.evidence.map((e: { analyser: string }) => e.analyser)).toEqual(['sla-timeline']);
  });

  it('an SLA miss behind an unhealthy upstream is the upstream owner\'s', async () => {
    await daemon.call('POST', '/v1/signals/airflow', {
      body: { event: 'failure', dag_id: 'customers_daily', task_id: 'extract', run_id: 'r1', try_number: 1, end_date: iso(-20), exception: { type: 'KeyError', message: "'id'" } },
    });
    await waitFor(async () => (await daemon.call('GET', '/v1/tables/lake.customers/health')).body.status === 'unhealthy', 10_000, 'lake.customers unhealthy');
    const sla = await daemon.call('POST', '/v1/signals/sla-miss', { body: sampleSlaMiss('lake.invoices', new Date(now), { expected_by: iso(-1), detected_at: iso(0) }) });
    const rca = await rcaOf(sla.body.signal_id);
    expect(rca).toMatchObject({ category: 'upstream_unhealthy', assignee: { team: 'crm-eng', role: 'upstream_owner' }, incident_id: 'upstream_unhealthy:lake.customers' });
    const health = await daemon.call('GET', '/v1/tables/lake.invoices/health');
    expect(health.body.status).toBe('degraded');
  });

  it('a completeness failure after a successful load is an incomplete load, with the partition in the steps', async () => {
    await daemon.call('POST', '/v1/signals/airflow', {
      body: { event: 'success', dag_id: 'orders_hourly', task_id: 'load_orders', run_id: 'scheduled__ok', try_number: 1, end_date: iso(-10) },
    });
    const dq = sampleDqFailure('lake.orders', new Date(now), { partition: 'dt=2026-11-27/hr=08', source_count: 120_000, lake_count: 118_250, detected_at: iso(0) });
    const accepted = await daemon.call('POST', '/v1/signals/dq-failure', { body: dq });
    expect(accepted.status).toBe(202);
    const rca = await rcaOf(accepted.body.signal_id);
    expect(rca).toMatchObject({ category: 'incomplete_load', assignee: { team: 'data-platform', role: 'platform' } });
    expect(rca.summary).toContain('1750');
    expect(rca.manual_steps).toContain('dt=2026-11-27/hr=08');
    expect(rca.manual_steps).toContain('source 120000, lake 118250');
    expect(rca.manual_steps).not.toMatch(/\{\w+\}/);
    const again = await daemon.call('POST', '/v1/signals/dq-failure', { body: dq });
    expect(again.status).toBe(200);
    expect(again.body.duplicate).toBe(true);
  });

  it('a source that reported zero rows is the source owner\'s data issue', async () => {
    const accepted = await daemon.call('POST', '/v1/signals/dq-failure', { body: sampleDqFailure('lake.orders', new Date(now), { source_count: 0, lake_count: 0 }) });
    const rca = await rcaOf(accepted.body.signal_id);
    expect(rca).toMatchObject({ category: 'source_data_issue', assignee: { team: 'orders-dba', role: 'source_owner' } });
  });

  it('rejects an invalid event with the field named, storing nothing', async () => {
    const bad = await daemon.call('POST', '/v1/signals/dq-failure', { body: { ...sampleDqFailure('lake.orders'), check_kind: 'vibes' } });
    expect(bad.status).toBe(400);
    expect(bad.body.error.field).toBe('body.check_kind');
    const missing = await daemon.call('POST', '/v1/signals/sla-miss', { body: { ...sampleSlaMiss('lake.orders'), expected_by: undefined } });
    expect(missing.status).toBe(400);
    expect(missing.body.error.field).toBe('body.expected_by');
  });
});
