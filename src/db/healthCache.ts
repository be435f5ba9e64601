import pg from 'pg';
import client from 'prom-client';
import type { Logger } from 'pino';
import { HealthChangeFeed, type HealthChangeFeedOptions, type HealthChanges } from './healthChangeFeed.ts';
import { readTableHealth, readTableHealthPage } from './healthQueries.ts';
import { normaliseError } from '../errors.ts';

/** A Map entry and its key cost about this much besides the JSON itself. */
const ENTRY_OVERHEAD_BYTES = 100;

export interface HealthCacheOptions {
  /** One table's health as the JSON the API sends, or null when the table is unknown. */
  load: (table: string) => Promise<string | null>;
  /** Up to `limit` known tables after `after` ('' first), with their JSON: pages for `warm()`. */
  loadPage?: (after: string, limit: number) => Promise<Array<[table: string, json: string]>>;
  /** Whether what the cache holds may be served now (its change feed is current, and no write of this process is unseen). */
  mayServe: () => boolean;
  /**
   * Whether loads may be kept now (the change feed is current). Keeping is safe whenever the
   * feed will report every later commit: a load is dropped if its table is reported meanwhile.
   */
  mayFill: () => boolean;
  /** Bound on the memory held, estimated from string lengths; the oldest entries go first. */
  maxBytes: number;
}

/**
 * Table health as serialised JSON, by table name, filled on first read and invalidated by
 * `apply(changes)`. A load that an invalidation of its table overtakes is answered but not
 * kept: it may have read the row before the change committed. While `mayServe()` is false
 * every read goes to the database, so nothing stale is served while the feed is behind.
 */
export class HealthCache {
  private readonly entries = new Map<string, string | null>();
  /** Loads in flight, shared by concurrent misses; a load is kept only if still listed here when it ends. */
  private readonly loading = new Map<string, Promise<string | null>>();
  private bytes = 0;
  /** Tables invalidated while a warming page was being read (null: everything was). */
  private changedDuringPage: Set<string> | null = null;
  private warmRun = 0;
  hits = 0;
  misses = 0;
  bypasses = 0;

  constructor(private readonly options: HealthCacheOptions) {}

  get size(): number { return this.entries.size; }
  get approxBytes(): number { return this.bytes; }

  read(table: string): Promise<string | null> | string | null {
    if (!this.options.mayServe()) {
      this.bypasses += 1;
      return this.options.load(table);
    }
    const hit = this.entries.get(table);
    if (hit !== undefined) {
      this.hits += 1;
      return hit;
    }
    this.misses += 1;
    let pending = this.loading.get(table);
    if (!pending) {
      const load = this.options.load(table);
      pending = load;
      this.loading.set(table, load);
      load.then((json) => {
        if (this.loading.get(table) !== load) return;
        this.loading.delete(table);
        if (this.options.mayFill()) this.store(table, json);
      }, () => {
        if (this.loading.get(table) === load) this.loading.delete(table);
      });
    }
    return pending;
  }

  apply(changes: HealthChanges): void {
    if (changes.all) {
      this.entries.clear();
      this.loading.clear();
      this.bytes = 0;
      this.changedDuringPage = null;
      return;
    }
    for (const table of changes.tables) {
      this.changedDuringPage?.add(table);
      const json = this.entries.get(table);
      if (json !== undefined) {
        this.entries.delete(table);
        this.bytes -= entryBytes(table, json);
      }
      this.loading.delete(table);
    }
  }

  /**
   * Fills the cache with every known table, a page at a time, up to 90 % of its bound: a
   * dashboard's first reads after a start (or after a flush) are hits, and 100,000 tables cost
   * a hundred queries instead of 100,000. The same rule as a single load: a page's row is kept
   * only if no invalidation of its table arrived while the page was read. A newer call stops
   * an older one; so does the feed falling behind (reads then fill the cache as they come).
   */
  async warm(pageSize = 250): Promise<number> {
    const { loadPage } = this.options;
    if (!loadPage) return 0;
    const run = ++this.warmRun;
    let after = '';
    let stored = 0;
    while (run === this.warmRun && this.options.mayFill() && this.bytes < this.options.maxBytes * 0.9) {
      const changed = new Set<string>();
      this.changedDuringPage = changed;
      const page = await loadPage(after, pageSize);
      // Stopped, or everything was invalidated while the page was read (changedDuringPage reset).
      if (run !== this.warmRun || this.changedDuringPage !== changed || !this.options.mayFill()) break;
      for (const [table, json] of page) {
        if (changed.has(table) || this.entries.has(table) || this.loading.has(table)) continue;
        this.store(table, json);
        stored += 1;
      }
      if (page.length < pageSize) break;
      after = page[page.length - 1]![0];
    }
    if (run === this.warmRun) this.changedDuringPage = null;
    return stored;
  }

  /** Stops a warm() in progress (at its next page). */
  stopWarming(): void {
    this.warmRun += 1;
    this.changedDuringPage = null;
  }

  private store(table: string, json: string | null): void {
    const previous = this.entries.get(table);
    if (previous !== undefined) this.bytes -= entryBytes(table, previous);
    this.entries.set(table, json === null ? null : compactCopy(json));
    this.bytes += entryBytes(table, json);
    if (this.bytes > this.options.maxBytes) this.evict();
  }

  /** Drops the oldest entries down to 90 % of the bound, in one pass (Map iterates oldest first). */
  private evict(): void {
    const target = this.options.maxBytes * 0.9;
    for (const [table, json] of this.entries) {
      if (this.bytes <= target) break;
      this.entries.delete(table);
      this.bytes -= entryBytes(table, json);
    }
  }
}

/**
 * A flat copy of exactly the string's size. What JSON.stringify returns can keep the spare
 * capacity of the buffer it was built in: measured 401 bytes of heap for a 224-character
 * health JSON, against 248 for the copy (100,000 tables: 15 MB less).
 */
function compactCopy(json: string): string {
  return Buffer.from(json).toString();
}

function entryBytes(table: string, json: string | null): number {
  return ENTRY_OVERHEAD_BYTES + table.length + (json?.length ?? 0);
}

export interface TableHealthReaderOptions {
  pool: pg.Pool;
  log: Logger;
  /** Where the cache's figures are exported (the daemon's Prometheus registry). */
  registry?: client.Registry;
  /** Default 48 MB (estimated from string lengths): 100,000 tables take about 35 MB. */
  maxBytes?: number;
  /** How often the change feed polls (default 50 ms): the delay before another replica's write is seen. */
  pollMs?: number;
  /** Hits are served only while the feed's last poll is at most this old (default 10 × pollMs, at least 1 s). */
  maxStalenessMs?: number;
  /** The feed's own connection; by default one more connection with the pool's settings. */
  newFeedClient?: () => pg.Client;
  /** Fill the cache with every known table at start and after each flush (default true). */
  warm?: boolean;
  /** The change feed's timings (see HealthChangeFeedOptions). */
  feed?: Pick<HealthChangeFeedOptions, 'queryTimeoutMs' | 'resetAfterMs' | 'retentionMs'>;
}

export interface TableHealthReader {
  /** The JSON of GET /v1/tables/{table}/health, or null when the table is unknown. */
  read(table: string): Promise<string | null> | string | null;
  /**
   * A request of this process that may change table health has started; call the returned
   * function when it has ended (answered or not). Until the feed has polled after that, reads
   * here go to PostgreSQL: whoever made the change sees it on their next read.
   */
  localWriteStarted(): () => void;
  cache: HealthCache;
  feed: HealthChangeFeed;
  stop(): Promise<void>;
}

/**
 * The per-process read path of table health: plain SQL on a miss, the JSON cached until the
 * change feed says the table changed (in this process or any other replica).
 */
export function startTableHealthReader(options: TableHealthReaderOptions): TableHealthReader {
  const pollMs = options.pollMs ?? 50;
  const maxStalenessMs = options.maxStalenessMs ?? Math.max(1000, pollMs * 10);
  const newFeedClient = options.newFeedClient ?? (() => new pg.Client({ ...options.pool.options, application_name: 'medic-health-feed' }));
  let cache: HealthCache | null = null;
  let warmTimer: NodeJS.Timeout | null = null;
  let localWritesInFlight = 0;
  let lastLocalWriteEndedAt = -Infinity;
  // After a flush, once the feed is current (it reports the flush before it marks itself current).
  const warmSoon = (attempt = 0) => {
    if (options.warm === false || attempt > 300) return;
    if (warmTimer) clearTimeout(warmTimer);
    warmTimer = setTimeout(() => {
      warmTimer = null;
      if (!feed.isCurrent(maxStalenessMs)) return warmSoon(attempt + 1);
      const started = Date.now();
      cache!.warm().then(
        (stored) => options.log.debug({ tables: stored, ms: Date.now() - started }, 'table health cache warmed'),
        (error: unknown) => options.log.warn({ err: normaliseError(error, 'warming the table health cache') }, 'warming the table health cache failed; reads fill it instead'),
      );
    }, attempt === 0 ? 0 : pollMs);
  };
  const feed = new HealthChangeFeed({
    newClient: newFeedClient,
    onChanges: (changes) => {
      cache?.apply(changes);
      if (changes.all) warmSoon();
    },
    log: options.log,
    pollMs,
    ...options.feed,
  });
  cache = new HealthCache({
    load: async (table) => {
      const view = await readTableHealth(options.pool, table);
      return view === null ? null : JSON.stringify(view);
    },
    loadPage: async (after, limit) => (await readTableHealthPage(options.pool, after, limit)).map((view) => [view.table, JSON.stringify(view)]),
    mayServe: () => localWritesInFlight === 0 && feed.coversCommitsBefore(lastLocalWriteEndedAt) && feed.isCurrent(maxStalenessMs),
    mayFill: () => feed.isCurrent(maxStalenessMs),
    maxBytes: options.maxBytes ?? 48 * 1024 * 1024,
  });
  if (options.registry) registerCacheMetrics(options.registry, cache, feed);
  feed.start();
  return {
    read: (table) => cache.read(table),
    localWriteStarted() {
      localWritesInFlight += 1;
      let ended = false;
      return () => {
        if (ended) return;
        ended = true;
        localWritesInFlight -= 1;
        lastLocalWriteEndedAt = performance.now();
        feed.pollSoon();
      };
    },
    cache,
    feed,
    async stop() {
      if (warmTimer) clearTimeout(warmTimer);
      cache.stopWarming();
      await feed.stop();
    },
  };
}

/** Read from the cache's own counters at scrape time: nothing is added to the request path. */
function registerCacheMetrics(registry: client.Registry, cache: HealthCache, feed: HealthChangeFeed): void {
  new client.Counter({
    name: 'medic_health_cache_reads_total',
    help: 'Table health reads: hit (served from memory), miss (read from PostgreSQL, then kept), bypass (read from PostgreSQL because the change feed was behind)',
    labelNames: ['result'] as const,
    registers: [registry],
    collect() {
      this.reset();
      this.inc({ result: 'hit' }, cache.hits);
      this.inc({ result: 'miss' }, cache.misses);
      this.inc({ result: 'bypass' }, cache.bypasses);
    },
  });
  new client.Gauge({
    name: 'medic_health_cache_entries', help: 'Tables whose health this process holds in memory', registers: [registry],
    collect() { this.set(cache.size); },
  });
  new client.Gauge({
    name: 'medic_health_cache_bytes', help: 'Estimated memory held by the table health cache', registers: [registry],
    collect() { this.set(cache.approxBytes); },
  });
  new client.Gauge({
    name: 'medic_health_feed_lag_seconds', help: 'Seconds since the table health change feed last polled successfully', registers: [registry],
    collect() { const lag = feed.lagMs(); this.set(Number.isFinite(lag) ? lag / 1000 : -1); },
  });
  new client.Counter({
    name: 'medic_health_feed_failures_total', help: 'Polls of the table health change feed that failed (each one sends reads to PostgreSQL until a poll succeeds)', registers: [registry],
    collect() { this.reset(); this.inc(feed.failures); },
  });
}
