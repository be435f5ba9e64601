import client from 'prom-client';

/**
 * The daemon's Prometheus metrics, in a registry of its own (no globals: two daemons in one
 * test process must not share counters). Created once and passed to whoever records.
 */
export function createMetrics() {
  const registry = new client.Registry();
  client.collectDefaultMetrics({ register: registry, prefix: 'medic_process_' });
  return {
    registry,
    signalsReceived: new client.Counter({ name: 'medic_signals_received_total', help: 'Signals accepted and persisted, by kind and source', labelNames: ['kind', 'source'] as const, registers: [registry] }),
    signalsDuplicate: new client.Counter({ name: 'medic_signals_duplicate_total', help: 'Signals answered as duplicates (already stored)', labelNames: ['source'] as const, registers: [registry] }),
    signalsRejected: new client.Counter({ name: 'medic_signals_rejected_total', help: 'Signal requests rejected as invalid', labelNames: ['source'] as const, registers: [registry] }),
    diagnosisDuration: new client.Histogram({ name: 'medic_diagnosis_duration_seconds', help: 'Time from claiming a signal to its diagnosis being committed', labelNames: ['kind'] as const, buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30], registers: [registry] }),
    diagnosisLatency: new client.Histogram({ name: 'medic_diagnosis_latency_seconds', help: 'Time from a signal being received to its diagnosis being committed', labelNames: ['kind'] as const, buckets: [0.01, 0.05, 0.1, 0.5, 1, 5, 10, 30, 60, 300], registers: [registry] }),
    diagnosisErrors: new client.Counter({ name: 'medic_diagnosis_errors_total', help: 'Diagnoses that failed and will be retried', registers: [registry] }),
    rcaCreated: new client.Counter({ name: 'medic_rca_created_total', help: 'RCA records written, by root-cause category', labelNames: ['category'] as const, registers: [registry] }),
    diagnosisQueue: new client.Gauge({ name: 'medic_diagnosis_queue', help: 'Signals claimed by this process and waiting or running in the diagnosis queue', registers: [registry] }),
    resolverAttempts: new client.Counter({ name: 'medic_resolver_attempts_total', help: 'Resolution attempts by resolver and outcome (retriggered, waiting, failed)', labelNames: ['resolver', 'outcome'] as const, registers: [registry] }),
    resolverEscalations: new client.Counter({ name: 'medic_resolver_escalations_total', help: 'Resolution jobs that ran out of attempts or time and were escalated', labelNames: ['resolver'] as const, registers: [registry] }),
    kafkaConsumerLag: new client.Gauge({ name: 'medic_kafka_consumer_lag', help: 'Messages behind the partition\'s high watermark after the last batch, by topic and partition', labelNames: ['topic', 'partition'] as const, registers: [registry] }),
    webhookDeliveryFailures: new client.Counter({ name: 'medic_webhook_delivery_failures_total', help: 'Failed webhook delivery attempts (non-2xx, timeout, refused), by format', labelNames: ['format'] as const, registers: [registry] }),
    webhookDeliveries: new client.Counter({ name: 'medic_webhook_deliveries_total', help: 'Webhook events delivered, by format', labelNames: ['format'] as const, registers: [registry] }),
    webhookSubscriptionsPaused: new client.Counter({ name: 'medic_webhook_subscriptions_paused_total', help: 'Subscriptions paused after repeated failures, by format', labelNames: ['format'] as const, registers: [registry] }),
    httpRequests: new client.Counter({ name: 'medic_http_requests_total', help: 'HTTP requests by route and status code', labelNames: ['method', 'route', 'status'] as const, registers: [registry] }),
  };
}

export type Metrics = ReturnType<typeof createMetrics>;

/** Tables by health status, read from PostgreSQL at scrape time so every replica reports the same truth. */
export function registerTableStatusGauge(metrics: Metrics, countByStatus: () => Promise<Array<{ status: string; count: number }>>): void {
  new client.Gauge({
    name: 'medic_tables',
    help: 'Tables by health status',
    labelNames: ['status'] as const,
    registers: [metrics.registry],
    async collect() {
      this.reset();
      for (const status of ['healthy', 'degraded', 'unhealthy', 'unknown']) this.set({ status }, 0);
      try {
        for (const row of await countByStatus()) this.set({ status: row.status }, row.count);
      } catch {
        // Database down: report zeros rather than failing the whole scrape; /readyz tells the story.
      }
    },
  });
}

/** Resolver effectiveness from PostgreSQL at scrape time (the same figures as /v1/stats/resolvers). */
export function registerResolverGauges(metrics: Metrics, stats: () => Promise<Array<{ category: string; resolver: string; recovered: number; escalated: number; success_rate: number | null; median_time_to_recover_s: number | null }>>): void {
  type Stat = Awaited<ReturnType<typeof stats>>[number];
  // prom-client collects every metric of a scrape concurrently: the four gauges share one query.
  let shared: { at: number; rows: Promise<Stat[]> } | null = null;
  const rows = () => {
    if (!shared || Date.now() - shared.at > 1000) shared = { at: Date.now(), rows: stats().catch(() => []) };
    return shared.rows;
  };
  const gauge = (name: string, help: string, value: (s: Stat) => number | null) => new client.Gauge({
    name, help, labelNames: ['category', 'resolver'] as const, registers: [metrics.registry],
    async collect() {
      this.reset();
      for (const s of await rows()) {
        const v = value(s);
        if (v !== null) this.set({ category: s.category, resolver: s.resolver }, v);
      }
    },
  });
  gauge('medic_resolver_success_ratio', 'Recovered / (recovered + escalated) resolution jobs', (s) => s.success_rate);
  gauge('medic_resolver_time_to_recover_median_seconds', 'Median time from diagnosis to confirmed recovery', (s) => s.median_time_to_recover_s);
  gauge('medic_resolver_recovered_jobs', 'Resolution jobs confirmed by a success signal', (s) => s.recovered);
  gauge('medic_resolver_escalated_jobs', 'Resolution jobs that ran out of attempts', (s) => s.escalated);
}
