/**
 * The baseline of scenario 2, as a child process (like the daemon's consumer): a kafkajs
 * consumer in its own group on the same topics, with a handler that only counts, consuming as
 * many partitions at once as the daemon does. Reports `{ type: 'joined' }` once in the group and
 * `{ type: 'count', n, at }` every 50 ms; stops on SIGTERM or when the parent goes away.
 */
import { Kafka, logLevel } from 'kafkajs';

const kafka = new Kafka({ clientId: 'bench-noop', brokers: (process.env.KAFKA_BROKERS ?? '').split(','), logLevel: logLevel.NOTHING });
const consumer = kafka.consumer({ groupId: process.env.GROUP ?? 'bench-noop', maxBytesPerPartition: 2 * 1_048_576 });
let count = 0;
let lastAt = 0;
let last = -1;
consumer.on(consumer.events.GROUP_JOIN, () => process.send?.({ type: 'joined' }));
await consumer.connect();
await consumer.subscribe({ topics: (process.env.TOPICS ?? '').split(','), fromBeginning: false });
await consumer.run({
  partitionsConsumedConcurrently: Number(process.env.PARTITIONS_CONCURRENCY ?? 8),
  eachMessage: async () => { count += 1; lastAt = Date.now(); },
});
process.send?.({ type: 'ready' });
const timer = setInterval(() => {
  if (count !== last) {
    last = count;
    process.send?.({ type: 'count', n: count, at: lastAt });
  }
}, 50);
let stopping = false;
const stop = async () => {
  if (stopping) return;
  stopping = true;
  clearInterval(timer);
  await consumer.disconnect().catch(() => undefined);
  process.exit(0);
};
process.on('SIGTERM', () => void stop());
process.on('disconnect', () => void stop());
