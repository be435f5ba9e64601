import type { Signal } from '../signals/types.ts';
import { ANALYSERS } from './analysers/index.ts';
import { resolveAssignee, type Assignee } from './assignee.ts';
import { renderManualSteps } from './manualSteps.ts';
import { runChain, type ChainOptions } from './runChain.ts';
import { DEFAULT_ASSIGNEE_ROLE, type Category } from './taxonomy.ts';
import type { Analyser, CatalogView, EvidenceEntry } from './types.ts';

/** A diagnosis ready to be stored as an RCA record. */
export interface Diagnosis {
  category: Category;
  summary: string;
  confidence: number;
  assignee: Assignee;
  incidentId: string;
  manualSteps: string;
  evidence: EvidenceEntry[];
  /** The deciding verdict's details, for planning the auto-resolution. */
  details: Record<string, string | number>;
  /** True when the verdict took over another RCA's diagnosis. */
  inherited: boolean;
}

/** The diagnoser for a signal kind: the registered analysers that apply to it, in registry order. */
export function analysersFor(kind: Signal['kind'], registry: readonly Analyser[] = ANALYSERS): Analyser[] {
  return registry.filter((a) => a.meta.appliesTo.includes(kind));
}

/**
 * Runs the signal's diagnoser and turns its verdict into category, assignee, incident key and
 * manual steps. No verdict means `unknown`, assigned to the platform team.
 */
export async function buildDiagnosis(
  signal: Signal,
  catalog: CatalogView,
  options: ChainOptions & { registry?: readonly Analyser[] },
): Promise<Diagnosis> {
  const { evidence, verdict } = await runChain(analysersFor(signal.kind, options.registry), { signal, catalog }, options);
  if (catalog.table === null) {
    evidence.unshift({
      analyser: 'catalog', version: '1', inputs: { table: signal.table }, observations: { in_catalog: false },
      findings: [{ messageId: 'notInCatalog', text: `${signal.table} is not in the catalog: owner unknown, assigned to the platform team` }],
      verdict: null, error: null, duration_ms: 0,
    });
  }
  const category: Category = verdict?.category ?? 'unknown';
  const details = verdict?.details ?? {};
  const upstream = typeof details.upstream === 'string' ? details.upstream : undefined;
  const assignee = verdict?.inherit?.assignee
    ?? resolveAssignee(verdict?.assigneeRole ?? DEFAULT_ASSIGNEE_ROLE[category], catalog, signal.table, upstream);
  const summary = verdict?.summaryText
    ?? (signal.exception
      ? `No analyser recognised ${signal.exception.type}: ${truncate(signal.exception.message, 200)}`
      : `No analyser reached a conclusion for ${signal.table}`);
  const source = catalog.table?.source;
  const manualSteps = renderManualSteps(category, {
    table: signal.table,
    dag_id: signal.pipeline.dag_id,
    task_id: signal.pipeline.task_id,
    run_id: signal.pipeline.run_id,
    logical_date: typeof signal.payload.logical_date === 'string' ? signal.payload.logical_date : undefined,
    airflow: signal.pipeline.airflow,
    source: source?.name,
    source_owner: source?.owner,
    owner: catalog.table?.owner,
    assignee_team: assignee.team,
    upstream,
    exception_type: signal.exception?.type,
    exception_message: signal.exception?.message,
    report: describeEvent(signal),
    partition: stringField(signal.payload.partition),
    source_count: numberField(signal.payload.source_count),
    lake_count: numberField(signal.payload.lake_count),
    ...details,
  });
  return {
    category,
    summary,
    confidence: verdict?.confidence ?? 0,
    assignee,
    incidentId: verdict?.inherit?.incidentId ?? incidentKey(category, signal.table, catalog, details),
    manualSteps,
    evidence,
    details,
    inherited: Boolean(verdict?.inherit),
  };
}

/**
 * Groups RCAs that share a cause: the category plus the resource at fault (the source for
 * source problems, the upstream table for upstream ones, else the table itself).
 */
export function incidentKey(category: Category, table: string, catalog: CatalogView, details: Record<string, string | number>): string {
  let resource = table;
  if (category.startsWith('source_')) resource = catalog.table?.source?.name ?? String(details.host ?? table);
  else if (category.startsWith('upstream_') && typeof details.upstream === 'string') resource = details.upstream;
  return `${category}:${resource}`;
}

function truncate(text: string, max: number): string {
  return text.length > max ? `${text.slice(0, max)}…` : text;
}

const stringField = (v: unknown) => (typeof v === 'string' ? v : undefined);
const numberField = (v: unknown) => (typeof v === 'number' ? v : undefined);

/** One line saying what an SLA-miss or DQ-failure event reported, for the manual steps. */
export function describeEvent(signal: Signal): string | undefined {
  const p = signal.payload;
  if (signal.kind === 'sla_miss') {
    return `SLA miss (${stringField(p.sla_kind) ?? 'completion'}): ${signal.table} was expected by ${stringField(p.expected_by) ?? '?'}, detected ${stringField(p.detected_at) ?? '?'}${p.producer ? ` by ${String(p.producer)}` : ''}; last success ${stringField(p.last_success_at) ?? 'unknown'}.`;
  }
  if (signal.kind === 'dq_failure') {
    const counts = typeof p.source_count === 'number' || typeof p.lake_count === 'number' ? `: source ${String(p.source_count ?? '?')} rows, lake ${String(p.lake_count ?? '?')} rows` : '';
    return `DQ check ${String(p.check)} (${String(p.check_kind)}, ${String(p.severity)}) failed${p.partition ? ` on ${String(p.partition)}` : ''}${counts}.`;
  }
  return undefined;
}
