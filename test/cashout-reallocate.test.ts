/**
 * Balances move between the allocation and the reservation: the workflow is held at the halt (after its
 * allocation, before its reservation), a client's balance is cut by an operator adjustment, then payouts are
 * resumed. The reservation fails (BalanceWouldGoNegativeError), balances are read again and re-allocated once:
 * no debit exceeds a balance, Σ debits and Σ sats are exact, the ledger and LNbits agree.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { addAdjustment } from '../adapters/ledger/adjustments';
import { haltPayouts, resumePayouts } from '../adapters/ledger/operator-control';
import { startCashOut } from '../client/cashout';
import { cashOutWorkflowId } from '../domain/constants';
import { cashOutStatusQuery, type CashOutResult } from '../workflows/cashout';
import { cashOutRow, ledgerTransaction, storedBalance, untilState, walletSats, withCashOutWorld } from './support/cashout-fixture';

test('a balance cut after the allocation: reserve fails, re-allocates once, pays within the balances', async () => {
  // 500, 750, 1000, 1250, 1500 GTQ = 5000 GTQ; the cash-out dispensed 4000 GTQ.
  await withCashOutWorld({ taskQueuePrefix: 'cashout-realloc' }, async ({ world: w, client }) => {
    const sourceBefore = await walletSats(w.source);
    await haltPayouts(w.db.pool, 'ops@test', 'hold for the adjustment');
    const row = cashOutRow();
    await startCashOut(client, w.config, row, { haltRecheckSeconds: 0.2 });
    const id = cashOutWorkflowId(row.id);
    await untilState(client, id, (s) => s.halted && s.step === 'preflight', 'halted after the allocation');

    // The snapshot gave the 1500 GTQ client 4000 × 1500 / 5000 = 1200 GTQ; it now holds 600 (Σ 4100 ≥ 4000).
    const cut = w.clients[4]!;
    await addAdjustment(w.db.pool, { clientId: cut.id, amount: -90_000, reason: 'chargeback', actor: 'ops@test' });
    const held = new Map(await Promise.all(w.clients.map(async (c) => [c.id, await storedBalance(w.db.pool, c.id)] as const)));
    assert.equal(held.get(cut.id), 60_000);
    await resumePayouts(w.db.pool, 'ops@test', null);

    const result = (await client.workflow.getHandle(id).result()) as CashOutResult;
    assert.equal(result.status, 'completed');
    assert.equal((await client.workflow.getHandle(id).query(cashOutStatusQuery)).reallocated, true, 're-allocated');

    const tx = (await ledgerTransaction(w.db.pool, row.id))!;
    const clientPays = tx.payments.filter((p) => p.kind === 'client');
    assert.equal(clientPays.length, 5);
    for (const c of w.clients) {
      const p = clientPays.find((x) => x.clientId === c.id)!;
      assert.ok(p.fiatDebit <= held.get(c.id)!, `client ${c.id}: debit ${p.fiatDebit} ≤ balance ${held.get(c.id)}`);
      assert.equal(await storedBalance(w.db.pool, c.id), held.get(c.id)! - p.fiatDebit, 'balance went down by the debit');
      assert.equal(await walletSats(c.wallet), p.amountSats, 'LNbits agrees');
    }
    assert.ok(clientPays.find((p) => p.clientId === cut.id)!.fiatDebit < 60_000);
    assert.equal(clientPays.reduce((s, p) => s + p.fiatDebit, 0), 400_000, 'Σ debits = the dispensed 4000 GTQ exactly');
    const commission = tx.payments.find((p) => p.kind === 'commission')!;
    const satsSum = clientPays.reduce((s, p) => s + p.amountSats, 0);
    assert.equal(tx.unallocated_sats, 0, 'the clients still held more than was dispensed');
    assert.equal(satsSum + commission.amountSats + tx.unallocated_sats, 512_400, 'Σ sats exact');
    assert.equal(satsSum, tx.base_sats);
    assert.equal(await walletSats(w.commission), commission.amountSats);
    assert.equal(await walletSats(w.source), sourceBefore - satsSum - commission.amountSats);
    // The failed first reservation left no trace: one debit per payout in the balance log.
    const logRows = await w.db.pool.query(`SELECT count(*)::int AS n FROM satoshimachine.balance_log WHERE reason = 'payout_reserved'`);
    assert.equal(logRows.rows[0].n, 5);
  });
});
