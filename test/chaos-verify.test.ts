/**
 * The chaos verifier (chaos/verify.ts) on the real stack: a clean cash-out verifies clean; an injected double
 * payment (the client's paid invoice paid again, and an extra payment to the client with the cash-out's memo)
 * and sats missing (Lamassu's row says more sats than were paid out) are reported.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { startCashOut } from '../client/cashout';
import { createLnbitsClient } from '../adapters/lnbits/client';
import { cashOutWorkflowId } from '../domain/constants';
import type { CashOutResult } from '../workflows/cashout';
import { verify, type VerifyTarget } from '../chaos/verify';
import { cashOutRow, ledgerTransaction, withCashOutWorld } from './support/cashout-fixture';
import { createLamassuDatabase } from './support/lamassu-db';
import { getStack } from './support/stack';

const lnbitsDbFile = () => path.join(path.dirname(process.env.SATMACHINE_TEST_STACK!), 'lnbits', 'database.sqlite3');

test('the chaos verifier reports nothing for a clean cash-out, and reports injected double payments and missing sats', async (t) => {
  const lamassu = await createLamassuDatabase('chaos_verify');
  try {
    await withCashOutWorld({ taskQueuePrefix: 'chaos-verify', clients: 3 }, async ({ world, client }) => {
      const row = cashOutRow();
      await lamassu.insertCashOut({ id: row.id, crypto_atoms: row.cryptoAtoms, fiat: row.fiat, commission_percentage: row.commissionPercentage, raw_ticker_price: row.rawTickerPrice, confirmed_at: row.confirmedAt, created: row.created });
      await startCashOut(client, world.config, row);
      const result = (await client.workflow.getHandle(cashOutWorkflowId(row.id)).result()) as CashOutResult;
      assert.equal(result.status, 'completed');
      const target: VerifyTarget = {
        ledger: world.db.pool, lamassu: lamassu.pool, lamassuIds: [row.id],
        lnbits: { url: getStack().lnbits.url, dbFile: lnbitsDbFile() },
        source: { id: world.source.id, adminKey: world.source.adminKey },
        commission: { id: world.commission.id, invoiceKey: world.commission.invoiceKey },
        clients: world.clients.map((c) => ({ id: c.id, wallet: { id: c.wallet.id, invoiceKey: c.wallet.invoiceKey } })),
      };

      const clean = await verify(target);
      t.diagnostic(JSON.stringify(clean.cashOuts));
      assert.equal(clean.cashOuts.completed, 1);
      assert.deepEqual([clean.doublePayments, clean.satsUnaccounted, clean.disagreements, clean.stuck], [[], [], [], []]);
      assert.equal(clean.failed, false);
      assert.ok(clean.lnbits.recordsDb > 0 && clean.lnbits.recordsApi === clean.lnbits.recordsDb, 'API and read-only database hold the same records');

      // 1. The client's invoice, paid again from the source wallet.
      const tx = (await ledgerTransaction(world.db.pool, row.id))!;
      const payout = tx.payments.find((p) => p.kind === 'client' && p.amountSats > 0)!;
      const lnbits = createLnbitsClient({ url: getStack().lnbits.url });
      const { rows } = await world.db.pool.query(`SELECT bolt11 FROM satoshimachine.payments WHERE id = $1`, [payout.id]);
      const again = await lnbits.payInvoice(world.source.adminKey, rows[0].bolt11 as string);
      t.diagnostic(`paying the same invoice again: ${again.kind}`);
      if (again.kind === 'paid') {
        const r = await verify(target);
        assert.ok(r.doublePayments.some((d) => d.detail.includes(payout.paymentHash!)), 'the hash paid twice is reported');
      }

      // 2. An extra payment to the same client with the cash-out's memo (a second invoice, as a buggy retry would make).
      const clientWallet = world.clients.find((c) => c.id === payout.clientId)!.wallet;
      const original = await lnbits.getPayment(clientWallet.invoiceKey, payout.paymentHash!);
      const extra = await lnbits.createInvoice(clientWallet.invoiceKey, { amountSats: payout.amountSats, memo: original!.memo ?? '' });
      assert.equal((await lnbits.payInvoice(world.source.adminKey, extra.bolt11)).kind, 'paid');
      const doubled = await verify(target);
      t.diagnostic(JSON.stringify({ doublePayments: doubled.doublePayments, satsUnaccounted: doubled.satsUnaccounted }));
      assert.ok(doubled.doublePayments.some((d) => d.lamassuId === row.id && d.detail.includes(`client ${payout.clientId} paid 2 times`)), 'the (cash-out, client) paid twice is reported');
      assert.ok(doubled.satsUnaccounted.some((s) => s.lamassuId === row.id && s.sats === -payout.amountSats), 'the overpayment shows as negative sats unaccounted');
      assert.equal(doubled.failed, true);

      // 3. Sats missing: Lamassu's row holds 77 sats more than the ledger split and LNbits paid.
      await lamassu.updateCashOut(row.id, { crypto_atoms: String(BigInt(row.cryptoAtoms) + 77n) });
      const missing = await verify(target);
      assert.ok(missing.satsUnaccounted.some((s) => s.lamassuId === row.id && s.sats === 77 - payout.amountSats), 'sats missing are reported');
      assert.ok(missing.disagreements.some((d) => d.lamassuId === row.id && d.detail.includes('crypto_atoms')), 'ledger and Lamassu disagree');
    });
  } finally {
    await lamassu.drop();
  }
});
