/**
 * Group commit: items submitted while a commit is running wait for the next one and are
 * committed together. Under load a commit carries as many items as arrived during the previous
 * one (up to `maxBatch`); when idle an item is committed on the next turn of the event loop, so
 * nothing waits for a timer.
 */
export interface GroupCommit<T, R> {
  submit(item: T): Promise<R>;
  /** Items waiting or being committed. */
  readonly pending: number;
}

export interface GroupCommitOptions {
  maxBatch: number;
  /**
   * Whether a failed batch is worth retrying item by item: true for an error one item may have
   * caused (the database refused a value), false when none of them can succeed now (the
   * database is unreachable) — then every item of the batch fails with the error at once.
   */
  retryAlone(error: unknown): boolean;
}

/** `commit(items)` resolves with one result per item, in order. */
export function createGroupCommit<T, R>(commit: (items: T[]) => Promise<R[]>, options: GroupCommitOptions): GroupCommit<T, R> {
  type Waiting = { item: T; resolve: (result: R) => void; reject: (error: unknown) => void };
  let queue: Waiting[] = [];
  let inBatch = 0;
  let running = false;

  const commitOne = async (w: Waiting) => {
    try {
      const [result] = await commit([w.item]);
      w.resolve(result!);
    } catch (error) {
      w.reject(error);
    }
  };

  const commitBatch = async (batch: Waiting[]) => {
    try {
      const results = await commit(batch.map((w) => w.item));
      batch.forEach((w, i) => w.resolve(results[i]!));
    } catch (error) {
      if (batch.length > 1 && options.retryAlone(error)) {
        // One bad item must not fail the others: each is tried on its own, in order.
        for (const w of batch) await commitOne(w);
      } else {
        for (const w of batch) w.reject(error);
      }
    }
  };

  const run = async () => {
    try {
      while (queue.length > 0) {
        const batch = queue.slice(0, options.maxBatch);
        queue = queue.slice(batch.length);
        inBatch = batch.length;
        await commitBatch(batch);
        inBatch = 0;
      }
    } finally {
      running = false;
    }
  };

  return {
    submit(item) {
      return new Promise<R>((resolve, reject) => {
        queue.push({ item, resolve, reject });
        if (!running) {
          running = true;
          // The next turn, not now: the diagnoses finishing in this turn join the same commit.
          setImmediate(() => void run());
        }
      });
    },
    get pending() {
      return queue.length + inBatch;
    },
  };
}
