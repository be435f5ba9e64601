import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Kafka, logLevel, Partitioners, type Admin, type Producer } from 'kafkajs';
import pg from 'pg';
import { startKafkaBroker, type KafkaBroker } from '../support/kafkaBroker.ts';
import { spawnDaemon, type DaemonProcess } from '../support/daemonProcess.ts';
import { createTestDatabase } from '../support/testDatabase.ts';
import { waitFor } from '../support/testDaemon.ts';
import { sampleDqFailure, sampleSlaMiss } from '../../src/signals/sampleEvents.ts';
import { kafkaLoad, settle } from './support/outage.ts';

// Issue #10, item 4: the Kafka broker restarted while events keep coming. Offsets are committed
// only after the signal rows are (DESIGN 1), so a restart can redeliver but never skip; the event
// id dedupes the redeliveries. Every acknowledged event must end with one signal and one RCA.

const TOKEN = 'broker-outage-reliability-admin-token';
const TOPICS = ['medic.sla-miss', 'medic.dq-failure'] as const;
const GROUP = 'medic';
const EVENTS_PER_S = 60;
const WARM_UP_MS = 5_000;
const AFTER_RESTART_MS = 5_000;
/** Events acknowledged before the restart that are produced a second time after it: sure redeliveries. */
const REDELIVERED = 100;
/** The consumer must have caught up (group lag 0, every acknowledged event diagnosed) this soon after the broker is back. */
const CATCH_UP_BOUND_MS = 60_000;

let database: Awaited<ReturnType<typeof createTestDatabase>>;
let broker: KafkaBroker;
let kafka: Kafka;
let producer: Producer;
let admin: Admin;
let daemon: DaemonProcess;
let home: string;
let client: pg.Client;

beforeAll(async () => {
  [database, broker] = await Promise.all([createTestDatabase('broker_outage'), startKafkaBroker()]);
  client = new pg.Client({ connectionString: database.url });
  await client.connect();
  // Generous producer retries: a send issued while the broker is away waits for it instead of failing.
  kafka = new Kafka({ clientId: 'broker-outage-producer', brokers: [broker.brokers], logLevel: logLevel.NOTHING, retry: { retries: 30, initialRetryTime: 200, maxRetryTime: 2000 } });
  admin = kafka.admin();
  await admin.connect();
  await admin.createTopics({ topics: TOPICS.map((topic) => ({ topic, numPartitions: 3 })), waitForLeaders: true });
  producer = kafka.producer({ createPartitioner: Partitioners.DefaultPartitioner });
  await producer.connect();
  home = await fs.mkdtemp(path.join(os.tmpdir(), 'medic-broker-outage-home-'));
  daemon = await spawnDaemon({
    DATABASE_URL: database.url, KAFKA_BROKERS: broker.brokers, MEDIC_KAFKA_GROUP: GROUP, MEDIC_ADMIN_TOKEN: TOKEN, MEDIC_HOME: home,
    MEDIC_SLA_MONITOR: 'off', MEDIC_DIAGNOSIS_POLL_MS: '200', LOG_LEVEL: 'warn',
  });
}, 240_000);

afterAll(async () => {
  await producer?.disconnect().catch(() => undefined);
  await admin?.disconnect().catch(() => undefined);
  await daemon?.stop();
  await broker?.stop();
  await client?.end().catch(() => undefined);
  await database?.drop();
  if (home) await fs.rm(home, { recursive: true, force: true });
}, 120_000);

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Messages the group has not committed yet, over every partition of both topics. */
async function groupLag(): Promise<number> {
  let lag = 0;
  for (const topic of TOPICS) {
    const ends = await admin.fetchTopicOffsets(topic);
    const [committed] = await admin.fetchOffsets({ groupId: GROUP, topics: [topic] });
    for (const end of ends) {
      const at = committed?.partitions.find((p) => p.partition === end.partition)?.offset ?? '-1';
      lag += Number(end.high) - Math.max(Number(at), 0);
    }
  }
  return lag;
}

/** Messages in both topics, redeliveries included. */
async function messagesInTopics(): Promise<number> {
  let total = 0;
  for (const topic of TOPICS) for (const p of await admin.fetchTopicOffsets(topic)) total += Number(p.high) - Number(p.low);
  return total;
}

async function duplicatesCounted(): Promise<number> {
  const text = await (await fetch(`${daemon.url}/metrics`)).text();
  return Number(/^medic_signals_duplicate_total\{source="kafka"\} (\d+)/m.exec(text)?.[1] ?? 0);
}

describe('broker outage under load (issue #10, item 4)', () => {
  it('resumes after a broker restart: every acknowledged event gets one signal and one RCA, redeliveries are deduplicated', async () => {
    let daemonExit: number | string | null = null;
    void daemon.exited.then((code) => { daemonExit = code; });
    const values = new Map<string, { topic: string; partitionKey: string; value: string }>();
    const load = kafkaLoad(producer, EVENTS_PER_S, 512, (seq) => {
      const table = `lake.broker_outage_${seq % 30}`;
      const kind = seq % 2 === 0 ? 'dq_failure' : 'sla_miss';
      const event = kind === 'dq_failure' ? sampleDqFailure(table) : sampleSlaMiss(table);
      const message = { topic: `medic.${kind.replace('_', '-')}`, key: `${kind}/${event.id}`, partitionKey: table, value: JSON.stringify(event) };
      values.set(message.key, message);
      return message;
    });

    await sleep(WARM_UP_MS);
    const restartRequestedAt = Date.now();
    await broker.restart();
    const brokerBackAt = Date.now();
    await sleep(AFTER_RESTART_MS);
    const produced = await load.stop();

    // Redeliver a sample of the events acknowledged before the restart, as a producer retrying after a lost ack would.
    const beforeRestart = produced.filter((p) => p.acked && p.answeredAt < restartRequestedAt).slice(0, REDELIVERED);
    expect(beforeRestart).toHaveLength(REDELIVERED);
    for (const topic of TOPICS) {
      const again = beforeRestart.map((p) => values.get(p.key)!).filter((m) => m.topic === topic);
      await producer.send({ topic, messages: again.map((m) => ({ key: m.partitionKey, value: m.value })) });
    }
    const redeliveredAt = Date.now();

    const acked = produced.filter((p) => p.acked);
    const ackedKeys = acked.map((p) => p.key);
    const caughtUp = await waitFor(async () => ((await groupLag()) === 0 ? Date.now() : null), CATCH_UP_BOUND_MS, 'consumer group lag 0');
    const result = await settle(client, ackedKeys, CATCH_UP_BOUND_MS);
    // Anything produced but not acknowledged may or may not be in the topic; if it is, it too is stored once.
    const everything = await settle(client, produced.map((p) => p.key), 0);
    const [{ signals, rcas }] = (await client.query<{ signals: number; rcas: number }>(
      'SELECT (SELECT count(*)::int FROM signals) AS signals, (SELECT count(*)::int FROM rca_records) AS rcas')).rows as [{ signals: number; rcas: number }];
    // The consumer resumed by itself: the first signal stored after the broker came back, and how soon.
    const firstAfter = (await client.query<{ at: Date | null }>(`SELECT min(received_at) AS at FROM signals WHERE source = 'kafka' AND received_at >= $1`, [new Date(brokerBackAt)])).rows[0]?.at;
    expect(firstAfter).toBeInstanceOf(Date);
    const resumedMs = firstAfter!.getTime() - brokerBackAt;
    const inTopics = await messagesInTopics();
    const deduplicated = await duplicatesCounted();

    const figures = {
      produced: produced.length, acked: acked.length, unacked: produced.length - acked.length,
      sent_during_restart: produced.filter((p) => p.sentAt >= restartRequestedAt && p.sentAt <= brokerBackAt).length,
      redelivered_on_purpose: beforeRestart.length, messages_in_topics: inTopics, signals_stored: signals,
      deduplicated_by_consumer: deduplicated, diagnosed: result.diagnosed, duplicated: everything.duplicated.length,
      lost: result.lost.length, undiagnosed: result.undiagnosed.length,
      broker_restart_ms: brokerBackAt - restartRequestedAt, consumer_resumed_ms: resumedMs,
      lag_zero_ms_after_load: caughtUp - redeliveredAt, all_diagnosed_ms_after_load: result.settleMs + caughtUp - redeliveredAt,
    };
    console.info(`broker outage: ${Object.entries(figures).map(([k, v]) => `${k}=${v}`).join(' ')}`);

    expect(figures.sent_during_restart).toBeGreaterThan(0);
    expect(resumedMs).toBeLessThan(CATCH_UP_BOUND_MS);
    expect(result.lost).toEqual([]);
    expect(result.undiagnosed).toEqual([]);
    expect(result.diagnosed).toBe(new Set(ackedKeys).size);
    expect(everything.duplicated).toEqual([]);
    // One signal per distinct event in the topics and one RCA per signal: redeliveries changed nothing.
    expect(rcas).toBe(signals);
    expect(signals).toBeLessThanOrEqual(produced.length);
    expect(inTopics - signals).toBeGreaterThanOrEqual(REDELIVERED);
    expect(deduplicated).toBeGreaterThanOrEqual(REDELIVERED);
    expect(daemonExit).toBeNull();
    expect(daemon.child.exitCode).toBeNull();
  }, 180_000);
});
