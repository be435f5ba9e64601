import type { Logger } from 'pino';
import { DEFAULT_TOPICS, envName, type Config } from './config.ts';
import { batchedSignalHistory } from './db/batchedSignalHistory.ts';
import { createLookupCache } from './clients/lookupCache.ts';
import { createAirflowClients } from './clients/airflowClient.ts';
import { openDatabase, type Database } from './db/client.ts';
import { startEmbeddedPostgres, type EmbeddedPostgres } from './db/embeddedPostgres.ts';
import { runMigrations } from './db/migrate.ts';
import { createMetrics, registerResolverGauges, registerTableStatusGauge } from './metrics.ts';
import { resolverStats } from './db/resolverStats.ts';
import { countTablesByStatus } from './db/healthQueries.ts';
import { DiagnosisWorker } from './diagnosers/diagnosisWorker.ts';
import { buildServer, type App } from './api/server.ts';
import { loadAdminToken, TokenVerifier } from './api/tokens.ts';
import { readCatalogFile } from './catalog/catalogFile.ts';
import { applyCatalog } from './catalog/catalogStore.ts';
import { ensureHealthRows } from './db/healthWriter.ts';
import { normaliseError } from './errors.ts';
import type { ResolverSettings } from './resolvers/types.ts';
import { backoffDelayMs } from './resolvers/engine/backoff.ts';
import { ResolutionWorker } from './resolvers/engine/resolutionWorker.ts';
import { WebhookWorker } from './webhooks/webhookWorker.ts';
import { replicaLagSeconds } from './clients/sourceProbe.ts';
import { KafkaSignalConsumer, topicKinds } from './signals/kafkaConsumer.ts';
import { startSlaMonitor } from './signals/slaMonitor.ts';
import { startReconciler } from './signals/reconciler.ts';

export interface RunningDaemon {
  url: string;
  port: number;
  app: App;
  database: Database;
  worker: DiagnosisWorker;
  resolution: ResolutionWorker;
  embedded: EmbeddedPostgres | null;
  /** Graceful stop: no new requests, in-flight ones and diagnoses drained, pool closed, embedded database stopped. */
  stop(): Promise<void>;
}

/** Connects to the configured database, or starts the embedded one; then applies migrations. */
export async function openConfiguredDatabase(config: Config, log: Logger): Promise<{ database: Database; embedded: EmbeddedPostgres | null }> {
  const embedded = config.databaseUrl ? null : await startEmbeddedPostgres(config.home, log);
  const url = config.databaseUrl ?? embedded!.url;
  const database = openDatabase(url, { onError: (error) => log.warn({ err: error }, 'idle database connection lost; the pool will reconnect') });
  try {
    await runMigrations(database.pool);
  } catch (error) {
    await database.close().catch(() => undefined);
    await embedded?.stop().catch(() => undefined);
    throw normaliseError(error, config.databaseUrl ? 'migrating the database at DATABASE_URL' : 'migrating the embedded database');
  }
  return { database, embedded };
}

/** Starts everything `medic serve` runs. */
export async function startDaemon(config: Config, log: Logger): Promise<RunningDaemon> {
  const started = performance.now();
  const { database, embedded } = await openConfiguredDatabase(config, log);
  const metrics = createMetrics();
  registerTableStatusGauge(metrics, () => countTablesByStatus(database.db));
  registerResolverGauges(metrics, () => resolverStats(database.db));

  if (config.catalogFile) {
    const doc = await readCatalogFile(config.catalogFile);
    const result = await applyCatalog(database.db, doc);
    await ensureHealthRows(database.db, (doc.tables ?? []).map((t) => t.name));
    for (const warning of result.warnings) log.warn({ catalog: config.catalogFile }, warning);
    log.info({ catalog: config.catalogFile, teams: result.teams, tables: result.tables }, 'catalog applied');
  }

  const admin = await loadAdminToken(config.adminToken, config.home);
  if (admin.generated) {
    // Printed once, on stdout and outside the JSON log stream, so it is not shipped to log storage.
    process.stdout.write(`\nGenerated an admin token (kept in ${admin.file}, mode 0600):\n\n    ${admin.token}\n\nUse it as: Authorization: Bearer <token>\n\n`);
  }

  // One history for diagnosis and resolvers: the reads made in one turn of the event loop go
  // to the database as one statement.
  const history = batchedSignalHistory(database.db);
  const airflow = createAirflowClients(config, log);
  const sourceDsn = (name: string) => config.sourceDsns.get(envName(name)) ?? null;
  const worker = new DiagnosisWorker({
    database, log, metrics,
    concurrency: config.diagnosisConcurrency,
    leaseSeconds: config.diagnosisLeaseSeconds,
    pollMs: config.diagnosisPollMs,
    writeBatch: config.diagnosisWriteBatch,
    analyserTimeoutMs: config.analyserTimeoutMs,
    platformTeam: config.platformTeam,
    resolverSettings: resolverSettings(config),
    shared: {
      history,
      cache: createLookupCache(),
      airflow,
      sourceDsn,
      settings: { replicaLagThresholdS: config.replicaLagThresholdS, lookupTtlMs: config.lookupTtlMs },
    },
  });

  let accepting = false;
  const app = await buildServer({
    database, metrics, log,
    tokens: new TokenVerifier(database.db, admin.token),
    bodyLimitBytes: config.bodyLimitBytes,
    platformTeam: config.platformTeam,
    onSignalStored: () => worker.poke(),
    intake: worker,
    onResolutionScheduled: () => { void resolution.tick(); },
    manualRetriesPer10Min: config.resolver.manualRetriesPer10Min,
    rateLimitPerMinute: config.rateLimitPerMinute,
    webhooks: { publicUrl: config.publicUrl, maxAttempts: config.webhooks.maxAttempts, onQueued: () => webhooks.poke() },
    topicKinds: topicKinds(config.kafka ?? DEFAULT_TOPICS),
    isAccepting: () => accepting,
  });
  await app.listen({ port: config.port, host: config.host });
  const address = app.server.address();
  const port = typeof address === 'object' && address ? address.port : config.port;
  worker.start();
  const kafka = config.kafka ? new KafkaSignalConsumer({ config: config.kafka, database, log, metrics, onSignalStored: () => worker.poke(), intake: worker }) : null;
  // The broker may be down at start: the daemon serves HTTP meanwhile and the consumer keeps trying.
  if (kafka) void startKafkaWithRetry(kafka, log);
  const resolution = new ResolutionWorker({
    database, log, metrics, settings: config.resolver,
    clients: {
      airflow, history,
      replicaLagSeconds: async (source) => {
        const dsn = sourceDsn(source);
        return dsn ? replicaLagSeconds(dsn) : null;
      },
    },
  });
  resolution.start();
  const webhooks = new WebhookWorker({
    database, log,
    options: { ...config.webhooks, publicUrl: config.publicUrl },
    onDeliveryFailed: (format) => metrics.webhookDeliveryFailures.inc({ format }),
    onDelivered: (format) => metrics.webhookDeliveries.inc({ format }),
    onSubscriptionPaused: (format) => metrics.webhookSubscriptionsPaused.inc({ format }),
  });
  webhooks.start();
  const slaMonitor = config.slaMonitor ? startSlaMonitor({ db: database.db, pool: database.pool, log, schedule: config.slaMonitorSchedule, onEmitted: () => worker.poke() }) : null;
  const reconciler = config.reconciler.enabled && config.airflow.size > 0
    ? startReconciler({ database, log, schedule: config.reconciler.schedule, lookbackMs: config.reconciler.lookbackMs, instances: [...config.airflow.keys()], airflow, onCreated: () => worker.poke() })
    : null;
  accepting = true;
  const url = `http://${config.host === '0.0.0.0' ? '127.0.0.1' : config.host}:${port}`;
  log.info({ url, database: embedded ? `embedded (${embedded.dataDir})` : 'DATABASE_URL', startup_ms: Math.round(performance.now() - started) }, 'medic is ready');

  let stopping: Promise<void> | null = null;
  const stop = () => {
    stopping ??= (async () => {
      accepting = false;
      log.info('shutting down: no new requests, draining');
      await app.close().catch((e) => log.error({ err: normaliseError(e, 'closing the HTTP server') }, 'shutdown step failed'));
      await kafka?.stop().catch((e) => log.error({ err: normaliseError(e, 'stopping the Kafka consumer') }, 'shutdown step failed'));
      await slaMonitor?.stop().catch((e) => log.error({ err: normaliseError(e, 'stopping the SLA monitor') }, 'shutdown step failed'));
      await reconciler?.stop().catch((e) => log.error({ err: normaliseError(e, 'stopping the reconciler') }, 'shutdown step failed'));
      await worker.stop().catch((e) => log.error({ err: normaliseError(e, 'stopping diagnosis') }, 'shutdown step failed'));
      await resolution.stop().catch((e) => log.error({ err: normaliseError(e, 'stopping auto-resolution') }, 'shutdown step failed'));
      await webhooks.stop().catch((e) => log.error({ err: normaliseError(e, 'stopping webhook deliveries') }, 'shutdown step failed'));
      await database.close().catch((e) => log.error({ err: normaliseError(e, 'closing the database pool') }, 'shutdown step failed'));
      if (embedded) await embedded.stop().catch((e) => log.error({ err: normaliseError(e, 'stopping the embedded PostgreSQL') }, 'shutdown step failed'));
      log.info('stopped');
    })();
    return stopping;
  };
  return { url, port, app, database, worker, resolution, embedded, stop };
}

async function startKafkaWithRetry(kafka: KafkaSignalConsumer, log: Logger): Promise<void> {
  for (let attempt = 1; ; attempt++) {
    if (kafka.isStopping) return;
    try {
      await kafka.start();
      return;
    } catch (error) {
      const delay = Math.min(30_000, 1000 * 2 ** Math.min(attempt, 5));
      log.error({ err: normaliseError(error, 'starting the Kafka consumer'), retry_in_ms: delay }, 'Kafka consumer could not start; retrying');
      await new Promise((r) => setTimeout(r, delay));
    }
  }
}

/** What resolvers plan with, from config. */
export function resolverSettings(config: Config): ResolverSettings {
  return {
    maxAttempts: config.resolver.maxAttempts,
    checkIntervalMs: config.resolver.checkIntervalMs,
    waitUpToMs: config.resolver.waitUpToMs,
    firstRetryInMs: backoffDelayMs(1, config.resolver.backoff, () => 0),
    replicaLagThresholdS: config.replicaLagThresholdS,
  };
}
