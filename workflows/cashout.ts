/**
 * One durable workflow per Lamassu cash-out (id `cashOutWorkflowId(row.id)`, started by startCashOut).
 *
 * Steps: record (a ledger row owned by another run → `duplicate`, nothing moves) → commission split →
 * balance snapshot + allocation → [funding (superuser-credit mode) → halt wait → pre-flight → reserve →
 * transfers (bounded concurrency; each transfer checks the halt itself and, when halted, sends nothing and
 * the lane waits) → commission transfer] → complete.
 *
 * Any failure in the bracketed payout stage runs the registered compensations (registered BEFORE the step
 * they undo: not-completed payouts → failed, debits restored), marks the transaction needs_attention,
 * raises a critical alert and waits, durably, for the operator: update `retryFailedPayouts` (the stage
 * again for the failed payouts) or `cancelFailedPayouts` (closes them; completed if anything was paid,
 * else failed). Completed payouts are never reversed. Query `status` shows every payout; search attributes
 * and current details are kept up to date for the Web UI (CashOutStatus "halted" and "· halted: <reason>"
 * while the operator halt holds the payouts back).
 */
import {
  ActivityFailure,
  ApplicationFailure,
  condition,
  defineQuery,
  defineUpdate,
  patched,
  proxyActivities,
  setCurrentDetails,
  setHandler,
  sleep,
  upsertSearchAttributes,
  workflowInfo,
} from '@temporalio/workflow';
import type { CashOutActivities, PayoutView } from '../activities/cashout';
import type { Allocation } from '../domain/allocation';
import { BUSINESS_ERROR_TYPES } from '../domain/errors';
import type { LamassuCashOut } from '../domain/lamassu-row';
import { CashOutStatus, FailedPayouts, LamassuTxId, PayoutSats, SatmachineKind } from '../domain/search-attributes';
import { createHold, PLAUSIBILITY_HOLD_PATCH } from './cashout-hold';
import { withFailureAttention } from './cashout-failure';
import { publishDuplicate } from './cashout-duplicate';
import { attentionDetails } from './cashout-details';
import { COMPLETE_WHEN_SETTLED_PATCH, RIDE_OUT_OUTAGES_PATCH, payThroughOutages } from './cashout-outage';
import { cashOutSummary, type CashOutInput, type CashOutResult, type CashOutState, type OperatorActionResult, type RetryInput, type CancelInput } from './cashout-types';

import { cashOutPayoutsQuery, cashOutSummaryQuery, payoutsPage, summarize } from './cashout-pages';

export { cashOutPayoutsQuery, cashOutSummaryQuery } from './cashout-pages';
export type { CashOutSummary, PayoutsPage, PayoutsPageInput } from './cashout-pages';
export type { CashOutInput, CashOutResult, CashOutState, OperatorActionResult, RetryInput, CancelInput };

export const cashOutStatusQuery = defineQuery<CashOutState>('status');
export const retryFailedPayoutsUpdate = defineUpdate<OperatorActionResult, [RetryInput]>('retryFailedPayouts');
export const cancelFailedPayoutsUpdate = defineUpdate<OperatorActionResult, [CancelInput]>('cancelFailedPayouts');

const retry = { initialInterval: '1 second', backoffCoefficient: 2, maximumInterval: '30 seconds', nonRetryableErrorTypes: [...BUSINESS_ERROR_TYPES] };

// Steps ride out outages of LNbits or the ledger for about half an hour (60 attempts, 30 s apart at most).
const stepOptions = { startToCloseTimeout: '1 minute', retry: { ...retry, maximumAttempts: 60 } } as const;
/**
 * The steps and the compensation heartbeat (activities/cashout.ts): with a heartbeatTimeout, a step whose worker
 * was killed (the record step too: until it ran the cash-out is not even in the ledger) is retried after seconds
 * instead of after its one-minute startToCloseTimeout. Decided once per run, at its start; histories from
 * before this patch replay with the options they were scheduled with.
 */
export const CASHOUT_STEP_HEARTBEAT_PATCH = 'cashout-step-heartbeat';
const STEP_HEARTBEAT = { heartbeatTimeout: '10 seconds' } as const;
const stepsBefore = proxyActivities<CashOutActivities>(stepOptions);
const stepsHeartbeating = proxyActivities<CashOutActivities>({ ...stepOptions, ...STEP_HEARTBEAT });
// Transfers: heartbeats make a killed worker's attempt time out in seconds; exponential back-off.
const transfers = proxyActivities<CashOutActivities>({
  startToCloseTimeout: '2 minutes',
  heartbeatTimeout: '10 seconds',
  retry: { ...retry, maximumAttempts: 8 },
});
// Compensation must not give up: it retries (with back-off) until the ledger answers.
const compensationOptions = { startToCloseTimeout: '1 minute', retry: { ...retry, maximumInterval: '1 minute' } } as const;
const compensationBefore = proxyActivities<CashOutActivities>(compensationOptions);
const compensationHeartbeating = proxyActivities<CashOutActivities>({ ...compensationOptions, ...STEP_HEARTBEAT });

/** A payout stage that ended with failed transfers. */
class PayoutStageFailed extends Error {}

const describe = (err: unknown): string => {
  const cause = err instanceof ActivityFailure ? err.cause : err;
  const type = cause instanceof ApplicationFailure && cause.type ? `${cause.type}: ` : '';
  return `${type}${cause instanceof Error ? cause.message : String(cause)}`;
};
/** Histories from before a duplicate run showed its owner's status and sats (issue 13) replay as before. */
const DUPLICATE_SHOWS_OWNER_PATCH = 'cashout-duplicate-shows-owner';
/** Histories from before the halt was published to search attributes replay without those upserts. */
const HALT_VISIBILITY_PATCH = 'cashout-halt-visibility';

const failureType = (err: unknown): string | undefined => {
  const cause = err instanceof ActivityFailure ? err.cause : err;
  return cause instanceof ApplicationFailure ? (cause.type ?? undefined) : undefined;
};

/** Any failure leaves the ledger row needs_attention with a critical alert (workflows/cashout-failure.ts). */
export async function cashOutWorkflow(input: CashOutInput): Promise<CashOutResult> {
  return withFailureAttention(input?.row?.id, () => runCashOut(input));
}

async function runCashOut(input: CashOutInput): Promise<CashOutResult> {
  const { row } = input;
  const info = workflowInfo();
  const beat = patched(CASHOUT_STEP_HEARTBEAT_PATCH);
  const steps = beat ? stepsHeartbeating : stepsBefore;
  const compensation = beat ? compensationHeartbeating : compensationBefore;
  const haltRecheckMs = (input.haltRecheckSeconds ?? 30) * 1000;
  const state: CashOutState = {
    lamassuTxId: row.id, workflowId: info.workflowId, runId: info.runId, transactionId: null,
    status: 'processing', step: 'record', cryptoAtoms: Number(row.cryptoAtoms), fiat: row.fiat, fiatCode: row.fiatCode,
    baseSats: null, commissionSats: null, unallocatedSats: null, clients: 0, payouts: [], lastError: null,
    halted: false, haltedReason: null, fundingNeedsDecision: false, attentionCount: 0, compensations: [], plannedPayouts: 0,
    reallocated: false,
    recoveredFromRunId: input.recovery ? input.recovery.previousRunId : null,
  };
  type OperatorAction = { kind: 'retry'; input: RetryInput } | { kind: 'cancel'; input: CancelInput };
  let action: OperatorAction | null = input.recovery?.cancel ? { kind: 'cancel', input: input.recovery.cancel } : null;
  // Ride out outages (workflows/cashout-outage.ts): set once the patch is taken, before the payout stage.
  let patient = false;
  let cancelRequested = action !== null;
  let wakeCount = 0;
  const waiting = new Map<string, { what: string; sinceMs: number }>();
  /** The operator's pending action, taken (set by the update handlers, read once here). */
  const takeAction = (): OperatorAction => {
    const a = action!;
    action = null;
    return a;
  };

  const open = () => state.payouts.filter((p) => p.status !== 'completed' && p.status !== 'cancelled');
  /** Client names for the Web UI's details (from the reservation). */
  const clientNames: Record<string, string> = {};
  const failedCount = () => (state.payouts.length ? open().length : state.plannedPayouts);
  function publish(): void {
    const paidSats = state.payouts.filter((p) => p.kind === 'client').reduce((s, p) => s + p.amountSats, 0);
    upsertSearchAttributes([
      { key: SatmachineKind, value: 'cashout' },
      { key: LamassuTxId, value: row.id },
      { key: CashOutStatus, value: state.halted && state.status === 'processing' ? 'halted' : state.status },
      { key: FailedPayouts, value: state.status === 'needs_attention' ? failedCount() : 0 },
      { key: PayoutSats, value: paidSats },
    ]);
    details();
  }
  /** The Web UI's current details (no command: safe to call at any point). */
  function details(): void {
    const halted = state.halted && state.status === 'processing' ? ` · halted: ${state.haltedReason ?? 'no reason given'}` : '';
    const wait = state.waitingSince && state.status === 'processing' ? ` · waiting for ${state.waitingFor ?? 'LNbits'} since ${state.waitingSince} (${state.waitingPayouts ?? 0} payout(s))` : '';
    setCurrentDetails(`${cashOutSummary(row, state.clients)} · ${state.status}${halted}${wait}${state.status === 'needs_attention' ? ` · ${attentionDetails(state.payouts, failedCount(), clientNames, state.lastError)}` : ''}`);
  }
  function onWaiting(paymentId: string, w: { what: string; sinceMs: number } | null): void {
    if (w) waiting.set(paymentId, w);
    else waiting.delete(paymentId);
    const oldest = [...waiting.values()].sort((a, b) => a.sinceMs - b.sinceMs)[0];
    Object.assign(state, { waitingFor: oldest?.what ?? null, waitingSince: oldest ? new Date(oldest.sinceMs).toISOString() : null, waitingPayouts: waiting.size });
    details();
  }
  const merge = (views: PayoutView[]) => {
    const byId = new Map(state.payouts.map((p) => [p.id, p]));
    for (const v of views) byId.set(v.id, v);
    state.payouts = [...byId.values()];
  };

  setHandler(cashOutStatusQuery, () => state);
  setHandler(cashOutSummaryQuery, () => summarize(state));
  setHandler(cashOutPayoutsQuery, (page) => payoutsPage(state, page));
  /** Payouts still being tried (patched runs): `tx retry` wakes them, `tx cancel-failed` stops them. */
  const tryingPayouts = () => patient && state.status === 'processing' && (state.step === 'transfer' || state.step === 'commission-transfer') && !cancelRequested;
  const validateOperator = (kind: string) => {
    if (tryingPayouts()) return;
    if (state.status !== 'needs_attention' || action !== null) throw new Error(`nothing to ${kind}: the cash-out is ${state.status}${state.status === 'processing' ? ` (step ${state.step})` : ''}`);
    if (failedCount() === 0) throw new Error(`nothing to ${kind}: no failed payout`);
  };
  setHandler(
    retryFailedPayoutsUpdate,
    (i) => {
      if (tryingPayouts()) {
        wakeCount++;
        return { accepted: true, action: 'wake', payouts: open().length };
      }
      action = { kind: 'retry', input: i ?? {} };
      return { accepted: true, action: 'retry', payouts: failedCount() };
    },
    {
      validator: (input) => {
        const i = input ?? {};
        validateOperator('retry');
        if (i.funding !== undefined && i.funding !== 'credited' && i.funding !== 'not-credited') throw new Error('funding: expected "credited" or "not-credited"');
        if (state.fundingNeedsDecision && i.funding === undefined) throw new Error('funding: the source wallet credit is uncertain; answer "credited" or "not-credited"');
        if (i.by !== undefined && (typeof i.by !== 'string' || !i.by.trim())) throw new Error('by: expected a non-empty string');
      },
    },
  );
  setHandler(
    cancelFailedPayoutsUpdate,
    (i) => {
      const trying = tryingPayouts();
      action = { kind: 'cancel', input: i ?? {} };
      if (trying) {
        cancelRequested = true; // the lanes stop; compensation runs, then this cancel
        return { accepted: true, action: 'cancel', payouts: open().length };
      }
      return { accepted: true, action: 'cancel', payouts: failedCount() };
    },
    {
      validator: (input) => {
        const i = input ?? {};
        validateOperator('cancel');
        if (i.reason !== undefined && (typeof i.reason !== 'string' || !i.reason.trim())) throw new Error('reason: expected a non-empty string');
        if (i.by !== undefined && (typeof i.by !== 'string' || !i.by.trim())) throw new Error('by: expected a non-empty string');
      },
    },
  );
  const hold = createHold();
  publish();

  // Record: the ledger's UNIQUE(lamassu_id) + run id is the durable duplicate guard. A recovery run (new input,
  // never in older histories) adopts the row of a run that is gone instead.
  const rec = input.recovery
    ? await steps.adoptCashOut({ transactionId: input.recovery.transactionId, previousRunId: input.recovery.previousRunId, workflowId: info.workflowId, runId: info.runId })
    : await steps.recordCashOut({ row, workflowId: info.workflowId, runId: info.runId });
  state.transactionId = rec.transactionId;
  if (rec.outcome === 'duplicate') {
    state.status = 'duplicate';
    state.step = 'done';
    state.lastError = `already recorded by ${rec.ownerWorkflowId ?? 'another process'} (ledger status ${rec.ownerStatus})`;
    if (patched(DUPLICATE_SHOWS_OWNER_PATCH)) publishDuplicate(row, rec);
    else publish();
    return { status: 'duplicate', transactionId: rec.transactionId, payouts: [] };
  }
  if (rec.outcome === 'refused') {
    // Not a real, final Lamassu cash-out (recorded rejected, alerted by the activity): nothing moves.
    Object.assign(state, { status: 'rejected', step: 'done', lastError: rec.reason ?? 'refused' });
    publish();
    return { status: 'rejected', transactionId: rec.transactionId, payouts: [] };
  }
  const txId = rec.transactionId;
  if (input.recovery) {
    state.step = 'verify';
    merge(await steps.verifyCashOutPayouts({ transactionId: txId }));
    publish();
  }

  state.step = 'commission';
  const split = await steps.splitCashOutCommission({ transactionId: txId });
  Object.assign(state, { baseSats: split.baseSats, commissionSats: split.commissionSats });

  state.step = 'allocate';
  const allocation: Allocation = await steps.allocateCashOut({ transactionId: txId });
  state.clients = allocation.lines.length;
  state.unallocatedSats = allocation.unallocatedSats;
  state.plannedPayouts = allocation.lines.filter((l) => l.sats > 0).length + (split.commissionSats > 0 ? 1 : 0);
  publish();
  // Plausibility before money moves: a failing cash-out is held for the operator (workflows/cashout-hold.ts).
  if (patched(PLAUSIBILITY_HOLD_PATCH) && (await hold.check(txId, state, publish)) === 'rejected') {
    return { status: 'rejected', transactionId: txId, payouts: [] };
  }

  /** Durable wait while the operator halt is on; re-checks back off from haltRecheckMs to 5 minutes. */
  async function waitWhileHalted(): Promise<void> {
    let delay = haltRecheckMs;
    for (;;) {
      const h = await steps.payoutsHalted();
      if (!h.halted) {
        if (state.halted) {
          Object.assign(state, { halted: false, haltedReason: null });
          if (patched(HALT_VISIBILITY_PATCH)) publish();
        }
        return;
      }
      if (!state.halted) {
        Object.assign(state, { halted: true, haltedReason: h.reason });
        if (patched(HALT_VISIBILITY_PATCH)) publish();
      }
      await sleep(delay);
      delay = Math.min(delay * 2, Math.max(haltRecheckMs, 300_000));
    }
  }

  async function payAll(ids: string[], concurrency: number): Promise<string[]> {
    const failures: string[] = [];
    let next = 0;
    const lane = async () => {
      while (next < ids.length) {
        const id = ids[next++]!;
        try {
          // The transfer itself checks the operator halt; when halted it sends nothing, and the lane waits
          // for the halt to lift, then tries the same payout again.
          for (;;) {
            const r = patient
              ? await payThroughOutages(id, { budgetMs, backoffMaxMs, cancelRequested: () => cancelRequested, wakeCount: () => wakeCount, onWaiting })
              : await transfers.payPayment(id);
            if ('cancelled' in r) {
              failures.push(`${id}: cancel requested by the operator`);
              break;
            }
            if ('payout' in r) {
              merge([r.payout]);
              break;
            }
            await waitWhileHalted();
          }
        } catch (err) {
          if (!(err instanceof ActivityFailure)) throw err;
          failures.push(`${id}: ${describe(err)}`);
          const p = state.payouts.find((x) => x.id === id);
          if (p) merge([{ ...p, lastError: describe(err) }]);
        }
      }
    };
    await Promise.all(Array.from({ length: Math.max(1, Math.min(concurrency, ids.length)) }, lane));
    return failures;
  }

  const compensations: Array<{ name: string; run: (reason: string) => Promise<void> }> = [];
  let funding: RetryInput['funding'];
  const budgetMs = (input.transferRetryMinutes ?? 360) * 60_000;
  const backoffMaxMs = (input.transferBackoffMaxSeconds ?? 60) * 1000;
  const releasePayouts = {
    name: 'release-payouts',
    run: async (reason: string) => merge(await compensation.compensatePayouts({ transactionId: txId, reason })),
  };
  // A recovery run may hold reserved payouts from the start: their compensation is registered at once.
  if (input.recovery) compensations.push(releasePayouts);

  for (;;) {
    try {
      // An operator cancel queued for a recovery run: straight to compensation, then the cancel.
      if (input.recovery && cancelRequested) throw new PayoutStageFailed('cancel requested by the operator');
      state.step = 'fund';
      await steps.fundSourceWallet({ transactionId: txId, decision: funding });
      state.fundingNeedsDecision = false;
      state.step = 'preflight';
      await waitWhileHalted();
      await steps.preflightCashOut({ transactionId: txId, plannedSats: allocation.allocatedSats + split.commissionSats, commissionSats: split.commissionSats });

      // Registered before the reservation it undoes.
      if (!compensations.includes(releasePayouts)) compensations.push(releasePayouts);
      state.compensations = compensations.map((c) => c.name);
      state.step = 'reserve';
      const reserved = await steps.reserveCashOut({ transactionId: txId, allocation });
      merge(reserved.payouts);
      Object.assign(clientNames, reserved.clientNames ?? {});
      state.unallocatedSats = reserved.unallocatedSats;
      state.reallocated ||= reserved.reallocated;
      state.clients = reserved.payouts.filter((p) => p.kind === 'client').length;
      publish();

      state.step = 'transfer';
      patient ||= patched(RIDE_OUT_OUTAGES_PATCH);
      const pending = (kind: PayoutView['kind']) => state.payouts.filter((p) => p.kind === kind && p.status === 'pending').map((p) => p.id);
      const failures = await payAll(pending('client'), reserved.payoutConcurrency);
      state.step = 'commission-transfer';
      failures.push(...(await payAll(pending('commission'), 1)));
      if (failures.length) throw new PayoutStageFailed(`${failures.length} payout(s) failed; first: ${failures[0]}`);

      state.step = 'complete';
      merge((await steps.completeCashOut({ transactionId: txId })).payouts);
      compensations.length = 0;
      state.compensations = [];
      Object.assign(state, { status: 'completed', step: 'done', lastError: null });
      publish();
      return { status: 'completed', transactionId: txId, payouts: state.payouts };
    } catch (err) {
      if (!(err instanceof ActivityFailure) && !(err instanceof PayoutStageFailed)) throw err;
      const reason = err instanceof PayoutStageFailed ? err.message : describe(err);
      state.lastError = reason;
      state.fundingNeedsDecision = failureType(err) === 'FundingNeedsAttentionError';
      state.step = 'compensate';
      for (const c of compensations.reverse()) await c.run(reason);
      compensations.length = 0;
      state.compensations = [];
      state.attentionCount++;
      // Everything paid after all (LNbits paid, the ledger learned it late): completed, no operator needed.
      if (state.payouts.length > 0 && state.payouts.every((p) => p.status === 'completed') && patched(COMPLETE_WHEN_SETTLED_PATCH)) {
        state.step = 'complete';
        merge((await compensation.completeCashOut({ transactionId: txId })).payouts);
        Object.assign(state, { status: 'completed', step: 'done', lastError: null, waitingFor: null, waitingSince: null, waitingPayouts: 0 });
        publish();
        return { status: 'completed', transactionId: txId, payouts: state.payouts };
      }
      await compensation.markCashOutNeedsAttention({ transactionId: txId, reason, occurrence: state.attentionCount, failedPayouts: failedCount() });
      Object.assign(state, { status: 'needs_attention', step: 'wait-operator' });
      publish();
    }

    // Durable: the workflow sleeps here (no timer) until the operator acts, for days if need be.
    let taken: OperatorAction;
    for (;;) {
      await condition(() => action !== null);
      taken = takeAction();
      cancelRequested = false;
      if (taken.kind !== 'cancel') break;
      state.step = 'cancel';
      try {
        const r = await compensation.cancelCashOutPayouts({ transactionId: txId, reason: `cancelled by ${taken.input.by ?? 'operator'}: ${taken.input.reason ?? 'no reason given'}` });
        merge(r.payouts);
        Object.assign(state, { status: r.status, step: 'done' });
        publish();
        return { status: r.status, transactionId: txId, payouts: state.payouts };
      } catch (err) {
        // A cancel the ledger refuses (a business rule) must not fail the workflow with money in limbo:
        // it goes back to waiting for the operator, with the reason in its status.
        if (!(err instanceof ActivityFailure)) throw err;
        Object.assign(state, { status: 'needs_attention', step: 'wait-operator', lastError: `cancel failed: ${describe(err)}` });
        publish();
      }
    }
    funding = taken.input.funding;
    Object.assign(state, { status: 'processing', lastError: null });
    publish();
  }
}

export type { LamassuCashOut };
