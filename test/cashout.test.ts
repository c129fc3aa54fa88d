/** The cash-out workflow on the real stack: happy path, and duplicates (running, completed, forgotten). */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createLnbitsClient } from '../adapters/lnbits/client';
import { startCashOut } from '../client/cashout';
import { CashOutStatus, PayoutSats } from '../domain/search-attributes';
import { cashOutWorkflowId } from '../domain/constants';
import { cashOutStatusQuery, type CashOutResult } from '../workflows/cashout';
import { cashOutRow, ledgerTransaction, setHalted, walletSats, withCashOutWorld } from './support/cashout-fixture';
import { getStack } from './support/stack';

test('happy path: 5 clients paid, commission paid, ledger, LNbits and status query agree', async (t) => {
  await withCashOutWorld({ taskQueuePrefix: 'cashout' }, async ({ world: w, client }) => {
    const row = cashOutRow();
    const sourceBefore = await walletSats(w.source);
    const t0 = performance.now();
    assert.equal(await startCashOut(client, w.config, row), 'started');
    const handle = client.workflow.getHandle(cashOutWorkflowId(row.id));
    const result = (await handle.result()) as CashOutResult;
    const ms = performance.now() - t0;
    t.diagnostic(`end-to-end cash-out with ${w.clients.length} clients: ${ms.toFixed(0)} ms`);
    assert.equal(result.status, 'completed');

    const tx = (await ledgerTransaction(w.db.pool, row.id))!;
    assert.equal(tx.status, 'completed');
    assert.equal(tx.workflow_id, cashOutWorkflowId(row.id));
    const desc = await handle.describe();
    assert.equal(tx.run_id, desc.runId);
    const clientPays = tx.payments.filter((p) => p.kind === 'client');
    const commission = tx.payments.find((p) => p.kind === 'commission')!;
    assert.equal(clientPays.length, 5);
    assert.ok(tx.payments.every((p) => p.status === 'completed'));
    const paidSats = clientPays.reduce((s, p) => s + p.amountSats, 0);
    assert.equal(paidSats + commission.amountSats + tx.unallocated_sats, 512_400, 'Σ payouts + commission + unallocated = crypto_atoms');
    assert.equal(commission.amountSats, tx.commission_sats);

    // LNbits agrees, sat for sat.
    for (const c of w.clients) {
      const p = clientPays.find((x) => x.clientId === c.id)!;
      assert.equal(await walletSats(c.wallet), p.amountSats, `client ${c.id}`);
    }
    assert.equal(await walletSats(w.commission), commission.amountSats);
    assert.equal(await walletSats(w.source), sourceBefore - paidSats - commission.amountSats);
    // Balances went down by exactly the fiat debits (4000 GTQ in total: the clients held 4500).
    const { rows } = await w.db.pool.query(`SELECT id, remaining_balance_fiat_minor::int AS b FROM satoshimachine.clients`);
    const debit = clientPays.reduce((s, p) => s + p.fiatDebit, 0);
    assert.equal(debit, 400_000);
    for (const c of w.clients) assert.equal(rows.find((r) => r.id === c.id).b, c.depositMinor - clientPays.find((p) => p.clientId === c.id)!.fiatDebit);

    // The status query shows the same payouts, and no key.
    const status = await handle.query(cashOutStatusQuery);
    assert.equal(status.status, 'completed');
    assert.deepEqual(
      status.payouts.map((p) => [p.id, p.status, p.amountSats]).sort(),
      tx.payments.map((p) => [p.id, p.status, p.amountSats]).sort(),
    );
    const text = JSON.stringify(status);
    for (const secret of [w.source.adminKey, w.commission.invoiceKey, ...w.clients.map((c) => c.wallet.invoiceKey)]) assert.ok(!text.includes(secret));
    assert.match((await desc.staticSummary()) ?? '', /512400 sats · 4000 GTQ/);
    // Memo and extra as designed (client 0's wallet sees its incoming payment).
    const lnbits = createLnbitsClient({ url: w.config.lnbits.url });
    const p0 = clientPays.find((p) => p.clientId === w.clients[0]!.id)!;
    const seen = (await lnbits.getPayment(w.clients[0]!.wallet.invoiceKey, p0.paymentHash!))!;
    assert.match(seen.memo ?? '', new RegExp(`${p0.amountSats} sats for [0-9.]+ GTQ \\(cost basis \\d+ GTQ/BTC\\)`));
    assert.deepEqual({ ...seen.extra, tag: undefined }, { tag: undefined, lamassuTxId: row.id, paymentId: p0.id, workflowId: cashOutWorkflowId(row.id) });
  });
});

test('duplicates: a running and a completed workflow reject a second start; nothing is paid twice', async () => {
  await withCashOutWorld({ taskQueuePrefix: 'cashout' }, async ({ world: w, client }) => {
    const row = cashOutRow();
    await setHalted(w.db.pool, true); // keeps the first run waiting before its transfers
    assert.equal(await startCashOut(client, w.config, row, { haltRecheckSeconds: 0.2 }), 'started');
    const handle = client.workflow.getHandle(cashOutWorkflowId(row.id));
    for (let i = 0; i < 50 && !(await handle.query(cashOutStatusQuery)).halted; i++) await new Promise((r) => setTimeout(r, 100));
    assert.equal((await handle.query(cashOutStatusQuery)).halted, true);
    assert.equal(await startCashOut(client, w.config, row), 'already-started', 'running');
    assert.equal(await walletSats(w.clients[0]!.wallet), 0, 'halted: nothing paid yet');
    await setHalted(w.db.pool, false);
    assert.equal(((await handle.result()) as CashOutResult).status, 'completed');
    assert.equal(await startCashOut(client, w.config, row), 'already-started', 'completed');
    const { rows } = await w.db.pool.query(`SELECT count(*)::int AS n FROM satoshimachine.payments`);
    assert.equal(rows[0].n, 6);
  });
});

test('a forgotten workflow (history deleted, or a fresh id for the same row) stops as duplicate without moving money', async (t) => {
  await withCashOutWorld({ taskQueuePrefix: 'cashout' }, async ({ world: w, client }) => {
    const row = cashOutRow();
    await startCashOut(client, w.config, row);
    const id = cashOutWorkflowId(row.id);
    assert.equal(((await client.workflow.getHandle(id).result()) as CashOutResult).status, 'completed');
    const balances = async () => Promise.all([w.source, w.commission, ...w.clients.map((c) => c.wallet)].map(walletSats));
    const before = await balances();

    // 1. A fresh workflow id pointing at the same row.
    assert.equal(await startCashOut(client, w.config, row, { workflowId: `${id}-again` }), 'started');
    const again = (await client.workflow.getHandle(`${id}-again`).result()) as CashOutResult;
    assert.equal(again.status, 'duplicate');
    // The Web UI shows the owning run's truth for the duplicate run: its ledger status and the sats it paid.
    const dup = await client.workflow.getHandle(`${id}-again`).describe();
    assert.equal(dup.typedSearchAttributes.get(CashOutStatus), 'completed');
    assert.ok((dup.typedSearchAttributes.get(PayoutSats) ?? 0) > 0, 'PayoutSats is what the owner paid, not 0');

    // 2. The original id after its history is gone (what retention does after 24 h).
    const { address, namespace, cliPath } = getStack().temporal;
    execFileSync(cliPath, ['workflow', 'delete', '--address', address, '--namespace', namespace, '--workflow-id', id, '--yes'], { encoding: 'utf8' });
    // Deletion is asynchronous on the server: wait until the execution is gone.
    const t0 = Date.now();
    for (let i = 0; i < 300; i++) {
      const gone = await client.workflow.getHandle(id).describe().then(() => false, (e: Error) => e.name === 'WorkflowNotFoundError');
      if (gone) break;
      await new Promise((r) => setTimeout(r, 200));
    }
    t.diagnostic(`history deleted after ${Date.now() - t0} ms`);
    const outcome = await startCashOut(client, w.config, row);
    assert.equal(outcome, 'started', 'the id is free again once the history is deleted');
    assert.equal(((await client.workflow.getHandle(id).result()) as CashOutResult).status, 'duplicate');

    assert.deepEqual(await balances(), before, 'no LNbits balance moved');
    const tx = (await ledgerTransaction(w.db.pool, row.id))!;
    assert.equal(tx.status, 'completed');
    assert.equal(tx.payments.length, 6);
    const alerts = await w.db.pool.query(`SELECT severity, kind FROM satoshimachine.alerts WHERE kind = 'duplicate-cashout'`);
    assert.deepEqual(alerts.rows, [{ severity: 'critical', kind: 'duplicate-cashout' }, { severity: 'critical', kind: 'duplicate-cashout' }]);
  });
});
