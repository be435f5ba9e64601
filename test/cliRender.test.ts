import { describe, expect, it } from 'vitest';
import { colourFor, countByStatus, painter, relativeTime, renderTable, sortByStatus, truncate, visibleLength } from '../src/cli/render.ts';
import { parseSince, renderActionResult, renderTables } from '../src/cli/onCallCommands.ts';
import { ApiClient, CliError, resolveConnection } from '../src/cli/apiClient.ts';

/** The on-call CLI's rendering and error wording, without a daemon. */

const NOW = new Date('2026-11-27T12:00:00Z');
const ago = (seconds: number) => new Date(NOW.getTime() - seconds * 1000).toISOString();

describe('relativeTime', () => {
  it.each([
    [2, 'just now'], [42, '42s ago'], [12 * 60 + 30, '12m ago'], [3 * 3600 + 59 * 60, '3h ago'], [2 * 86_400, '2d ago'],
    [90 * 86_400, '3mo ago'], [-4 * 60, 'in 4m'], [-30, 'in 30s'],
  ])('%i s → %s', (seconds, text) => {
    expect(relativeTime(ago(seconds), NOW)).toBe(text);
  });
  it('prints - for nothing', () => expect(relativeTime(null, NOW)).toBe('-'));
});

describe('renderTable', () => {
  it('aligns columns, also when cells are coloured', () => {
    const paint = painter(true);
    const text = renderTable(['table', 'status', 'note'], [
      ['lake.orders', paint.paint('unhealthy', 'red'), 'x'],
      ['lake.c', paint.paint('healthy', 'green'), 'a longer note'],
    ], paint);
    const plain = text.replace(/\u001b\[[0-9;]*m/g, '');
    expect(plain).toBe('TABLE        STATUS     NOTE\nlake.orders  unhealthy  x\nlake.c       healthy    a longer note\n');
    expect(text).toContain('\u001b[31munhealthy\u001b[39m');
  });
  it('has no escape codes without colour', () => {
    expect(renderTable(['a'], [[painter(false).paint('b', 'red')]], painter(false))).toBe('A\nb\n');
  });
  it('turns colour on only for a terminal without NO_COLOR', () => {
    expect(colourFor({ isTTY: true }, false)).toBe(true);
    expect(colourFor({ isTTY: true }, true)).toBe(false);
    expect(colourFor({ isTTY: false }, false)).toBe(false);
    expect(colourFor({}, false)).toBe(false);
  });
});

describe('helpers', () => {
  it('sorts unhealthy first and keeps the API order within a status', () => {
    const items = ['healthy:a', 'unhealthy:b', 'unknown:c', 'unhealthy:d', 'degraded:e'].map((s) => ({ status: s.split(':')[0]!, name: s.split(':')[1]! }));
    expect(sortByStatus(items).map((i) => i.name)).toEqual(['b', 'd', 'e', 'c', 'a']);
    expect(countByStatus(items)).toBe('2 unhealthy, 1 degraded, 1 unknown, 1 healthy');
  });
  it('truncates to one line', () => {
    expect(truncate('abc\n  def', 20)).toBe('abc def');
    expect(truncate('abcdefghij', 5)).toBe('abcd…');
    expect(visibleLength('\u001b[31mé\u001b[39m')).toBe(1);
  });
  it('reads --since as ISO or as a span back from now', () => {
    expect(parseSince('2h', NOW)).toBe('2026-11-27T10:00:00.000Z');
    expect(parseSince('7d', NOW)).toBe('2026-11-20T12:00:00.000Z');
    expect(parseSince('2026-11-27T08:00:00+01:00', NOW)).toBe('2026-11-27T07:00:00.000Z');
    expect(() => parseSince('yesterday', NOW)).toThrow(/ISO date-time/);
  });
});

describe('renderers', () => {
  it('renders tables unhealthy first with a summary and a paging hint', () => {
    const base = { last_checked_at: ago(10), rca_id: null, error: null, assignee: null, resolution: null, tier: 1, in_catalog: true };
    const text = renderTables({
      items: [
        { ...base, table: 'lake.a', status: 'healthy', since: ago(3600), owner: 'team-a' },
        { ...base, table: 'lake.b', status: 'unhealthy', since: ago(720), owner: null, in_catalog: false, error: { category: 'code_error', summary: 's' }, assignee: { team: 'team-b', role: 'pipeline_owner' } },
      ],
      next_cursor: 'abc',
    }, painter(false), NOW);
    expect(text).toBe([
      'TABLE   STATUS     SINCE    CATEGORY    ASSIGNEE  OWNER             AUTO-RESOLUTION',
      'lake.b  unhealthy  12m ago  code_error  team-b    (not in catalog)  -',
      'lake.a  healthy    1h ago   -           -         team-a            -',
      '',
      '2 tables: 1 unhealthy, 1 healthy; more tables on later pages: add --all, or a larger --limit',
      '',
    ].join('\n'));
    expect(renderTables({ items: [], next_cursor: null }, painter(false), NOW)).toBe('no tables match\n');
  });
  it('says when an action changed nothing', () => {
    expect(renderActionResult({ rca_id: 'r', action: 'acknowledge', changed: false, status: 'acknowledged', message: 'already acknowledged' }, painter(false)))
      .toBe('acknowledge: already acknowledged; nothing changed. RCA r is acknowledged.\n');
  });
});

describe('ApiClient errors', () => {
  const connection = { url: 'http://medic.test', token: 't', tokenSource: 'MEDIC_TOKEN' as const, tokenFile: '/nowhere/admin-token', noColor: false };
  const answering = (status: number, body: unknown) => (async () => new Response(JSON.stringify(body), { status, headers: { 'content-type': 'application/json' } })) as unknown as typeof fetch;
  const message = async (client: ApiClient) => {
    try {
      await client.get('/v1/tables', { role: 'reader' });
    } catch (error) {
      expect(error).toBeInstanceOf(CliError);
      return (error as Error).message;
    }
    throw new Error('no error');
  };
  it('turns 401, 403, 404 and 503 into what to do', async () => {
    expect(await message(new ApiClient(connection, answering(401, { error: { code: 'unauthenticated', message: 'unknown or revoked token' } }))))
      .toBe('Medic at http://medic.test refused the token from MEDIC_TOKEN (unknown or revoked); create one with medic token create --role reader --name you and set MEDIC_TOKEN');
    expect(await message(new ApiClient({ ...connection, token: null, tokenSource: null }, answering(401, {}))))
      .toBe('no token: set MEDIC_TOKEN or pass --token (create one with medic token create --role reader --name you); /nowhere/admin-token was not readable');
    expect(await message(new ApiClient(connection, answering(403, { error: { code: 'forbidden', message: 'this route needs the reader role; the token "airflow" has ingest' } }))))
      .toBe('token lacks the reader role (the token "airflow" has ingest); create one with medic token create --role reader --name you');
    expect(await message(new ApiClient(connection, answering(404, { error: { code: 'not_found', message: 'no route GET /v1/tables' } }))))
      .toMatch(/has no such route/);
    expect(await message(new ApiClient(connection, answering(503, { error: { code: 'database_unavailable', message: 'the database is unavailable' } }))))
      .toMatch(/^Medic at http:\/\/medic\.test is unavailable: the database is unavailable; try again shortly$/);
    expect(await message(new ApiClient(connection, (async () => new Response('<html>', { status: 200 })) as unknown as typeof fetch)))
      .toMatch(/not JSON: is MEDIC_URL the Medic API\?/);
  });
  it('prefers --url/--token over the environment and validates them', async () => {
    const config = { url: 'http://env.test', token: 'from-env', tokenSource: 'MEDIC_TOKEN' as const, tokenFile: '/nowhere/admin-token', noColor: false };
    expect(await resolveConnection({}, config)).toMatchObject({ url: 'http://env.test', token: 'from-env', tokenSource: 'MEDIC_TOKEN' });
    expect(await resolveConnection({ url: 'http://flag.test/', token: 'flag' }, config)).toMatchObject({ url: 'http://flag.test', token: 'flag', tokenSource: '--token' });
    expect(await resolveConnection({}, { ...config, token: null, tokenSource: null })).toMatchObject({ token: null, tokenSource: null });
    await expect(resolveConnection({ url: 'medic:8080' }, config)).rejects.toThrow(/--url must start with http/);
  });
});
