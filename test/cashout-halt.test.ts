/**
 * The emergency halt (runbook: payouts halted in the ledger's control row, adapters/ledger/operator-control.ts)
 * on the real stack: a cash-out started while halted, and one halted between two transfers, waits — status
 * query, search attribute and current details say so, no LNbits balance moves — and completes once resumed.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { haltPayouts, resumePayouts } from '../adapters/ledger/operator-control';
import { startCashOut } from '../client/cashout';
import { cashOutWorkflowId } from '../domain/constants';
import type { CashOutResult } from '../workflows/cashout';
import {
  cashOutRow, currentDetails, ledgerTransaction, listWorkflowIds, untilState, waitForList, walletSats, withCashOutWorld, type CashOutWorld,
} from './support/cashout-fixture';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

const allWallets = (w: CashOutWorld) => [w.source, w.commission, ...w.clients.map((c) => c.wallet)];
const balances = (w: CashOutWorld) => Promise.all(allWallets(w).map(walletSats));

/** The completed cash-out: every payout paid once, LNbits and the ledger agree sat for sat. */
async function assertPaidOnce(w: CashOutWorld, lamassuId: string, sourceBefore: number) {
  const tx = (await ledgerTransaction(w.db.pool, lamassuId))!;
  assert.equal(tx.status, 'completed');
  assert.ok(tx.payments.every((p) => p.status === 'completed'));
  let sum = 0;
  for (const c of w.clients) {
    const p = tx.payments.find((x) => x.clientId === c.id)!;
    assert.equal(await walletSats(c.wallet), p.amountSats, `client ${c.id} paid once`);
    sum += p.amountSats;
  }
  const commission = tx.payments.find((p) => p.kind === 'commission')!;
  assert.equal(await walletSats(w.commission), commission.amountSats);
  assert.equal(await walletSats(w.source), sourceBefore - sum - commission.amountSats);
  assert.equal(sum + commission.amountSats + tx.unallocated_sats, 512_400);
}

test('halted before the cash-out: it waits (query, search attribute, details), nothing moves; resumed → completed', async (t) => {
  await withCashOutWorld({ taskQueuePrefix: 'cashout-halt', faultProxy: true }, async ({ world: w, client }) => {
    await haltPayouts(w.db.pool, 'ops@test', 'suspected key leak');
    const before = await balances(w);
    const row = cashOutRow();
    await startCashOut(client, w.config, row, { haltRecheckSeconds: 0.2 });
    const id = cashOutWorkflowId(row.id);
    const s = await untilState(client, id, (x) => x.halted, 'halted');
    assert.equal(s.haltedReason, 'suspected key leak');
    assert.equal(s.status, 'processing');
    assert.equal(s.step, 'preflight', 'waits before the pre-flight, after the allocation');
    assert.equal(s.payouts.length, 0);
    const query = `CashOutStatus = "halted" AND LamassuTxId = "${row.id}"`;
    assert.deepEqual(await waitForList(listWorkflowIds(client, query), (ids) => ids.includes(id)), [id], 'search attribute');
    assert.match(await currentDetails(client, id), /· processing · halted: suspected key leak/);

    await sleep(1_500); // several re-checks
    assert.equal((await client.workflow.getHandle(id).query('status') as { halted: boolean }).halted, true);
    assert.deepEqual(await balances(w), before, 'no LNbits balance moved while halted');
    const tx = (await ledgerTransaction(w.db.pool, row.id))!;
    assert.deepEqual([tx.status, tx.payments.length], ['processing', 0], 'nothing reserved');

    await resumePayouts(w.db.pool, 'ops@test', 'key rotated');
    const t0 = Date.now();
    const result = (await client.workflow.getHandle(id).result()) as CashOutResult;
    t.diagnostic(`completed ${Date.now() - t0} ms after the resume`);
    assert.equal(result.status, 'completed');
    await assertPaidOnce(w, row.id, before[0]!);
    const done = await waitForList(listWorkflowIds(client, `CashOutStatus = "completed" AND LamassuTxId = "${row.id}"`), (ids) => ids.includes(id));
    assert.deepEqual(done, [id]);
    assert.doesNotMatch(await currentDetails(client, id), /halted/);
    const events = await w.db.pool.query(`SELECT actor, action FROM satoshimachine.operator_events ORDER BY id`);
    assert.deepEqual(events.rows, [{ actor: 'ops@test', action: 'payouts-halted' }, { actor: 'ops@test', action: 'payouts-resumed' }]);
  });
});

test('halted between transfers: the payout in flight finishes, the others wait; resumed → each paid once', async () => {
  await withCashOutWorld({ taskQueuePrefix: 'cashout-halt', faultProxy: true, overrides: { payoutConcurrency: 1 } }, async ({ world: w, client, proxy }) => {
    const sourceBefore = await walletSats(w.source);
    proxy.delayPayMs = 1_500; // the first transfer's answer is held back while the operator halts
    const row = cashOutRow();
    await startCashOut(client, w.config, row, { haltRecheckSeconds: 0.2 });
    const id = cashOutWorkflowId(row.id);
    for (let i = 0; i < 300 && proxy.paysForwarded < 1; i++) await sleep(50);
    assert.equal(proxy.paysForwarded, 1, 'one transfer in flight');
    await haltPayouts(w.db.pool, 'ops@test', 'LNbits upgrade');
    const s = await untilState(client, id, (x) => x.halted, 'halted');
    proxy.delayPayMs = 0;
    assert.equal(s.step, 'transfer');
    assert.equal(s.haltedReason, 'LNbits upgrade');
    assert.deepEqual(s.payouts.map((p) => p.status).sort(), ['completed', 'pending', 'pending', 'pending', 'pending', 'pending']);

    await sleep(1_000);
    const paid = (await Promise.all(w.clients.map((c) => walletSats(c.wallet)))).filter((x) => x > 0).length;
    assert.equal(paid, 1, 'only the payout already in flight was paid');
    assert.equal(proxy.paysForwarded, 1, 'no payment reached LNbits while halted');
    assert.match(await currentDetails(client, id), /halted: LNbits upgrade/);

    await resumePayouts(w.db.pool, 'ops@test', null);
    assert.equal(((await client.workflow.getHandle(id).result()) as CashOutResult).status, 'completed');
    await assertPaidOnce(w, row.id, sourceBefore);
    assert.equal(proxy.paysForwarded, 6, 'one payment per payout');
  });
});
