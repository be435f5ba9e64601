import { useMemo } from 'react';
import { CATEGORIES, listAll, STATUSES, type HealthStatus, type TableHealth } from '../api.ts';
import { Category, ErrorBanner, Freshness, Loading, StatusBadge, Time, useNow } from '../components/common.tsx';
import { Link, navigate, paths, useLocation, useTitle } from '../router.tsx';
import { useGet } from '../session.ts';
import { usePoll } from '../usePoll.ts';

const RANK: Record<HealthStatus, number> = { unhealthy: 0, degraded: 1, unknown: 2, healthy: 3 };

/** Unhealthy first, then degraded, unknown, healthy; within a status the latest change first. */
export function sortTables(tables: TableHealth[]): TableHealth[] {
  return [...tables].sort((a, b) => (RANK[a.status] - RANK[b.status]) || (Date.parse(b.since) - Date.parse(a.since)) || a.table.localeCompare(b.table));
}

export function Overview() {
  useTitle('Overview');
  const get = useGet();
  const now = useNow();
  const { query } = useLocation();
  const team = query.get('team') ?? '';
  const status = query.get('status') ?? '';
  const category = query.get('category') ?? '';
  const tables = usePoll('tables', (signal) => listAll<TableHealth>(get, '/v1/tables?limit=1000', signal));

  const all = tables.data ?? [];
  const teams = useMemo(() => [...new Set(all.flatMap((t) => [t.owner, t.assignee?.team]).filter((x): x is string => !!x))].sort(), [all]);
  const categories = useMemo(() => {
    const seen = new Set(all.map((t) => t.error?.category).filter((x): x is string => !!x));
    return CATEGORIES.filter((c) => seen.has(c) || c === category);
  }, [all, category]);
  // Team and category narrow the counts; the status filter then picks one of them.
  const scoped = all.filter((t) => (!team || t.owner === team || t.assignee?.team === team) && (!category || t.error?.category === category));
  const counts = Object.fromEntries(STATUSES.map((s) => [s, scoped.filter((t) => t.status === s).length])) as Record<HealthStatus, number>;
  const shown = sortTables(scoped.filter((t) => !status || t.status === status));

  const setFilter = (name: string, value: string) => {
    const next = new URLSearchParams(query);
    if (value) next.set(name, value); else next.delete(name);
    const search = next.toString();
    navigate(search ? `/?${search}` : '/', { replace: true });
  };

  return (
    <div className="page">
      <div className="page-head">
        <h1>Overview</h1>
        <Freshness updatedAt={tables.updatedAt} now={now} />
      </div>
      <ErrorBanner error={tables.error} what="table health" />

      <section aria-labelledby="counts-heading" className="counts">
        <h2 id="counts-heading" className="visually-hidden">Tables per status</h2>
        <ul>
          {STATUSES.map((s) => (
            <li key={s}>
              <button
                type="button" className={`count count-${s}`} aria-pressed={status === s}
                onClick={() => setFilter('status', status === s ? '' : s)} data-testid={`count-${s}`}
              >
                <span className="count-number">{counts[s]}</span>
                <span className="count-label"><StatusBadge status={s} /></span>
              </button>
            </li>
          ))}
        </ul>
      </section>

      <form className="filters" role="search" aria-label="Filter tables" onSubmit={(e) => e.preventDefault()}>
        <div>
          <label htmlFor="filter-team">Team (owner or assignee)</label>
          <select id="filter-team" value={team} onChange={(e) => setFilter('team', e.target.value)}>
            <option value="">All teams</option>
            {teams.map((t) => <option key={t} value={t}>{t}</option>)}
          </select>
        </div>
        <div>
          <label htmlFor="filter-status">Status</label>
          <select id="filter-status" value={status} onChange={(e) => setFilter('status', e.target.value)}>
            <option value="">All statuses</option>
            {STATUSES.map((s) => <option key={s} value={s}>{s}</option>)}
          </select>
        </div>
        <div>
          <label htmlFor="filter-category">Category</label>
          <select id="filter-category" value={category} onChange={(e) => setFilter('category', e.target.value)}>
            <option value="">All categories</option>
            {categories.map((c) => <option key={c} value={c}>{c}</option>)}
          </select>
        </div>
        {(team || status || category) && (
          <button type="button" className="button-quiet" onClick={() => navigate('/', { replace: true })}>Clear filters</button>
        )}
      </form>

      {tables.loading && <Loading what="tables" />}
      {tables.data && (
        <div className="table-wrap">
          <table className="grid" data-testid="overview-table">
            <caption>
              {shown.length} of {all.length} tables{team || status || category ? ' (filtered)' : ''}, unhealthy first
            </caption>
            <thead>
              <tr>
                <th scope="col">Table</th>
                <th scope="col">Status</th>
                <th scope="col">Since</th>
                <th scope="col">Category</th>
                <th scope="col">Assignee team</th>
                <th scope="col">Owner</th>
                <th scope="col">Auto-resolution</th>
              </tr>
            </thead>
            <tbody>
              {shown.map((t) => (
                <tr key={t.table} data-status={t.status}>
                  <th scope="row"><Link to={paths.table(t.table)}>{t.table}</Link>{!t.in_catalog && <span className="tag" title="Not in the catalog">not in catalog</span>}</th>
                  <td><StatusBadge status={t.status} /></td>
                  <td><Time iso={t.since} now={now} /></td>
                  <td><Category value={t.error?.category} /></td>
                  <td>{t.assignee?.team ?? <span className="muted">—</span>}</td>
                  <td>{t.owner ?? <span className="muted">—</span>}</td>
                  <td>{t.resolution ? `${t.resolution.state} (${t.resolution.attempts}/${t.resolution.max_attempts})` : <span className="muted">—</span>}</td>
                </tr>
              ))}
              {shown.length === 0 && (
                <tr><td colSpan={7} className="muted">No table matches these filters.</td></tr>
              )}
            </tbody>
          </table>
        </div>
      )}
    </div>
  );
}
