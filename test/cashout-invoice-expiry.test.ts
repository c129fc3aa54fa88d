/**
 * Expired payout invoices on the real stack. Payouts fail after their invoices were stored (LNbits refuses the
 * payments: "Insufficient balance.", via the fault proxy); the operator retries later. An invoice that expired
 * meanwhile is replaced (old hash kept, LNbits reports it failed, the payer never paid it) and the payout is
 * paid exactly once, to the new invoice; one that has not expired is paid as stored. Invoices expire after 3 s
 * here (a bolt11 timestamp has whole seconds: 1 s could expire between an invoice's creation and its payment).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Client } from '@temporalio/client';
import { decodeBolt11 } from '../adapters/lnbits/bolt11';
import { createLnbitsClient } from '../adapters/lnbits/client';
import { startCashOut } from '../client/cashout';
import { loadConfig } from '../config';
import { cashOutWorkflowId } from '../domain/constants';
import { retryFailedPayoutsUpdate, type CashOutResult } from '../workflows/cashout';
import { cashOutRow, ledgerTransaction, untilState, walletSats, withCashOutWorld, type CashOutWorld } from './support/cashout-fixture';
import type { FaultProxy } from './support/lnbits-fault-proxy';
import { createWallet } from './support/lnbits';
import { getStack } from './support/stack';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const expiryWorld = { taskQueuePrefix: 'cashout-expiry', clients: 2, faultProxy: true } as const;

/** Every payment is refused by "LNbits" before anything is paid; invoices are created for real. */
const refusePayments = (proxy: FaultProxy) => {
  proxy.intercept = (r) => (r.isPayment ? { answer: { status: 520, json: { detail: 'Insufficient balance.', status: 'failed' } } } : undefined);
};

/** Runs a cash-out until its payouts failed with stored invoices; returns the workflow id, row and those invoices. */
async function failAfterInvoices(w: CashOutWorld, client: Client, proxy: FaultProxy) {
  refusePayments(proxy);
  const row = cashOutRow();
  await startCashOut(client, w.config, row);
  const id = cashOutWorkflowId(row.id);
  const s = await untilState(client, id, (x) => x.step === 'wait-operator', 'needs_attention');
  assert.equal(s.status, 'needs_attention');
  const tx = (await ledgerTransaction(w.db.pool, row.id))!;
  assert.equal(tx.payments.length, 3, `2 clients + commission (${s.lastError})`);
  assert.ok(tx.payments.every((p) => p.status === 'failed' && p.paymentHash && p.bolt11), 'each payout failed with its invoice stored');
  proxy.intercept = null;
  return { id, row, first: new Map(tx.payments.map((p) => [p.id, { hash: p.paymentHash!, bolt11: p.bolt11! }])) };
}

test('invoices are created with config.lnbits.invoiceExpirySeconds (default 10 min)', async () => {
  const { url, superuserToken } = getStack().lnbits;
  const payee = await createWallet(url, superuserToken, { name: 'expiry-default' });
  const config = loadConfig({ env: {}, file: null, overrides: {} });
  assert.equal(config.lnbits.invoiceExpirySeconds, 600);
  const lnbits = createLnbitsClient({ url });
  const inv = await lnbits.createInvoice(payee.invoiceKey, { amountSats: 10, memo: 'expiry', expirySeconds: config.lnbits.invoiceExpirySeconds });
  const e = decodeBolt11(inv.bolt11);
  assert.equal(e.expirySeconds, 600);
  assert.equal(e.paymentHash, inv.paymentHash);
  assert.ok(Math.abs(e.createdAt.getTime() - Date.now()) < 60_000, 'timestamp is now');
  assert.equal(decodeBolt11((await lnbits.createInvoice(payee.invoiceKey, { amountSats: 10, memo: 'lnbits default' })).bolt11).expirySeconds, 3600);
});

test('an expired, unpaid invoice is replaced on retry: paid once, to the new invoice; the old hash is kept', async (t) => {
  await withCashOutWorld({ ...expiryWorld, overrides: { lnbits: { invoiceExpirySeconds: 3 } } }, async ({ world: w, client, proxy }) => {
    const sourceBefore = await walletSats(w.source);
    const { id, row, first } = await failAfterInvoices(w, client, proxy);
    for (const inv of first.values()) assert.equal(decodeBolt11(inv.bolt11).expirySeconds, 3);
    const latest = Math.max(...[...first.values()].map((i) => decodeBolt11(i.bolt11).expiresAt.getTime()));
    await sleep(Math.max(0, latest - Date.now()) + 1_500);

    await client.workflow.getHandle(id).executeUpdate(retryFailedPayoutsUpdate, { args: [{ by: 'test' }] });
    const result = (await client.workflow.getHandle(id).result()) as CashOutResult;
    assert.equal(result.status, 'completed');

    const tx = (await ledgerTransaction(w.db.pool, row.id))!;
    const lnbits = createLnbitsClient({ url: getStack().lnbits.url });
    let paid = 0;
    for (const p of tx.payments) {
      const old = first.get(p.id)!;
      assert.equal(p.status, 'completed');
      assert.notEqual(p.paymentHash, old.hash, 'a fresh invoice');
      assert.deepEqual(p.replacedPaymentHashes, [old.hash], 'the replaced hash is recorded');
      const recipientKey = p.kind === 'client' ? w.clients.find((c) => c.id === p.clientId)!.wallet.invoiceKey : w.commission.invoiceKey;
      const oldIncoming = (await lnbits.getPayment(recipientKey, old.hash))!;
      assert.deepEqual([oldIncoming.paid, oldIncoming.status], [false, 'failed'], 'LNbits: the old invoice failed (expired)');
      assert.equal(await lnbits.getPayment(w.source.adminKey, old.hash), null, 'the payer never paid the old invoice');
      assert.equal((await lnbits.getPayment(w.source.adminKey, p.paymentHash!))!.paid, true, 'the payer paid the new one');
      const wallet = p.kind === 'client' ? w.clients.find((c) => c.id === p.clientId)!.wallet : w.commission;
      assert.equal(await walletSats(wallet), p.amountSats, 'paid exactly once');
      paid += p.amountSats;
    }
    assert.equal(await walletSats(w.source), sourceBefore - paid);
    // The database refuses to drop a replaced hash.
    const p0 = tx.payments[0]!;
    await assert.rejects(
      w.db.pool.query(`UPDATE satoshimachine.payments SET replaced_payment_hashes = '{}' WHERE id = $1`, [p0.id]),
      /append-only/,
    );
    t.diagnostic(`replaced ${tx.payments.length} expired invoices`);
  });
});

test('an invoice that has not expired is never replaced: the retry pays the stored invoice', async () => {
  await withCashOutWorld({ ...expiryWorld, overrides: { lnbits: { invoiceExpirySeconds: 3600 } } }, async ({ world: w, client, proxy }) => {
    const { id, row, first } = await failAfterInvoices(w, client, proxy);
    await client.workflow.getHandle(id).executeUpdate(retryFailedPayoutsUpdate, { args: [{ by: 'test' }] });
    assert.equal(((await client.workflow.getHandle(id).result()) as CashOutResult).status, 'completed');
    const tx = (await ledgerTransaction(w.db.pool, row.id))!;
    for (const p of tx.payments) {
      assert.equal(p.paymentHash, first.get(p.id)!.hash, 'same invoice');
      assert.deepEqual(p.replacedPaymentHashes, []);
      const wallet = p.kind === 'client' ? w.clients.find((c) => c.id === p.clientId)!.wallet : w.commission;
      assert.equal(await walletSats(wallet), p.amountSats);
    }
  });
});
