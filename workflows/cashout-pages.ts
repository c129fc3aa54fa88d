/**
 * Bounded read-only views of a cash-out for large ones (issue 15): the `status` query carries every payout
 * (≈ 280 bytes each: 565 KB at 2,000 clients), so a UI or CLI that polls uses `summary` (no payouts, counts
 * per status) and pages through `payouts`. Queries add nothing to the history: no patch is needed.
 * Pure code (runs inside the workflow sandbox).
 */
import { defineQuery } from '@temporalio/workflow';
import type { PayoutView } from '../activities/cashout-payout';
import type { CashOutState } from './cashout-types';

export const PAYOUTS_PAGE_MAX = 500;
export const PAYOUTS_PAGE_DEFAULT = 100;

export type CashOutSummary = Omit<CashOutState, 'payouts'> & {
  payoutsByStatus: Partial<Record<PayoutView['status'], { count: number; sats: number }>>;
};

export interface PayoutsPageInput {
  /** Payouts to skip (in reservation order). */
  offset?: number;
  /** At most PAYOUTS_PAGE_MAX; default PAYOUTS_PAGE_DEFAULT. */
  limit?: number;
  status?: PayoutView['status'];
}

export interface PayoutsPage {
  /** Payouts matching the filter. */
  total: number;
  offset: number;
  limit: number;
  payouts: PayoutView[];
}

export const cashOutSummaryQuery = defineQuery<CashOutSummary>('summary');
export const cashOutPayoutsQuery = defineQuery<PayoutsPage, [PayoutsPageInput?]>('payouts');

export function summarize(state: CashOutState): CashOutSummary {
  const { payouts, ...rest } = state;
  const payoutsByStatus: CashOutSummary['payoutsByStatus'] = {};
  for (const p of payouts) {
    const s = (payoutsByStatus[p.status] ??= { count: 0, sats: 0 });
    s.count++;
    s.sats += p.amountSats;
  }
  return { ...rest, payoutsByStatus };
}

const STATUSES = new Set<string>(['pending', 'completed', 'failed', 'cancelled']);

/** One page of payouts; a bad argument fails the query with a message naming it (nothing else happens). */
export function payoutsPage(state: CashOutState, input: PayoutsPageInput = {}): PayoutsPage {
  const offset = input.offset ?? 0;
  const limit = input.limit ?? PAYOUTS_PAGE_DEFAULT;
  if (!Number.isSafeInteger(offset) || offset < 0) throw new Error('offset: expected an integer ≥ 0');
  if (!Number.isSafeInteger(limit) || limit < 1 || limit > PAYOUTS_PAGE_MAX) throw new Error(`limit: expected an integer from 1 to ${PAYOUTS_PAGE_MAX}`);
  if (input.status !== undefined && !STATUSES.has(input.status)) throw new Error('status: expected pending, completed, failed or cancelled');
  const matching = input.status === undefined ? state.payouts : state.payouts.filter((p) => p.status === input.status);
  return { total: matching.length, offset, limit, payouts: matching.slice(offset, offset + limit) };
}
