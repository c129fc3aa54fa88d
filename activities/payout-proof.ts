/**
 * What a payout's invoice and LNbits' rows must show before we pay and before we count it paid. Pure checks:
 * each returns the state LNbits shows, or throws PayoutDisagreementError naming what disagreed. The rows come
 * from LnbitsClient.paymentRows (read only), each asked with the wallet's own key: the recipient's for the
 * incoming row, the payer's for the outgoing one.
 */
import { decodeBolt11 } from '../adapters/lnbits/bolt11';
import type { PaymentRecord, PayOutcome } from '../adapters/lnbits/client';
import { PayoutDisagreementError } from '../domain/errors';

export interface Invoice {
  paymentHash: string;
  bolt11: string;
  amountSats: number;
}

/**
 * An invoice closer than this to its expiry is not paid (it could expire between the check and the payment):
 * 5 s, or a quarter of its lifetime when that is shorter (tests use invoices of a few seconds).
 */
const expiryMarginMs = (expirySeconds: number) => Math.min(5_000, (expirySeconds * 1000) / 4);

const disagree = (paymentId: string, what: string): never => {
  throw new PayoutDisagreementError(`payment ${paymentId}: ${what}`, what);
};

const msatOf = (sats: number) => BigInt(sats) * 1000n;

/**
 * The bolt11 itself (checksum and signature verified by the decoder) must carry the payout's hash and
 * amount. Returns whether it has expired (or is about to).
 */
export function checkInvoiceText(paymentId: string, inv: Invoice, nowMs: number): { expired: boolean } {
  let d: ReturnType<typeof decodeBolt11>;
  try {
    d = decodeBolt11(inv.bolt11);
  } catch (err) {
    return disagree(paymentId, `the invoice is not a valid signed BOLT 11 invoice (${(err as Error).message})`);
  }
  if (d.paymentHash !== inv.paymentHash) disagree(paymentId, `the invoice's payment hash ${d.paymentHash ?? '(none)'} is not the payout's ${inv.paymentHash}`);
  if (d.amountMsat !== msatOf(inv.amountSats)) {
    disagree(paymentId, `the invoice is for ${d.amountMsat === null ? 'no amount' : `${d.amountMsat} msat`}, the payout for ${msatOf(inv.amountSats)} msat (${inv.amountSats} sats)`);
  }
  return { expired: d.expiresAt.getTime() <= nowMs + expiryMarginMs(d.expirySeconds) };
}

export type RowState = 'none' | 'pending' | 'success' | 'failed';

/** The recipient wallet's incoming row of the invoice: same bolt11, exactly the amount. */
export function incomingState(paymentId: string, inv: Invoice, rows: PaymentRecord[]): RowState {
  const incoming = rows.filter((r) => r.amountMsat > 0n);
  if (incoming.length === 0) return 'none';
  const r = incoming[0]!;
  if (incoming.length > 1) disagree(paymentId, `the recipient wallet lists ${incoming.length} incoming rows for hash ${inv.paymentHash}`);
  if (r.bolt11.toLowerCase() !== inv.bolt11.toLowerCase()) disagree(paymentId, `the recipient wallet's invoice with hash ${inv.paymentHash} is another bolt11 than the stored one`);
  if (r.amountMsat !== msatOf(inv.amountSats)) disagree(paymentId, `the recipient wallet's invoice is for ${r.amountMsat} msat, the payout for ${msatOf(inv.amountSats)} msat`);
  return r.status as RowState;
}

/** The payer wallet's outgoing rows of the hash: a success must be for exactly the amount. */
export function outgoingState(paymentId: string, inv: Invoice, rows: PaymentRecord[]): RowState {
  const out = rows.filter((r) => r.amountMsat < 0n);
  const ok = out.filter((r) => r.status === 'success');
  if (ok.length > 1) disagree(paymentId, `the payer wallet paid hash ${inv.paymentHash} ${ok.length} times`);
  if (ok.length === 1) {
    if (-ok[0]!.amountMsat !== msatOf(inv.amountSats)) disagree(paymentId, `the payer wallet paid ${-ok[0]!.amountMsat} msat for hash ${inv.paymentHash}, the payout is ${msatOf(inv.amountSats)} msat`);
    return 'success';
  }
  if (out.some((r) => r.status === 'pending')) return 'pending';
  return out.length ? 'failed' : 'none';
}

/** LNbits' answer to the payment must be about the stored hash and, if it says paid, for exactly the amount. */
export function checkPayAnswer(paymentId: string, inv: Invoice, outcome: PayOutcome): void {
  if ((outcome.kind === 'paid' || outcome.kind === 'pending') && outcome.paymentHash !== null && outcome.paymentHash !== inv.paymentHash) {
    disagree(paymentId, `LNbits answered the payment with hash ${outcome.paymentHash}, the stored invoice has ${inv.paymentHash}`);
  }
  if (outcome.kind === 'paid' && outcome.amountMsat !== -msatOf(inv.amountSats)) {
    disagree(paymentId, `LNbits answered the payment as ${outcome.amountMsat} msat, the payout is ${-msatOf(inv.amountSats)} msat`);
  }
}

/**
 * After a payment (whatever LNbits answered): proven paid only when the recipient's row is paid and the
 * payer's row succeeded, both for exactly the amount. 'not-yet': nothing contradicts, but nothing proves it.
 */
export function proofOf(paymentId: string, inv: Invoice, outcome: PayOutcome, incoming: PaymentRecord[], outgoing: PaymentRecord[]): 'paid' | 'not-yet' {
  const inState = incomingState(paymentId, inv, incoming);
  const outState = outgoingState(paymentId, inv, outgoing);
  if (inState === 'success' && outState === 'success') return 'paid';
  if (inState === 'success' || outState === 'success') {
    disagree(paymentId, `the recipient wallet's row is ${inState} but the payer wallet's row is ${outState} for hash ${inv.paymentHash}`);
  }
  if (outcome.kind === 'paid') disagree(paymentId, `LNbits answered the payment as paid, but the recipient wallet's row is ${inState} and the payer wallet's ${outState}`);
  return 'not-yet';
}
