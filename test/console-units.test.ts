/** The console's small parts: password hashes, HTML escaping, statement arithmetic and CSV, the chart, hash-password. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { pricePerBtc, statementCsv, type Statement } from '../client/statement';
import { accumulatedSatsChart } from '../console/chart';
import { html } from '../console/html';
import { hashPassword, verifyPassword } from '../console/passwords';
import { runBinary } from './support/cli';

test('scrypt password hashes: the right password matches, others and malformed hashes do not', async () => {
  const hash = await hashPassword('correct horse battery staple');
  assert.match(hash, /^scrypt\$32768\$8\$1\$[A-Za-z0-9_-]{22}\$[A-Za-z0-9_-]{43}$/);
  assert.notEqual(hash, await hashPassword('correct horse battery staple'), 'salted');
  assert.equal(await verifyPassword('correct horse battery staple', hash), true);
  assert.equal(await verifyPassword('correct horse battery stapl', hash), false);
  assert.equal(await verifyPassword('correct horse battery staple', 'scrypt$1$1$1$x$y'), false);
  assert.equal(await verifyPassword('anything', ''), false);
  await assert.rejects(hashPassword('short'), /at least 12/);
});

test('html escapes every interpolated value, keeps nested html', () => {
  const name = `<script>alert("x")</script>&'`;
  assert.equal(html`<td>${name}</td>`.value, '<td>&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;&amp;&#39;</td>');
  assert.equal(html`<ul>${['a<', 'b'].map((x) => html`<li>${x}</li>`)}</ul>`.value, '<ul><li>a&lt;</li><li>b</li></ul>');
  assert.equal(html`${null}${undefined}${false}${0}${12n}`.value, '012');
});

test('price per BTC is exact: fiat minor × 10^8 / sats, rounded half away from zero', () => {
  // 4000.00 GTQ for 485 687 sats → 823 575.68 GTQ/BTC (the browser test's payout).
  assert.equal(pricePerBtc(400_000n, 485_687n), 82_357_568n);
  assert.equal(pricePerBtc(1n, 200_000_000n), 1n, '0.5 rounds up');
  assert.equal(pricePerBtc(0n, 0n), 0n);
  fc.assert(
    fc.property(fc.bigInt({ min: 1n, max: 10n ** 12n }), fc.bigInt({ min: 1n, max: 21n * 10n ** 14n }), (fiat, sats) => {
      const p = pricePerBtc(fiat, sats);
      // |p·sats − fiat·10^8| ≤ sats/2: the nearest integer, computed without floating point.
      const err = p * sats - fiat * 100_000_000n;
      return 2n * (err < 0n ? -err : err) <= sats;
    }),
  );
});

const statement: Statement = {
  name: 'Maria', currency: 'GTQ', fiatDecimals: 2, asOf: '2026-01-03T00:00:00.000Z', balanceFiatMinor: 600_000n,
  deposits: [{ at: '2026-01-01T10:00:00.000Z', amountFiatMinor: 1_000_000n, status: 'confirmed' }, { at: '2026-01-02T12:00:00.000Z', amountFiatMinor: 5_050n, status: 'pending' }],
  payouts: [{ at: '2026-01-02T10:00:00.000Z', amountSats: 485_687n, fiatDebitMinor: 400_000n, pricePerBtcFiatMinor: 82_357_568n, status: 'completed' }],
  totals: { investedFiatMinor: 1_000_000n, pendingDepositsFiatMinor: 5_050n, adjustmentsFiatMinor: 0n, spentFiatMinor: 400_000n, satsReceived: 485_687n, averageCostPerBtcFiatMinor: 82_357_568n },
  accumulated: [{ at: '2026-01-02T10:00:00.000Z', totalSats: 485_687n }],
};

test('statement CSV: one row per deposit and payout, oldest first, exact decimals', () => {
  assert.equal(
    statementCsv(statement),
    [
      'date,type,status,fiat_amount,currency,sats,price_per_btc',
      '2026-01-01T10:00:00.000Z,deposit,confirmed,10000.00,GTQ,,',
      '2026-01-02T10:00:00.000Z,payout,completed,4000.00,GTQ,485687,823575.68',
      '2026-01-02T12:00:00.000Z,deposit,pending,50.50,GTQ,,',
      '',
    ].join('\n'),
  );
});

test('the chart is an SVG step line up to the total; no payouts, no chart', () => {
  const svg = accumulatedSatsChart(statement.accumulated, statement.asOf).value;
  assert.match(svg, /^<svg role="img" aria-label="Sats accumulated over time"/);
  assert.match(svg, />485,687</);
  assert.doesNotMatch(svg, /NaN|Infinity/);
  assert.match(accumulatedSatsChart([], statement.asOf).value, /No sats received yet/);
});

test('satmachine console hash-password reads the password from stdin', async () => {
  const r = await runBinary(['console', 'hash-password'], { PATH: process.env.PATH }, 'a long enough password\n');
  assert.equal(r.code, 0, r.stderr);
  assert.equal(await verifyPassword('a long enough password', r.stdout.trim()), true);
  const short = await runBinary(['console', 'hash-password'], { PATH: process.env.PATH }, 'short\n');
  assert.equal(short.code, 2);
  assert.match(short.stderr, /at least 12 characters/);
});
