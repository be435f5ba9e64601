import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Kafka, logLevel, Partitioners, type Producer } from 'kafkajs';
import pg from 'pg';
import { startKafkaBroker, type KafkaBroker } from './support/kafkaBroker.ts';
import { startTestDaemon, waitFor, type TestDaemon } from './support/testDaemon.ts';
import { createTestDatabase } from './support/testDatabase.ts';
import { spawnDaemon } from './support/daemonProcess.ts';
import { sampleDqFailure, sampleSlaMiss } from '../src/signals/sampleEvents.ts';

let broker: KafkaBroker;
let daemon: TestDaemon;
let producer: Producer;
let db: pg.Client;
let kafka: Kafka;

async function createTopics(names: string[]) {
  const admin = kafka.admin();
  await admin.connect();
  await admin.createTopics({ topics: names.map((topic) => ({ topic, numPartitions: 3 })), waitForLeaders: true });
  await admin.disconnect();
}

const send = (topic: string, messages: Array<{ key?: string; value: string | Buffer }>) => producer.send({ topic, messages });

async function rows<T = Record<string, unknown>>(query: string, params: unknown[] = []): Promise<T[]> {
  return (await db.query(query, params)).rows as T[];
}

beforeAll(async () => {
  broker = await startKafkaBroker();
  kafka = new Kafka({ clientId: 'medic-test', brokers: [broker.brokers], logLevel: logLevel.NOTHING, retry: { retries: 15, initialRetryTime: 200 } });
  await createTopics(['medic.sla-miss', 'medic.dq-failure']);
  producer = kafka.producer({ createPartitioner: Partitioners.DefaultPartitioner });
  await producer.connect();
  daemon = await startTestDaemon('kafka_signals', { KAFKA_BROKERS: broker.brokers, MEDIC_KAFKA_MAX_MESSAGE_BYTES: '65536', MEDIC_SLA_MONITOR: 'off' });
  db = new pg.Client({ connectionString: daemon.databaseUrl });
  await db.connect();
}, 300_000);

afterAll(async () => {
  await producer?.disconnect().catch(() => undefined);
  await db?.end();
  await daemon?.close();
  await broker?.stop();
}, 120_000);

describe('Kafka signals against a real broker', () => {
  it('turns SLA-miss and DQ-failure events into signals and RCA records', async () => {
    const sla = sampleSlaMiss('lake.kafka_orders');
    const dq = sampleDqFailure('lake.kafka_orders', new Date(), { severity: 'warn' });
    await send('medic.sla-miss', [{ key: sla.table, value: JSON.stringify(sla) }]);
    await send('medic.dq-failure', [{ key: dq.table, value: JSON.stringify(dq) }]);
    const rcas = await waitFor(async () => {
      const found = await rows<{ kind: string; source: string; category: string }>(`
        SELECT s.kind, s.source, r.category FROM signals s JOIN rca_records r ON r.signal_id = s.id
        WHERE s.dedupe_key IN ($1, $2) ORDER BY s.kind`, [`sla_miss/${sla.id}`, `dq_failure/${dq.id}`]);
      return found.length === 2 ? found : null;
    }, 30_000, 'two RCAs from Kafka');
    expect(rcas.map((r) => [r.kind, r.source])).toEqual([['dq_failure', 'kafka'], ['sla_miss', 'kafka']]);
    const health = await daemon.call('GET', '/v1/tables/lake.kafka_orders/health');
    expect(health.body.status).toBe('degraded');
    const metrics = await daemon.call('GET', '/metrics', { token: null });
    expect(metrics.body).toMatch(/medic_kafka_consumer_lag\{topic="medic.sla-miss",partition="\d"\} 0/);
    expect(metrics.body).toContain('medic_signals_received_total{kind="sla_miss",source="kafka"} 1');
  });

  it('stores an event delivered twice once', async () => {
    const event = sampleDqFailure('lake.kafka_twice');
    await send('medic.dq-failure', [{ key: 'a', value: JSON.stringify(event) }, { key: 'b', value: JSON.stringify(event) }]);
    await waitFor(async () => (await rows(`SELECT 1 FROM rca_records WHERE table_name = 'lake.kafka_twice'`)).length === 1, 30_000, 'the RCA');
    // Both copies are consumed (the one after them arrives), yet one signal and one RCA exist.
    const marker = sampleDqFailure('lake.kafka_twice_marker');
    await send('medic.dq-failure', [{ key: 'a', value: JSON.stringify(marker) }, { key: 'b', value: JSON.stringify(marker) }]);
    await waitFor(async () => (await rows(`SELECT 1 FROM signals WHERE table_name = 'lake.kafka_twice_marker'`)).length === 1, 30_000, 'the marker');
    await new Promise((r) => setTimeout(r, 500));
    expect(await rows(`SELECT id FROM signals WHERE table_name = 'lake.kafka_twice'`)).toHaveLength(1);
    expect(await rows(`SELECT id FROM rca_records WHERE table_name = 'lake.kafka_twice'`)).toHaveLength(1);
  });

  it('dead-letters poison messages with their bytes and position, and keeps consuming the partition', async () => {
    const valid = sampleSlaMiss('lake.after_poison');
    const schemaInvalid = JSON.stringify({ ...sampleSlaMiss('lake.poison'), sla_kind: 'eventually' });
    // Valid (extra fields are kept), only too big for MEDIC_KAFKA_MAX_MESSAGE_BYTES=65536.
    const oversized = JSON.stringify({ ...sampleSlaMiss('lake.poison_big'), padding: 'x'.repeat(70_000) });
    // One key: one partition, so the valid event is behind the poison ones.
    await send('medic.sla-miss', [
      { key: 'poison', value: '{"id": "broken' },
      { key: 'poison', value: schemaInvalid },
      { key: 'poison', value: oversized },
      { key: 'poison', value: JSON.stringify(valid) },
    ]);
    await waitFor(async () => (await rows(`SELECT 1 FROM signals WHERE table_name = 'lake.after_poison'`)).length === 1, 30_000, 'the event after the poison');
    const letters = await rows<{ reason: string; topic: string; partition: number; offset: string; value_bytes: number; value: Buffer }>(
      `SELECT reason, topic, partition, "offset", value_bytes, value FROM dead_letters WHERE topic = 'medic.sla-miss' ORDER BY "offset"::bigint`);
    expect(letters.map((l) => l.reason.split(':')[0])).toEqual(['invalid JSON', 'schema', 'oversized']);
    expect(letters[0]!.value.toString()).toBe('{"id": "broken');
    expect(letters[1]!.reason).toContain('sla_kind');
    expect(letters[2]!.value_bytes).toBeGreaterThan(65_536);
    expect(new Set(letters.map((l) => l.partition)).size).toBe(1);

    const listed = await daemon.call('GET', '/v1/dead-letters?topic=medic.sla-miss');
    expect(listed.status).toBe(200);
    expect(listed.body.items).toHaveLength(3);
    const [oversizedLetter, schemaLetter] = listed.body.items;
    expect(oversizedLetter.reason).toMatch(/^oversized/);

    const stillBad = await daemon.call('POST', `/v1/dead-letters/${schemaLetter.id}/replay`);
    expect(stillBad.status).toBe(422);
    expect(stillBad.body.error.message).toContain('sla_kind');
    // The oversized one is a valid event: replaying it stores it (the size limit guards the consumer, not replay).
    const replayed = await daemon.call('POST', `/v1/dead-letters/${oversizedLetter.id}/replay`);
    expect(replayed.status).toBe(202);
    const again = await daemon.call('POST', `/v1/dead-letters/${oversizedLetter.id}/replay`);
    expect(again.status).toBe(200);
    expect(again.body).toMatchObject({ signal_id: replayed.body.signal_id, duplicate: true, already_replayed: true });
    await waitFor(async () => (await rows(`SELECT 1 FROM rca_records WHERE table_name = 'lake.poison_big'`)).length === 1, 30_000, 'the replayed RCA');
    expect((await daemon.call('GET', '/v1/dead-letters', { token: null })).status).toBe(401);
  });

  it('dead-letters a message whose handling fails (PostgreSQL refuses a \\u0000) instead of crash-looping on it', async () => {
    const nul = JSON.stringify({ ...sampleDqFailure('lake.nul_text'), check: 'row_count\u0000' });
    const after = sampleDqFailure('lake.after_nul');
    await send('medic.dq-failure', [{ key: 'nul', value: nul }, { key: 'nul', value: JSON.stringify(after) }]);
    await waitFor(async () => (await rows(`SELECT 1 FROM signals WHERE table_name = 'lake.after_nul'`)).length === 1, 30_000, 'the event after the failing one');
    const letters = await rows<{ reason: string }>(`SELECT reason FROM dead_letters WHERE topic = 'medic.dq-failure'`);
    expect(letters.map((l) => l.reason)).toEqual([expect.stringMatching(/^handler error: .*unsupported Unicode escape sequence/)]);
    // The same body over HTTP is a 400, not a 500.
    const http = await daemon.call('POST', '/v1/signals/dq-failure', { raw: nul });
    expect(http.status).toBe(400);
    expect(http.body.error.code).toBe('unstorable_text');
  });

  it('loses nothing when the broker restarts mid-stream', async () => {
    const events = Array.from({ length: 100 }, (_, i) => sampleDqFailure(`lake.restart_${i % 10}`));
    await send('medic.dq-failure', events.slice(0, 50).map((e) => ({ key: e.table, value: JSON.stringify(e) })));
    await broker.restart();
    await send('medic.dq-failure', events.slice(50).map((e) => ({ key: e.table, value: JSON.stringify(e) })));
    const keys = events.map((e) => `dq_failure/${e.id}`);
    await waitFor(async () => (await rows(`SELECT 1 FROM rca_records r JOIN signals s ON s.id = r.signal_id WHERE s.dedupe_key = ANY($1)`, [keys])).length === 100, 90_000, '100 RCAs after the restart');
    const perSignal = await rows<{ n: number }>(`SELECT count(r.id)::int AS n FROM signals s LEFT JOIN rca_records r ON r.signal_id = s.id WHERE s.dedupe_key = ANY($1) GROUP BY s.id`, [keys]);
    expect(perSignal).toHaveLength(100);
    expect(perSignal.every((r) => r.n === 1)).toBe(true);
  }, 180_000);
});

describe('two daemon processes in one consumer group', () => {
  it('diagnoses each event exactly once', async () => {
    const database = await createTestDatabase('kafka_group');
    await createTopics(['two.sla-miss', 'two.dq-failure']);
    const env = {
      DATABASE_URL: database.url, KAFKA_BROKERS: broker.brokers, MEDIC_KAFKA_GROUP: 'medic-two', MEDIC_ADMIN_TOKEN: 'two-processes-admin-token',
      MEDIC_KAFKA_TOPIC_SLA_MISS: 'two.sla-miss', MEDIC_KAFKA_TOPIC_DQ_FAILURE: 'two.dq-failure', MEDIC_SLA_MONITOR: 'off', LOG_LEVEL: 'info',
    };
    const first = await spawnDaemon(env);
    const second = await spawnDaemon(env);
    const client = new pg.Client({ connectionString: database.url });
    await client.connect();
    try {
      // Produce only once both members hold partitions, so the test shows the work being shared.
      const admin = kafka.admin();
      await admin.connect();
      await waitFor(async () => {
        const { groups } = await admin.describeGroups(['medic-two']);
        return groups[0]?.state === 'Stable' && groups[0].members.length === 2;
      }, 60_000, 'a stable two-member group');
      await admin.disconnect();
      const events = Array.from({ length: 200 }, (_, i) => sampleDqFailure(`lake.group_${i % 25}`));
      await send('two.dq-failure', events.map((e) => ({ key: e.table, value: JSON.stringify(e) })));
      await waitFor(async () => (await client.query('SELECT count(*)::int AS n FROM rca_records')).rows[0].n >= 200, 90_000, '200 RCAs');
      await new Promise((r) => setTimeout(r, 1000));
      const perSignal = (await client.query('SELECT s.dedupe_key, count(r.id)::int AS n FROM signals s LEFT JOIN rca_records r ON r.signal_id = s.id GROUP BY s.id')).rows;
      expect(perSignal).toHaveLength(200);
      expect(perSignal.filter((r) => r.n !== 1)).toEqual([]);
      // Batches are logged with their stored count, single messages one line each.
      const consumed = [first, second].map((p) => (p.output().match(/"signal accepted"/g) ?? []).length
        + [...p.output().matchAll(/"stored":(\d+)[^\n]*"Kafka batch stored"/g)].reduce((sum, m) => sum + Number(m[1]), 0));
      console.info(`two processes: signals accepted from Kafka per process ${consumed.join(' + ')}`);
      expect(consumed[0]! + consumed[1]!).toBeGreaterThanOrEqual(200);
      expect(Math.min(...consumed)).toBeGreaterThan(0);
    } finally {
      first.child.kill('SIGTERM');
      second.child.kill('SIGTERM');
      await Promise.all([first.exited, second.exited]);
      await client.end();
      await database.drop();
    }
  }, 240_000);
});
