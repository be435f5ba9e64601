import { beforeAll, describe, expect, it } from 'vitest';
import pino from 'pino';
import { TypeCompiler } from '@sinclair/typebox/compiler';
import { AirflowCallbackSchema, normaliseAirflowCallback } from '../src/signals/airflowSignal.ts';
import { DqFailureSchema, SlaMissSchema, normaliseDqFailure, normaliseSlaMiss } from '../src/signals/kafkaEvents.ts';
import { CatalogDocumentSchema } from '../src/catalog/catalogSchema.ts';
import type { CatalogDocument, CatalogTable, Team } from '../src/catalog/types.ts';
import { buildDiagnosis, type Diagnosis } from '../src/diagnosers/buildDiagnosis.ts';
import { ANALYSERS } from '../src/diagnosers/analysers/index.ts';
import { CATEGORIES, type Category } from '../src/diagnosers/taxonomy.ts';
import type { CatalogView } from '../src/diagnosers/types.ts';
import type { Signal } from '../src/signals/types.ts';
import type { NewSignal } from '../src/signals/signalStore.ts';
import { DEFAULT_CATALOG, DIAGNOSIS_CORPUS, type CorpusCase } from './corpus/diagnosisCorpus.ts';
import { memoryHistory } from './support/memoryHistory.ts';
import { testSharedHelpers } from './support/analyserHelpers.ts';

/**
 * Diagnosis accuracy on the labelled corpus (test/corpus/diagnosisCorpus.ts): every case goes end
 * to end — the real normaliser, the real ANALYSERS registry, buildDiagnosis — with no Airflow and
 * no source DSNs configured (analysers that need them report "not configured" and give no
 * verdict). The report (overall accuracy, per category, confusion list) is printed with
 * console.info for the closing note; the thresholds below are the bar, and they can fail.
 */

const CATEGORY_ACCURACY_MIN = 0.85;
const ASSIGNEE_ACCURACY_MIN = 0.85;
const MIN_CASES = 70;
const MIN_PER_CATEGORY = 3;
/**
 * Categories only a live external system can establish, exempt from the per-category minimum.
 * None today: even source_replica_lag is reachable from the exception text (recovery conflicts).
 */
const NEEDS_EXTERNAL_SYSTEMS: readonly Category[] = [];
const FALLBACK_PLATFORM_TEAM = 'data-platform';

// ---------------------------------------------------------------------------------------------
// Catalog document → CatalogView, and DAG/task → tables: pure mirrors of catalogStore's
// loadCatalogView and tablesForTask.
// ---------------------------------------------------------------------------------------------

/** The view the diagnosis sees for `tableName`: its entry, its onboarded upstreams, the teams, the platform team. */
export function catalogViewFor(doc: CatalogDocument, tableName: string, fallbackPlatformTeam = FALLBACK_PLATFORM_TEAM): CatalogView {
  const tables = new Map<string, CatalogTable>((doc.tables ?? []).map((t) => [t.name, t]));
  const table = tables.get(tableName) ?? null;
  const upstream = (table?.upstream ?? []).map((name) => tables.get(name)).filter((t): t is CatalogTable => t !== undefined);
  const teams = new Map<string, Team>((doc.teams ?? []).map((t) => [t.name, t]));
  const platformTeam = (doc.teams ?? []).find((t) => t.platform === true)?.name ?? fallbackPlatformTeam;
  return { table, teams, upstream, platformTeam };
}

/** Tables whose catalog pipeline is this DAG and (when task_ids are listed) this task, sorted. */
export function catalogTablesForTask(doc: CatalogDocument, dagId: string, taskId: string): string[] {
  return (doc.tables ?? [])
    .filter((t) => t.pipeline?.dag_id === dagId && (!t.pipeline.task_ids || t.pipeline.task_ids.length === 0 || t.pipeline.task_ids.includes(taskId)))
    .map((t) => t.name)
    .sort();
}

// ---------------------------------------------------------------------------------------------
// Running one case.
// ---------------------------------------------------------------------------------------------

const checkers = {
  airflow: TypeCompiler.Compile(AirflowCallbackSchema),
  sla_miss: TypeCompiler.Compile(SlaMissSchema),
  dq_failure: TypeCompiler.Compile(DqFailureSchema),
  catalog: TypeCompiler.Compile(CatalogDocumentSchema),
};

function schemaErrors(kind: keyof typeof checkers, value: unknown): string[] {
  const checker = checkers[kind];
  return checker.Check(value) ? [] : [...checker.Errors(value)].slice(0, 3).map((e) => `${e.path || '(root)'} ${e.message}`);
}

function normalise(c: CorpusCase, catalog: CatalogDocument): NewSignal {
  switch (c.kind) {
    case 'airflow': {
      const received = new Date(Date.parse(c.input.end_date ?? c.input.start_date ?? '2026-11-27T00:00:00Z') + 2_000);
      const mapped = c.input.tables && c.input.tables.length > 0 ? [] : catalogTablesForTask(catalog, c.input.dag_id, c.input.task_id);
      const [first] = normaliseAirflowCallback(c.input, mapped, received);
      if (!first) throw new Error(`${c.id}: the callback produced no signal`);
      return first;
    }
    case 'sla_miss':
      return normaliseSlaMiss(c.input, 'kafka', new Date(Date.parse(c.input.detected_at) + 1_000));
    case 'dq_failure':
      return normaliseDqFailure(c.input, 'kafka', new Date(Date.parse(c.input.detected_at) + 1_000));
  }
}

interface Outcome {
  case: CorpusCase;
  signal: Signal;
  diagnosis: Diagnosis;
  categoryOk: boolean;
  assigneeOk: boolean;
}

const silent = pino({ level: 'silent' });

async function runCase(c: CorpusCase): Promise<Outcome> {
  const catalog = c.catalog ?? DEFAULT_CATALOG;
  const signal: Signal = { id: `corpus-${c.id}`, ...normalise(c, catalog) };
  const view = catalogViewFor(catalog, signal.table);
  const shared = testSharedHelpers({ history: memoryHistory(c.history?.signals ?? [], c.history?.health ?? []) });
  const diagnosis = await buildDiagnosis(signal, view, { timeoutMs: 5_000, log: silent, shared, registry: ANALYSERS });
  return {
    case: c,
    signal,
    diagnosis,
    categoryOk: diagnosis.category === c.expected.category,
    assigneeOk: diagnosis.assignee.team === c.expected.assigneeTeam,
  };
}

// ---------------------------------------------------------------------------------------------
// The report.
// ---------------------------------------------------------------------------------------------

const ratio = (n: number, d: number) => (d === 0 ? 1 : n / d);
const pct = (x: number) => `${(x * 100).toFixed(1)} %`;

function report(outcomes: Outcome[]): { categoryAccuracy: number; assigneeAccuracy: number; text: string } {
  const total = outcomes.length;
  const categoryAccuracy = ratio(outcomes.filter((o) => o.categoryOk).length, total);
  const assigneeAccuracy = ratio(outcomes.filter((o) => o.assigneeOk).length, total);
  const hard = outcomes.filter((o) => o.case.hard);
  const lines: string[] = [];
  lines.push(`Diagnosis accuracy on ${total} labelled cases (${hard.length} marked hard)`);
  lines.push(`  category accuracy: ${pct(categoryAccuracy)} (${outcomes.filter((o) => o.categoryOk).length}/${total})`);
  lines.push(`  assignee accuracy: ${pct(assigneeAccuracy)} (${outcomes.filter((o) => o.assigneeOk).length}/${total})`);
  lines.push(`  hard cases: category ${pct(ratio(hard.filter((o) => o.categoryOk).length, hard.length))}, assignee ${pct(ratio(hard.filter((o) => o.assigneeOk).length, hard.length))}`);
  const easy = outcomes.filter((o) => !o.case.hard);
  lines.push(`  other cases: category ${pct(ratio(easy.filter((o) => o.categoryOk).length, easy.length))}, assignee ${pct(ratio(easy.filter((o) => o.assigneeOk).length, easy.length))}`);
  lines.push('');
  lines.push(`  ${'expected category'.padEnd(22)} ${'cases'.padStart(5)} ${'correct'.padStart(7)} ${'accuracy'.padStart(9)} ${'assignee ok'.padStart(11)}`);
  for (const category of CATEGORIES) {
    const of = outcomes.filter((o) => o.case.expected.category === category);
    if (of.length === 0) continue;
    const correct = of.filter((o) => o.categoryOk).length;
    const assignee = of.filter((o) => o.assigneeOk).length;
    lines.push(`  ${category.padEnd(22)} ${String(of.length).padStart(5)} ${String(correct).padStart(7)} ${pct(ratio(correct, of.length)).padStart(9)} ${`${assignee}/${of.length}`.padStart(11)}`);
  }
  lines.push('');
  const wrong = outcomes.filter((o) => !o.categoryOk || !o.assigneeOk);
  lines.push(`Confusion list (${wrong.length}): case id: expected → got`);
  for (const o of wrong) {
    const got = o.diagnosis;
    const decidedBy = got.evidence.find((e) => e.verdict !== null && e.verdict.category === got.category)?.analyser ?? 'no verdict';
    const rule = got.evidence.find((e) => e.analyser === 'exception-classifier')?.observations['rule'];
    const parts = [
      `${o.case.expected.category} → ${got.category}`,
      `assignee ${o.case.expected.assigneeTeam} → ${got.assignee.team ?? 'null'}`,
      `by ${decidedBy}${typeof rule === 'string' ? ` (rule ${rule})` : ''}`,
    ];
    lines.push(`  ${o.case.hard ? '[hard] ' : ''}${o.case.id}: ${parts.join('; ')}`);
  }
  return { categoryAccuracy, assigneeAccuracy, text: lines.join('\n') };
}

/** `{name}` left in the template text; fenced blocks are the reported exception, not template. */
function unfilledPlaceholders(markdown: string): string[] {
  const outsideFences = markdown.replace(/```text\n[\s\S]*?\n```/g, '');
  return [...outsideFences.matchAll(/\{\w+\}/g)].map((m) => m[0]);
}

// ---------------------------------------------------------------------------------------------

describe('diagnosis accuracy on the labelled corpus', () => {
  const outcomes: Outcome[] = [];

  beforeAll(async () => {
    for (const c of DIAGNOSIS_CORPUS) outcomes.push(await runCase(c));
  });

  describe('the corpus itself', () => {
    it(`has at least ${MIN_CASES} cases with unique ids and a description`, () => {
      expect(DIAGNOSIS_CORPUS.length).toBeGreaterThanOrEqual(MIN_CASES);
      const ids = DIAGNOSIS_CORPUS.map((c) => c.id);
      expect(new Set(ids).size).toBe(ids.length);
      for (const c of DIAGNOSIS_CORPUS) expect(c.description.length, c.id).toBeGreaterThan(20);
    });

    it(`labels every category (except those needing external systems) at least ${MIN_PER_CATEGORY} times`, () => {
      const counts = new Map<Category, number>();
      for (const c of DIAGNOSIS_CORPUS) counts.set(c.expected.category, (counts.get(c.expected.category) ?? 0) + 1);
      const short = CATEGORIES.filter((k) => !NEEDS_EXTERNAL_SYSTEMS.includes(k) && (counts.get(k) ?? 0) < MIN_PER_CATEGORY);
      expect(short, `categories with fewer than ${MIN_PER_CATEGORY} cases`).toEqual([]);
    });

    it('has inputs and catalogs that the real schemas accept, and expected teams that exist', () => {
      const problems: string[] = [];
      for (const c of DIAGNOSIS_CORPUS) {
        for (const e of schemaErrors(c.kind, c.input)) problems.push(`${c.id}: input ${e}`);
        const catalog = c.catalog ?? DEFAULT_CATALOG;
        for (const e of schemaErrors('catalog', catalog)) problems.push(`${c.id}: catalog ${e}`);
        if (!(catalog.teams ?? []).some((t) => t.name === c.expected.assigneeTeam) && c.expected.assigneeTeam !== FALLBACK_PLATFORM_TEAM) {
          problems.push(`${c.id}: expected team ${c.expected.assigneeTeam} is not in its catalog`);
        }
      }
      expect(problems).toEqual([]);
    });

    it('includes SLA misses whose run failed and DQ failures whose load failed (inherited diagnoses)', () => {
      const inheriting = DIAGNOSIS_CORPUS.filter((c) => c.kind !== 'airflow' && (c.history?.signals ?? []).some((s) => s.kind === 'failure' && s.rca !== null));
      expect(inheriting.length).toBeGreaterThanOrEqual(5);
    });
  });

  describe('end to end through the real analysers', () => {
    it(`reaches category accuracy ≥ ${CATEGORY_ACCURACY_MIN} and assignee accuracy ≥ ${ASSIGNEE_ACCURACY_MIN}`, () => {
      const { categoryAccuracy, assigneeAccuracy, text } = report(outcomes);
      console.info(text);
      expect(outcomes).toHaveLength(DIAGNOSIS_CORPUS.length);
      expect.soft(categoryAccuracy, 'category accuracy').toBeGreaterThanOrEqual(CATEGORY_ACCURACY_MIN);
      expect.soft(assigneeAccuracy, 'assignee accuracy').toBeGreaterThanOrEqual(ASSIGNEE_ACCURACY_MIN);
    });

    it('leaves no unfilled {placeholder} in any manual steps', () => {
      const unfilled = outcomes
        .map((o) => ({ id: o.case.id, left: unfilledPlaceholders(o.diagnosis.manualSteps) }))
        .filter((x) => x.left.length > 0);
      expect(unfilled).toEqual([]);
    });

    it('inherits the failure\'s incident when an SLA miss or DQ failure takes its diagnosis', () => {
      for (const o of outcomes) {
        const failures = (o.case.history?.signals ?? []).filter((s) => s.kind === 'failure' && s.rca !== null);
        if (o.case.kind === 'airflow' || failures.length === 0 || !o.categoryOk) continue;
        const incidents = failures.map((s) => s.rca!.incidentId);
        expect(incidents, o.case.id).toContain(o.diagnosis.incidentId);
      }
    });
  });
});
