import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { computeCommission, type CommissionInput } from '../domain/commission';
import { CommissionInputError, BUSINESS_ERROR_TYPES } from '../domain/errors';
import { formatDecimal, parseDecimal, roundHalfAwayFromZero, toScaledInteger } from '../domain/decimal';

const runbook = (cryptoAtoms: string | number, commissionPercentage: string | null, discount: string | number | null) =>
  computeCommission({ cryptoAtoms, commissionPercentage, discount });

describe('runbook unit-test table (emergency-protocols.md, scenario 5)', () => {
  // Runbook row (crypto_atoms, commission, discount, expected_base, expected_commission).
  // Where the row contradicts the runbook's own formula ROUND(atoms / (1 + effective)), the formula wins
  // (domain.md §3) and the comment records what the runbook printed.
  const cases: { row: string; input: [string, string, string]; base: number; commission: number; why: string }[] = [
    {
      row: '(266800, 0.03, 0.0, 258835, 7965)',
      input: ['266800', '0.03', '0.0'],
      base: 259029,
      commission: 7771,
      why: 'runbook arithmetic is wrong: 266800 / 1.03 = 259029.13 → ROUND = 259029 (258835 × 1.03 = 266600, not 266800)',
    },
    {
      row: '(100000, 0.05, 10.0, 95694, 4306)',
      input: ['100000', '0.05', '10.0'],
      base: 95694,
      commission: 4306,
      why: 'agrees: effective 0.045, 100000 / 1.045 = 95693.78 → 95694',
    },
    {
      row: '(1, 0.03, 0.0, 0, 1)',
      input: ['1', '0.03', '0.0'],
      base: 1,
      commission: 0,
      why: 'contradicts its own ROUND: 1 / 1.03 = 0.9709 rounds to 1, so the base is 1 and the commission 0',
    },
  ];
  for (const c of cases) {
    test(`${c.row}: ${c.why}`, () => {
      const r = runbook(...c.input);
      assert.equal(r.model, 'runbook');
      assert.equal(r.baseSats, c.base);
      assert.equal(r.commissionSats, c.commission);
    });
  }
  test('the runbook spot check: 2000 GTQ → 266 800 sats at 3 % gives 259 029 / 7 771', () => {
    assert.deepEqual(runbook('266800', '0.03000', 0), { model: 'runbook', effectiveCommission: '0.03', baseSats: 259029, commissionSats: 7771, fixedFeeSats: 0, excessSats: 0 });
  });
});

describe('the real row of domain.md §3 (4000 GTQ, ticker 826091.28, 5.5 %, 512 400 sats)', () => {
  const row: CommissionInput = { cryptoAtoms: '512400', commissionPercentage: '0.05500', discount: 0, fiat: '4000.00000', rawTickerPrice: '826091.28000' };
  test('runbook: 512400 / 1.055 = 485687.20 → 485687', () => {
    assert.deepEqual(computeCommission(row), { model: 'runbook', effectiveCommission: '0.055', baseSats: 485687, commissionSats: 26713, fixedFeeSats: 0, excessSats: 0 });
  });
  test('lamassu-ticker: 4000 × 10^8 / 826091.28 = 484207.99 → 484208', () => {
    assert.deepEqual(computeCommission(row, 'lamassu-ticker'), { model: 'lamassu-ticker', effectiveCommission: '0.055', baseSats: 484208, commissionSats: 28192, fixedFeeSats: 0, excessSats: 0 });
  });
  test('the two models differ by ~1 480 sats on this row (exactly 1 479)', () => {
    const a = computeCommission(row, 'runbook');
    const b = computeCommission(row, 'lamassu-ticker');
    assert.equal(a.baseSats - b.baseSats, 1479);
  });
  test('lamassu-ticker without raw_ticker_price falls back to runbook and says so', () => {
    const r = computeCommission({ ...row, rawTickerPrice: null }, 'lamassu-ticker');
    assert.equal(r.model, 'runbook');
    assert.equal(r.baseSats, 485687);
  });
  test('lamassu-ticker: a ticker implying a negative commission caps the base at crypto_atoms and reports the excess', () => {
    const r = computeCommission({ ...row, rawTickerPrice: '700000' }, 'lamassu-ticker');
    assert.equal(r.baseSats, 512400);
    assert.equal(r.commissionSats, 0);
    // 4000 × 10^8 / 700000 = 571 428.57 → 571 429; 571 429 − 512 400 = 59 029 the commission wallet would owe.
    assert.equal(r.excessSats, 59_029);
  });
  test("lamassu-ticker on Lamassu's 100-sat rounding (100 % discount): commission 0, never negative, never a throw", () => {
    const r = computeCommission({ cryptoAtoms: '24200', commissionPercentage: '0.055', discount: 100, fiat: '200', rawTickerPrice: '826091.28' }, 'lamassu-ticker');
    assert.deepEqual([r.baseSats, r.commissionSats, r.excessSats], [24200, 0, 10]);
  });
  test('a negative commission (Lamassu allows −15 %): base capped at crypto_atoms, the excess reported', () => {
    const r = computeCommission({ cryptoAtoms: '100000', commissionPercentage: '-0.10', discount: 0 });
    assert.equal(r.effectiveCommission, '-0.1');
    assert.deepEqual([r.baseSats, r.commissionSats, r.excessSats], [100000, 0, 11111]);
  });
  test('100 % commission: half of crypto_atoms is commission (runbook formula)', () => {
    const r = computeCommission({ cryptoAtoms: '100000', commissionPercentage: '1.00000', discount: 0 });
    assert.deepEqual([r.baseSats, r.commissionSats], [50000, 50000]);
  });
  test('fixed_fee: its share of crypto_atoms is taken out first, as operator revenue', () => {
    // 4000 GTQ + 20 GTQ fee in 514 962 sats: fee share ROUND(514962 × 20 / 4020) = 2 562.
    const r = computeCommission({ cryptoAtoms: '514962', commissionPercentage: '0.055', discount: 0, fiat: '4000.00000', fixedFee: '20.00000' });
    assert.equal(r.fixedFeeSats, 2562);
    assert.equal(r.baseSats, Math.round((514962 - 2562) / 1.055));
    assert.equal(r.baseSats + r.commissionSats, 514962);
    const none = computeCommission({ cryptoAtoms: '512400', commissionPercentage: '0.055', discount: 0, fiat: '4000', fixedFee: '0.00000' });
    assert.equal(none.fixedFeeSats, 0);
    assert.equal(none.baseSats, 485687);
  });
});

describe('exactness', () => {
  test('exact half-way values round away from zero (PostgreSQL ROUND)', () => {
    // e = 0.2: atoms / 1.2 = 5 atoms / 6, exactly x.5 when atoms = 3 × odd.
    assert.equal(runbook('3', '0.2', 0).baseSats, 3); // 2.5 → 3
    assert.equal(runbook('300003', '0.2', 0).baseSats, 250003); // 250002.5 → 250003
    assert.equal(runbook('2099999999999997', '0.2', 0).baseSats, 1749999999999998); // …997.5 → …998
    // e = 0.8 × (100 − 25) / 100 = 0.6: atoms / 1.6, 4 → 2.5 → 3
    assert.deepEqual(runbook('4', '0.80000', 25), { model: 'runbook', effectiveCommission: '0.6', baseSats: 3, commissionSats: 1, fixedFeeSats: 0, excessSats: 0 });
    // ticker model: 1 × 10^8 / 2×10^8 = 0.5 → 1
    assert.equal(computeCommission({ cryptoAtoms: '1', commissionPercentage: null, discount: null, fiat: '1', rawTickerPrice: '200000000' }, 'lamassu-ticker').baseSats, 1);
  });

  test('values where float division lands on the wrong side of .5', () => {
    // [atoms, commission, discount, exact ROUND]; the float quotient of each is printed as …x.5 but the exact
    // value is below (or above) the half, so Math.round(atoms / (1 + e)) is off by one.
    const cases: [string, string, number, number][] = [
      ['606805117686859', '0.03', 0, 589131182220251],
      ['1977280296114599', '0.055', 0, 1874199332810046],
      ['1953913487051125', '0.05', 10, 1869773671819258],
      ['1605711061166444', '0.07', 15, 1515536631587017],
    ];
    for (const [atoms, c, d, exact] of cases) {
      const floatBase = Math.round(Number(atoms) / (1 + (Number(c) * (100 - d)) / 100));
      assert.notEqual(floatBase, exact, `float should be wrong for ${atoms}`);
      const r = runbook(atoms, c, d);
      assert.equal(r.baseSats, exact);
      assert.equal(r.baseSats + r.commissionSats, Number(atoms));
    }
  });

  test('property: base is the half-away-from-zero rounding of atoms/(1+e), base + commission = atoms', () => {
    fc.assert(
      fc.property(
        fc.bigInt({ min: 0n, max: 2_100_000_000_000_000n }),
        fc.integer({ min: 0, max: 99_999 }),
        fc.option(fc.integer({ min: 0, max: 100 })),
        (atoms, c5, discount) => {
          const c = `0.${String(c5).padStart(5, '0')}`;
          const r = runbook(atoms.toString(), c, discount);
          // 1 + e = (10^7 + c5 × (100 − d)) / 10^7; check |base − atoms/(1+e)| ≤ 1/2 by cross-multiplying.
          const N = 10_000_000n + BigInt(c5) * BigInt(100 - (discount ?? 0));
          const diff = BigInt(r.baseSats) * N - atoms * 10_000_000n; // base×N − atoms×D
          assert.ok(2n * (diff < 0n ? -diff : diff) <= N);
          if (2n * diff === -N) assert.fail('half-way rounded toward zero'); // exact half must round up
          assert.equal(BigInt(r.baseSats) + BigInt(r.commissionSats), atoms);
          assert.ok(r.commissionSats >= 0);
        },
      ),
      { numRuns: 3000 },
    );
  });

  test('effective commission is an exact decimal string', () => {
    assert.equal(runbook('1000', '0.05500', 10).effectiveCommission, '0.0495');
    assert.equal(runbook('1000', '0.03333', 33).effectiveCommission, '0.0223311');
    assert.equal(runbook('1000', null, 10).effectiveCommission, '0');
    assert.equal(runbook('1000', '0.05', null).effectiveCommission, '0.05');
    assert.equal(runbook('1000', '0.05', 100).effectiveCommission, '0');
    assert.deepEqual(runbook('0', '0.05', 0), { model: 'runbook', effectiveCommission: '0.05', baseSats: 0, commissionSats: 0, fixedFeeSats: 0, excessSats: 0 });
  });
});

describe('validation names the field', () => {
  const bad: [Partial<CommissionInput>, string][] = [
    [{ cryptoAtoms: '1.5' }, 'crypto_atoms'],
    [{ cryptoAtoms: '-1' }, 'crypto_atoms'],
    [{ cryptoAtoms: '2100000000000001' }, 'crypto_atoms'],
    [{ cryptoAtoms: 'abc' }, 'crypto_atoms'],
    [{ cryptoAtoms: 1.5 }, 'crypto_atoms'],
    [{ commissionPercentage: '1.00001' }, 'commission_percentage'],
    [{ commissionPercentage: '-0.15001' }, 'commission_percentage'],
    [{ commissionPercentage: '5e-2' }, 'commission_percentage'],
    [{ commissionPercentage: ' 0.05' }, 'commission_percentage'],
    [{ discount: 101 }, 'discount'],
    [{ discount: -1 }, 'discount'],
    [{ discount: '2.5' }, 'discount'],
    [{ discount: 'x' }, 'discount'],
  ];
  for (const [patch, field] of bad) {
    test(`${JSON.stringify(patch)} → ${field}`, () => {
      const input: CommissionInput = { cryptoAtoms: '1000', commissionPercentage: '0.05', discount: 0, ...patch };
      assert.throws(
        () => computeCommission(input),
        (e: unknown) => e instanceof CommissionInputError && e.field === field && e.name === 'CommissionInputError' && e.message.startsWith(field),
      );
    });
  }
  test('CommissionInputError is a non-retryable business error type', () => {
    assert.ok(BUSINESS_ERROR_TYPES.includes('CommissionInputError'));
  });
});

describe('decimal helpers', () => {
  test('round half away from zero, both signs', () => {
    assert.equal(roundHalfAwayFromZero(5n, 2n), 3n);
    assert.equal(roundHalfAwayFromZero(-5n, 2n), -3n);
    assert.equal(roundHalfAwayFromZero(7n, 3n), 2n);
    assert.equal(roundHalfAwayFromZero(-7n, 3n), -2n);
    assert.equal(roundHalfAwayFromZero(5n, -2n), -3n);
  });
  test('format and scale', () => {
    assert.equal(formatDecimal(parseDecimal('0004000.00000', 'x')), '4000');
    assert.equal(formatDecimal(parseDecimal('-0.05500', 'x')), '-0.055');
    assert.equal(toScaledInteger(parseDecimal('4000.00000', 'fiat'), 2, 'fiat'), 400000n);
    assert.equal(toScaledInteger(parseDecimal('12.5', 'fiat'), 2, 'fiat'), 1250n);
    assert.throws(() => toScaledInteger(parseDecimal('12.005', 'fiat'), 2, 'fiat'), /fiat: /);
  });
});
