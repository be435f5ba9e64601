import net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestDaemon, waitFor, type TestDaemon } from './support/testDaemon.ts';

/**
 * A source database dies and every pipeline reading it fails at once. The source here is a real
 * TCP listener that accepts and drops every connection (what a crashed database behind a load
 * balancer looks like) and counts how often it was probed.
 */
let daemon: TestDaemon;
let source: net.Server;
let probes = 0;
const TABLES = 100;
const SIGNALS = 500;

beforeAll(async () => {
  source = net.createServer((socket) => { probes += 1; socket.destroy(); });
  await new Promise<void>((resolve) => source.listen(0, '127.0.0.1', resolve));
  const port = (source.address() as net.AddressInfo).port;
  daemon = await startTestDaemon('surge', {
    SOURCE_ORDERS_DB_DSN: `postgres://etl:secret@127.0.0.1:${port}/orders`,
    MEDIC_LOOKUP_TTL_MS: '60000',
    MEDIC_SLA_MONITOR: 'off',
  });
  const tables = Array.from({ length: TABLES }, (_, i) => ({
    name: `lake.orders_${i}`, owner: 'orders-eng', pipeline: { dag_id: `orders_${i}` },
    source: { kind: 'postgres', name: 'orders-db', owner: 'orders-dba' },
  }));
  const applied = await daemon.call('POST', '/v1/catalog', { body: { teams: [{ name: 'orders-dba' }, { name: 'orders-eng' }], tables } });
  expect(applied.status).toBe(200);
}, 120_000);

afterAll(async () => {
  await daemon?.close();
  await new Promise((resolve) => source?.close(resolve));
});

describe('surge: one source outage fails 500 pipelines', () => {
  it('diagnoses all of them as one incident, probing the source a handful of times', async () => {
    const started = Date.now();
    const statuses: number[] = [];
    for (let batch = 0; batch < SIGNALS; batch += 50) {
      statuses.push(...await Promise.all(Array.from({ length: 50 }, async (_, k) => {
        const i = batch + k;
        const response = await daemon.call('POST', '/v1/signals/airflow', {
          body: {
            event: 'failure', dag_id: `orders_${i % TABLES}`, task_id: 'load', run_id: `scheduled__${Math.floor(i / TABLES)}`, try_number: 1,
            exception: { type: 'psycopg2.OperationalError', message: 'could not connect to server: Connection refused\n\tIs the server running on host "orders-db" (10.0.0.5) and accepting\n\tTCP/IP connections on port 5432?' },
            tables: [`lake.orders_${i % TABLES}`],
          },
        });
        return response.status;
      })));
    }
    expect(statuses.every((s) => s === 202)).toBe(true);
    const incidents = await waitFor(async () => {
      const list = await daemon.call('GET', '/v1/incidents?status=open');
      return list.body.items[0]?.rca_count === SIGNALS ? list.body.items : null;
    }, 120_000, `${SIGNALS} RCAs in one incident`);
    const elapsed = Date.now() - started;
    expect(incidents).toHaveLength(1);
    expect(incidents[0]).toMatchObject({
      id: 'source_unavailable:orders-db', category: 'source_unavailable', resource: 'orders-db', status: 'open',
      assignee: { team: 'orders-dba', role: 'source_owner' }, rca_count: SIGNALS, open_rca_count: SIGNALS,
    });
    expect(incidents[0].tables).toHaveLength(TABLES);
    // Confirmed by asking the source, not guessed from the message.
    const one = await daemon.call('GET', '/v1/rca?limit=1');
    expect(one.body.items[0].confidence).toBeGreaterThanOrEqual(0.95);
    expect(one.body.items[0].evidence.map((e: { analyser: string }) => e.analyser)).toContain('source-database');
    expect(probes).toBeGreaterThan(0);
    expect(probes).toBeLessThanOrEqual(5);
    console.info(`surge: ${SIGNALS} failures over ${TABLES} tables diagnosed in ${elapsed} ms as 1 incident; the source was probed ${probes} time(s)`);

    const detail = await daemon.call('GET', `/v1/incidents/${encodeURIComponent('source_unavailable:orders-db')}`);
    expect(detail.status).toBe(200);
    expect(detail.body.rca_ids).toHaveLength(SIGNALS);
    expect((await daemon.call('GET', '/v1/incidents/nope:nothing')).status).toBe(404);
  }, 180_000);
});
