/**
 * A payout whose outcome LNbits cannot tell at compensation time (its answer lost, then its lookups refused,
 * via the fault proxy) keeps the client's debit: restoring it would let that fiat buy sats again in another
 * cash-out while the payout may have been paid (the same fiat paid twice). The operator's retry then finds it
 * paid (no second debit, no second payment); a cancel of one LNbits never paid releases the debit.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { eligibleBalancesAt } from '../adapters/ledger/balances';
import { decodeBolt11 } from '../adapters/lnbits/bolt11';
import { startCashOut } from '../client/cashout';
import { cashOutWorkflowId } from '../domain/constants';
import { cancelFailedPayoutsUpdate, retryFailedPayoutsUpdate, type CashOutResult } from '../workflows/cashout';
import { cashOutRow, ledgerTransaction, storedBalance, untilState, walletSats, withCashOutWorld, type CashOutWorld } from './support/cashout-fixture';
import type { FaultProxy } from './support/lnbits-fault-proxy';

/**
 * The first payment's answer is lost (504), whether or not LNbits made it (`forward`); afterwards every lookup
 * of that payment is refused (401), so neither the transfer nor the compensation can learn its outcome.
 */
function loseFirstPayment(proxy: FaultProxy, forward: boolean): { hash: () => string | null } {
  let hash: string | null = null;
  const lost = { status: 504, json: { detail: 'Gateway Timeout' } };
  proxy.intercept = (r) => {
    if (r.isPayment && hash === null) {
      hash = decodeBolt11((r.json as { bolt11: string }).bolt11).paymentHash;
      return forward ? { replace: () => lost } : { answer: lost };
    }
    // Both look-ups of it: by hash, and the payments list filtered on it.
    if (r.method === 'GET' && hash && r.path.includes(hash)) return { answer: { status: 401, json: { detail: 'Invalid adminkey.' } } };
    return undefined;
  };
  return { hash: () => hash };
}

const unknownWorld = { taskQueuePrefix: 'cashout-unknown', clients: 1, faultProxy: true } as const;

const reasons = async (w: CashOutWorld, clientId: string) =>
  (await w.db.pool.query(`SELECT reason FROM satoshimachine.balance_log WHERE client_id = $1 ORDER BY id`, [clientId])).rows.map((r) => r.reason as string);

test('outcome unknown at compensation: the debit is kept; the retry finds it paid — one debit, one payment', async () => {
  await withCashOutWorld(unknownWorld, async ({ world: w, client, proxy }) => {
    const c = w.clients[0]!;
    const sourceBefore = await walletSats(w.source);
    loseFirstPayment(proxy, true);
    const row = cashOutRow();
    await startCashOut(client, w.config, row);
    const id = cashOutWorkflowId(row.id);
    const s = await untilState(client, id, (x) => x.step === 'wait-operator', 'needs_attention');
    const payout = s.payouts.find((p) => p.kind === 'client')!;
    assert.equal(payout.status, 'failed');
    assert.equal(s.payouts.find((p) => p.kind === 'commission')!.status, 'completed');
    assert.equal(await walletSats(c.wallet), payout.amountSats, 'LNbits did pay it');

    // The debit is kept: the fiat cannot be allocated to another cash-out meanwhile.
    const { rows } = await w.db.pool.query(`SELECT debit_held FROM satoshimachine.payments WHERE id = $1`, [payout.id]);
    assert.equal(rows[0].debit_held, true);
    assert.equal(await storedBalance(w.db.pool, c.id), c.depositMinor - payout.fiatDebitMinor);
    const eligible = await eligibleBalancesAt(w.db.pool, new Date().toISOString(), { currency: 'GTQ' });
    assert.equal(eligible.find((b) => b.clientId === c.id)?.balance ?? 0, c.depositMinor - payout.fiatDebitMinor);
    assert.deepEqual(await reasons(w, c.id), ['deposit_confirmed', 'payout_reserved']);

    proxy.intercept = null;
    await client.workflow.getHandle(id).executeUpdate(retryFailedPayoutsUpdate, { args: [{ by: 'test' }] });
    assert.equal(((await client.workflow.getHandle(id).result()) as CashOutResult).status, 'completed');
    const tx = (await ledgerTransaction(w.db.pool, row.id))!;
    assert.ok(tx.payments.every((p) => p.status === 'completed'));
    assert.equal(await walletSats(c.wallet), payout.amountSats, 'paid once');
    const commission = tx.payments.find((p) => p.kind === 'commission')!;
    assert.equal(await walletSats(w.source), sourceBefore - payout.amountSats - commission.amountSats);
    assert.equal(await storedBalance(w.db.pool, c.id), c.depositMinor - payout.fiatDebitMinor, 'debited once');
    assert.deepEqual(await reasons(w, c.id), ['deposit_confirmed', 'payout_reserved']);
    assert.equal(proxy.paysForwarded, 2, 'no second payment was sent');
  });
});

test('outcome unknown, never paid: cancel waits for LNbits to prove it unpayable (expired, failed), then releases the kept debit', async () => {
  // The cancel releases the debit only once the invoice has expired and LNbits marked it failed (issue 19).
  await withCashOutWorld({ ...unknownWorld, overrides: { lnbits: { invoiceExpirySeconds: 3 } } }, async ({ world: w, client, proxy }) => {
    const c = w.clients[0]!;
    const lost = loseFirstPayment(proxy, false);
    const row = cashOutRow();
    await startCashOut(client, w.config, row);
    const id = cashOutWorkflowId(row.id);
    const s = await untilState(client, id, (x) => x.step === 'wait-operator', 'needs_attention');
    const payout = s.payouts.find((p) => p.kind === 'client')!;
    assert.ok(lost.hash(), 'the payment was attempted');
    assert.equal(await walletSats(c.wallet), 0, 'LNbits never received it');
    // Compensation could not tell (the lookup was refused): debit kept.
    assert.equal(await storedBalance(w.db.pool, c.id), c.depositMinor - payout.fiatDebitMinor);

    proxy.intercept = null;
    await client.workflow.getHandle(id).executeUpdate(cancelFailedPayoutsUpdate, { args: [{ by: 'test', reason: 'never paid' }] });
    assert.equal(((await client.workflow.getHandle(id).result()) as CashOutResult).status, 'completed', 'the commission was paid');
    const tx = (await ledgerTransaction(w.db.pool, row.id))!;
    assert.equal(tx.payments.find((p) => p.id === payout.id)!.status, 'cancelled');
    assert.equal(await storedBalance(w.db.pool, c.id), c.depositMinor, 'released after LNbits said not paid');
    assert.deepEqual(await reasons(w, c.id), ['deposit_confirmed', 'payout_reserved', 'payout_released']);
    assert.equal(await walletSats(c.wallet), 0);
  });
});
