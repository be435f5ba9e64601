/**
 * The one backoff formula of auto-resolution (DESIGN 7, 10.5):
 *
 *     delay(attempt) = min(capMs, baseMs · 2^(attempt − 1)) · (1 − jitter · r),   r ∈ [0, 1)
 *
 * `attempt` is the number of the attempt that just failed (1 for the first). Exponential so a
 * struggling system gets room; capped so a long outage is still retried regularly; jittered
 * downwards so the pipelines failed by one outage do not all retry in the same second.
 */
export interface BackoffOptions {
  /** Delay after the first failed attempt. Default 60 s (MEDIC_RESOLVER_BACKOFF_BASE_MS). */
  baseMs: number;
  /** Longest delay. Default 30 min (MEDIC_RESOLVER_BACKOFF_CAP_MS). */
  capMs: number;
  /** Fraction (0..1) of the delay that is randomised away. Default 0.2 (MEDIC_RESOLVER_BACKOFF_JITTER). */
  jitter: number;
}

export const DEFAULT_BACKOFF: BackoffOptions = { baseMs: 60_000, capMs: 30 * 60_000, jitter: 0.2 };

export function backoffDelayMs(attempt: number, options: BackoffOptions, random: () => number = Math.random): number {
  const exponential = options.baseMs * 2 ** Math.max(0, attempt - 1);
  const capped = Math.min(options.capMs, exponential);
  return Math.round(capped * (1 - options.jitter * random()));
}
