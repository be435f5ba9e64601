/** Turns any thrown value into an Error whose message names where it came from (DESIGN 10.6). */
export function normaliseError(thrown: unknown, label: string): Error {
  if (thrown instanceof Error) {
    const error = new Error(`${label}: ${thrown.message}`, { cause: thrown });
    error.name = thrown.name;
    return error;
  }
  return new Error(`${label}: ${typeof thrown === 'string' ? thrown : JSON.stringify(thrown) ?? String(thrown)}`);
}
