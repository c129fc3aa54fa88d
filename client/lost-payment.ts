/**
 * `satmachine tx settle-lost-payment` (chaos defect 9), its ledger and LNbits part: LNbits 1.6.2, killed between
 * the two rows of an internal payment, can keep the source wallet's outgoing row success (the source is
 * debited) and fail the recipient's incoming row at its restart (the recipient never got the sats). The worker
 * holds such a payout (PayoutDisagreementError, failed with its fiat debit kept, cash-out needs_attention).
 *
 * Accepted only for exactly that signature, each wallet read with its own key (rows that a read never changes,
 * LnbitsClient.paymentRows): the payout's stored invoice decodes to its hash and amount; the payer's rows hold
 * ONE success, for exactly the amount, of that bolt11, nothing in flight; the recipient's one incoming row of
 * it is failed; no earlier invoice of the payout reached the recipient; the ledger holds the payout failed
 * with its debit kept, its cash-out needs_attention. Anything else is refused, naming what differs, and
 * nothing changes. Then, in this order: the loss is recorded (lnbits_losses + operator_events, one row per
 * hash), a new invoice is created and verified in the recipient's wallet, and it replaces the lost one (the
 * lost hash kept in replaced_payment_hashes). The caller (client/commands/tx.ts) then lets the cash-out's
 * workflow pay it through its normal path (`retryFailedPayouts`, or a recovery run when the workflow is gone).
 */
import { resolveAlerts } from '../adapters/alerts';
import { getPayoutRow } from '../adapters/ledger/cashout';
import { lossesOfPayout, recordLnbitsLoss, replaceLostInvoice, type LnbitsLoss, type LossEvidence } from '../adapters/ledger/lnbits-losses';
import type { TransactionRow } from '../adapters/ledger/transactions';
import type { PaymentRecord } from '../adapters/lnbits/client';
import { createPayoutInvoices, type Payout } from '../activities/payout-invoice';
import { checkInvoiceText, incomingState, outgoingState, type Invoice } from '../activities/payout-proof';
import { LedgerNotFoundError, PayoutDisagreementError } from '../domain/errors';
import type { Context } from './context';
import { findTransaction } from './ledger-views';
import { CliError, EXIT } from './output';

export type SettleResult =
  /** The loss is recorded (now, or by an earlier run that stopped before the replacement) and the payout has a new invoice. */
  | { outcome: 'replaced'; tx: TransactionRow; payout: Payout; loss: LnbitsLoss; lossCreated: boolean }
  /** An earlier run recorded the loss and replaced the invoice: nothing changed now. */
  | { outcome: 'already-settled'; tx: TransactionRow; payout: Payout; loss: LnbitsLoss };

const refuse = (what: string, code: number = EXIT.usage): never => {
  throw new CliError(`refused, nothing changed: ${what}`, code);
};

const rowOf = (r: PaymentRecord) => ({ walletId: r.walletId, checkingId: r.checkingId, status: r.status, amountMsat: r.amountMsat.toString() });

/** What differs from the lost-payment signature, or the two rows as evidence. */
async function verifySignature(ctx: Context, p: Payout, recipientKey: string): Promise<{ problems: string[]; evidence?: Omit<LossEvidence, 'alertId'> }> {
  const lnbits = ctx.lnbits();
  const payer = ctx.config.lnbits.source.adminKey;
  if (!payer) return refuse('lnbits.source.adminKey is not configured: the payer wallet cannot be read');
  const inv: Invoice = { paymentHash: p.paymentHash!, bolt11: p.bolt11!, amountSats: p.amountSats };
  const problems: string[] = [];
  const noted = <T>(fn: () => T): T | undefined => {
    try {
      return fn();
    } catch (err) {
      if (!(err instanceof PayoutDisagreementError)) throw err;
      problems.push(err.disagreement);
      return undefined;
    }
  };
  // Expiry does not matter here: the invoice was paid (or not) long ago.
  noted(() => checkInvoiceText(p.id, inv, Date.now()));
  const [incoming, outgoing] = await Promise.all([lnbits.paymentRows(recipientKey, inv.paymentHash), lnbits.paymentRows(payer, inv.paymentHash)]);
  const inState = noted(() => incomingState(p.id, inv, incoming));
  const outState = noted(() => outgoingState(p.id, inv, outgoing));
  if (inState !== undefined && inState !== 'failed') problems.push(`the recipient wallet's row of ${inv.paymentHash} is ${inState}, not failed`);
  if (outState !== undefined && outState !== 'success') problems.push(`the payer wallet's row of ${inv.paymentHash} is ${outState}, not success`);
  if (outgoing.some((r) => r.amountMsat < 0n && r.status === 'pending')) problems.push(`the payer wallet has a payment of ${inv.paymentHash} in flight`);
  const paid = outgoing.find((r) => r.amountMsat < 0n && r.status === 'success');
  if (paid && paid.bolt11.toLowerCase() !== inv.bolt11.toLowerCase()) problems.push(`the payer wallet's successful row of ${inv.paymentHash} paid another bolt11 than the stored one`);
  // An earlier invoice of this payout that reached the recipient would make the payout paid already.
  for (const h of p.replacedPaymentHashes) {
    if ((await lnbits.paymentRows(recipientKey, h)).some((r) => r.amountMsat > 0n && r.status === 'success')) problems.push(`the recipient wallet received the payout's earlier invoice ${h}`);
  }
  const received = incoming.find((r) => r.amountMsat > 0n);
  if (problems.length || !paid || !received) return { problems };
  return { problems, evidence: { payer: rowOf(paid), recipient: rowOf(received) } };
}

/** The open critical alert the worker raised for this hash (its id goes into the evidence). */
async function disagreementAlertId(ctx: Context, p: Payout): Promise<string | null> {
  const { rows } = await ctx.pool().query(`SELECT id::text FROM satoshimachine.alerts WHERE dedup_key = $1 ORDER BY id DESC LIMIT 1`, [`payout-disagreement:${p.id}:${p.paymentHash}`]);
  return (rows[0]?.id as string | undefined) ?? null;
}

export async function settleLostPayment(ctx: Context, input: { lamassuId: string; paymentId: string; actor: string; note: string }): Promise<SettleResult> {
  const pool = ctx.pool();
  const tx = await findTransaction(pool, input.lamassuId.trim());
  let p: Payout;
  try {
    p = await getPayoutRow(pool, input.paymentId);
  } catch (err) {
    if (err instanceof LedgerNotFoundError) throw new CliError(`payment ${input.paymentId} not found in the ledger`, EXIT.notFound);
    throw err;
  }
  if (p.transactionId !== tx.id) refuse(`payment ${p.id} is not a payout of cash-out ${tx.lamassuId}`);
  const losses = await lossesOfPayout(pool, p.id);
  const pendingLoss = losses.find((l) => l.lostPaymentHash === p.paymentHash);
  const settled = losses.find((l) => p.replacedPaymentHashes.includes(l.lostPaymentHash));
  // The ledger holds the payout exactly as the worker leaves a disagreement: failed, debit kept, cash-out waiting.
  const held = tx.status === 'needs_attention' && p.status === 'failed' && p.debitHeld && p.paymentHash !== null && p.bolt11 !== null;
  if (!pendingLoss && settled && !held) return { outcome: 'already-settled', tx, payout: p, loss: settled };

  if (tx.status !== 'needs_attention') refuse(`cash-out ${tx.lamassuId} is ${tx.status}, not needs_attention`);
  if (p.status !== 'failed') refuse(`payout ${p.id} is ${p.status}, not failed`);
  if (!p.debitHeld) refuse(`payout ${p.id} no longer holds its client's fiat debit (released): not a payout held for a disagreement`);
  if (!p.paymentHash || !p.bolt11) refuse(`payout ${p.id} has no stored invoice`);

  const invoices = createPayoutInvoices({ config: ctx.config, pool, log: ctx.log }, ctx.lnbits());
  const recipientKey = await invoices.recipientInvoiceKey(p);
  const { problems, evidence } = await verifySignature(ctx, p, recipientKey);
  // An earlier run replaced the lost invoice but stopped before the retry: the new invoice stands, the caller
  // retries. (Only a new invoice LNbits lost too, showing the signature itself, is recorded as a second loss.)
  if (settled && !pendingLoss && (problems.length || !evidence)) return { outcome: 'already-settled', tx, payout: p, loss: settled };
  if (problems.length || !evidence) refuse(`LNbits does not show a payment it lost for payout ${p.id} (hash ${p.paymentHash}): ${problems.join('; ') || 'rows missing'}`, EXIT.findings);

  // Recorded before anything else changes (idempotent on the hash: an earlier run's row is kept as it is).
  const { loss, created } = pendingLoss
    ? { loss: pendingLoss, created: false }
    : await recordLnbitsLoss(pool, {
        paymentId: p.id, transactionId: tx.id, clientId: p.clientId, lostPaymentHash: p.paymentHash!, amountSats: p.amountSats,
        evidence: { ...evidence!, alertId: await disagreementAlertId(ctx, p) }, note: input.note, recordedBy: input.actor,
      });

  const next = await invoices.verifiedNewInvoice(p, recipientKey);
  const stored = await replaceLostInvoice(pool, p.id, loss.lostPaymentHash, next.paymentHash, next.bolt11);
  if (stored.paymentHash !== next.paymentHash) {
    throw new CliError(`payout ${p.id}: its invoice changed meanwhile (now ${stored.paymentHash ?? 'none'}, ${stored.status}); the loss is recorded, nothing was paid — run the command again`, EXIT.findings);
  }
  ctx.log.info({ paymentId: p.id, lostPaymentHash: loss.lostPaymentHash, paymentHash: next.paymentHash }, 'lost invoice replaced');
  await resolveAlerts({ config: ctx.config, pool, log: ctx.log }, { dedupKeyLike: `payout-disagreement:${p.id}:${loss.lostPaymentHash}` }, input.actor, `LNbits lost the payment: recorded as loss ${loss.id}, the payout is paid with a new invoice`);
  return { outcome: 'replaced', tx, payout: stored, loss, lossCreated: created };
}
