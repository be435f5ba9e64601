import { RESOLVERS } from '../index.ts';
import { NEVER_AUTOMATIC, type PlanInput, type ResolutionPlan, type Resolver } from '../types.ts';

export interface PlannedResolution { resolver: string; plan: ResolutionPlan }

/**
 * The auto-resolution plan for a fresh diagnosis: the first registered resolver that handles
 * the category and agrees to act. Never one for the categories a retry cannot fix (DESIGN 5),
 * whatever a resolver claims; never one for a retry callback (Airflow's own retry is already
 * coming) nor for a diagnosis inherited from another RCA (that RCA's job re-triggers the run).
 */
export function planResolution(input: PlanInput & { inherited: boolean }, registry: readonly Resolver[] = RESOLVERS): PlannedResolution | null {
  if (NEVER_AUTOMATIC.includes(input.category)) return null;
  if (input.signal.event === 'retry' || input.inherited) return null;
  for (const resolver of registry) {
    if (!resolver.meta.handles.includes(input.category)) continue;
    const plan = resolver.plan(input);
    if (plan) return { resolver: resolver.meta.id, plan };
  }
  return null;
}
