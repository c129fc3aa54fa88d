/** Cash-out failures on the real stack: needs_attention, compensation, operator retry and cancel, funding. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { WorkflowUpdateFailedError, type Client } from '@temporalio/client';
import { startCashOut } from '../client/cashout';
import { cashOutWorkflowId } from '../domain/constants';
import { cancelFailedPayoutsUpdate, cashOutStatusQuery, retryFailedPayoutsUpdate, type CashOutResult, type CashOutState } from '../workflows/cashout';
import { cashOutRow, deleteWallet, fund, ledgerTransaction, waitForList, walletSats, withCashOutWorld } from './support/cashout-fixture';


async function untilStatus(client: Client, workflowId: string, status: CashOutState['status']): Promise<CashOutState> {
  const handle = client.workflow.getHandle(workflowId);
  for (let i = 0; i < 200; i++) {
    const s = await handle.query(cashOutStatusQuery).catch(() => undefined);
    if (s?.status === status && s.step === 'wait-operator') return s;
    if (s?.status === status && status !== 'needs_attention') return s;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`${workflowId} never reached ${status}`);
}

const listIds = (client: Client, query: string) => async () => {
  const ids: string[] = [];
  for await (const wf of client.workflow.list({ query })) ids.push(wf.workflowId);
  return ids;
};

test('source balance too low → needs_attention (found by search attribute) → funded → retryFailedPayouts completes', async () => {
  await withCashOutWorld({ taskQueuePrefix: 'cashout-fail', sourceSats: 1_000 }, async ({ world: w, client }) => {
    const row = cashOutRow();
    await startCashOut(client, w.config, row);
    const id = cashOutWorkflowId(row.id);
    const s = await untilStatus(client, id, 'needs_attention');
    assert.match(s.lastError ?? '', /InsufficientBalanceError: source_balance: source wallet holds 1000 sats/);
    assert.equal(s.payouts.length, 0, 'nothing reserved before the pre-flight passed');
    const query = `CashOutStatus = "needs_attention" AND LamassuTxId = "${row.id}" AND FailedPayouts = 6`;
    assert.deepEqual(await waitForList(listIds(client, query), (ids) => ids.includes(id)), [id]);
    const tx = (await ledgerTransaction(w.db.pool, row.id))!;
    assert.equal(tx.status, 'needs_attention');
    const alert = await w.db.pool.query(`SELECT severity FROM satoshimachine.alerts WHERE kind = 'cashout-needs-attention'`);
    assert.deepEqual(alert.rows, [{ severity: 'critical' }]);

    // Invalid input is rejected by the validator; nothing changes.
    const handle = client.workflow.getHandle(id);
    await assert.rejects(handle.executeUpdate(retryFailedPayoutsUpdate, { args: [{ funding: 'maybe' as 'credited' }] }), WorkflowUpdateFailedError);

    await fund(w.source, 600_000);
    const accepted = await handle.executeUpdate(retryFailedPayoutsUpdate, { args: [{ by: 'test' }] });
    assert.deepEqual(accepted, { accepted: true, action: 'retry', payouts: 6 });
    const result = (await handle.result()) as CashOutResult;
    assert.equal(result.status, 'completed');
    const after = (await ledgerTransaction(w.db.pool, row.id))!;
    assert.equal(after.status, 'completed');
    assert.ok(after.payments.every((p) => p.status === 'completed'));
    for (const c of w.clients) assert.equal(await walletSats(c.wallet), after.payments.find((p) => p.clientId === c.id)!.amountSats);
    // Completed: the update is refused (the workflow is closed).
    await assert.rejects(handle.executeUpdate(retryFailedPayoutsUpdate, { args: [{}] }));
  });
});

test('a revoked client key fails only that payout: debit restored, others paid; cancel closes it', async () => {
  await withCashOutWorld({ taskQueuePrefix: 'cashout-fail' }, async ({ world: w, client }) => {
    const victim = w.clients[2]!;
    await deleteWallet(victim.wallet);
    const row = cashOutRow();
    await startCashOut(client, w.config, row);
    const id = cashOutWorkflowId(row.id);
    const s = await untilStatus(client, id, 'needs_attention');
    const failed = s.payouts.filter((p) => p.status === 'failed');
    assert.deepEqual(failed.map((p) => p.clientId), [victim.id]);
    assert.match(failed[0]!.lastError ?? '', /LnbitsAuthError/);
    assert.equal(s.payouts.filter((p) => p.status === 'completed').length, 5, '4 clients + commission');
    assert.deepEqual(await waitForList(listIds(client, `CashOutStatus = "needs_attention" AND LamassuTxId = "${row.id}" AND FailedPayouts = 1`), (ids) => ids.length === 1), [id]);

    // Compensation: the victim's debit is restored (logged), the others keep theirs.
    const bal = async (clientId: string) => (await w.db.pool.query(`SELECT remaining_balance_fiat_minor::int AS b FROM satoshimachine.clients WHERE id = $1`, [clientId])).rows[0].b as number;
    assert.equal(await bal(victim.id), victim.depositMinor);
    const log = await w.db.pool.query(`SELECT reason, delta_fiat_minor::int AS d FROM satoshimachine.balance_log WHERE client_id = $1 ORDER BY id`, [victim.id]);
    assert.deepEqual(log.rows.map((r) => r.reason), ['deposit_confirmed', 'payout_reserved', 'payout_released']);
    assert.equal(log.rows[1].d, -log.rows[2].d);

    const handle = client.workflow.getHandle(id);
    assert.deepEqual(await handle.executeUpdate(cancelFailedPayoutsUpdate, { args: [{ by: 'test', reason: 'wallet deleted' }] }), { accepted: true, action: 'cancel', payouts: 1 });
    const result = (await handle.result()) as CashOutResult;
    assert.equal(result.status, 'completed', 'something was paid');
    const tx = (await ledgerTransaction(w.db.pool, row.id))!;
    assert.equal(tx.status, 'completed');
    assert.equal(tx.payments.find((p) => p.clientId === victim.id)!.status, 'cancelled');
    assert.equal(await bal(victim.id), victim.depositMinor, 'balance stays restored');
    for (const c of w.clients.filter((c) => c !== victim)) {
      assert.equal(await walletSats(c.wallet), tx.payments.find((p) => p.clientId === c.id)!.amountSats);
    }
  });
});

test('fundingMode superuser-credit credits crypto_atoms to the source wallet exactly once', async () => {
  await withCashOutWorld({ taskQueuePrefix: 'cashout-fail', sourceSats: 0, overrides: { fundingMode: 'superuser-credit' } }, async ({ world: w, client }) => {
    const row = cashOutRow();
    await startCashOut(client, w.config, row);
    const result = (await client.workflow.getHandle(cashOutWorkflowId(row.id)).result()) as CashOutResult;
    assert.equal(result.status, 'completed');
    const tx = (await ledgerTransaction(w.db.pool, row.id))!;
    const funding = await w.db.pool.query(`SELECT status, amount_sats::int AS amount, attempts FROM satoshimachine.funding_credits`);
    assert.deepEqual(funding.rows, [{ status: 'done', amount: 512_400, attempts: 1 }]);
    // What stays in the source wallet is exactly the unallocated part.
    assert.equal(await walletSats(w.source), tx.unallocated_sats);
  });
});
