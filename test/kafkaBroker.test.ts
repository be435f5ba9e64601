import { rm } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Kafka, logLevel, Partitioners, type Consumer, type Producer } from 'kafkajs';
import { startKafkaBroker, type KafkaBroker } from './support/kafkaBroker.ts';

// Proves that kafkajs 2.2.4 and the Kafka broker of scripts/kafka-broker.sh agree on the protocol:
// admin, produce, consumer-group consume, and the same after a broker restart on the same data.

const LONG = 300_000;

let broker: KafkaBroker | undefined;

function kafka(): Kafka {
  return new Kafka({
    clientId: 'medic-kafka-broker-test',
    brokers: [broker!.brokers],
    logLevel: logLevel.NOTHING,
    retry: { retries: 10, initialRetryTime: 200 },
  });
}

/** Subscribes a fresh consumer in `groupId` and collects `count` messages of `topic`, from the beginning. */
async function consume(topic: string, groupId: string, count: number): Promise<{ consumer: Consumer; messages: { partition: number; key: string; value: string }[] }> {
  const consumer = kafka().consumer({ groupId, sessionTimeout: 10_000, heartbeatInterval: 1_000 });
  const messages: { partition: number; key: string; value: string }[] = [];
  await consumer.connect();
  await consumer.subscribe({ topic, fromBeginning: true });
  const done = new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`only ${messages.length}/${count} messages consumed`)), 60_000);
    void consumer.run({
      eachMessage: async ({ partition, message }) => {
        messages.push({ partition, key: message.key?.toString() ?? '', value: message.value?.toString() ?? '' });
        if (messages.length >= count) {
          clearTimeout(timer);
          resolve();
        }
      },
    });
  });
  await done;
  return { consumer, messages };
}

async function produce(producer: Producer, topic: string, prefix: string, count: number): Promise<void> {
  await producer.send({
    topic,
    messages: Array.from({ length: count }, (_, i) => ({ key: `k${i}`, value: `${prefix}-${i}` })),
  });
}

describe('real Kafka broker (scripts/kafka-broker.sh) with kafkajs 2.2.4', () => {
  beforeAll(async () => {
    broker = await startKafkaBroker();
  }, LONG);

  afterAll(async () => {
    if (broker) {
      await broker.stop();
      await rm(broker.dataDir, { recursive: true, force: true });
    }
  }, LONG);

  it('creates a 3-partition topic, produces 30 messages and consumes them with a consumer group, also after a restart', { timeout: LONG }, async () => {
    const topic = 'medic-test-events';
    const admin = kafka().admin();
    await admin.connect();
    expect(await admin.createTopics({ topics: [{ topic, numPartitions: 3, replicationFactor: 1 }], waitForLeaders: true })).toBe(true);
    const [metadata] = (await admin.fetchTopicMetadata({ topics: [topic] })).topics;
    expect(metadata?.partitions).toHaveLength(3);
    await admin.disconnect();

    const producer = kafka().producer({ createPartitioner: Partitioners.DefaultPartitioner });
    await producer.connect();
    await produce(producer, topic, 'first', 30);
    await producer.disconnect();

    const first = await consume(topic, 'medic-test', 30);
    await first.consumer.disconnect();
    expect(first.messages).toHaveLength(30);
    expect(first.messages.map((m) => m.value).sort()).toEqual(Array.from({ length: 30 }, (_, i) => `first-${i}`).sort());
    expect(new Set(first.messages.map((m) => m.partition)).size).toBe(3);
    for (const m of first.messages) expect(m.value).toBe(`first-${m.key.slice(1)}`);

    const before = broker!.brokers;
    await broker!.restart();
    expect(broker!.brokers).toBe(before);

    // Same group after the restart: the committed offsets survived, so only the new messages arrive.
    const producer2 = kafka().producer({ createPartitioner: Partitioners.DefaultPartitioner });
    await producer2.connect();
    await produce(producer2, topic, 'second', 5);
    await producer2.disconnect();

    const second = await consume(topic, 'medic-test', 5);
    // Give a stray duplicate a moment to show up before asserting the exact set.
    await new Promise((r) => setTimeout(r, 500));
    await second.consumer.disconnect();
    expect(second.messages.map((m) => m.value).sort()).toEqual(Array.from({ length: 5 }, (_, i) => `second-${i}`).sort());
  });
});
