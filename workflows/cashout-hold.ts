/**
 * The plausibility hold of the cash-out workflow (issue 12). After the allocation and before any money
 * moves, the workflow asks `checkCashOutPlausibility`; a finding HOLDS the cash-out (ledger status held,
 * critical alert, CashOutStatus "held" in the Web UI) and the workflow waits, durably and without a timer,
 * for the operator: update `approveHeldCashOut` (the payout stage runs) or `rejectHeldCashOut` (closed as
 * rejected, nothing paid). Both need a reason; the CLI records them as operator events.
 */
import { condition, defineUpdate, proxyActivities, setHandler } from '@temporalio/workflow';
import type { CashOutActivities } from '../activities/cashout';
import { BUSINESS_ERROR_TYPES } from '../domain/errors';
import type { CashOutState } from './cashout-types';

export interface HoldDecisionInput {
  by?: string;
  reason?: string;
}
export interface HoldDecisionResult {
  accepted: true;
  decision: 'approve' | 'reject';
}

export const approveHeldCashOutUpdate = defineUpdate<HoldDecisionResult, [HoldDecisionInput]>('approveHeldCashOut');
export const rejectHeldCashOutUpdate = defineUpdate<HoldDecisionResult, [HoldDecisionInput]>('rejectHeldCashOut');

/** Histories recorded before the hold existed replay without its activity and wait. */
export const PLAUSIBILITY_HOLD_PATCH = 'cashout-plausibility-hold';

const retry = { initialInterval: '1 second', backoffCoefficient: 2, maximumInterval: '30 seconds', nonRetryableErrorTypes: [...BUSINESS_ERROR_TYPES] };
const checks = proxyActivities<CashOutActivities>({ startToCloseTimeout: '1 minute', retry: { ...retry, maximumAttempts: 10 } });
// The operator's decision must reach the ledger: retried until it does.
const decisions = proxyActivities<CashOutActivities>({ startToCloseTimeout: '1 minute', retry: { ...retry, maximumInterval: '1 minute' } });

export interface Hold {
  /** 'pay': go on to the payout stage; 'rejected': the operator closed it, nothing is paid. */
  check(transactionId: string, state: CashOutState, publish: () => void): Promise<'pay' | 'rejected'>;
}

/** Registers the update handlers (call at workflow start: an update is refused unless the cash-out is held). */
export function createHold(): Hold {
  let held = false;
  let decision: { kind: 'approve' | 'reject'; input: HoldDecisionInput } | null = null;
  const validator = (kind: string) => (input: HoldDecisionInput) => {
    if (!held || decision !== null) throw new Error(`nothing to ${kind}: the cash-out is not held`);
    const i = input ?? {};
    if (typeof i.reason !== 'string' || !i.reason.trim()) throw new Error('reason: expected a non-empty string');
    if (i.by !== undefined && (typeof i.by !== 'string' || !i.by.trim())) throw new Error('by: expected a non-empty string');
  };
  setHandler(approveHeldCashOutUpdate, (i) => ((decision = { kind: 'approve', input: i }), { accepted: true, decision: 'approve' }), { validator: validator('approve') });
  setHandler(rejectHeldCashOutUpdate, (i) => ((decision = { kind: 'reject', input: i }), { accepted: true, decision: 'reject' }), { validator: validator('reject') });

  return {
    async check(transactionId, state, publish) {
      state.step = 'plausibility';
      const r = await checks.checkCashOutPlausibility({ transactionId });
      if (!r.held) return 'pay';
      held = true;
      Object.assign(state, { status: 'held', step: 'wait-operator', lastError: `held: ${r.reasons.join('; ')}` });
      publish();
      await condition(() => decision !== null);
      const d = decision!;
      await decisions.decideHeldCashOut({ transactionId, decision: d.kind, by: d.input.by ?? 'operator', reason: d.input.reason ?? '' });
      held = false;
      if (d.kind === 'reject') {
        Object.assign(state, { status: 'rejected', step: 'done', lastError: `rejected by ${d.input.by ?? 'operator'}: ${d.input.reason ?? ''}` });
        publish();
        return 'rejected';
      }
      Object.assign(state, { status: 'processing', lastError: null });
      publish();
      return 'pay';
    },
  };
}
