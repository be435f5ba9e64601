/**
 * Turns any thrown value into an Error whose message names where it came from (DESIGN 10.6).
 * drizzle wraps database errors as "Failed query: <sql> params: <values>"; the database's own
 * words are more useful (and shorter, and free of the values), so they are taken instead.
 */
export function normaliseError(thrown: unknown, label: string): Error {
  if (thrown instanceof Error) {
    const inner = thrown.message.startsWith('Failed query:') && thrown.cause instanceof Error ? thrown.cause : thrown;
    const error = new Error(`${label}: ${inner.message}`, { cause: thrown });
    error.name = inner.name;
    return error;
  }
  return new Error(`${label}: ${typeof thrown === 'string' ? thrown : JSON.stringify(thrown) ?? String(thrown)}`);
}
