import path from 'node:path';
import cron from 'node-cron';

/**
 * The one place that reads `process.env` (DESIGN 10.3). Everything is validated at start and
 * every problem is reported at once, in words an operator can act on.
 */
export interface AirflowInstanceConfig {
  name: string;
  url: string;
  username: string | null;
  password: string | null;
  api: 'v1' | 'v2' | null;
}

export interface Config {
  /** HTTP port for signals and the Data Health API. Default 8080; 0 picks a free port. */
  port: number;
  /** Address to bind. Default 127.0.0.1 so a laptop install is not exposed by accident. */
  host: string;
  /** Embedded database data, the generated admin token. Default ./.medic */
  home: string;
  /** External PostgreSQL; when null the embedded server under `home` is used. */
  databaseUrl: string | null;
  /** Admin bearer token; when null one is generated on first start into `home/admin-token`. */
  adminToken: string | null;
  /** Catalog YAML applied at start. */
  catalogFile: string | null;
  /** Parallel diagnoses (p-queue concurrency). Default 256. */
  diagnosisConcurrency: number;
  /**
   * How long a claimed signal stays reserved for the process that claimed it. After a crash
   * another process (or the restarted one) re-claims it once the lease has run out.
   */
  diagnosisLeaseSeconds: number;
  /** How often the worker looks for undiagnosed signals written by other processes or before a restart. */
  diagnosisPollMs: number;
  /** Most diagnoses written in one transaction (group commit). Default 250. */
  diagnosisWriteBatch: number;
  /** Per-analyser time budget. */
  analyserTimeoutMs: number;
  /** Replica lag above which a source counts as lagging (catalog `max_replica_lag_s` wins). */
  replicaLagThresholdS: number;
  /** How long an external look-up's answer is shared between diagnoses. */
  lookupTtlMs: number;
  /** Auto-resolution timings (DESIGN 7); the backoff formula itself is in src/resolvers/backoff.ts. */
  resolver: {
    pollMs: number;
    leaseSeconds: number;
    maxAttempts: number;
    backoff: { baseMs: number; capMs: number; jitter: number };
    checkIntervalMs: number;
    waitUpToMs: number;
    /** A re-triggered run with no success signal by then counts as a failed attempt. */
    recoveryTimeoutMs: number;
    /** Manual retries allowed per table per 10 minutes. */
    manualRetriesPer10Min: number;
  };
  /** Largest accepted request body. */
  bodyLimitBytes: number;
  /** Requests a minute per API token. */
  rateLimitPerMinute: number;
  /** This API's base URL as receivers should see it, for links in webhooks (MEDIC_PUBLIC_URL). */
  publicUrl: string;
  /** Webhook deliveries (DESIGN 8); the backoff is the one formula of src/resolvers/engine/backoff.ts. */
  webhooks: { pollMs: number; leaseSeconds: number; maxAttempts: number; pauseAfterFailures: number; timeoutMs: number; backoff: { baseMs: number; capMs: number; jitter: number } };
  logLevel: string;
  /** Assignee of last resort when the catalog marks no team `platform: true`. */
  platformTeam: string;
  /** Kafka consumers run only when brokers are configured (DESIGN 2). */
  kafka: KafkaConfig | null;
  /** The every-minute SLA monitor (DESIGN 3.5). On by default; one replica runs it at a time. */
  slaMonitor: boolean;
  /** node-cron expression for the SLA monitor's pass (default every minute). */
  slaMonitorSchedule: string;
  /** The reconciler (DESIGN 3.6): finds failed task instances whose callback never came. Runs when an Airflow is configured. */
  reconciler: { enabled: boolean; schedule: string; lookbackMs: number };
  airflow: Map<string, AirflowInstanceConfig>;
  /** Source DSNs by catalog source name (SOURCE_<NAME>_DSN). */
  sourceDsns: Map<string, string>;
}

export interface KafkaConfig {
  brokers: string[];
  clientId: string;
  groupId: string;
  slaMissTopic: string;
  dqFailureTopic: string;
  /** Larger messages are dead-lettered, never parsed. */
  maxMessageBytes: number;
  /** Partitions handled at once; order is kept within each partition. */
  partitionsConcurrency: number;
}

/** Topic names when none are configured. */
export const DEFAULT_TOPICS = { slaMissTopic: 'medic.sla-miss', dqFailureTopic: 'medic.dq-failure' } as const;

export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`Invalid configuration:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.name = 'ConfigError';
  }
}

type Env = Record<string, string | undefined>;

function intVar(env: Env, name: string, fallback: number, min: number, max: number, problems: string[]): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < min || value > max) {
    problems.push(`${name}=${JSON.stringify(raw)} must be a whole number between ${min} and ${max} (default ${fallback}).`);
    return fallback;
  }
  return value;
}

/** `orders-db` → `ORDERS_DB`, the rule DESIGN 8 gives for per-source and per-Airflow variables. */
export function envName(name: string): string {
  return name.toUpperCase().replace(/[^A-Z0-9]/g, '_');
}

const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'];

/** Reads and validates the configuration; throws ConfigError listing every problem. */
export function loadConfig(env: Env = process.env, cwd: string = process.cwd()): Config {
  const problems: string[] = [];
  const port = intVar(env, 'PORT', 8080, 0, 65535, problems);
  const home = path.resolve(cwd, env.MEDIC_HOME || '.medic');

  let databaseUrl: string | null = env.DATABASE_URL || null;
  if (databaseUrl) {
    try {
      const url = new URL(databaseUrl);
      if (url.protocol !== 'postgres:' && url.protocol !== 'postgresql:') {
        problems.push(`DATABASE_URL must start with postgres:// or postgresql:// (got ${url.protocol}//…). Unset it to use the embedded database.`);
      }
    } catch {
      problems.push('DATABASE_URL is not a valid URL; expected postgres://user:password@host:5432/dbname. Unset it to use the embedded database.');
      databaseUrl = null;
    }
  }

  const adminToken = env.MEDIC_ADMIN_TOKEN || null;
  if (adminToken !== null && adminToken.length < 16) {
    problems.push('MEDIC_ADMIN_TOKEN must be at least 16 characters; unset it to have one generated into $MEDIC_HOME/admin-token.');
  }

  const catalogFile = env.MEDIC_CATALOG ? path.resolve(cwd, env.MEDIC_CATALOG) : null;

  const logLevel = env.LOG_LEVEL || 'info';
  if (!LOG_LEVELS.includes(logLevel)) problems.push(`LOG_LEVEL must be one of ${LOG_LEVELS.join(', ')} (got ${JSON.stringify(logLevel)}).`);

  const airflow = new Map<string, AirflowInstanceConfig>();
  const sourceDsns = new Map<string, string>();
  for (const [key, value] of Object.entries(env)) {
    const airflowUrl = /^AIRFLOW_([A-Z0-9_]+)_URL$/.exec(key);
    if (airflowUrl && value) {
      const name = airflowUrl[1]!;
      const apiRaw = env[`AIRFLOW_${name}_API`] || null;
      if (apiRaw !== null && apiRaw !== 'v1' && apiRaw !== 'v2') problems.push(`AIRFLOW_${name}_API must be v1 or v2 (got ${JSON.stringify(apiRaw)}).`);
      try {
        new URL(value);
      } catch {
        problems.push(`${key} is not a valid URL (got ${JSON.stringify(value)}).`);
      }
      airflow.set(name.toLowerCase(), {
        name: name.toLowerCase(),
        url: value.replace(/\/+$/, ''),
        username: env[`AIRFLOW_${name}_USERNAME`] || null,
        password: env[`AIRFLOW_${name}_PASSWORD`] || null,
        api: apiRaw === 'v1' || apiRaw === 'v2' ? apiRaw : null,
      });
    }
    const dsn = /^SOURCE_([A-Z0-9_]+)_DSN$/.exec(key);
    if (dsn && value) sourceDsns.set(dsn[1]!, value);
  }

  let kafka: KafkaConfig | null = null;
  if (env.KAFKA_BROKERS) {
    const brokers = env.KAFKA_BROKERS.split(',').map((b) => b.trim()).filter(Boolean);
    for (const broker of brokers) {
      if (!/^[^\s:/]+:\d{1,5}$/.test(broker)) problems.push(`KAFKA_BROKERS entries must be host:port, comma-separated (got ${JSON.stringify(broker)}).`);
    }
    kafka = {
      brokers,
      clientId: env.MEDIC_KAFKA_CLIENT_ID || 'medic',
      groupId: env.MEDIC_KAFKA_GROUP || 'medic',
      slaMissTopic: env.MEDIC_KAFKA_TOPIC_SLA_MISS || DEFAULT_TOPICS.slaMissTopic,
      dqFailureTopic: env.MEDIC_KAFKA_TOPIC_DQ_FAILURE || DEFAULT_TOPICS.dqFailureTopic,
      maxMessageBytes: intVar(env, 'MEDIC_KAFKA_MAX_MESSAGE_BYTES', 1_048_576, 1024, 100 * 1_048_576, problems),
      partitionsConcurrency: intVar(env, 'MEDIC_KAFKA_PARTITIONS_CONCURRENCY', 8, 1, 1000, problems),
    };
  }
  const slaMonitorRaw = env.MEDIC_SLA_MONITOR || 'on';
  if (slaMonitorRaw !== 'on' && slaMonitorRaw !== 'off') problems.push(`MEDIC_SLA_MONITOR must be on or off (got ${JSON.stringify(slaMonitorRaw)}).`);

  const slaMonitorSchedule = env.MEDIC_SLA_MONITOR_CRON || '* * * * *';
  if (!cron.validate(slaMonitorSchedule)) problems.push(`MEDIC_SLA_MONITOR_CRON is not a cron expression (got ${JSON.stringify(slaMonitorSchedule)}); e.g. "* * * * *" for every minute.`);

  const reconcilerRaw = env.MEDIC_RECONCILER || 'on';
  if (reconcilerRaw !== 'on' && reconcilerRaw !== 'off') problems.push(`MEDIC_RECONCILER must be on or off (got ${JSON.stringify(reconcilerRaw)}).`);
  const reconcilerSchedule = env.MEDIC_RECONCILER_CRON || '*/5 * * * *';
  if (!cron.validate(reconcilerSchedule)) problems.push(`MEDIC_RECONCILER_CRON is not a cron expression (got ${JSON.stringify(reconcilerSchedule)}); e.g. "*/5 * * * *" for every 5 minutes.`);

  const host = env.HOST || '127.0.0.1';
  const publicUrl = (env.MEDIC_PUBLIC_URL || `http://${host === '0.0.0.0' ? '127.0.0.1' : host}:${port}`).replace(/\/+$/, '');
  if (!/^https?:\/\/[^/]+/.test(publicUrl)) problems.push(`MEDIC_PUBLIC_URL must be an http(s) URL (got ${JSON.stringify(publicUrl)}).`);

  const config: Config = {
    port,
    host,
    home,
    databaseUrl,
    adminToken,
    catalogFile,
    diagnosisConcurrency: intVar(env, 'MEDIC_DIAGNOSIS_CONCURRENCY', 256, 1, 10_000, problems),
    diagnosisLeaseSeconds: intVar(env, 'MEDIC_DIAGNOSIS_LEASE_S', 120, 1, 86_400, problems),
    diagnosisPollMs: intVar(env, 'MEDIC_DIAGNOSIS_POLL_MS', 1000, 10, 60_000, problems),
    diagnosisWriteBatch: intVar(env, 'MEDIC_DIAGNOSIS_WRITE_BATCH', 250, 1, 5000, problems),
    analyserTimeoutMs: intVar(env, 'MEDIC_ANALYSER_TIMEOUT_MS', 10_000, 10, 600_000, problems),
    replicaLagThresholdS: intVar(env, 'MEDIC_REPLICA_LAG_THRESHOLD_S', 300, 1, 86_400, problems),
    lookupTtlMs: intVar(env, 'MEDIC_LOOKUP_TTL_MS', 30_000, 0, 3_600_000, problems),
    resolver: {
      pollMs: intVar(env, 'MEDIC_RESOLVER_POLL_MS', 5000, 10, 600_000, problems),
      leaseSeconds: intVar(env, 'MEDIC_RESOLVER_LEASE_S', 300, 1, 86_400, problems),
      maxAttempts: intVar(env, 'MEDIC_RESOLVER_MAX_ATTEMPTS', 5, 1, 100, problems),
      backoff: {
        baseMs: intVar(env, 'MEDIC_RESOLVER_BACKOFF_BASE_MS', 60_000, 0, 86_400_000, problems),
        capMs: intVar(env, 'MEDIC_RESOLVER_BACKOFF_CAP_MS', 1_800_000, 0, 86_400_000, problems),
        jitter: intVar(env, 'MEDIC_RESOLVER_BACKOFF_JITTER_PCT', 20, 0, 100, problems) / 100,
      },
      checkIntervalMs: intVar(env, 'MEDIC_RESOLVER_CHECK_INTERVAL_MS', 300_000, 10, 86_400_000, problems),
      waitUpToMs: intVar(env, 'MEDIC_RESOLVER_WAIT_UP_TO_MS', 3_600_000, 10, 7 * 86_400_000, problems),
      recoveryTimeoutMs: intVar(env, 'MEDIC_RESOLVER_RECOVERY_TIMEOUT_MS', 1_800_000, 10, 7 * 86_400_000, problems),
      manualRetriesPer10Min: intVar(env, 'MEDIC_MANUAL_RETRIES_PER_10_MIN', 3, 1, 1000, problems),
    },
    bodyLimitBytes: intVar(env, 'MEDIC_BODY_LIMIT_BYTES', 1_048_576, 1024, 64 * 1_048_576, problems),
    rateLimitPerMinute: intVar(env, 'MEDIC_RATE_LIMIT_PER_MIN', 60_000, 1, 10_000_000, problems),
    publicUrl,
    webhooks: {
      pollMs: intVar(env, 'MEDIC_WEBHOOK_POLL_MS', 1000, 10, 600_000, problems),
      leaseSeconds: intVar(env, 'MEDIC_WEBHOOK_LEASE_S', 60, 2, 86_400, problems),
      maxAttempts: intVar(env, 'MEDIC_WEBHOOK_MAX_ATTEMPTS', 12, 1, 1000, problems),
      pauseAfterFailures: intVar(env, 'MEDIC_WEBHOOK_PAUSE_AFTER_FAILURES', 10, 1, 1000, problems),
      timeoutMs: intVar(env, 'MEDIC_WEBHOOK_TIMEOUT_MS', 10_000, 100, 600_000, problems),
      backoff: {
        baseMs: intVar(env, 'MEDIC_WEBHOOK_BACKOFF_BASE_MS', 10_000, 0, 86_400_000, problems),
        capMs: intVar(env, 'MEDIC_WEBHOOK_BACKOFF_CAP_MS', 3_600_000, 0, 86_400_000, problems),
        jitter: intVar(env, 'MEDIC_WEBHOOK_BACKOFF_JITTER_PCT', 20, 0, 100, problems) / 100,
      },
    },
    logLevel,
    platformTeam: env.MEDIC_PLATFORM_TEAM || 'data-platform',
    kafka,
    slaMonitor: slaMonitorRaw !== 'off',
    slaMonitorSchedule,
    reconciler: {
      enabled: reconcilerRaw !== 'off',
      schedule: reconcilerSchedule,
      lookbackMs: intVar(env, 'MEDIC_RECONCILER_LOOKBACK_MIN', 60, 1, 10_080, problems) * 60_000,
    },
    airflow,
    sourceDsns,
  };
  if (problems.length > 0) throw new ConfigError(problems);
  return config;
}

/** What the on-call commands (`medic tables`, `medic rca …`, `medic incidents`) need to reach a running daemon. */
export interface ClientConfig {
  /** Base URL of the daemon's API, no trailing slash. MEDIC_URL, default http://127.0.0.1:8080. */
  url: string;
  /** Bearer token: MEDIC_TOKEN, else MEDIC_ADMIN_TOKEN; null = try `tokenFile`. */
  token: string | null;
  /** Which variable the token came from, for error messages. */
  tokenSource: 'MEDIC_TOKEN' | 'MEDIC_ADMIN_TOKEN' | null;
  /** `$MEDIC_HOME/admin-token`: the fallback when no token is set (used only if readable). */
  tokenFile: string;
  /** NO_COLOR is set (https://no-color.org): plain output even on a terminal. */
  noColor: boolean;
}

/** Checks a Medic API base URL (from MEDIC_URL or --url); returns it without trailing slashes, or a problem. */
export function parseMedicUrl(raw: string, name: string): { url: string } | { problem: string } {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    return { problem: `${name} is not a valid URL (got ${JSON.stringify(raw)}); e.g. http://127.0.0.1:8080` };
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') return { problem: `${name} must start with http:// or https:// (got ${url.protocol}//…)` };
  if (url.search || url.hash) return { problem: `${name} must be the daemon's base URL, without ?query or #fragment (got ${JSON.stringify(raw)})` };
  return { url: raw.replace(/\/+$/, '') };
}

/**
 * Configuration of the on-call CLI, kept apart from `loadConfig` so a laptop talking to a
 * remote daemon is not held to the daemon's own settings. Throws ConfigError.
 */
export function loadClientConfig(env: Env = process.env, cwd: string = process.cwd()): ClientConfig {
  const problems: string[] = [];
  let url = 'http://127.0.0.1:8080';
  if (env.MEDIC_URL) {
    const parsed = parseMedicUrl(env.MEDIC_URL, 'MEDIC_URL');
    if ('problem' in parsed) problems.push(`${parsed.problem}. Unset it to use http://127.0.0.1:8080.`);
    else url = parsed.url;
  }
  let token: string | null = null;
  let tokenSource: ClientConfig['tokenSource'] = null;
  for (const name of ['MEDIC_TOKEN', 'MEDIC_ADMIN_TOKEN'] as const) {
    const value = env[name];
    if (value === undefined || value === '') continue;
    if (/\s/.test(value.trim()) || value.trim() === '') problems.push(`${name} must be a single token without spaces (create one with: medic token create --role reader --name you).`);
    else { token = value.trim(); tokenSource = name; }
    break;
  }
  if (problems.length > 0) throw new ConfigError(problems);
  return { url, token, tokenSource, tokenFile: path.join(path.resolve(cwd, env.MEDIC_HOME || '.medic'), 'admin-token'), noColor: env.NO_COLOR !== undefined && env.NO_COLOR !== '' };
}

/** The configuration table printed by `medic --help` and mirrored in the README. */
export const CONFIG_HELP = `Environment:
  PORT                         HTTP port (default 8080)
  HOST                         bind address (default 127.0.0.1; 0.0.0.0 to expose)
  MEDIC_HOME                   state directory: embedded database, admin token (default ./.medic)
  DATABASE_URL                 external PostgreSQL; unset = embedded PostgreSQL under $MEDIC_HOME/pg
  MEDIC_ADMIN_TOKEN            admin bearer token; unset = generated once into $MEDIC_HOME/admin-token
  MEDIC_CATALOG                catalog YAML applied at start
  MEDIC_DIAGNOSIS_CONCURRENCY  parallel diagnoses (default 256)
  MEDIC_DIAGNOSIS_LEASE_S      seconds a claimed signal stays reserved before another process may take it (default 120)
  MEDIC_DIAGNOSIS_POLL_MS      how often to look for undiagnosed signals (default 1000)
  MEDIC_DIAGNOSIS_WRITE_BATCH  most diagnoses written in one transaction; they wait for the commit in progress (default 250)
  MEDIC_ANALYSER_TIMEOUT_MS    time budget per analyser (default 10000)
  MEDIC_REPLICA_LAG_THRESHOLD_S  replica lag counted as lagging when the catalog sets none (default 300)
  MEDIC_LOOKUP_TTL_MS          how long an external look-up (probe, Airflow call) is shared (default 30000)
  MEDIC_RESOLVER_MAX_ATTEMPTS  re-trigger attempts before escalating (default 5)
  MEDIC_RESOLVER_BACKOFF_BASE_MS / _CAP_MS / _JITTER_PCT  backoff: min(cap, base·2^(n−1))·(1−jitter·r) (60000 / 1800000 / 20)
  MEDIC_RESOLVER_CHECK_INTERVAL_MS  how often a waiting job re-checks its condition (default 300000)
  MEDIC_RESOLVER_WAIT_UP_TO_MS how long a waiting job waits before escalating (default 3600000)
  MEDIC_RESOLVER_RECOVERY_TIMEOUT_MS  no success this long after a re-trigger = a failed attempt (default 1800000)
  MEDIC_RESOLVER_POLL_MS / MEDIC_RESOLVER_LEASE_S  how often due jobs are claimed (5000) / how long a claim holds (300)
  MEDIC_MANUAL_RETRIES_PER_10_MIN  one-click retries allowed per table per 10 minutes (default 3)
  MEDIC_RATE_LIMIT_PER_MIN     requests a minute per API token, bursts of a sixth (default 60000)
  MEDIC_PUBLIC_URL             this API's URL as webhook receivers should link to it (default http://HOST:PORT)
  MEDIC_WEBHOOK_MAX_ATTEMPTS / _PAUSE_AFTER_FAILURES / _TIMEOUT_MS  per delivery (12) / per subscription (10) / per attempt (10000)
  MEDIC_WEBHOOK_BACKOFF_BASE_MS / _CAP_MS / _JITTER_PCT  between delivery attempts (10000 / 3600000 / 20)
  MEDIC_WEBHOOK_POLL_MS / MEDIC_WEBHOOK_LEASE_S  how often deliveries are looked for (1000) / how long a claim holds (60)
  MEDIC_BODY_LIMIT_BYTES       largest request body accepted (default 1048576)
  MEDIC_PLATFORM_TEAM          fallback assignee when no catalog team is marked platform (default data-platform)
  KAFKA_BROKERS                host:port,... — consume SLA-miss and DQ-failure events (unset: HTTP only)
  MEDIC_KAFKA_GROUP            consumer group (default medic)
  MEDIC_KAFKA_TOPIC_SLA_MISS   default medic.sla-miss
  MEDIC_KAFKA_TOPIC_DQ_FAILURE default medic.dq-failure
  MEDIC_KAFKA_MAX_MESSAGE_BYTES  larger messages are dead-lettered (default 1048576)
  MEDIC_KAFKA_PARTITIONS_CONCURRENCY  partitions consumed at once, in order within each (default 8)
  MEDIC_SLA_MONITOR            on|off: emit sla_miss for catalog SLAs that pass with no success (default on)
  MEDIC_SLA_MONITOR_CRON       when the SLA monitor runs (default "* * * * *", every minute)
  MEDIC_RECONCILER             on|off: find failed Airflow tasks whose callback never came (default on, needs AIRFLOW_<NAME>_URL)
  MEDIC_RECONCILER_CRON        when it looks (default "*/5 * * * *")
  MEDIC_RECONCILER_LOOKBACK_MIN  how far back each look reaches (default 60; overlapping looks are deduplicated)
  LOG_LEVEL                    fatal|error|warn|info|debug|trace|silent (default info)
  AIRFLOW_<NAME>_URL/_USERNAME/_PASSWORD/_API   an Airflow instance named in the catalog
  SOURCE_<NAME>_DSN            a source database named in the catalog

On-call commands (tables, rca, incidents) talk to a running daemon:
  MEDIC_URL                    the daemon's API (default http://127.0.0.1:8080); --url overrides
  MEDIC_TOKEN                  bearer token (reader; operator for rca action); --token overrides;
                               unset = MEDIC_ADMIN_TOKEN, else $MEDIC_HOME/admin-token if readable
  NO_COLOR                     set to print without colour (there is none when stdout is not a terminal)`;
