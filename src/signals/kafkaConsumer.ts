import { Kafka, logLevel as KafkaLogLevel, type Consumer, type EachBatchPayload, type EachMessagePayload, type LogEntry } from 'kafkajs';
import type { Logger } from 'pino';
import type { KafkaConfig } from '../config.ts';
import type { Database } from '../db/client.ts';
import type { Metrics } from '../metrics.ts';
import { isDatabaseUnavailable } from '../api/errors.ts';
import { normaliseError } from '../errors.ts';
import { parseEventBytes, type EventKind } from './kafkaEvents.ts';
import { insertDeadLetter } from './deadLetters.ts';
import { storeSignals, type NewSignal, type SignalIntake } from './signalStore.ts';

export interface KafkaConsumerDeps {
  config: KafkaConfig;
  database: Database;
  log: Logger;
  metrics: Metrics;
  onSignalStored: () => void;
  /** The diagnosis worker of this process, to take freshly stored signals it has room for without claiming them back. */
  intake?: SignalIntake;
}


/** Topic → the signal kind its events become. */
export function topicKinds(config: Pick<KafkaConfig, 'slaMissTopic' | 'dqFailureTopic'>): Map<string, EventKind> {
  return new Map([[config.slaMissTopic, 'sla_miss'], [config.dqFailureTopic, 'dq_failure']]);
}

/**
 * Consumes SLA-miss and DQ-failure events. Consuming means persisting: the handler stores the
 * signal (or the dead letter) and returns, and kafkajs commits the offset only after that, so
 * delivery is at-least-once and the event id makes a redelivery a no-op. Diagnosis happens on
 * the diagnosis queue, never here, so a slow analyser cannot stall heartbeats. The handler never
 * throws for a bad message: a crash loop on one poison message is impossible by construction.
 */
export class KafkaSignalConsumer {
  private readonly consumer: Consumer;
  private readonly kafka: Kafka;
  private readonly kinds: Map<string, EventKind>;
  private stopping = false;

  constructor(private readonly deps: KafkaConsumerDeps) {
    const { config, log } = deps;
    const kafkaLog = log.child({ component: 'kafka' });
    const kafka = new Kafka({
      clientId: config.clientId,
      brokers: config.brokers,
      logLevel: KafkaLogLevel.WARN,
      // kafkajs logs through our JSON logger rather than its own console format.
      logCreator: () => ({ level, log: entry }: LogEntry) => {
        const { message, ...extra } = entry;
        if (level <= KafkaLogLevel.ERROR) kafkaLog.error(extra, message);
        else if (level === KafkaLogLevel.WARN) kafkaLog.warn(extra, message);
        else kafkaLog.debug(extra, message);
      },
      retry: { initialRetryTime: 300, retries: 10, maxRetryTime: 10_000 },
    });
    this.kafka = kafka;
    this.consumer = kafka.consumer({ groupId: config.groupId, maxBytesPerPartition: Math.max(config.maxMessageBytes * 2, 1_048_576) });
    this.kinds = topicKinds(config);
    this.consumer.on(this.consumer.events.CRASH, (event) => {
      kafkaLog.error({ err: event.payload.error, restart: event.payload.restart }, 'Kafka consumer crashed; kafkajs restarts it');
    });
    this.consumer.on(this.consumer.events.END_BATCH_PROCESS, (event) => {
      deps.metrics.kafkaConsumerLag.set({ topic: event.payload.topic, partition: String(event.payload.partition) }, Number(event.payload.offsetLag));
    });
    this.consumer.on(this.consumer.events.GROUP_JOIN, (event) => {
      kafkaLog.info({ member: event.payload.memberId, assignment: event.payload.memberAssignment }, 'joined the consumer group');
    });
  }

  async start(): Promise<void> {
    const { config, log } = this.deps;
    await this.ensureTopics();
    await this.consumer.connect();
    // From the beginning for a new group: events published before Medic's first start are not skipped.
    await this.consumer.subscribe({ topics: [config.slaMissTopic, config.dqFailureTopic], fromBeginning: true });
    await this.consumer.run({
      partitionsConsumedConcurrently: config.partitionsConcurrency,
      // Offsets are resolved by hand, only after their rows are committed.
      eachBatchAutoResolve: false,
      eachBatch: (payload) => this.handleBatch(payload),
    });
    log.info({ brokers: config.brokers, group: config.groupId, topics: [config.slaMissTopic, config.dqFailureTopic] }, 'Kafka consumer started');
  }

  /**
   * A fresh broker has no topics yet and subscribing would fail until a producer creates them;
   * create missing ones (3 partitions) so `KAFKA_BROKERS=… medic serve` works at once. Where
   * Medic may not create topics, that is logged and the subscription retried as usual.
   */
  private async ensureTopics(): Promise<void> {
    const { config, log } = this.deps;
    const admin = this.kafka.admin();
    try {
      await admin.connect();
      const existing = new Set(await admin.listTopics());
      const missing = [config.slaMissTopic, config.dqFailureTopic].filter((t) => !existing.has(t));
      if (missing.length > 0) {
        await admin.createTopics({ topics: missing.map((topic) => ({ topic, numPartitions: 3 })), waitForLeaders: true });
        log.info({ topics: missing }, 'created missing Kafka topics');
      }
    } catch (error) {
      log.warn({ err: normaliseError(error, 'creating Kafka topics') }, 'could not check or create the topics; subscribing anyway');
    } finally {
      await admin.disconnect().catch(() => undefined);
    }
  }

  get isStopping(): boolean {
    return this.stopping;
  }

  async stop(): Promise<void> {
    this.stopping = true;
    await this.consumer.disconnect();
  }

  /**
   * A batch of clean events is stored with one multi-row INSERT (in partition order); a batch
   * with a poison message, or whose insert fails for a reason other than the database being
   * down, is handled message by message, so the bad one is dead-lettered and the rest stored.
   */
  private async handleBatch({ batch, resolveOffset, heartbeat, isRunning, isStale }: EachBatchPayload): Promise<void> {
    const { config, database, metrics, log } = this.deps;
    const kind = this.kinds.get(batch.topic)!;
    const parsed = batch.messages.map((message) => ({
      message,
      result: message.value && message.value.length > config.maxMessageBytes ? null : parseEventBytes(kind, message.value, 'kafka', new Date()),
    }));
    const clean = parsed.every((p) => p.result?.ok);
    if (clean && batch.messages.length > 1) {
      const signals = parsed.map((p) => (p.result as { ok: true; signal: NewSignal }).signal);
      for (let attempt = 1; isRunning() && !isStale(); attempt++) {
        let claim = this.deps.intake?.reserve(signals.length) ?? null;
        try {
          const stored = await storeSignals(database.db, signals, claim ?? undefined);
          this.deps.intake?.adopt(claim, stored.claimed);
          claim = null;
          metrics.signalsReceived.inc({ kind, source: 'kafka' }, stored.inserted);
          if (stored.inserted < signals.length) metrics.signalsDuplicate.inc({ source: 'kafka' }, signals.length - stored.inserted);
          log.info({ topic: batch.topic, partition: batch.partition, first_offset: batch.firstOffset(), last_offset: batch.lastOffset(), stored: stored.inserted, duplicates: signals.length - stored.inserted }, 'Kafka batch stored');
          if (stored.inserted > stored.claimed.length) this.deps.onSignalStored();
          resolveOffset(batch.lastOffset());
          await heartbeat();
          return;
        } catch (thrown) {
          // The failed chunk stored nothing; rows of chunks stored before it are claimed to this process
          // but not adopted: its next claim takes them back (its own claims it is not working on).
          this.deps.intake?.adopt(claim, []);
          claim = null;
          if (this.stopping) throw normaliseError(thrown, `Kafka ${batch.topic}/${batch.partition}`);
          if (!isDatabaseUnavailable(thrown)) break; // one of the rows is the problem: find it below
          const delay = Math.min(5000, 200 * 2 ** Math.min(attempt, 5));
          log.warn({ topic: batch.topic, partition: batch.partition, err: normaliseError(thrown, 'storing a Kafka batch'), retry_in_ms: delay }, 'database unavailable; holding this partition until it is back');
          await new Promise((r) => setTimeout(r, delay));
          await heartbeat().catch(() => undefined);
        }
      }
      if (!isRunning() || isStale()) return;
    }
    for (const message of batch.messages) {
      if (!isRunning() || isStale()) return;
      await this.handle({ topic: batch.topic, partition: batch.partition, message, heartbeat });
      resolveOffset(message.offset);
      await heartbeat();
    }
  }

  private async handle({ topic, partition, message, heartbeat }: Pick<EachMessagePayload, 'topic' | 'partition' | 'message' | 'heartbeat'>): Promise<void> {
    const { config, database, metrics, log } = this.deps;
    const kind = this.kinds.get(topic)!;
    const position = { topic, partition, offset: message.offset };
    const value = message.value;
    let outcome: { ok: true; store: () => Promise<void> } | { ok: false; reason: string };
    if (value && value.length > config.maxMessageBytes) {
      outcome = { ok: false, reason: `oversized: ${value.length} bytes > MEDIC_KAFKA_MAX_MESSAGE_BYTES ${config.maxMessageBytes}` };
    } else {
      const parsed = parseEventBytes(kind, value, 'kafka', new Date());
      outcome = parsed.ok
        ? {
          ok: true,
          store: async () => {
            const stored = await storeSignals(database.db, [parsed.signal]);
            if (stored.duplicate) {
              metrics.signalsDuplicate.inc({ source: 'kafka' });
              log.info({ ...position, signal_id: stored.ids[0] }, 'redelivered Kafka event; already stored');
            } else {
              metrics.signalsReceived.inc({ kind, source: 'kafka' });
              log.info({ ...position, signal_id: stored.ids[0], table: parsed.signal.table, kind }, 'signal accepted');
              this.deps.onSignalStored();
            }
          },
        }
        : parsed;
    }
    const deadLetter = (reason: string) => async () => {
      await insertDeadLetter(database.db, {
        ...position, key: message.key ?? null, value: value ?? null, reason,
        headers: message.headers ? Object.fromEntries(Object.entries(message.headers).map(([k, v]) => [k, String(v ?? '')])) : null,
      });
      metrics.signalsRejected.inc({ source: 'kafka' });
      log.warn({ ...position, reason }, 'poison message dead-lettered; consuming on');
    };

    let work = outcome.ok ? outcome.store : deadLetter(outcome.reason);
    for (let attempt = 1; ; attempt++) {
      try {
        await work();
        return;
      } catch (thrown) {
        const error = normaliseError(thrown, `Kafka ${topic}/${partition}@${message.offset}`);
        if (this.stopping) throw error; // not committed: redelivered to whoever takes the partition
        if (isDatabaseUnavailable(thrown)) {
          // Hold the partition (the offset stays uncommitted) until PostgreSQL is back, heartbeating so the group does not rebalance.
          const delay = Math.min(5000, 200 * 2 ** Math.min(attempt, 5));
          log.warn({ ...position, err: error, retry_in_ms: delay }, 'database unavailable; holding this partition until it is back');
          await new Promise((r) => setTimeout(r, delay));
          await heartbeat().catch(() => undefined);
          continue;
        }
        // Anything else is about this message (or a bug it triggers): dead-letter it and go on.
        if (attempt >= 5) {
          // Even the dead letter cannot be written and the database is up: log everything needed
          // to recover the message by hand rather than block the partition forever.
          log.fatal({ ...position, err: error, value_base64: value?.toString('base64') }, 'could not store nor dead-letter a Kafka message; skipping it');
          return;
        }
        log.error({ ...position, err: error }, 'handling a Kafka message failed; dead-lettering it');
        work = deadLetter(`handler error: ${error.message}`);
      }
    }
  }
}
