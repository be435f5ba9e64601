import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';

/** The one error body every route answers with: `{ error: { code, message, field? } }`. */
export interface ApiErrorBody {
  error: { code: string; message: string; field?: string };
}

export class ApiError extends Error {
  constructor(readonly statusCode: number, readonly code: string, message: string, readonly field?: string) {
    super(message);
  }
}

/** `body` + ajv's instancePath `/exception/type` → `body.exception.type`. */
function fieldOf(error: FastifyError): string | undefined {
  const first = error.validation?.[0];
  if (!first) return undefined;
  const params = first.params as Record<string, unknown>;
  const segments = first.instancePath.split('/').filter(Boolean);
  if (typeof params.missingProperty === 'string') segments.push(params.missingProperty);
  if (typeof params.additionalProperty === 'string') segments.push(params.additionalProperty);
  return [error.validationContext ?? 'body', ...segments].join('.');
}

/**
 * The database is down or restarting: the request was not persisted, the sender must retry.
 * node-postgres surfaces this as socket errors, connection-class SQLSTATEs (08xxx), admin
 * shutdown (57P01..57P03) or its own "Connection terminated"/pool timeout messages.
 */
export function isDatabaseUnavailable(error: unknown): boolean {
  const e = error as { code?: unknown; message?: unknown; cause?: unknown } | null;
  if (!e || typeof e !== 'object') return false;
  const code = typeof e.code === 'string' ? e.code : '';
  if (['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'ENOTFOUND'].includes(code) || (/^08/.test(code) && code !== '08P01') || /^57P0[123]$/.test(code)) return true;
  if (typeof e.message === 'string' && /Connection terminated|timeout exceeded when trying to connect|Client has encountered a connection error/i.test(e.message)) return true;
  return e.cause !== undefined && e.cause !== error && isDatabaseUnavailable(e.cause);
}

/** Maps every error to the ApiErrorBody shape; 5xx details stay in the log, not in the answer. */
export function errorHandler(error: FastifyError | ApiError, request: FastifyRequest, reply: FastifyReply): void {
  if (error instanceof ApiError) {
    void reply.code(error.statusCode).send({ error: { code: error.code, message: error.message, ...(error.field ? { field: error.field } : {}) } });
    return;
  }
  if (error.validation) {
    const field = fieldOf(error);
    const first = error.validation[0];
    const message = field ? `${field} ${first?.message ?? 'is invalid'}` : error.message;
    void reply.code(400).send({ error: { code: 'invalid_request', message, ...(field ? { field } : {}) } });
    return;
  }
  if (isDatabaseUnavailable(error)) {
    request.log.warn({ err: error }, 'database unavailable; answering 503');
    void reply.code(503).header('retry-after', '5').send({ error: { code: 'database_unavailable', message: 'the database is unavailable; nothing was stored, retry later' } });
    return;
  }
  // Valid JSON that PostgreSQL cannot store as text (a \u0000, an invalid surrogate): the client's data, not our fault.
  const pgError = (error as { cause?: { code?: unknown; message?: unknown } }).cause ?? error;
  const pgCode = (error as { code?: unknown }).code ?? pgError.code;
  // A lone surrogate (\ud800) survives JSON.parse but not PostgreSQL's jsonb parser, which calls it a json syntax error.
  const unstorableJson = pgCode === '22P02' && /invalid input syntax for type json/.test(String(pgError.message));
  if (pgCode === '22P05' || pgCode === '22021' || unstorableJson) {
    void reply.code(400).send({ error: { code: 'unstorable_text', message: 'the body contains text PostgreSQL cannot store (e.g. a \\u0000 character)' } });
    return;
  }
  const status = error.statusCode ?? 500;
  if (status >= 500) {
    request.log.error({ err: error }, 'request failed');
    void reply.code(status === 500 ? 500 : status).send({ error: { code: 'internal_error', message: 'internal error; see the Medic log for the request id ' + request.id } });
    return;
  }
  const code = error.code === 'FST_ERR_CTP_BODY_TOO_LARGE' ? 'body_too_large'
    : error.code === 'FST_ERR_CTP_INVALID_JSON_BODY' || error instanceof SyntaxError ? 'malformed_json'
    : error.code === 'FST_ERR_CTP_INVALID_MEDIA_TYPE' ? 'unsupported_media_type'
    : 'bad_request';
  void reply.code(status).send({ error: { code, message: error.message } });
}
