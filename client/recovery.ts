/**
 * Recovery of cash-outs whose workflow is gone (issue 19), shared by `satmachine tx resume|retry|cancel-failed`
 * and the stuck-payout sweep. A ledger row in processing/needs_attention whose owning run (workflow_id, run_id)
 * is closed — terminated, reset, failed — or unknown to Temporal (a dev server without its state) is adopted
 * by a new run of cashOutWorkflow under the same workflow id (reuse policy ALLOW_DUPLICATE: allowed only once
 * every earlier run is closed; conflict policy FAIL): it takes the row over by compare-and-set on the old run
 * id, checks each payout in LNbits and continues from the ledger. Nothing is paid twice: completed payouts
 * stay completed, a pending one is paid only after LNbits says its invoice was not paid.
 */
import { WorkflowExecutionAlreadyStartedError, WorkflowNotFoundError, type Client } from '@temporalio/client';
import type pg from 'pg';
import type { Config } from '../config/schema';
import { cashOutWorkflowId } from '../domain/constants';
import { LedgerNotFoundError, LedgerStateError } from '../domain/errors';
import type { LamassuCashOut } from '../domain/lamassu-row';
import { CashOutStatus, LamassuTxId, SatmachineKind } from '../domain/search-attributes';
import { cashOutWorkflow } from '../workflows/cashout';
import { cashOutSummary, type CancelInput } from '../workflows/cashout-types';

export interface LedgerCashOut {
  transactionId: string;
  lamassuId: string;
  status: string;
  workflowId: string;
  runId: string | null;
  row: LamassuCashOut;
}

const iso = (v: unknown): string | null => (v instanceof Date ? v.toISOString() : v === null || v === undefined ? null : String(v));

/** The cash-out as the ledger recorded it (by Lamassu id or ledger id), with the source row rebuilt. */
export async function ledgerCashOut(pool: pg.Pool, id: string): Promise<LedgerCashOut> {
  const { rows } = await pool.query(
    `SELECT id, lamassu_id, status, workflow_id, run_id, device_id, crypto_atoms::text AS crypto_atoms, received_crypto_atoms::text AS received_crypto_atoms,
            crypto_code, fiat::text AS fiat, fiat_code, commission_percentage::text AS commission_percentage, discount,
            raw_ticker_price::text AS raw_ticker_price, fixed_fee::text AS fixed_fee, lamassu_status, dispense, dispense_confirmed,
            lamassu_error, lamassu_error_code, created, confirmed_at
       FROM satoshimachine.lamassu_transactions WHERE lamassu_id::text = lower($1::text) OR id::text = lower($1::text)`,
    [id.trim()],
  );
  const r = rows[0];
  if (!r) throw new LedgerNotFoundError(`no cash-out ${id} in the ledger`, 'lamassuId');
  const row: LamassuCashOut = {
    id: String(r.lamassu_id), deviceId: String(r.device_id), cryptoAtoms: String(r.crypto_atoms), receivedCryptoAtoms: (r.received_crypto_atoms as string | null) ?? null,
    cryptoCode: String(r.crypto_code) as LamassuCashOut['cryptoCode'], fiat: String(r.fiat), fiatCode: String(r.fiat_code), status: String(r.lamassu_status),
    dispense: Boolean(r.dispense), dispenseConfirmed: (r.dispense_confirmed as boolean | null) ?? null,
    error: (r.lamassu_error as string | null) ?? null, errorCode: (r.lamassu_error_code as string | null) ?? null,
    commissionPercentage: (r.commission_percentage as string | null) ?? null, discount: (r.discount as number | null) ?? null,
    rawTickerPrice: (r.raw_ticker_price as string | null) ?? null, fixedFee: (r.fixed_fee as string | null) ?? null,
    created: iso(r.created)!, confirmedAt: iso(r.confirmed_at) ?? iso(r.created)!,
  };
  return {
    transactionId: String(r.id), lamassuId: String(r.lamassu_id), status: String(r.status),
    workflowId: (r.workflow_id as string | null) ?? cashOutWorkflowId(String(r.lamassu_id)), runId: (r.run_id as string | null) ?? null, row,
  };
}

/** RUNNING, a closed status (TERMINATED, COMPLETED, FAILED, …) or NOT_FOUND, of one run (or the latest run). */
export async function runStatus(client: Client, workflowId: string, runId?: string | null): Promise<string> {
  try {
    return (await client.workflow.getHandle(workflowId, runId ?? undefined).describe()).status.name;
  } catch (err) {
    if (err instanceof WorkflowNotFoundError) return 'NOT_FOUND';
    throw err;
  }
}

export type ResumeOutcome = { outcome: 'started'; workflowId: string; runId: string } | { outcome: 'running'; workflowId: string; runStatus: string };

/** Input common to every cash-out run: the config's outage budget. */
export const cashOutRunOptions = (config: Config) => ({
  transferRetryMinutes: config.payouts.outageRetryMinutes,
  transferBackoffMaxSeconds: config.payouts.outageBackoffMaxSeconds,
});

/**
 * Starts the recovery run of a cash-out whose workflow is gone. The cash-out's run still running → 'running'
 * (nothing started: retry and cancel go to that run). Settled in the ledger → LedgerStateError.
 */
export async function resumeCashOut(client: Client, config: Config, pool: pg.Pool, id: string, opts: { cancel?: CancelInput } = {}): Promise<ResumeOutcome> {
  const c = await ledgerCashOut(pool, id);
  if (c.status !== 'processing' && c.status !== 'needs_attention') throw new LedgerStateError(`cash-out ${c.lamassuId} is ${c.status}: nothing to resume`, 'status');
  const owner = await runStatus(client, c.workflowId, c.runId);
  if (owner === 'RUNNING') return { outcome: 'running', workflowId: c.workflowId, runStatus: owner };
  try {
    const handle = await client.workflow.start(cashOutWorkflow, {
      workflowId: c.workflowId,
      taskQueue: config.temporal.taskQueue,
      args: [{ row: c.row, ...cashOutRunOptions(config), recovery: { transactionId: c.transactionId, previousRunId: c.runId, ...(opts.cancel ? { cancel: opts.cancel } : {}) } }],
      // Only once every earlier run of this id is closed (FAIL while one runs).
      workflowIdReusePolicy: 'ALLOW_DUPLICATE',
      workflowIdConflictPolicy: 'FAIL',
      typedSearchAttributes: [
        { key: SatmachineKind, value: 'cashout' },
        { key: LamassuTxId, value: c.lamassuId },
        { key: CashOutStatus, value: 'processing' },
      ],
      staticSummary: `Cash-out ${cashOutSummary(c.row)} (recovery)`,
      staticDetails: `Recovery of Lamassu transaction ${c.lamassuId}: adopted from run ${c.runId ?? '(none)'} (${owner})`,
    });
    return { outcome: 'started', workflowId: c.workflowId, runId: handle.firstExecutionRunId };
  } catch (err) {
    if (err instanceof WorkflowExecutionAlreadyStartedError) return { outcome: 'running', workflowId: c.workflowId, runStatus: 'RUNNING' };
    throw err;
  }
}
