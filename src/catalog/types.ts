/** A team that owns tables or sources (DESIGN 4). */
export interface Team {
  name: string;
  slack?: string | null;
  pagerduty_routing_key?: string | null;
  /** The platform team is the fallback assignee; exactly one should be marked. */
  platform?: boolean;
}

/** Where a table's data comes from. `name` refers to a DSN in config (SOURCE_<NAME>_DSN). */
export interface TableSource {
  kind: string;
  name: string;
  owner?: string | null;
  max_replica_lag_s?: number | null;
}

export interface TablePipeline {
  airflow?: string;
  dag_id: string;
  task_ids?: string[];
}

export interface TableSla {
  schedule: string;
  complete_within_minutes: number;
}

/** An onboarded lake table. */
export interface CatalogTable {
  name: string;
  owner?: string | null;
  tier?: number | null;
  pipeline?: TablePipeline | null;
  upstream?: string[];
  source?: TableSource | null;
  sla?: TableSla | null;
}

export interface CatalogDocument {
  teams?: Team[];
  tables?: CatalogTable[];
}
