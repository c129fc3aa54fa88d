/**
 * "The books add up", checked in LNbits with each wallet's own key (issue 19): every client wallet holds
 * exactly the sats of its completed payouts (each payout paid at most once), the commission wallet its
 * completed commission, the source wallet paid out exactly the completed payouts, no invoice of a payout that
 * is not completed (nor any replaced invoice) was paid, every client's stored balance is its deposits minus
 * the debits still held, and each cash-out's sats add up (client payouts + unallocated + cancelled = base).
 */
import assert from 'node:assert/strict';
import { createLnbitsClient } from '../../adapters/lnbits/client';
import type { CashOutWorld } from './cashout-fixture';
import { walletSats } from './cashout-fixture';
import { getStack } from './stack';

export async function assertBooks(w: CashOutWorld, sourceBeforeSats: number, extraSourceCreditSats = 0): Promise<{ paidSats: number; payouts: number }> {
  const lnbits = createLnbitsClient({ url: getStack().lnbits.url });
  const { rows } = await w.db.pool.query(
    `SELECT p.id, p.kind, p.client_id, p.amount_sats::int AS amount_sats, p.fiat_debit_minor::int AS fiat_debit, p.status, p.debit_held,
            p.payment_hash, p.replaced_payment_hashes, t.lamassu_id
       FROM satoshimachine.payments p JOIN satoshimachine.lamassu_transactions t ON t.id = p.transaction_id`,
  );
  const completed = rows.filter((r) => r.status === 'completed');
  for (const c of w.clients) {
    const mine = completed.filter((r) => r.kind === 'client' && r.client_id === c.id).reduce((s, r) => s + Number(r.amount_sats), 0);
    assert.equal(await walletSats(c.wallet), mine, `client ${c.id}: LNbits holds exactly its completed payouts`);
    const held = rows.filter((r) => r.kind === 'client' && r.client_id === c.id && r.debit_held).reduce((s, r) => s + Number(r.fiat_debit), 0);
    const { rows: b } = await w.db.pool.query(`SELECT remaining_balance_fiat_minor::bigint::int AS b FROM satoshimachine.clients WHERE id = $1`, [c.id]);
    assert.equal(b[0].b, c.depositMinor - held, `client ${c.id}: balance = deposits - debits held`);
  }
  const commission = completed.filter((r) => r.kind === 'commission').reduce((s, r) => s + Number(r.amount_sats), 0);
  assert.equal(await walletSats(w.commission), commission, 'commission wallet: exactly the completed commission');
  const paidSats = completed.reduce((s, r) => s + Number(r.amount_sats), 0);
  assert.equal(await walletSats(w.source), sourceBeforeSats + extraSourceCreditSats - paidSats, 'source wallet paid exactly the completed payouts');
  for (const r of rows) {
    const unpaid = [...(r.status === 'completed' ? [] : [r.payment_hash]), ...(r.replaced_payment_hashes as string[])].filter(Boolean) as string[];
    for (const hash of unpaid) {
      const out = await lnbits.getPayment(w.source.adminKey, hash);
      assert.ok(!out?.paid, `payout ${String(r.id)} (${String(r.status)}): invoice ${hash} was never paid`);
    }
    if (r.status === 'completed') assert.equal((await lnbits.getPayment(w.source.adminKey, String(r.payment_hash)))?.paid, true, `payout ${String(r.id)}: paid in LNbits`);
  }
  const { rows: txs } = await w.db.pool.query(
    `SELECT t.lamassu_id, t.status, t.base_sats::int AS base, COALESCE(t.unallocated_sats, 0)::int AS unallocated, t.cancelled_sats::int AS cancelled,
            COALESCE((SELECT sum(amount_sats) FROM satoshimachine.payments p WHERE p.transaction_id = t.id AND p.kind = 'client' AND p.status = 'completed'), 0)::int AS paid,
            COALESCE((SELECT sum(amount_sats) FROM satoshimachine.payments p WHERE p.transaction_id = t.id AND p.kind = 'client' AND p.status = 'cancelled'), 0)::int AS cancelled_client
       FROM satoshimachine.lamassu_transactions t WHERE t.status IN ('completed', 'failed') AND EXISTS (SELECT 1 FROM satoshimachine.payments p WHERE p.transaction_id = t.id)`,
  );
  for (const t of txs) {
    assert.equal(t.paid + t.unallocated + t.cancelled_client, t.base, `cash-out ${String(t.lamassu_id)}: client payouts + unallocated + cancelled = base`);
  }
  return { paidSats, payouts: completed.length };
}
