import { sql } from 'drizzle-orm';
import type { Db } from './client.ts';
import { rcaRecords, resolutionJobs } from './schema.ts';

export interface ResolverStat {
  category: string;
  resolver: string;
  jobs: number;
  attempts: number;
  recovered: number;
  escalated: number;
  in_progress: number;
  /** recovered / (recovered + escalated); null until a job has finished either way. */
  success_rate: number | null;
  /** Median time from diagnosis to the success signal that confirmed recovery. */
  median_time_to_recover_s: number | null;
}

/** Resolver effectiveness per category and resolver (issue 5), for /v1/stats/resolvers and /metrics. */
export async function resolverStats(db: Db): Promise<ResolverStat[]> {
  const result = await db.execute<Record<string, unknown>>(sql`
    SELECT r.category, j.resolver, count(*)::int AS jobs, coalesce(sum(j.attempts), 0)::int AS attempts,
      (count(*) FILTER (WHERE j.state = 'recovered'))::int AS recovered,
      (count(*) FILTER (WHERE j.state = 'exhausted'))::int AS escalated,
      (count(*) FILTER (WHERE j.state IN ('scheduled', 'running', 'waiting_recovery')))::int AS in_progress,
      percentile_cont(0.5) WITHIN GROUP (ORDER BY EXTRACT(EPOCH FROM r.resolved_at - r.created_at))
        FILTER (WHERE j.state = 'recovered' AND r.resolved_at IS NOT NULL) AS median_s
    FROM ${resolutionJobs} j JOIN ${rcaRecords} r ON r.id = j.rca_id
    GROUP BY r.category, j.resolver ORDER BY r.category, j.resolver`);
  return result.rows.map((row) => {
    const recovered = Number(row.recovered);
    const escalated = Number(row.escalated);
    return {
      category: String(row.category),
      resolver: String(row.resolver),
      jobs: Number(row.jobs),
      attempts: Number(row.attempts),
      recovered,
      escalated,
      in_progress: Number(row.in_progress),
      success_rate: recovered + escalated > 0 ? recovered / (recovered + escalated) : null,
      median_time_to_recover_s: row.median_s === null ? null : Math.round(Number(row.median_s) * 10) / 10,
    };
  });
}
