import { enc, type Evidence, type RcaDetail } from '../api.ts';
import { ErrorBanner, Field, Freshness, Json, Loading, Section, useNow } from '../components/common.tsx';
import { AssigneeBlock, RcaSummary, ResolutionAndSteps } from '../components/RcaParts.tsx';
import { Link, paths, useTitle } from '../router.tsx';
import { useGet, useSession } from '../session.ts';
import { usePoll } from '../usePoll.ts';

/** One RCA; for admins with the full evidence trail of every analyser that ran. */
export function RcaScreen({ id }: { id: string }) {
  useTitle(`Diagnosis ${id.slice(0, 8)}`);
  const get = useGet();
  const now = useNow();
  const { identity } = useSession();
  const data = usePoll<RcaDetail>(`rca:${id}`, (signal) => get<RcaDetail>(`/v1/rca/${enc(id)}`, signal));
  const rca = data.data;

  return (
    <div className="page">
      <p className="crumbs">
        <Link to={paths.overview()}>Overview</Link> <span aria-hidden="true">›</span>{' '}
        {rca ? <Link to={paths.table(rca.table)}>{rca.table}</Link> : 'Table'} <span aria-hidden="true">›</span> Diagnosis
      </p>
      <div className="page-head">
        <h1>Diagnosis {rca ? <>of <span className="mono">{rca.table}</span></> : <span className="mono">{id.slice(0, 8)}</span>}</h1>
        <Freshness updatedAt={data.updatedAt} now={now} />
      </div>
      <ErrorBanner error={data.error} what="the diagnosis" />
      {data.loading && <Loading what="the diagnosis" />}
      {rca && (
        <div className="columns">
          <div className="column-main">
            <Section title="Conclusion" id="conclusion">
              <RcaSummary rca={rca} now={now} />
              <h3>Why this assignee</h3>
              <AssigneeBlock rca={rca} />
            </Section>
            <Section title="Evidence trail" id="evidence">
              {rca.evidence ? <EvidenceTrail evidence={rca.evidence} /> : (
                <p className="muted" data-testid="evidence-hidden">The evidence trail is shown to admins only; your token has the {identity.role} role.</p>
              )}
            </Section>
          </div>
          <div className="column-side">
            <ResolutionAndSteps rca={rca} now={now} />
          </div>
        </div>
      )}
    </div>
  );
}

function EvidenceTrail({ evidence }: { evidence: Evidence[] }) {
  if (evidence.length === 0) return <p className="muted">No analyser recorded evidence.</p>;
  return (
    <ol className="evidence" data-testid="evidence">
      {evidence.map((e, i) => (
        <li key={`${e.analyser}-${i}`} className={e.error ? 'analyser analyser-error' : 'analyser'}>
          <h3>
            <span className="step-number" aria-hidden="true">{i + 1}</span>
            <code>{e.analyser}</code> <span className="muted">v{e.version}</span>
          </h3>
          <dl className="fields inline-fields">
            <Field label="Duration">{formatMs(e.duration_ms)}</Field>
            <Field label="Verdict">{e.verdict ? <VerdictLine verdict={e.verdict} /> : <span className="muted">none (left it to the next analyser)</span>}</Field>
            {e.error && <Field label="Error"><span className="error-text">{e.error}</span></Field>}
          </dl>
          <h4>Findings</h4>
          {e.findings.length === 0 ? <p className="muted">None.</p> : (
            <ul className="findings">
              {e.findings.map((f, j) => <li key={`${f.messageId}-${j}`}><code className="muted">{f.messageId}</code> {f.text}</li>)}
            </ul>
          )}
          <details>
            <summary>Inputs: what it looked at</summary>
            <Json value={e.inputs} label={`Inputs of ${e.analyser}`} />
          </details>
          <details>
            <summary>Observations: what it saw</summary>
            <Json value={e.observations} label={`Observations of ${e.analyser}`} />
          </details>
          {e.verdict && (
            <details>
              <summary>Verdict, in full</summary>
              <Json value={e.verdict} label={`Verdict of ${e.analyser}`} />
            </details>
          )}
        </li>
      ))}
    </ol>
  );
}

function VerdictLine({ verdict }: { verdict: Record<string, unknown> }) {
  const category = typeof verdict.category === 'string' ? verdict.category : null;
  const confidence = typeof verdict.confidence === 'number' ? verdict.confidence : null;
  if (!category) return <span>{Object.keys(verdict).join(', ') || 'yes'}</span>;
  return <span><code className="category">{category}</code>{confidence !== null && <> at {Math.round(confidence * 100)}%</>}</span>;
}

const formatMs = (ms: number) => (ms >= 1000 ? `${(ms / 1000).toFixed(2)} s` : `${Math.round(ms)} ms`);
