import type { Resolver } from './types.ts';
import retryWithBackoff from './retry-with-backoff.ts';
import waitForCondition from './wait-for-condition.ts';
import rerunPartition from './rerun-partition.ts';

/** Every resolver: a plain array (DESIGN 10.1); the first that handles a category and plans, acts. */
export const RESOLVERS: readonly Resolver[] = [retryWithBackoff, waitForCondition, rerunPartition];
