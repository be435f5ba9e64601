import pino from 'pino';
import { createLookupCache } from '../../src/clients/lookupCache.ts';
import type { AnalyserHelpers, SharedHelpers } from '../../src/diagnosers/types.ts';
import { memoryHistory } from './memoryHistory.ts';

/** Shared helpers for analyser tests: in-memory history, a fresh cache, no Airflow, no sources. */
export function testSharedHelpers(overrides: Partial<SharedHelpers> = {}): SharedHelpers {
  return {
    history: memoryHistory(),
    cache: createLookupCache(),
    airflow: () => null,
    sourceDsn: () => null,
    settings: { replicaLagThresholdS: 300, lookupTtlMs: 30_000 },
    ...overrides,
  };
}

/** Full helpers for calling one analyser directly. */
export function testHelpers(overrides: Partial<SharedHelpers> = {}): AnalyserHelpers {
  return { ...testSharedHelpers(overrides), log: pino({ level: 'silent' }), abortSignal: new AbortController().signal };
}
