/** Names shared by workflows, activities, worker and client. Pure: safe inside workflows. */
export const DEFAULT_TASK_QUEUE = 'satmachine';

/** Workflow id of the cash-out workflow for one Lamassu transaction: the duplicate guard by design. */
export function cashOutWorkflowId(lamassuTxId: string): string {
  return `lamassu-tx-${lamassuTxId.toLowerCase()}`;
}

export const POLLER_WORKFLOW_ID = 'lamassu-poller';

export const SCHEDULE_IDS = {
  reconciliation: 'satmachine-reconciliation',
  /** Issue 13: a light reconciliation every hour (ledger checks + payouts completed recently), besides the daily one. */
  hourlyReconciliation: 'satmachine-reconciliation-hourly',
  health: 'satmachine-health',
  stuckPayoutSweep: 'satmachine-stuck-payout-sweep',
} as const;
