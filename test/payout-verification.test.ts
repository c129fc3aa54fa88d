/**
 * Every payout verified, against the real LNbits behind a response-rewriting proxy (an attacker on the path)
 * and a tampered ledger row. In each case: not one sat reaches a wallet other than the payout's recipient
 * (balances read in LNbits), no payout is completed without LNbits' proof (both wallets' rows), and a critical
 * `payout-disagreement` alert names what disagreed.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import type { Client } from '@temporalio/client';
import { createLnbitsClient } from '../adapters/lnbits/client';
import { startCashOut } from '../client/cashout';
import { cashOutWorkflowId } from '../domain/constants';
import { cashOutRow, ledgerTransaction, newWallet, untilState, walletSats, withCashOutWorld, type CashOutWorld } from './support/cashout-fixture';
import { cliEnvFor, runCli } from './support/cli';
import type { FaultProxy } from './support/lnbits-fault-proxy';
import type { TestWallet } from './support/lnbits';
import { getStack } from './support/stack';

const world = { taskQueuePrefix: 'payout-verify', clients: 2, faultProxy: true } as const;
const direct = () => createLnbitsClient({ url: getStack().lnbits.url });

const recipientOf = (w: CashOutWorld, p: { kind: string; clientId: string | null }): TestWallet =>
  p.kind === 'client' ? w.clients.find((c) => c.id === p.clientId)!.wallet : w.commission;

async function disagreementAlerts(w: CashOutWorld): Promise<Array<{ severity: string; message: string; details: { disagreement: string; amountSats: number } }>> {
  const { rows } = await w.db.pool.query(`SELECT severity, message, details FROM satoshimachine.alerts WHERE kind = 'payout-disagreement' ORDER BY id`);
  return rows;
}

/** Runs a cash-out until the operator is needed; returns its row id and workflow id. */
async function runUntilOperator(w: CashOutWorld, client: Client) {
  const row = cashOutRow();
  await startCashOut(client, w.config, row);
  const id = cashOutWorkflowId(row.id);
  await untilState(client, id, (x) => x.step === 'wait-operator' || x.step === 'done', 'wait-operator', 60_000);
  return { row, id };
}

/**
 * The outcome every case must show: the attacker got nothing; a payout is completed only when LNbits shows
 * its stored hash paid by the source to its recipient; recipients hold at most their payout, exactly once.
 */
async function assertNothingWrongPaid(w: CashOutWorld, lamassuId: string, attacker: TestWallet, sourceBefore: number) {
  assert.equal(await walletSats(attacker), 0, 'no sat reached the attacker');
  const tx = (await ledgerTransaction(w.db.pool, lamassuId))!;
  let paid = 0;
  for (const p of tx.payments) {
    const recipient = recipientOf(w, p);
    const got = await walletSats(recipient);
    if (p.status === 'completed') {
      const out = await direct().paymentRows(w.source.adminKey, p.paymentHash!);
      const inc = await direct().paymentRows(recipient.invoiceKey, p.paymentHash!);
      assert.ok(out.some((r) => r.status === 'success' && r.amountMsat === -BigInt(p.amountSats) * 1000n), `completed payout ${p.id} was paid by the source`);
      assert.ok(inc.some((r) => r.status === 'success' && r.amountMsat === BigInt(p.amountSats) * 1000n), `completed payout ${p.id} reached its recipient`);
      assert.equal(got, p.amountSats, 'paid exactly once');
    } else {
      assert.ok(got === 0 || got === p.amountSats, `recipient of an open payout holds 0 or its amount, not ${got}`);
    }
    paid += got;
  }
  assert.equal(await walletSats(w.source), sourceBefore - paid, 'the source paid only the recipients');
  return tx;
}

test('a swapped invoice (another wallet, 3x the amount, JSON amount unchanged) is never paid', async () => {
  await withCashOutWorld(world, async ({ world: w, client, proxy }) => {
    const attacker = await newWallet('attacker');
    const sourceBefore = await walletSats(w.source);
    proxy.intercept = (r) =>
      r.isInvoice
        ? {
            replace: async (up) => {
              if (up.status !== 201) return undefined;
              const orig = up.json as { amount: number };
              const evil = await direct().createInvoice(attacker.invoiceKey, { amountSats: (orig.amount / 1000) * 3, memo: 'evil' });
              // A consistent forgery: the attacker's bolt11 and its hash; only the amount gives it away.
              return { status: 201, json: { ...orig, bolt11: evil.bolt11, payment_hash: evil.paymentHash } };
            },
          }
        : undefined;
    const { row } = await runUntilOperator(w, client);
    const tx = await assertNothingWrongPaid(w, row.id, attacker, sourceBefore);
    assert.ok(tx.payments.every((p) => p.status !== 'completed' && p.paymentHash === null), 'no payout completed, no unverified invoice stored');
    assert.equal(proxy.paysForwarded, 0, 'not one payment was sent');
    const alerts = await disagreementAlerts(w);
    assert.ok(alerts.length >= 1);
    assert.ok(alerts.every((a) => a.severity === 'critical'));
    assert.match(alerts[0]!.message, /the invoice is for \d+ msat, the payout for \d+ msat/);
    assert.match(alerts[0]!.message, /Payout of \d+ sats to (client client \d|the commission wallet)/, 'names the client and the amount');
  });
});

test('a fake 201 "success" (hash 00…, amount -1000) completes nothing', async () => {
  await withCashOutWorld(world, async ({ world: w, client, proxy }) => {
    const attacker = await newWallet('attacker');
    const sourceBefore = await walletSats(w.source);
    proxy.intercept = (r) =>
      r.isPayment
        ? { answer: { status: 201, json: { payment_hash: '0'.repeat(64), checking_id: '0'.repeat(64), bolt11: (r.json as { bolt11: string }).bolt11, status: 'success', amount: -1000, fee: 0, wallet_id: 'x' } } }
        : undefined;
    const { row } = await runUntilOperator(w, client);
    const tx = await assertNothingWrongPaid(w, row.id, attacker, sourceBefore);
    assert.ok(tx.payments.every((p) => p.status !== 'completed'), 'no payout completed');
    for (const p of tx.payments) assert.equal(await walletSats(recipientOf(w, p)), 0);
    const alerts = await disagreementAlerts(w);
    assert.ok(alerts.length >= 1);
    assert.match(alerts[0]!.message, new RegExp(`LNbits answered the payment with hash ${'0'.repeat(64)}, the stored invoice has [0-9a-f]{64}`));
  });
});

test("a swapped payment hash in LNbits' answer is a disagreement: alerted; completed only with LNbits' proof", async () => {
  await withCashOutWorld(world, async ({ world: w, client, proxy }) => {
    const attacker = await newWallet('attacker');
    const sourceBefore = await walletSats(w.source);
    const fakeHash = randomBytes(32).toString('hex');
    proxy.intercept = (r) => (r.isPayment ? { replace: (up) => (up.status === 201 ? { status: 201, json: { ...(up.json as object), payment_hash: fakeHash } } : undefined) } : undefined);
    const { row } = await runUntilOperator(w, client);
    // LNbits did pay the stored invoices (the answer was rewritten after): each recipient exactly once.
    await assertNothingWrongPaid(w, row.id, attacker, sourceBefore);
    const alerts = await disagreementAlerts(w);
    assert.ok(alerts.length >= 1);
    assert.match(alerts[0]!.message, new RegExp(`LNbits answered the payment with hash ${fakeHash}`));
  });
});

test('a tampered bolt11 row: the database refuses it; written around the guard, tx retry does not pay it', async () => {
  await withCashOutWorld(world, async ({ world: w, client, proxy }) => {
    const attacker = await newWallet('attacker');
    const sourceBefore = await walletSats(w.source);
    refusePayments(proxy);
    const { row } = await runUntilOperator(w, client);
    const before = (await ledgerTransaction(w.db.pool, row.id))!;
    assert.ok(before.payments.every((p) => p.status === 'failed' && p.bolt11), 'failed with stored invoices');
    const target = before.payments.find((p) => p.kind === 'client')!;
    const evil = await direct().createInvoice(attacker.invoiceKey, { amountSats: target.amountSats * 5, memo: 'evil' });

    await assert.rejects(w.db.pool.query(`UPDATE satoshimachine.payments SET bolt11 = $2 WHERE id = $1`, [target.id, evil.bolt11]), /bolt11 of an invoice never changes/);
    // An attacker with the database owner's rights can get around triggers: the transfer must still refuse.
    const c = await w.db.pool.connect();
    try {
      await c.query('BEGIN');
      await c.query(`SET LOCAL session_replication_role = replica`);
      await c.query(`UPDATE satoshimachine.payments SET bolt11 = $2 WHERE id = $1`, [target.id, evil.bolt11]);
      await c.query('COMMIT');
    } finally {
      c.release();
    }
    proxy.intercept = null;
    const retry = await runCli(['tx', 'retry', row.id, '--actor', 'test', '--json'], cliEnvFor(w.config));
    assert.equal(retry.code, 0, retry.stderr);
    await untilState(client, cashOutWorkflowId(row.id), (x) => x.step === 'wait-operator' && x.payouts.every((p) => p.status !== 'pending'), 'retried', 60_000);

    const tx = await assertNothingWrongPaid(w, row.id, attacker, sourceBefore);
    assert.notEqual(tx.payments.find((p) => p.id === target.id)!.status, 'completed', 'the tampered payout is held');
    assert.ok(tx.payments.filter((p) => p.id !== target.id).every((p) => p.status === 'completed'), 'the others are paid');
    const alerts = await disagreementAlerts(w);
    assert.ok(alerts.some((a) => /the invoice's payment hash [0-9a-f]{64} is not the payout's/.test(a.message)), alerts.map((a) => a.message).join('\n'));
  });
});

/** Every payment is refused by "LNbits" before anything is paid; invoices are created for real. */
function refusePayments(proxy: FaultProxy) {
  proxy.intercept = (r) => (r.isPayment ? { answer: { status: 520, json: { detail: 'Insufficient balance.', status: 'failed' } } } : undefined);
}
