/**
 * Riding out outages in the cash-out workflow (issue 19): a transfer that fails for a reason that can heal
 * (LNbits or the ledger unreachable, a timed-out attempt, a worker gone) is tried again, round after round
 * with back-off, for config.payouts.outageRetryMinutes; the client's debit stays held all that time. Each
 * round is a few activity attempts (seconds apart); between rounds the workflow shows "waiting for LNbits
 * since …" and sleeps, waking early on the operator's `tx retry`. Only a business failure (non-retryable) or
 * the exhausted budget ends the payout stage. Deterministic: workflow time, timers and conditions only.
 */
import { ActivityFailure, ApplicationFailure, condition, proxyActivities } from '@temporalio/workflow';
import type { CashOutActivities, PayoutView } from '../activities/cashout';
import { BUSINESS_ERROR_TYPES } from '../domain/errors';

/** Every command added by this module runs only in histories that took this patch. */
export const RIDE_OUT_OUTAGES_PATCH = 'cashout-ride-out-outages';
/** After compensation, a cash-out whose payouts are all completed completes instead of waiting for the operator. */
export const COMPLETE_WHEN_SETTLED_PATCH = 'cashout-complete-when-settled';

const patient = proxyActivities<CashOutActivities>({
  startToCloseTimeout: '2 minutes',
  heartbeatTimeout: '10 seconds',
  retry: { initialInterval: '1 second', backoffCoefficient: 2, maximumInterval: '10 seconds', maximumAttempts: 4, nonRetryableErrorTypes: [...BUSINESS_ERROR_TYPES] },
});

const causeOf = (err: unknown): unknown => (err instanceof ActivityFailure ? err.cause : err);

/** A failure that retrying cannot fix (a business rule, LNbits refusing): the payout stage fails now. */
export function isBusinessFailure(err: unknown): boolean {
  const cause = causeOf(err);
  if (!(cause instanceof ApplicationFailure)) return false; // timeouts, a worker gone: can heal
  return cause.nonRetryable || (BUSINESS_ERROR_TYPES as readonly string[]).includes(cause.type ?? '');
}

/** What the transfer is waiting for, from its last failure: "LNbits", "the ledger" or "a worker". */
export function outageOf(err: unknown): string {
  const cause = causeOf(err);
  if (!(cause instanceof ApplicationFailure)) return 'a worker';
  const text = `${cause.type ?? ''} ${cause.message}`;
  if (/Lnbits|LNbits/.test(text)) return 'LNbits';
  if (/ECONNREFUSED|Connection terminated|terminating connection|connect|database|timeout exceeded|ECONNRESET|the database system/i.test(text)) return 'the ledger';
  return 'LNbits';
}

export interface OutageControl {
  budgetMs: number;
  backoffMaxMs: number;
  /** The operator asked to cancel: stop trying (the stage fails, compensation and the cancel follow). */
  cancelRequested: () => boolean;
  /** Incremented by the operator's `tx retry` while the payouts are still being tried: try again now. */
  wakeCount: () => number;
  /** The payout started (what, since) or stopped (null) waiting out an outage. */
  onWaiting: (paymentId: string, waiting: { what: string; sinceMs: number } | null) => void;
}

export type PatientOutcome = { payout: PayoutView } | { halted: string } | { cancelled: true };

/** payPayment, round after round through outages (see the module comment); throws the stage-ending failure. */
export async function payThroughOutages(paymentId: string, ctl: OutageControl): Promise<PatientOutcome> {
  let sinceMs: number | null = null;
  let delayMs = Math.min(5_000, ctl.backoffMaxMs);
  for (;;) {
    if (ctl.cancelRequested()) return { cancelled: true };
    try {
      const r = await patient.payPayment(paymentId);
      if (sinceMs !== null) ctl.onWaiting(paymentId, null);
      return r;
    } catch (err) {
      if (!(err instanceof ActivityFailure) || isBusinessFailure(err)) {
        if (sinceMs !== null) ctl.onWaiting(paymentId, null);
        throw err;
      }
      sinceMs ??= Date.now();
      if (Date.now() - sinceMs >= ctl.budgetMs) {
        ctl.onWaiting(paymentId, null);
        throw err;
      }
      ctl.onWaiting(paymentId, { what: outageOf(err), sinceMs });
      const woken = ctl.wakeCount();
      await condition(() => ctl.wakeCount() !== woken || ctl.cancelRequested(), delayMs);
      delayMs = Math.min(delayMs * 2, ctl.backoffMaxMs);
    }
  }
}
