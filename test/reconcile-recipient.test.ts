/**
 * The reconciliation reads each completed payout's RECIPIENT wallet too: LNbits 1.6.2 (FakeWallet) was seen
 * failing a client's incoming row after the worker had proven the payout paid (both rows success at proof
 * time) — the source paid, the ledger says completed, the client's wallet never holds the sats. The payer's
 * row cannot show that; a `payout-not-received` finding (critical) must.
 *
 * Fault injection on the real thing: the race inside LNbits cannot be timed on demand, so the test produces
 * its outcome in LNbits' own SQLite database — the client's incoming row of a really paid payout set to
 * `failed` afterwards. A private LNbits, so that its database is this test's alone. A client key LNbits rejects
 * (a real rejection: a key of no wallet) leaves that client's payouts unchecked, reported, the rest checked.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import type { Client } from '@temporalio/client';
import { createReconcileActivities, type ReconciliationReport } from '../activities/reconcile';
import { setClientInvoiceKey } from '../adapters/ledger/clients';
import { startCashOut } from '../client/cashout';
import { cashOutWorkflowId } from '../domain/constants';
import { createLogger } from '../log/logger';
import { reconciliationWorkflow } from '../workflows';
import { cashOutRow, ENCRYPTION_KEY, ledgerTransaction, withCashOutWorld, type CashOutWorld } from './support/cashout-fixture';
import { balanceSats } from './support/lnbits';
import { lnbitsWrite } from './support/lnbits-db-write';
import { startLnbits, type TestLnbits } from './support/lnbits-server';
import { startTestWorker, uniqueTaskQueue } from './support/temporal-client';

const log = createLogger({ level: process.env.LOG_LEVEL ?? 'silent', name: 'reconcile' });

/** The reconciliation workflow on this world's ledger (a worker of its own), LNbits checks of every payout. */
async function reconcile(w: CashOutWorld, client: Client): Promise<ReconciliationReport> {
  const taskQueue = uniqueTaskQueue('recipient-reconcile');
  const worker = await startTestWorker({ taskQueue, activities: createReconcileActivities({ config: w.config, pool: w.db.pool, log }) });
  try {
    return await client.workflow.execute(reconciliationWorkflow, { taskQueue, workflowId: `recipient-reconcile-${randomBytes(4).toString('hex')}`, args: [{ lnbits: 'all' }] });
  } finally {
    await worker.stop();
  }
}

type LnbitsSummary = { checked: number; recipientChecked: number; recipientUnchecked: number; recipientUnreachable: number; keyRejected: boolean };

test("a client's incoming row failed after the payout was paid: exactly one critical payout-not-received finding", { timeout: 300_000 }, async () => {
  const dataDir = mkdtempSync(path.join(tmpdir(), 'satm-lnbits-recipient-'));
  const dbFile = path.join(dataDir, 'database.sqlite3');
  const lnbits: TestLnbits = await startLnbits({ dataDir });
  try {
    await withCashOutWorld({ taskQueuePrefix: 'recon-recipient', clients: 2, lnbits }, async ({ world: w, client }) => {
      // A cash-out paid through the real worker and LNbits: 2 client payouts and the commission.
      const row = cashOutRow();
      await startCashOut(client, w.config, row);
      const done = (await client.workflow.getHandle(cashOutWorkflowId(row.id)).result()) as { status: string };
      assert.equal(done.status, 'completed');
      const tx = (await ledgerTransaction(w.db.pool, row.id))!;
      assert.deepEqual(tx.payments.map((p) => p.status), ['completed', 'completed', 'completed']);
      const c0 = w.clients[0]!;
      const payout = tx.payments.find((p) => p.kind === 'client' && p.clientId === c0.id)!;
      assert.equal(await balanceSats(lnbits.url, c0.wallet.invoiceKey), payout.amountSats, 'the client holds its payout');

      // The clean ledger: zero findings, every recipient wallet read with its own key.
      const clean = await reconcile(w, client);
      assert.deepEqual(clean.counts, {}, JSON.stringify(clean.findings));
      const cleanSummary = clean.summary.lnbits as LnbitsSummary;
      assert.deepEqual([cleanSummary.checked, cleanSummary.recipientChecked, cleanSummary.recipientUnchecked], [3, 3, 0]);

      // LNbits fails the client's incoming row after the payment (the source's outgoing row stays success).
      const flipped = await lnbitsWrite(dbFile, `UPDATE apipayments SET status = 'failed' WHERE payment_hash = ? AND wallet_id = ? AND amount > 0 AND status = 'success'`, [payout.paymentHash!, c0.wallet.id]);
      assert.equal(flipped, 1, "the client's incoming row was failed in LNbits");
      assert.equal(await balanceSats(lnbits.url, c0.wallet.invoiceKey), 0, 'the client no longer holds the sats');

      const report = await reconcile(w, client);
      assert.deepEqual(report.counts, { 'payout-not-received': 1 }, JSON.stringify(report.findings));
      const [f] = report.findings;
      assert.deepEqual([f!.kind, f!.severity, f!.subject, f!.details.clientId, f!.details.amountSats, f!.details.paymentHash, f!.details.recipientRowState], ['payout-not-received', 'critical', payout.id, c0.id, payout.amountSats, payout.paymentHash, 'failed']);
      for (const part of [payout.id, c0.id, `${payout.amountSats} sats`, payout.paymentHash!, 'incoming row is failed']) assert.ok(f!.message.includes(part), `the message names ${part}: ${f!.message}`);
      assert.doesNotMatch(JSON.stringify(report), new RegExp(`${c0.wallet.invoiceKey}|${w.source.adminKey}`), 'no key in the report');
      const alerts = (await w.db.pool.query(`SELECT severity FROM satoshimachine.alerts WHERE kind = 'payout-not-received' AND resolved_at IS NULL`)).rows;
      assert.deepEqual(alerts, [{ severity: 'critical' }]);

      // Client 1's key is one LNbits rejects: its payout is reported unchecked, the pass goes on (the failed
      // row of client 0 still found, the commission still read).
      const c1 = w.clients[1]!;
      await setClientInvoiceKey(w.db.pool, c1.id, randomBytes(16).toString('hex'), ENCRYPTION_KEY);
      const partial = await reconcile(w, client);
      assert.deepEqual(partial.counts, { 'payout-not-received': 1, 'reconciliation-incomplete': 1 }, JSON.stringify(partial.findings));
      const incomplete = partial.findings.find((x) => x.kind === 'reconciliation-incomplete')!;
      assert.equal(incomplete.subject, `client ${c1.id}`);
      assert.match(incomplete.message, /1 payout\(s\) to client .* not checked for receipt: LNbits rejected its key/);
      const s = partial.summary.lnbits as LnbitsSummary;
      assert.deepEqual([s.checked, s.recipientChecked, s.recipientUnchecked, s.keyRejected], [3, 2, 1, false]);
    });
  } finally {
    await lnbits.stop();
  }
});
