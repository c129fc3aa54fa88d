/** The LNbits facts the payout engine relies on, against the run's real LNbits (FakeWallet). */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { createLnbitsClient } from '../adapters/lnbits/client';
import { decodeBolt11 } from '../adapters/lnbits/bolt11';
import { LnbitsAuthError, LnbitsInsufficientBalanceError, LnbitsResponseError } from '../adapters/lnbits/errors';
import { getStack } from './support/stack';
import { balanceSats, createWallet } from './support/lnbits';
import { freePort } from './support/ports';

const { url, superuserToken } = getStack().lnbits;
const lnbits = createLnbitsClient({ url, timeoutMs: 10_000 });

test('an internal payment moves both balances by exactly the amount (no fee)', async () => {
  const payer = await createWallet(url, superuserToken, { name: 'payer', fundSats: 10_000 });
  const payee = await createWallet(url, superuserToken, { name: 'payee' });
  assert.equal(await balanceSats(url, payer.invoiceKey), 10_000);

  const inv = await lnbits.createInvoice(payee.invoiceKey, { amountSats: 1_234, memo: 'smoke', extra: { tag: 'satmachine' } });
  const out = await lnbits.payInvoice(payer.adminKey, inv.bolt11);
  assert.deepEqual(out, { kind: 'paid', paymentHash: inv.paymentHash, feeMsat: 0n, amountMsat: -1_234_000n });

  assert.equal(await balanceSats(url, payer.adminKey), 10_000 - 1_234);
  assert.equal(await balanceSats(url, payee.invoiceKey), 1_234);
  const w = await lnbits.getWallet(payer.adminKey);
  assert.deepEqual(w, { id: payer.id, name: 'payer', balanceMsat: 8_766_000n });
  assert.equal((await lnbits.getWallet(payer.invoiceKey)).id, null, 'an invoice key does not reveal the wallet id');
});

test('paying the same invoice twice: the retry is "unknown", getPayment with the payer key says paid', async () => {
  const payer = await createWallet(url, superuserToken, { name: 'payer2', fundSats: 5_000 });
  const payee = await createWallet(url, superuserToken, { name: 'payee2' });
  const inv = await lnbits.createInvoice(payee.invoiceKey, { amountSats: 700, memo: 'twice' });
  assert.equal((await lnbits.payInvoice(payer.adminKey, inv.bolt11)).kind, 'paid');

  // LNbits answers 520 {"detail":"Internal invoice already paid.","status":"failed"}: not a failure of ours.
  const again = await lnbits.payInvoice(payer.adminKey, inv.bolt11);
  assert.equal(again.kind, 'unknown');
  assert.match((again as { detail: string }).detail, /^520 \/api\/v1\/payments: Internal invoice already paid\.$/);

  const st = await lnbits.getPayment(payer.adminKey, inv.paymentHash);
  assert.ok(st);
  assert.deepEqual({ paid: st.paid, status: st.status, walletId: st.walletId, amountMsat: st.amountMsat, feeMsat: st.feeMsat }, { paid: true, status: 'success', walletId: payer.id, amountMsat: -700_000n, feeMsat: 0n });
  // The payee's key sees its incoming row of the same hash.
  assert.equal((await lnbits.getPayment(payee.invoiceKey, inv.paymentHash))?.amountMsat, 700_000n);
  // A valid key whose wallet has no row with this hash: 404 → null.
  const stranger = await createWallet(url, superuserToken, { name: 'stranger' });
  assert.equal(await lnbits.getPayment(stranger.invoiceKey, inv.paymentHash), null);
  // An unknown key gets LNbits' public {paid:true} for any row: the client refuses it as an auth error.
  await assert.rejects(lnbits.getPayment('0123456789abcdef0123456789abcdef', inv.paymentHash), { name: 'LnbitsAuthError' });
  assert.equal(await lnbits.getPayment(payer.adminKey, 'ab'.repeat(32)), null);
  assert.equal(await balanceSats(url, payer.adminKey), 4_300, 'paid once only');
});

test('a wrong or unknown key gives LnbitsAuthError without the key in the message', async () => {
  const w = await createWallet(url, superuserToken, { name: 'auth' });
  const bogus = '0123456789abcdef0123456789abcdef';
  for (const attempt of [
    () => lnbits.getWallet(bogus), // 404 Wallet not found.
    () => lnbits.getWallet(''), // 401 No Api Key provided.
    () => lnbits.createInvoice(bogus, { amountSats: 1, memo: 'x' }),
    () => lnbits.payInvoice(w.invoiceKey, 'lnbc1'), // 403: an invoice key cannot pay
    () => lnbits.creditWallet('not-a-token', w.id, 1), // 401 Invalid access token.
    () => lnbits.payInvoice(`${bogus}\n`, 'lnbc1'), // refused before fetch, which would echo the value
  ]) {
    await assert.rejects(attempt, (err: Error) => {
      assert.equal(err.name, 'LnbitsAuthError');
      assert.ok(err instanceof LnbitsAuthError);
      assert.ok(!err.message.includes(bogus) && !err.message.includes(w.invoiceKey), err.message);
      assert.match(err.message, /^LNbits rejected the credentials:( 40[134])? \/(api|users)\//);
      return true;
    });
  }
});

test('insufficient balance throws LnbitsInsufficientBalanceError and moves nothing', async () => {
  const payer = await createWallet(url, superuserToken, { name: 'poor', fundSats: 100 });
  const payee = await createWallet(url, superuserToken, { name: 'rich' });
  const inv = await lnbits.createInvoice(payee.invoiceKey, { amountSats: 101, memo: 'too much' });
  await assert.rejects(lnbits.payInvoice(payer.adminKey, inv.bolt11), (err: Error) => {
    assert.ok(err instanceof LnbitsInsufficientBalanceError);
    assert.equal(err.message, 'LNbits insufficient balance: 520 /api/v1/payments: Insufficient balance.');
    return true;
  });
  assert.equal(await balanceSats(url, payer.adminKey), 100);
  assert.equal((await lnbits.getPayment(payee.invoiceKey, inv.paymentHash))?.paid, false);
  // Exactly the balance is enough: internal payments reserve no fee.
  const exact = await lnbits.createInvoice(payee.invoiceKey, { amountSats: 100, memo: 'all of it' });
  assert.equal((await lnbits.payInvoice(payer.adminKey, exact.bolt11)).kind, 'paid');
});

test('an unreachable LNbits makes payInvoice "unknown", not an exception', async () => {
  const dead = createLnbitsClient({ url: `http://127.0.0.1:${await freePort()}`, timeoutMs: 2_000 });
  const out = await dead.payInvoice('k'.repeat(32), 'lnbc1');
  assert.equal(out.kind, 'unknown');
  assert.match((out as { detail: string }).detail, /ECONNREFUSED/);
  await assert.rejects(dead.getWallet('k'.repeat(32)), { name: 'LnbitsTransientError' });
});

test('a timed-out payment is "unknown" with the timeout as detail', async () => {
  // A listener that accepts and never answers: the only way to make a real request time out.
  const sockets: net.Socket[] = [];
  const silent = net.createServer((s) => sockets.push(s));
  await new Promise<void>((r) => silent.listen(0, '127.0.0.1', r));
  try {
    const { port } = silent.address() as net.AddressInfo;
    const out = await createLnbitsClient({ url: `http://127.0.0.1:${port}`, timeoutMs: 300 }).payInvoice('k'.repeat(32), 'lnbc1');
    assert.deepEqual(out, { kind: 'unknown', detail: 'LNbits transient failure: /api/v1/payments: timeout after 300 ms' });
  } finally {
    sockets.forEach((s) => s.destroy());
    await new Promise((r) => silent.close(r));
  }
});

test('paymentRows reads each wallet\'s row of a hash without changing it (an expired pending invoice stays pending)', async () => {
  const payer = await createWallet(url, superuserToken, { name: 'rows-payer', fundSats: 5_000 });
  const payee = await createWallet(url, superuserToken, { name: 'rows-payee' });
  const inv = await lnbits.createInvoice(payee.invoiceKey, { amountSats: 7, memo: 'rows', expirySeconds: 1 });
  await new Promise((r) => setTimeout(r, 2_500));
  // Listing an expired pending invoice leaves it pending (GET /api/v1/payments/{hash} would mark it failed).
  for (let i = 0; i < 2; i++) {
    const [row] = await lnbits.paymentRows(payee.invoiceKey, inv.paymentHash);
    assert.deepEqual([row!.status, row!.amountMsat, row!.bolt11, row!.checkingId], ['pending', 7_000n, inv.bolt11, inv.paymentHash]);
  }
  assert.deepEqual(await lnbits.paymentRows(payer.adminKey, inv.paymentHash), [], 'another wallet sees no row of it');
  assert.equal((await lnbits.getPayment(payee.invoiceKey, inv.paymentHash))!.status, 'failed', 'the by-hash look-up is the one that fails it');
  assert.equal((await lnbits.paymentRows(payee.invoiceKey, inv.paymentHash))[0]!.status, 'failed', 'failed rows are listed too');

  const paid = await lnbits.createInvoice(payee.invoiceKey, { amountSats: 9, memo: 'rows paid' });
  assert.equal((await lnbits.payInvoice(payer.adminKey, paid.bolt11)).kind, 'paid');
  const [outRow] = await lnbits.paymentRows(payer.adminKey, paid.paymentHash);
  const [inRow] = await lnbits.paymentRows(payee.invoiceKey, paid.paymentHash);
  assert.deepEqual([outRow!.status, outRow!.amountMsat, inRow!.status, inRow!.amountMsat], ['success', -9_000n, 'success', 9_000n]);
});

test('decodeBolt11 (bolt11 library): an LNbits invoice decodes to its hash, amount and signer; a changed character is refused', async () => {
  const payee = await createWallet(url, superuserToken, { name: 'decode' });
  const inv = await lnbits.createInvoice(payee.invoiceKey, { amountSats: 4_321, memo: 'decode', expirySeconds: 600 });
  const d = decodeBolt11(inv.bolt11);
  assert.equal(d.paymentHash, inv.paymentHash);
  assert.equal(d.amountMsat, 4_321_000n);
  assert.equal(d.expirySeconds, 600);
  assert.match(d.payeeNodeKey, /^0[23][0-9a-f]{64}$/, 'the signer, recovered from the signature');
  // Any one changed character breaks the bech32 checksum.
  const i = inv.bolt11.length - 20;
  const tampered = inv.bolt11.slice(0, i) + (inv.bolt11[i] === 'q' ? 'p' : 'q') + inv.bolt11.slice(i + 1);
  assert.throws(() => decodeBolt11(tampered), (err: unknown) => err instanceof LnbitsResponseError && /Invalid checksum/.test(err.message));
  assert.throws(() => decodeBolt11('lnbc1notaninvoice'), LnbitsResponseError);
});
