/**
 * Issue 19 on the real stack (Temporal dev server, PostgreSQL, LNbits FakeWallet): the defects the fault
 * campaigns found, each ending recovered — by itself or by a documented command — with every payout paid at
 * most once and the books adding up, checked in LNbits with each wallet's key (test/support/books.ts).
 * Defect 1 (long outages) is test/cashout-outage.test.ts.
 */
import { randomUUID } from 'node:crypto';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { MockActivityEnvironment } from '@temporalio/testing';
import pg from 'pg';
import { createCashOutActivities } from '../activities/cashout';
import { createLamassuIngestion } from '../activities/lamassu';
import { createReconcileActivities } from '../activities/reconcile';
import { createSweepActivities } from '../activities/sweep';
import { beginReport, reconcileLedger } from '../adapters/ledger/reconciliation';
import { createLnbitsClient } from '../adapters/lnbits/client';
import { startCashOut } from '../client/cashout';
import { cashOutWorkflowId } from '../domain/constants';
import { createLogger } from '../log/logger';
import { cancelFailedPayoutsUpdate, retryFailedPayoutsUpdate, type CashOutResult } from '../workflows/cashout';
import { assertBooks } from './support/books';
import { cashOutRow, ledgerTransaction, setHalted, untilState, walletSats, withCashOutWorld, type CashOutWorld } from './support/cashout-fixture';
import { cliEnvFor, runCli } from './support/cli';
import { getStack } from './support/stack';
import { startTcpFaultProxy } from './support/tcp-fault-proxy';
import { startTestWorker } from './support/temporal-client';

const log = createLogger({ level: process.env.LOG_LEVEL ?? 'silent', name: 'recovery-test' });
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
async function until(what: string, pred: () => Promise<boolean> | boolean, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await pred())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(250);
  }
}
const refused = { status: 520, json: { detail: 'Insufficient balance.', status: 'failed' } };
const result = async (w: { client: import('@temporalio/client').Client }, id: string) => (await w.client.workflow.getHandle(id).result()) as CashOutResult;

test('defect 2: a pay request still in flight cannot pay a payout whose debit was released (zombie attempt)', { timeout: 400_000 }, async (t) => {
  await withCashOutWorld(
    {
      taskQueuePrefix: 'recovery-zombie', clients: 2, faultProxy: true,
      overrides: { lnbits: { invoiceExpirySeconds: 3, requestTimeoutMs: 2000 }, payouts: { outageRetryMinutes: 1, outageBackoffMaxSeconds: 2 } },
    },
    async ({ world: w, client, proxy }) => {
      const sourceBefore = await walletSats(w.source);
      proxy.holdPayMs = 75_000; // every pay request reaches LNbits 75 s late: after the budget and the compensation
      const row = cashOutRow();
      await startCashOut(client, w.config, row);
      const id = cashOutWorkflowId(row.id);
      const s = await untilState(client, id, (x) => x.step === 'wait-operator', 'needs_attention after the budget', 240_000);
      assert.equal(s.status, 'needs_attention');
      proxy.holdPayMs = 0;
      await until('the held pay requests to land', () => proxy.paysHeld === 0, 120_000);
      await sleep(1_000);
      // A late request landed only where compensation kept the debit (its invoice not proven unpayable); every
      // released payout's invoices — and every replaced invoice — stayed unpaid: LNbits refused the late requests.
      const lnbits = createLnbitsClient({ url: getStack().lnbits.url });
      const { rows: payouts } = await w.db.pool.query(`SELECT id, status, debit_held, payment_hash, replaced_payment_hashes FROM satoshimachine.payments`);
      let landed = 0;
      for (const p of payouts) {
        for (const hash of p.replaced_payment_hashes as string[]) assert.ok(!(await lnbits.getPayment(w.source.adminKey, hash))?.paid, `payout ${String(p.id)}: a replaced invoice was never paid`);
        if (!p.payment_hash) continue;
        if ((await lnbits.getPayment(w.source.adminKey, String(p.payment_hash)))?.paid) {
          landed++;
          assert.equal(p.debit_held, true, `payout ${String(p.id)} (${String(p.status)}): paid by a late request, so its debit must still be held`);
        }
      }

      await client.workflow.getHandle(id).executeUpdate(retryFailedPayoutsUpdate, { args: [{ by: 'test' }] });
      assert.equal((await result({ client }, id)).status, 'completed');
      const books = await assertBooks(w, sourceBefore);
      assert.equal(books.payouts, 3, 'each payout paid exactly once');
      t.diagnostic(`late pay requests that landed (on payouts whose debit was kept): ${landed}`);
    },
  );
});

test('defect 3: paid, then the ledger down longer than the retry budget: the cash-out completes by itself', { timeout: 400_000 }, async () => {
  await withCashOutWorld(
    { taskQueuePrefix: 'recovery-ledger', clients: 1, faultProxy: true, worker: false, overrides: { payouts: { outageRetryMinutes: 1, outageBackoffMaxSeconds: 2 } } },
    async ({ world: w, client, proxy }) => {
      const sourceBefore = await walletSats(w.source);
      // The worker reaches the ledger through a TCP proxy that the test cuts.
      const url = new URL(w.db.url);
      const tcp = await startTcpFaultProxy(url.hostname, Number(url.port));
      url.port = String(tcp.port);
      const pool = new pg.Pool({ connectionString: url.toString(), max: 4, connectionTimeoutMillis: 2000 });
      pool.on('error', () => undefined);
      const worker = await startTestWorker({ taskQueue: w.taskQueue, activities: createCashOutActivities({ config: w.config, pool, log }) });
      try {
        let cutAt = 0;
        proxy.intercept = (r) => (r.isPayment && !cutAt ? { replace: (up) => ((cutAt = Date.now()), void tcp.cut(), up) } : undefined);
        const row = cashOutRow({ commissionPercentage: '0.00000' }); // one payout: the client's
        await startCashOut(client, w.config, row);
        const id = cashOutWorkflowId(row.id);
        await until('LNbits to pay and the ledger to go down', () => cutAt > 0, 60_000);
        await sleep(80_000); // longer than the 1-minute budget (and than the old ~91 s budget from the payment on)
        await tcp.restore();
        const r = await result({ client }, id);
        assert.equal(r.status, 'completed', 'completed without the operator');
        const tx = (await ledgerTransaction(w.db.pool, row.id))!;
        assert.equal(tx.status, 'completed');
        const { rows } = await w.db.pool.query(`SELECT count(*)::int AS n FROM satoshimachine.alerts WHERE kind = 'cashout-needs-attention'`);
        assert.equal(rows[0].n, 0, 'no operator action asked for');
        assert.equal((await assertBooks(w, sourceBefore)).payouts, 1);
      } finally {
        await worker.stop();
        await pool.end();
        await tcp.close();
      }
    },
  );
});

/** Ledger rows look older than config.payouts.orphanAfterMinutes (the updated_at trigger set aside). */
async function age(w: CashOutWorld): Promise<void> {
  await w.db.pool.query('ALTER TABLE satoshimachine.lamassu_transactions DISABLE TRIGGER lamassu_transactions_updated_at');
  await w.db.pool.query(`UPDATE satoshimachine.lamassu_transactions SET updated_at = now() - interval '1 hour'`);
  await w.db.pool.query('ALTER TABLE satoshimachine.lamassu_transactions ENABLE TRIGGER lamassu_transactions_updated_at');
}

test('defect 4: terminated and lost workflows are adopted by the sweep; a row never recorded is started again; tx resume/retry/cancel-failed work without a workflow', { timeout: 400_000 }, async () => {
  await withCashOutWorld({ taskQueuePrefix: 'recovery-orphans', clients: 2, faultProxy: true, overrides: { lnbits: { invoiceExpirySeconds: 3 } } }, async ({ world: w, client, proxy }) => {
    const sourceBefore = await walletSats(w.source);
    const small = () => cashOutRow({ fiat: '100.00000', cryptoAtoms: '12810' });
    // a: terminated while it waited for the operator (its payments refused).
    proxy.intercept = (r) => (r.isPayment ? { answer: refused } : undefined);
    const a = small();
    await startCashOut(client, w.config, a);
    await untilState(client, cashOutWorkflowId(a.id), (x) => x.step === 'wait-operator', 'needs_attention');
    await client.workflow.getHandle(cashOutWorkflowId(a.id)).terminate('test: terminated');
    // b: lost (the dev server forgot it): its ledger row names a run Temporal does not know.
    proxy.intercept = null;
    await setHalted(w.db.pool, true);
    const b = small();
    await startCashOut(client, w.config, b);
    await untilState(client, cashOutWorkflowId(b.id), (x) => x.halted, 'halted');
    await client.workflow.getHandle(cashOutWorkflowId(b.id)).terminate('test: lost');
    const lostId = `cashout-lost-${randomUUID()}`;
    await w.db.pool.query(`UPDATE satoshimachine.lamassu_transactions SET workflow_id = $2 WHERE lamassu_id = $1`, [b.id, lostId]);
    await setHalted(w.db.pool, false);
    // The stuck cash-outs do not block the poller's readiness.
    const ingestion = createLamassuIngestion({ config: w.config, pool: w.db.pool, log }, { temporalClient: client });
    try {
      const ready = await ingestion.activities.checkPollerReadiness();
      assert.equal(ready.ready, true, JSON.stringify(ready));

      await age(w);
      const sweep = createSweepActivities({ config: w.config, pool: w.db.pool, log }, { temporalClient: client });
      const found = await sweep.adoptOrphanedCashOuts({});
      assert.deepEqual(found.orphaned.map((o) => [o.lamassuId, o.runStatus, o.resumed]).sort(), [[a.id, 'TERMINATED', true], [b.id, 'NOT_FOUND', true]].sort(), JSON.stringify(found));
      assert.equal((await result({ client }, cashOutWorkflowId(a.id))).status, 'completed');
      assert.equal((await result({ client }, lostId)).status, 'completed');
      const { rows: alerts } = await w.db.pool.query(`SELECT count(*)::int AS n FROM satoshimachine.alerts WHERE kind = 'cashout-orphaned'`);
      assert.equal(alerts[0].n, 2, 'each orphan named in an alert');
      assert.equal((await sweep.adoptOrphanedCashOuts({})).orphaned.length, 0, 'nothing left');

      // c: started and terminated before its first task (no ledger row): the poller starts it again.
      const c = small();
      await startCashOut(client, { ...w.config, temporal: { ...w.config.temporal, taskQueue: `nobody-${randomUUID()}` } }, c);
      await client.workflow.getHandle(cashOutWorkflowId(c.id)).terminate('test: before its first task');
      const started = await ingestion.activities.startCashOutWorkflows({ rows: [c] });
      assert.deepEqual(started.started, [c.id]);
      assert.equal((await result({ client }, cashOutWorkflowId(c.id))).status, 'completed');

      // d, e: terminated in needs_attention, then the operator's commands (no workflow to update).
      const env = cliEnvFor(w.config);
      proxy.intercept = (r) => (r.isPayment ? { answer: refused } : undefined);
      const d = small();
      const e = small();
      for (const row of [d, e]) {
        await startCashOut(client, w.config, row);
        await untilState(client, cashOutWorkflowId(row.id), (x) => x.step === 'wait-operator', 'needs_attention');
        await client.workflow.getHandle(cashOutWorkflowId(row.id)).terminate('test: terminated');
      }
      proxy.intercept = null;
      const resumed = await runCli(['tx', 'resume', d.id, '--json'], env);
      assert.equal(resumed.code, 0, resumed.stderr);
      assert.equal(resumed.json().outcome, 'started');
      assert.equal((await result({ client }, cashOutWorkflowId(d.id))).status, 'completed');
      const cancelled = await runCli(['tx', 'cancel-failed', e.id, '--reason', 'test', '--json'], env);
      assert.equal(cancelled.code, 0, cancelled.stderr);
      assert.equal(cancelled.json().result.action, 'resume');
      assert.equal((await result({ client }, cashOutWorkflowId(e.id))).status, 'failed', 'nothing paid: cancelled');
      const eTx = (await ledgerTransaction(w.db.pool, e.id))!;
      assert.ok(eTx.payments.every((p) => p.status === 'cancelled'));

      await assertBooks(w, sourceBefore);
    } finally {
      await ingestion.close?.();
    }
  });
});

test('defect 5: cancelled sats are recorded per cash-out; reconciliation counts them and checks failed/cancelled payouts in LNbits', { timeout: 300_000 }, async () => {
  await withCashOutWorld({ taskQueuePrefix: 'recovery-books', clients: 2, faultProxy: true, overrides: { lnbits: { invoiceExpirySeconds: 3 } } }, async ({ world: w, client, proxy }) => {
    const sourceBefore = await walletSats(w.source);
    // The clients' payments are refused; the commission (paid after them) goes through.
    let refusedCount = 0;
    proxy.intercept = (r) => (r.isPayment && refusedCount < 2 ? (refusedCount++, { answer: refused }) : undefined);
    const row = cashOutRow();
    await startCashOut(client, w.config, row);
    const id = cashOutWorkflowId(row.id);
    // Compensation waits for the 3 s invoices to expire and for LNbits to fail them: generous on a loaded machine.
    await untilState(client, id, (x) => x.step === 'wait-operator', 'needs_attention', 120_000);
    proxy.intercept = null;
    await client.workflow.getHandle(id).executeUpdate(cancelFailedPayoutsUpdate, { args: [{ by: 'test', reason: 'client wallets refused' }] });
    assert.equal((await result({ client }, id)).status, 'completed', 'the commission was paid');
    const { rows } = await w.db.pool.query(`SELECT base_sats::int AS base, cancelled_sats::int AS cancelled, COALESCE(unallocated_sats, 0)::int AS unallocated FROM satoshimachine.lamassu_transactions WHERE lamassu_id = $1`, [row.id]);
    const tx = (await ledgerTransaction(w.db.pool, row.id))!;
    const cancelledClientSats = tx.payments.filter((p) => p.kind === 'client' && p.status === 'cancelled').reduce((s, p) => s + p.amountSats, 0);
    assert.ok(cancelledClientSats > 0);
    assert.equal(rows[0].cancelled, cancelledClientSats, 'cancelled sats recorded on the cash-out');
    assert.equal(rows[0].cancelled + rows[0].unallocated, rows[0].base, 'nothing paid to clients: cancelled + unallocated = base');
    await assertBooks(w, sourceBefore);

    const ledger = async () => reconcileLedger(w.db.pool, { reportId: (await beginReport(w.db.pool, randomUUID())).reportId, pendingDepositHours: 48, commissionSince: null });
    assert.equal((await ledger()).findings.filter((f) => f.subject === tx.id).length, 0, 'the books add up');
    // Cancelled sats unrecorded (the old behaviour): a conservation finding.
    await w.db.pool.query(`UPDATE satoshimachine.lamassu_transactions SET cancelled_sats = 0 WHERE id = $1`, [tx.id]);
    const bad = (await ledger()).findings.filter((f) => f.subject === tx.id);
    assert.deepEqual(bad.map((f) => f.kind), ['conservation']);
    assert.match(bad[0]!.message, /unrecorded/);
    await w.db.pool.query(`UPDATE satoshimachine.lamassu_transactions SET cancelled_sats = $2 WHERE id = $1`, [tx.id, cancelledClientSats]);

    // A payout the ledger calls cancelled whose invoice LNbits paid: reported (here the commission, set cancelled by hand).
    const commission = tx.payments.find((p) => p.kind === 'commission')!;
    await w.db.pool.query(`ALTER TABLE satoshimachine.payments DISABLE TRIGGER USER`); // a corrupt ledger, made on purpose
    await w.db.pool.query(`UPDATE satoshimachine.payments SET status = 'cancelled', debit_held = false, completed_at = NULL WHERE id = $1`, [commission.id]);
    const recon = createReconcileActivities({ config: w.config, pool: w.db.pool, log });
    const reportId = (await beginReport(w.db.pool, randomUUID())).reportId;
    // The activity heartbeats: run it in an activity context.
    const part = (await new MockActivityEnvironment().run(recon.reconcileLnbitsPart, { reportId, scope: 'all' as const, previousStartedAt: null })) as Awaited<ReturnType<typeof recon.reconcileLnbitsPart>>;
    const paidNotCompleted = part.findings.filter((f) => f.kind === 'payout-paid-not-completed');
    assert.deepEqual(paidNotCompleted.map((f) => f.subject), [commission.id]);
    assert.ok(!part.findings.some((f) => f.kind === 'payout-paid-not-completed' && f.subject !== commission.id), 'the cancelled client payouts were never paid');
  });
});

test('defect 6: funding decided automatically — a refused connection is "not credited", a lost answer is looked up in LNbits', { timeout: 300_000 }, async () => {
  await withCashOutWorld({ taskQueuePrefix: 'recovery-funding', clients: 2, sourceSats: 0, faultProxy: true, overrides: { fundingMode: 'superuser-credit' } }, async ({ world: w, client, proxy }) => {
    const lnbits = createLnbitsClient({ url: getStack().lnbits.url });
    // 1. LNbits refuses connections while the cash-out starts: nothing was sent, so nothing was credited.
    await proxy.refuse();
    const a = cashOutRow();
    await startCashOut(client, w.config, a);
    await until('a refused credit attempt', async () => {
      const { rows } = await w.db.pool.query(`SELECT count(*)::int AS n FROM satoshimachine.funding_credits`);
      return rows[0].n > 0;
    }, 60_000);
    await sleep(3_000);
    await proxy.accept();
    assert.equal((await result({ client }, cashOutWorkflowId(a.id))).status, 'completed');

    // 2. The credit's answer is lost (LNbits credited): the next attempt finds the credit in LNbits.
    let lost = 0;
    proxy.intercept = (r) => (r.method === 'PUT' && r.path === '/users/api/v1/balance' && lost === 0 ? (lost++, { replace: () => ({ status: 504, json: { detail: 'Gateway Timeout' } }) }) : undefined);
    const b = cashOutRow();
    await startCashOut(client, w.config, b);
    assert.equal((await result({ client }, cashOutWorkflowId(b.id))).status, 'completed');
    assert.equal(lost, 1);

    const { rows } = await w.db.pool.query(`SELECT status, attempts, lnbits_payment_hash FROM satoshimachine.funding_credits ORDER BY created_at`);
    assert.equal(rows.length, 2);
    for (const f of rows) {
      assert.equal(f.status, 'done');
      assert.ok(f.lnbits_payment_hash, 'each credit matched to its LNbits row');
      const credit = (await lnbits.getPayment(w.source.adminKey, String(f.lnbits_payment_hash)))!;
      assert.deepEqual([credit.paid, credit.memo], [true, 'Admin credit']);
    }
    assert.notEqual(rows[0].lnbits_payment_hash, rows[1].lnbits_payment_hash);
    const { rows: attention } = await w.db.pool.query(`SELECT count(*)::int AS n FROM satoshimachine.alerts WHERE kind = 'cashout-needs-attention'`);
    assert.equal(attention[0].n, 0, 'no operator decision');
    // Credited exactly once per cash-out: the source wallet holds the two credits minus what it paid.
    await assertBooks(w, 0, 512_400 * 2);
  });
});
