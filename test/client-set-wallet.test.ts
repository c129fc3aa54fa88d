/**
 * `clients set-wallet` moves a client to a new wallet; a failed payout retried afterwards goes to the NEW wallet
 * even though its invoice was already created on the old one (issue 13): the old invoice is replaced, never paid.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { startCashOut } from '../client/cashout';
import { cashOutWorkflowId } from '../domain/constants';
import { cliEnvFor, runCli } from './support/cli';
import { cashOutRow, ledgerTransaction, untilState, walletSats, withCashOutWorld } from './support/cashout-fixture';
import { createWallet } from './support/lnbits';
import { getStack } from './support/stack';

test('a payout whose invoice was made on the old wallet is paid into the new wallet after set-wallet + retry', async () => {
  await withCashOutWorld({ taskQueuePrefix: 'set-wallet', clients: 2, faultProxy: true }, async ({ world: w, client, proxy }) => {
    // LNbits refuses client 0's payment (after its invoice was created on its current wallet).
    let refused: string | null = null;
    proxy.intercept = (r) => {
      const bolt11 = (r.json as { bolt11?: string } | undefined)?.bolt11;
      if (r.isPayment && (refused === null || refused === bolt11)) {
        refused = bolt11 ?? null;
        return { answer: { status: 400, json: { detail: 'refused for the test' } } };
      }
      return undefined;
    };
    const row = cashOutRow();
    await startCashOut(client, w.config, row);
    await untilState(client, cashOutWorkflowId(row.id), (s) => s.status === 'needs_attention' && s.step === 'wait-operator', 'needs_attention', 120_000);
    const failed = (await ledgerTransaction(w.db.pool, row.id))!.payments.filter((p) => p.status === 'failed');
    assert.equal(failed.length, 1);
    const oldHash = failed[0]!.paymentHash;
    assert.ok(oldHash, 'the failed payout has an invoice on the old wallet');
    proxy.intercept = null;

    const { lnbits } = getStack();
    const fresh = await createWallet(lnbits.url, lnbits.superuserToken, { name: 'moved-to' });
    const keyFile = path.join(mkdtempSync(path.join(tmpdir(), 'set-wallet-')), 'key');
    writeFileSync(keyFile, fresh.invoiceKey, { mode: 0o600 });
    const env = cliEnvFor(w.config);
    const clientName = (await w.db.pool.query(`SELECT name FROM satoshimachine.clients WHERE id = $1`, [failed[0]!.clientId])).rows[0].name as string;
    // The wrong key for the new wallet is refused; the right one is verified and recorded.
    const wrong = await runCli(['clients', 'set-wallet', clientName, '--wallet-id', w.clients[1]!.wallet.id, '--invoice-key-file', keyFile], env);
    assert.equal(wrong.code, 2, wrong.stdout);
    const moved = await runCli(['clients', 'set-wallet', clientName, '--wallet-id', fresh.id, '--invoice-key-file', keyFile, '--reason', 'test'], env);
    assert.equal(moved.code, 0, moved.stderr);
    const oldWallet = w.clients.find((c) => c.id === failed[0]!.clientId)!.wallet;
    const oldBefore = await walletSats(oldWallet);
    const retry = await runCli(['tx', 'retry', row.id, '--wait', '2m'], env);
    assert.equal(retry.code, 0, `${retry.stdout}\n${retry.stderr}`);
    assert.match(retry.stdout, /cash-out completed/);
    assert.equal(await walletSats(fresh), failed[0]!.amountSats, 'paid into the new wallet');
    assert.equal(await walletSats(oldWallet), oldBefore, 'nothing more into the old wallet');
    const after = (await ledgerTransaction(w.db.pool, row.id))!.payments.find((p) => p.id === failed[0]!.id)!;
    assert.notEqual(after.paymentHash, oldHash);
    assert.deepEqual(after.replacedPaymentHashes, [oldHash], 'the old invoice is kept in the history');
    const ev = await w.db.pool.query(`SELECT details FROM satoshimachine.operator_events WHERE action = 'client-wallet-replaced'`);
    assert.equal(ev.rows[0].details.toWalletId, fresh.id);
  });
});
