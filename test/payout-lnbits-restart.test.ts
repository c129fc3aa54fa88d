/**
 * LNbits restarted while payouts hold stored, unpaid invoices. At start-up LNbits 1.6.2 re-checks pending
 * invoices with its funding source; FakeWallet has forgotten them, so they are marked failed and can never be
 * paid ("Payment is failed node"). `satmachine tx retry` must then replace each (never paid: checked with the
 * payer's key; the old hash kept) and complete the cash-out, each payout paid exactly once. A private LNbits
 * (the run's shared one must not restart under other tests).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { createLnbitsClient } from '../adapters/lnbits/client';
import { startCashOut } from '../client/cashout';
import { cashOutWorkflowId } from '../domain/constants';
import { cashOutRow, ledgerTransaction, untilState, withCashOutWorld } from './support/cashout-fixture';
import { cliEnvFor, runCli } from './support/cli';
import { balanceSats } from './support/lnbits';
import { startLnbits, type TestLnbits } from './support/lnbits-server';
import { freePort } from './support/ports';

test('after an LNbits restart, tx retry replaces the failed invoices and pays each payout exactly once', { timeout: 300_000 }, async () => {
  const dataDir = mkdtempSync(path.join(tmpdir(), 'satm-lnbits-restart-'));
  const port = await freePort();
  const superuserPassword = randomBytes(18).toString('base64url');
  let lnbits: TestLnbits = await startLnbits({ dataDir, port, superuserPassword });
  try {
    await withCashOutWorld({ taskQueuePrefix: 'lnbits-restart', clients: 2, faultProxy: true, lnbits }, async ({ world: w, client, proxy }) => {
      const url = lnbits.url;
      const sourceBefore = await balanceSats(url, w.source.adminKey);
      // Payments refused before anything is paid: the payouts fail with their invoices stored.
      proxy.intercept = (r) => (r.isPayment ? { answer: { status: 520, json: { detail: 'Insufficient balance.', status: 'failed' } } } : undefined);
      const row = cashOutRow();
      await startCashOut(client, w.config, row);
      const id = cashOutWorkflowId(row.id);
      await untilState(client, id, (x) => x.step === 'wait-operator', 'needs_attention', 60_000);
      const before = (await ledgerTransaction(w.db.pool, row.id))!;
      assert.ok(before.payments.every((p) => p.status === 'failed' && p.paymentHash), 'failed with stored invoices');
      proxy.intercept = null;

      await lnbits.stop();
      lnbits = await startLnbits({ dataDir, port, superuserPassword });
      const direct = createLnbitsClient({ url });
      const recipientKey = (p: { kind: string; clientId: string | null }) =>
        p.kind === 'client' ? w.clients.find((c) => c.id === p.clientId)!.wallet.invoiceKey : w.commission.invoiceKey;
      // LNbits re-checks pending invoices in a background task that starts with it (check_pending_payments):
      // on a loaded machine it may run a few seconds after the port opens.
      for (const p of before.payments) {
        let status: string | undefined;
        for (const deadline = Date.now() + 60_000; Date.now() < deadline; await new Promise((r) => setTimeout(r, 250))) {
          status = (await direct.paymentRows(recipientKey(p), p.paymentHash!))[0]?.status;
          if (status === 'failed') break;
        }
        assert.equal(status, 'failed', 'LNbits failed the stored invoice at its restart');
      }

      const retry = await runCli(['tx', 'retry', row.id, '--actor', 'test', '--json'], cliEnvFor(w.config));
      assert.equal(retry.code, 0, retry.stderr);
      assert.equal(((await client.workflow.getHandle(id).result()) as { status: string }).status, 'completed');

      const after = (await ledgerTransaction(w.db.pool, row.id))!;
      let paid = 0;
      for (const p of after.payments) {
        const old = before.payments.find((b) => b.id === p.id)!;
        assert.equal(p.status, 'completed');
        assert.notEqual(p.paymentHash, old.paymentHash, 'a new invoice');
        assert.deepEqual(p.replacedPaymentHashes, [old.paymentHash], 'the failed one kept in the history');
        const key = recipientKey(p);
        assert.equal(await balanceSats(url, key), p.amountSats, 'paid exactly once (recipient key)');
        const outgoing = await direct.paymentRows(w.source.adminKey, p.paymentHash!);
        assert.deepEqual(outgoing.map((r) => [r.status, r.amountMsat]), [['success', -BigInt(p.amountSats) * 1000n]], 'one payment by the source (payer key)');
        assert.ok((await direct.paymentRows(w.source.adminKey, old.paymentHash!)).every((r) => r.status !== 'success'), 'the old invoice never paid');
        paid += p.amountSats;
      }
      assert.equal(await balanceSats(url, w.source.adminKey), sourceBefore - paid);
    });
  } finally {
    await lnbits.stop();
  }
});
