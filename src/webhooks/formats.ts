import { createHash } from 'node:crypto';

/**
 * Webhook payloads, one pure function per format (DESIGN 8): a health transition in, the JSON
 * body out — no I/O, so every format is tested table-driven (test/webhookFormats.test.ts).
 */

export const WEBHOOK_FORMATS = ['medic', 'pagerduty', 'alertmanager'] as const;
export type WebhookFormat = (typeof WEBHOOK_FORMATS)[number];

/** Statuses that open (or keep open) an alert: `degraded` is late or suspect, `unhealthy` broken. */
export const PROBLEM_STATUSES = ['degraded', 'unhealthy'] as const;
const isProblem = (status: string) => (PROBLEM_STATUSES as readonly string[]).includes(status);

/**
 * Which transitions a subscription receives; every given condition must hold. `tables` entries
 * are exact names or prefixes ending in `*` (`lake.orders*`); `statuses` match the new status;
 * `min_tier`/`max_tier` bound the catalog tier (1 is the most critical), and a table without a
 * tier never matches a tier bound.
 */
export interface WebhookFilter {
  tables?: string[];
  owners?: string[];
  statuses?: Array<'healthy' | 'degraded' | 'unhealthy' | 'unknown'>;
  min_tier?: number;
  max_tier?: number;
}

/** The RCA of a transition, as much of it as a receiver needs to act. */
export interface RcaBrief {
  id: string;
  incidentId: string | null;
  category: string;
  summary: string;
  status: string;
  assigneeTeam: string | null;
  assigneeRole: string;
}

/** One health transition with its context, as the fan-out reads it from PostgreSQL. */
export interface TransitionContext {
  /** `health_events.id`; null for a test event. */
  healthEventId: number | null;
  table: string;
  oldStatus: string;
  newStatus: string;
  at: Date;
  reason: string;
  tier: number | null;
  owner: string | null;
  /** The RCA the transition carries (null for a recovery). */
  rca: RcaBrief | null;
  /** The state being left: the table's previous health event. */
  previous: { at: Date; rca: RcaBrief | null } | null;
  /**
   * The problem episode the transition opens, continues or closes (from the first move out of
   * healthy/unknown to the recovery): its key names one PagerDuty alert from trigger to resolve.
   */
  episode: { key: string; startedAt: Date } | null;
  test?: boolean;
}

/** What every format needs besides the transition. */
export interface FormatOptions {
  /** Base URL of the Medic API, for links (`MEDIC_PUBLIC_URL`). */
  publicUrl: string;
  /** The delivery (event) id, also sent as `X-Medic-Event-Id`. */
  eventId: string;
  /** PagerDuty only: the subscription's key, else the table owner's team key. */
  routingKey?: string | null;
  /** Alertmanager only: the receiver name (the subscription's name). */
  receiver?: string;
}

export const tableLink = (publicUrl: string, table: string) => `${publicUrl.replace(/\/+$/, '')}/v1/tables/${encodeURIComponent(table)}/health`;

/** Whether a subscription's filter admits the transition. */
export function matchesFilter(filter: WebhookFilter, t: Pick<TransitionContext, 'table' | 'newStatus' | 'owner' | 'tier'>): boolean {
  if (filter.tables?.length && !filter.tables.some((p) => (p.endsWith('*') ? t.table.startsWith(p.slice(0, -1)) : t.table === p))) return false;
  if (filter.owners?.length && (t.owner === null || !filter.owners.includes(t.owner))) return false;
  if (filter.statuses?.length && !(filter.statuses as string[]).includes(t.newStatus)) return false;
  if (filter.min_tier !== undefined && (t.tier === null || t.tier < filter.min_tier)) return false;
  if (filter.max_tier !== undefined && (t.tier === null || t.tier > filter.max_tier)) return false;
  return true;
}

/** PagerDuty severity of a table's problem: tier 1 → critical, 2 → error, 3 → warning, else info. */
export function tierSeverity(tier: number | null): 'critical' | 'error' | 'warning' | 'info' {
  if (tier === 1) return 'critical';
  if (tier === 2) return 'error';
  if (tier === 3) return 'warning';
  return 'info';
}

const SEVERITY_ORDER = ['info', 'warning', 'error', 'critical'] as const;

/** Severity of a problem status: unhealthy by tier; degraded is at most a warning (never above what unhealthy would be). */
export function statusSeverity(status: string, tier: number | null): (typeof SEVERITY_ORDER)[number] {
  const byTier = tierSeverity(tier);
  if (status !== 'degraded') return byTier;
  return SEVERITY_ORDER.indexOf(byTier) < SEVERITY_ORDER.indexOf('warning') ? byTier : 'warning';
}

function headline(t: TransitionContext): string {
  const cause = t.rca ? `: ${t.rca.summary}` : isProblem(t.newStatus) ? `: ${t.reason}` : '';
  return `${t.test ? '[test] ' : ''}${t.table} is ${t.newStatus} (was ${t.oldStatus})${cause}`;
}

const rcaJson = (rca: RcaBrief | null) => rca && {
  id: rca.id, incident_id: rca.incidentId, category: rca.category, summary: rca.summary, status: rca.status,
  assignee: { team: rca.assigneeTeam, role: rca.assigneeRole },
};

/** Medic's native event: every transition, whatever the statuses. */
export function medicPayload(t: TransitionContext, options: FormatOptions) {
  return {
    id: options.eventId,
    type: t.test ? 'test' : 'table.health_changed',
    health_event_id: t.healthEventId,
    table: t.table,
    old_status: t.oldStatus,
    new_status: t.newStatus,
    at: t.at.toISOString(),
    reason: t.reason,
    tier: t.tier,
    owner: t.owner,
    summary: headline(t),
    rca: rcaJson(t.rca),
    assignee: t.rca ? { team: t.rca.assigneeTeam, role: t.rca.assigneeRole } : null,
    incident_key: t.episode?.key ?? null,
    link: tableLink(options.publicUrl, t.table),
  };
}

/**
 * PagerDuty Events API v2 (`POST https://events.pagerduty.com/v2/enqueue`): `trigger` when a
 * table turns degraded or unhealthy, `resolve` when it recovers, with one `dedup_key` per table
 * and problem episode so the resolve closes the alert its trigger opened (and a move from
 * degraded to unhealthy updates that alert rather than opening a second). Null when the
 * transition means nothing to PagerDuty (unknown → healthy).
 */
export function pagerdutyPayload(t: TransitionContext, options: FormatOptions) {
  const key = `medic:${t.table}:${t.episode?.key ?? t.healthEventId ?? options.eventId}`;
  // PagerDuty takes at most 255 characters; a longer key is hashed (stably, so its resolve matches).
  const dedupKey = key.length <= 255 ? key : `medic:${createHash('sha256').update(key).digest('hex')}`;
  const routingKey = options.routingKey ?? null;
  if (isProblem(t.newStatus)) {
    const link = tableLink(options.publicUrl, t.table);
    const payload: Record<string, unknown> = {
      summary: headline(t).slice(0, 1024),
      source: 'medic',
      severity: statusSeverity(t.newStatus, t.tier),
      timestamp: t.at.toISOString(),
      component: t.table,
      ...(t.owner ? { group: t.owner } : {}),
      ...(t.rca ? { class: t.rca.category } : {}),
      custom_details: {
        table: t.table, old_status: t.oldStatus, new_status: t.newStatus, reason: t.reason, tier: t.tier, owner: t.owner,
        rca_id: t.rca?.id ?? null, incident_id: t.rca?.incidentId ?? null, category: t.rca?.category ?? null,
        assignee: t.rca ? { team: t.rca.assigneeTeam, role: t.rca.assigneeRole } : null, medic_event_id: options.eventId,
      },
    };
    return { routing_key: routingKey, event_action: 'trigger' as const, dedup_key: dedupKey, payload, client: 'Pipeline Medic', client_url: link, links: [{ href: link, text: `${t.table} health` }] };
  }
  if (isProblem(t.oldStatus)) return { routing_key: routingKey, event_action: 'resolve' as const, dedup_key: dedupKey };
  return null;
}

interface AlertState { status: string; at: Date; rca: RcaBrief | null }

function alertLabels(t: TransitionContext, state: AlertState, test: boolean): Record<string, string> {
  const labels: Record<string, string> = {
    alertname: test ? 'MedicWebhookTest' : 'MedicTableUnhealthy',
    table: t.table,
    status: state.status,
    severity: statusSeverity(state.status, t.tier),
  };
  if (state.rca) labels.category = state.rca.category;
  if (t.owner) labels.team = t.owner;
  return labels;
}

/** Like Alertmanager's own: a hash of the sorted label set, 16 hex digits. */
export function fingerprint(labels: Record<string, string>): string {
  const canonical = Object.keys(labels).sort().map((k) => `${k}\u0000${labels[k]}`).join('\u0001');
  return createHash('sha256').update(canonical).digest('hex').slice(0, 16);
}

const ZERO_TIME = '0001-01-01T00:00:00Z';

/**
 * Alertmanager's webhook payload, version 4, so anything that takes Alertmanager webhooks can
 * take Medic's. A problem state is one alert (labels: table, status, severity, category, team);
 * leaving it sends that alert `resolved`, with the labels it fired with — so a move from
 * degraded to unhealthy carries the degraded alert resolved and the unhealthy one firing. Null
 * when there is nothing to fire or resolve (unknown → healthy).
 */
export function alertmanagerPayload(t: TransitionContext, options: FormatOptions) {
  const link = tableLink(options.publicUrl, t.table);
  const base = options.publicUrl.replace(/\/+$/, '');
  const alerts: Array<Record<string, unknown>> = [];
  const test = t.test === true;
  const description = (state: AlertState) => state.rca
    ? `${t.table} is ${state.status}: ${state.rca.summary} (${state.rca.category}; assignee ${state.rca.assigneeTeam ?? 'unassigned'}/${state.rca.assigneeRole}).`
    : `${t.table} is ${state.status}: ${t.reason}.`;
  const alert = (state: AlertState, status: 'firing' | 'resolved', endsAt: Date | null) => {
    const labels = alertLabels(t, state, test);
    return {
      status,
      labels,
      annotations: {
        summary: `${test ? '[test] ' : ''}${t.table} is ${state.status}`,
        description: description(state),
        ...(state.rca ? { runbook_url: `${base}/v1/rca/${state.rca.id}`, rca_id: state.rca.id } : {}),
        link,
      },
      startsAt: state.at.toISOString(),
      endsAt: endsAt ? endsAt.toISOString() : ZERO_TIME,
      generatorURL: link,
      fingerprint: fingerprint(labels),
    };
  };
  const current: AlertState = { status: t.newStatus, at: t.at, rca: t.rca };
  if (isProblem(t.oldStatus)) {
    const previous: AlertState = { status: t.oldStatus, at: t.previous?.at ?? t.episode?.startedAt ?? t.at, rca: t.previous?.rca ?? null };
    const stillSame = isProblem(t.newStatus) && fingerprint(alertLabels(t, previous, test)) === fingerprint(alertLabels(t, current, test));
    if (!stillSame) alerts.push(alert(previous, 'resolved', t.at));
  }
  if (isProblem(t.newStatus)) alerts.unshift(alert(current, 'firing', null));
  if (alerts.length === 0) return null;
  const status = alerts.some((a) => a.status === 'firing') ? 'firing' : 'resolved';
  const groupLabels = { table: t.table };
  const commonLabels = commonOf(alerts.map((a) => a.labels as Record<string, string>));
  const commonAnnotations = commonOf(alerts.map((a) => a.annotations as Record<string, string>));
  return {
    version: '4' as const,
    groupKey: `{}:{table=${JSON.stringify(t.table)}}`,
    truncatedAlerts: 0,
    status,
    receiver: options.receiver ?? 'medic',
    groupLabels,
    commonLabels,
    commonAnnotations,
    externalURL: base,
    alerts,
  };
}

function commonOf(maps: Array<Record<string, string>>): Record<string, string> {
  const [first, ...rest] = maps;
  if (!first) return {};
  return Object.fromEntries(Object.entries(first).filter(([k, v]) => rest.every((m) => m[k] === v)));
}

/** The body for a subscription's format, or null when this format has nothing to say about the transition. */
export function buildPayload(format: WebhookFormat, t: TransitionContext, options: FormatOptions): Record<string, unknown> | null {
  switch (format) {
    case 'medic': return medicPayload(t, options);
    case 'pagerduty': return pagerdutyPayload(t, options);
    case 'alertmanager': return alertmanagerPayload(t, options);
  }
}
