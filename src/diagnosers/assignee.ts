import type { AssigneeRole } from './taxonomy.ts';
import type { CatalogView } from './types.ts';

export interface Assignee {
  team: string | null;
  role: AssigneeRole;
  /** Why this team: shown to the on-call engineer so a wrong routing is easy to spot and fix. */
  reason: string;
}

/**
 * Resolves an assignee role to a team through the catalog (DESIGN 5): the pipeline owner is
 * the table's owner, the source owner the source's, the upstream owner the named (or first)
 * upstream table's owner. Whatever cannot be resolved falls back to the platform team, with
 * the reason saying so.
 */
export function resolveAssignee(role: AssigneeRole, catalog: CatalogView, tableName: string, upstreamTable?: string): Assignee {
  const platform = (reason: string): Assignee => ({ team: catalog.platformTeam, role, reason });
  const table = catalog.table;
  if (role === 'platform') return { team: catalog.platformTeam, role, reason: `the platform team (${catalog.platformTeam}) owns this kind of failure` };
  if (!table) return platform(`${tableName} is not in the catalog, so its owner is unknown; assigned to the platform team (${catalog.platformTeam})`);
  switch (role) {
    case 'pipeline_owner':
      return table.owner
        ? { team: table.owner, role, reason: `${table.owner} owns ${table.name} and its pipeline` }
        : platform(`${table.name} has no owner in the catalog; assigned to the platform team (${catalog.platformTeam})`);
    case 'source_owner': {
      const source = table.source;
      if (source?.owner) return { team: source.owner, role, reason: `${source.owner} owns the source ${source.name}` };
      if (table.owner) return { team: table.owner, role, reason: `the source of ${table.name} has no owner in the catalog; assigned to the table owner ${table.owner}` };
      return platform(`neither ${table.name} nor its source has an owner in the catalog; assigned to the platform team (${catalog.platformTeam})`);
    }
    case 'upstream_owner': {
      const upstream = catalog.upstream.find((u) => u.name === upstreamTable) ?? (upstreamTable ? undefined : catalog.upstream[0]);
      if (upstream?.owner) return { team: upstream.owner, role, reason: `${upstream.owner} owns the upstream table ${upstream.name}` };
      return platform(`the upstream table${upstreamTable ? ` ${upstreamTable}` : ''} has no owner in the catalog; assigned to the platform team (${catalog.platformTeam})`);
    }
  }
}
