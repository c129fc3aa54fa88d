/**
 * What LNbits proves about one payout's invoice, for the steps that may give a client's fiat back
 * (compensation, operator cancel) and for recovery. "No payment row" is NEVER proof of "not paid": an attempt
 * of a timed-out transfer (its pay request still in flight) may land later.
 *
 * LNbits 1.6.2 (core/services/payments.py): an internal invoice is paid only while its incoming row is
 * `pending` (check_internal); a pending row of an expired invoice is marked `failed` when it is looked up with
 * the recipient's key after the expiry; afterwards a pay request for it goes the external way, finds that
 * failed row and is refused ("Payment is failed node, retrying is not possible."). So a payout is proven
 * unpayable only when: its invoice has expired, the payer has no success/pending row, the recipient's row is
 * failed — and all of that still holds a few seconds later (a pay request being processed at the moment of the
 * lookup has read the row as pending and would finish within milliseconds, leaving a payer row).
 */
import { getClientInvoiceKey } from '../adapters/ledger/clients';
import type { PaymentRow } from '../adapters/ledger/reservations';
import { decodeBolt11 } from '../adapters/lnbits/bolt11';
import type { LnbitsClient } from '../adapters/lnbits/client';
import type { ActivityDeps } from './deps';

export type PayoutProof =
  /** The payer's row of the invoice succeeded: the payout is paid. */
  | { kind: 'paid' }
  /** No invoice was stored (nothing of ours can be paid), or the invoice is proven unpayable. */
  | { kind: 'unpayable'; detail: string }
  /** The invoice could still be paid (not expired yet, or a payment is in flight): the debit must stay. */
  | { kind: 'open'; detail: string; payableUntil: Date | null }
  /** LNbits did not answer (or a key no longer works): nothing is proven, the debit must stay. */
  | { kind: 'unknown'; detail: string };

const message = (err: unknown) => (err instanceof Error ? err.message : String(err));
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Seconds after the bolt11 expiry before the recipient lookup (clock skew between us and LNbits). */
const EXPIRY_MARGIN_MS = 2_000;
/** Time for a pay request being processed during the lookup to finish (it takes milliseconds in LNbits). */
const SETTLE_MS = 1_500;

export function createPayoutProof(deps: ActivityDeps, lnbits: LnbitsClient) {
  const { config, pool } = deps;

  async function recipientKey(p: Pick<PaymentRow, 'kind' | 'clientId'>): Promise<string | null> {
    if (p.kind === 'client') {
      if (!p.clientId || !config.encryptionKey) return null;
      return (await getClientInvoiceKey(pool, p.clientId, config.encryptionKey)).invoiceKey;
    }
    return config.lnbits.commission.invoiceKey ?? config.lnbits.commission.adminKey ?? null;
  }

  /** One look at the payer's and the recipient's rows of `hash` (the recipient lookup only after expiry). */
  async function look(payer: string, recipient: string, hash: string) {
    const out = await lnbits.getPayment(payer, hash);
    if (out?.paid) return 'paid' as const;
    if (out && out.status !== 'failed') return 'in-flight' as const;
    const incoming = await lnbits.getPayment(recipient, hash);
    if (incoming === null) return 'no-incoming' as const;
    if (incoming.paid) return 'incoming-paid' as const;
    return incoming.status === 'failed' ? ('failed' as const) : ('pending' as const);
  }

  /**
   * The payer's row says paid: the payout counts as paid only when both wallets' rows (read-only list, issue 11)
   * show the stored hash paid for exactly the payout's amount — the recipient's incoming row success, the
   * payer's outgoing row success. Anything else is a disagreement: not paid, not released (the debit stays).
   */
  async function paidOnProof(payer: string, recipient: string, hash: string, amountSats: number): Promise<PayoutProof> {
    const msat = BigInt(amountSats) * 1000n;
    const [incoming, outgoing] = await Promise.all([lnbits.paymentRows(recipient, hash), lnbits.paymentRows(payer, hash)]);
    const inPaid = incoming.some((r) => r.status === 'success' && r.amountMsat === msat);
    const outPaid = outgoing.some((r) => r.status === 'success' && r.amountMsat === -msat);
    if (inPaid && outPaid) return { kind: 'paid' };
    return { kind: 'unknown', detail: `LNbits disagrees about ${hash}: recipient row ${inPaid ? 'paid' : 'not paid'}, payer row ${outPaid ? 'paid' : 'not paid'} for exactly ${amountSats} sats` };
  }

  /** The proof for one payout row (its current invoice; replaced invoices were proven failed when replaced). */
  async function prove(p: Pick<PaymentRow, 'id' | 'kind' | 'clientId' | 'paymentHash' | 'bolt11' | 'amountSats'>): Promise<PayoutProof> {
    if (!p.paymentHash || !p.bolt11) return { kind: 'unpayable', detail: 'no invoice was stored' };
    const payer = config.lnbits.source.adminKey;
    if (!payer) return { kind: 'unknown', detail: 'lnbits.source.adminKey is not configured' };
    let expiresAt: Date;
    try {
      expiresAt = decodeBolt11(p.bolt11).expiresAt;
    } catch (err) {
      return { kind: 'unknown', detail: `stored invoice unreadable: ${message(err)}` };
    }
    try {
      const recipient = await recipientKey(p);
      if (!recipient) return { kind: 'unknown', detail: "no recipient key to read the invoice's incoming row" };
      if (Date.now() < expiresAt.getTime() + EXPIRY_MARGIN_MS) {
        // Before the expiry only the payer's row is read (a recipient lookup could change the row's state).
        const out = await lnbits.getPayment(payer, p.paymentHash);
        if (out?.paid) return await paidOnProof(payer, recipient, p.paymentHash, p.amountSats);
        return { kind: 'open', detail: `invoice payable until ${expiresAt.toISOString()}`, payableUntil: expiresAt };
      }
      const first = await look(payer, recipient, p.paymentHash);
      if (first === 'paid') return await paidOnProof(payer, recipient, p.paymentHash, p.amountSats);
      if (first !== 'failed') return { kind: 'open', detail: `invoice expired but LNbits reports it ${first}`, payableUntil: null };
      await sleep(SETTLE_MS);
      const again = await look(payer, recipient, p.paymentHash);
      if (again === 'paid') return await paidOnProof(payer, recipient, p.paymentHash, p.amountSats);
      if (again !== 'failed') return { kind: 'open', detail: `invoice expired but LNbits reports it ${again}`, payableUntil: null };
      return { kind: 'unpayable', detail: `invoice expired ${expiresAt.toISOString()}, failed in LNbits, never paid by the payer` };
    } catch (err) {
      return { kind: 'unknown', detail: `LNbits did not answer: ${message(err)}` };
    }
  }

  return { prove };
}
