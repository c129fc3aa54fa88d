/**
 * The money-moving activities of a cash-out: one idempotent transfer per payment row (payPayment) and the
 * one-time superuser credit of the source wallet (fundSourceWallet). Ledger record before every LNbits
 * call; an ambiguous outcome is resolved by asking LNbits, never by paying again. A payout's invoice is
 * created once, with config.lnbits.invoiceExpirySeconds; it is replaced only when it can no longer be paid
 * (expired, or failed by LNbits, e.g. after a restart; never paid by the payer), the old hash kept in the ledger.
 *
 * Trust nothing we did not create (payout-proof.ts): the bolt11 we pay must decode (checksum, signature) to the
 * stored hash and the payout's amount, unexpired, and the recipient wallet (its own key) must list it unpaid.
 * The payout is completed only when, after the payment, the recipient's row is paid and the payer's row
 * succeeded for exactly the amount. Any disagreement is a PayoutDisagreementError (non-retryable, critical alert).
 * LNbits' rows are read through the payments list, which never changes their state (LnbitsClient.paymentRows).
 */
import { withHeartbeat } from './heartbeat';
import {
  attributeCredit,
  attributedCreditHashes,
  claimFundingCall,
  ensureFundingCredit,
  getPayoutRow,
  completePayment,
  notePaymentAttempt,
  replacePaymentInvoice,
  notePaymentError,
  payoutsHalted,
  setFundingStatus,
  setPaymentInvoice,
  type FundingRow,
} from '../adapters/ledger/cashout';
import { getClient } from '../adapters/ledger/clients';
import { raiseAlert } from '../adapters/alerts';
import { getTransaction } from '../adapters/ledger/transactions';
import type { LnbitsClient } from '../adapters/lnbits/client';
import { LnbitsAuthError, LnbitsRejectedError, LnbitsTransientError } from '../adapters/lnbits/errors';
import { CashOutConfigError, LedgerStateError, PayoutDisagreementError, PayoutRejectedError } from '../domain/errors';
import { checkInvoiceText, checkPayAnswer, incomingState, type Invoice, outgoingState, proofOf } from './payout-proof';
import { createPayoutInvoices, type Payout } from './payout-invoice';
import type { ActivityDeps } from './deps';

/** A payout as the workflow and the `status` query show it: ids, amounts, state; never a key. */
export interface PayoutView {
  id: string;
  kind: 'client' | 'commission';
  clientId: string | null;
  amountSats: number;
  fiatDebitMinor: number;
  status: 'pending' | 'completed' | 'failed' | 'cancelled';
  attempts: number;
  lastError: string | null;
  paymentHash: string | null;
}

/** A transfer's result: the payout as it now stands, or the operator halt (nothing was sent to LNbits). */
export type PayOutcome = { payout: PayoutView } | { halted: string };

export const toView = (p: {
  id: string; kind: 'client' | 'commission'; clientId: string | null; amountSats: number; fiatDebit: number;
  status: PayoutView['status']; attempts: number; lastError: string | null; paymentHash: string | null;
}): PayoutView => ({
  id: p.id, kind: p.kind, clientId: p.clientId, amountSats: p.amountSats, fiatDebitMinor: p.fiatDebit,
  status: p.status, attempts: p.attempts, lastError: p.lastError, paymentHash: p.paymentHash,
});

const message = (err: unknown) => (err instanceof Error ? `${err.name}: ${err.message}` : String(err));

/** The payer's key; a transfer without it cannot start. */
export function sourceAdminKey(deps: ActivityDeps): string {
  const key = deps.config.lnbits.source.adminKey;
  if (!key) throw new CashOutConfigError('lnbits.source.adminKey is not configured', 'lnbits.source.adminKey');
  return key;
}

export function createPayoutActivities(deps: ActivityDeps, lnbits: LnbitsClient) {
  const { config, pool, log } = deps;
  const { recipientInvoiceKey, verifiedNewInvoice, recipientRows } = createPayoutInvoices(deps, lnbits);

  /** The invoice as the ledger holds it (both columns are set together, and guarded by the database). */
  const invoiceOf = (p: Payout): Invoice => ({ paymentHash: p.paymentHash!, bolt11: p.bolt11!, amountSats: p.amountSats });

  /**
   * The funding credit's LNbits row: an "Admin credit" of the amount into the source wallet, made since the
   * call was claimed (a minute of clock skew allowed), not matched to another credit. True once matched.
   */
  async function matchCredit(row: FundingRow): Promise<boolean> {
    if (row.lnbitsPaymentHash) return true;
    const since = (row.claimedAt?.getTime() ?? 0) - 60_000;
    const credits = (await lnbits.listAdminCredits(sourceAdminKey(deps), row.amountSats)).filter((c) => c.status === 'success' && c.at.getTime() >= since);
    const taken = await attributedCreditHashes(pool, credits.map((c) => c.paymentHash));
    for (const c of credits.reverse()) {
      if (taken.has(c.paymentHash)) continue;
      if (await attributeCredit(pool, row.id, c.paymentHash)) return true;
    }
    return false;
  }

  /**
   * An expired invoice whose incoming row is still pending: LNbits marks it failed (expired) when that row is
   * looked up by hash, which also makes it unpayable, so that no other attempt can pay it after we replaced it.
   * This is the one state-changing look-up we make, on purpose. Returns the row's state afterwards.
   */
  async function expireInLnbits(recipientKey: string, inv: Invoice): Promise<string> {
    const s = await lnbits.getPayment(recipientKey, inv.paymentHash);
    return s === null ? 'none' : s.paid ? 'success' : s.status;
  }

  /** The payout's own record of a disagreement: a critical alert naming client, amount and what disagreed. */
  async function alertDisagreement(paymentId: string, err: PayoutDisagreementError): Promise<void> {
    const p = await getPayoutRow(pool, paymentId);
    const tx = await getTransaction(pool, p.transactionId);
    const who = p.kind === 'commission' ? 'the commission wallet' : `client ${(await getClient(pool, p.clientId!).catch(() => null))?.name ?? '?'} (${p.clientId})`;
    await raiseAlert(deps, {
      severity: 'critical',
      kind: 'payout-disagreement',
      dedupKey: `payout-disagreement:${paymentId}:${p.paymentHash ?? 'none'}`,
      message: `Payout of ${p.amountSats} sats to ${who} for cash-out ${tx.lamassuId} held: LNbits and the ledger disagree — ${err.disagreement}. ` +
        'Nothing was marked paid; see the runbook, "LNbits disagrees with the ledger"',
      details: { paymentId, clientId: p.clientId, kind: p.kind, amountSats: p.amountSats, lamassuId: tx.lamassuId, paymentHash: p.paymentHash, disagreement: err.disagreement },
    });
  }

  /**
   * A stored invoice, before paying it: its text must be ours, and both wallets say where it stands (two reads,
   * in parallel). Paid already (both rows) → the completed payout; unpayable and never paid → replaced by a
   * verified new invoice; anything that does not add up → PayoutDisagreementError.
   */
  async function storedInvoiceToPay(p: Payout, recipientKey: string, payer: string): Promise<{ paid: PayoutView } | { invoice: Invoice }> {
    const paymentId = p.id;
    const inv = invoiceOf(p);
    const { expired } = checkInvoiceText(paymentId, inv, Date.now());
    const [incoming, outgoing] = await Promise.all([recipientRows(p, recipientKey, inv.paymentHash), lnbits.paymentRows(payer, inv.paymentHash)]);
    let inState: string = incomingState(paymentId, inv, incoming);
    const outState = outgoingState(paymentId, inv, outgoing);
    if (inState === 'success' && outState === 'success') return { paid: toView(await completePayment(pool, paymentId)) };
    if (inState === 'success' || outState === 'success') {
      throw new PayoutDisagreementError(`payment ${paymentId}: recipient row ${inState}, payer row ${outState}`, `the recipient wallet's row is ${inState} but the payer wallet's row is ${outState} for hash ${inv.paymentHash}`);
    }
    if (outState === 'pending') throw new Error(`payment ${paymentId}: LNbits shows the payment of ${inv.paymentHash} in flight; not paying again, retrying`);
    if (inState === 'none' && (await clientMovedSince(p))) {
      // Never paid (no success, nothing in flight: checked above) and issued by the client's former wallet.
      const next = await verifiedNewInvoice(p, recipientKey);
      const stored = await replacePaymentInvoice(pool, paymentId, inv.paymentHash, next.paymentHash, next.bolt11);
      if (stored.paymentHash !== next.paymentHash) throw new Error(`payment ${paymentId}: another attempt replaced invoice ${inv.paymentHash} first; retrying with it`);
      log.info({ paymentId, replacedPaymentHash: inv.paymentHash, paymentHash: next.paymentHash }, "invoice of the client's former wallet replaced");
      return { invoice: next };
    }
    if (inState === 'none') throw new PayoutDisagreementError(`payment ${paymentId}: invoice not in the recipient wallet`, `the recipient wallet does not list the stored invoice ${inv.paymentHash}`);
    if (inState === 'pending' && expired) inState = await expireInLnbits(recipientKey, inv);
    if (inState === 'pending' && expired) throw new Error(`payment ${paymentId}: invoice ${inv.paymentHash} expired but LNbits still lists it pending; retrying`);
    if (inState === 'pending') return { invoice: inv };
    if (inState !== 'failed') throw new PayoutDisagreementError(`payment ${paymentId}: recipient row ${inState}`, `the recipient wallet lists the stored invoice as ${inState}`);
    // Never paid (payer: no success, nothing in flight) and unpayable (LNbits failed it: expired, or lost by a
    // restart of its funding source): a new invoice, the old hash kept in the payout's history.
    const next = await verifiedNewInvoice(p, recipientKey);
    const stored = await replacePaymentInvoice(pool, paymentId, inv.paymentHash, next.paymentHash, next.bolt11);
    if (stored.paymentHash !== next.paymentHash) throw new Error(`payment ${paymentId}: another attempt replaced invoice ${inv.paymentHash} first; retrying with it`);
    log.info({ paymentId, replacedPaymentHash: inv.paymentHash, paymentHash: next.paymentHash }, 'failed unpaid invoice replaced');
    return { invoice: next };
  }

  /**
   * The client moved to another wallet (`clients set-wallet`, recorded in operator_events) after this payout
   * was created: its stored invoice was issued by the OLD wallet, so the new wallet not listing it is expected,
   * not a disagreement. Such an invoice, never paid, is replaced by one of the new wallet — a retry must never
   * pay the old wallet.
   */
  async function clientMovedSince(p: Payout): Promise<boolean> {
    if (p.kind !== 'client' || !p.clientId) return false;
    const moved = await pool.query(
      `SELECT 1 FROM satoshimachine.operator_events WHERE action = 'client-wallet-replaced' AND details->>'clientId' = $1 AND at >= $2 LIMIT 1`,
      [p.clientId, p.createdAt],
    );
    return moved.rows.length > 0;
  }

  async function transfer(paymentId: string): Promise<PayoutView | { halted: string }> {
    const p = await getPayoutRow(pool, paymentId);
    if (p.status === 'completed') return toView(p);
    if (p.status !== 'pending') throw new LedgerStateError(`payment ${paymentId} is ${p.status}: reserve it again before paying`, 'status');
    // The operator's halt (`satmachine emergency stop`) is checked here, in the same attempt as the transfer:
    // no separate round trip per payout, and nothing reaches LNbits once the halt is on.
    const halt = await payoutsHalted(pool);
    if (halt.halted) return { halted: halt.reason ?? 'payouts halted' };
    const payer = sourceAdminKey(deps);
    await notePaymentAttempt(pool, paymentId);
    const recipientKey = await recipientInvoiceKey(p);

    let inv: Invoice;
    if (!p.paymentHash || !p.bolt11) {
      const fresh = await verifiedNewInvoice(p, recipientKey);
      // Stored before paying; if another attempt stored one first, that one is the payout's: start over with it.
      const stored = await setPaymentInvoice(pool, paymentId, fresh.paymentHash, fresh.bolt11);
      if (stored.paymentHash !== fresh.paymentHash) throw new Error(`payment ${paymentId}: another attempt stored its invoice first; retrying with it`);
      inv = fresh;
    } else {
      const r = await storedInvoiceToPay(p, recipientKey, payer);
      if ('paid' in r) return r.paid;
      inv = r.invoice;
    }

    const outcome = await lnbits.payInvoice(payer, inv.bolt11);
    checkPayAnswer(paymentId, inv, outcome);
    // Whatever LNbits answered, only both wallets' rows prove the payment (two reads, in parallel).
    const [incoming, outgoing] = await Promise.all([recipientRows(p, recipientKey, inv.paymentHash), lnbits.paymentRows(payer, inv.paymentHash)]);
    if (proofOf(paymentId, inv, outcome, incoming, outgoing) === 'paid') return toView(await completePayment(pool, paymentId));
    if (outcome.kind === 'failed') throw new PayoutRejectedError(`LNbits refused payment ${paymentId}: ${outcome.detail}`, 'payment');
    throw new Error(`payment ${paymentId}: outcome ${outcome.kind} (${'detail' in outcome ? outcome.detail : ''}); not proven paid yet, retrying`);
  }

  return {
    /**
     * Pay one payout row, idempotently (see the module comment). Completed → returns at once. Business
     * failures (LnbitsAuthError, LnbitsInsufficientBalanceError, PayoutRejectedError, …) are non-retryable.
     */
    async payPayment(paymentId: string): Promise<PayOutcome> {
      return withHeartbeat(async () => {
        try {
          const r = await transfer(paymentId);
          return 'halted' in r ? r : { payout: r };
        } catch (err) {
          await notePaymentError(pool, paymentId, message(err)).catch(() => undefined);
          if (err instanceof PayoutDisagreementError) await alertDisagreement(paymentId, err).catch((e: unknown) => log.error({ paymentId, err: message(e) }, 'disagreement alert failed'));
          log.warn({ paymentId, err: message(err) }, 'payout attempt failed');
          throw err;
        }
      });
    },

    /**
     * fundingMode superuser-credit: credit crypto_atoms to the source wallet exactly once per cash-out. The
     * funding row is written pending before the call, the call claimed (attempts 0 → 1, claimed_at) in one
     * statement, the row marked done after. LNbits 1.6.2's PUT /users/api/v1/balance takes only {id, amount}:
     * its "Admin credit" row cannot carry the cash-out id, so the credit is matched to its LNbits row here
     * (funding_credits.lnbits_payment_hash, one row per credit) and looked up that way when the outcome is
     * unknown (a crash or timeout around the call): a matching unmatched credit of the amount made since the
     * claim → credited; none, once no request of ours can still land (claim + request timeout + a minute) →
     * not credited, and credited again; a connection refused (nothing sent) → not credited at once. Only
     * while LNbits cannot answer does this stay undecided (retried; the operator may still answer with
     * retryFailedPayouts { funding }).
     */
    async fundSourceWallet(input: { transactionId: string; decision?: 'credited' | 'not-credited' }): Promise<{ status: 'skipped' | 'done'; amountSats: number }> {
      if (config.fundingMode !== 'superuser-credit') return { status: 'skipped', amountSats: 0 };
      const token = config.lnbits.superuserToken;
      if (!token) throw new CashOutConfigError('lnbits.superuserToken is required by fundingMode superuser-credit', 'lnbits.superuserToken');
      const tx = await getTransaction(pool, input.transactionId);
      const walletId = config.lnbits.source.id ?? (await lnbits.getWallet(sourceAdminKey(deps))).id;
      if (!walletId) throw new CashOutConfigError('the source wallet id is unknown (lnbits.source.id)', 'lnbits.source.id');
      const amountSats = Number(tx.cryptoAtoms);
      const row = await ensureFundingCredit(pool, tx.id, walletId, amountSats);
      if (row.status === 'done') return { status: 'done', amountSats };
      if (row.status === 'needs_attention' || (row.status === 'pending' && row.attempts > 0)) {
        if (input.decision === 'credited') {
          await setFundingStatus(pool, row.id, 'done', 'operator: credited');
          return { status: 'done', amountSats };
        }
        if (input.decision !== 'not-credited') {
          // Looked up in LNbits (throws while LNbits cannot answer: retried).
          if (await matchCredit(row)) {
            await setFundingStatus(pool, row.id, 'done', 'credit found in LNbits');
            return { status: 'done', amountSats };
          }
          const landBy = (row.claimedAt?.getTime() ?? 0) + config.lnbits.requestTimeoutMs + 60_000;
          if (Date.now() < landBy) throw new Error(`source wallet credit of ${amountSats} sats for ${tx.lamassuId}: not in LNbits yet; looked up again until ${new Date(landBy).toISOString()}`);
          log.warn({ transactionId: tx.id, amountSats }, 'no LNbits credit matches the claimed call: not credited, crediting again');
        }
        await setFundingStatus(pool, row.id, 'pending', input.decision === 'not-credited' ? 'operator: not credited' : 'not credited (looked up in LNbits)');
      }
      if (!(await claimFundingCall(pool, row.id))) throw new Error(`source wallet credit for ${tx.lamassuId}: claimed concurrently; looked up on the next attempt`);
      try {
        await lnbits.creditWallet(token, row.walletId, amountSats);
      } catch (err) {
        // LNbits refused before crediting, or the connection was refused (nothing sent): safe to try again (attempts back to 0).
        if (err instanceof LnbitsAuthError || err instanceof LnbitsRejectedError || (err instanceof LnbitsTransientError && /ECONNREFUSED/.test(err.message))) {
          await setFundingStatus(pool, row.id, 'pending', message(err));
          throw err;
        }
        // Outcome unknown: the next attempt looks the credit up in LNbits.
        throw new Error(`source wallet credit outcome unknown (${message(err)}): looked up in LNbits on the next attempt`);
      }
      await setFundingStatus(pool, row.id, 'done');
      await matchCredit({ ...row, claimedAt: row.claimedAt ?? new Date(Date.now() - 60_000) }).catch(() => false); // best effort: the audit link
      log.info({ transactionId: tx.id, amountSats }, 'source wallet credited');
      return { status: 'done', amountSats };
    },
  };
}
