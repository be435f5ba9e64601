/** The parts of the Data Health API (src/api/schemas.ts) the workbench reads. */

export type HealthStatus = 'healthy' | 'degraded' | 'unhealthy' | 'unknown';
export type Role = 'ingest' | 'reader' | 'operator' | 'admin';
export type Action = 'retry' | 'acknowledge' | 'resolve' | 'escalate';

export const STATUSES: HealthStatus[] = ['unhealthy', 'degraded', 'unknown', 'healthy'];
export const ACTIONS: Action[] = ['retry', 'acknowledge', 'resolve', 'escalate'];

export const CATEGORIES = [
  'source_replica_lag', 'source_unavailable', 'source_auth_failure', 'source_schema_change', 'source_data_issue',
  'upstream_unhealthy', 'upstream_late', 'infra_transient', 'resource_exhausted', 'sink_write_failure',
  'scheduler_backlog', 'runtime_regression', 'incomplete_load', 'code_error', 'unknown',
] as const;

export interface Assignee { team: string | null; role: string; reason?: string | null }

export interface Resolution {
  resolver: string; state: string; attempts: number; max_attempts: number;
  next_attempt_at: string | null; last_error: string | null;
}

export interface TableHealth {
  table: string;
  status: HealthStatus;
  since: string;
  last_checked_at: string;
  error: { category: string; summary: string } | null;
  rca_id: string | null;
  assignee: Assignee | null;
  resolution: Resolution | null;
  owner: string | null;
  tier: number | null;
  in_catalog: boolean;
}

export interface HealthEvent {
  table: string; old_status: string; new_status: string; rca_id: string | null; signal_id: string | null; reason: string; at: string;
}

export interface Evidence {
  analyser: string;
  version: string;
  inputs: Record<string, unknown>;
  observations: Record<string, unknown>;
  findings: Array<{ messageId: string; text: string; data?: Record<string, string | number> }>;
  verdict: Record<string, unknown> | null;
  error: string | null;
  duration_ms: number;
}

export interface Rca {
  id: string;
  table: string;
  incident_id: string | null;
  status: string;
  category: string;
  summary: string;
  confidence: number;
  assignee: Assignee;
  auto_resolution: (Partial<Resolution> & Record<string, unknown>) | null;
  manual_steps: string;
  signal_ids: string[];
  evidence?: Evidence[];
  created_at: string;
  updated_at: string;
  resolved_at: string | null;
}

export interface Attempt {
  attempt: number; resolver: string; outcome: string; actor: string;
  detail: Record<string, unknown> | null; error: string | null; started_at: string; finished_at: string | null;
}

export interface RcaAction { action: string; actor: string; outcome: string; detail: Record<string, unknown> | null; at: string }

export interface RcaDetail extends Rca { attempts: Attempt[]; actions: RcaAction[] }

export interface Incident {
  id: string; category: string; resource: string; status: 'open' | 'resolved'; summary: string;
  assignee: { team: string | null; role: string }; tables: string[]; rca_count: number; open_rca_count: number;
  first_seen: string; last_seen: string;
}

export interface ActionResult { rca_id: string; action: string; changed: boolean; status: string; message: string }

export interface Page<T> { items: T[]; next_cursor: string | null }

export interface Identity { name: string; role: Role }

/** An error answer of the API: `{ error: { code, message, field? } }`, or a network failure (status 0). */
export class ApiError extends Error {
  constructor(readonly status: number, readonly code: string, message: string) {
    super(message);
  }
}

const TOKEN_KEY = 'medic.workbench.token';

export const tokenStore = {
  get: (): string | null => {
    try { return sessionStorage.getItem(TOKEN_KEY); } catch { return null; }
  },
  set: (token: string) => { try { sessionStorage.setItem(TOKEN_KEY, token); } catch { /* storage disabled: keep it in memory only */ } },
  clear: () => { try { sessionStorage.removeItem(TOKEN_KEY); } catch { /* ignore */ } },
};

/** Calls the API with the bearer token; JSON in, JSON out, errors as {@link ApiError}. */
export async function api<T>(token: string, method: 'GET' | 'POST', path: string, signal?: AbortSignal): Promise<T> {
  let response: Response;
  try {
    response = await fetch(path, { method, signal, headers: { authorization: `Bearer ${token}`, accept: 'application/json' }, cache: 'no-store' });
  } catch (error) {
    if ((error as Error).name === 'AbortError') throw error;
    throw new ApiError(0, 'network', `cannot reach the daemon (${(error as Error).message})`);
  }
  const text = await response.text();
  let body: unknown = null;
  try { body = text ? JSON.parse(text) : null; } catch { /* not JSON */ }
  if (!response.ok) {
    const error = (body as { error?: { code?: string; message?: string } } | null)?.error;
    throw new ApiError(response.status, error?.code ?? 'http_error', error?.message ?? `HTTP ${response.status}`);
  }
  return body as T;
}

/** Every page of a list endpoint (bounded, so a runaway cursor cannot loop forever). */
export async function listAll<T>(get: <R>(path: string, signal?: AbortSignal) => Promise<R>, path: string, signal?: AbortSignal, maxPages = 20): Promise<T[]> {
  const items: T[] = [];
  let cursor: string | null = null;
  for (let page = 0; page < maxPages; page += 1) {
    const separator = path.includes('?') ? '&' : '?';
    const url: string = cursor ? `${path}${separator}cursor=${encodeURIComponent(cursor)}` : path;
    const result: Page<T> = await get<Page<T>>(url, signal);
    items.push(...result.items);
    cursor = result.next_cursor;
    if (!cursor) break;
  }
  return items;
}

export const enc = encodeURIComponent;

export const canAct = (role: Role | undefined) => role === 'operator' || role === 'admin';
