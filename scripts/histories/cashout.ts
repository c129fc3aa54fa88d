/**
 * Cash-out histories on the real stack: waiting for the operator, retried then completed, duplicate,
 * completed, halted before the pre-flight, halted inside the transfer, a transfer in flight, cancelled.
 * Open workflows are saved at that point (partial history), then driven to their end and saved again.
 */
import type { Client } from '@temporalio/client';
import { addDeposit, confirmDeposit } from '../../adapters/ledger';
import { fiatMinor } from '../../domain/money';
import type { CashOutWorld } from '../../test/support/cashout-fixture';
import { haltPayouts, resumePayouts } from '../../adapters/ledger/operator-control';
import { startCashOut } from '../../client/cashout';
import { cashOutWorkflowId } from '../../domain/constants';
import { cancelFailedPayoutsUpdate, retryFailedPayoutsUpdate } from '../../workflows/cashout';
import { cashOutRow, deleteWallet, fund, untilState, withCashOutWorld } from '../../test/support/cashout-fixture';
import { HistoryRecording, scheduled, sleep, until } from './recording';

/** Every client gets a fresh confirmed deposit, so each cash-out pays all of them (none runs dry). */
async function topUp(w: CashOutWorld): Promise<void> {
  for (const c of w.clients) await confirmDeposit(w.db.pool, (await addDeposit(w.db.pool, { clientId: c.id, amount: fiatMinor(500_000) })).id);
}

const waitOperator = (client: Client, id: string) => untilState(client, id, (s) => s.step === 'wait-operator', 'wait-operator', 60_000);

export async function recordCashOuts(rec: HistoryRecording): Promise<void> {
  // World A: the default payout concurrency; the source wallet starts too low for one cash-out.
  await withCashOutWorld({ taskQueuePrefix: 'record-cashout', faultProxy: true, sourceSats: 1_000 }, async ({ world: w, client }) => {
    const a = cashOutRow();
    const idA = cashOutWorkflowId(a.id);
    await startCashOut(client, w.config, a);
    await waitOperator(client, idA);
    await rec.save('cashout-needs-attention-open', 'source wallet too low: needs_attention, waiting for the operator', idA);
    await fund(w.source, 2_000_000);
    await client.workflow.getHandle(idA).executeUpdate(retryFailedPayoutsUpdate, { args: [{ by: 'recorder' }] });
    await client.workflow.getHandle(idA).result();
    await rec.save('cashout-retried-completed', 'needs_attention, funded, retried by the operator, completed', idA);

    await startCashOut(client, w.config, a, { workflowId: `${idA}-dup` });
    await client.workflow.getHandle(`${idA}-dup`).result();
    await rec.save('cashout-duplicate', 'a second run of a recorded Lamassu transaction: duplicate', `${idA}-dup`);

    await topUp(w);
    const c = cashOutRow();
    await startCashOut(client, w.config, c);
    await client.workflow.getHandle(cashOutWorkflowId(c.id)).result();
    await rec.save('cashout-completed', 'the happy path', cashOutWorkflowId(c.id));

    await haltPayouts(w.db.pool, 'recorder', 'recording a halt');
    await topUp(w);
    const d = cashOutRow();
    const idD = cashOutWorkflowId(d.id);
    await startCashOut(client, w.config, d, { haltRecheckSeconds: 0.2 });
    await untilState(client, idD, (s) => s.halted, 'halted');
    await sleep(700); // a few re-check timers
    await rec.save('cashout-halted-preflight-open', 'operator halt before the pre-flight: re-check timers', idD);
    await resumePayouts(w.db.pool, 'recorder', null);
    await client.workflow.getHandle(idD).result();
    await rec.save('cashout-halted-preflight-completed', 'halted before the pre-flight, resumed, completed', idD);

    // Last in this world: a revoked client key fails the cash-out for good.
    await deleteWallet(w.clients[w.clients.length - 1]!.wallet);
    await topUp(w);
    const e = cashOutRow();
    const idE = cashOutWorkflowId(e.id);
    await startCashOut(client, w.config, e);
    await waitOperator(client, idE);
    await rec.save('cashout-key-revoked-needs-attention-open', 'a revoked client key: needs_attention, waiting for the operator', idE);
    await client.workflow.getHandle(idE).executeUpdate(cancelFailedPayoutsUpdate, { args: [{ reason: 'recorder', by: 'recorder' }] });
    await client.workflow.getHandle(idE).result();
    await rec.save('cashout-cancelled', 'needs_attention, cancelled by the operator', idE);
  });

  // World B: one payout at a time, so a transfer can be caught in flight.
  await withCashOutWorld({ taskQueuePrefix: 'record-transfer', faultProxy: true, overrides: { payoutConcurrency: 1 } }, async ({ world: w, client, proxy }) => {
    proxy.delayPayMs = 4_000; // each payment's answer is held back: the payPayment activity is in flight
    await topUp(w);
    const f = cashOutRow();
    const idF = cashOutWorkflowId(f.id);
    await startCashOut(client, w.config, f);
    await until('the second transfer in flight', async () => (proxy.paysForwarded >= 2 ? scheduled(client, idF, 'payPayment', 2) : undefined));
    await rec.save('cashout-mid-transfer-open', 'first payout paid, second payPayment in flight', idF);
    proxy.delayPayMs = 0;
    await client.workflow.getHandle(idF).result();
    await rec.save('cashout-mid-transfer-completed', 'payouts one at a time, completed', idF);

    proxy.delayPayMs = 1_500;
    await topUp(w);
    const g = cashOutRow();
    const idG = cashOutWorkflowId(g.id);
    const paysBefore = proxy.paysForwarded;
    await startCashOut(client, w.config, g, { haltRecheckSeconds: 0.2 });
    await until('a transfer in flight', async () => (proxy.paysForwarded > paysBefore ? true : undefined));
    await haltPayouts(w.db.pool, 'recorder', 'recording a halt in the transfer');
    await untilState(client, idG, (s) => s.halted, 'halted in the transfer');
    proxy.delayPayMs = 0;
    await sleep(700);
    await rec.save('cashout-halted-in-transfer-open', 'halted inside the transfer: the lane waits on re-check timers', idG);
    await resumePayouts(w.db.pool, 'recorder', null);
    await client.workflow.getHandle(idG).result();
    await rec.save('cashout-halted-in-transfer-completed', 'halted inside the transfer, resumed, completed', idG);
  });
}
