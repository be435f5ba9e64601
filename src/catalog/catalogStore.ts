import { eq, inArray, sql, or } from 'drizzle-orm';
import type { Db, Queryable } from '../db/client.ts';
import { catalogTables, teams } from '../db/schema.ts';
import type { CatalogDocument, CatalogTable, Team } from './types.ts';
import type { CatalogView } from '../diagnosers/types.ts';


function tableRow(table: CatalogTable) {
  return {
    name: table.name,
    owner: table.owner ?? null,
    tier: table.tier ?? null,
    pipeline: table.pipeline ?? null,
    dagId: table.pipeline?.dag_id ?? null,
    upstream: table.upstream ?? [],
    source: table.source ?? null,
    sla: table.sla ?? null,
    updatedAt: new Date(),
  };
}

function teamRow(team: Team) {
  return {
    name: team.name,
    slack: team.slack ?? null,
    pagerdutyRoutingKey: team.pagerduty_routing_key ?? null,
    platform: team.platform ?? false,
    updatedAt: new Date(),
  };
}

/** Upserts one table; a PUT replaces the entry as a whole (fields left out are cleared). */
export async function upsertTable(db: Queryable, table: CatalogTable): Promise<{ created: boolean }> {
  const row = tableRow(table);
  const [result] = await db.insert(catalogTables).values(row)
    .onConflictDoUpdate({ target: catalogTables.name, set: { ...row } })
    .returning({ created: sql<boolean>`(xmax = 0)` });
  return { created: Boolean(result?.created) };
}

export async function upsertTeam(db: Queryable, team: Team): Promise<{ created: boolean }> {
  const row = teamRow(team);
  const [result] = await db.insert(teams).values(row)
    .onConflictDoUpdate({ target: teams.name, set: { ...row } })
    .returning({ created: sql<boolean>`(xmax = 0)` });
  return { created: Boolean(result?.created) };
}

export interface ApplyResult { teams: number; tables: number; warnings: string[] }

/** Upserts every team and table of a document in one transaction: all of it or none. */
export async function applyCatalog(db: Db, doc: CatalogDocument): Promise<ApplyResult> {
  const docTeams = doc.teams ?? [];
  const docTables = doc.tables ?? [];
  const duplicate = (names: string[]) => names.find((n, i) => names.indexOf(n) !== i);
  const dupTeam = duplicate(docTeams.map((t) => t.name));
  if (dupTeam) throw new CatalogError(`teams: "${dupTeam}" is listed twice`);
  const dupTable = duplicate(docTables.map((t) => t.name));
  if (dupTable) throw new CatalogError(`tables: "${dupTable}" is listed twice`);
  await db.transaction(async (tx) => {
    for (const team of docTeams) await upsertTeam(tx, team);
    for (const table of docTables) await upsertTable(tx, table);
  });
  return { teams: docTeams.length, tables: docTables.length, warnings: await unknownTeamWarnings(db, docTables) };
}

/** Owners that name no team are allowed (onboarding order varies) but worth a warning. */
export async function unknownTeamWarnings(db: Queryable, tables: CatalogTable[]): Promise<string[]> {
  const named = new Set<string>();
  for (const t of tables) {
    if (t.owner) named.add(t.owner);
    if (t.source?.owner) named.add(t.source.owner);
  }
  if (named.size === 0) return [];
  const known = await db.select({ name: teams.name }).from(teams).where(inArray(teams.name, [...named]));
  const knownNames = new Set(known.map((k) => k.name));
  return [...named].filter((n) => !knownNames.has(n)).map((n) => `team "${n}" is referenced but not defined; assignees naming it will have no contact details`);
}

export class CatalogError extends Error {
  override name = 'CatalogError';
}

function toCatalogTable(row: typeof catalogTables.$inferSelect): CatalogTable {
  return {
    name: row.name,
    owner: row.owner,
    tier: row.tier,
    pipeline: row.pipeline as CatalogTable['pipeline'],
    upstream: row.upstream,
    source: row.source as CatalogTable['source'],
    sla: row.sla as CatalogTable['sla'],
  };
}

export async function getTable(db: Queryable, name: string): Promise<CatalogTable | null> {
  const [row] = await db.select().from(catalogTables).where(eq(catalogTables.name, name));
  return row ? toCatalogTable(row) : null;
}

/** Which of `names` are onboarded tables. */
export async function catalogTableNames(db: Queryable, names: string[]): Promise<Set<string>> {
  const rows = await db.select({ name: catalogTables.name }).from(catalogTables).where(inArray(catalogTables.name, names));
  return new Set(rows.map((r) => r.name));
}

/** Tables whose catalog pipeline is this DAG and (when task_ids are listed) this task. */
export async function tablesForTask(db: Queryable, dagId: string, taskId: string | undefined): Promise<string[]> {
  const rows = await db.select({ name: catalogTables.name, pipeline: catalogTables.pipeline })
    .from(catalogTables).where(eq(catalogTables.dagId, dagId));
  return rows.filter((r) => {
    const taskIds = (r.pipeline as CatalogTable['pipeline'])?.task_ids;
    return !taskIds || taskIds.length === 0 || (taskId !== undefined && taskIds.includes(taskId));
  }).map((r) => r.name).sort();
}

/** Everything an analyser may need to know from the catalog about one table. */
export async function loadCatalogView(db: Queryable, tableName: string, fallbackPlatformTeam: string): Promise<CatalogView> {
  const [view] = await loadCatalogViews(db, [tableName], fallbackPlatformTeam);
  return view!;
}

/**
 * The catalog views of several tables, one per name in order, in at most three queries however
 * many tables: the diagnosis worker loads the views of a claimed batch together.
 */
export async function loadCatalogViews(db: Queryable, tableNames: string[], fallbackPlatformTeam: string): Promise<CatalogView[]> {
  const known = new Map<string, CatalogTable>();
  const names = [...new Set(tableNames)];
  for (const row of await db.select().from(catalogTables).where(inArray(catalogTables.name, names))) known.set(row.name, toCatalogTable(row));
  const upstreamNames = new Set<string>();
  for (const name of names) for (const u of known.get(name)?.upstream ?? []) if (!known.has(u)) upstreamNames.add(u);
  if (upstreamNames.size > 0) {
    for (const row of await db.select().from(catalogTables).where(inArray(catalogTables.name, [...upstreamNames]))) known.set(row.name, toCatalogTable(row));
  }
  const views = names.map((name) => {
    const table = known.get(name) ?? null;
    const upstream = [...new Set(table?.upstream ?? [])].map((u) => known.get(u)).filter((u): u is CatalogTable => u !== undefined);
    const owners = new Set<string>();
    for (const t of [table, ...upstream]) {
      if (t?.owner) owners.add(t.owner);
      if (t?.source?.owner) owners.add(t.source.owner);
    }
    return { name, table, upstream, owners };
  });
  const allOwners = new Set(views.flatMap((v) => [...v.owners]));
  const teamRows = await db.select().from(teams)
    .where(allOwners.size > 0 ? or(inArray(teams.name, [...allOwners]), eq(teams.platform, true)) : eq(teams.platform, true));
  const byName = new Map(views.map((v) => {
    // Each view keeps only its own owners' teams and the platform team(s), as if loaded alone.
    const teamMap = new Map<string, Team>();
    let platformTeam = fallbackPlatformTeam;
    for (const row of teamRows) {
      if (!row.platform && !v.owners.has(row.name)) continue;
      teamMap.set(row.name, { name: row.name, slack: row.slack, pagerduty_routing_key: row.pagerdutyRoutingKey, platform: row.platform });
      if (row.platform) platformTeam = row.name;
    }
    return [v.name, { table: v.table, teams: teamMap, upstream: v.upstream, platformTeam } satisfies CatalogView];
  }));
  return tableNames.map((name) => byName.get(name)!);
}
