import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ADMIN_TOKEN, startTestDaemon, type TestDaemon } from '../support/testDaemon.ts';
import { createToken, revokeToken, roleAllows, ROLES, type Role } from '../../src/api/tokens.ts';

/**
 * Route × role matrix over EVERY route the daemon documents in its own /openapi.json, so a
 * route added later is covered without touching this file: no token and an unknown token are
 * 401; each role is 403 exactly when roleAllows(role, required) is false; public routes never
 * answer 401/403; nothing answers 5xx. Whether an allowed call then succeeds (200) or is
 * refused for its input (400/404/409/422) is not this test's concern.
 */

/** Public routes hidden from the document (`hide: true`) that the README lists as open. */
const HIDDEN_PUBLIC_ROUTES: Array<{ method: string; path: string }> = [
  { method: 'GET', path: '/openapi.json' },
  { method: 'GET', path: '/docs' },
];
const HTTP_METHODS = ['get', 'put', 'post', 'delete', 'patch', 'options', 'head'];

interface Operation {
  description?: string;
  security?: Array<Record<string, string[]>>;
  parameters?: Array<{ in: string; name: string; schema?: ParamSchema }>;
  requestBody?: unknown;
}
interface ParamSchema { enum?: unknown[]; anyOf?: ParamSchema[]; format?: string; type?: string }

interface Case {
  method: string;
  /** The documented path, e.g. /v1/rca/{id}/actions/{action}. */
  template: string;
  url: string;
  /** null: a public route. */
  required: Role | null;
  hasBody: boolean;
}

let daemon: TestDaemon;
const tokens = new Map<Role, string>();
let createdAdminToken: string;
let revokedToken: string;
let cases: Case[] = [];

/** Every literal a path parameter may take, when its schema is an enum (e.g. the four actions). */
function enumValues(schema: ParamSchema | undefined): string[] | null {
  if (!schema) return null;
  if (schema.enum) return schema.enum.map(String);
  if (schema.anyOf && schema.anyOf.every((s) => s.enum)) return schema.anyOf.flatMap((s) => s.enum!.map(String));
  return null;
}

/** A plausible value for a path parameter that is not an enum. */
function plausible(name: string, schema: ParamSchema | undefined): string {
  if (schema?.format === 'uuid') return randomUUID();
  if (name === 'table') return 'lake.orders';
  if (name === 'team') return 'orders-eng';
  if (name === 'id') return 'source_unavailable:orders-db';
  return 'x';
}

/** The required role: "Requires the `X` role." (added by the server's swagger transform) and `security` must agree. */
function requiredRole(method: string, path: string, op: Operation): Role | null {
  const match = /Requires the `(\w+)` role\./.exec(op.description ?? '');
  const secured = (op.security ?? []).length > 0;
  if (!match && !secured) return null;
  if (!match) throw new Error(`${method} ${path} has security but no "Requires the \`X\` role." in its description`);
  if (!secured) throw new Error(`${method} ${path} names the ${match[1]} role but has no security`);
  if (!(ROLES as readonly string[]).includes(match[1]!)) throw new Error(`${method} ${path} requires an unknown role ${match[1]}`);
  return match[1] as Role;
}

function expand(method: string, template: string, op: Operation): Case[] {
  const pathParams = (op.parameters ?? []).filter((p) => p.in === 'path');
  let urls = [template];
  for (const param of pathParams) {
    const values = enumValues(param.schema) ?? [plausible(param.name, param.schema)];
    urls = urls.flatMap((url) => values.map((v) => url.replace(`{${param.name}}`, encodeURIComponent(v))));
  }
  for (const url of urls) if (/[{}]/.test(url)) throw new Error(`${method} ${template}: a path parameter is not described in parameters (${url})`);
  const required = requiredRole(method, template, op);
  return urls.map((url) => ({ method, template, url, required, hasBody: op.requestBody !== undefined || method === 'PUT' }));
}

async function send(c: Case, token: string | null): Promise<number> {
  const headers: Record<string, string> = {};
  if (token !== null) headers.authorization = `Bearer ${token}`;
  let body: string | undefined;
  if (c.hasBody) {
    headers['content-type'] = 'application/json';
    body = '{}';
  }
  const response = await fetch(`${daemon.url}${c.url}`, { method: c.method, headers, body, redirect: 'manual' });
  await response.arrayBuffer();
  return response.status;
}

beforeAll(async () => {
  daemon = await startTestDaemon('route_role_matrix', { MEDIC_SLA_MONITOR: 'off' });
  for (const role of ROLES) tokens.set(role, role === 'admin' ? ADMIN_TOKEN : await createToken(daemon.database.db, `matrix-${role}`, role));
  // A created admin token too (api_tokens, not MEDIC_ADMIN_TOKEN), and a revoked one.
  createdAdminToken = await createToken(daemon.database.db, 'matrix-admin-created', 'admin');
  revokedToken = await createToken(daemon.database.db, 'matrix-revoked', 'admin');
  expect(await revokeToken(daemon.database.db, 'matrix-revoked')).toBe(true);
  const openapi = await daemon.call('GET', '/openapi.json', { token: null });
  expect(openapi.status).toBe(200);
  const paths = openapi.body.paths as Record<string, Record<string, Operation>>;
  cases = [];
  for (const [template, item] of Object.entries(paths)) {
    for (const [method, op] of Object.entries(item)) {
      if (!HTTP_METHODS.includes(method)) continue;
      cases.push(...expand(method.toUpperCase(), template, op));
    }
  }
  for (const hidden of HIDDEN_PUBLIC_ROUTES) {
    if (!cases.some((c) => c.method === hidden.method && c.url === hidden.path)) {
      cases.push({ method: hidden.method, template: hidden.path, url: hidden.path, required: null, hasBody: false });
    }
  }
});

afterAll(async () => {
  await daemon?.close();
});

describe('route × role matrix from /openapi.json', () => {
  it('covers at least 25 routes, secured and public, with every role the server knows', () => {
    expect(cases.length).toBeGreaterThanOrEqual(25);
    const required = new Set(cases.map((c) => c.required));
    for (const role of ROLES) expect(required, `no route requires ${role}`).toContain(role);
    expect(required).toContain(null);
    // The documented routes alone (before enum expansion) are not a handful either.
    expect(new Set(cases.filter((c) => !HIDDEN_PUBLIC_ROUTES.some((h) => h.path === c.template)).map((c) => `${c.method} ${c.template}`)).size).toBeGreaterThanOrEqual(20);
  });

  it('answers 401 / 403 / allowed exactly as roleAllows says, and never 5xx', async () => {
    const callers: Array<{ label: string; token: string | null; role: Role | null }> = [
      { label: 'no token', token: null, role: null },
      { label: 'unknown token', token: 'medic_not-a-real-token-0123456789', role: null },
      { label: 'revoked token', token: revokedToken, role: null },
      ...ROLES.map((role) => ({ label: role, token: tokens.get(role)!, role })),
      { label: 'admin (api_tokens)', token: createdAdminToken, role: 'admin' as const },
    ];
    const problems: string[] = [];
    const rows: string[] = [];
    for (const c of cases) {
      const cells: string[] = [];
      for (const caller of callers) {
        const status = await send(c, caller.token);
        cells.push(`${caller.label}=${status}`);
        const where = `${c.method} ${c.url} as ${caller.label}`;
        if (status >= 500) problems.push(`${where}: ${status} (server error)`);
        if (c.required === null) {
          if (status === 401 || status === 403) problems.push(`${where}: ${status} on a public route`);
          continue;
        }
        if (caller.role === null) {
          if (status !== 401) problems.push(`${where}: ${status}, expected 401`);
          continue;
        }
        const allowed = roleAllows(caller.role, c.required);
        if (allowed && (status === 401 || status === 403)) problems.push(`${where}: ${status}, but ${caller.role} may call a ${c.required} route`);
        if (!allowed && status !== 403) problems.push(`${where}: ${status}, expected 403 (${caller.role} may not call a ${c.required} route)`);
      }
      rows.push(`${c.method} ${c.url} [${c.required ?? 'public'}]: ${cells.join(' ')}`);
    }
    expect(problems, `matrix:\n${rows.join('\n')}`).toEqual([]);
  });
});
