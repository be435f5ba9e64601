import fc from 'fast-check';
import { roleAllows, ROLES, type Role } from '../../../src/api/tokens.ts';

// Hostile-input generators built from the daemon's own /openapi.json (issue #10, item 5): every
// operation gets valid-ish requests, requests with exactly one known defect (and the status and
// error field the answer must name), hostile-but-valid strings, malformed bodies and wrong roles.
// Nothing here knows a route by name: a route added later is fuzzed without touching this file.

/** The part of OpenAPI 3.0 / JSON Schema that @fastify/swagger emits for our TypeBox schemas. */
export interface JsonSchema {
  $ref?: string;
  type?: 'object' | 'array' | 'string' | 'integer' | 'number' | 'boolean' | 'null';
  properties?: Record<string, JsonSchema>;
  required?: string[];
  additionalProperties?: boolean | JsonSchema;
  items?: JsonSchema;
  minItems?: number;
  maxItems?: number;
  anyOf?: JsonSchema[];
  enum?: unknown[];
  nullable?: boolean;
  minLength?: number;
  maxLength?: number;
  pattern?: string;
  format?: string;
  minimum?: number;
  maximum?: number;
}

export interface Parameter { in: 'path' | 'query' | 'header' | 'cookie'; name: string; required?: boolean; schema: JsonSchema }

interface OperationObject {
  parameters?: Parameter[];
  requestBody?: { content?: Record<string, { schema?: JsonSchema }> };
  description?: string;
}

export interface OpenApiDocument {
  paths: Record<string, Record<string, OperationObject>>;
  components?: { schemas?: Record<string, JsonSchema> };
}

/** One documented operation, with every `$ref` resolved. */
export interface Operation {
  method: string;
  /** The documented path, e.g. /v1/rca/{id}/actions/{action}. */
  template: string;
  pathParams: Parameter[];
  queryParams: Parameter[];
  /** The JSON request body's schema; null when the operation documents none. */
  body: JsonSchema | null;
  /** The least role the route requires ("Requires the `X` role." in its description); null = public. */
  role: Role | null;
}

/** A request to send, and what the generator knows its answer must be. */
export interface FuzzRequest {
  method: string;
  /** Path and query string, already encoded. */
  url: string;
  headers: Record<string, string>;
  body?: string;
  /** Which generator made it, for the figures and for failure messages. */
  kind: string;
  /** Set when the request has exactly one known defect (or a wrong role): the answer it must get. */
  expect?: { status: number; field?: string; code?: string };
}

/** Bearer tokens the generators may use: one per role. */
export type TokensByRole = Record<Role, string>;

const HTTP_METHODS = ['get', 'put', 'post', 'delete', 'patch'];

/**
 * Strings an attacker sends to find an injection: SQL, markup, template and shell syntax,
 * path traversal, header splitting, control characters and awkward Unicode.
 */
export const HOSTILE_STRINGS: readonly string[] = [
  "'; DROP TABLE signals; --",
  "' OR '1'='1",
  "1'; SELECT pg_sleep(30); --",
  '$$; DELETE FROM api_tokens; $$',
  '"); DROP TABLE rca_records; --',
  "lake.orders' UNION SELECT token_hash FROM api_tokens --",
  '<script>alert(1)</script>',
  '<img src=x onerror=alert(1)>',
  '"><svg onload=alert(document.cookie)>',
  'javascript:alert(1)',
  '{{constructor.constructor("alert(1)")()}}',
  '${process.exit(1)}',
  '`rm -rf /`',
  '../../../../etc/passwd',
  '%00%2e%2e%2f',
  '%s%s%s%n',
  'line\r\nX-Injected: yes',
  'nul\u0000byte',
  '\u0000',
  '\u202Eevil\u202C',
  'zero\u200Bwidth\u200D',
  '😀🔥👩‍👩‍👧',
  'Ω≈ç√∫˜µ≤≥÷',
  '\uFEFFbom',
  'lone \ud800 surrogate',
  '__proto__',
  'constructor',
  '',
  ' ',
];

/** A closed local port: webhook URLs the fuzzer subscribes never reach anything outside the machine. */
const LOCAL_URL_PREFIX = 'http://127.0.0.1:9/';
const URL_PATTERN = '^[hH][tT][tT][pP][sS]?://';

/** Date-times the `date-time` format accepts that a naive `new Date()` or PostgreSQL may not. */
const EDGE_DATE_TIMES = [
  '2016-12-31T23:59:60Z',
  '2026-11-27t08:00:00z',
  '2026-11-27 08:00:00Z',
  '0000-01-01T00:00:00Z',
  '0001-01-01T00:00:00Z',
  '9999-12-31T23:59:59.999999999Z',
  '2026-11-27T08:00:00+14:00',
  '2026-11-27T08:00:00-12:00',
  '1969-12-31T23:59:59.999Z',
  '2026-11-27T08:00:00.123456789012345678901234567890Z',
];

/** Integers a schema without bounds accepts that a 32-bit column or a float cannot hold exactly. */
const EDGE_INTEGERS = [0, -1, 2 ** 31 - 1, 2 ** 31, -(2 ** 31) - 1, 2 ** 53 - 1, 1e21];
const EDGE_NUMBERS = [0, 1e308, 5e-324, 2 ** 53 + 2, 1e-7];

/** Replaces every `#/components/schemas/X` with the component itself (our documents have no cycles). */
export function deref(schema: JsonSchema, doc: OpenApiDocument): JsonSchema {
  const walk = (node: unknown): unknown => {
    if (Array.isArray(node)) return node.map(walk);
    if (!node || typeof node !== 'object') return node;
    const record = node as Record<string, unknown>;
    if (typeof record.$ref === 'string') {
      const name = record.$ref.replace('#/components/schemas/', '');
      const target = doc.components?.schemas?.[name];
      if (!target) throw new Error(`unresolved $ref ${record.$ref}`);
      return walk(target);
    }
    return Object.fromEntries(Object.entries(record).map(([key, value]) => [key, walk(value)]));
  };
  return walk(schema) as JsonSchema;
}

/** Every operation of the document, with its parameters, body schema and required role. */
export function listOperations(doc: OpenApiDocument): Operation[] {
  const operations: Operation[] = [];
  for (const [template, item] of Object.entries(doc.paths)) {
    for (const [method, op] of Object.entries(item)) {
      if (!HTTP_METHODS.includes(method)) continue;
      const parameters = (op.parameters ?? []).map((p) => ({ ...p, schema: deref(p.schema, doc) }));
      const bodySchema = op.requestBody?.content?.['application/json']?.schema;
      const roleMatch = /Requires the `(\w+)` role\./.exec(op.description ?? '');
      if (roleMatch && !(ROLES as readonly string[]).includes(roleMatch[1]!)) throw new Error(`${method} ${template}: unknown role ${roleMatch[1]}`);
      operations.push({
        method: method.toUpperCase(),
        template,
        pathParams: parameters.filter((p) => p.in === 'path'),
        queryParams: parameters.filter((p) => p.in === 'query'),
        body: bodySchema ? deref(bodySchema, doc) : null,
        role: roleMatch ? (roleMatch[1] as Role) : null,
      });
    }
  }
  return operations;
}

// ---------------------------------------------------------------- valid-ish values

/** `clean`: plain ASCII text; `hostile`: still valid by the schema, but with the strings above mixed in. */
export type Flavour = 'clean' | 'hostile';

/** Pads or cuts a generated string into [min, max] (in UTF-16 units; close enough for valid-ish). */
const fit = (min: number, max: number) => (value: string) => {
  let out = value.length > max ? value.slice(0, max) : value;
  while (out.length < min) out += 'x';
  return out;
};

const isEnumLike = (schema: JsonSchema): boolean =>
  schema.enum !== undefined || (schema.anyOf !== undefined && schema.anyOf.every(isEnumLike));

function dateTimeArbitrary(flavour: Flavour): fc.Arbitrary<string> {
  const normal = fc.date({ min: new Date('1970-01-01T00:00:00Z'), max: new Date('2100-01-01T00:00:00Z'), noInvalidDate: true }).map((d) => d.toISOString());
  return flavour === 'clean' ? normal : fc.oneof(normal, fc.constantFrom(...EDGE_DATE_TIMES));
}

function stringArbitrary(schema: JsonSchema, flavour: Flavour): fc.Arbitrary<string> {
  const min = schema.minLength ?? 0;
  const max = schema.maxLength ?? 500;
  if (schema.format === 'uuid') return fc.uuid();
  if (schema.format === 'date-time') return dateTimeArbitrary(flavour).map(fit(0, max));
  if (schema.pattern === URL_PATTERN) {
    return fc.webPath({ size: 'small' }).map((p) => fit(min, max)(`${LOCAL_URL_PREFIX}${p.replace(/^\//, '')}`));
  }
  if (schema.pattern) {
    const pattern = new RegExp(schema.pattern);
    return fc.stringMatching(pattern, { size: 'small' }).map(fit(Math.max(min, 1), max)).filter((s) => pattern.test(s));
  }
  const plain = fc.string({ unit: 'grapheme-ascii', minLength: min, maxLength: Math.min(max, 40) });
  if (flavour === 'clean') return plain;
  return fc.oneof(
    plain,
    fc.constantFrom(...HOSTILE_STRINGS).map(fit(min, max)),
    fc.string({ unit: 'binary', minLength: min, maxLength: Math.min(max, 40) }),
    fc.string({ unit: 'grapheme', minLength: min, maxLength: Math.min(max, 40) }),
  );
}

function integerArbitrary(schema: JsonSchema, flavour: Flavour): fc.Arbitrary<number> {
  const lo = schema.minimum ?? -1000;
  const hi = schema.maximum ?? Math.max(lo + 1000, 1000);
  const normal = fc.integer({ min: lo, max: Math.min(hi, lo + 100_000) });
  if (flavour === 'clean') return normal;
  const edges = EDGE_INTEGERS.filter((n) => (schema.minimum === undefined || n >= schema.minimum) && (schema.maximum === undefined || n <= schema.maximum));
  return edges.length > 0 ? fc.oneof(normal, fc.constantFrom(...edges)) : normal;
}

function numberArbitrary(schema: JsonSchema, flavour: Flavour): fc.Arbitrary<number> {
  const normal = fc.double({ min: schema.minimum ?? -1e6, max: schema.maximum ?? 1e6, noNaN: true, noDefaultInfinity: true });
  if (flavour === 'clean') return normal;
  const edges = EDGE_NUMBERS.filter((n) => (schema.minimum === undefined || n >= schema.minimum) && (schema.maximum === undefined || n <= schema.maximum));
  return fc.oneof(normal, fc.constantFrom(...edges));
}

/** A value the schema accepts (give or take string lengths counted in code points). */
export function validValue(schema: JsonSchema, flavour: Flavour): fc.Arbitrary<unknown> {
  const base = nonNullValue(schema, flavour);
  return schema.nullable ? fc.option(base, { nil: null, freq: 6 }) : base;
}

function nonNullValue(schema: JsonSchema, flavour: Flavour): fc.Arbitrary<unknown> {
  if (schema.enum) return fc.constantFrom(...schema.enum);
  if (schema.anyOf) return fc.oneof(...schema.anyOf.map((branch) => validValue(branch, flavour)));
  switch (schema.type) {
    case 'string': return stringArbitrary(schema, flavour);
    case 'integer': return integerArbitrary(schema, flavour);
    case 'number': return numberArbitrary(schema, flavour);
    case 'boolean': return fc.boolean();
    case 'null': return fc.constant(null);
    case 'array': return fc.array(validValue(schema.items ?? {}, flavour), { minLength: schema.minItems ?? 0, maxLength: Math.max(schema.minItems ?? 0, Math.min(schema.maxItems ?? 3, 3)) });
    case 'object': return objectArbitrary(schema, flavour);
    default: return freeFormJson(flavour);
  }
}

function objectArbitrary(schema: JsonSchema, flavour: Flavour): fc.Arbitrary<unknown> {
  const properties = schema.properties ?? {};
  if (Object.keys(properties).length === 0) {
    // A free-form map (OpenLineage facets): anything JSON, sometimes awkwardly keyed.
    return fc.dictionary(fc.string({ maxLength: 12 }), freeFormJson(flavour), { maxKeys: 3 });
  }
  const model = Object.fromEntries(Object.entries(properties).map(([key, value]) => [key, validValue(value, flavour)]));
  return fc.record(model, { requiredKeys: (schema.required ?? []).filter((key) => key in properties) });
}

function freeFormJson(flavour: Flavour): fc.Arbitrary<unknown> {
  return flavour === 'clean' ? fc.jsonValue({ maxDepth: 2 }) : fc.oneof(fc.jsonValue({ maxDepth: 3 }), fc.constantFrom(...HOSTILE_STRINGS));
}

// ---------------------------------------------------------------- single, known defects

/** One defect placed in a valid value, and the error field the API must then name. */
export interface Defect { kind: string; value: unknown; field: string }

type Path = Array<string | number>;

const fieldName = (root: string, path: Path) => [root, ...path].join('.');

function setAt(root: unknown, path: Path, replace: (old: unknown) => unknown): unknown {
  if (path.length === 0) return replace(root);
  const copy: any = Array.isArray(root) ? [...root] : { ...(root as object) };
  const [head, ...rest] = path;
  copy[head as any] = setAt(copy[head as any], rest, replace);
  return copy;
}

function deleteAt(root: unknown, path: Path, key: string): unknown {
  return setAt(root, path, (parent) => {
    const copy = { ...(parent as Record<string, unknown>) };
    delete copy[key];
    return copy;
  });
}

/** A string of `length` made of an injection attempt, so a too-long value is also a hostile one. */
const longHostile = (length: number) => "'; DROP TABLE signals; --<script>alert(1)</script>".repeat(Math.ceil(length / 50)).slice(0, length);

/**
 * Every single-defect variant of `value` (valid for `schema`) that the validator must refuse,
 * each with the field the 400 answer names: a missing required property, an unknown property
 * where none are allowed, a string too long or too short or off-pattern, an unknown enum
 * value, an object where a scalar belongs, an integer out of range or fractional, too many
 * array items. Free-form parts (`{}`) and null values are left alone.
 */
export function defectsOf(schema: JsonSchema, value: unknown, root = 'body', path: Path = []): Defect[] {
  if (value === null || value === undefined) return [];
  // Ajv's type coercion turns "", 0 and false into null where null is allowed: no defect there.
  if (schema.nullable) return defectsOf({ ...schema, nullable: false }, value, root, path).filter((d) => d.field !== fieldName(root, path) || !['', 0, false].includes(d.value as never));
  const here = fieldName(root, path);
  const defect = (kind: string, replacement: unknown): Defect => ({ kind, value: replacement, field: here });
  const out: Defect[] = [];
  if (isEnumLike(schema)) {
    out.push(defect('unknown enum value', '<script>alert(1)</script>'), defect('object for a scalar', { $ne: null }));
    return out;
  }
  switch (schema.type) {
    case 'string': {
      out.push(defect('object for a scalar', { $gt: '' }));
      if (schema.maxLength !== undefined && schema.maxLength < 100_000) out.push(defect('string too long', longHostile(schema.maxLength + 1)));
      if ((schema.minLength ?? 0) > 0) out.push(defect('empty string', ''));
      if (schema.pattern === URL_PATTERN) out.push(defect('not an http URL', 'ftp://127.0.0.1/x'));
      else if (schema.pattern) out.push(defect('off-pattern string', "x'; DROP TABLE signals; --"));
      if (schema.format === 'uuid') out.push(defect('not a uuid', "00000000-0000-0000-0000-00000000000'"));
      if (schema.format === 'date-time') out.push(defect('not a date-time', 'yesterday'));
      return out;
    }
    case 'integer':
    case 'number': {
      out.push(defect('object for a scalar', [{}]), defect('text for a number', "1 OR 1=1"));
      if (schema.type === 'integer') out.push(defect('fraction for an integer', 1.5));
      if (schema.minimum !== undefined) out.push(defect('below minimum', schema.minimum - 1));
      if (schema.maximum !== undefined) out.push(defect('above maximum', schema.maximum + 1));
      return out;
    }
    case 'boolean':
      return [defect('text for a boolean', 'maybe'), defect('object for a scalar', {})];
    case 'array': {
      const items = value as unknown[];
      out.push(defect('object for an array', { 0: 'x' }));
      if (schema.maxItems !== undefined && schema.maxItems <= 1000 && items.length > 0) {
        out.push(defect('too many items', Array.from({ length: schema.maxItems + 1 }, () => items[0])));
      }
      items.forEach((item, index) => out.push(...defectsOf(schema.items ?? {}, item, root, [...path, index]).map((d) => ({ ...d, value: setAt(items, [index], () => d.value) }))));
      return out;
    }
    case 'object': {
      const record = value as Record<string, unknown>;
      const properties = schema.properties ?? {};
      if (Object.keys(properties).length === 0) return [];
      out.push(defect('scalar for an object', 'x'));
      for (const key of schema.required ?? []) {
        if (key in record) out.push({ kind: 'missing required property', value: deleteAt(record, [], key), field: fieldName(root, [...path, key]) });
      }
      if (schema.additionalProperties === false) {
        const extra = "'; DROP TABLE signals; --";
        out.push({ kind: 'unknown property', value: { ...record, [extra]: 1 }, field: fieldName(root, [...path, extra]) });
      }
      for (const [key, child] of Object.entries(properties)) {
        if (!(key in record)) continue;
        out.push(...defectsOf(child, record[key], root, [...path, key]).map((d) => ({ ...d, value: { ...record, [key]: d.value } })));
      }
      return out;
    }
    default:
      return [];
  }
}

/** A valid value with exactly one defect, chosen by fast-check among all that `defectsOf` finds. */
function defectiveValue(schema: JsonSchema): fc.Arbitrary<Defect> {
  return fc.tuple(validValue(schema, 'clean'), fc.nat()).map(([base, pick]) => {
    const defects = defectsOf(schema, base);
    return defects.length === 0 ? null : defects[pick % defects.length]!;
  }).filter((d): d is Defect => d !== null);
}

// ---------------------------------------------------------------- whole requests

/** Values for path parameters that name real rows (seeded by the test), so some requests reach them. */
export type KnownValues = Record<string, string[]>;

interface Parts { path: Record<string, string>; query: Array<[string, string]> }

function encodeQuery(query: Array<[string, string]>): string {
  if (query.length === 0) return '';
  return `?${query.map(([k, v]) => `${encodeURIComponent(k)}=${encodeURIComponent(v)}`).join('&')}`;
}

function buildUrl(op: Operation, parts: Parts): string {
  let url = op.template;
  for (const param of op.pathParams) url = url.replace(`{${param.name}}`, encodeURIComponent(parts.path[param.name] ?? 'x'));
  return url + encodeQuery(parts.query);
}

const asText = (value: unknown) => (typeof value === 'string' ? value : JSON.stringify(value));
/** encodeURIComponent throws on a lone surrogate: such strings cannot travel in a URL at all. */
const encodable = (text: string) => { try { encodeURIComponent(text); return true; } catch { return false; } };

/** Whether a seeded value suits this parameter (ids of several kinds share the name `id`). */
function fitsParameter(value: string, schema: JsonSchema): boolean {
  if (schema.format === 'uuid' && !/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(value)) return false;
  if (schema.pattern && !new RegExp(schema.pattern).test(value)) return false;
  if (isEnumLike(schema)) return false;
  return value.length >= (schema.minLength ?? 0) && value.length <= (schema.maxLength ?? Infinity);
}

function pathValue(param: Parameter, known: KnownValues, flavour: Flavour): fc.Arbitrary<string> {
  const generated = validValue(param.schema, flavour).map(asText);
  const seeded = (known[param.name] ?? []).filter((value) => fitsParameter(value, param.schema));
  return seeded.length > 0 ? fc.oneof(generated, fc.constantFrom(...seeded)) : generated;
}

function validParts(op: Operation, known: KnownValues, flavour: Flavour): fc.Arbitrary<Parts> {
  const path = fc.record(Object.fromEntries(op.pathParams.map((p) => [p.name, pathValue(p, known, flavour)])));
  // The cursor is opaque: a generated one is almost never valid, so valid-ish requests leave it out.
  const queryParams = op.queryParams.filter((p) => p.name !== 'cursor');
  const query = fc.record(Object.fromEntries(queryParams.map((p) => [p.name, validValue(p.schema, flavour).map(asText)])), { requiredKeys: [] });
  return fc.record({ path, query: query.map((q) => Object.entries(q) as Array<[string, string]>) })
    .filter((parts) => Object.values(parts.path).every(encodable) && parts.query.every(([, v]) => encodable(v)));
}

const jsonHeaders = (token: string | null): Record<string, string> => ({
  ...(token ? { authorization: `Bearer ${token}` } : {}),
});

function withBody(headers: Record<string, string>, body: string | undefined, contentType = 'application/json'): Record<string, string> {
  return body === undefined ? headers : { ...headers, 'content-type': contentType };
}

/**
 * Cursors this API did not hand out but that decode: base64url JSON `[date, id]` with dates a
 * database may not hold and ids of the wrong type or shape.
 */
export const CRAFTED_CURSORS: readonly string[] = [
  ['2026-01-01T00:00:00Z', "'; DROP TABLE signals; --"],
  ['2026-01-01T00:00:00Z', 'not-a-uuid'],
  ['2026-01-01T00:00:00Z', '12345678901234567890'],
  ['+275760-09-13T00:00:00Z', '00000000-0000-0000-0000-000000000000'],
  ['-271821-04-20T00:00:00Z', '1'],
  ['0000-01-01T00:00:00Z', '00000000-0000-0000-0000-000000000000'],
  ['2026-01-01T00:00:00Z', 'nul\u0000byte'],
  [0, '1'],
  ['2026-01-01T00:00:00Z', ''],
].map((pair) => Buffer.from(JSON.stringify(pair)).toString('base64url'));

/** "Billion laughs" in YAML: ten anchors, each a list of ten aliases of the one before. */
function yamlAliasBomb(): string {
  const lines = ['a0: &a0 [x, x, x, x, x, x, x, x, x, x]'];
  for (let i = 1; i < 10; i++) lines.push(`a${i}: &a${i} [${Array.from({ length: 10 }, () => `*a${i - 1}`).join(', ')}]`);
  return lines.join('\n');
}

/**
 * Bodies no JSON parser should take, and bodies that parse but are not an object at all.
 * `bySchema`: the expected answer comes from the body schema, so it holds only where there is one.
 */
const RAW_BODIES: ReadonlyArray<{ kind: string; body: string; contentType: string; expect?: FuzzRequest['expect']; bySchema?: true }> = [
  { kind: 'malformed JSON', body: '{"event": "failure",', contentType: 'application/json', expect: { status: 400, code: 'malformed_json' } },
  { kind: 'malformed JSON', body: "{'single': 'quotes'}", contentType: 'application/json', expect: { status: 400, code: 'malformed_json' } },
  { kind: 'malformed JSON', body: '{"a": NaN}', contentType: 'application/json', expect: { status: 400, code: 'malformed_json' } },
  { kind: 'malformed JSON', body: '{"a": 1,}', contentType: 'application/json', expect: { status: 400, code: 'malformed_json' } },
  { kind: 'malformed JSON', body: '\u0000{}', contentType: 'application/json', expect: { status: 400, code: 'malformed_json' } },
  { kind: 'prototype pollution', body: '{"__proto__": {"role": "admin"}}', contentType: 'application/json', expect: { status: 400 } },
  { kind: 'prototype pollution', body: '{"constructor": {"prototype": {"role": "admin"}}}', contentType: 'application/json', expect: { status: 400 } },
  { kind: 'empty JSON body', body: '', contentType: 'application/json', expect: { status: 400 } },
  { kind: 'JSON array body', body: '[]', contentType: 'application/json', expect: { status: 400, field: 'body' }, bySchema: true },
  { kind: 'JSON string body', body: '"\'; DROP TABLE signals; --"', contentType: 'application/json', expect: { status: 400, field: 'body' }, bySchema: true },
  { kind: 'JSON number body', body: '1e999', contentType: 'application/json', expect: { status: 400, field: 'body' }, bySchema: true },
  { kind: 'deeply nested JSON', body: `${'['.repeat(100_000)}${']'.repeat(100_000)}`, contentType: 'application/json' },
  { kind: 'deeply nested JSON', body: `${'{"a":'.repeat(20_000)}1${'}'.repeat(20_000)}`, contentType: 'application/json' },
  { kind: 'wrong content type', body: 'event=failure&dag_id=x', contentType: 'application/x-www-form-urlencoded', expect: { status: 415, code: 'unsupported_media_type' } },
  { kind: 'wrong content type', body: '<signal><event>failure</event></signal>', contentType: 'application/xml', expect: { status: 415, code: 'unsupported_media_type' } },
  // fastify reads text/plain as a string: the schema then refuses a string where it wants an object.
  { kind: 'text/plain body', body: '{"event":"failure"}', contentType: 'text/plain', expect: { status: 400, field: 'body' }, bySchema: true },
  { kind: 'wrong content type', body: '--x\r\nContent-Disposition: form-data; name="a"\r\n\r\n1\r\n--x--', contentType: 'multipart/form-data; boundary=x', expect: { status: 415, code: 'unsupported_media_type' } },
  { kind: 'odd JSON charset', body: '{}', contentType: 'application/json; charset=utf-16' },
  // YAML is accepted (the catalog is usually YAML): an alias bomb and custom tags must not get far.
  { kind: 'YAML alias bomb', body: yamlAliasBomb(), contentType: 'application/yaml', expect: { status: 400 }, bySchema: true },
  { kind: 'YAML custom tag', body: 'event: !!js/function "function () { process.exit(1) }"\ndag_id: x', contentType: 'application/yaml', expect: { status: 400 }, bySchema: true },
  { kind: 'YAML malformed', body: 'teams: [\n  - : :', contentType: 'text/yaml', expect: { status: 400 } },
  { kind: 'YAML deep nesting', body: `${'['.repeat(10_000)}${']'.repeat(10_000)}`, contentType: 'application/x-yaml' },
];

/**
 * Requests for one operation: fast-check picks a kind, then its parts. `expect` is set exactly
 * when the answer is certain (a known defect, a wrong role, an unparseable body).
 */
export function requestsFor(op: Operation, tokens: TokensByRole, known: KnownValues = {}): fc.Arbitrary<FuzzRequest> {
  const admin = tokens.admin;
  const hasBody = op.body !== null;
  const carriesBody = op.method === 'POST' || op.method === 'PUT';
  const kinds: Array<fc.WeightedArbitrary<FuzzRequest>> = [];
  const make = (kind: string, parts: Parts, token: string | null, body?: string, contentType?: string, expect?: FuzzRequest['expect']): FuzzRequest => ({
    method: op.method, url: buildUrl(op, parts), headers: withBody(jsonHeaders(token), body, contentType), body, kind, ...(expect ? { expect } : {}),
  });
  const cleanBody = hasBody ? validValue(op.body!, 'clean').map((v) => JSON.stringify(v)) : fc.constant(carriesBody ? '{}' : undefined);
  const hostileBody = hasBody ? validValue(op.body!, 'hostile').map((v) => JSON.stringify(v)) : cleanBody;

  kinds.push({ weight: 3, arbitrary: fc.tuple(validParts(op, known, 'clean'), cleanBody).map(([parts, body]) => make('valid', parts, admin, body)) });
  kinds.push({ weight: 3, arbitrary: fc.tuple(validParts(op, known, 'hostile'), hostileBody).map(([parts, body]) => make('hostile values', parts, admin, body)) });

  if (hasBody) {
    kinds.push({
      weight: 4,
      arbitrary: fc.tuple(validParts(op, known, 'clean'), defectiveValue(op.body!))
        .map(([parts, d]) => make(`body: ${d.kind}`, parts, admin, JSON.stringify(d.value), 'application/json', { status: 400, field: d.field, code: 'invalid_request' })),
    });
  }
  if (carriesBody) {
    kinds.push({ weight: 2, arbitrary: fc.tuple(validParts(op, known, 'clean'), fc.constantFrom(...RAW_BODIES)).map(([parts, raw]) => make(raw.kind, parts, admin, raw.body, raw.contentType, raw.bySchema && !hasBody ? undefined : raw.expect)) });
  }

  const queryDefects = queryDefectsOf(op);
  if (queryDefects.length > 0) {
    kinds.push({
      weight: 2,
      arbitrary: fc.tuple(validParts(op, known, 'clean'), cleanBody, fc.constantFrom(...queryDefects))
        .map(([parts, body, d]) => make(`query: ${d.kind}`, { ...parts, query: [...parts.query.filter(([k]) => k !== d.name), [d.name, d.value]] }, admin, body, undefined, { status: 400, field: d.field })),
    });
  }
  const cursor = op.queryParams.find((p) => p.name === 'cursor');
  if (cursor) {
    kinds.push({
      weight: 1,
      arbitrary: fc.tuple(validParts(op, known, 'clean'), cleanBody, fc.oneof(fc.constantFrom(...CRAFTED_CURSORS), fc.base64String({ maxLength: 200 }), fc.constantFrom(...HOSTILE_STRINGS).filter(encodable)))
        .map(([parts, body, value]) => make('query: crafted cursor', { ...parts, query: [...parts.query, ['cursor', value]] }, admin, body)),
    });
  }

  const pathDefects = pathDefectsOf(op);
  if (pathDefects.length > 0) {
    kinds.push({
      weight: 2,
      arbitrary: fc.tuple(validParts(op, known, 'clean'), cleanBody, fc.constantFrom(...pathDefects))
        .map(([parts, body, d]) => make(`path: ${d.kind}`, { ...parts, path: { ...parts.path, [d.name]: d.value } }, admin, body, undefined, { status: 400, field: d.field })),
    });
  }
  if (op.pathParams.length > 0) {
    const hostilePath = fc.oneof(fc.constantFrom(...HOSTILE_STRINGS), fc.string({ unit: 'binary', maxLength: 40 }), fc.constant('a'.repeat(301)), fc.constant('..'), fc.constant('%2e%2e%2fadmin'))
      .filter((v) => v !== '' && encodable(v));
    kinds.push({
      weight: 2,
      arbitrary: fc.tuple(validParts(op, known, 'clean'), cleanBody, fc.constantFrom(...op.pathParams.map((p) => p.name)), hostilePath)
        .map(([parts, body, name, value]) => make('path: hostile value', { ...parts, path: { ...parts.path, [name]: value } }, admin, body)),
    });
    // A %-escape that decodes to nothing: sent raw, past encodeURIComponent.
    kinds.push({
      weight: 1,
      arbitrary: fc.tuple(validParts(op, known, 'clean'), cleanBody, fc.constantFrom(...op.pathParams.map((p) => p.name)), fc.constantFrom('%E0%A4%A', '%zz', '%', '%C0%AF'))
        .map(([parts, body, name, raw]) => {
          const request = make('path: malformed escape', { ...parts, path: { ...parts.path, [name]: 'MALFORMED_ESCAPE' } }, admin, body, undefined, { status: 400 });
          return { ...request, url: request.url.replace('MALFORMED_ESCAPE', raw) };
        }),
    });
  }

  if (op.role !== null) {
    const role = op.role;
    const refused = ROLES.filter((r) => !roleAllows(r, role));
    kinds.push({ weight: 1, arbitrary: fc.tuple(validParts(op, known, 'clean'), hostileBody).map(([parts, body]) => make('auth: no token', parts, null, body, undefined, { status: 401, code: 'unauthenticated' })) });
    kinds.push({ weight: 1, arbitrary: fc.tuple(validParts(op, known, 'clean'), hostileBody, fc.constantFrom(...HOSTILE_STRINGS.filter((s) => /^[\x21-\x7e]+$/.test(s)))).map(([parts, body, token]) => make('auth: hostile token', parts, token, body, undefined, { status: 401, code: 'unauthenticated' })) });
    if (refused.length > 0) {
      kinds.push({ weight: 1, arbitrary: fc.tuple(validParts(op, known, 'clean'), hostileBody, fc.constantFrom(...refused)).map(([parts, body, r]) => make(`auth: ${r} role`, parts, tokens[r], body, undefined, { status: 403, code: 'forbidden' })) });
    }
  }
  return fc.oneof(...kinds);
}

interface ParamDefect { name: string; value: string; kind: string; field: string }

/** Single defects in query parameters: an unknown name, a value the parameter's schema refuses. */
export function queryDefectsOf(op: Operation): ParamDefect[] {
  if (op.queryParams.length === 0) return [];
  const out: ParamDefect[] = [];
  const unknown = "'; DROP TABLE signals; --";
  out.push({ name: unknown, value: '1', kind: 'unknown parameter', field: `querystring.${unknown}` });
  for (const param of op.queryParams) out.push(...scalarParamDefects(param, 'querystring'));
  return out;
}

/** Single defects in path parameters, where the schema constrains them. */
export function pathDefectsOf(op: Operation): ParamDefect[] {
  return op.pathParams.flatMap((param) => scalarParamDefects(param, 'params'));
}

function scalarParamDefects(param: Parameter, root: string): ParamDefect[] {
  const schema = param.schema;
  const field = `${root}.${param.name}`;
  const d = (kind: string, value: string): ParamDefect => ({ name: param.name, value, kind, field });
  if (isEnumLike(schema)) return [d('unknown enum value', '<script>alert(1)</script>')];
  switch (schema.type) {
    case 'integer':
      return [d('text for an integer', '1 OR 1=1'), d('fraction for an integer', '1.5'),
        ...(schema.minimum !== undefined ? [d('below minimum', String(schema.minimum - 1))] : []),
        ...(schema.maximum !== undefined ? [d('above maximum', String(schema.maximum + 1))] : [])];
    case 'boolean':
      return [d('text for a boolean', 'maybe')];
    case 'string': {
      const out: ParamDefect[] = [];
      // Path parameters longer than the router's 300 (encoded) characters never reach validation (404).
      if (schema.maxLength !== undefined && root === 'querystring') out.push(d('string too long', longHostile(schema.maxLength + 1)));
      if (schema.maxLength !== undefined && root === 'params' && schema.maxLength < 300) out.push(d('string too long', 'x'.repeat(schema.maxLength + 1)));
      if (schema.format === 'uuid') out.push(d('not a uuid', "1' OR '1'='1"));
      if (schema.format === 'date-time') out.push(d('not a date-time', 'yesterday'));
      if (schema.pattern) out.push(d('off-pattern string', "x'; DROP TABLE signals; --"));
      return out;
    }
    default:
      return [];
  }
}
