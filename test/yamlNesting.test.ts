import { describe, expect, it } from 'vitest';
import YAML from 'yaml';
import { MAX_YAML_NESTING, yamlNestingBound } from '../src/api/yamlNesting.ts';

/** Real nesting of a parsed value, to check the bound never undercounts. */
function depth(value: unknown): number {
  if (value === null || typeof value !== 'object') return 0;
  const children = Array.isArray(value) ? value : Object.values(value);
  return 1 + Math.max(0, ...children.map(depth));
}

describe('yamlNestingBound', () => {
  const cases: Array<[string, string]> = [
    ['a flat mapping', 'name: lake.orders\nowner: team-a\n'],
    ['a catalog document', 'tables:\n  - name: lake.orders\n    pipeline:\n      dag_id: orders\n      tasks: [extract, load]\n    sla: { cron: "0 * * * *", complete_within_minutes: 30 }\n'],
    ['flow nesting', '[[[[1]]], {a: {b: [2]}}]'],
    ['compact block sequences', '- - - - x\n'],
    ['brackets inside a quoted string', 'message: "[[[[["\n'],
    ['a mapping in a sequence in a mapping', 'a:\n  - b:\n      - c: 1\n'],
  ];
  it.each(cases)('%s: the bound is at least the real depth', (_name, text) => {
    expect(yamlNestingBound(text)).toBeGreaterThanOrEqual(depth(YAML.parse(text)));
    expect(yamlNestingBound(text)).toBeLessThanOrEqual(MAX_YAML_NESTING);
  });

  const hostile: Array<[string, string]> = [
    ['10,000 flow brackets', `${'['.repeat(10_000)}${']'.repeat(10_000)}`],
    ['10,000 flow mappings', `${'{a: '.repeat(10_000)}1${'}'.repeat(10_000)}`],
    ['a 10,000-level compact block sequence', `${'- '.repeat(10_000)}x\n`],
    ['10,000 levels of indentation', Array.from({ length: 10_000 }, (_, i) => `${' '.repeat(i)}k${i}:`).join('\n')],
  ];
  it.each(hostile)('%s is over the limit', (_name, text) => {
    expect(yamlNestingBound(text)).toBeGreaterThan(MAX_YAML_NESTING);
  });
});
