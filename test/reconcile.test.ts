import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import type { Client } from '@temporalio/client';
import { createReconcileActivities, type ReconciliationReport } from '../activities/reconcile';
import { loadConfig, type Config } from '../config';
import { createLogger } from '../log/logger';
import { reconciliationWorkflow } from '../workflows';
import { createLedgerDatabase } from './support/ledger-db';
import { createPaidLedger, ENCRYPTION_KEY, paidCashOut, payFromSource, txRow, type PaidLedger } from './support/paid-ledger';
import { getStack } from './support/stack';
import { startTestWorker, testClient, uniqueTaskQueue } from './support/temporal-client';
import { recordCommission, recordLamassuTransaction } from '../adapters/ledger';
import { computeCommission } from '../domain/commission';
import { fiatMinor } from '../domain/money';

const log = createLogger({ level: process.env.LOG_LEVEL ?? 'silent', name: 'test' });
type Db = Awaited<ReturnType<typeof createLedgerDatabase>>;

function configFor(db: Db, l: PaidLedger, taskQueue: string, since: string): Config {
  return loadConfig({
    env: {},
    file: null,
    overrides: {
      databaseUrl: db.url,
      // The reconciliation reads each client's own wallet with its (decrypted) invoice key.
      encryptionKey: ENCRYPTION_KEY,
      temporal: { address: getStack().temporal.address, namespace: getStack().temporal.namespace, taskQueue },
      lnbits: { url: getStack().lnbits.url, source: { adminKey: l.source.adminKey }, commission: { invoiceKey: l.commission.invoiceKey } },
      reconcileSince: since,
      alerts: { maxBalanceDiscrepancySats: 0 },
    },
  });
}

let temporal: { client: Client; close: () => Promise<void> };
before(async () => {
  temporal = await testClient();
});
after(async () => {
  await temporal?.close();
});

/** Runs the reconciliation workflow on the real dev server with a worker on this ledger. */
async function reconcile(db: Db, l: PaidLedger, since: string): Promise<ReconciliationReport> {
  const taskQueue = uniqueTaskQueue('reconcile');
  const config = configFor(db, l, taskQueue, since);
  const worker = await startTestWorker({ taskQueue, activities: createReconcileActivities({ config, pool: db.pool, log }) });
  try {
    return await temporal.client.workflow.execute(reconciliationWorkflow, {
      taskQueue,
      workflowId: `reconcile-test-${randomBytes(4).toString('hex')}`,
      args: [{ lnbits: 'all' }],
    });
  } finally {
    await worker.stop();
  }
}

/** A recorded, split cash-out that never got payouts (status failed): commission faults are seeded on these. */
async function splitOnly(l: PaidLedger, atoms: string) {
  const row = txRow({ cryptoAtoms: atoms });
  const { transaction } = await recordLamassuTransaction(l.pool, row);
  const c = computeCommission({ cryptoAtoms: row.cryptoAtoms, commissionPercentage: row.commissionPercentage, discount: row.discount }, 'runbook');
  const tx = await recordCommission(l.pool, transaction.id, c, fiatMinor(30_000));
  await l.pool.query(`UPDATE satoshimachine.lamassu_transactions SET status = 'failed', error = 'test' WHERE id = $1`, [tx.id]);
  return tx;
}

describe('daily reconciliation', () => {
  test('a clean ledger, paid through LNbits, gives zero findings and a full snapshot', async () => {
    const db = await createLedgerDatabase('recon_clean');
    try {
      const since = new Date(Date.now() - 60_000).toISOString();
      const l = await createPaidLedger(db.pool, 3);
      for (let i = 0; i < 3; i++) await paidCashOut(l);
      await splitOnly(l, '266800');
      const report = await reconcile(db, l, since);
      assert.deepEqual(report.counts, {});
      assert.deepEqual(report.findings, []);
      assert.deepEqual(report.alertsRaised, []);
      const lnbits = report.summary.lnbits as Record<string, unknown>;
      assert.equal(lnbits.checked, 12); // 3 cash-outs × (3 clients + commission)
      assert.deepEqual([lnbits.recipientChecked, lnbits.recipientUnchecked, lnbits.recipientUnreachable], [12, 0, 0], 'each recipient wallet read with its own key');
      assert.equal(lnbits.commissionWalletDifferenceMsat, '0');
      const ledger = report.summary.ledger as { clients: number; transactions: { total: number } };
      assert.equal(ledger.clients, 3);
      assert.equal(ledger.transactions.total, 4);
      const snap = await db.pool.query('SELECT count(*)::int AS n, count(*) FILTER (WHERE stored_fiat_minor <> derived_fiat_minor)::int AS bad FROM satoshimachine.balance_snapshots WHERE report_id = $1', [report.reportId]);
      assert.deepEqual(snap.rows[0], { n: 3, bad: 0 });
      const stored = await db.pool.query('SELECT finished_at IS NOT NULL AS done, findings FROM satoshimachine.reconciliation_reports WHERE id = $1', [report.reportId]);
      assert.deepEqual(stored.rows[0], { done: true, findings: [] });
    } finally {
      await db.drop();
    }
  });

  test('each seeded fault is reported, a 1-sat commission difference too (exact check), and alerts are raised once', async () => {
    const db = await createLedgerDatabase('recon_faults');
    try {
      const since = new Date(Date.now() - 60_000).toISOString();
      const l = await createPaidLedger(db.pool, 3);
      await paidCashOut(l); // stays clean
      const doubled = await paidCashOut(l);
      const missing = await paidCashOut(l);
      const unknown = await paidCashOut(l, {}, { pay: false });
      const twoSats = await splitOnly(l, '266800');
      const oneSat = await splitOnly(l, '100000');
      const [c0, c1, c2] = l.clients;

      // Seeding faults needs what the ledger's guards forbid. Test only: this database is the test's own and
      // the connection is the superuser's, so `session_replication_role = replica` (skips triggers and FK
      // checks) and dropping a UNIQUE constraint are possible here — production code never does either.
      const seed = await db.pool.connect();
      try {
        // 1. Double payout: client 0 paid a second time for the same cash-out (a real LNbits payment).
        await seed.query('ALTER TABLE satoshimachine.payments DROP CONSTRAINT payments_transaction_id_client_id_key');
        const p0 = doubled.payments.find((p) => p.clientId === c0!.id)!;
        const hash = await payFromSource(l, p0);
        await seed.query(
          `INSERT INTO satoshimachine.payments (transaction_id, client_id, kind, amount_sats, fiat_debit_minor, status, payment_hash, completed_at)
           VALUES ($1, $2, 'client', $3, $4, 'completed', $5, now())`,
          [doubled.tx.id, c0!.id, p0.amountSats, p0.fiatDebit, hash],
        );
        await seed.query('SET session_replication_role = replica');
        // 2. Missing payout: client 1's completed payout row of a completed cash-out is gone.
        await seed.query('DELETE FROM satoshimachine.payments WHERE transaction_id = $1 AND client_id = $2', [missing.tx.id, c1!.id]);
        // 3. Commission off by 2 sats and by 1 sat: both findings (our split is exact; no ±1 tolerance).
        await seed.query('UPDATE satoshimachine.lamassu_transactions SET base_sats = base_sats - 2, commission_sats = commission_sats + 2 WHERE id = $1', [twoSats.id]);
        await seed.query('UPDATE satoshimachine.lamassu_transactions SET base_sats = base_sats - 1, commission_sats = commission_sats + 1 WHERE id = $1', [oneSat.id]);
        // 4. A stored balance edited by hand, past the balance guard (which refuses it without replica mode).
        await seed.query('UPDATE satoshimachine.clients SET remaining_balance_fiat_minor = remaining_balance_fiat_minor + 500 WHERE id = $1', [c2!.id]);
        await seed.query('SET session_replication_role = DEFAULT');
      } finally {
        seed.release();
      }
      // 5. A payout marked completed with a hash LNbits never saw.
      const ghost = unknown.payments.find((p) => p.kind === 'client')!;
      await db.pool.query(`UPDATE satoshimachine.payments SET status = 'completed', completed_at = now(), payment_hash = $2 WHERE id = $1`, [ghost.id, randomBytes(32).toString('hex')]);

      const report = await reconcile(db, l, since);
      const subjects = (kind: string) => report.findings.filter((f) => f.kind === kind).map((f) => f.subject).sort();

      assert.deepEqual(subjects('payout-over-allocated'), [doubled.tx.id]);
      assert.deepEqual(subjects('payout-missing'), [missing.tx.id]);
      assert.deepEqual(subjects('commission-formula'), [oneSat.id, twoSats.id].sort(), 'the 2-sat and the 1-sat errors are both reported');
      // Client 0: the double payout's debit was never applied to its stored balance; client 1: the deleted
      // payout's debit is gone from the derived balance; client 2: edited by hand (+500).
      const mismatches = new Map(report.findings.filter((f) => f.kind === 'balance-mismatch').map((f) => [f.subject, f.details.discrepancyFiatMinor]));
      const p0 = doubled.payments.find((p) => p.clientId === c0!.id)!;
      const p1 = missing.payments.find((p) => p.clientId === c1!.id)!;
      assert.deepEqual(mismatches, new Map([[c0!.id, String(p0.fiatDebit)], [c1!.id, String(-p1.fiatDebit)], [c2!.id, '500']]));
      const notInLnbits = report.findings.filter((f) => f.kind === 'payout-not-in-lnbits');
      assert.deepEqual(notInLnbits.map((f) => [f.subject, f.details.reason]), [[ghost.id, 'unknown']]);
      // The ghost payout never left the source wallet, so the LNbits side of that cash-out is incomplete,
      // but its ledger rows conserve: no conservation finding for it.
      assert.ok(!report.findings.some((f) => f.subject === unknown.tx.id));
      assert.deepEqual(Object.keys(report.counts).sort(), ['balance-mismatch', 'commission-formula', 'payout-missing', 'payout-not-in-lnbits', 'payout-over-allocated']);

      // One alert per kind, with its runbook severity; a second run the same day raises none.
      const alerts = await db.pool.query(`SELECT kind, severity FROM satoshimachine.alerts WHERE dedup_key LIKE 'reconcile:%' ORDER BY kind`);
      assert.deepEqual(alerts.rows, [
        { kind: 'balance-mismatch', severity: 'high' },
        { kind: 'commission-formula', severity: 'medium' },
        { kind: 'payout-missing', severity: 'critical' },
        { kind: 'payout-not-in-lnbits', severity: 'critical' },
        { kind: 'payout-over-allocated', severity: 'critical' },
      ]);
      const again = await reconcile(db, l, since);
      assert.deepEqual(again.counts, report.counts);
      assert.deepEqual(again.alertsRaised, []);
      const stored = await db.pool.query(`SELECT summary->'counts' AS counts FROM satoshimachine.reconciliation_reports WHERE id = $1`, [report.reportId]);
      assert.deepEqual(stored.rows[0].counts, report.counts);
    } finally {
      await db.drop();
    }
  });
});
