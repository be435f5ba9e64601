import type { Logger } from 'pino';
import { normaliseError } from '../errors.ts';
import type { Analyser, AnalyserContext, EvidenceEntry, SharedHelpers, Verdict } from './types.ts';
import { renderMessage } from './types.ts';

/**
 * A verdict at or above this confidence ends the chain; lower ones are kept as the best so far.
 * Convention: a guess from the exception text stays below it (≤ 0.9), so the analysers that ask
 * the systems that know (source database, Airflow, upstream health) still run and may confirm
 * (≥ 0.95) or overrule it; a confirmation by a real system reaches it and stops the chain.
 */
export const CONFIDENT = 0.95;

export interface ChainOutcome {
  evidence: EvidenceEntry[];
  /** The verdict that decided, with the analyser it came from and its rendered summary; null when none. */
  verdict: (Verdict & { analyser: string; summaryText: string }) | null;
}

export interface ChainOptions {
  timeoutMs: number;
  log: Logger;
  shared: SharedHelpers;
  shutdown?: AbortSignal;
}

class AnalyserTimeout extends Error {
  override name = 'AnalyserTimeout';
}

function withTimeout<T>(work: Promise<T>, ms: number, controller: AbortController): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      const error = new AnalyserTimeout(`timed out after ${ms} ms`);
      controller.abort(error);
      reject(error);
    }, ms);
  });
  return Promise.race([work, timeout]).finally(() => clearTimeout(timer));
}

/**
 * Runs a diagnoser's analysers in order. An analyser that throws or runs out of time is
 * recorded as evidence and the chain goes on; a confident verdict ends it.
 */
export async function runChain(
  analysers: readonly Analyser[],
  base: Omit<AnalyserContext, 'helpers' | 'earlier'>,
  options: ChainOptions,
): Promise<ChainOutcome> {
  const evidence: EvidenceEntry[] = [];
  let best: ChainOutcome['verdict'] = null;
  for (const analyser of analysers) {
    const { id, version, messages } = analyser.meta;
    const controller = new AbortController();
    const onShutdown = () => controller.abort(new Error('daemon shutting down'));
    options.shutdown?.addEventListener('abort', onShutdown, { once: true });
    const started = performance.now();
    const entry: EvidenceEntry = {
      analyser: id, version, inputs: analyserInputs(base), observations: {}, findings: [], verdict: null, error: null, duration_ms: 0,
    };
    try {
      const ctx: AnalyserContext = { ...base, earlier: [...evidence], helpers: { ...options.shared, log: options.log.child({ analyser: id }), abortSignal: controller.signal } };
      const result = await withTimeout(Promise.resolve().then(() => analyser.analyse(ctx)), options.timeoutMs, controller);
      entry.observations = result.observations ?? {};
      entry.findings = (result.findings ?? []).map((f) => ({ ...f, text: renderMessage(messages[f.messageId] ?? f.messageId, f.data) }));
      if (result.verdict) {
        const summaryText = renderMessage(messages[result.verdict.summary.messageId] ?? result.verdict.summary.messageId, result.verdict.summary.data);
        entry.verdict = { ...result.verdict, summary: summaryText };
        if (!best || result.verdict.confidence > best.confidence) best = { ...result.verdict, analyser: id, summaryText };
      }
    } catch (thrown) {
      const error = normaliseError(thrown, `analyser ${id}`);
      entry.error = error.message;
      options.log.warn({ analyser: id, err: error }, 'analyser failed; the chain continues');
    } finally {
      options.shutdown?.removeEventListener('abort', onShutdown);
      entry.duration_ms = Math.round((performance.now() - started) * 100) / 100;
    }
    evidence.push(entry);
    if (best && best.confidence >= CONFIDENT) break;
  }
  return { evidence, verdict: best };
}

/** What every analyser was given, recorded once per entry so the trail reads on its own. */
function analyserInputs(base: Omit<AnalyserContext, 'helpers' | 'earlier'>): Record<string, unknown> {
  return {
    signal_id: base.signal.id,
    kind: base.signal.kind,
    table: base.signal.table,
    in_catalog: base.catalog.table !== null,
    exception_type: base.signal.exception?.type ?? null,
  };
}
