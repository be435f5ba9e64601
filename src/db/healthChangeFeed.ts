import type pg from 'pg';
import type { Logger } from 'pino';
import { normaliseError } from '../errors.ts';

/**
 * What changed since the previous poll: the tables whose health view may differ, or `all`
 * when the feed cannot tell (its first poll, a TRUNCATE, too many names, a database whose
 * transaction ids went backwards, or a gap in the feed longer than `resetAfterMs`).
 */
export type HealthChanges = { all: true } | { all: false; tables: string[] };

export interface HealthChangeFeedOptions {
  /** A new, unconnected client: the feed keeps a connection of its own, out of the busy pool. */
  newClient: () => pg.Client;
  onChanges: (changes: HealthChanges) => void;
  log: Logger;
  /** Between two polls; the time a change on another replica may take to be seen here. */
  pollMs?: number;
  /** A poll taking longer than this counts as a lost connection. */
  queryTimeoutMs?: number;
  /** A feed down for longer than this starts over with `all` (the log may have been pruned meanwhile). */
  resetAfterMs?: number;
  /** Log rows are deleted once committed this long ago; far more than any replica's gap. */
  retentionMs?: number;
}

/** More changed names than this in one poll: cheaper to drop everything than to list them. */
const MAX_NAMES = 10_000;

/**
 * Rows of table_health_changes (migration 0006) committed since `$1`, the snapshot of the
 * previous poll: not visible to that snapshot, visible to this statement's. Commit order does
 * not matter, so no row is ever skipped. The xid range only narrows the index scan: every xid
 * that snapshot did not see is at least its xmin. NULL names (a TRUNCATE) come back as null.
 */
const POLL_SQL = `
  SELECT pg_current_snapshot()::text AS snapshot,
    CASE WHEN $1::text IS NULL THEN NULL ELSE ARRAY(
      SELECT DISTINCT table_name FROM table_health_changes
      WHERE xid >= pg_snapshot_xmin($1::text::pg_snapshot) AND NOT pg_visible_in_snapshot(xid, $1::text::pg_snapshot)
      LIMIT ${MAX_NAMES + 1}) END AS tables,
    $1::text IS NOT NULL AND pg_snapshot_xmax(pg_current_snapshot()) < pg_snapshot_xmin($1::text::pg_snapshot) AS rewound`;

const PRUNE_BATCH = 5000;
const PRUNE_SQL = `
  DELETE FROM table_health_changes WHERE xid < $1::xid8 AND ctid = ANY(ARRAY(
    SELECT ctid FROM table_health_changes WHERE xid < $1::xid8 LIMIT ${PRUNE_BATCH}))`;

/**
 * Follows table_health_changes for one process: polls every `pollMs` on a connection of its
 * own, reports what changed, reconnects after any error, and prunes old rows. `isCurrent()`
 * says whether the last successful poll is recent enough for a cache to trust what it holds.
 */
export class HealthChangeFeed {
  private readonly pollMs: number;
  private readonly queryTimeoutMs: number;
  private readonly resetAfterMs: number;
  private readonly retentionMs: number;
  private client: pg.Client | null = null;
  private snapshot: string | null = null;
  private lastOkAt = 0;
  /** When the last successful poll was sent (performance.now()): every commit before then was in what it reported. */
  private lastOkSentAt = -Infinity;
  private failingSince: number | null = null;
  private stopped = false;
  private loop: Promise<void> | null = null;
  private wake: (() => void) | null = null;
  /** pollSoon() was called during a poll: poll again straight after it. */
  private pollRequested = false;
  /** Rows with an xid below this are being pruned, a batch a poll. */
  private pruneBelow: string | null = null;
  /** xmin of a snapshot and when it was taken, oldest first: what may be pruned once it is `retentionMs` old. */
  private readonly pruneMarks: Array<{ at: number; xmin: string }> = [];
  /** Polls that failed, for /metrics. */
  failures = 0;

  constructor(private readonly options: HealthChangeFeedOptions) {
    this.pollMs = options.pollMs ?? 50;
    this.queryTimeoutMs = options.queryTimeoutMs ?? 2000;
    this.resetAfterMs = options.resetAfterMs ?? 10_000;
    this.retentionMs = options.retentionMs ?? 10 * 60_000;
  }

  start(): void {
    this.loop ??= this.run();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.wake?.();
    await this.loop;
    await this.disconnect(true);
  }

  /**
   * True while the last successful poll ended less than `maxAgeMs` ago. Whatever a cache filled
   * before then is invalidated by then, so a hit is at most that old.
   */
  isCurrent(maxAgeMs: number): boolean {
    return this.failingSince === null && this.lastOkAt > 0 && Date.now() - this.lastOkAt <= maxAgeMs;
  }

  /** Whether everything committed before `at` (a performance.now() instant) has been reported. */
  coversCommitsBefore(at: number): boolean {
    return at < this.lastOkSentAt;
  }

  /** Polls now rather than at the next tick (a write in this process just committed). */
  pollSoon(): void {
    if (this.failingSince !== null) return;
    if (this.wake) this.wake();
    else this.pollRequested = true;
  }

  /** Milliseconds since the last successful poll (Infinity before the first). */
  lagMs(): number {
    return this.lastOkAt === 0 ? Infinity : Date.now() - this.lastOkAt;
  }

  private async run(): Promise<void> {
    while (!this.stopped) {
      try {
        await this.pollOnce();
        if (this.failingSince !== null) this.options.log.info({ down_ms: Date.now() - this.failingSince }, 'health change feed is back');
        this.failingSince = null;
      } catch (error) {
        this.failures += 1;
        await this.disconnect();
        if (this.failingSince === null) {
          this.failingSince = Date.now();
          this.options.log.warn({ err: normaliseError(error, 'polling table_health_changes') }, 'health change feed lost; health reads go to the database until it is back');
        }
        // Down for long: the rows since the last snapshot may be pruned by the time it is back.
        if (this.snapshot !== null && Date.now() - this.failingSince > this.resetAfterMs) {
          this.snapshot = null;
          this.options.onChanges({ all: true });
        }
      }
      if (this.stopped) break;
      if (this.pollRequested && this.failingSince === null) {
        this.pollRequested = false;
        continue;
      }
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, this.failingSince === null ? this.pollMs : Math.min(1000, this.pollMs * 5));
        this.wake = () => { clearTimeout(timer); resolve(); };
      });
      this.wake = null;
    }
  }

  private async pollOnce(): Promise<void> {
    const client = await this.connected();
    const sentAt = performance.now();
    const { rows: [row] } = await this.withTimeout(client.query<{ snapshot: string; tables: Array<string | null> | null; rewound: boolean }>({
      name: 'medic_health_changes', text: POLL_SQL, values: [this.snapshot],
    }));
    const { snapshot, tables, rewound } = row!;
    if (this.snapshot === null || rewound || tables === null || tables.length > MAX_NAMES || tables.includes(null)) {
      this.options.onChanges({ all: true });
    } else if (tables.length > 0) {
      this.options.onChanges({ all: false, tables: tables as string[] });
    }
    this.snapshot = snapshot;
    this.lastOkAt = Date.now();
    this.lastOkSentAt = sentAt;
    await this.pruneIfDue(client, snapshot);
  }

  /**
   * Deletes the rows of transactions that had all ended `retentionMs` ago (their xids are below
   * the xmin of a snapshot taken then): every replica polling since has seen them. Each
   * replica prunes on its own; deleting rows already gone costs nothing. At most PRUNE_BATCH
   * rows a poll, so a large backlog never holds up the polls behind it.
   */
  private async pruneIfDue(client: pg.Client, snapshot: string): Promise<void> {
    const now = Date.now();
    const newest = this.pruneMarks[this.pruneMarks.length - 1];
    if (!newest || now - newest.at >= Math.min(60_000, this.retentionMs)) this.pruneMarks.push({ at: now, xmin: snapshot.split(':')[0]! });
    const oldest = this.pruneMarks[0]!;
    if (now - oldest.at >= this.retentionMs) {
      this.pruneMarks.shift();
      this.pruneBelow = oldest.xmin;
    }
    if (this.pruneBelow === null) return;
    const { rowCount } = await this.withTimeout(client.query({ name: 'medic_health_changes_prune', text: PRUNE_SQL, values: [this.pruneBelow] }));
    if ((rowCount ?? 0) < PRUNE_BATCH) this.pruneBelow = null;
  }

  private async connected(): Promise<pg.Client> {
    if (this.client) return this.client;
    const client = this.options.newClient();
    // An error on an idle connection must not crash the process; the next poll notices it.
    client.on('error', () => undefined);
    try {
      await this.withTimeout(client.connect());
    } catch (error) {
      void client.end().catch(() => undefined);
      throw error;
    }
    this.client = client;
    return client;
  }

  /** Drops the connection; waits for a clean goodbye only when stopping (a dead peer may never answer). */
  private async disconnect(wait = false): Promise<void> {
    const client = this.client;
    this.client = null;
    const ended = client?.end().catch(() => undefined);
    if (wait && ended) await this.withTimeout(ended).catch(() => undefined);
  }

  private withTimeout<T>(promise: Promise<T>, ms = this.queryTimeoutMs): Promise<T> {
    let timer: NodeJS.Timeout;
    return Promise.race([
      promise,
      new Promise<never>((_, reject) => { timer = setTimeout(() => reject(new Error(`no answer from PostgreSQL within ${ms} ms`)), ms); }),
    ]).finally(() => clearTimeout(timer));
  }
}
