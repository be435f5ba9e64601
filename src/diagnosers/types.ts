import type { Logger } from 'pino';
import type { Category, AssigneeRole } from './taxonomy.ts';
import type { Signal, SignalKind } from '../signals/types.ts';
import type { CatalogTable, Team } from '../catalog/types.ts';
import type { LookupCache } from '../clients/lookupCache.ts';
import type { AirflowClient } from '../clients/airflowClient.ts';

/**
 * A finding is a message id plus the data that fills it. The text lives in the analyser's
 * `meta.messages`, so the API, webhooks and the UI all render the same sentence (DESIGN 10.2).
 */
export interface Finding {
  messageId: string;
  data?: Record<string, string | number>;
}

/** What an analyser concludes when it is sure enough. */
export interface Verdict {
  category: Category;
  /** 0..1; the chain stops at the first verdict at or above its confidence threshold. */
  confidence: number;
  /** Override of the category's default assignee role (e.g. upstream_owner). */
  assigneeRole?: AssigneeRole;
  /** Rendered with the analyser's meta.messages into the RCA summary. */
  summary: Finding;
  /** Specifics for the manual steps template (e.g. the missing column, the upstream table). */
  details?: Record<string, string | number>;
  /**
   * Set when the cause is another RCA's (an SLA miss whose run already failed takes that
   * failure's diagnosis): the new record gets its incident and assignee instead of fresh ones.
   */
  inherit?: InheritedDiagnosis;
}

export interface InheritedDiagnosis {
  rcaId: string;
  incidentId: string | null;
  assignee: { team: string | null; role: AssigneeRole; reason: string };
}

/** An earlier signal about a table, with the RCA written for it (if any yet). */
export interface HistoricSignal {
  id: string;
  kind: SignalKind;
  event: string | null;
  table: string;
  occurredAt: Date;
  pipeline: Signal['pipeline'];
  payload: Record<string, unknown>;
  rca: {
    id: string; category: Category; status: string; summary: string; incidentId: string | null;
    assigneeTeam: string | null; assigneeRole: AssigneeRole; assigneeReason: string;
  } | null;
}

export interface TableHealthSnapshot {
  table: string;
  status: 'healthy' | 'degraded' | 'unhealthy' | 'unknown';
  since: Date;
  lastSuccessAt: Date | null;
}

/** Read access to what Medic already knows; PostgreSQL-backed in the daemon. */
export interface SignalHistory {
  /** Signals about `table` that occurred in [since, until], newest first. */
  forTable(table: string, options: { since: Date; until?: Date; kinds?: SignalKind[]; limit?: number }): Promise<HistoricSignal[]>;
  /** Current health of the given tables; tables never heard of are left out. */
  health(tables: string[]): Promise<TableHealthSnapshot[]>;
}

/** What one analyser returns: what it saw, and optionally a verdict. */
export interface AnalyserResult {
  observations: Record<string, unknown>;
  findings?: Finding[];
  verdict?: Verdict | null;
}

export interface AnalyserMeta {
  /** Equal to the file name, kebab-case. */
  id: string;
  /** Bumped when the analyser's logic changes, so old evidence can be told apart. */
  version: string;
  description: string;
  appliesTo: SignalKind[];
  messages: Record<string, string>;
}

/** What the catalog knows about the signal's table, and the teams to resolve assignees. */
export interface CatalogView {
  /** null when the table is not onboarded (DESIGN 3.7). */
  table: CatalogTable | null;
  teams: Map<string, Team>;
  /** Catalog entries of the table's upstream tables that are onboarded. */
  upstream: CatalogTable[];
  platformTeam: string;
}

/** Helpers an analyser gets; never globals (DESIGN 10.4). */
export interface AnalyserHelpers {
  log: Logger;
  /** Aborted when the analyser's time budget runs out or the daemon shuts down. */
  abortSignal: AbortSignal;
  /** Earlier signals and current table health. */
  history: SignalHistory;
  /** Identical external look-ups within a short window are made once and shared; use it for every probe. */
  cache: LookupCache;
  /** The Airflow instance a signal names (catalog `pipeline.airflow` / payload `airflow`); null when not configured. */
  airflow(name: string | undefined): AirflowClient | null;
  /** The DSN of a catalog source (`SOURCE_<NAME>_DSN`); null when not configured. */
  sourceDsn(name: string): string | null;
  /** Thresholds analysers decide by, from config. */
  settings: AnalyserSettings;
}

/** The helpers every analyser of every diagnosis shares; log and abortSignal are per analyser run. */
export type SharedHelpers = Omit<AnalyserHelpers, 'log' | 'abortSignal'>;

export interface AnalyserSettings {
  /** Replica lag (seconds) above which a source counts as lagging, unless the catalog source sets max_replica_lag_s. */
  replicaLagThresholdS: number;
  /** How long an external look-up's answer is shared between diagnoses. */
  lookupTtlMs: number;
}

export interface AnalyserContext {
  signal: Signal;
  catalog: CatalogView;
  /** What the analysers before this one in the chain found (e.g. the column the classifier extracted). */
  earlier: readonly EvidenceEntry[];
  helpers: AnalyserHelpers;
}

/** One analyser: one file, one export (DESIGN 5, 10.1). */
export interface Analyser {
  meta: AnalyserMeta;
  analyse(ctx: AnalyserContext): Promise<AnalyserResult> | AnalyserResult;
}

/** One entry of an RCA's evidence trail. */
export interface EvidenceEntry {
  analyser: string;
  version: string;
  inputs: Record<string, unknown>;
  observations: Record<string, unknown>;
  findings: Array<Finding & { text: string }>;
  verdict: (Omit<Verdict, 'summary'> & { summary: string }) | null;
  error: string | null;
  duration_ms: number;
}

/** Fills `{name}` placeholders; unknown placeholders are left visible rather than blanked. */
export function renderMessage(template: string, data: Record<string, string | number> = {}): string {
  return template.replace(/\{(\w+)\}/g, (whole, key: string) =>
    Object.prototype.hasOwnProperty.call(data, key) ? String(data[key]) : whole,
  );
}
