import cron from 'node-cron';
import type pg from 'pg';
import type { Logger } from 'pino';
import { normaliseError } from '../errors.ts';

/**
 * Which replica runs a periodic job (DESIGN 3.5, 3.6, 9: "exactly one runs it"): the one holding
 * a session-level advisory lock, kept on a connection of its own for as long as the process
 * lives. A lock taken and released around each pass is not enough: replicas' ticks are
 * milliseconds apart and a pass takes milliseconds, so a second replica finds the lock free
 * right after the first pass and runs the same period again. The lock goes when its session
 * does (a crash, a lost connection), and another replica takes over at its next tick.
 */
export class AdvisoryLeadership {
  private client: pg.PoolClient | null = null;

  constructor(private readonly pool: pg.Pool, private readonly lockId: number) {}

  /** True when this process holds (or has just taken) the lock; false when another replica does. */
  async holds(): Promise<boolean> {
    if (this.client) {
      try {
        // A live session still holds its session-level locks.
        await this.client.query('SELECT 1');
        return true;
      } catch (error) {
        this.drop(error);
      }
    }
    const client = await this.pool.connect();
    try {
      const result = await client.query<{ locked: boolean }>('SELECT pg_try_advisory_lock($1) AS locked', [this.lockId]);
      if (result.rows[0]?.locked) {
        this.client = client;
        return true;
      }
      client.release();
      return false;
    } catch (error) {
      client.release(error as Error);
      throw error;
    }
  }

  /** Gives the lock up (graceful stop), so another replica takes over at its next tick. */
  async release(): Promise<void> {
    const client = this.client;
    if (!client) return;
    this.client = null;
    try {
      await client.query('SELECT pg_advisory_unlock($1)', [this.lockId]);
      client.release();
    } catch (error) {
      client.release(error as Error);
    }
  }

  private drop(error: unknown): void {
    this.client?.release(error as Error);
    this.client = null;
  }
}

/**
 * Runs `work` on a node-cron schedule for the daemon's periodic jobs (SLA monitor, reconciler):
 * a slow pass is never overlapped by the next, errors are logged and the next period tries
 * again — a background loop never crashes the daemon (DESIGN 10.6). With `leadership`, only
 * the replica holding it runs the pass. `stop()` waits for a pass in progress.
 */
export function schedulePeriodic(name: string, schedule: string, log: Logger, work: () => Promise<void>, leadership?: AdvisoryLeadership): { stop(): Promise<void> } {
  let running: Promise<void> | null = null;
  const pass = async () => {
    if (leadership && !(await leadership.holds())) return;
    await work();
  };
  const task = cron.schedule(schedule, () => {
    if (running) return;
    running = pass()
      .catch((error) => log.error({ err: normaliseError(error, name) }, `${name} failed; will try again next period`))
      .finally(() => { running = null; });
  }, { name: `medic-${name}`, noOverlap: true });
  return {
    async stop() {
      await task.stop();
      await running;
      await leadership?.release();
    },
  };
}
