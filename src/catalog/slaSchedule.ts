import { CronExpressionParser } from 'cron-parser';
import type { TableSla } from './types.ts';

/**
 * The newest deadline that has passed: the latest schedule tick T with
 * T + complete_within ≤ now, and its deadline. Schedules are read in UTC.
 */
export function lastPassedDeadline(sla: TableSla, now: Date): { tick: Date; deadline: Date } {
  const windowMs = sla.complete_within_minutes * 60_000;
  const expression = CronExpressionParser.parse(sla.schedule, { currentDate: new Date(now.getTime() - windowMs + 1), tz: 'UTC' });
  const tick = expression.prev().toDate();
  return { tick, deadline: new Date(tick.getTime() + windowMs) };
}

