import { DEFAULT_ASSIGNEE_ROLE } from './taxonomy.ts';
import type { HistoricSignal, InheritedDiagnosis, Verdict } from './types.ts';

type Details = Record<string, string | number>;

/** Takes over a failure's RCA: its incident, and its assignee with the reason saying where it came from. */
export function inheritFrom(rca: NonNullable<HistoricSignal['rca']>): InheritedDiagnosis {
  return {
    rcaId: rca.id,
    incidentId: rca.incidentId,
    assignee: {
      team: rca.assigneeTeam,
      role: rca.assigneeRole,
      reason: `inherited from the failure's RCA ${rca.id}: ${rca.assigneeReason}`,
    },
  };
}

/**
 * A verdict that takes over an earlier failure's diagnosis — an SLA miss or a DQ failure whose
 * load already failed has that failure's cause (DESIGN 5). The failure's specifics (run, task,
 * exception) go into the details so the inherited category's manual steps are filled in.
 */
export function inheritedVerdict(
  failure: HistoricSignal & { rca: NonNullable<HistoricSignal['rca']> },
  options: { confidence: number; messageId: string; runId?: string; base?: Details },
): Verdict {
  const { rca } = failure;
  const details: Details = { ...options.base, failure_signal: failure.id, rca_id: rca.id };
  const runId = failure.pipeline.run_id ?? options.runId;
  if (runId) details.run_id = runId;
  if (failure.pipeline.task_id) details.task_id = failure.pipeline.task_id;
  const exception = failure.payload.exception as { type?: unknown; message?: unknown } | undefined;
  if (typeof exception?.type === 'string') details.exception_type = exception.type;
  if (typeof exception?.message === 'string') details.exception_message = exception.message;
  const verdict: Verdict = {
    category: rca.category,
    confidence: options.confidence,
    summary: { messageId: options.messageId, data: { category: rca.category, summary: rca.summary } },
    details,
    inherit: inheritFrom(rca),
  };
  if (rca.assigneeRole !== DEFAULT_ASSIGNEE_ROLE[rca.category]) verdict.assigneeRole = rca.assigneeRole;
  return verdict;
}
