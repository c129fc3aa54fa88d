/**
 * Chaos defect 9, settled: LNbits 1.6.2, killed between the two rows of an internal payment, can keep the
 * source's outgoing row success and fail the client's incoming row at its restart — the source debited, the
 * client never credited. The worker holds such a payout; `satmachine tx settle-lost-payment` must verify that
 * exact signature in LNbits, record the loss once, and have the cash-out pay the client with a new invoice:
 * the client paid exactly once, the ledger completed, the reconciliation and the chaos verifier clean with the
 * loss listed as "lost in LNbits (recorded)".
 *
 * Fault injection on the real thing: the crash cannot be timed on demand (it must land between LNbits' two
 * row writes), so the test produces its outcome in LNbits' own SQLite database — the client's incoming row set
 * to `failed` right after LNbits made the payment, before its answer reaches the worker (through the fault
 * proxy): the worker then reads exactly the rows the crash leaves. The wrong signatures the command must refuse
 * are made the same way (a row's status or amount changed, then put back). A private LNbits, so that its
 * database is this test's alone.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { randomBytes, randomUUID } from 'node:crypto';
import type { Client } from '@temporalio/client';
import { createReconcileActivities, type ReconciliationReport } from '../activities/reconcile';
import { createLnbitsClient } from '../adapters/lnbits/client';
import { verify } from '../chaos/verify';
import { startCashOut } from '../client/cashout';
import { formatReconciliation } from '../client/commands/checks';
import { createContext } from '../client/context';
import { settleLostPayment } from '../client/lost-payment';
import { cashOutWorkflowId } from '../domain/constants';
import { createLogger } from '../log/logger';
import { reconciliationWorkflow } from '../workflows';
import { cashOutRow, ledgerTransaction, storedBalance, untilState, withCashOutWorld, type CashOutWorld } from './support/cashout-fixture';
import { cliEnvFor, runCli } from './support/cli';
import { balanceSats } from './support/lnbits';
import { lnbitsWrite } from './support/lnbits-db-write';
import type { FaultProxy } from './support/lnbits-fault-proxy';
import { startLnbits, type TestLnbits } from './support/lnbits-server';
import { startTestWorker, uniqueTaskQueue } from './support/temporal-client';

/** The runs of the reconciliation workflow on this world's ledger (a worker of its own). */
async function reconcile(w: CashOutWorld, client: Client): Promise<ReconciliationReport> {
  const taskQueue = uniqueTaskQueue('lost-payment-reconcile');
  const log = createLogger({ level: process.env.LOG_LEVEL ?? 'silent', name: 'reconcile' });
  const worker = await startTestWorker({ taskQueue, activities: createReconcileActivities({ config: w.config, pool: w.db.pool, log }) });
  try {
    return await client.workflow.execute(reconciliationWorkflow, { taskQueue, workflowId: `lost-payment-reconcile-${randomBytes(4).toString('hex')}`, args: [{ lnbits: 'all' }] });
  } finally {
    await worker.stop();
  }
}

/**
 * A cash-out whose client payout LNbits lost: LNbits pays the client's invoice and, before its answer reaches
 * the worker, the client's incoming row is failed in LNbits' database — what a kill between the two rows and
 * LNbits' restart leave. The worker holds the payout (needs_attention).
 */
async function lostPayout(w: CashOutWorld, client: Client, proxy: FaultProxy, lnbits: TestLnbits, dbFile: string) {
  const wallet = w.clients[0]!.wallet;
  const sourceBefore = await balanceSats(lnbits.url, w.source.adminKey);
  let injected = 0;
  proxy.intercept = (r) => {
    if (!r.isPayment || injected) return undefined;
    const bolt11 = (r.json as { bolt11?: string }).bolt11 ?? '';
    return {
      replace: async () => {
        const { rows } = await w.db.pool.query(`SELECT payment_hash FROM satoshimachine.payments WHERE bolt11 = $1 AND kind = 'client'`, [bolt11]);
        if (rows.length === 0) return undefined;
        injected = await lnbitsWrite(dbFile, `UPDATE apipayments SET status = 'failed' WHERE payment_hash = ? AND wallet_id = ? AND amount > 0 AND status = 'success'`, [String(rows[0].payment_hash), wallet.id]);
        return undefined; // LNbits' own answer ("success"), unchanged
      },
    };
  };
  const row = cashOutRow();
  await startCashOut(client, w.config, row);
  const wfId = cashOutWorkflowId(row.id);
  await untilState(client, wfId, (x) => x.step === 'wait-operator' || x.step === 'done', 'wait-operator', 90_000);
  proxy.intercept = null;
  assert.equal(injected, 1, "the client's incoming row was failed in LNbits");

  const held = (await ledgerTransaction(w.db.pool, row.id))!;
  assert.equal(held.status, 'needs_attention');
  const payout = held.payments.find((p) => p.kind === 'client')!;
  const commission = held.payments.find((p) => p.kind === 'commission')!;
  assert.equal(payout.status, 'failed');
  assert.match(payout.lastError ?? '', /recipient wallet's row is failed but the payer wallet's row is success/);
  assert.equal(commission.status, 'completed');
  assert.equal(await balanceSats(lnbits.url, wallet.invoiceKey), 0, 'the client was never credited');
  assert.equal(await balanceSats(lnbits.url, w.source.adminKey), sourceBefore - commission.amountSats - payout.amountSats, 'the source was debited');
  const heldBalance = await storedBalance(w.db.pool, w.clients[0]!.id);
  assert.equal(heldBalance, w.clients[0]!.depositMinor - payout.fiatDebit, 'the fiat debit is held');
  return { row, wfId, held, payout, commission, lostHash: payout.paymentHash!, heldBalance, sourceBefore, wallet };
}

/** A private LNbits (its database is this test's alone) and a one-client world in front of it. */
async function withLostPayment(fn: (ctx: { w: CashOutWorld; client: Client; lnbits: TestLnbits; dbFile: string; lost: Awaited<ReturnType<typeof lostPayout>> }) => Promise<void>) {
  const dataDir = mkdtempSync(path.join(tmpdir(), 'satm-lnbits-lost-'));
  const dbFile = path.join(dataDir, 'database.sqlite3');
  const lnbits: TestLnbits = await startLnbits({ dataDir });
  try {
    await withCashOutWorld({ taskQueuePrefix: 'lost-payment', clients: 1, faultProxy: true, lnbits }, async ({ world: w, client, proxy }) => {
      await fn({ w, client, lnbits, dbFile, lost: await lostPayout(w, client, proxy, lnbits, dbFile) });
    });
  } finally {
    await lnbits.stop();
  }
}

test('a payment LNbits lost is verified, recorded once, and the client paid exactly once with a new invoice', { timeout: 300_000 }, async (t) => {
  await withLostPayment(async ({ w, client, lnbits, dbFile, lost }) => {
    const url = lnbits.url;
    const direct = createLnbitsClient({ url });
    const env = cliEnvFor(w.config);
    const { row, wfId, held, payout, commission, lostHash, heldBalance, sourceBefore, wallet } = lost;

    const settle = (extra: string[] = [], pid = payout.id) =>
      runCli(['tx', 'settle-lost-payment', row.id, '--payment', pid, '--reason', 'checked in LNbits: source row success, client row failed', '--actor', 'test', ...extra], env);
    const unchanged = async (what: string) => {
      const { rows } = await w.db.pool.query(`SELECT count(*)::int AS n FROM satoshimachine.lnbits_losses`);
      assert.equal(rows[0].n, 0, `${what}: no loss recorded`);
      const p = (await ledgerTransaction(w.db.pool, row.id))!.payments.find((x) => x.id === payout.id)!;
      assert.deepEqual([p.status, p.paymentHash, p.replacedPaymentHashes], ['failed', lostHash, []], `${what}: the payout unchanged`);
      assert.equal(await balanceSats(url, wallet.invoiceKey), 0, `${what}: nothing paid`);
    };

    // Refused: no --reason, an unknown payment, a payout that is not held (the commission, paid).
    const noReason = await runCli(['tx', 'settle-lost-payment', row.id, '--payment', payout.id], env);
    assert.equal(noReason.code, 2, noReason.stderr);
    assert.match(noReason.stderr, /--reason is required/);
    const unknown = await settle([], randomUUID());
    assert.equal(unknown.code, 4, unknown.stderr);
    assert.match(unknown.stderr, /not found/);
    const paid = await settle([], commission.id);
    assert.notEqual(paid.code, 0);
    assert.match(paid.stderr, /refused, nothing changed: payout .* is completed, not failed/);
    await unchanged('unknown or paid payout');

    // Refused: LNbits does not show exactly the signature (each fault put back afterwards).
    const incoming = [`UPDATE apipayments SET status = ? WHERE payment_hash = ? AND wallet_id = ? AND amount > 0`, wallet.id] as const;
    const outgoing = `UPDATE apipayments SET status = ? WHERE payment_hash = ? AND wallet_id = ? AND amount < 0`;
    const cases: Array<{ what: string; set: () => Promise<number>; reset: () => Promise<number>; says: RegExp }> = [
      {
        what: "the client's row success",
        set: () => lnbitsWrite(dbFile, incoming[0], ['success', lostHash, incoming[1]]),
        reset: () => lnbitsWrite(dbFile, incoming[0], ['failed', lostHash, incoming[1]]),
        says: /recipient wallet's row of [0-9a-f]{64} is success, not failed/,
      },
      {
        what: "the source's row not success",
        set: () => lnbitsWrite(dbFile, outgoing, ['failed', lostHash, w.source.id]),
        reset: () => lnbitsWrite(dbFile, outgoing, ['success', lostHash, w.source.id]),
        says: /payer wallet's row of [0-9a-f]{64} is failed, not success/,
      },
      {
        what: "the source's row for another amount",
        set: () => lnbitsWrite(dbFile, `UPDATE apipayments SET amount = amount + 1000 WHERE payment_hash = ? AND wallet_id = ? AND amount < 0`, [lostHash, w.source.id]),
        reset: () => lnbitsWrite(dbFile, `UPDATE apipayments SET amount = amount - 1000 WHERE payment_hash = ? AND wallet_id = ? AND amount < 0`, [lostHash, w.source.id]),
        says: /the payer wallet paid -?\d+ msat for hash [0-9a-f]{64}, the payout is \d+ msat/,
      },
    ];
    for (const c of cases) {
      assert.equal(await c.set(), 1, c.what);
      try {
        const r = await settle();
        assert.equal(r.code, 1, `${c.what}: ${r.stderr}`);
        assert.match(r.stderr, /LNbits does not show a payment it lost/);
        assert.match(r.stderr, c.says, c.what);
      } finally {
        assert.equal(await c.reset(), 1, `${c.what}: put back`);
      }
      await unchanged(c.what);
    }

    // The signature holds: recorded, a new invoice, paid by the cash-out's workflow.
    const done = await settle(['--wait', '2m', '--json']);
    assert.equal(done.code, 0, done.stderr);
    const out = done.json<{ outcome: string; status: string; paymentHash: string; loss: { lostPaymentHash: string; amountSats: number } }>();
    t.diagnostic(JSON.stringify(out));
    assert.deepEqual([out.outcome, out.status, out.loss.lostPaymentHash, out.loss.amountSats], ['replaced', 'completed', lostHash, payout.amountSats]);
    assert.equal(((await client.workflow.getHandle(wfId).result()) as { status: string }).status, 'completed');

    const after = (await ledgerTransaction(w.db.pool, row.id))!;
    const settled = after.payments.find((p) => p.id === payout.id)!;
    assert.equal(after.status, 'completed');
    assert.equal(settled.status, 'completed');
    assert.notEqual(settled.paymentHash, lostHash, 'a new invoice');
    assert.deepEqual(settled.replacedPaymentHashes, [lostHash], 'the lost hash kept in the history');
    assert.equal(await storedBalance(w.db.pool, w.clients[0]!.id), heldBalance, 'the fiat debit unchanged (debited once)');

    // LNbits: the client holds its payout exactly once; the source paid it twice (once lost).
    assert.equal(await balanceSats(url, wallet.invoiceKey), payout.amountSats, 'the client holds exactly its payout');
    const newIncoming = await direct.paymentRows(wallet.invoiceKey, settled.paymentHash!);
    assert.deepEqual(newIncoming.map((r) => [r.status, r.amountMsat]), [['success', BigInt(payout.amountSats) * 1000n]], 'one incoming success for the new invoice');
    assert.deepEqual((await direct.paymentRows(wallet.invoiceKey, lostHash)).map((r) => r.status), ['failed'], 'the lost invoice still failed');
    assert.equal(await balanceSats(url, w.source.adminKey), sourceBefore - commission.amountSats - 2 * payout.amountSats);

    // Recorded once, with the evidence and the operator's note; the disagreement alert resolved.
    const losses = (await w.db.pool.query(`SELECT payment_id::text, transaction_id::text, client_id::text, lost_payment_hash, amount_sats::int AS amount_sats, evidence, note, recorded_by FROM satoshimachine.lnbits_losses`)).rows;
    assert.equal(losses.length, 1);
    assert.deepEqual(
      [losses[0].payment_id, losses[0].transaction_id, losses[0].client_id, losses[0].lost_payment_hash, losses[0].amount_sats, losses[0].recorded_by],
      [payout.id, held.id, w.clients[0]!.id, lostHash, payout.amountSats, 'test'],
    );
    assert.deepEqual([losses[0].evidence.payer.status, losses[0].evidence.payer.amountMsat, losses[0].evidence.recipient.status], ['success', String(-payout.amountSats * 1000), 'failed']);
    assert.doesNotMatch(JSON.stringify(losses[0].evidence), new RegExp(`${wallet.invoiceKey}|${w.source.adminKey}`), 'no key in the evidence');
    assert.match(losses[0].note, /checked in LNbits/);
    const events = (await w.db.pool.query(`SELECT actor FROM satoshimachine.operator_events WHERE action = 'lnbits-loss-recorded'`)).rows;
    assert.deepEqual(events, [{ actor: 'test' }]);
    const alerts = (await w.db.pool.query(`SELECT resolved_at FROM satoshimachine.alerts WHERE kind = 'payout-disagreement' AND dedup_key = $1`, [`payout-disagreement:${payout.id}:${lostHash}`])).rows;
    assert.ok(alerts.length === 1 && alerts[0].resolved_at !== null, 'the disagreement alert resolved');

    // The reconciliation: no finding; the loss listed and checked against LNbits.
    const report = await reconcile(w, client);
    assert.deepEqual(report.counts, {}, JSON.stringify(report.findings));
    const summary = report.summary as { ledger: { lnbitsLosses: { count: number; sats: string } }; lnbits: { lnbitsLosses: { count: number; verified: number; label: string } } };
    assert.deepEqual([summary.ledger.lnbitsLosses.count, summary.ledger.lnbitsLosses.sats], [1, String(payout.amountSats)]);
    assert.deepEqual([summary.lnbits.lnbitsLosses.verified, summary.lnbits.lnbitsLosses.label], [1, 'lost in LNbits (recorded)']);
    assert.match(formatReconciliation(report), new RegExp(`lost in LNbits \\(recorded\\)\\s+1 payment\\(s\\), ${payout.amountSats} sats \\(1 still shown so by LNbits\\)`));

    // The chaos verifier, from LNbits' API and database: no double payment, nothing unaccounted.
    const v = await verify({
      ledger: w.db.pool, lamassuIds: [row.id], lnbits: { url, dbFile },
      source: { id: w.source.id, adminKey: w.source.adminKey },
      commission: { id: w.commission.id, invoiceKey: w.commission.invoiceKey },
      clients: w.clients.map((c) => ({ id: c.id, wallet: { id: c.wallet.id, invoiceKey: c.wallet.invoiceKey } })),
    });
    assert.deepEqual([v.doublePayments, v.satsUnaccounted, v.disagreements, v.stuck], [[], [], [], []], JSON.stringify(v));
    assert.equal(v.failed, false);
    assert.deepEqual(v.lnbitsLosses.map((l) => [l.paymentHash, l.sats, l.recorded]), [[lostHash, payout.amountSats, true]]);
    assert.match(v.lnbitsLosses[0]!.detail, /lost in LNbits \(recorded\)/);
    assert.equal(v.lnbits.sourceSatsLostRecorded, payout.amountSats);

    // A second run changes nothing.
    const again = await settle(['--json']);
    assert.equal(again.code, 0, again.stderr);
    assert.equal(again.json<{ outcome: string }>().outcome, 'already-settled');
    assert.equal((await w.db.pool.query(`SELECT count(*)::int AS n FROM satoshimachine.lnbits_losses`)).rows[0].n, 1);
    assert.equal((await w.db.pool.query(`SELECT count(*)::int AS n FROM satoshimachine.operator_events WHERE action = 'lnbits-loss-recorded'`)).rows[0].n, 1);
    assert.equal(await balanceSats(url, wallet.invoiceKey), payout.amountSats, 'still paid exactly once');
  });
});

test('the workflow is gone: the command records the loss and a recovery run pays the client once', { timeout: 300_000 }, async () => {
  await withLostPayment(async ({ w, client, lnbits, lost }) => {
    const { row, wfId, payout, lostHash, heldBalance, wallet } = lost;
    await client.workflow.getHandle(wfId).terminate('test: the cash-out workflow is gone');
    const r = await runCli(['tx', 'settle-lost-payment', row.id, '--payment', payout.id, '--reason', 'checked in LNbits', '--actor', 'test', '--wait', '2m', '--json'], cliEnvFor(w.config));
    assert.equal(r.code, 0, r.stderr);
    const out = r.json<{ outcome: string; status: string; result: { action: string } }>();
    assert.deepEqual([out.outcome, out.result.action, out.status], ['replaced', 'resume', 'completed']);
    const after = (await ledgerTransaction(w.db.pool, row.id))!;
    const settled = after.payments.find((p) => p.id === payout.id)!;
    assert.deepEqual([after.status, settled.status, settled.replacedPaymentHashes], ['completed', 'completed', [lostHash]]);
    assert.equal(await balanceSats(lnbits.url, wallet.invoiceKey), payout.amountSats, 'the client holds exactly its payout');
    assert.equal(await storedBalance(w.db.pool, w.clients[0]!.id), heldBalance, 'the fiat debit unchanged');
    assert.equal((await w.db.pool.query(`SELECT count(*)::int AS n FROM satoshimachine.lnbits_losses`)).rows[0].n, 1);
  });
});

test('a run that stopped after the replacement, before the retry: the next run sends the retry; paid once', { timeout: 300_000 }, async () => {
  await withLostPayment(async ({ w, lnbits, lost }) => {
    const { row, payout, lostHash, wallet } = lost;
    // The command's ledger/LNbits part alone, as if the process died right after it.
    const ctx = createContext(w.config);
    try {
      const r = await settleLostPayment(ctx, { lamassuId: row.id, paymentId: payout.id, actor: 'test', note: 'checked in LNbits' });
      assert.equal(r.outcome, 'replaced');
    } finally {
      await ctx.close();
    }
    const stopped = (await ledgerTransaction(w.db.pool, row.id))!;
    const replaced = stopped.payments.find((p) => p.id === payout.id)!;
    assert.deepEqual([stopped.status, replaced.status, replaced.replacedPaymentHashes], ['needs_attention', 'failed', [lostHash]]);
    assert.equal(await balanceSats(lnbits.url, wallet.invoiceKey), 0, 'nothing paid yet');

    const again = await runCli(['tx', 'settle-lost-payment', row.id, '--payment', payout.id, '--reason', 'checked in LNbits', '--actor', 'test', '--wait', '2m', '--json'], cliEnvFor(w.config));
    assert.equal(again.code, 0, again.stderr);
    assert.deepEqual([again.json<{ outcome: string }>().outcome, again.json<{ status: string }>().status], ['already-settled', 'completed']);
    const after = (await ledgerTransaction(w.db.pool, row.id))!;
    const settled = after.payments.find((p) => p.id === payout.id)!;
    assert.deepEqual([after.status, settled.status, settled.paymentHash, settled.replacedPaymentHashes], ['completed', 'completed', replaced.paymentHash, [lostHash]]);
    assert.equal(await balanceSats(lnbits.url, wallet.invoiceKey), payout.amountSats, 'the client holds exactly its payout');
    assert.equal((await w.db.pool.query(`SELECT count(*)::int AS n FROM satoshimachine.lnbits_losses`)).rows[0].n, 1);
  });
});
