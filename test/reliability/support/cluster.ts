import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Kafka, logLevel, Partitioners, type Producer } from 'kafkajs';
import pg from 'pg';
import { createTestDatabase } from '../../support/testDatabase.ts';
import { spawnDaemon, type DaemonProcess } from '../../support/daemonProcess.ts';
import { startKafkaBroker, type KafkaBroker } from '../../support/kafkaBroker.ts';
import { startAirflowStandIn } from '../../support/airflowStandIn.ts';
import { waitFor } from '../../support/testDaemon.ts';
import type { DqFailureEvent, SlaMissEvent } from '../../../src/signals/kafkaEvents.ts';

/**
 * Shared support of the reliability suite (issue #10): N real `medic serve` processes on one
 * database, one Kafka broker and consumer group, and one Airflow stand-in; a sender that
 * records which signals got a 2xx; and the SQL that counts what became of them.
 */

export type AirflowStandIn = Awaited<ReturnType<typeof startAirflowStandIn>>;
export type TestDatabase = Awaited<ReturnType<typeof createTestDatabase>>;

export interface ClusterOptions {
  /** Names the database, the consumer group and the topics, so files never share them. */
  label: string;
  /** Start a real Kafka broker and point every node at it. */
  kafka: boolean;
  /** Extra environment for every node (the cluster's own settings are overridable). */
  env?: Record<string, string>;
}

export interface Cluster {
  database: TestDatabase;
  /** A connection of the test's own, for the counting queries. */
  sql: pg.Client;
  airflow: AirflowStandIn;
  broker: KafkaBroker | null;
  /** Topic names of this cluster (unique per label). */
  topics: { slaMiss: string; dqFailure: string };
  groupId: string;
  token: string;
  /** Every node ever started, in order; killed ones stay so their output can be read. */
  nodes: DaemonProcess[];
  /** Starts one more `medic serve` process on the cluster's database and broker. */
  startNode(extraEnv?: Record<string, string>): Promise<DaemonProcess>;
  /** kill -9: no shutdown hook runs, in-flight requests and diagnoses are cut off. */
  killNode(node: DaemonProcess): Promise<void>;
  /** Produces events (acks from all in-sync replicas) and resolves once the broker has them. */
  produce(topic: string, events: Array<SlaMissEvent | DqFailureEvent>): Promise<void>;
  /** Resolves once the consumer group is stable with `members` members. */
  waitForGroup(members: number, timeoutMs: number): Promise<void>;
  count(query: string, params?: unknown[]): Promise<number>;
  /** SIGTERM to live nodes, then the broker, the stand-in and the database go. */
  stop(): Promise<void>;
}

export async function startCluster(options: ClusterOptions): Promise<Cluster> {
  const token = `${options.label}-reliability-admin-token`;
  const database = await createTestDatabase(options.label);
  const sql = new pg.Client({ connectionString: database.url });
  await sql.connect();
  const airflow = await startAirflowStandIn();
  const broker = options.kafka ? await startKafkaBroker() : null;
  const topics = { slaMiss: `${options.label}.sla-miss`, dqFailure: `${options.label}.dq-failure` };
  const groupId = `medic-${options.label}`;
  const home = await fs.mkdtemp(path.join(os.tmpdir(), `medic-${options.label}-`));
  let kafka: Kafka | null = null;
  let producer: Producer | null = null;
  if (broker) {
    kafka = new Kafka({ clientId: `${options.label}-test`, brokers: [broker.brokers], logLevel: logLevel.NOTHING, retry: { retries: 15, initialRetryTime: 200 } });
    const admin = kafka.admin();
    await admin.connect();
    await admin.createTopics({ topics: [topics.slaMiss, topics.dqFailure].map((topic) => ({ topic, numPartitions: 3 })), waitForLeaders: true });
    await admin.disconnect();
    producer = kafka.producer({ createPartitioner: Partitioners.DefaultPartitioner, idempotent: true, maxInFlightRequests: 1 });
    await producer.connect();
  }
  const env: Record<string, string> = {
    DATABASE_URL: database.url, MEDIC_ADMIN_TOKEN: token, MEDIC_HOME: home, ...airflow.env,
    MEDIC_DIAGNOSIS_POLL_MS: '200', MEDIC_RESOLVER_POLL_MS: '100',
    // Attempts that fail are retried within the test, not a minute later.
    MEDIC_RESOLVER_BACKOFF_BASE_MS: '300', MEDIC_RESOLVER_BACKOFF_CAP_MS: '2000',
    // A re-triggered job waits for its success signal well past the test: one clear per attempt, no timeouts.
    MEDIC_RESOLVER_RECOVERY_TIMEOUT_MS: '600000',
    ...(broker ? { KAFKA_BROKERS: broker.brokers, MEDIC_KAFKA_GROUP: groupId, MEDIC_KAFKA_TOPIC_SLA_MISS: topics.slaMiss, MEDIC_KAFKA_TOPIC_DQ_FAILURE: topics.dqFailure } : {}),
    ...options.env,
  };
  const nodes: DaemonProcess[] = [];
  const alive = (node: DaemonProcess) => node.child.exitCode === null && node.child.signalCode === null;

  return {
    database, sql, airflow, broker, topics, groupId, token, nodes,
    async startNode(extraEnv = {}) {
      const node = await spawnDaemon({ ...env, ...extraEnv });
      nodes.push(node);
      return node;
    },
    async killNode(node) {
      node.child.kill('SIGKILL');
      await node.exited;
    },
    async produce(topic, events) {
      if (!producer) throw new Error('this cluster runs without Kafka');
      await producer.send({ topic, acks: -1, messages: events.map((e) => ({ key: e.table, value: JSON.stringify(e) })) });
    },
    async waitForGroup(members, timeoutMs) {
      if (!kafka) throw new Error('this cluster runs without Kafka');
      const admin = kafka.admin();
      await admin.connect();
      try {
        await waitFor(async () => {
          const { groups } = await admin.describeGroups([groupId]);
          return groups[0]?.state === 'Stable' && groups[0].members.length === members;
        }, timeoutMs, `a stable ${members}-member consumer group`);
      } finally {
        await admin.disconnect();
      }
    },
    async count(query, params = []) {
      return Number((await sql.query(query, params)).rows[0].n);
    },
    async stop() {
      for (const node of nodes.filter(alive)) node.child.kill('SIGTERM');
      await Promise.all(nodes.map((node) => node.exited));
      await producer?.disconnect().catch(() => undefined);
      await broker?.stop();
      await airflow.close();
      await sql.end().catch(() => undefined);
      await database.drop();
      await fs.rm(home, { recursive: true, force: true });
    },
  };
}

/** How a failure callback is made to fail: a cause a retry fixes (auto-resolution plans a clear) or one it does not. */
export type FailureCause = 'transient' | 'code';

const EXCEPTIONS: Record<FailureCause, { type: string; message: string }> = {
  transient: { type: 'airflow.exceptions.AirflowException', message: 'Task received SIGTERM signal' },
  code: { type: 'KeyError', message: "'customer_id'" },
};

/** An Airflow on_failure_callback body (DESIGN 3.1); its `run_id` is unique, so it names the signal. */
export function failureCallback(runId: string, table: string, cause: FailureCause): Record<string, unknown> {
  return {
    event: 'failure', dag_id: `dag_${table.replace(/\W/g, '_')}`, task_id: 'load', run_id: runId, try_number: 1, max_tries: 1,
    airflow: 'main', tables: [table], exception: EXCEPTIONS[cause],
  };
}

/** What the sender saw for one callback: the status of its last try, `null` when no answer came; `detail` says why when it was not a 2xx. */
export interface SendOutcome { status: number | null; duplicate: boolean; tries: number; detail?: string }

/**
 * Sends Airflow callbacks with bounded concurrency and records, per run id, whether a 2xx
 * came back — the only promise the daemon makes is about those. A connection refused or cut
 * (the daemon was killed) is recorded as no answer, like a real callback that failed.
 */
export class CallbackSender {
  readonly outcomes = new Map<string, SendOutcome>();
  private accepted = 0;
  /** 503 answers (database unavailable: "nothing was stored, retry later") that were retried. */
  unavailableRetries = 0;

  constructor(private readonly token: string) {}

  /** Run ids that got a 2xx so far (202 new, or 200 duplicate). */
  get acceptedCount(): number {
    return this.accepted;
  }

  acceptedRunIds(): string[] {
    return [...this.outcomes].filter(([, o]) => isAccepted(o.status)).map(([runId]) => runId);
  }

  unacceptedRunIds(): string[] {
    return [...this.outcomes].filter(([, o]) => !isAccepted(o.status)).map(([runId]) => runId);
  }

  /** The callbacks without a 2xx, each with what came back instead: an assertion's readable diff. */
  unacceptedReport(): string[] {
    return this.unacceptedRunIds().map((runId) => {
      const outcome = this.outcomes.get(runId)!;
      return `${runId}: ${outcome.status ?? 'no answer'} ${outcome.detail ?? ''}`.trim();
    });
  }

  /** Sends `bodies` (each to `urlFor(index)`), `concurrency` at a time; resolves when all have an outcome. */
  async send(bodies: Array<Record<string, unknown>>, urlFor: (index: number) => string, concurrency: number): Promise<void> {
    let next = 0;
    const lane = async () => {
      while (next < bodies.length) {
        const index = next++;
        await this.sendOne(bodies[index]!, urlFor(index));
      }
    };
    await Promise.all(Array.from({ length: concurrency }, lane));
  }

  /** One callback; a 503 is retried after a pause as a real client would (the answer says nothing was stored). */
  private async sendOne(body: Record<string, unknown>, baseUrl: string): Promise<void> {
    for (let retry = 0; ; retry++) {
      await this.tryOnce(body, baseUrl);
      if (this.outcomes.get(String(body.run_id))!.status !== 503 || retry === MAX_UNAVAILABLE_RETRIES) return;
      this.unavailableRetries += 1;
      await new Promise((r) => setTimeout(r, 500));
    }
  }

  private async tryOnce(body: Record<string, unknown>, baseUrl: string): Promise<void> {
    const runId = String(body.run_id);
    const previous = this.outcomes.get(runId);
    let outcome: SendOutcome = { status: null, duplicate: false, tries: (previous?.tries ?? 0) + 1 };
    try {
      const response = await fetch(`${baseUrl}/v1/signals/airflow`, {
        method: 'POST', headers: { authorization: `Bearer ${this.token}`, 'content-type': 'application/json' }, body: JSON.stringify(body),
      });
      const text = await response.text();
      const answer = JSON.parse(text) as { duplicate?: boolean };
      outcome = { ...outcome, status: response.status, duplicate: answer.duplicate === true, ...(isAccepted(response.status) ? {} : { detail: text.slice(0, 300) }) };
    } catch (error) {
      // Refused, reset or cut mid-answer: the sender cannot know whether the signal was stored.
      outcome.detail = String((error as Error).cause ?? error);
    }
    if (isAccepted(outcome.status) && !isAccepted(previous?.status ?? null)) this.accepted += 1;
    this.outcomes.set(runId, outcome);
  }
}

const MAX_UNAVAILABLE_RETRIES = 10;

const isAccepted = (status: number | null) => status !== null && status >= 200 && status < 300;

/** One line of the suite's closing figures (issue #10). */
export interface SignalFigures {
  sent: number;
  accepted: number;
  diagnosed: number;
  /** Logical signals stored more than once, or with more than one RCA. */
  duplicated: number;
  /** Accepted signals with no RCA. */
  lost: number;
  /** Signals stored under a key nobody sent (must be 0). */
  unexpected: number;
}

/**
 * Counts, per logical signal, the rows it left: HTTP callbacks are keyed by run id, Kafka
 * events by event id. `expected` are the keys that were acknowledged (2xx, or produced to
 * the broker); `sent` counts everything that was sent, acknowledged or not.
 */
export async function signalFigures(sql: pg.Client, expected: { runIds: string[]; eventIds: string[] }, sent: number): Promise<SignalFigures & { offenders: string[] }> {
  const { rows } = await sql.query<{ key: string; signals: number; rcas: number }>(`
    SELECT CASE WHEN s.source = 'kafka' THEN s.payload->>'id' ELSE s.pipeline->>'run_id' END AS key,
           count(DISTINCT s.id)::int AS signals, count(r.id)::int AS rcas
    FROM signals s LEFT JOIN rca_records r ON r.signal_id = s.id
    WHERE s.source IN ('airflow', 'kafka')
    GROUP BY 1`);
  const byKey = new Map(rows.map((r) => [r.key, r]));
  const keys = [...expected.runIds, ...expected.eventIds];
  const wanted = new Set(keys);
  const offenders: string[] = [];
  let diagnosed = 0;
  let duplicated = 0;
  let lost = 0;
  for (const key of keys) {
    const row = byKey.get(key);
    if (!row || row.rcas === 0) {
      lost += 1;
      offenders.push(`${key}: lost (${row?.signals ?? 0} signal rows, no RCA)`);
      continue;
    }
    diagnosed += 1;
    if (row.signals > 1 || row.rcas > 1) {
      duplicated += 1;
      offenders.push(`${key}: ${row.signals} signal rows, ${row.rcas} RCAs`);
    }
  }
  const unexpected = rows.filter((r) => !wanted.has(r.key)).length;
  return { sent, accepted: keys.length, diagnosed, duplicated, lost, unexpected, offenders };
}

/** Attempts at the Airflow stand-in against the attempt rows Medic wrote. */
export interface AttemptFigures {
  jobs: number;
  /** Attempt rows that made (or may have made) the Airflow call: everything but a failure before the call. */
  expected: number;
  /** Of those, marked unknown: the process died during the call, which may or may not have reached Airflow. */
  unknown: number;
  /** Clear requests the stand-in received for these jobs. */
  executed: number;
  /** Jobs with more clears than attempt rows: an attempt ran twice. */
  overExecuted: string[];
  /** Jobs with an attempt recorded as made (retriggered / failed at Airflow) that the stand-in never saw. */
  unconfirmed: string[];
  /** Jobs still due or running: the test stopped looking too early. */
  unsettled: number;
}

/**
 * Per resolution job: `sure ≤ clears ≤ sure + unknown`, where `sure` are attempts recorded as
 * having reached Airflow and `unknown` ones cut off by a crash. A clear beyond that bound is
 * an attempt executed twice.
 */
export async function attemptFigures(sql: pg.Client, airflow: AirflowStandIn): Promise<AttemptFigures> {
  const { rows } = await sql.query<{ id: string; run_id: string; state: string; sure: number; unknown: number }>(`
    SELECT j.id, j.params->>'run_id' AS run_id, j.state,
           count(a.id) FILTER (WHERE a.outcome = 'retriggered' OR (a.outcome = 'failed' AND a.detail IS NOT NULL))::int AS sure,
           count(a.id) FILTER (WHERE a.outcome IN ('unknown', 'started'))::int AS unknown
    FROM resolution_jobs j LEFT JOIN resolution_attempts a ON a.job_id = j.id
    GROUP BY j.id`);
  const clearsByRun = new Map<string, number>();
  for (const clear of airflow.clears) {
    const runId = String(clear.body.dag_run_id);
    clearsByRun.set(runId, (clearsByRun.get(runId) ?? 0) + 1);
  }
  const figures: AttemptFigures = { jobs: rows.length, expected: 0, unknown: 0, executed: 0, overExecuted: [], unconfirmed: [], unsettled: 0 };
  for (const job of rows) {
    const clears = clearsByRun.get(job.run_id) ?? 0;
    figures.expected += job.sure + job.unknown;
    figures.unknown += job.unknown;
    figures.executed += clears;
    if (clears > job.sure + job.unknown) figures.overExecuted.push(`${job.run_id}: ${clears} clears for ${job.sure + job.unknown} attempts`);
    if (clears < job.sure) figures.unconfirmed.push(`${job.run_id}: ${clears} clears for ${job.sure} attempts that reached Airflow`);
    if (['scheduled', 'running'].includes(job.state)) figures.unsettled += 1;
  }
  return figures;
}

/** The closing line the issue asks for. */
export function formatFigures(name: string, signals: SignalFigures, attempts: AttemptFigures): string {
  return `${name}: signals sent ${signals.sent} / accepted ${signals.accepted} / diagnosed ${signals.diagnosed} / duplicated ${signals.duplicated} / lost ${signals.lost}; `
    + `resolution attempts executed ${attempts.executed} per ${attempts.expected} expected (${attempts.unknown} cut off by a crash) over ${attempts.jobs} jobs`;
}
