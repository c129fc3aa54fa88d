/**
 * Activities of the cash-out workflow (workflows/cashout.ts), one per step: record, commission, allocate,
 * fund, pre-flight, reserve, pay (cashout-payout.ts), compensate, operator cancel, complete. Each is
 * idempotent; inputs and results are ids, amounts and states (never a key).
 */
import { raiseAlert, resolveAlerts } from '../adapters/alerts';
import { eligibleBalancesAt } from '../adapters/ledger/balances';
import {
  adoptCashOutTransaction,
  cancelFailedPayoutRows,
  completePayment,
  failOpenPayouts,
  payoutsHalted,
  recordCashOutTransaction,
  reserveFailedPayouts,
  setTransactionStatus,
} from '../adapters/ledger/cashout';
import { listPayments, reservePayouts, type PaymentRow } from '../adapters/ledger/reservations';
import { getTransaction, recordCommission, type TransactionRow } from '../adapters/ledger/transactions';
import { createLnbitsClient } from '../adapters/lnbits/client';
import { allocate, type Allocation } from '../domain/allocation';
import { computeCommission } from '../domain/commission';
import { parseDecimal, toScaledInteger } from '../domain/decimal';
import { BalanceWouldGoNegativeError, CashOutConfigError, InsufficientBalanceError, LedgerStateError } from '../domain/errors';
import type { LamassuCashOut } from '../domain/lamassu-row';
import { fiatMinor } from '../domain/money';
import type { LamassuConnection } from '../adapters/lamassu/connection';
import { createPayoutActivities, sourceAdminKey, toView, type PayoutView } from './cashout-payout';
import { assertCashOutFits } from './cashout-size';
import { createCashOutChecks, type RefusedRecord } from './cashout-checks';
import { checkCashOutConservation, type ConservationResult } from './cashout-conservation';
import { createPayoutProof } from './payout-release-proof';
import type { ActivityDeps } from './deps';
import { heartbeating } from './heartbeat';

export type { PayoutView };

export interface RecordResult {
  /** refused: the input is not a real, final Lamassu cash-out (cashout-checks.ts): recorded rejected, 0 sats. */
  outcome: 'recorded' | 'duplicate' | 'refused';
  transactionId: string;
  /** For a duplicate: the run that owns the ledger row (null: recorded outside a workflow, e.g. rejected). */
  ownerWorkflowId: string | null;
  ownerStatus: string;
  /** Why a refused input was refused. */
  reason?: string;
  /** For a duplicate: Σ client sats the owning run paid (completed payouts). */
  ownerPaidSats?: number;
}

export interface SplitResult {
  cryptoAtoms: number;
  baseSats: number;
  commissionSats: number;
  fiatMinor: number;
  fiatCode: string;
  model: string;
}

export interface ReserveResult {
  payouts: PayoutView[];
  /** The first allocation no longer fitted the balances: balances were read again and re-allocated. */
  reallocated: boolean;
  unallocatedSats: number;
  payoutConcurrency: number;
  /** Client id → name, for the Web UI's details (names, not UUIDs). */
  clientNames?: Record<string, string>;
}

const views = (rows: PaymentRow[]) => rows.map(toView);

function toInsert(row: LamassuCashOut) {
  return {
    lamassuId: row.id, deviceId: row.deviceId, cryptoAtoms: row.cryptoAtoms, receivedCryptoAtoms: row.receivedCryptoAtoms,
    cryptoCode: row.cryptoCode, fiat: row.fiat, fiatCode: row.fiatCode, commissionPercentage: row.commissionPercentage,
    discount: row.discount, rawTickerPrice: row.rawTickerPrice, fixedFee: row.fixedFee, lamassuStatus: row.status,
    dispense: row.dispense, dispenseConfirmed: row.dispenseConfirmed, lamassuError: row.error, lamassuErrorCode: row.errorCode,
    created: row.created, confirmedAt: row.confirmedAt,
  };
}

export interface CashOutActivityOptions {
  /** The Lamassu connection the record step re-reads rows through (the worker shares the poller's). */
  lamassu?: () => LamassuConnection;
}

export function createCashOutActivities(deps: ActivityDeps, opts: CashOutActivityOptions = {}) {
  const { config, pool, log } = deps;
  const lnbits = deps.lnbits ?? createLnbitsClient({ url: config.lnbits.url, timeoutMs: config.lnbits.requestTimeoutMs });
  const payout = createPayoutActivities(deps, lnbits);
  const checks = createCashOutChecks(deps, opts);
  const proof = createPayoutProof(deps, lnbits);

  /** Balances as of the cash-out's confirmation, allocated over its commission-free sats. */
  async function allocationFor(tx: TransactionRow): Promise<Allocation> {
    if (tx.baseSats === null || tx.fiatMinor === null) throw new LedgerStateError(`transaction ${tx.id}: commission not recorded`, 'base_sats');
    if (!tx.confirmedAt) throw new LedgerStateError(`transaction ${tx.id}: no confirmed_at`, 'confirmed_at');
    const clients = await eligibleBalancesAt(pool, tx.confirmedAt, { currency: tx.fiatCode });
    return allocate({ baseSats: tx.baseSats, dispensedFiat: tx.fiatMinor, clients });
  }

  // Every step heartbeats: workflows/cashout.ts schedules them with a heartbeatTimeout (CASHOUT_STEP_HEARTBEAT_PATCH),
  // so a step whose worker was killed is retried after seconds, not after its one-minute startToCloseTimeout.
  return heartbeating({
    ...payout,
    ...checks.activities,

    /**
     * Insert the transaction owned by this run. Already there under another run id (or none) → duplicate:
     * a critical alert, and the workflow stops without moving money. Same run id → an activity retry.
     */
    async recordCashOut(input: { row: LamassuCashOut; workflowId: string; runId: string }): Promise<RecordResult> {
      const { row, workflowId, runId } = input;
      // Lamassu is the source of truth: a forged, changed or unfinished input is refused before anything is recorded.
      const refused: RefusedRecord | null = await checks.verify(row, { workflowId, runId });
      if (refused) return refused;
      const r = await recordCashOutTransaction(pool, toInsert(row), { workflowId, runId });
      if (r.outcome !== 'duplicate') return { outcome: 'recorded', transactionId: r.transaction.id, ownerWorkflowId: workflowId, ownerStatus: r.transaction.status };
      await raiseAlert(deps, {
        severity: 'critical',
        kind: 'duplicate-cashout',
        dedupKey: `duplicate-cashout:${row.id}:${runId}`,
        message: `Lamassu cash-out ${row.id} was started again (workflow ${workflowId}); the ledger already has it (status ${r.transaction.status}): nothing paid`,
        details: { lamassuId: row.id, workflowId, runId, ownerWorkflowId: r.transaction.workflowId, ownerRunId: r.ownerRunId, ledgerStatus: r.transaction.status },
      });
      // What the owning run paid, so a duplicate run can show the cash-out's truth instead of "0 sats".
      const paid = await pool.query<{ s: string }>(
        `SELECT COALESCE(sum(amount_sats), 0)::text AS s FROM satoshimachine.payments WHERE transaction_id = $1 AND kind = 'client' AND status = 'completed'`,
        [r.transaction.id],
      );
      return { outcome: 'duplicate', transactionId: r.transaction.id, ownerWorkflowId: r.transaction.workflowId, ownerStatus: r.transaction.status, ownerPaidSats: Number(paid.rows[0]!.s) };
    },

    /** The commission split (config.commissionModel) and the dispensed fiat in exact minor units, stored once. */
    async splitCashOutCommission(input: { transactionId: string }): Promise<SplitResult> {
      const tx = await getTransaction(pool, input.transactionId);
      const { rows: fee } = await pool.query(`SELECT fixed_fee::text AS fixed_fee FROM satoshimachine.lamassu_transactions WHERE id = $1`, [tx.id]);
      const commission = computeCommission(
        {
          cryptoAtoms: tx.cryptoAtoms, commissionPercentage: tx.commissionPercentage, discount: tx.discount, fiat: tx.fiat, rawTickerPrice: tx.rawTickerPrice,
          fixedFee: (fee[0]?.fixed_fee as string | null) ?? null,
        },
        config.commissionModel,
      );
      const minor = fiatMinor(toScaledInteger(parseDecimal(tx.fiat, 'fiat'), config.lamassu.fiatDecimals, 'fiat'), 'fiat');
      const saved = await recordCommission(pool, tx.id, commission, minor);
      return {
        cryptoAtoms: Number(tx.cryptoAtoms), baseSats: saved.baseSats!, commissionSats: saved.commissionSats!,
        fiatMinor: saved.fiatMinor!, fiatCode: tx.fiatCode, model: saved.commissionModel!,
      };
    },

    /** Snapshot of the eligible balances as of confirmed_at, allocated (pure, nothing stored). */
    async allocateCashOut(input: { transactionId: string }): Promise<Allocation> {
      const allocation = await allocationFor(await getTransaction(pool, input.transactionId));
      // Too large for one workflow: refused before anything is reserved (same result shape otherwise).
      assertCashOutFits(input.transactionId, allocation, config.cashOutLimits);
      return allocation;
    },

    async payoutsHalted(): Promise<{ halted: boolean; reason: string | null }> {
      return payoutsHalted(pool);
    },

    /**
     * Source wallet reachable with its admin key and holding ≥ the open payouts (reserved and not completed,
     * or `plannedSats` before the reservation); commission wallet reachable when a commission is due.
     */
    async preflightCashOut(input: { transactionId: string; plannedSats: number; commissionSats: number }): Promise<{ sourceBalanceSats: number; requiredSats: number }> {
      const source = await lnbits.getWallet(sourceAdminKey(deps));
      if (source.id === null) throw new CashOutConfigError('lnbits.source.adminKey is not an admin key', 'lnbits.source.adminKey');
      if (input.commissionSats > 0) {
        const key = config.lnbits.commission.invoiceKey ?? config.lnbits.commission.adminKey;
        if (!key) throw new CashOutConfigError('lnbits.commission.invoiceKey is not configured', 'lnbits.commission.invoiceKey');
        await lnbits.getWallet(key);
      }
      const payments = await listPayments(pool, input.transactionId);
      const requiredSats = payments.length
        ? payments.filter((p) => p.status === 'pending' || p.status === 'failed').reduce((s, p) => s + p.amountSats, 0)
        : input.plannedSats;
      const sourceBalanceSats = Number(source.balanceMsat / 1000n);
      if (sourceBalanceSats < requiredSats) {
        throw new InsufficientBalanceError(`source wallet holds ${sourceBalanceSats} sats, the payouts need ${requiredSats}`, 'source_balance');
      }
      return { sourceBalanceSats, requiredSats };
    },

    /**
     * First call: reservePayouts (pending rows + debits in one DB transaction). If it fails with
     * BalanceWouldGoNegativeError — a balance moved between the snapshot and now (another cash-out reserved,
     * a negative adjustment) — the balances are read again and re-allocated ONCE here; a second failure
     * goes to the workflow (needs_attention). Later calls (operator retry): failed payouts are reserved again.
     */
    async reserveCashOut(input: { transactionId: string; allocation: Allocation }): Promise<ReserveResult> {
      const existing = await listPayments(pool, input.transactionId);
      let reallocated = false;
      let rows: PaymentRow[];
      if (existing.length > 0) {
        rows = await reserveFailedPayouts(pool, input.transactionId);
      } else {
        try {
          rows = await reservePayouts(pool, input.transactionId, input.allocation);
        } catch (err) {
          if (!(err instanceof BalanceWouldGoNegativeError)) throw err;
          log.warn({ transactionId: input.transactionId, err: err.message }, 'balances moved since the snapshot: re-allocating once');
          const again = await allocationFor(await getTransaction(pool, input.transactionId));
          rows = await reservePayouts(pool, input.transactionId, again);
          reallocated = true;
        }
      }
      const tx = await getTransaction(pool, input.transactionId);
      const names = await pool.query<{ id: string; name: string }>(`SELECT id::text, name FROM satoshimachine.clients WHERE id = ANY($1::uuid[])`, [
        rows.flatMap((p) => (p.clientId ? [p.clientId] : [])),
      ]);
      return {
        payouts: views(rows), reallocated, unallocatedSats: tx.unallocatedSats ?? 0, payoutConcurrency: config.payoutConcurrency,
        clientNames: Object.fromEntries(names.rows.map((r) => [r.id, r.name])),
      };
    },

    /**
     * Compensation: pending payouts become failed. Each open payout is first proven with LNbits
     * (activities/payout-release-proof.ts): paid → completed (never reversed); no invoice stored, or its invoice
     * proven unpayable (expired, failed in LNbits, never paid) → its client debit is restored; anything else
     * — an invoice that could still be paid (a timed-out attempt's pay request may still land), LNbits not
     * answering — → failed but the debit is KEPT, so the client's fiat cannot buy sats twice. "No payment
     * row" is never read as "not paid". The operator's retry (no re-debit) or cancel (which waits for the
     * proof) settles a kept debit.
     */
    async compensatePayouts(input: { transactionId: string; reason: string }): Promise<PayoutView[]> {
      const paid = new Set<string>();
      const unknown = new Set<string>();
      for (const p of await listPayments(pool, input.transactionId)) {
        if (p.status !== 'pending' && p.status !== 'failed') continue;
        const r = await proof.prove(p);
        if (r.kind === 'paid') paid.add(p.id);
        else if (r.kind !== 'unpayable') unknown.add(p.id);
      }
      if (unknown.size) log.warn({ transactionId: input.transactionId, payouts: [...unknown] }, 'payout may still be paid: debit kept until LNbits proves otherwise');
      return views(await failOpenPayouts(pool, input.transactionId, input.reason, paid, unknown));
    },

    /** Transaction → needs_attention and a critical alert (runbook scenario 3). */
    async markCashOutNeedsAttention(input: { transactionId: string; reason: string; occurrence: number; failedPayouts: number }): Promise<void> {
      const tx = await setTransactionStatus(pool, input.transactionId, 'needs_attention', input.reason);
      await raiseAlert(deps, {
        severity: 'critical',
        kind: 'cashout-needs-attention',
        dedupKey: `cashout-needs-attention:${tx.id}:${input.occurrence}`,
        message: `Cash-out ${tx.lamassuId} needs attention: ${input.failedPayouts} payout(s) not paid (${input.reason}). ` +
          `Retry (retryFailedPayouts) or cancel (cancelFailedPayouts) on workflow ${tx.workflowId}`,
        details: { lamassuId: tx.lamassuId, transactionId: tx.id, workflowId: tx.workflowId, failedPayouts: input.failedPayouts, reason: input.reason },
      });
    },

    /**
     * Operator cancel: failed payouts are closed as cancelled (their debit restored, their sats recorded as
     * the cash-out's cancelled_sats). Each one is proven with LNbits first: a paid one is completed
     * (re-debited) instead; one whose invoice could still be paid (not expired yet, or LNbits not answering)
     * makes this activity retry — the cancel waits for the proof rather than release a debit that may still
     * be spent. The transaction becomes completed if any sats were paid out, else failed.
     */
    async cancelCashOutPayouts(input: { transactionId: string; reason: string }): Promise<{ status: 'completed' | 'failed'; payouts: PayoutView[] }> {
      const paid = new Set<string>();
      for (const p of await listPayments(pool, input.transactionId)) {
        if (p.status !== 'failed') continue;
        const r = await proof.prove(p);
        if (r.kind === 'paid') paid.add(p.id);
        else if (r.kind !== 'unpayable') throw new Error(`payout ${p.id} may still be paid (${r.detail}): the cancel waits for LNbits' proof`);
      }
      const rows = await cancelFailedPayoutRows(pool, input.transactionId, input.reason, paid);
      const anyPaid = rows.some((p) => p.status === 'completed' && p.amountSats > 0);
      const status = anyPaid ? 'completed' : 'failed';
      await setTransactionStatus(pool, input.transactionId, status, anyPaid ? null : input.reason);
      return { status, payouts: views(rows) };
    },

    /**
     * Recovery (`satmachine tx resume`, the sweep): this run takes the cash-out over from `previousRunId`,
     * which is gone. Not adopted (another run holds it, or it is settled) → outcome duplicate: nothing moves.
     */
    async adoptCashOut(input: { transactionId: string; previousRunId: string | null; workflowId: string; runId: string }): Promise<RecordResult> {
      const r = await adoptCashOutTransaction(pool, input.transactionId, input.previousRunId, { workflowId: input.workflowId, runId: input.runId });
      if (r.adopted) {
        log.warn({ transactionId: input.transactionId, previousRunId: input.previousRunId, runId: input.runId }, 'cash-out adopted by a recovery run');
        return { outcome: 'recorded', transactionId: r.transaction.id, ownerWorkflowId: input.workflowId, ownerStatus: r.transaction.status };
      }
      return { outcome: 'duplicate', transactionId: r.transaction.id, ownerWorkflowId: r.transaction.workflowId, ownerStatus: r.transaction.status };
    },

    /**
     * Recovery, before anything is paid again: each pending payout's invoice is looked up in LNbits; one the
     * payer paid is completed (the run that paid it never got to record it).
     */
    async verifyCashOutPayouts(input: { transactionId: string }): Promise<PayoutView[]> {
      const payer = sourceAdminKey(deps);
      for (const p of await listPayments(pool, input.transactionId)) {
        if (p.status !== 'pending' || !p.paymentHash) continue;
        // Must be known: an unreachable LNbits makes this activity retry.
        if ((await lnbits.getPayment(payer, p.paymentHash))?.paid) await completePayment(pool, p.id);
      }
      return views(await listPayments(pool, input.transactionId));
    },

    /** Every payout completed → transaction completed. */
    async completeCashOut(input: { transactionId: string }): Promise<{ payouts: PayoutView[]; conservation?: ConservationResult }> {
      const rows = await listPayments(pool, input.transactionId);
      const open = rows.filter((p) => p.status !== 'completed');
      if (open.length) throw new LedgerStateError(`transaction ${input.transactionId}: ${open.length} payout(s) not completed`, 'status');
      await setTransactionStatus(pool, input.transactionId, 'completed');
      // Checked at once (issue 13); a problem alerts, it never undoes or fails the completion.
      const tx = await getTransaction(pool, input.transactionId);
      const conservation = await checkCashOutConservation(deps, lnbits, sourceAdminKey(deps), tx, rows).catch((err: unknown) => {
        log.warn({ transactionId: input.transactionId, err: err instanceof Error ? err.message : String(err) }, 'conservation check failed to run');
        return undefined;
      });
      await resolveAlerts(deps, { dedupKeyLike: `cashout-needs-attention:${input.transactionId}:%` }, 'satmachine', `cash-out ${tx.lamassuId} completed`).catch(() => []);
      return { payouts: views(rows), conservation };
    },
  });
}

export type CashOutActivities = ReturnType<typeof createCashOutActivities>;
