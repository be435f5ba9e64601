import type { TableSla } from '../catalog/types.ts';
import { lastPassedDeadline } from '../catalog/slaSchedule.ts';
import type { CatalogView, SignalHistory, TableHealthSnapshot } from './types.ts';

/**
 * The upstream check shared by sla-timeline and dq-completeness (DESIGN 5, `upstream-health`):
 * is one of the table's catalog upstreams failing or late? A late or failing upstream explains a
 * missed deadline or stale data, and the upstream's owner is the one who can act.
 */

const HOUR_MS = 3_600_000;

/** Never look back less than this: a short SLA would otherwise hide an upstream that stopped hours ago. */
export const MIN_LOOKBACK_MS = 6 * HOUR_MS;
/** Without an SLA in the catalog there is no cadence to go by; a day covers daily loads. */
export const NO_SLA_LOOKBACK_MS = 24 * HOUR_MS;

/**
 * How far before a deadline to look for the runs and upstream successes that should have met it:
 * twice the time a run is allowed (one late run plus the one before it), at least 6 h; 24 h when
 * the catalog has no SLA for the table.
 */
export function lookbackMs(sla: TableSla | null | undefined): number {
  const minutes = sla?.complete_within_minutes;
  if (typeof minutes !== 'number' || !Number.isFinite(minutes) || minutes <= 0) return NO_SLA_LOOKBACK_MS;
  return Math.max(2 * minutes * 60_000, MIN_LOOKBACK_MS);
}

/** A failing or late upstream, and why it counts as one. */
export interface LateUpstream {
  status: 'unhealthy' | 'late';
  table: string;
  /**
   * `unhealthy`: its health is unhealthy. `degraded`: its health is degraded (late or suspect).
   * `stale`: its last success is older than the window start. `never_succeeded`: onboarded, heard
   * of, but no success ever recorded.
   */
  reason: 'unhealthy' | 'degraded' | 'stale' | 'never_succeeded';
  lastSuccessAt: Date | null;
}

export interface UpstreamLatenessInput {
  /** The table's upstream names from the catalog (`catalog.table.upstream`). */
  upstream: readonly string[];
  /** Names of the upstreams that are onboarded (`catalog.upstream`). */
  onboarded: readonly string[];
  /** Current health of the upstreams; a table never heard of has no snapshot. */
  health: readonly TableHealthSnapshot[];
  /** An upstream whose last success is older than this is late... */
  windowStart: Date;
  /** ...unless it has a threshold of its own here, from its own cadence (see {@link staleThresholds}). */
  staleBefore?: ReadonlyMap<string, Date>;
}

/**
 * The worst failing or late upstream, or null when all that Medic knows of are fine.
 * Unhealthy beats late; ties go to the first name in code-point order, so that the same inputs
 * always blame the same upstream (and group into the same incident).
 *
 * An upstream with no health snapshot at all is not blamed: Medic has never heard of it (newly
 * onboarded, or its pipeline sends no signals), and "no news" is not evidence of lateness. A
 * snapshot with no success ever counts as late only when the upstream is onboarded — for a
 * table outside the catalog we do not know that it is expected to land at all.
 */
export function findLateUpstream(input: UpstreamLatenessInput): LateUpstream | null {
  const onboarded = new Set(input.onboarded);
  const byTable = new Map(input.health.map((h) => [h.table, h]));
  const found: LateUpstream[] = [];
  for (const table of new Set(input.upstream)) {
    const h = byTable.get(table);
    if (!h) continue;
    if (h.status === 'unhealthy') found.push({ status: 'unhealthy', table, reason: 'unhealthy', lastSuccessAt: h.lastSuccessAt });
    else if (h.status === 'degraded') found.push({ status: 'late', table, reason: 'degraded', lastSuccessAt: h.lastSuccessAt });
    else if (h.lastSuccessAt === null) {
      if (onboarded.has(table)) found.push({ status: 'late', table, reason: 'never_succeeded', lastSuccessAt: null });
    } else if (h.lastSuccessAt.getTime() < (input.staleBefore?.get(table) ?? input.windowStart).getTime()) {
      found.push({ status: 'late', table, reason: 'stale', lastSuccessAt: h.lastSuccessAt });
    }
  }
  found.sort((a, b) => rank(a) - rank(b) || (a.table < b.table ? -1 : a.table > b.table ? 1 : 0));
  return found[0] ?? null;
}

function rank(u: LateUpstream): number {
  return u.status === 'unhealthy' ? 0 : 1;
}

/** What {@link checkUpstreams} looked at, for an analyser's observations. */
export interface UpstreamCheck {
  /** The upstream names asked about; empty when the table has none in the catalog (or is not onboarded). */
  checked: string[];
  health: Array<{ table: string; status: TableHealthSnapshot['status']; last_success_at: string | null }>;
  late: LateUpstream | null;
}

/**
 * When each onboarded upstream counts as stale, judged by its own cadence rather than the
 * downstream's: a daily table that landed at 03:20 is not late at 10:00. With an SLA, an upstream
 * is stale when it has no success since the schedule tick of its newest passed deadline (it
 * missed its own SLA); without one, when its last success is over a day old.
 */
export function staleThresholds(catalog: CatalogView, reference: Date): Map<string, Date> {
  const thresholds = new Map<string, Date>();
  for (const upstream of catalog.upstream) {
    let threshold = new Date(reference.getTime() - NO_SLA_LOOKBACK_MS);
    if (upstream.sla) {
      try {
        threshold = lastPassedDeadline(upstream.sla, reference).tick;
      } catch {
        // An unreadable schedule: keep the one-day rule.
      }
    }
    thresholds.set(upstream.name, threshold);
  }
  return thresholds;
}

/**
 * Reads the upstreams' health through the history and applies {@link findLateUpstream}; with a
 * `reference` time, staleness follows each upstream's own cadence ({@link staleThresholds}).
 */
export async function checkUpstreams(history: SignalHistory, catalog: CatalogView, windowStart: Date, reference?: Date): Promise<UpstreamCheck> {
  const checked = [...new Set(catalog.table?.upstream ?? [])];
  if (checked.length === 0) return { checked, health: [], late: null };
  const health = await history.health(checked);
  return {
    checked,
    health: health.map((h) => ({ table: h.table, status: h.status, last_success_at: h.lastSuccessAt?.toISOString() ?? null })),
    late: findLateUpstream({ upstream: checked, onboarded: catalog.upstream.map((u) => u.name), health, windowStart, staleBefore: reference ? staleThresholds(catalog, reference) : undefined }),
  };
}
