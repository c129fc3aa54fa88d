/**
 * Many clients per cash-out (issue 15) on the real stack: 2,000 clients (each with its own LNbits wallet: the
 * ledger's wallet_id is UNIQUE) are paid by one cash-out; a cash-out over `cashOutLimits` is refused up front
 * with CashOutTooLargeError, its ledger row needs_attention with the reason and a critical alert, nothing paid.
 * Prints the payload sizes the workflow carries (allocation, status query, result) and its history length.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { WorkflowFailedError } from '@temporalio/client';
import { createClient, addDeposit, confirmDeposit } from '../adapters/ledger';
import { startCashOut } from '../client/cashout';
import { cashOutWorkflowId } from '../domain/constants';
import { fiatMinor } from '../domain/money';
import { cashOutPayoutsQuery, cashOutStatusQuery, cashOutSummaryQuery, type CashOutResult } from '../workflows/cashout';
import { ENCRYPTION_KEY, cashOutRow, ledgerTransaction, newWallet, walletSats, type CashOutWorld } from './support/cashout-fixture';
import { withCashOutWorld } from './support/cashout-fixture';
import type { TestWallet } from './support/lnbits';

const DEPOSIT_MINOR = 1_000; // 10 GTQ each: 2,000 clients hold 20,000 GTQ, the cash-out takes 4,000

/** n clients with their own LNbits wallets and a confirmed deposit, created in parallel batches. */
async function addClients(w: CashOutWorld, n: number, batch = 16): Promise<Array<{ id: string; wallet: TestWallet }>> {
  const out: Array<{ id: string; wallet: TestWallet }> = [];
  for (let i = 0; i < n; i += batch) {
    const made = await Promise.all(
      Array.from({ length: Math.min(batch, n - i) }, async (_, k) => {
        const wallet = await newWallet(`many-${i + k}`);
        const c = await createClient(w.db.pool, { name: `many ${String(i + k).padStart(5, '0')}`, walletId: wallet.id, invoiceKey: wallet.invoiceKey, currency: 'GTQ' }, ENCRYPTION_KEY);
        await confirmDeposit(w.db.pool, (await addDeposit(w.db.pool, { clientId: c.id, amount: fiatMinor(DEPOSIT_MINOR) })).id);
        return { id: c.id, wallet };
      }),
    );
    out.push(...made);
  }
  return out;
}

const jsonBytes = (v: unknown) => Buffer.byteLength(JSON.stringify(v), 'utf8');

test('2,000 clients in one cash-out: every payout paid, LNbits and the ledger agree sat for sat', { timeout: 30 * 60_000 }, async (t) => {
  await withCashOutWorld({ taskQueuePrefix: 'many-clients', clients: 0, overrides: { payoutConcurrency: 32 } }, async ({ world: w, client }) => {
    const n = 2_000;
    const t0 = performance.now();
    const clients = await addClients(w, n);
    const setupS = (performance.now() - t0) / 1000;
    // Balances count as of confirmed_at. The last deposits were confirmed a moment ago with PostgreSQL's
    // microseconds; a row stamped in the same millisecond (JS time is whole ms) would come before them.
    await new Promise((r) => setTimeout(r, 5));
    const row = cashOutRow();
    const sourceBefore = await walletSats(w.source);
    const t1 = performance.now();
    assert.equal(await startCashOut(client, w.config, row), 'started');
    const handle = client.workflow.getHandle(cashOutWorkflowId(row.id));
    const result = (await handle.result()) as CashOutResult;
    const runS = (performance.now() - t1) / 1000;
    assert.equal(result.status, 'completed');

    const tx = (await ledgerTransaction(w.db.pool, row.id))!;
    assert.equal(tx.status, 'completed');
    const clientPays = tx.payments.filter((p) => p.kind === 'client');
    const commission = tx.payments.find((p) => p.kind === 'commission')!;
    assert.equal(clientPays.length, n);
    assert.ok(tx.payments.every((p) => p.status === 'completed'));
    const paidSats = clientPays.reduce((s, p) => s + p.amountSats, 0);
    assert.equal(paidSats + commission.amountSats + tx.unallocated_sats, 512_400, 'Σ payouts + commission + unallocated = crypto_atoms');
    assert.equal(clientPays.reduce((s, p) => s + p.fiatDebit, 0), 400_000, 'the clients are debited the dispensed 4000 GTQ');

    // LNbits: each wallet holds exactly its payout; the sum is the ledger's.
    const byClient = new Map(clientPays.map((p) => [p.clientId, p.amountSats]));
    let walletsSats = 0;
    for (let i = 0; i < clients.length; i += 32) {
      const got = await Promise.all(clients.slice(i, i + 32).map(async (c) => [c.id, await walletSats(c.wallet)] as const));
      for (const [id, sats] of got) {
        assert.equal(sats, byClient.get(id), `client ${id}`);
        walletsSats += sats;
      }
    }
    assert.equal(walletsSats, paidSats);
    assert.equal(await walletSats(w.commission), commission.amountSats);
    assert.equal(await walletSats(w.source), sourceBefore - paidSats - commission.amountSats);
    const { rows: bal } = await w.db.pool.query(`SELECT SUM(remaining_balance_fiat_minor)::bigint AS b FROM satoshimachine.clients`);
    assert.equal(Number(bal[0].b), n * DEPOSIT_MINOR - 400_000, 'ledger conservation: balances = deposits − debits');

    // What the workflow carries: sizes against Temporal's 2 MB payload limit, and its history.
    const status = await handle.query(cashOutStatusQuery);
    assert.equal(status.payouts.length, n + 1);
    const events = await handle.fetchHistory().then((h) => h.events?.length ?? 0);
    t.diagnostic(`2,000 clients: setup ${setupS.toFixed(1)} s, cash-out ${runS.toFixed(1)} s (${(n / runS).toFixed(1)} payouts/s at payoutConcurrency 32)`);
    t.diagnostic(`payload bytes: status query ${jsonBytes(status)}, result ${jsonBytes(result)}; history events ${events}`);
    assert.ok(jsonBytes(status) < 2 * 1024 * 1024 && jsonBytes(result) < 2 * 1024 * 1024, 'under Temporal’s 2 MB payload limit');

    // The bounded views for pollers: a summary without payouts, and pages of them.
    const summary = await handle.query(cashOutSummaryQuery);
    assert.equal(summary.status, 'completed');
    assert.deepEqual(summary.payoutsByStatus, { completed: { count: n + 1, sats: paidSats + commission.amountSats } });
    assert.ok(jsonBytes(summary) < 4_096, `summary ${jsonBytes(summary)} bytes`);
    const pages = [];
    for (let offset = 0; offset < n + 1; offset += 500) pages.push(await handle.query(cashOutPayoutsQuery, { offset, limit: 500 }));
    assert.deepEqual(pages.map((p) => p.payouts.length), [500, 500, 500, 500, 1]);
    assert.ok(pages.every((p) => p.total === n + 1 && jsonBytes(p) < 200_000));
    assert.deepEqual(pages.flatMap((p) => p.payouts.map((x) => x.id)), status.payouts.map((x) => x.id), 'the pages are the status query’s payouts, in order');
    assert.equal((await handle.query(cashOutPayoutsQuery, { status: 'failed' })).total, 0);
    await assert.rejects(handle.query(cashOutPayoutsQuery, { limit: 501 }), /limit: expected an integer from 1 to 500/);
    t.diagnostic(`bounded views: summary ${jsonBytes(summary)} bytes, a page of 500 payouts ${jsonBytes(pages[0])} bytes`);
  });
});

test('a cash-out over cashOutLimits.maxClients is refused up front: needs_attention, critical alert, nothing paid', { timeout: 10 * 60_000 }, async () => {
  await withCashOutWorld({ taskQueuePrefix: 'many-clients-refused', clients: 0, overrides: { cashOutLimits: { maxClients: 50 } } }, async ({ world: w, client }) => {
    const clients = await addClients(w, 60);
    await new Promise((r) => setTimeout(r, 5)); // the last deposit must be confirmed before the row's whole-ms time (see above)
    const row = cashOutRow();
    const sourceBefore = await walletSats(w.source);
    assert.equal(await startCashOut(client, w.config, row), 'started');
    const handle = client.workflow.getHandle(cashOutWorkflowId(row.id));
    const err = await handle.result().then(() => null, (e: unknown) => e);
    assert.ok(err instanceof WorkflowFailedError, `expected the workflow to fail, got ${String(err)}`);
    const text = `${String(err.cause)} ${String((err.cause as Error & { cause?: unknown })?.cause ?? '')}`;
    assert.match(text, /CashOutTooLargeError|60 clients in one cash-out exceed cashOutLimits\.maxClients \(50\)/);

    const tx = (await ledgerTransaction(w.db.pool, row.id))!;
    assert.equal(tx.status, 'needs_attention');
    assert.equal(tx.payments.length, 0, 'nothing reserved');
    const { rows: txErr } = await w.db.pool.query(`SELECT error FROM satoshimachine.lamassu_transactions WHERE id = $1`, [tx.id]);
    assert.match(String(txErr[0].error), /CashOutTooLargeError.*60 clients.*maxClients \(50\)/);
    const { rows: alerts } = await w.db.pool.query(`SELECT severity, message FROM satoshimachine.alerts WHERE kind = 'cashout-failed'`);
    assert.equal(alerts.length, 1);
    assert.equal(alerts[0].severity, 'critical');
    assert.match(alerts[0].message, /maxClients \(50\)/);
    assert.equal(await walletSats(w.source), sourceBefore, 'nothing paid');
    for (const c of clients.slice(0, 5)) assert.equal(await walletSats(c.wallet), 0);
    const { rows: bal } = await w.db.pool.query(`SELECT SUM(remaining_balance_fiat_minor)::bigint AS b FROM satoshimachine.clients`);
    assert.equal(Number(bal[0].b), 60 * DEPOSIT_MINOR, 'no balance debited');
  });
});
