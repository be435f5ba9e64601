import { useCallback, useEffect, useRef, useState } from 'react';
import { ApiError } from './api.ts';

export const POLL_MS = 3000;

export interface Polled<T> {
  data: T | undefined;
  error: ApiError | null;
  loading: boolean;
  updatedAt: number | null;
  /** Fetch now (after an action), without waiting for the next tick. */
  refresh: () => void;
}

/**
 * Loads `load` now and again every POLL_MS while the page is visible, so screens update
 * without a reload. A change of `key` starts over; a slow answer never overwrites a newer one.
 */
export function usePoll<T>(key: string, load: (signal: AbortSignal) => Promise<T>, intervalMs = POLL_MS): Polled<T> {
  const [state, setState] = useState<{ key: string; data: T | undefined; error: ApiError | null; updatedAt: number | null }>({ key, data: undefined, error: null, updatedAt: null });
  const loadRef = useRef(load);
  loadRef.current = load;
  const [tick, setTick] = useState(0);
  const refresh = useCallback(() => setTick((t) => t + 1), []);

  useEffect(() => {
    let cancelled = false;
    let timer: number | undefined;
    let controller: AbortController | null = null;
    const run = async () => {
      controller?.abort();
      controller = new AbortController();
      try {
        const data = await loadRef.current(controller.signal);
        if (!cancelled) setState({ key, data, error: null, updatedAt: Date.now() });
      } catch (error) {
        if (cancelled || (error as Error).name === 'AbortError') return;
        const apiError = error instanceof ApiError ? error : new ApiError(0, 'client', (error as Error).message);
        setState((previous) => ({ key, data: previous.key === key ? previous.data : undefined, error: apiError, updatedAt: previous.updatedAt }));
      }
      if (!cancelled) timer = window.setTimeout(() => { void schedule(); }, intervalMs);
    };
    const schedule = async () => {
      // A hidden tab does not poll; it catches up when shown again.
      if (document.visibilityState === 'hidden') { timer = window.setTimeout(() => { void schedule(); }, intervalMs); return; }
      await run();
    };
    void run();
    return () => { cancelled = true; window.clearTimeout(timer); controller?.abort(); };
  }, [key, intervalMs, tick]);

  const current = state.key === key;
  return {
    data: current ? state.data : undefined,
    error: current ? state.error : null,
    loading: !current || (state.data === undefined && state.error === null),
    updatedAt: current ? state.updatedAt : null,
    refresh,
  };
}
