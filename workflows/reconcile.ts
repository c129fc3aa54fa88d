/**
 * Daily reconciliation (schedule `satmachine-reconciliation`, 00:00 UTC): the ledger checks at one database
 * snapshot, then the LNbits checks, then the stored report and its alerts. Returns the report (findings
 * capped per kind, exact counts); the full per-client snapshot is in balance_snapshots.
 */
import { proxyActivities, upsertSearchAttributes, workflowInfo } from '@temporalio/workflow';
import type { LnbitsScope, ReconcileActivities, ReconcilePart, ReconciliationReport } from '../activities/reconcile';
import { BUSINESS_ERROR_TYPES } from '../domain/errors';
import { SatmachineKind } from '../domain/search-attributes';

export interface ReconciliationInput {
  /** Which completed payouts are verified with LNbits (default 'recent'). */
  lnbits?: LnbitsScope;
  lnbitsSampleFraction?: number;
}

const retry = { initialInterval: '5 seconds', backoffCoefficient: 2, maximumInterval: '2 minutes', maximumAttempts: 5, nonRetryableErrorTypes: [...BUSINESS_ERROR_TYPES] };

const { beginReconciliation, finishReconciliation } = proxyActivities<ReconcileActivities>({ startToCloseTimeout: '2 minutes', retry });
// One SQL transaction over the whole ledger: no heartbeat inside it, so a generous start-to-close.
const { reconcileLedgerPart } = proxyActivities<ReconcileActivities>({ startToCloseTimeout: '30 minutes', retry: { ...retry, maximumAttempts: 3 } });
const { reconcileLnbitsPart } = proxyActivities<ReconcileActivities>({ startToCloseTimeout: '2 hours', heartbeatTimeout: '2 minutes', retry: { ...retry, maximumAttempts: 3 } });

export async function reconciliationWorkflow(input: ReconciliationInput = {}): Promise<ReconciliationReport> {
  upsertSearchAttributes([{ key: SatmachineKind, value: 'reconcile' }]);
  const { reportId, startedAt, previousStartedAt } = await beginReconciliation({ runKey: workflowInfo().runId });
  const parts: ReconcilePart[] = [await reconcileLedgerPart({ reportId })];
  parts.push(
    await reconcileLnbitsPart({ reportId, scope: input.lnbits ?? 'recent', previousStartedAt, sampleFraction: input.lnbitsSampleFraction }),
  );
  return finishReconciliation({ reportId, startedAt, parts });
}
