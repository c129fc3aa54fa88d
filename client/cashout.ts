/**
 * Starting a cash-out workflow, shared by the Lamassu poller and the CLI: deterministic id, REJECT_DUPLICATE +
 * FAIL, so a second start of the same Lamassu transaction is refused by Temporal ('already-started') while
 * the id is retained; after that the ledger's UNIQUE(lamassu_id) + run id stops it (status duplicate).
 */
import { WorkflowExecutionAlreadyStartedError, type Client } from '@temporalio/client';
import type { Config } from '../config/schema';
import { cashOutWorkflowId } from '../domain/constants';
import type { LamassuCashOut } from '../domain/lamassu-row';
import { CashOutStatus, LamassuTxId, SatmachineKind } from '../domain/search-attributes';
import { cashOutWorkflow } from '../workflows/cashout';
import { cashOutSummary, type CashOutInput } from '../workflows/cashout-types';
import { cashOutRunOptions } from './recovery';

export type StartCashOutOutcome = 'started' | 'already-started';

export async function startCashOut(
  client: Client,
  config: Config,
  row: LamassuCashOut,
  opts: Omit<CashOutInput, 'row'> & { workflowId?: string; restartClosed?: boolean } = {},
): Promise<StartCashOutOutcome> {
  const { workflowId = cashOutWorkflowId(row.id), restartClosed = false, ...extra } = opts;
  try {
    await client.workflow.start(cashOutWorkflow, {
      workflowId,
      taskQueue: config.temporal.taskQueue,
      args: [{ row, ...cashOutRunOptions(config), ...extra }],
      // restartClosed: a row with no ledger record whose earlier run closed before recording it (issue 19).
      workflowIdReusePolicy: restartClosed ? 'ALLOW_DUPLICATE' : 'REJECT_DUPLICATE',
      workflowIdConflictPolicy: 'FAIL',
      typedSearchAttributes: [
        { key: SatmachineKind, value: 'cashout' },
        { key: LamassuTxId, value: row.id },
        { key: CashOutStatus, value: 'processing' },
      ],
      staticSummary: `Cash-out ${cashOutSummary(row)}`,
      staticDetails: [
        `Lamassu transaction ${row.id}`,
        `device ${row.deviceId}, ${row.cryptoCode}`,
        `confirmed ${row.confirmedAt}`,
        `commission ${row.commissionPercentage ?? '0'} (discount ${row.discount ?? 0} %)`,
      ].join('\n'),
    });
    return 'started';
  } catch (err) {
    if (err instanceof WorkflowExecutionAlreadyStartedError) return 'already-started';
    throw err;
  }
}
