/**
 * Issue 19, defect 1 (outages longer than ~1.5 min broke cash-outs) on the real stack, LNbits behind the fault
 * proxy: transfers keep trying through the outage ("waiting for LNbits since …" in the Web UI's current
 * details, the `status` query and the ledger), the clients' debits stay held, and every cash-out completes by
 * itself once LNbits is back — no operator action, every payout paid once, the books adding up in LNbits.
 * OUTAGE_SECONDS (default 100, longer than the old ~91 s budget) and OUTAGE_CASHOUTS (default 8) size it;
 * bench/outage.ts runs the full campaign (50 cash-outs, 10 minutes).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startCashOut } from '../client/cashout';
import { cashOutWorkflowId } from '../domain/constants';
import type { CashOutResult } from '../workflows/cashout';
import { assertBooks } from './support/books';
import { cashOutRow, currentDetails, ledgerTransaction, storedBalance, untilState, walletSats, withCashOutWorld } from './support/cashout-fixture';
import type { FaultProxy } from './support/lnbits-fault-proxy';

const OUTAGE_MS = Number(process.env.OUTAGE_SECONDS ?? 100) * 1000;
const CASHOUTS = Number(process.env.OUTAGE_CASHOUTS ?? 8);

/** LNbits "down" for everything the payouts need; wallet reads (the pre-flight) still answer. */
const lnbitsDownForPayouts = (proxy: FaultProxy) => {
  proxy.intercept = (r) => (r.method === 'POST' || r.path.startsWith('/api/v1/payments/') ? { answer: { status: 503, json: { detail: 'Service Unavailable' } } } : undefined);
};

test(`an LNbits outage of ${OUTAGE_MS / 1000} s during ${CASHOUTS} cash-outs needs no operator action`, { timeout: OUTAGE_MS + 240_000 }, async (t) => {
  await withCashOutWorld(
    { taskQueuePrefix: 'cashout-outage', clients: 2, faultProxy: true, overrides: { payouts: { outageBackoffMaxSeconds: 5 }, lnbits: { requestTimeoutMs: 3000 } } },
    async ({ world: w, client, proxy }) => {
      const sourceBefore = await walletSats(w.source);
      const depositsBefore = await Promise.all(w.clients.map((c) => storedBalance(w.db.pool, c.id)));
      lnbitsDownForPayouts(proxy);
      const outageStart = Date.now();
      // 20 GTQ each: 50 of them fit the clients' deposits (1250 GTQ), so none is short of balance.
      const rows = Array.from({ length: CASHOUTS }, () => cashOutRow({ fiat: '20.00000', cryptoAtoms: '2562' }));
      for (const row of rows) await startCashOut(client, w.config, row);
      const ids = rows.map((r) => cashOutWorkflowId(r.id));

      // During the outage: waiting, visibly, with the debits held.
      const s = await untilState(client, ids[0]!, (x) => Boolean(x.waitingSince), 'waiting for LNbits', 60_000);
      assert.equal(s.status, 'processing');
      assert.equal(s.waitingFor, 'LNbits');
      assert.match(await currentDetails(client, ids[0]!), /waiting for LNbits since \d{4}-\d\d-\d\dT/);
      const tx0 = (await ledgerTransaction(w.db.pool, rows[0]!.id))!;
      assert.ok(tx0.payments.every((p) => p.status === 'pending'), 'payouts stay pending');
      const { rows: waiting } = await w.db.pool.query(`SELECT count(*)::int AS n FROM satoshimachine.payments WHERE waiting_since IS NOT NULL`);
      assert.ok(waiting[0].n > 0, 'the ledger shows the payouts waiting (satmachine status)');

      await new Promise((r) => setTimeout(r, Math.max(0, OUTAGE_MS - (Date.now() - outageStart))));
      const during = await Promise.all(w.clients.map((c) => storedBalance(w.db.pool, c.id)));
      assert.ok(during.every((b, i) => b < depositsBefore[i]!), 'debits held during the whole outage');
      for (const id of ids) assert.equal((await untilState(client, id, () => true, 'any')).status, 'processing', `${id} still processing, never needs_attention`);
      proxy.intercept = null;
      const back = Date.now();

      const results = (await Promise.all(ids.map((id) => client.workflow.getHandle(id).result()))) as CashOutResult[];
      const recoveredMs = Date.now() - back;
      assert.deepEqual(results.map((r) => r.status), ids.map(() => 'completed'));
      const { rows: attention } = await w.db.pool.query(`SELECT count(*)::int AS n FROM satoshimachine.alerts WHERE kind = 'cashout-needs-attention'`);
      assert.equal(attention[0].n, 0, 'no operator action asked for');
      const books = await assertBooks(w, sourceBefore);
      t.diagnostic(JSON.stringify({ cashOuts: CASHOUTS, outageSeconds: OUTAGE_MS / 1000, completedAfterOutageMs: recoveredMs, payouts: books.payouts, paidSats: books.paidSats }));
    },
  );
});
