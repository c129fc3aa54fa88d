/** Inputs, results, query state and summary text of the cash-out workflow (pure: used by workflow and client). */
import type { PayoutView } from '../activities/cashout';
import { formatDecimal, parseDecimal } from '../domain/decimal';
import type { LamassuCashOut } from '../domain/lamassu-row';

export interface CashOutInput {
  row: LamassuCashOut;
  /** First re-check interval while payouts are halted (default 30 s; tests use less). */
  haltRecheckSeconds?: number;
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
  action: 'retry' | 'cancel';
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
