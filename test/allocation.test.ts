import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { allocate, type Allocation, type AllocationInput } from '../domain/allocation';
import { AllocationInputError } from '../domain/errors';
import { MAX_SATS, type FiatMinor, type Sats, fiatMinor, sats } from '../domain/money';

const input = (S: number, F: number, clients: [string, number][]): AllocationInput => ({
  baseSats: sats(S),
  dispensedFiat: fiatMinor(F),
  clients: clients.map(([clientId, b]) => ({ clientId, balance: fiatMinor(b) })),
});

/** The invariants every allocation must satisfy, checked in bigint. */
function checkInvariants(inp: AllocationInput, a: Allocation): void {
  const S = BigInt(inp.baseSats);
  const F = BigInt(inp.dispensedFiat);
  const balances = new Map(inp.clients.map((c) => [c.clientId, BigInt(c.balance)]));
  const B = [...balances.values()].reduce((s, b) => s + b, 0n);
  const T = F < B ? F : B;
  const sumSats = a.lines.reduce((s, l) => s + BigInt(l.sats), 0n);
  const sumDebit = a.lines.reduce((s, l) => s + BigInt(l.fiatDebit), 0n);
  assert.equal(sumSats + BigInt(a.unallocatedSats), S, 'Σ sats + unallocated = S');
  assert.equal(sumSats, BigInt(a.allocatedSats));
  assert.equal(sumDebit, T, 'Σ debits = min(F, Σb)');
  assert.equal(BigInt(a.totalDebit), T);
  assert.ok(a.unallocatedSats >= 0);
  for (const l of a.lines) {
    const b = balances.get(l.clientId);
    assert.ok(b !== undefined, 'only known clients');
    assert.ok(l.fiatDebit > 0 && BigInt(l.fiatDebit) <= b, '0 < debit ≤ balance');
    assert.ok(l.sats >= 0);
    // Largest remainder never moves a share by a whole unit: |debit − T b / B| < 1, |sats − S d / F| < 1.
    assert.ok(abs(BigInt(l.fiatDebit) * B - T * b) < B);
    assert.ok(abs(BigInt(l.sats) * F - S * BigInt(l.fiatDebit)) < F);
  }
  const ids = a.lines.map((l) => l.clientId);
  assert.deepEqual(ids, [...ids].sort(), 'lines sorted by client id');
  assert.equal(new Set(ids).size, ids.length);
  if (T === F && F > 0n) assert.equal(a.unallocatedSats, 0, 'everything allocated when balances cover F');
}
const abs = (x: bigint) => (x < 0n ? -x : x);

// Balances and amounts mix small values (rounding-heavy) and large ones (bigint range).
const balanceArb = fc.oneof(fc.integer({ min: 0, max: 20 }), fc.integer({ min: 0, max: 1_000_000 }), fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER }));
const satsArb = fc.oneof(fc.integer({ min: 0, max: 50 }), fc.integer({ min: 0, max: 10_000_000 }), fc.integer({ min: 0, max: MAX_SATS }));
const fiatArb = fc.oneof(fc.integer({ min: 0, max: 50 }), fc.integer({ min: 0, max: 100_000_000 }), fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER }));
const clientsArb = fc.uniqueArray(fc.record({ clientId: fc.uuid(), balance: balanceArb }), { selector: (c) => c.clientId, maxLength: 12 });
const inputArb = fc.record({ S: satsArb, F: fiatArb, clients: clientsArb }).map(
  ({ S, F, clients }): AllocationInput => ({
    baseSats: S as Sats,
    dispensedFiat: F as FiatMinor,
    clients: clients.map((c) => ({ clientId: c.clientId, balance: c.balance as FiatMinor })),
  }),
);

describe('allocation properties (fast-check)', () => {
  test('conservation, caps and proportionality (6 000 cases)', () => {
    fc.assert(
      fc.property(inputArb, (inp) => checkInvariants(inp, allocate(inp))),
      { numRuns: 6000 },
    );
  });

  test('result is independent of input order (3 000 cases)', () => {
    const arb = inputArb.chain((inp) =>
      fc.shuffledSubarray([...inp.clients], { minLength: inp.clients.length, maxLength: inp.clients.length }).map((shuffled) => [inp, shuffled] as const),
    );
    fc.assert(
      fc.property(arb, ([inp, shuffled]) => {
        assert.deepEqual(allocate({ ...inp, clients: shuffled }), allocate(inp));
      }),
      { numRuns: 3000 },
    );
  });

  test('equal balances get equal shares up to one unit, extra units to the smallest ids (2 000 cases)', () => {
    fc.assert(
      fc.property(
        fc.uniqueArray(fc.uuid(), { minLength: 1, maxLength: 8 }),
        fc.integer({ min: 1, max: 1_000_000 }),
        satsArb,
        fiatArb,
        (ids, b, S, F) => {
          const a = allocate(input(S, F, ids.map((id) => [id, b])));
          const byId = [...a.lines].sort((x, y) => (x.clientId < y.clientId ? -1 : 1));
          for (let i = 1; i < byId.length; i++) {
            assert.ok(byId[i - 1]!.fiatDebit >= byId[i]!.fiatDebit);
            assert.ok(byId[i - 1]!.fiatDebit - byId[i]!.fiatDebit <= 1);
          }
        },
      ),
      { numRuns: 2000 },
    );
  });
});

describe('allocation edge cases', () => {
  test('no clients: every sat is unallocated', () => {
    const a = allocate(input(1000, 500, []));
    assert.deepEqual(a, { baseSats: 1000, dispensedFiat: 500, totalDebit: 0, allocatedSats: 0, unallocatedSats: 1000, lines: [] });
  });

  test('only zero balances: same as no clients', () => {
    const a = allocate(input(1000, 500, [['a', 0], ['b', 0]]));
    assert.equal(a.unallocatedSats, 1000);
    assert.deepEqual(a.lines, []);
  });

  test('F = 0: nothing is debited, every sat unallocated', () => {
    const a = allocate(input(1000, 0, [['a', 100]]));
    assert.equal(a.totalDebit, 0);
    assert.equal(a.unallocatedSats, 1000);
    assert.deepEqual(a.lines, []);
  });

  test('S = 0: debits still follow the dispensed fiat, all lines carry 0 sats', () => {
    const a = allocate(input(0, 300, [['a', 100], ['b', 200]]));
    assert.deepEqual(a.lines, [
      { clientId: 'a', fiatDebit: 100, sats: 0 },
      { clientId: 'b', fiatDebit: 200, sats: 0 },
    ]);
    assert.equal(a.unallocatedSats, 0);
  });

  test('one client covering F gets everything', () => {
    const a = allocate(input(485687, 400000, [['a', 1_000_000]]));
    assert.deepEqual(a.lines, [{ clientId: 'a', fiatDebit: 400000, sats: 485687 }]);
    assert.equal(a.unallocatedSats, 0);
  });

  test('one client short of F: debit capped at the balance, the rest of S is the operator\'s', () => {
    // 485687 × 100000 / 400000 = 121421.75 → 121422 allocated, 364265 unallocated.
    const a = allocate(input(485687, 400000, [['a', 100000]]));
    assert.deepEqual(a.lines, [{ clientId: 'a', fiatDebit: 100000, sats: 121422 }]);
    assert.equal(a.unallocatedSats, 364265);
  });

  test('proportional split with largest remainder and id tie-break', () => {
    // three equal balances, 100 fiat → 34/33/33 (tie → smallest id), 1000 sats → 340/330/330
    const a = allocate(input(1000, 100, [['c', 500], ['a', 500], ['b', 500]]));
    assert.deepEqual(a.lines, [
      { clientId: 'a', fiatDebit: 34, sats: 340 },
      { clientId: 'b', fiatDebit: 33, sats: 330 },
      { clientId: 'c', fiatDebit: 33, sats: 330 },
    ]);
    // 2 sats over 3 equal debits: remainders tie, ids a and b take them.
    const b = allocate(input(2, 3, [['c', 1], ['b', 1], ['a', 1]]));
    assert.deepEqual(b.lines.map((l) => l.sats), [1, 1, 0]);
  });

  test('a debit worth less than a sat gets 0 sats; the sat goes to a larger remainder', () => {
    const a = allocate(input(1, 100, [['a', 99], ['b', 1]]));
    assert.deepEqual(a.lines, [
      { clientId: 'a', fiatDebit: 99, sats: 1 },
      { clientId: 'b', fiatDebit: 1, sats: 0 },
    ]);
  });

  test('huge values near 2.1e15 sats and 2^53 fiat stay exact', () => {
    const S = MAX_SATS - 1;
    const F = Number.MAX_SAFE_INTEGER;
    const inp = input(S, F, [['a', Number.MAX_SAFE_INTEGER - 2], ['b', 1], ['c', 1]]);
    const a = allocate(inp);
    checkInvariants(inp, a);
    assert.equal(a.allocatedSats, S);
    assert.equal(a.lines[0]!.fiatDebit, Number.MAX_SAFE_INTEGER - 2);
  });

  test('invalid input names the field', () => {
    assert.throws(() => allocate(input(1, 1, [['a', 1], ['a', 2]])), (e: unknown) => e instanceof AllocationInputError && e.field === 'clients[1].clientId');
    assert.throws(() => allocate({ ...input(1, 1, []), clients: [{ clientId: 'a', balance: -1 as FiatMinor }] }), (e: unknown) => e instanceof AllocationInputError && e.field === 'clients[0].balance');
    assert.throws(() => allocate({ ...input(1, 1, []), dispensedFiat: -1 as FiatMinor }), (e: unknown) => e instanceof AllocationInputError && e.field === 'dispensedFiat');
    assert.throws(() => allocate({ ...input(1, 1, []), baseSats: (MAX_SATS + 1) as Sats }), /baseSats/);
    assert.throws(() => allocate({ ...input(1, 1, []), baseSats: 1.5 as Sats }), /baseSats/);
  });
});
