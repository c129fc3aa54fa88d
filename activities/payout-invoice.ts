/**
 * A payout's invoices, shared by the transfer (activities/cashout-payout.ts) and the operator's
 * `satmachine tx settle-lost-payment` (client/lost-payment.ts): the memo the recipient reads, a new invoice
 * created with the recipient wallet's own key and VERIFIED before anyone stores it (the bolt11 decodes to
 * LNbits' hash and the payout's amount, the recipient wallet lists it unpaid), and the recipient wallet's rows
 * of a hash. A client key LNbits rejects pauses the client (one alert), so that later cash-outs leave it out.
 */
import { raiseAlert } from '../adapters/alerts';
import { balanceAfterPayoutDebit } from '../adapters/ledger/balances';
import type { getPayoutRow } from '../adapters/ledger/cashout';
import { getClientInvoiceKey } from '../adapters/ledger/clients';
import { recordOperatorEvent } from '../adapters/ledger/operator-control';
import { getTransaction } from '../adapters/ledger/transactions';
import type { LnbitsClient } from '../adapters/lnbits/client';
import { LnbitsAuthError } from '../adapters/lnbits/errors';
import { formatDecimal, roundHalfAwayFromZero } from '../domain/decimal';
import { CashOutConfigError, PayoutDisagreementError } from '../domain/errors';
import { checkInvoiceText, incomingState, type Invoice } from './payout-proof';
import type { ActivityDeps } from './deps';

export type Payout = Awaited<ReturnType<typeof getPayoutRow>>;

export function createPayoutInvoices(deps: ActivityDeps, lnbits: LnbitsClient) {
  const { config, pool } = deps;
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
   * A new invoice from the recipient's wallet, verified before it is stored: the bolt11 decodes (checksum,
   * signature) to LNbits' hash and the payout's amount, and the recipient wallet lists it, unpaid.
   */
  async function verifiedNewInvoice(p: Payout, recipientKey: string): Promise<Invoice> {
    const created = await newInvoice(p);
    const inv = { ...created, amountSats: p.amountSats };
    if (checkInvoiceText(p.id, inv, Date.now()).expired) throw new Error(`payment ${p.id}: LNbits created an invoice that expires at once; retrying`);
    const state = incomingState(p.id, inv, await recipientRows(p, recipientKey, inv.paymentHash));
    if (state !== 'pending') throw new PayoutDisagreementError(`payment ${p.id}: the recipient wallet lists the new invoice ${inv.paymentHash} as ${state}`, `the recipient wallet lists the new invoice as ${state}, not as an unpaid invoice`);
    return inv;
  }

  /** The recipient wallet's rows of the hash (its own key); a rejected client key pauses the client, as newInvoice does. */
  async function recipientRows(p: Payout, recipientKey: string, paymentHash: string) {
    try {
      return await lnbits.paymentRows(recipientKey, paymentHash);
    } catch (err) {
      if (err instanceof LnbitsAuthError && p.kind === 'client' && p.clientId) {
        await pauseClientWithRejectedKey(p.clientId, (await getTransaction(pool, p.transactionId)).lamassuId, err);
      }
      throw err;
    }
  }

  return { recipientInvoiceKey, newInvoice, verifiedNewInvoice, recipientRows };
}

export type PayoutInvoices = ReturnType<typeof createPayoutInvoices>;
