import { useState } from 'react';
import { enc, listAll, type Incident } from '../api.ts';
import { Category, ErrorBanner, Field, Freshness, Loading, StatusBadge, Time, useNow, Section } from '../components/common.tsx';
import { Link, paths, useTitle } from '../router.tsx';
import { useGet } from '../session.ts';
import { usePoll } from '../usePoll.ts';

/** Correlated groups: RCAs with the same root cause and resource, with their tables. */
export function IncidentsScreen() {
  useTitle('Incidents');
  const get = useGet();
  const now = useNow();
  const [status, setStatus] = useState<'open' | 'resolved' | ''>('open');
  const data = usePoll<Incident[]>(`incidents:${status}`, (signal) => listAll<Incident>(get, `/v1/incidents?limit=200${status ? `&status=${status}` : ''}`, signal, 5));

  return (
    <div className="page">
      <div className="page-head">
        <h1>Incidents</h1>
        <Freshness updatedAt={data.updatedAt} now={now} />
      </div>
      <p className="lede">Diagnoses that share a root cause and the resource at fault (a source database, an upstream table) form one incident.</p>
      <form className="filters" aria-label="Filter incidents" onSubmit={(e) => e.preventDefault()}>
        <div>
          <label htmlFor="incident-status">Show</label>
          <select id="incident-status" value={status} onChange={(e) => setStatus(e.target.value as typeof status)}>
            <option value="open">Open incidents</option>
            <option value="resolved">Resolved incidents</option>
            <option value="">All incidents</option>
          </select>
        </div>
      </form>
      <ErrorBanner error={data.error} what="incidents" />
      {data.loading && <Loading what="incidents" />}
      {data.data && (
        <div className="table-wrap">
          <table className="grid" data-testid="incidents">
            <caption>{data.data.length} {status || 'open and resolved'} incident{data.data.length === 1 ? '' : 's'}, most recently active first</caption>
            <thead>
              <tr>
                <th scope="col">Incident</th><th scope="col">Status</th><th scope="col">Category</th><th scope="col">Resource</th>
                <th scope="col">Tables</th><th scope="col">Open / all diagnoses</th><th scope="col">Assignee team</th><th scope="col">Last seen</th>
              </tr>
            </thead>
            <tbody>
              {data.data.map((incident) => (
                <tr key={incident.id}>
                  <th scope="row"><Link to={paths.incident(incident.id)} className="mono">{incident.id}</Link><div className="muted small">{incident.summary}</div></th>
                  <td><StatusBadge status={incident.status} /></td>
                  <td><Category value={incident.category} /></td>
                  <td className="mono">{incident.resource}</td>
                  <td>
                    <ul className="plain">
                      {incident.tables.map((t) => <li key={t}><Link to={paths.table(t)}>{t}</Link></li>)}
                    </ul>
                  </td>
                  <td>{incident.open_rca_count} / {incident.rca_count}</td>
                  <td>{incident.assignee.team ?? <span className="muted">—</span>}</td>
                  <td><Time iso={incident.last_seen} now={now} /></td>
                </tr>
              ))}
              {data.data.length === 0 && <tr><td colSpan={8} className="muted">No incidents.</td></tr>}
            </tbody>
          </table>
        </div>
      )}
    </div>
  );
}

export function IncidentScreen({ id }: { id: string }) {
  useTitle(`Incident ${id}`);
  const get = useGet();
  const now = useNow();
  const data = usePoll<Incident & { rca_ids: string[] }>(`incident:${id}`, (signal) => get(`/v1/incidents/${enc(id)}`, signal));
  const incident = data.data;
  return (
    <div className="page">
      <p className="crumbs"><Link to={paths.incidents()}>Incidents</Link> <span aria-hidden="true">›</span> Incident</p>
      <div className="page-head">
        <h1>Incident <span className="mono">{id}</span></h1>
        <Freshness updatedAt={data.updatedAt} now={now} />
      </div>
      <ErrorBanner error={data.error} what="the incident" />
      {data.loading && <Loading what="the incident" />}
      {incident && (
        <>
          <Section title="Summary" id="incident-summary">
            <p className="summary">{incident.summary}</p>
            <dl className="fields">
              <Field label="Status"><StatusBadge status={incident.status} /></Field>
              <Field label="Category"><Category value={incident.category} /></Field>
              <Field label="Resource"><span className="mono">{incident.resource}</span></Field>
              <Field label="Assignee team">{incident.assignee.team ?? '—'}</Field>
              <Field label="First seen"><Time iso={incident.first_seen} now={now} /></Field>
              <Field label="Last seen"><Time iso={incident.last_seen} now={now} /></Field>
              <Field label="Diagnoses">{incident.open_rca_count} open of {incident.rca_count}</Field>
            </dl>
          </Section>
          <Section title="Tables" id="incident-tables">
            <ul className="plain">{incident.tables.map((t) => <li key={t}><Link to={paths.table(t)}>{t}</Link></li>)}</ul>
          </Section>
          <Section title="Diagnoses" id="incident-rcas">
            <ul className="plain mono">{incident.rca_ids.slice(0, 100).map((r) => <li key={r}><Link to={paths.rca(r)}>{r}</Link></li>)}</ul>
            {incident.rca_ids.length > 100 && <p className="muted">and {incident.rca_ids.length - 100} more</p>}
          </Section>
        </>
      )}
    </div>
  );
}
