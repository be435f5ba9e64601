import { randomUUID } from 'node:crypto';
import { Kafka, logLevel, Partitioners, type Message, type Producer } from 'kafkajs';
import pg from 'pg';
import { cpuTimeMs, log, pollUntil, round, sleep, spawnTsChild, type BenchContext } from '../lib/common.ts';
import { startBenchDaemon } from '../lib/daemon.ts';
import { sampleDqFailure, sampleSlaMiss } from '../../src/signals/sampleEvents.ts';
import type { KafkaBroker } from '../../test/support/kafkaBroker.ts';

const SLA_TOPIC = 'medic.sla-miss';
const DQ_TOPIC = 'medic.dq-failure';
/** 3 + 3 = the 6 partitions of the issue (and what the daemon creates by itself). */
const PARTITIONS_PER_TOPIC = 3;
const CHUNK = 1000;

type Batch = { topic: string; messages: Message[] };

/** N events, half SLA misses and half DQ failures, over `tables` tables, keyed by table; serialised up front. */
function buildBatches(n: number, tables: number, prefix: string): Batch[] {
  const now = new Date();
  const sla: Message[] = [];
  const dq: Message[] = [];
  for (let i = 0; i < n; i++) {
    const table = `lake.${prefix}_${i % tables}`;
    if (i % 2 === 0) sla.push({ key: table, value: JSON.stringify(sampleSlaMiss(table, now, { id: randomUUID() })) });
    else dq.push({ key: table, value: JSON.stringify(sampleDqFailure(table, now, { id: randomUUID() })) });
  }
  const batches: Batch[] = [];
  for (let i = 0; i < Math.max(sla.length, dq.length); i += CHUNK) {
    if (i < sla.length) batches.push({ topic: SLA_TOPIC, messages: sla.slice(i, i + CHUNK) });
    if (i < dq.length) batches.push({ topic: DQ_TOPIC, messages: dq.slice(i, i + CHUNK) });
  }
  return batches;
}

/** Sends the batches, 4 in flight; resolves with the wall time. */
async function produce(producer: Producer, batches: Batch[]): Promise<number> {
  const started = performance.now();
  let next = 0;
  await Promise.all(Array.from({ length: 4 }, async () => {
    while (next < batches.length) {
      const batch = batches[next++]!;
      await producer.send({ topic: batch.topic, messages: batch.messages });
    }
  }));
  return performance.now() - started;
}

/**
 * Scenario 2: N SLA/DQ events over 6 partitions on a real broker, produced while the daemon
 * consumes; events/s from the first send to the last diagnosis. Baseline: a kafkajs consumer
 * with a no-op handler in its own group on the same topics, events/s from the first send to
 * the last message handled, measured the same way after the daemon has stopped.
 */
export async function runKafka(ctx: BenchContext, getBroker: () => Promise<KafkaBroker>): Promise<void> {
  const { events: n, tables, drainTimeoutMs } = ctx.scale.kafka;
  const broker = await getBroker();
  const kafka = new Kafka({ clientId: 'bench-producer', brokers: [broker.brokers], logLevel: logLevel.NOTHING, retry: { retries: 15, initialRetryTime: 200 } });
  const admin = kafka.admin();
  await admin.connect();
  const existing = new Set(await admin.listTopics());
  const missing = [SLA_TOPIC, DQ_TOPIC].filter((t) => !existing.has(t));
  if (missing.length > 0) await admin.createTopics({ topics: missing.map((topic) => ({ topic, numPartitions: PARTITIONS_PER_TOPIC })), waitForLeaders: true });
  await admin.disconnect();
  const producer = kafka.producer({ createPartitioner: Partitioners.DefaultPartitioner, allowAutoTopicCreation: false });
  await producer.connect();
  const undeferProducer = ctx.defer('kafka producer', () => producer.disconnect());
  try {
    // ---- the daemon ----
    const dbUrl = await ctx.createDatabase('kafka');
    const daemon = await startBenchDaemon(ctx, dbUrl, { KAFKA_BROKERS: broker.brokers, MEDIC_KAFKA_GROUP: 'medic-bench' });
    const db = new pg.Client({ connectionString: dbUrl });
    await db.connect();
    let daemonFigures: { eventsPerS: number; storedPerS: number; produceMs: number; diagnosed: number; stored: number; complete: boolean };
    try {
      // Warm-up: the consumer has joined its group and every step works, before the clock starts.
      await produce(producer, buildBatches(12, 12, 'kwarm'));
      const warm = await pollUntil(async () => Number((await db.query(`SELECT count(diagnosed_at) AS c FROM signals WHERE table_name LIKE 'lake.kwarm\\_%'`)).rows[0].c) >= 12, 120_000, 200);
      if (!warm) throw new Error('the daemon did not consume and diagnose the warm-up events within 120 s');
      const batches = buildBatches(n, tables, 'kafka');
      log(`kafka: daemon, ${n} events over ${PARTITIONS_PER_TOPIC * 2} partitions`);
      const t0 = Date.now();
      const cpuBefore = cpuTimeMs(daemon.pid);
      const produceMs = await produce(producer, batches);
      // Polled cheaply (is any row still undiagnosed? through their partial index) so that the poll does not
      // compete with the daemon for the database; the full count only once nothing is left undiagnosed.
      // The figures come from the rows' timestamps, not from when the poll noticed, so polling once a
      // second loses no precision.
      const drained = await pollUntil(async () => {
        const waiting = (await db.query(`SELECT EXISTS (SELECT 1 FROM signals WHERE diagnosed_at IS NULL AND table_name LIKE 'lake.kafka\\_%') AS w`)).rows[0].w;
        if (waiting) return false;
        const row = (await db.query(`SELECT count(diagnosed_at) AS diagnosed FROM signals WHERE table_name LIKE 'lake.kafka\\_%'`)).rows[0];
        return Number(row.diagnosed) >= n;
      }, drainTimeoutMs, 1000);
      const row = (await db.query(`
        SELECT count(*)::int AS stored, count(diagnosed_at)::int AS diagnosed,
          extract(epoch FROM max(received_at)) * 1000 AS last_stored, extract(epoch FROM max(diagnosed_at)) * 1000 AS last_diagnosed
        FROM signals WHERE table_name LIKE 'lake.kafka\\_%'`)).rows[0];
      const stored = Number(row.stored);
      const diagnosed = Number(row.diagnosed);
      // Not drained: the rate so far, up to now.
      const lastDiagnosed = drained ? Number(row.last_diagnosed) : Date.now();
      daemonFigures = {
        eventsPerS: diagnosed / Math.max(0.001, (lastDiagnosed - t0) / 1000),
        storedPerS: stored / Math.max(0.001, (Number(row.last_stored) - t0) / 1000),
        produceMs, diagnosed, stored, complete: Boolean(drained),
      };
      // Load-independent cost: the daemon's CPU from the first send to the end of the drain, per event stored and diagnosed.
      ctx.note('kafka', 'daemon_cpu_ms_per_event', round(((cpuTimeMs(daemon.pid) ?? NaN) - (cpuBefore ?? NaN)) / Math.max(1, diagnosed), 3));
      const dead = Number((await db.query('SELECT count(*) AS c FROM dead_letters')).rows[0].c);
      ctx.note('kafka', 'dead_letters', dead);
    } finally {
      await db.end();
      await daemon.stop();
    }

    // ---- baseline: a no-op consumer ----
    const consumer = await spawnTsChild<{ type: string; n?: number; at?: number }>('lib/noopConsumer.ts', {
      KAFKA_BROKERS: broker.brokers, TOPICS: `${SLA_TOPIC},${DQ_TOPIC}`, GROUP: `bench-noop-${randomUUID().slice(0, 8)}`, PARTITIONS_CONCURRENCY: '8',
    }, 120_000);
    const undeferConsumer = ctx.defer('no-op consumer', consumer.stop);
    let baseRate = 0;
    try {
      let count = 0;
      let lastAt = 0;
      consumer.onMessage((m) => { if (m.type === 'count') { count = m.n!; lastAt = m.at!; } });
      // The group starts at the latest offsets: send warm-ups until one arrives, then let it settle.
      const seen = await pollUntil(async () => {
        if (count > 0) return true;
        await produce(producer, buildBatches(12, 12, 'kwarm'));
        await sleep(500);
        return count > 0;
      }, 120_000, 0);
      if (!seen) throw new Error('the no-op consumer received nothing within 120 s');
      await pollUntil(async () => { const before = count; await sleep(500); return count === before; }, 10_000, 0);
      const start = count;
      const batches = buildBatches(n, tables, 'kafka');
      log(`kafka: baseline no-op consumer, ${n} events`);
      const t0 = Date.now();
      await produce(producer, batches);
      const done = await pollUntil(async () => count - start >= n, drainTimeoutMs, 50);
      baseRate = (count - start) / Math.max(0.001, ((done ? lastAt : Date.now()) - t0) / 1000);
    } finally {
      undeferConsumer();
      await consumer.stop();
    }

    ctx.record('kafka', 'events_per_s', round(daemonFigures.eventsPerS, 1), 'events/s', round(baseRate, 1));
    ctx.record('kafka', 'stored_per_s', round(daemonFigures.storedPerS, 1), 'events/s', round(baseRate, 1));
    ctx.note('kafka', 'events', n);
    ctx.note('kafka', 'tables', tables);
    ctx.note('kafka', 'partitions', `${SLA_TOPIC} ×${PARTITIONS_PER_TOPIC} + ${DQ_TOPIC} ×${PARTITIONS_PER_TOPIC}`);
    ctx.note('kafka', 'produce_ms', Math.round(daemonFigures.produceMs));
    ctx.note('kafka', 'stored', daemonFigures.stored);
    ctx.note('kafka', 'diagnosed', daemonFigures.diagnosed);
    ctx.note('kafka', 'all_diagnosed', daemonFigures.complete);
  } finally {
    undeferProducer();
    await producer.disconnect();
  }
}
