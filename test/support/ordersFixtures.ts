import type { CatalogView, HistoricSignal, TableHealthSnapshot } from '../../src/diagnosers/types.ts';
import type { Category } from '../../src/diagnosers/taxonomy.ts';
import type { CatalogTable } from '../../src/catalog/types.ts';

/** Shared fixtures of the analyser tests: lake.orders, hourly, with two hourly upstreams. */

/** 2026-11-27 at the given UTC time, or any full ISO string. */
export function t(time: string): Date {
  return new Date(time.includes('T') ? time : `2026-11-27T${time}:00Z`);
}

export const RUN = 'scheduled__2026-11-27T08:00:00+00:00';
export const HOURLY = { schedule: '0 * * * *', complete_within_minutes: 60 };

export const ORDERS: CatalogTable = {
  name: 'lake.orders',
  owner: 'orders-eng',
  pipeline: { airflow: 'main', dag_id: 'orders_hourly', task_ids: ['load_orders'] },
  upstream: ['lake.customers', 'lake.products'],
  source: { kind: 'postgres', name: 'orders-db', owner: 'orders-dba' },
  sla: HOURLY,
};
export const CUSTOMERS: CatalogTable = { name: 'lake.customers', owner: 'crm-eng', pipeline: { dag_id: 'customers_hourly' }, sla: HOURLY };
export const PRODUCTS: CatalogTable = { name: 'lake.products', owner: 'catalog-eng', pipeline: { dag_id: 'products_hourly' }, sla: HOURLY };

export function catalogView(table: CatalogTable | null = ORDERS, upstream: CatalogTable[] = [CUSTOMERS, PRODUCTS]): CatalogView {
  return { table, teams: new Map(), upstream: table ? upstream : [], platformTeam: 'data-platform' };
}

export type Rca = NonNullable<HistoricSignal['rca']>;

export function rca(id: string, category: Category, overrides: Partial<Rca> = {}): Rca {
  return {
    id,
    category,
    status: 'open',
    summary: `summary of ${id}`,
    incidentId: `${category}:orders-db`,
    assigneeTeam: 'orders-dba',
    assigneeRole: 'source_owner',
    assigneeReason: 'orders-dba owns the source orders-db',
    ...overrides,
  };
}

export function failure(
  id: string,
  at: string,
  options: { event?: 'failure' | 'retry'; run_id?: string | null; task_id?: string; rca?: Rca | null; table?: string; exception?: { type: string; message: string } } = {},
): HistoricSignal {
  const runId = options.run_id === undefined ? RUN : options.run_id;
  return {
    id,
    kind: 'failure',
    event: options.event ?? 'failure',
    table: options.table ?? 'lake.orders',
    occurredAt: t(at),
    pipeline: { dag_id: 'orders_hourly', task_id: options.task_id ?? 'load_orders', ...(runId === null ? {} : { run_id: runId }) },
    payload: { event: options.event ?? 'failure', ...(options.exception ? { exception: options.exception } : {}) },
    rca: options.rca ?? null,
  };
}

export function success(id: string, at: string, options: { run_id?: string | null; task_id?: string; duration_s?: number; start_date?: string; end_date?: string } = {}): HistoricSignal {
  const runId = options.run_id === undefined ? RUN : options.run_id;
  const payload: Record<string, unknown> = { event: 'success' };
  if (options.duration_s !== undefined) payload['duration_s'] = options.duration_s;
  if (options.start_date) payload['start_date'] = options.start_date;
  if (options.end_date) payload['end_date'] = options.end_date;
  return {
    id,
    kind: 'success',
    event: 'success',
    table: 'lake.orders',
    occurredAt: t(at),
    pipeline: { dag_id: 'orders_hourly', task_id: options.task_id ?? 'load_orders', ...(runId === null ? {} : { run_id: runId }) },
    payload,
    rca: null,
  };
}

export function health(table: string, status: TableHealthSnapshot['status'], lastSuccessAt: string | null): TableHealthSnapshot {
  return { table, status, since: t('06:00'), lastSuccessAt: lastSuccessAt === null ? null : t(lastSuccessAt) };
}

/** Both upstreams healthy and fresh: rule b must not fire. */
export const UPSTREAMS_FINE = [health('lake.customers', 'healthy', '08:30'), health('lake.products', 'healthy', '08:45')];

export type Bucket = 'high' | 'medium' | 'low';
export function bucket(confidence: number): Bucket {
  return confidence >= 0.8 ? 'high' : confidence >= 0.6 ? 'medium' : 'low';
}
