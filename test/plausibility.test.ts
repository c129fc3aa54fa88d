/** Plausibility findings (domain/plausibility.ts): exact, one reason per failed check. */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { impliedPrice, plausibilityFindings, type PlausibilityInput, type PlausibilityLimits } from '../domain/plausibility';

const limits: PlausibilityLimits = { priceBandPercent: 10, maxCashOutSats: 5_000_000, maxCashOutFiat: '20000', maxDailySats: 30_000_000, maxDailyFiat: '150000', clockSkewSeconds: 300 };
const now = '2026-12-01T04:00:00.000Z';
// The domain doc's real row: 4000 GTQ, 512 400 sats, ticker 826 091.28, 5.5 %.
const row: PlausibilityInput = {
  cryptoAtoms: '512400', receivedCryptoAtoms: '512400', fiat: '4000.00000', fiatCode: 'GTQ', fixedFee: null, rawTickerPrice: '826091.28000',
  effectiveCommission: '0.055', excessSats: 0, confirmedAt: now, now, referencePrice: null, dailySats: '0', dailyFiat: '0',
};

describe('plausibility', () => {
  test('the real row passes', () => assert.deepEqual(plausibilityFindings(row, limits), []));

  const cases: Array<[string, Partial<PlausibilityInput>, RegExp]> = [
    ['9 000 000 sats for 1 GTQ', { cryptoAtoms: '9000000', receivedCryptoAtoms: null, fiat: '1.00000' }, /price: 9000000 sats for 1 GTQ is outside ±10 %/],
    ['90 000 GTQ for 1 000 sats', { cryptoAtoms: '1000', receivedCryptoAtoms: null, fiat: '90000.00000' }, /exceeds the per-cash-out cap of 20000/],
    ['received 0', { receivedCryptoAtoms: '0' }, /received_crypto_atoms 0 does not cover/],
    ['confirmed in an hour', { confirmedAt: '2026-12-01T05:00:00.000Z' }, /in the future/],
    ['daily sats', { dailySats: '29600000' }, /in 24 h exceed the daily cap of 30000000/],
    ['daily fiat', { dailyFiat: '146000.50' }, /150000.5 GTQ in 24 h exceed the daily cap of 150000/],
    ['negative commission', { effectiveCommission: '-0.05', excessSats: 51_240, cryptoAtoms: '462000', receivedCryptoAtoms: null }, /negative commission \(-0.05\): the commission wallet would owe the clients 51240 sats/],
    ['excess over rounding', { excessSats: 101 }, /exceeds crypto_atoms by 101 sats/],
    ['no ticker, no history', { rawTickerPrice: null }, /no previous cash-out/],
    ['no ticker, far from recent prices', { rawTickerPrice: null, referencePrice: '500000' }, /outside ±10 % of recent cash-outs \(500000\)/],
  ];
  for (const [name, change, reason] of cases) {
    test(name, () => {
      const found = plausibilityFindings({ ...row, ...change }, limits);
      assert.ok(found.some((f) => reason.test(f)), JSON.stringify(found));
    });
  }

  test('no ticker: the implied price within the band of recent cash-outs passes', () => {
    assert.equal(impliedPrice('4000.00000', '512400'), 780640n);
    assert.deepEqual(plausibilityFindings({ ...row, rawTickerPrice: null, referencePrice: '800000' }, limits), []);
  });
  test('within the band both ways, exactly at its edge', () => {
    // expected = 4000e8 / (826091.28 × 0.945) = 512 389.4…; +10 % = 563 628.3, −10 % = 461 150.5.
    const atoms = (a: string) => plausibilityFindings({ ...row, cryptoAtoms: a, receivedCryptoAtoms: null }, limits).length;
    assert.deepEqual([atoms('563628'), atoms('563629'), atoms('461151'), atoms('461150')], [0, 1, 0, 1]);
  });
  test('commissionOnly: only the commission rules (the price, caps and the rest are off)', () => {
    assert.deepEqual(plausibilityFindings({ ...row, cryptoAtoms: '9000000', fiat: '1' }, limits, { commissionOnly: true }), []);
    assert.equal(plausibilityFindings({ ...row, effectiveCommission: '-0.01', excessSats: 5 }, limits, { commissionOnly: true }).length, 1);
  });
});
