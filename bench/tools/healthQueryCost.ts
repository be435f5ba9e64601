/**
 * Where the time of GET /v1/tables/{table}/health goes on the database side: the plan of the
 * health join over 100,000 seeded tables, and the per-call cost of a trivial query, the join as
 * raw SQL, and getTableHealth through drizzle, sequentially on one connection.
 *
 *   npx tsx bench/tools/healthQueryCost.ts
 */
import pg from 'pg';
import { startBenchPostgres } from '../lib/postgres.ts';
import { seedTables } from '../scenarios/health.ts';
import { openDatabase } from '../../src/db/client.ts';
import { getTableHealth } from '../../src/db/healthQueries.ts';
import { eq, sql } from 'drizzle-orm';
import { catalogTables, rcaRecords, resolutionJobs, tableHealth } from '../../src/db/schema.ts';
const pgs = await startBenchPostgres();
try {
  const url = await pgs.createDatabase('explain');
  await seedTables(url, 100000);
  const c = new pg.Client({ connectionString: url }); await c.connect();
  const q = `select * from table_health th left join catalog_tables c on c.name = th.table_name left join rca_records r on r.id = th.rca_id left join resolution_jobs j on j.rca_id = th.rca_id where th.table_name = $1`;
  const plan = await c.query(`EXPLAIN (ANALYZE, BUFFERS) ${q.replace('$1', "'lake.t_50'")}`);
  console.log(plan.rows.map((r) => r['QUERY PLAN']).join('\n'));
  // Sequential round-trip cost of the real function vs a trivial query, 2000 each, one connection.
  const database = openDatabase(url, { max: 1 });
  // The same select as healthQueries.ts's healthSelect, prepared once: no query building, no re-planning.
  const prepared = database.db.select({ health: tableHealth, catalog: catalogTables, rca: rcaRecords, job: resolutionJobs }).from(tableHealth)
    .leftJoin(catalogTables, eq(catalogTables.name, tableHealth.tableName))
    .leftJoin(rcaRecords, eq(rcaRecords.id, tableHealth.rcaId))
    .leftJoin(resolutionJobs, eq(resolutionJobs.rcaId, tableHealth.rcaId))
    .where(eq(tableHealth.tableName, sql.placeholder('table'))).prepare('bench_table_health');
  for (const [name, fn] of [
    ['SELECT 1 (pg, raw)', () => c.query('SELECT 1')],
    ['health join (pg, raw SQL)', () => c.query(q, [`lake.t_${Math.floor(Math.random() * 100000)}`])],
    ['health join (pg, named = prepared)', () => c.query({ name: 'bench_health', text: q, values: [`lake.t_${Math.floor(Math.random() * 100000)}`] })],
    ['health select (drizzle .prepare())', () => prepared.execute({ table: `lake.t_${Math.floor(Math.random() * 100000)}` })],
    ['getTableHealth (drizzle, as in src/)', () => getTableHealth(database.db, `lake.t_${Math.floor(Math.random() * 100000)}`)],
  ] as const) {
    for (let i = 0; i < 300; i++) await fn();
    const t = performance.now();
    for (let i = 0; i < 2000; i++) await fn();
    console.log(name, ((performance.now() - t) / 2000).toFixed(3), 'ms per call');
  }
  await database.close(); await c.end();
} finally { await pgs.stop(); }
