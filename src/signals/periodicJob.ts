import cron from 'node-cron';
import type { Logger } from 'pino';
import { normaliseError } from '../errors.ts';

/**
 * Runs `work` on a node-cron schedule for the daemon's periodic jobs (SLA monitor, reconciler):
 * a slow pass is never overlapped by the next, errors are logged and the next period tries
 * again — a background loop never crashes the daemon (DESIGN 10.6). `stop()` waits for a pass
 * in progress.
 */
export function schedulePeriodic(name: string, schedule: string, log: Logger, work: () => Promise<void>): { stop(): Promise<void> } {
  let running: Promise<void> | null = null;
  const task = cron.schedule(schedule, () => {
    if (running) return;
    running = work()
      .catch((error) => log.error({ err: normaliseError(error, name) }, `${name} failed; will try again next period`))
      .finally(() => { running = null; });
  }, { name: `medic-${name}`, noOverlap: true });
  return {
    async stop() {
      await task.stop();
      await running;
    },
  };
}
