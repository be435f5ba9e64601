import { Argument, Command, InvalidArgumentError, Option } from 'commander';
import { CATEGORIES } from '../diagnosers/taxonomy.ts';
import { ACTIONS } from '../resolvers/engine/rcaActions.ts';
import { ApiClient, CliError, resolveConnection, type ApiResponse, type ConnectionOptions, type RequestOptions } from './apiClient.ts';
import { colourFor, countByStatus, indent, painter, paintStatus, relativeTime, renderTable, sortByStatus, truncate, type Painter } from './render.ts';

/**
 * The on-call commands: `medic tables`, `medic rca list|show|action`, `medic incidents`. They
 * read a running daemon's Data Health API over HTTP (they never open the database), print a
 * readable table by default and the API's JSON untouched with --json.
 */

// ── The API's shapes, as far as the renderers use them ─────────────────────────────────────

interface Page<T> { items: T[]; next_cursor: string | null }
interface Assignee { team: string | null; role: string; reason?: string }
interface Resolution { resolver: string; state: string; attempts: number; max_attempts: number; next_attempt_at: string | null; last_error: string | null }
interface TableHealth {
  table: string; status: string; since: string; last_checked_at: string;
  error: { category: string; summary: string } | null; rca_id: string | null; assignee: Assignee | null;
  resolution: Resolution | null; owner: string | null; tier: number | null; in_catalog: boolean;
}
interface Evidence {
  analyser: string; version: string; findings: Array<{ messageId: string; text: string }>;
  verdict: Record<string, unknown> | null; error: string | null; duration_ms: number;
}
interface Rca {
  id: string; table: string; incident_id: string | null; status: string; category: string; summary: string; confidence: number;
  assignee: Assignee; auto_resolution: (Partial<Resolution> & Record<string, unknown>) | null; manual_steps: string; signal_ids: string[];
  evidence?: Evidence[]; created_at: string; updated_at: string; resolved_at: string | null;
}
interface RcaDetail extends Rca {
  attempts: Array<{ attempt: number; resolver: string; outcome: string; actor: string; error: string | null; started_at: string; finished_at: string | null }>;
  actions: Array<{ action: string; actor: string; outcome: string; at: string }>;
}
interface Incident {
  id: string; category: string; resource: string; status: string; summary: string; assignee: { team: string | null; role: string };
  tables: string[]; rca_count: number; open_rca_count: number; first_seen: string; last_seen: string;
}
interface ActionResult { rca_id: string; action: string; changed: boolean; status: string; message: string }

// ── Options shared by every on-call command ─────────────────────────────────────────────────

const TABLE_STATUSES = ['healthy', 'degraded', 'unhealthy', 'unknown'];
const RCA_STATUSES = ['open', 'resolving', 'resolved', 'escalated', 'acknowledged'];
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export const CONNECTION_HELP = `
Connection:
  The daemon is --url, else MEDIC_URL (default http://127.0.0.1:8080).
  The token is --token, else MEDIC_TOKEN, else MEDIC_ADMIN_TOKEN, else the admin token the
  daemon keeps in $MEDIC_HOME/admin-token (default ./.medic/admin-token) when that file is
  readable. Create a personal one with: medic token create --role reader --name you
  (--role operator for medic rca action).

Output: a table for people (colour only on a terminal, never with NO_COLOR); --json prints
the API's answer unchanged, for scripts. Exit status 1 with a one-line message on any error.`;

interface CommonOptions extends ConnectionOptions { json?: boolean }

/** What a command writes to; a parameter so the renderers can be tested without a process. */
export interface Output {
  write(text: string): void;
  colour: boolean;
  now: () => Date;
}

function parseLimit(raw: string): number {
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 1 || n > 1000) throw new InvalidArgumentError('must be a whole number from 1 to 1000.');
  return n;
}

/** An ISO date-time, or a span back from now: 30m, 2h, 7d. Sent to the API as ISO. */
export function parseSince(raw: string, now: Date = new Date()): string {
  const span = /^(\d+)\s*([smhdw])$/.exec(raw.trim());
  if (span) {
    const unit = { s: 1, m: 60, h: 3600, d: 86_400, w: 604_800 }[span[2] as 's' | 'm' | 'h' | 'd' | 'w'];
    return new Date(now.getTime() - Number(span[1]) * unit * 1000).toISOString();
  }
  const at = new Date(raw);
  if (!/^\d{4}-\d{2}-\d{2}/.test(raw.trim()) || Number.isNaN(at.getTime())) {
    throw new InvalidArgumentError('must be an ISO date-time (2026-11-27T08:00:00Z, 2026-11-27) or a span back from now (30m, 2h, 7d).');
  }
  return at.toISOString();
}

function withConnection(command: Command): Command {
  return command
    .option('--url <url>', 'the Medic daemon (default: MEDIC_URL or http://127.0.0.1:8080)')
    .option('--token <token>', 'bearer token (default: MEDIC_TOKEN, MEDIC_ADMIN_TOKEN, then $MEDIC_HOME/admin-token)')
    .option('--json', 'print the API\'s JSON unchanged')
    .addHelpText('after', CONNECTION_HELP);
}

async function clientFor(options: ConnectionOptions): Promise<{ client: ApiClient; out: Output }> {
  const connection = await resolveConnection(options);
  const client = new ApiClient(connection);
  // `medic tables | head -3` closes the pipe early: that is not an error.
  process.stdout.once('error', (error: NodeJS.ErrnoException) => {
    if (error.code === 'EPIPE') process.exit(0);
    throw error;
  });
  const out: Output = { write: (text) => { process.stdout.write(text); }, colour: colourFor(process.stdout, connection.noColor), now: () => new Date() };
  return { client, out };
}

/** Prints the body as the daemon sent it (one trailing newline). */
function printRaw(out: Output, response: ApiResponse): void {
  out.write(response.text.endsWith('\n') ? response.text : `${response.text}\n`);
}

/** Follows next_cursor through every page (for --all). */
async function allPages<T>(client: ApiClient, path: string, query: RequestOptions['query'], request: Omit<RequestOptions, 'query'>): Promise<Page<T>> {
  const items: T[] = [];
  let cursor: string | undefined;
  for (let pages = 0; ; pages += 1) {
    if (pages >= 10_000) throw new CliError('gave up after 10000 pages; narrow the list with filters');
    const response = await client.get<Page<T>>(path, { ...request, query: { ...query, cursor } });
    items.push(...response.json.items);
    if (!response.json.next_cursor || response.json.next_cursor === cursor) return { items, next_cursor: null };
    cursor = response.json.next_cursor;
  }
}

function assigneeText(assignee: { team: string | null; role: string } | null): string {
  if (!assignee) return '-';
  return assignee.team ?? `(${assignee.role}, no team)`;
}

function resolutionText(resolution: Partial<Resolution> | null | undefined, now: Date): string {
  if (!resolution || !resolution.resolver) return '-';
  const parts = [resolution.resolver, resolution.state ?? '?'];
  if (resolution.max_attempts !== undefined) parts.push(`${resolution.attempts ?? 0}/${resolution.max_attempts}`);
  if (resolution.next_attempt_at) parts.push(`next ${relativeTime(resolution.next_attempt_at, now)}`);
  return parts.join(' ');
}

function moreHint(page: { next_cursor: string | null }, what: string): string {
  return page.next_cursor ? `; more ${what} on later pages: add --all, or a larger --limit` : '';
}

// ── Renderers (pure: API JSON in, text out) ─────────────────────────────────────────────────

export function renderTables(page: Page<TableHealth>, paint: Painter, now: Date): string {
  if (page.items.length === 0) return 'no tables match\n';
  const rows = sortByStatus(page.items).map((t) => [
    t.table, paintStatus(t.status, paint), relativeTime(t.since, now), t.error?.category ?? '-', assigneeText(t.assignee),
    t.owner ?? (t.in_catalog ? '-' : '(not in catalog)'), resolutionText(t.resolution, now),
  ]);
  const table = renderTable(['table', 'status', 'since', 'category', 'assignee', 'owner', 'auto-resolution'], rows, paint);
  return `${table}\n${page.items.length} table${page.items.length === 1 ? '' : 's'}: ${countByStatus(page.items)}${moreHint(page, 'tables')}\n`;
}

export function renderRcaList(page: Page<Rca>, paint: Painter, now: Date): string {
  if (page.items.length === 0) return 'no RCA records match\n';
  const rows = page.items.map((r) => [
    r.id, r.table, paintStatus(r.status, paint), r.category, assigneeText(r.assignee), relativeTime(r.created_at, now),
    resolutionText(r.auto_resolution, now), truncate(r.summary, 70),
  ]);
  const table = renderTable(['id', 'table', 'status', 'category', 'assignee', 'created', 'auto-resolution', 'summary'], rows, paint);
  const statuses = countByStatus(page.items, ['open', 'escalated', 'resolving', 'acknowledged', 'resolved']);
  return `${table}\n${page.items.length} RCA record${page.items.length === 1 ? '' : 's'}: ${statuses}${moreHint(page, 'records')}\nDetails: medic rca show ID\n`;
}

export function renderIncidents(page: Page<Incident>, paint: Painter, now: Date): string {
  if (page.items.length === 0) return 'no incidents match\n';
  const rows = sortByStatus(page.items, ['open', 'resolved']).map((i) => [
    i.id, paintStatus(i.status, paint), `${i.open_rca_count}/${i.rca_count}`,
    truncate(i.tables.join(','), 40), assigneeText(i.assignee), relativeTime(i.first_seen, now), relativeTime(i.last_seen, now), truncate(i.summary, 60),
  ]);
  const table = renderTable(['incident', 'status', 'open/rcas', 'tables', 'assignee', 'first seen', 'last seen', 'summary'], rows, paint);
  return `${table}\n${page.items.length} incident${page.items.length === 1 ? '' : 's'}: ${countByStatus(page.items, ['open', 'resolved'])}${moreHint(page, 'incidents')}\nTheir RCAs: medic rca list --table TABLE --category CATEGORY\n`;
}

export function renderRcaDetail(rca: RcaDetail, paint: Painter, now: Date): string {
  const lines: string[] = [];
  const field = (label: string, value: string) => lines.push(`${paint.paint(label.padEnd(17), 'bold')}${value}`);
  lines.push(paint.paint(`RCA ${rca.id}`, 'bold'), '');
  field('Table', rca.table);
  field('Status', `${paintStatus(rca.status, paint)}  (created ${relativeTime(rca.created_at, now)}, updated ${relativeTime(rca.updated_at, now)}${rca.resolved_at ? `, resolved ${relativeTime(rca.resolved_at, now)}` : ''})`);
  field('Category', `${rca.category}  (confidence ${rca.confidence.toFixed(2)})`);
  if (rca.incident_id) field('Incident', rca.incident_id);
  field('Summary', rca.summary);
  field('Assignee', `${rca.assignee.team ?? '(no team)'}  (${rca.assignee.role})`);
  if (rca.assignee.reason) field('  because', rca.assignee.reason);
  const auto = rca.auto_resolution;
  if (!auto) {
    field('Auto-resolution', 'none: this needs a person (manual steps below)');
  } else {
    field('Auto-resolution', resolutionText(auto, now));
    if (typeof auto.last_error === 'string' && auto.last_error) field('  last error', truncate(auto.last_error, 200));
  }
  field('Signals', String(rca.signal_ids.length));

  lines.push('', paint.paint('Manual steps', 'bold'), paint.paint('────────────', 'dim'), rca.manual_steps.trimEnd() || '(none)');

  lines.push('', paint.paint('Attempts', 'bold'));
  if (rca.attempts.length === 0) lines.push('  none yet');
  for (const a of rca.attempts) {
    lines.push(`  #${a.attempt}  ${a.resolver}  ${paintStatus(a.outcome, paint)}  by ${a.actor}  ${relativeTime(a.started_at, now)}${a.error ? `  error: ${truncate(a.error, 120)}` : ''}`);
  }
  lines.push('', paint.paint('Actions', 'bold'));
  if (rca.actions.length === 0) lines.push('  none (medic rca action ID retry|acknowledge|resolve|escalate)');
  for (const a of rca.actions) lines.push(`  ${a.action}  ${a.outcome}  by ${a.actor}  ${relativeTime(a.at, now)}`);

  lines.push('', paint.paint('Evidence', 'bold'));
  if (rca.evidence === undefined) {
    lines.push('  shown to admin tokens only');
  } else if (rca.evidence.length === 0) {
    lines.push('  none recorded');
  } else {
    for (const e of rca.evidence) {
      const verdict = e.verdict ? `  → ${String(e.verdict.category ?? '?')}${typeof e.verdict.confidence === 'number' ? ` ${e.verdict.confidence.toFixed(2)}` : ''}` : '';
      lines.push(`  ${e.analyser} v${e.version}  ${Math.round(e.duration_ms)} ms${verdict}`);
      for (const f of e.findings) lines.push(indent(`- ${truncate(f.text, 160)}`, '      '));
      if (e.error) lines.push(`      error: ${truncate(e.error, 160)}`);
    }
  }
  return `${lines.join('\n')}\n`;
}

export function renderActionResult(result: ActionResult, paint: Painter): string {
  const what = result.changed ? result.message : `${result.message}; nothing changed`;
  return `${result.action}: ${what}. RCA ${result.rca_id} is ${paintStatus(result.status, paint)}.\n`;
}

// ── Registration ────────────────────────────────────────────────────────────────────────────

function rcaNotFound(id: string) {
  return () => `no RCA record ${id}: list them with medic rca list`;
}

function checkRcaId(id: string): string {
  if (!UUID.test(id)) throw new CliError(`"${id}" is not an RCA id (a uuid like 0b6f1c2e-8d4a-4f7e-9c1a-2b3c4d5e6f70); list them with medic rca list`);
  return id.toLowerCase();
}

export function registerOnCallCommands(program: Command): void {
  withConnection(program.command('tables')
    .description('table health from a running daemon, unhealthy first (reader role)')
    .addOption(new Option('--status <status>', 'only tables in this state').choices(TABLE_STATUSES))
    .option('--owner <team>', 'only tables this team owns')
    .option('--assignee <team>', 'only tables whose open RCA is assigned to this team')
    .addOption(new Option('--category <category>', 'only tables whose open RCA has this category').choices([...CATEGORIES]))
    .option('--limit <n>', 'page size, 1-1000 (API default 100)', parseLimit)
    .option('--all', 'follow next_cursor and list every matching table (with --json: one {items, next_cursor: null} document)'))
    .addHelpText('after', '\nExamples:\n  medic tables --status unhealthy\n  medic tables --assignee orders-dba --json | jq \'.items[].table\'')
    .action(async (options: CommonOptions & { status?: string; owner?: string; assignee?: string; category?: string; limit?: number; all?: boolean }) => {
      const { client, out } = await clientFor(options);
      const query = { status: options.status, owner: options.owner, assignee: options.assignee, category: options.category, limit: options.limit ?? (options.all ? 1000 : undefined) };
      const request = { role: 'reader' as const };
      if (options.all) {
        const page = await allPages<TableHealth>(client, '/v1/tables', query, request);
        out.write(options.json ? `${JSON.stringify(page)}\n` : renderTables(page, painter(out.colour), out.now()));
        return;
      }
      const response = await client.get<Page<TableHealth>>('/v1/tables', { ...request, query });
      if (options.json) printRaw(out, response);
      else out.write(renderTables(response.json, painter(out.colour), out.now()));
    });

  const rca = program.command('rca').description('RCA records from a running daemon: list, show, one-click actions');
  withConnection(rca.command('list')
    .description('RCA records, newest first (reader role)')
    .option('--table <table>', 'only this table\'s records')
    .option('--assignee <team>', 'only records assigned to this team')
    .addOption(new Option('--category <category>', 'only this root cause').choices([...CATEGORIES]))
    .addOption(new Option('--status <status>', 'only records in this state').choices(RCA_STATUSES))
    .option('--since <when>', 'created at or after: ISO date-time, or a span back from now (30m, 2h, 7d)', (raw: string) => parseSince(raw))
    .option('--limit <n>', 'page size, 1-1000 (API default 100)', parseLimit)
    .option('--all', 'follow next_cursor and list every matching record (with --json: one {items, next_cursor: null} document)'))
    .addHelpText('after', '\nExamples:\n  medic rca list --assignee orders-dba --status escalated\n  medic rca list --table lake.orders --since 24h')
    .action(async (options: CommonOptions & { table?: string; assignee?: string; category?: string; status?: string; since?: string; limit?: number; all?: boolean }) => {
      const { client, out } = await clientFor(options);
      const query = { table: options.table, assignee: options.assignee, category: options.category, status: options.status, since: options.since, limit: options.limit ?? (options.all ? 1000 : undefined) };
      const request = { role: 'reader' as const };
      if (options.all) {
        const page = await allPages<Rca>(client, '/v1/rca', query, request);
        out.write(options.json ? `${JSON.stringify(page)}\n` : renderRcaList(page, painter(out.colour), out.now()));
        return;
      }
      const response = await client.get<Page<Rca>>('/v1/rca', { ...request, query });
      if (options.json) printRaw(out, response);
      else out.write(renderRcaList(response.json, painter(out.colour), out.now()));
    });

  withConnection(rca.command('show')
    .description('one RCA: summary, assignee and why, auto-resolution, manual steps, attempts, actions; evidence with an admin token (reader role)')
    .argument('<id>', 'the RCA id (medic rca list shows them)'))
    .action(async (id: string, options: CommonOptions) => {
      const rcaId = checkRcaId(id);
      const { client, out } = await clientFor(options);
      const response = await client.get<RcaDetail>(`/v1/rca/${rcaId}`, { role: 'reader', notFound: rcaNotFound(rcaId) });
      if (options.json) printRaw(out, response);
      else out.write(renderRcaDetail(response.json, painter(out.colour), out.now()));
    });

  withConnection(rca.command('action')
    .description('one-click action on an RCA, idempotent and audited (operator role): retry re-triggers the run now, acknowledge says a person owns it, resolve closes it, escalate stops automatic attempts')
    .argument('<id>', 'the RCA id')
    .addArgument(new Argument('<action>', 'what to do').choices([...ACTIONS])))
    .action(async (id: string, action: string, options: CommonOptions) => {
      const rcaId = checkRcaId(id);
      const { client, out } = await clientFor(options);
      const response = await client.post<ActionResult>(`/v1/rca/${rcaId}/actions/${action}`, { role: 'operator', notFound: rcaNotFound(rcaId) });
      if (options.json) printRaw(out, response);
      else out.write(renderActionResult(response.json, painter(out.colour)));
    });

  withConnection(program.command('incidents')
    .description('incidents: RCAs grouped by root cause and resource, open first (reader role)')
    .addOption(new Option('--status <status>', 'only open or only resolved incidents').choices(['open', 'resolved']))
    .addOption(new Option('--category <category>', 'only this root cause').choices([...CATEGORIES]))
    .option('--limit <n>', 'page size, 1-1000 (API default 100)', parseLimit)
    .option('--all', 'follow next_cursor and list every matching incident (with --json: one {items, next_cursor: null} document)'))
    .addHelpText('after', '\nExamples:\n  medic incidents --status open\n  medic incidents --json | jq \'.items[] | {id, tables}\'')
    .action(async (options: CommonOptions & { status?: string; category?: string; limit?: number; all?: boolean }) => {
      const { client, out } = await clientFor(options);
      const query = { status: options.status, category: options.category, limit: options.limit ?? (options.all ? 1000 : undefined) };
      const request = { role: 'reader' as const };
      if (options.all) {
        const page = await allPages<Incident>(client, '/v1/incidents', query, request);
        out.write(options.json ? `${JSON.stringify(page)}\n` : renderIncidents(page, painter(out.colour), out.now()));
        return;
      }
      const response = await client.get<Page<Incident>>('/v1/incidents', { ...request, query });
      if (options.json) printRaw(out, response);
      else out.write(renderIncidents(response.json, painter(out.colour), out.now()));
    });
}
