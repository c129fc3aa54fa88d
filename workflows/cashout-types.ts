/** Inputs, results, query state and summary text of the cash-out workflow (pure: used by workflow and client). */
import type { PayoutView } from '../activities/cashout';
import { formatDecimal, parseDecimal } from '../domain/decimal';
import type { LamassuCashOut } from '../domain/lamassu-row';

export interface CashOutInput {
  row: LamassuCashOut;
  /** First re-check interval while payouts are halted (default 30 s; tests use less). */
  haltRecheckSeconds?: number;
  /**
   * How long a transfer keeps trying through an outage of LNbits or the ledger before the payout stage fails
   * (config.payouts.outageRetryMinutes; default 360). Only runs with the ride-out-outages patch use it.
   */
  transferRetryMinutes?: number;
  /** Longest pause between two rounds of a transfer's attempts during an outage (default 60 s). */
  transferBackoffMaxSeconds?: number;
  /**
   * A recovery run (`satmachine tx resume`, the sweep): it adopts the ledger row of a run that is gone
   * instead of recording the row, checks each payout in LNbits, then continues from the ledger.
   */
  recovery?: RecoveryInput;
}

export interface RecoveryInput {
  transactionId: string;
  /** The gone run that owns the ledger row now (compare-and-set). */
  previousRunId: string | null;
  /** `tx cancel-failed` on a cash-out without a running workflow: cancel the open payouts once adopted. */
  cancel?: CancelInput;
}

export type CashOutStatusValue = 'processing' | 'held' | 'needs_attention' | 'completed' | 'failed' | 'duplicate' | 'rejected';

export interface CashOutResult {
  /** rejected: the input was refused (not a real, final Lamassu cash-out) or the operator rejected a held one. */
  status: 'completed' | 'failed' | 'duplicate' | 'rejected';
  transactionId: string;
  payouts: PayoutView[];
}

export interface CashOutState {
  lamassuTxId: string;
  workflowId: string;
  runId: string;
  transactionId: string | null;
  status: CashOutStatusValue;
  /** The step running now (record, commission, allocate, fund, preflight, reserve, transfer, …, wait-operator, done). */
  step: string;
  cryptoAtoms: number;
  fiat: string;
  fiatCode: string;
  baseSats: number | null;
  commissionSats: number | null;
  unallocatedSats: number | null;
  /** Clients with a payout line. */
  clients: number;
  /** Payouts not yet reserved count as planned: client lines with sats + the commission. */
  plannedPayouts: number;
  payouts: PayoutView[];
  lastError: string | null;
  halted: boolean;
  haltedReason: string | null;
  /** The superuser credit is uncertain: retryFailedPayouts must say `funding`. */
  fundingNeedsDecision: boolean;
  /** How often the cash-out went to needs_attention. */
  attentionCount: number;
  /** Compensations registered for the steps done so far (undone in reverse on failure). */
  compensations: string[];
  /** Balances moved between the snapshot and the reservation: the payouts were re-allocated (once). */
  reallocated: boolean;
  /** Transfers waiting out an outage: what they wait for ("LNbits", "the ledger") and since when (ISO). */
  waitingFor?: string | null;
  waitingSince?: string | null;
  /** Payouts whose transfer is waiting out an outage now. */
  waitingPayouts?: number;
  /** A recovery run: the run it took the cash-out over from. */
  recoveredFromRunId?: string | null;
}

export interface RetryInput {
  by?: string;
  /** Only after a FundingNeedsAttentionError: did the source wallet credit happen (checked in LNbits)? */
  funding?: 'credited' | 'not-credited';
}

export interface CancelInput {
  by?: string;
  reason?: string;
}

export interface OperatorActionResult {
  accepted: true;
  /** 'wake': the payouts were still being tried (an outage): they are tried again now. */
  action: 'retry' | 'cancel' | 'wake';
  /** Payouts the action applies to. */
  payouts: number;
}

/** "512400 sats · 4000 GTQ" (+ " · 5 clients" once known): the Web UI's summary line. */
export function cashOutSummary(row: Pick<LamassuCashOut, 'cryptoAtoms' | 'fiat' | 'fiatCode'>, clients?: number): string {
  let fiat = row.fiat;
  try {
    fiat = formatDecimal(parseDecimal(row.fiat, 'fiat'));
  } catch {
    /* shown as received */
  }
  return `${row.cryptoAtoms} sats · ${fiat} ${row.fiatCode}${clients ? ` · ${clients} client${clients === 1 ? '' : 's'}` : ''}`;
}
