import { useMemo } from 'react';
import type { Attempt, RcaAction, RcaDetail } from '../api.ts';
import { renderMarkdown } from '../markdown.ts';
import { Link, paths } from '../router.tsx';
import { Category, Field, Section, StatusBadge, Time } from './common.tsx';

/** What Medic concluded: summary, category, confidence, status, assignee and why. */
export function RcaSummary({ rca, now }: { rca: RcaDetail; now: number }) {
  return (
    <>
      <p className="summary" data-testid="rca-summary">{rca.summary}</p>
      <dl className="fields">
        <Field label="Status"><StatusBadge status={rca.status} /></Field>
        <Field label="Category"><Category value={rca.category} /></Field>
        <Field label="Confidence">{Math.round(rca.confidence * 100)}%</Field>
        <Field label="Diagnosed"><Time iso={rca.created_at} now={now} /></Field>
        {rca.resolved_at && <Field label="Resolved"><Time iso={rca.resolved_at} now={now} /></Field>}
        {rca.incident_id && <Field label="Incident" wide><Link to={paths.incident(rca.incident_id)} className="mono">{rca.incident_id}</Link></Field>}
      </dl>
    </>
  );
}

export function AssigneeBlock({ rca }: { rca: RcaDetail }) {
  return (
    <div className="assignee" data-testid="assignee">
      <p>
        <strong className="team">{rca.assignee.team ?? 'nobody (no platform team configured)'}</strong>{' '}
        <span className="muted">as {rca.assignee.role.replace(/_/g, ' ')}</span>
      </p>
      {rca.assignee.reason && <p className="reason"><span className="muted">Why: </span>{rca.assignee.reason}</p>}
    </div>
  );
}

/** The how-to-fix steps: markdown from the server, rendered without raw HTML and sanitised. */
export function ManualSteps({ markdown }: { markdown: string }) {
  const html = useMemo(() => renderMarkdown(markdown), [markdown]);
  if (!markdown.trim()) return <p className="muted">No manual steps for this diagnosis.</p>;
  // The only use of dangerouslySetInnerHTML: the output of renderMarkdown (HTML disabled, allow-listed).
  return <div className="markdown" data-testid="manual-steps" dangerouslySetInnerHTML={{ __html: html }} />;
}

export function AutoResolution({ rca, now }: { rca: RcaDetail; now: number }) {
  const plan = rca.auto_resolution;
  if (!plan) {
    return <p className="muted" data-testid="auto-resolution">No automatic fix is planned for this diagnosis{rca.attempts.length ? '' : '; an operator can retry by hand'}.</p>;
  }
  return (
    <dl className="fields" data-testid="auto-resolution">
      <Field label="Resolver"><code>{String(plan.resolver ?? '—')}</code></Field>
      <Field label="State"><span className="state" data-testid="resolution-state">{String(plan.state ?? '—')}</span></Field>
      {typeof plan.requested_by === 'string' && <Field label="Requested by">{plan.requested_by}</Field>}
      <Field label="Attempts"><span data-testid="resolution-attempts">{plan.attempts ?? 0} of {plan.max_attempts ?? '?'}</span></Field>
      <Field label="Next attempt">{plan.next_attempt_at ? <Time iso={plan.next_attempt_at} now={now} /> : <span className="muted">none scheduled</span>}</Field>
      <Field label="Last error">{plan.last_error ? <span className="error-text">{plan.last_error}</span> : <span className="muted">none</span>}</Field>
    </dl>
  );
}

export function AttemptsTable({ attempts, now }: { attempts: Attempt[]; now: number }) {
  if (attempts.length === 0) return <p className="muted" data-testid="no-attempts">No re-trigger attempts yet.</p>;
  return (
    <div className="table-wrap">
      <table className="grid compact" data-testid="attempts">
        <caption>Re-trigger attempts</caption>
        <thead>
          <tr><th scope="col">#</th><th scope="col">Outcome</th><th scope="col">By</th><th scope="col">Started</th><th scope="col">Finished</th><th scope="col">Error</th></tr>
        </thead>
        <tbody>
          {attempts.map((a) => (
            <tr key={`${a.attempt}-${a.started_at}`} data-outcome={a.outcome}>
              <th scope="row">{a.attempt}</th>
              <td>{a.outcome}</td>
              <td>{a.actor}</td>
              <td><Time iso={a.started_at} now={now} /></td>
              <td><Time iso={a.finished_at} now={now} /></td>
              <td>{a.error ? <span className="error-text">{a.error}</span> : <span className="muted">—</span>}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}

export function ActionsLog({ actions, now }: { actions: RcaAction[]; now: number }) {
  if (actions.length === 0) return <p className="muted">No one-click actions yet.</p>;
  return (
    <ul className="log" data-testid="actions-log">
      {actions.map((a, i) => (
        <li key={`${a.at}-${i}`}><strong>{a.action}</strong> by {a.actor} <span className="muted">({a.outcome})</span> · <Time iso={a.at} now={now} /></li>
      ))}
    </ul>
  );
}

/** The auto-resolution state with its attempts and actions, then the how-to-fix steps: shown alike on the table and RCA screens. */
export function ResolutionAndSteps({ rca, now }: { rca: RcaDetail; now: number }) {
  return (
    <>
      <Section title="Auto-resolution" id="resolution">
        <AutoResolution rca={rca} now={now} />
        <AttemptsTable attempts={rca.attempts} now={now} />
        <h3>Actions</h3>
        <ActionsLog actions={rca.actions} now={now} />
      </Section>
      <Section title="How to fix" id="steps">
        <ManualSteps markdown={rca.manual_steps} />
      </Section>
    </>
  );
}
