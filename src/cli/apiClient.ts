import fs from 'node:fs/promises';
import { loadClientConfig, parseMedicUrl, type ClientConfig } from '../config.ts';

/**
 * A problem the person at the terminal can act on: printed as one line, without a stack,
 * and the command exits non-zero.
 */
export class CliError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'CliError';
  }
}

export type Role = 'ingest' | 'reader' | 'operator' | 'admin';

/** Where the token in use came from; error messages name it so the fix is obvious. */
export type TokenSource = '--token' | 'MEDIC_TOKEN' | 'MEDIC_ADMIN_TOKEN' | 'file' | null;

export interface Connection {
  url: string;
  token: string | null;
  tokenSource: TokenSource;
  /** `$MEDIC_HOME/admin-token`, whether or not it was used. */
  tokenFile: string;
  noColor: boolean;
}

export interface ConnectionOptions { url?: string; token?: string }

/**
 * The daemon's URL and token: --url / --token, else MEDIC_URL / MEDIC_TOKEN (or
 * MEDIC_ADMIN_TOKEN), else the admin token the daemon keeps in `$MEDIC_HOME/admin-token` when
 * that file is readable (the usual case on the daemon's own machine).
 */
export async function resolveConnection(options: ConnectionOptions, config: ClientConfig = loadClientConfig()): Promise<Connection> {
  let url = config.url;
  if (options.url !== undefined) {
    const parsed = parseMedicUrl(options.url, '--url');
    if ('problem' in parsed) throw new CliError(parsed.problem);
    url = parsed.url;
  }
  const base = { url, tokenFile: config.tokenFile, noColor: config.noColor };
  if (options.token !== undefined) {
    const token = options.token.trim();
    if (token === '' || /\s/.test(token)) throw new CliError('--token must be a single token without spaces');
    return { ...base, token, tokenSource: '--token' };
  }
  if (config.token) return { ...base, token: config.token, tokenSource: config.tokenSource };
  try {
    const token = (await fs.readFile(config.tokenFile, 'utf8')).trim();
    if (token.length > 0 && !/\s/.test(token)) return { ...base, token, tokenSource: 'file' };
  } catch {
    // Not there or not readable: go on without a token; the 401 message says what to set.
  }
  return { ...base, token: null, tokenSource: null };
}

export interface ApiResponse<T = unknown> {
  status: number;
  /** The body exactly as the daemon sent it (what --json prints). */
  text: string;
  json: T;
}

export interface RequestOptions {
  query?: Record<string, string | number | boolean | undefined>;
  /** The least role the route needs, for the message when the daemon answers 403. */
  role: Role;
  /** What a 404 means here, e.g. "no RCA record <id>: list them with medic rca list". */
  notFound?: (serverMessage: string) => string;
}

const TIMEOUT_MS = 30_000;

/** A thin client of the Data Health API that turns every failure into one actionable CliError. */
export class ApiClient {
  constructor(readonly connection: Connection, private readonly fetchImpl: typeof fetch = fetch) {}

  get<T = unknown>(path: string, options: RequestOptions): Promise<ApiResponse<T>> {
    return this.request<T>('GET', path, options);
  }

  post<T = unknown>(path: string, options: RequestOptions): Promise<ApiResponse<T>> {
    return this.request<T>('POST', path, options);
  }

  private async request<T>(method: string, path: string, options: RequestOptions): Promise<ApiResponse<T>> {
    const { url, token } = this.connection;
    const search = new URLSearchParams();
    for (const [key, value] of Object.entries(options.query ?? {})) {
      if (value !== undefined) search.set(key, String(value));
    }
    const target = `${url}${path}${search.size > 0 ? `?${search}` : ''}`;
    const headers: Record<string, string> = { accept: 'application/json' };
    if (token) headers.authorization = `Bearer ${token}`;
    let response: Response;
    try {
      response = await this.fetchImpl(target, { method, headers, signal: AbortSignal.timeout(TIMEOUT_MS), redirect: 'manual' });
    } catch (error) {
      throw new CliError(connectionProblem(url, error));
    }
    let text: string;
    try {
      text = await response.text();
    } catch (error) {
      throw new CliError(`the answer from Medic at ${url} was cut off (${(error as Error).message}); try again`);
    }
    let json: unknown;
    try {
      json = text === '' ? null : JSON.parse(text);
    } catch {
      json = undefined;
    }
    if (response.status >= 200 && response.status < 300) {
      if (json === undefined) throw new CliError(`${url} answered ${method} ${path} with something that is not JSON: is MEDIC_URL the Medic API?`);
      return { status: response.status, text, json: json as T };
    }
    throw new CliError(this.describeFailure(response.status, serverMessage(json), options));
  }

  private describeFailure(status: number, message: string | null, options: RequestOptions): string {
    const { url, tokenSource, tokenFile } = this.connection;
    switch (status) {
      case 401: {
        if (tokenSource === null) {
          return `no token: set MEDIC_TOKEN or pass --token (create one with medic token create --role ${options.role} --name you); ${tokenFile} was not readable`;
        }
        const where = tokenSource === 'file' ? `the admin token in ${tokenFile}` : `the token from ${tokenSource}`;
        return `Medic at ${url} refused ${where} (unknown or revoked); create one with medic token create --role ${options.role} --name you and set MEDIC_TOKEN`;
      }
      case 403: {
        // "this route needs the operator role; the token "x" has reader"
        const match = message ? /needs the (\w+) role; the token "([^"]*)" has (\w+)/.exec(message) : null;
        const needed = match?.[1] ?? options.role;
        const held = match ? ` (the token "${match[2]}" has ${match[3]})` : '';
        return `token lacks the ${needed} role${held}; create one with medic token create --role ${needed} --name you`;
      }
      case 404:
        if (message && /^no route /.test(message)) return `${url} has no such route (${message}): is it a Medic of the same version? check MEDIC_URL`;
        return options.notFound ? options.notFound(message ?? 'not found') : `not found: ${message ?? 'no such record'}`;
      case 400:
        return `the request was refused: ${message ?? 'bad request'}`;
      case 409: case 422:
        return message ?? `refused (HTTP ${status})`;
      case 429:
        return `${message ?? 'too many requests'}; try again later`;
      case 503:
        return `Medic at ${url} is unavailable: ${message ?? 'starting, stopping or without its database'}; try again shortly`;
      default:
        if (status >= 300 && status < 400) return `${url} answered with a redirect (HTTP ${status}): set MEDIC_URL to the Medic API itself`;
        return `Medic at ${url} answered HTTP ${status}${message ? `: ${message}` : ''}`;
    }
  }
}

/** The `error.message` of the API's error body, if the body is one. */
function serverMessage(json: unknown): string | null {
  const error = (json as { error?: { message?: unknown } } | null | undefined)?.error;
  return typeof error?.message === 'string' ? error.message : null;
}

/** Why no HTTP answer came back at all, in words. */
function connectionProblem(url: string, error: unknown): string {
  const e = error as { name?: string; cause?: { code?: string; message?: string }; message?: string };
  if (e.name === 'TimeoutError' || e.name === 'AbortError') return `Medic at ${url} did not answer within ${TIMEOUT_MS / 1000} s: is it overloaded or is MEDIC_URL wrong?`;
  const code = e.cause?.code ?? (e.cause as { errors?: Array<{ code?: string }> } | undefined)?.errors?.[0]?.code;
  switch (code) {
    case 'ECONNREFUSED':
      return `no Medic at ${url}: is medic serve running? set MEDIC_URL`;
    case 'ENOTFOUND': case 'EAI_AGAIN':
      return `cannot resolve the host of ${url}: check MEDIC_URL`;
    case 'ECONNRESET': case 'UND_ERR_SOCKET':
      return `the connection to ${url} was closed before an answer: is it the Medic API (http vs https)? check MEDIC_URL`;
    case 'ETIMEDOUT': case 'UND_ERR_CONNECT_TIMEOUT': case 'EHOSTUNREACH': case 'ENETUNREACH':
      return `cannot reach ${url} (${code}): check MEDIC_URL and the network`;
    default:
      return `cannot reach Medic at ${url} (${code ?? e.cause?.message ?? e.message ?? String(error)}): is medic serve running? set MEDIC_URL`;
  }
}
