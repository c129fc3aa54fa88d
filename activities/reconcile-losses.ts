/**
 * The reconciliation's check of the recorded LNbits losses (lnbits_losses, `satmachine tx settle-lost-payment`).
 * A recorded loss explains one extra outflow of the source wallet ("lost in LNbits (recorded)") only while
 * LNbits still shows exactly the signature it was accepted for: the source's ONE successful row of the hash,
 * for exactly the amount, and the recipient's incoming row failed. Anything else is an `lnbits-loss-mismatch`
 * finding — above all a recipient row that became success: then the payout was paid twice.
 * Each wallet is read with its own key through the payments list (a read that never changes a row).
 */
import { getPayoutRow } from '../adapters/ledger/cashout';
import { getClientInvoiceKey } from '../adapters/ledger/clients';
import { listLnbitsLosses } from '../adapters/ledger/lnbits-losses';
import type { LnbitsClient } from '../adapters/lnbits/client';
import { LnbitsAuthError } from '../adapters/lnbits/errors';
import type { ActivityDeps } from './deps';
import type { Finding } from './reconcile';

export interface LossesChecked {
  /** Recorded losses, and their sats (the source's extra outflow, accounted for). */
  count: number;
  sats: string;
  /** Of those, how many LNbits still shows with exactly their signature. */
  verified: number;
  label: 'lost in LNbits (recorded)';
}

const errText = (err: unknown) => (err instanceof Error ? err.message : String(err));

export async function verifyRecordedLosses(
  deps: ActivityDeps,
  lnbits: LnbitsClient,
  sourceKey: string,
  add: (f: Omit<Finding, 'severity'>) => void,
): Promise<LossesChecked> {
  const { config, pool } = deps;
  const losses = await listLnbitsLosses(pool);
  let verified = 0;
  let sats = 0n;
  for (const l of losses) {
    sats += BigInt(l.amountSats);
    const msat = BigInt(l.amountSats) * 1000n;
    const subject = l.paymentId;
    const details = { paymentId: l.paymentId, transactionId: l.transactionId, lostPaymentHash: l.lostPaymentHash, amountSats: l.amountSats, lossId: l.id };
    try {
      const p = await getPayoutRow(pool, l.paymentId);
      const recipientKey = p.kind === 'client'
        ? config.encryptionKey && p.clientId ? (await getClientInvoiceKey(pool, p.clientId, config.encryptionKey)).invoiceKey : null
        : (config.lnbits.commission.invoiceKey ?? config.lnbits.commission.adminKey ?? null);
      if (!recipientKey) {
        add({ kind: 'reconciliation-incomplete', subject, message: `recorded LNbits loss of payout ${l.paymentId} not checked: no key to read its recipient's wallet`, details });
        continue;
      }
      const [outgoing, incoming] = await Promise.all([lnbits.paymentRows(sourceKey, l.lostPaymentHash), lnbits.paymentRows(recipientKey, l.lostPaymentHash)]);
      const problems: string[] = [];
      const paid = outgoing.filter((r) => r.amountMsat < 0n && r.status === 'success');
      if (paid.length !== 1 || paid[0]!.amountMsat !== -msat) {
        problems.push(`the source's successful rows of it: ${paid.map((r) => `${r.amountMsat} msat`).join(', ') || 'none'} (expected one of ${-msat} msat)`);
      }
      const received = incoming.filter((r) => r.amountMsat > 0n);
      if (received.some((r) => r.status === 'success')) problems.push('the recipient wallet received it after all: the payout is paid twice');
      else if (received.length !== 1 || received[0]!.status !== 'failed') problems.push(`the recipient wallet's rows of it: ${received.map((r) => r.status).join(', ') || 'none'} (expected one failed row)`);
      if (problems.length) {
        add({ kind: 'lnbits-loss-mismatch', subject, message: `recorded LNbits loss of payout ${l.paymentId} (${l.amountSats} sats, hash ${l.lostPaymentHash}) no longer matches LNbits: ${problems.join('; ')}`, details: { ...details, problems } });
      } else verified++;
    } catch (err) {
      add({ kind: 'reconciliation-incomplete', subject, message: `recorded LNbits loss of payout ${l.paymentId} not checked: ${err instanceof LnbitsAuthError ? 'LNbits rejected a key' : errText(err)}`, details });
    }
  }
  return { count: losses.length, sats: sats.toString(), verified, label: 'lost in LNbits (recorded)' };
}
