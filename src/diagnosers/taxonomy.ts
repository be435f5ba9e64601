/**
 * The root-cause taxonomy of DESIGN 5: every RCA record carries exactly one of these
 * categories. Kept in one place so the API schema, the classifier, the manual steps and
 * the metrics all agree.
 */
export const CATEGORIES = [
  'source_replica_lag',
  'source_unavailable',
  'source_auth_failure',
  'source_schema_change',
  'source_data_issue',
  'upstream_unhealthy',
  'upstream_late',
  'infra_transient',
  'resource_exhausted',
  'sink_write_failure',
  'scheduler_backlog',
  'runtime_regression',
  'incomplete_load',
  'code_error',
  'unknown',
] as const;

export type Category = (typeof CATEGORIES)[number];

/** Who must act, before it is resolved to a team through the catalog. */
export const ASSIGNEE_ROLES = ['pipeline_owner', 'source_owner', 'upstream_owner', 'platform'] as const;
export type AssigneeRole = (typeof ASSIGNEE_ROLES)[number];

/** The default assignee role per category (DESIGN 5, taxonomy table). */
export const DEFAULT_ASSIGNEE_ROLE: Record<Category, AssigneeRole> = {
  source_replica_lag: 'source_owner',
  source_unavailable: 'source_owner',
  source_auth_failure: 'pipeline_owner',
  source_schema_change: 'pipeline_owner',
  source_data_issue: 'source_owner',
  upstream_unhealthy: 'upstream_owner',
  upstream_late: 'upstream_owner',
  infra_transient: 'platform',
  resource_exhausted: 'pipeline_owner',
  sink_write_failure: 'platform',
  scheduler_backlog: 'platform',
  runtime_regression: 'pipeline_owner',
  incomplete_load: 'platform',
  code_error: 'pipeline_owner',
  unknown: 'platform',
};

export function isCategory(value: unknown): value is Category {
  return typeof value === 'string' && (CATEGORIES as readonly string[]).includes(value);
}
