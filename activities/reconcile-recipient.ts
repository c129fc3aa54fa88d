/**
 * The reconciliation's recipient check of a completed payout: the payer's row alone cannot show that the money
 * arrived. LNbits 1.6.2 (seen with FakeWallet) can fail the recipient's INCOMING row after the payment was proven
 * (both rows success at proof time): the source paid, the ledger says completed, the client's wallet never holds
 * the sats. So the recipient wallet's rows of the hash are read with the recipient's own key (the client's
 * invoice key, decrypted as the payout code does; the commission wallet's key) through the payments list (a read
 * that never changes a row). Anything but one incoming `success` row of the stored invoice for exactly the amount
 * is a `payout-not-received` finding.
 * A key that cannot be had or that LNbits rejects never aborts the pass: the payouts it leaves unchecked are
 * counted and reported (`reconciliation-incomplete`, one finding per client).
 */
import { getClientInvoiceKey } from '../adapters/ledger/clients';
import type { CompletedPayout } from '../adapters/ledger/reconciliation';
import type { LnbitsClient } from '../adapters/lnbits/client';
import { LnbitsAuthError } from '../adapters/lnbits/errors';
import { PayoutDisagreementError } from '../domain/errors';
import type { ActivityDeps } from './deps';
import { incomingState } from './payout-proof';
import type { Finding } from './reconcile';

export interface RecipientChecked {
  /** Payouts whose recipient rows were read. */
  recipientChecked: number;
  /** Payouts not checked: no key to read the recipient's wallet, or LNbits rejected it. */
  recipientUnchecked: number;
  /** Payouts not checked: LNbits did not answer the recipient read. */
  recipientUnreachable: number;
}

type Add = (f: Omit<Finding, 'severity'>) => void;

const errText = (err: unknown) => (err instanceof Error ? err.message : String(err));

export function createRecipientCheck(deps: ActivityDeps, lnbits: LnbitsClient, add: Add) {
  const { config, pool } = deps;
  /** One key lookup per recipient within a run: the key, or why there is none (never the key in a message). */
  const keys = new Map<string, Promise<{ key: string } | { problem: string }>>();
  /** Recipients whose key could not be used: why, and the payouts left unchecked. */
  const unusable = new Map<string, { problem: string; payouts: number }>();
  const counts: RecipientChecked = { recipientChecked: 0, recipientUnchecked: 0, recipientUnreachable: 0 };

  const recipientOf = (p: CompletedPayout) => (p.kind === 'client' ? `client ${p.clientId ?? '(none)'}` : 'the commission wallet');

  async function lookupKey(p: CompletedPayout): Promise<{ key: string } | { problem: string }> {
    if (p.kind !== 'client') {
      const key = config.lnbits.commission.invoiceKey ?? config.lnbits.commission.adminKey;
      return key ? { key } : { problem: 'no lnbits.commission key configured' };
    }
    if (!p.clientId) return { problem: 'the payout names no client' };
    if (!config.encryptionKey) return { problem: 'no encryptionKey configured (client keys cannot be decrypted)' };
    try {
      return { key: (await getClientInvoiceKey(pool, p.clientId, config.encryptionKey)).invoiceKey };
    } catch (err) {
      return { problem: `its invoice key could not be read (${errText(err)})` };
    }
  }

  const keyOf = (p: CompletedPayout) => {
    const who = recipientOf(p);
    let k = keys.get(who);
    if (!k) keys.set(who, (k = lookupKey(p)));
    return k;
  };

  const unchecked = (p: CompletedPayout, problem: string) => {
    counts.recipientUnchecked++;
    const who = recipientOf(p);
    const u = unusable.get(who) ?? { problem, payouts: 0 };
    u.payouts++;
    unusable.set(who, u);
  };

  /** Reads the recipient's rows of the payout's (current, paid) hash; a finding when it did not receive it. */
  async function check(p: CompletedPayout & { paymentHash: string }): Promise<void> {
    const k = await keyOf(p);
    if ('problem' in k) return unchecked(p, k.problem);
    let rows: Awaited<ReturnType<LnbitsClient['paymentRows']>>;
    try {
      rows = await lnbits.paymentRows(k.key, p.paymentHash);
    } catch (err) {
      if (err instanceof LnbitsAuthError) {
        keys.set(recipientOf(p), Promise.resolve({ problem: 'LNbits rejected its key' }));
        return unchecked(p, 'LNbits rejected its key');
      }
      counts.recipientUnreachable++;
      return;
    }
    counts.recipientChecked++;
    // A payout without a stored bolt11 (never one the payout code made) is identified by its hash alone.
    const bolt11 = p.bolt11 ?? rows.find((r) => r.amountMsat > 0n)?.bolt11 ?? '';
    let state: string;
    try {
      state = incomingState(p.id, { paymentHash: p.paymentHash, bolt11, amountSats: p.amountSats }, rows);
    } catch (err) {
      if (!(err instanceof PayoutDisagreementError)) throw err;
      state = `disagrees: ${err.message}`;
    }
    if (state === 'success') return;
    add({
      kind: 'payout-not-received',
      subject: p.id,
      message: `payout ${p.id} (${p.kind}${p.clientId ? `, client ${p.clientId}` : ''}, ${p.amountSats} sats, hash ${p.paymentHash}) is completed, but the recipient wallet's incoming row is ${state}: the source paid, the recipient was not credited`,
      details: { id: p.id, transactionId: p.transactionId, kind: p.kind, clientId: p.clientId, amountSats: p.amountSats, paymentHash: p.paymentHash, recipientRowState: state },
    });
  }

  /** Reports the recipients whose payouts could not be checked; returns the counts for the summary. */
  function finish(): RecipientChecked {
    for (const [who, u] of unusable) {
      add({
        kind: 'reconciliation-incomplete',
        subject: who,
        message: `${u.payouts} payout(s) to ${who} not checked for receipt: ${u.problem}`,
        details: { recipient: who, payouts: u.payouts, problem: u.problem },
      });
    }
    if (counts.recipientUnreachable) {
      add({ kind: 'reconciliation-incomplete', subject: 'lnbits', message: `${counts.recipientUnreachable} payout(s) not checked for receipt: LNbits did not answer`, details: { recipientUnreachable: counts.recipientUnreachable } });
    }
    return { ...counts };
  }

  return { check, finish };
}
