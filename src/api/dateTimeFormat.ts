/** PostgreSQL's timestamptz has no year 0, and JavaScript dates reach years it cannot parse back. */
export function isStorableInstant(at: Date): boolean {
  const year = at.getUTCFullYear();
  return !Number.isNaN(at.getTime()) && year >= 1 && year <= 9999;
}

/** The slice of Ajv this needs (Ajv itself is fastify's private dependency). */
interface FormatRegistry {
  formats: Record<string, unknown>;
  addFormat(name: string, format: { type: 'string'; validate: (value: string) => boolean }): unknown;
}

/**
 * Narrows the `date-time` format of request validation to instants Medic can store. RFC 3339
 * (ajv-formats' check, kept) allows a leap second, 23:59:60, that `Date` cannot represent, and
 * year 0000 or an offset that pushes 9999 past the year end, which PostgreSQL refuses: both
 * reached the database and answered 500. Now they are a 400 that names the field.
 * Used as fastify's `ajv.onCreate`, which runs after the formats are added.
 */
export function restrictDateTimeFormat(ajv: FormatRegistry): void {
  const rfc3339 = ajv.formats['date-time'];
  const matchesRfc3339 = typeof rfc3339 === 'function' ? (value: string) => Boolean(rfc3339(value))
    : rfc3339 instanceof RegExp ? (value: string) => rfc3339.test(value)
    : typeof (rfc3339 as { validate?: unknown } | undefined)?.validate === 'function' ? (value: string) => Boolean((rfc3339 as { validate: (v: string) => boolean }).validate(value))
    : () => true;
  ajv.addFormat('date-time', { type: 'string', validate: (value) => matchesRfc3339(value) && isStorableInstant(new Date(value)) });
}
