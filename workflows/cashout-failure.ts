/**
 * Nothing stays silent (issue 12): a cash-out workflow that fails — before the payout stage included (record,
 * commission, allocation) — first marks its ledger row needs_attention with the reason and raises a critical
 * alert (`markCashOutFailed`), then fails as before. Histories from before this replay unchanged (patch).
 */
import { ActivityFailure, ApplicationFailure, TemporalFailure, isCancellation, patched, proxyActivities, upsertSearchAttributes, workflowInfo } from '@temporalio/workflow';
import type { CashOutActivities } from '../activities/cashout';
import { CashOutStatus } from '../domain/search-attributes';

export const FAILURE_ATTENTION_PATCH = 'cashout-failure-attention';

// Must not give up: the alert is the last word of a failing workflow.
const last = proxyActivities<CashOutActivities>({
  startToCloseTimeout: '1 minute',
  retry: { initialInterval: '1 second', backoffCoefficient: 2, maximumInterval: '1 minute' },
});

const describe = (err: unknown): string => {
  const cause = err instanceof ActivityFailure ? err.cause : err;
  const type = cause instanceof ApplicationFailure && cause.type ? `${cause.type}: ` : '';
  return `${type}${cause instanceof Error ? cause.message : String(cause)}`;
};

export async function withFailureAttention<T>(lamassuId: string, body: () => Promise<T>): Promise<T> {
  try {
    return await body();
  } catch (err) {
    // Only failures that end the workflow (other errors fail the workflow task, which Temporal retries).
    if (!(err instanceof TemporalFailure) || isCancellation(err) || !patched(FAILURE_ATTENTION_PATCH)) throw err;
    const { workflowId, runId } = workflowInfo();
    upsertSearchAttributes([{ key: CashOutStatus, value: 'needs_attention' }]);
    await last.markCashOutFailed({ lamassuId: typeof lamassuId === 'string' ? lamassuId : String(lamassuId), workflowId, runId, reason: describe(err) });
    throw err;
  }
}
