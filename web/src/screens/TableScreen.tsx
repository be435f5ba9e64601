import { useState } from 'react';
import { ACTIONS, api, ApiError, canAct, enc, type Action, type ActionResult, type HealthEvent, type Page, type Rca, type RcaDetail, type TableHealth } from '../api.ts';
import { Category, ErrorBanner, Field, Freshness, Loading, Section, StatusBadge, Time, useNow } from '../components/common.tsx';
import { AssigneeBlock, RcaSummary, ResolutionAndSteps } from '../components/RcaParts.tsx';
import { Link, paths, useTitle } from '../router.tsx';
import { useGet, useSession } from '../session.ts';
import { usePoll } from '../usePoll.ts';

interface TableData {
  health: TableHealth;
  history: HealthEvent[];
  rcas: Rca[];
  /** The open RCA, or else the latest one. */
  current: RcaDetail | null;
}

export function TableScreen({ table }: { table: string }) {
  useTitle(table);
  const get = useGet();
  const now = useNow();
  const { identity } = useSession();
  const data = usePoll<TableData>(`table:${table}`, async (signal) => {
    const [health, history, rcas] = await Promise.all([
      get<TableHealth>(`/v1/tables/${enc(table)}/health`, signal),
      get<Page<HealthEvent>>(`/v1/tables/${enc(table)}/history?limit=50`, signal),
      get<Page<Rca>>(`/v1/rca?table=${enc(table)}&limit=10`, signal),
    ]);
    const currentId = health.rca_id ?? rcas.items[0]?.id ?? null;
    const current = currentId ? await get<RcaDetail>(`/v1/rca/${enc(currentId)}`, signal) : null;
    return { health, history: history.items, rcas: rcas.items, current };
  });

  const d = data.data;
  return (
    <div className="page">
      <p className="crumbs"><Link to={paths.overview()}>Overview</Link> <span aria-hidden="true">›</span> Table</p>
      <div className="page-head">
        <h1><span className="visually-hidden">Table </span><span className="mono">{table}</span></h1>
        {d && <StatusBadge status={d.health.status} />}
        <Freshness updatedAt={data.updatedAt} now={now} />
      </div>
      <ErrorBanner error={data.error} what={`the health of ${table}`} />
      {data.loading && <Loading what="the table" />}
      {d && (
        <>
          <dl className="fields inline-fields">
            <Field label="Status since"><Time iso={d.health.since} now={now} /></Field>
            <Field label="Last checked"><Time iso={d.health.last_checked_at} now={now} /></Field>
            <Field label="Owner">{d.health.owner ?? <span className="muted">not in the catalog</span>}</Field>
            <Field label="Tier">{d.health.tier ?? '—'}</Field>
          </dl>
          <div className="columns">
            <div className="column-main">
              {d.current ? (
                <CurrentRca rca={d.current} open={d.health.rca_id === d.current.id} canAct={canAct(identity.role)} isAdmin={identity.role === 'admin'} now={now} onChanged={data.refresh} />
              ) : (
                <Section title="Diagnosis" id="rca"><p className="muted">No failure has been reported for this table.</p></Section>
              )}
            </div>
            <div className="column-side">
              <Section title="Health history" id="history">
                <Timeline events={d.history} now={now} />
              </Section>
              <Section title="Recent diagnoses" id="recent">
                {d.rcas.length === 0 ? <p className="muted">None.</p> : (
                  <ul className="log">
                    {d.rcas.map((r) => (
                      <li key={r.id}><Link to={paths.rca(r.id)}><Category value={r.category} /></Link> <StatusBadge status={r.status} /> <Time iso={r.created_at} now={now} /></li>
                    ))}
                  </ul>
                )}
              </Section>
            </div>
          </div>
        </>
      )}
    </div>
  );
}

function CurrentRca({ rca, open, canAct, isAdmin, now, onChanged }: { rca: RcaDetail; open: boolean; canAct: boolean; isAdmin: boolean; now: number; onChanged: () => void }) {
  return (
    <>
      <Section title={open ? 'Current diagnosis' : 'Latest diagnosis'} id="rca" actions={<Link to={paths.rca(rca.id)} className="button-link">{isAdmin ? 'Evidence trail' : 'Details'}</Link>}>
        <RcaSummary rca={rca} now={now} />
        <h3>Assignee</h3>
        <AssigneeBlock rca={rca} />
        {canAct ? <ActionBar rca={rca} onChanged={onChanged} /> : <p className="muted note" data-testid="read-only">Your token can read only; actions need the operator role.</p>}
      </Section>
      <ResolutionAndSteps rca={rca} now={now} />
    </>
  );
}

const ACTION_HELP: Record<Action, string> = {
  retry: 'Re-trigger the failed run in Airflow now',
  acknowledge: 'Tell others someone is on it',
  resolve: 'Mark fixed; the table turns healthy if nothing else is open',
  escalate: 'Stop automatic attempts and hand it to the assignee',
};

function ActionBar({ rca, onChanged }: { rca: RcaDetail; onChanged: () => void }) {
  const { token, signOut } = useSession();
  const [busy, setBusy] = useState<Action | null>(null);
  const [result, setResult] = useState<{ ok: boolean; text: string } | null>(null);
  const closed = rca.status === 'resolved';

  const act = async (action: Action) => {
    setBusy(action);
    setResult(null);
    try {
      const answer = await api<ActionResult>(token, 'POST', `/v1/rca/${enc(rca.id)}/actions/${action}`);
      setResult({ ok: true, text: `${label(action)}: ${answer.message}${answer.changed ? '' : ' (nothing changed)'}` });
    } catch (error) {
      if (error instanceof ApiError && error.status === 401) signOut(`Signed out: ${error.message}`);
      setResult({ ok: false, text: `${label(action)} refused: ${(error as Error).message}` });
    } finally {
      setBusy(null);
      onChanged();
    }
  };

  return (
    <div className="action-bar">
      <h3 id="actions-heading">One-click actions</h3>
      <div role="group" aria-labelledby="actions-heading" className="buttons">
        {ACTIONS.map((action) => (
          <button
            key={action} type="button" className={`action action-${action}`} disabled={busy !== null || closed}
            onClick={() => { void act(action); }} title={ACTION_HELP[action]} data-action={action}
          >
            {busy === action ? `${label(action)}…` : label(action)}
          </button>
        ))}
      </div>
      {closed && <p className="muted">This diagnosis is resolved.</p>}
      <p className={result ? (result.ok ? 'action-result ok' : 'action-result failed') : 'action-result'} role="status" aria-live="polite" data-testid="action-result">
        {result?.text}
      </p>
    </div>
  );
}

const label = (action: Action) => action[0]!.toUpperCase() + action.slice(1);

function Timeline({ events, now }: { events: HealthEvent[]; now: number }) {
  if (events.length === 0) return <p className="muted">No status changes recorded yet.</p>;
  return (
    <ol className="timeline" data-testid="timeline">
      {events.map((e, i) => (
        <li key={`${e.at}-${i}`} className={`timeline-item timeline-${e.new_status}`}>
          <div className="timeline-when"><Time iso={e.at} now={now} /></div>
          <div className="timeline-what">
            <StatusBadge status={e.old_status} /> <span aria-label="changed to">→</span> <StatusBadge status={e.new_status} />
          </div>
          <div className="timeline-why">{e.reason}{e.rca_id && <> · <Link to={paths.rca(e.rca_id)}>diagnosis</Link></>}</div>
        </li>
      ))}
    </ol>
  );
}
