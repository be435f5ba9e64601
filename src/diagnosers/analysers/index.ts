import type { Analyser } from '../types.ts';
import exceptionClassifier from './exception-classifier.ts';
import upstreamHealth from './upstream-health.ts';
import airflowHistory from './airflow-history.ts';
import sourceDatabase from './source-database.ts';
import slaTimeline from './sla-timeline.ts';
import dqCompleteness from './dq-completeness.ts';

/**
 * Every analyser, in chain order: a plain array (DESIGN 10.1). A diagnoser for a signal kind
 * is this list filtered by `meta.appliesTo`, so the order here is the order they run in —
 * cheap, local analysers before ones that call external systems.
 */
export const ANALYSERS: readonly Analyser[] = [
  exceptionClassifier, // failure: a guess from the exception text (≤ 0.9)
  upstreamHealth, // failure: catalog lineage + table health
  sourceDatabase, // failure: asks the source: reachable? replica lag? the named column still there?
  airflowHistory, // failure: tries, earlier runs, queue time, upstream tasks (reads earlier verdicts)
  slaTimeline, // sla_miss
  dqCompleteness, // dq_failure
];
