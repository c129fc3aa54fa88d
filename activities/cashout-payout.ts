/**
 * The money-moving activities of a cash-out: one idempotent transfer per payment row (payPayment) and the
 * one-time superuser credit of the source wallet (fundSourceWallet). Ledger record before every LNbits
 * call; an ambiguous outcome is resolved by asking LNbits, never by paying again. A payout's invoice is
 * created once, with config.lnbits.invoiceExpirySeconds; it is replaced only when it can no longer be paid
 * (expired, reported failed by LNbits, never paid by the payer), the old hash kept in the ledger.
 */
import { Context } from '@temporalio/activity';
import {
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
} from '../adapters/ledger/cashout';
import { balanceAfterPayoutDebit } from '../adapters/ledger/balances';
import { getClientInvoiceKey } from '../adapters/ledger/clients';
import { recordOperatorEvent } from '../adapters/ledger/operator-control';
import { raiseAlert } from '../adapters/alerts';
import { getTransaction } from '../adapters/ledger/transactions';
import { decodeBolt11 } from '../adapters/lnbits/bolt11';
import type { LnbitsClient } from '../adapters/lnbits/client';
import { LnbitsAuthError, LnbitsRejectedError } from '../adapters/lnbits/errors';
import { formatDecimal, roundHalfAwayFromZero } from '../domain/decimal';
import { CashOutConfigError, FundingNeedsAttentionError, LedgerStateError, PayoutRejectedError } from '../domain/errors';
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

/** Heartbeats while `fn` runs, so a killed worker's transfer is retried after heartbeatTimeout, not startToClose. */
async function withHeartbeat<T>(fn: () => Promise<T>): Promise<T> {
  const ctx = Context.current();
  ctx.heartbeat();
  const timer = setInterval(() => ctx.heartbeat(), 1_000);
  try {
    return await fn();
  } finally {
    clearInterval(timer);
  }
}

const message = (err: unknown) => (err instanceof Error ? `${err.name}: ${err.message}` : String(err));

/** The payer's key; a transfer without it cannot start. */
export function sourceAdminKey(deps: ActivityDeps): string {
  const key = deps.config.lnbits.source.adminKey;
  if (!key) throw new CashOutConfigError('lnbits.source.adminKey is not configured', 'lnbits.source.adminKey');
  return key;
}

export function createPayoutActivities(deps: ActivityDeps, lnbits: LnbitsClient) {
  const { config, pool, log } = deps;

  /** The memo a client reads in its wallet: sats, the fiat that bought them and the cost basis per BTC. */
  function memoOf(p: { kind: string; amountSats: number; fiatDebit: number }, fiatCode: string, lamassuId: string, remainingFiatMinor: number | null = null): string {
    if (p.kind === 'commission') return `Satoshi Machine commission: ${p.amountSats} sats (Lamassu ${lamassuId})`;
    const decimals = config.lamassu.fiatDecimals;
    const fiat = formatDecimal({ coefficient: BigInt(p.fiatDebit), scale: decimals });
    // fiat per BTC = fiatDebit / 10^decimals × 10^8 / sats, to whole fiat units.
    const basis = roundHalfAwayFromZero(BigInt(p.fiatDebit) * 100_000_000n, BigInt(p.amountSats) * 10n ** BigInt(decimals));
    const remaining = remainingFiatMinor === null ? '' : `; remaining balance ${formatDecimal({ coefficient: BigInt(remainingFiatMinor), scale: decimals })} ${fiatCode}`;
    return `Satoshi Machine DCA: ${p.amountSats} sats for ${fiat} ${fiatCode} (cost basis ${basis} ${fiatCode}/BTC)${remaining}`;
  }

  async function recipientInvoiceKey(p: { kind: string; clientId: string | null }): Promise<string> {
    if (p.kind === 'client') return (await getClientInvoiceKey(pool, p.clientId!, encryptionKey())).invoiceKey;
    const key = config.lnbits.commission.invoiceKey;
    if (!key) throw new CashOutConfigError('lnbits.commission.invoiceKey is not configured', 'lnbits.commission.invoiceKey');
    return key;
  }

  function encryptionKey(): string {
    if (!config.encryptionKey) throw new CashOutConfigError('encryptionKey is not configured', 'encryptionKey');
    return config.encryptionKey;
  }

  async function newInvoice(p: { id: string; kind: string; clientId: string | null; amountSats: number; fiatDebit: number; transactionId: string }) {
    const tx = await getTransaction(pool, p.transactionId);
    try {
      return await lnbits.createInvoice(await recipientInvoiceKey(p), {
        amountSats: p.amountSats,
        memo: memoOf(p, tx.fiatCode, tx.lamassuId, p.kind === 'client' ? await balanceAfterPayoutDebit(pool, p.id) : null),
        extra: { tag: 'satmachine', lamassuTxId: tx.lamassuId, paymentId: p.id, workflowId: tx.workflowId },
        expirySeconds: config.lnbits.invoiceExpirySeconds,
      });
    } catch (err) {
      if (err instanceof LnbitsAuthError && p.kind === 'client' && p.clientId) await pauseClientWithRejectedKey(p.clientId, tx.lamassuId, err);
      throw err;
    }
  }

  /**
   * LNbits rejects the client's invoice key (wallet deleted, key rotated): the client is paused so that the
   * next cash-outs leave it out instead of each failing on it; the operator fixes the key
   * (`satmachine clients set-key`) and sets it active again. This payout still fails (and is compensated).
   */
  async function pauseClientWithRejectedKey(clientId: string, lamassuId: string, err: LnbitsAuthError): Promise<void> {
    const before = await setClientStatusIfActive(clientId);
    if (!before) return;
    await recordOperatorEvent(pool, 'satmachine', 'client-status', { clientId, from: 'active', to: 'paused', reason: `LNbits rejected the invoice key: ${err.message}`, lamassuId });
    await raiseAlert(deps, {
      severity: 'high',
      kind: 'client-wallet-rejected',
      dedupKey: `client-wallet-rejected:${clientId}`,
      message: `LNbits rejected client ${clientId}'s invoice key (${err.message}); the client is paused until the key is fixed (satmachine clients set-key, then set-status active)`,
      details: { clientId, lamassuId },
    });
  }

  /** active → paused in one statement: of concurrent payouts to this client, one records and alerts. */
  async function setClientStatusIfActive(clientId: string): Promise<boolean> {
    const { rowCount } = await pool.query(`UPDATE satoshimachine.clients SET status = 'paused' WHERE id = $1 AND status = 'active'`, [clientId]);
    return (rowCount ?? 0) > 0;
  }

  /**
   * The stored invoice can never be paid any more: its expiry (from the bolt11) has passed, the payer has no
   * successful or in-flight payment of it (`payerRow`), and LNbits reports the recipient's incoming row
   * failed. LNbits 1.6.2 pays an expired internal invoice while that row is still pending; looking it up
   * with the recipient's key after the expiry is what marks it failed, after which LNbits refuses to pay it.
   * Only asked after the expiry: before it, a lookup could have LNbits ask a real funding source about an
   * internal invoice. A recipient key that no longer owns the row (null) keeps the invoice.
   */
  async function invoiceUnpayable(p: { kind: string; clientId: string | null; paymentHash: string; bolt11: string }, payerRow: { paid: boolean; status: string } | null): Promise<boolean> {
    if (payerRow && (payerRow.paid || payerRow.status !== 'failed')) return false;
    if (decodeBolt11(p.bolt11).expiresAt.getTime() > Date.now()) return false;
    const incoming = await lnbits.getPayment(await recipientInvoiceKey(p), p.paymentHash);
    return incoming !== null && !incoming.paid && incoming.status === 'failed';
  }

  async function transfer(paymentId: string): Promise<PayoutView | { halted: string }> {
    let p = await getPayoutRow(pool, paymentId);
    if (p.status === 'completed') return toView(p);
    if (p.status !== 'pending') throw new LedgerStateError(`payment ${paymentId} is ${p.status}: reserve it again before paying`, 'status');
    // The operator's halt (`satmachine emergency stop`) is checked here, in the same attempt as the transfer:
    // no separate round trip per payout, and nothing reaches LNbits once the halt is on.
    const halt = await payoutsHalted(pool);
    if (halt.halted) return { halted: halt.reason ?? 'payouts halted' };
    const payer = sourceAdminKey(deps);
    await notePaymentAttempt(pool, paymentId);

    let fresh = false;
    if (!p.paymentHash || !p.bolt11) {
      const inv = await newInvoice(p);
      // Stored before paying; if another attempt stored one first, that one is the payout's invoice.
      p = { ...p, ...(await setPaymentInvoice(pool, paymentId, inv.paymentHash, inv.bolt11)) };
      fresh = p.paymentHash === inv.paymentHash;
    }
    // An invoice this attempt just created cannot have been paid yet: only a stored one needs the check.
    const paidAlready = fresh ? null : await lnbits.getPayment(payer, p.paymentHash!);
    if (paidAlready?.paid) return toView(await completePayment(pool, paymentId));
    // Never a second invoice for a payout whose invoice could still be paid; an expired, failed one is replaced.
    if (!fresh && (await invoiceUnpayable({ ...p, paymentHash: p.paymentHash!, bolt11: p.bolt11! }, paidAlready))) {
      const old = p.paymentHash!;
      const inv = await newInvoice(p);
      p = { ...p, ...(await replacePaymentInvoice(pool, paymentId, old, inv.paymentHash, inv.bolt11)) };
      // Lost the compare-and-set to another attempt: its invoice is the payout's (paying it twice is refused by LNbits).
      log.info({ paymentId, replacedPaymentHash: old, paymentHash: p.paymentHash }, 'expired unpaid invoice replaced');
    }
    const hash = p.paymentHash!;

    const outcome = await lnbits.payInvoice(payer, p.bolt11!);
    if (outcome.kind === 'paid') return toView(await completePayment(pool, paymentId));
    if (outcome.kind === 'failed') throw new PayoutRejectedError(`LNbits refused payment ${paymentId}: ${outcome.detail}`, 'payment');
    // pending / unknown (timeout, 5xx, "Internal invoice already paid."): the payer's row decides.
    const status = await lnbits.getPayment(payer, hash);
    if (status?.paid) return toView(await completePayment(pool, paymentId));
    throw new Error(`payment ${paymentId}: outcome ${outcome.kind} (${outcome.detail}); not paid yet, retrying`);
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
          log.warn({ paymentId, err: message(err) }, 'payout attempt failed');
          throw err;
        }
      });
    },

    /**
     * fundingMode superuser-credit: credit crypto_atoms to the source wallet exactly once per cash-out.
     * The funding row is written pending before the call and marked done after. The call is claimed
     * (attempts 0 → 1) in one statement before it is made; a retry that finds it claimed but not done
     * cannot know whether LNbits credited (crash or timeout around the call), so it marks the row
     * needs_attention and stops (FundingNeedsAttentionError): the operator checks the source wallet's
     * payments ("Admin credit" rows) and answers with retryFailedPayouts { funding: 'credited' | 'not-credited' }.
     * Never a second credit without that answer.
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
          await setFundingStatus(pool, row.id, 'needs_attention', 'credit call may have happened; operator must decide');
          throw new FundingNeedsAttentionError(`source wallet credit of ${amountSats} sats for ${tx.lamassuId} is uncertain`, 'funding');
        }
        await setFundingStatus(pool, row.id, 'pending', 'operator: not credited');
      }
      if (!(await claimFundingCall(pool, row.id))) {
        await setFundingStatus(pool, row.id, 'needs_attention', 'credit call claimed concurrently');
        throw new FundingNeedsAttentionError(`source wallet credit for ${tx.lamassuId} is uncertain`, 'funding');
      }
      try {
        await lnbits.creditWallet(token, row.walletId, amountSats);
      } catch (err) {
        if (err instanceof LnbitsAuthError || err instanceof LnbitsRejectedError) {
          // LNbits refused before crediting: safe to try again later (attempts back to 0).
          await setFundingStatus(pool, row.id, 'pending', message(err));
          throw err;
        }
        await setFundingStatus(pool, row.id, 'needs_attention', message(err));
        throw new FundingNeedsAttentionError(`source wallet credit outcome unknown: ${message(err)}`, 'funding');
      }
      await setFundingStatus(pool, row.id, 'done');
      log.info({ transactionId: tx.id, amountSats }, 'source wallet credited');
      return { status: 'done', amountSats };
    },
  };
}
