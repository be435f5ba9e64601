import { useEffect, useState, type ReactNode } from 'react';
import type { ApiError } from '../api.ts';

/** "3 min ago" / "in 40 s", in a <time> with the exact instant on hover. */
export function relative(iso: string, now: number): string {
  const ms = Date.parse(iso) - now;
  const abs = Math.abs(ms);
  const units: Array<[number, string]> = [[86_400_000, 'd'], [3_600_000, 'h'], [60_000, 'min'], [1000, 's']];
  let text = 'just now';
  for (const [size, unit] of units) {
    if (abs >= size) { text = `${Math.floor(abs / size)} ${unit}`; break; }
  }
  if (text === 'just now') return text;
  return ms < 0 ? `${text} ago` : `in ${text}`;
}

/** Re-renders every few seconds so relative times stay true between polls. */
export function useNow(everyMs = 5000): number {
  const [now, setNow] = useState(() => Date.now());
  useEffect(() => {
    const timer = window.setInterval(() => setNow(Date.now()), everyMs);
    return () => window.clearInterval(timer);
  }, [everyMs]);
  return now;
}

export function Time({ iso, now }: { iso: string | null | undefined; now: number }) {
  if (!iso) return <span className="muted">—</span>;
  const exact = new Date(iso);
  return <time dateTime={iso} title={exact.toLocaleString()}>{relative(iso, now)}</time>;
}

const STATUS_LABEL: Record<string, string> = {
  healthy: 'Healthy', degraded: 'Degraded', unhealthy: 'Unhealthy', unknown: 'Unknown',
  open: 'Open', resolving: 'Resolving', resolved: 'Resolved', escalated: 'Escalated', acknowledged: 'Acknowledged',
};

/** A status as a word with a shape and colour (never colour alone). */
export function StatusBadge({ status }: { status: string }) {
  return <span className={`badge badge-${status}`} data-status={status}><span aria-hidden="true" className="badge-dot" />{STATUS_LABEL[status] ?? status}</span>;
}

export function Category({ value }: { value: string | null | undefined }) {
  if (!value) return <span className="muted">—</span>;
  return <code className="category">{value}</code>;
}

export function ErrorBanner({ error, what }: { error: ApiError | null; what: string }) {
  if (!error) return null;
  return (
    <div className="banner banner-error" role="alert">
      <strong>Could not load {what}.</strong> {error.message}{error.status ? ` (HTTP ${error.status})` : ''}
    </div>
  );
}

export function Loading({ what }: { what: string }) {
  return <p className="muted" role="status">Loading {what}…</p>;
}

/** "Updated 2 s ago", polite, so screen readers are not interrupted on every poll. */
export function Freshness({ updatedAt, now }: { updatedAt: number | null; now: number }) {
  if (!updatedAt) return null;
  return <p className="freshness muted">Live · updated {relative(new Date(updatedAt).toISOString(), Math.max(now, updatedAt))}</p>;
}

/** A value of unknown shape (evidence inputs and observations), as indented JSON text. */
export function Json({ value, label }: { value: unknown; label: string }) {
  const text = value === undefined ? '—' : JSON.stringify(value, null, 2);
  return <pre className="json" aria-label={label} tabIndex={0}>{text}</pre>;
}

export function Section({ title, children, id, actions }: { title: string; children: ReactNode; id?: string; actions?: ReactNode }) {
  const headingId = id ? `${id}-heading` : undefined;
  return (
    <section className="card" aria-labelledby={headingId} id={id}>
      <div className="card-head">
        <h2 id={headingId}>{title}</h2>
        {actions}
      </div>
      {children}
    </section>
  );
}

export function Field({ label, children, wide }: { label: string; children: ReactNode; wide?: boolean }) {
  return (
    <div className={wide ? 'field field-wide' : 'field'}>
      <dt>{label}</dt>
      <dd>{children}</dd>
    </div>
  );
}
