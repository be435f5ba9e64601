import type { CatalogView } from '../../src/diagnosers/types.ts';
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
