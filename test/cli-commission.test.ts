/**
 * `npx satmachine commission` — the runbook's manual spot check — as the operator runs it (the real binary):
 * exact for half-way values and for values where float division lands on the wrong side of .5; bad input
 * exits 2 with a message naming the field.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { runBinary } from './support/cli';

const env = { PATH: process.env.PATH ?? '', SATMACHINE_CONFIG: '/dev/null/none' };

test('satmachine commission --json: the runbook formula, exact', async () => {
  const cases: Array<[string[], { baseSats: number; commissionSats: number; effectiveCommission: string }]> = [
    // 266 800 / 1.03 = 259 029.126… (the runbook's table says 258 835: arithmetic slip; the formula wins)
    [['--atoms', '266800', '--commission', '0.03'], { baseSats: 259_029, commissionSats: 7_771, effectiveCommission: '0.03' }],
    // the domain doc's real row: 5.5 % with no discount
    [['--atoms', '512400', '--commission', '0.05500'], { baseSats: 485_687, commissionSats: 26_713, effectiveCommission: '0.055' }],
    // discount 10 %: effective 0.0495
    [['--atoms', '512400', '--commission', '0.055', '--discount', '10'], { baseSats: 488_232, commissionSats: 24_168, effectiveCommission: '0.0495' }],
    // exact half-way: 3 / 1.2 = 2.5 → 3 (half away from zero, PostgreSQL ROUND on numeric)
    [['--atoms', '3', '--commission', '0.2'], { baseSats: 3, commissionSats: 0, effectiveCommission: '0.2' }],
    // the largest valid amount: 2.1e15 / 1.05 = 2e15 exactly
    [['--atoms', '2100000000000000', '--commission', '0.05'], { baseSats: 2_000_000_000_000_000, commissionSats: 100_000_000_000_000, effectiveCommission: '0.05' }],
  ];
  for (const [args, expected] of cases) {
    const r = await runBinary(['commission', ...args, '--json'], env);
    assert.equal(r.code, 0, r.stderr);
    const out = r.json<{ baseSats: number; commissionSats: number; effectiveCommission: string; cryptoAtoms: number }>();
    assert.deepEqual({ baseSats: out.baseSats, commissionSats: out.commissionSats, effectiveCommission: out.effectiveCommission }, expected, args.join(' '));
    assert.equal(out.baseSats + out.commissionSats, Number(args[1]));
  }
});

test('values where float division lands on the wrong side of .5 come out exact', async () => {
  // Found by search (test/commission.test.ts): Math.round(atoms / (1 + e)) is off by one for these.
  const cases: Array<[string, string, string, number]> = [
    ['606805117686859', '0.03', '0', 589_131_182_220_251],
    ['1953913487051125', '0.05', '10', 1_869_773_671_819_258],
  ];
  for (const [atoms, c, d, exact] of cases) {
    assert.notEqual(Math.round(Number(atoms) / (1 + (Number(c) * (100 - Number(d))) / 100)), exact, 'float is wrong here');
    const r = await runBinary(['commission', '--atoms', atoms, '--commission', c, '--discount', d, '--json'], env);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.json<{ baseSats: number }>().baseSats, exact);
  }
});

test('bad input: exit 2 and a message naming the field; nothing on stdout', async () => {
  const bad: Array<[string[], RegExp]> = [
    [['--atoms', '12x', '--commission', '0.03'], /--atoms/],
    [['--atoms', '1000', '--commission', '1.5'], /commission_percentage/],
    // Lamassu allows commissions down to −15 %: −20 % is out of range.
    [['--atoms', '1000', '--commission', '-0.2'], /commission/],
    [['--atoms', '1000', '--commission', '0.03', '--discount', '101'], /discount/],
    [['--atoms', '1000'], /--commission/],
  ];
  for (const [args, field] of bad) {
    const r = await runBinary(['commission', ...args], env);
    assert.equal(r.code, 2, `${args.join(' ')}: ${r.stderr}`);
    assert.match(r.stderr, field);
    assert.equal(r.stdout, '');
  }
});
