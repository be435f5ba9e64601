/**
 * Coalesces the look-ups made in one turn of the event loop into one call of `loadMany`.
 *
 * A claimed batch of signals starts its diagnoses together, so their first look-ups (the
 * catalog view, an analyser's history read) are requested within the same turn: asked one by
 * one they would cost one database round trip each; gathered here they cost one per batch.
 * Nothing is cached beyond the call, so every answer is as fresh as an unbatched one.
 */
export interface TickBatcher<K, V> {
  load(key: K): Promise<V>;
}

/**
 * `loadMany(keys)` must resolve with one value per key, in order. When it throws, every caller
 * of that round gets the error. At most `maxBatch` keys go into one call; more start another.
 */
export function createTickBatcher<K, V>(loadMany: (keys: K[]) => Promise<V[]>, options: { maxBatch?: number } = {}): TickBatcher<K, V> {
  const maxBatch = options.maxBatch ?? 500;
  let pending: Array<{ key: K; resolve: (value: V) => void; reject: (error: unknown) => void }> = [];
  let scheduled = false;

  const run = async (round: typeof pending) => {
    try {
      const values = await loadMany(round.map((p) => p.key));
      if (values.length !== round.length) throw new Error(`batched look-up returned ${values.length} answers for ${round.length} questions`);
      round.forEach((p, i) => p.resolve(values[i]!));
    } catch (error) {
      for (const p of round) p.reject(error);
    }
  };

  const flush = () => {
    scheduled = false;
    const all = pending;
    pending = [];
    for (let start = 0; start < all.length; start += maxBatch) void run(all.slice(start, start + maxBatch));
  };

  return {
    load(key) {
      return new Promise<V>((resolve, reject) => {
        pending.push({ key, resolve, reject });
        if (!scheduled) {
          scheduled = true;
          // setImmediate, not a microtask: the diagnoses of a batch reach their look-ups through
          // several awaits each, all of which settle before the loop turns.
          setImmediate(flush);
        }
      });
    },
  };
}
