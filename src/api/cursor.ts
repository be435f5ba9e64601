import { decodeCursor } from '../db/healthQueries.ts';
import { isStorableInstant } from './dateTimeFormat.ts';
import { ApiError } from './errors.ts';

/**
 * What the `id` half of a list's cursor is compared with: a uuid column, a bigint sequence, or
 * text. A cursor is opaque but not trusted: one this API never handed out must be a 400, not a
 * PostgreSQL cast error (a 500) when its id or date reaches the query.
 */
export type CursorIdKind = 'uuid' | 'integer' | 'text';

const ID_SHAPES: Record<CursorIdKind, RegExp> = {
  uuid: /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i,
  integer: /^\d{1,15}$/,
  text: /^[^\u0000]*$/,
};

/** The `cursor` query parameter of a list: null when absent, a 400 naming it when it is not one of ours. */
export function parseCursor(cursor: string | undefined, idKind: CursorIdKind = 'text') {
  if (cursor === undefined) return null;
  const decoded = decodeCursor(cursor);
  if (!decoded || !isStorableInstant(decoded.at) || !ID_SHAPES[idKind].test(decoded.id)) {
    throw new ApiError(400, 'invalid_request', 'querystring.cursor is not a cursor this API returned', 'querystring.cursor');
  }
  return decoded;
}
