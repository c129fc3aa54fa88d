/**
 * Split a cash-out between the eligible clients.
 *
 * Each client's fiat debit is proportional to its balance b_i; the total debit is min(F, Σb) so no client
 * pays more than it holds and the clients never pay more than the cash that was dispensed. Sats follow the
 * debits: client i's share is S × debit_i / F, so when Σb < F the part of S bought with fiat the clients did
 * not have stays with the operator as `unallocatedSats` (recorded, never lost).
 *
 * Rounding is largest remainder twice (debits, then sats): Σ debits and Σ sats are exact integers, ties
 * broken by client id (plain code-unit order, locale independent). Everything is bigint inside; the result
 * does not depend on the order of `clients`.
 */
import { AllocationInputError } from './errors';
import { roundHalfAwayFromZero } from './decimal';
import { type FiatMinor, type Sats, fiatMinor, sats } from './money';

export interface ClientBalance {
  clientId: string;
  /** Balance as of the cash-out's time, fiat minor units, ≥ 0. */
  balance: FiatMinor;
}

export interface AllocationInput {
  /** Commission-free sats of the cash-out. */
  baseSats: Sats;
  /** Fiat the machine dispensed, minor units. */
  dispensedFiat: FiatMinor;
  clients: readonly ClientBalance[];
}

export interface AllocationLine {
  clientId: string;
  fiatDebit: FiatMinor;
  /** May be 0 when the debit is worth less than one sat after rounding. */
  sats: Sats;
}

export interface Allocation {
  baseSats: Sats;
  dispensedFiat: FiatMinor;
  /** min(F, Σ b_i). */
  totalDebit: FiatMinor;
  /** Σ lines.sats. */
  allocatedSats: Sats;
  /** baseSats − allocatedSats: the operator's part. */
  unallocatedSats: Sats;
  /** One line per client with a positive debit, sorted by clientId. */
  lines: AllocationLine[];
}

interface Share {
  clientId: string;
  floor: bigint;
  /** Numerator of the fractional part; all shares of one split have the same denominator. */
  remainder: bigint;
}

const byId = (a: { clientId: string }, b: { clientId: string }): number => (a.clientId < b.clientId ? -1 : a.clientId > b.clientId ? 1 : 0);

/**
 * Distribute `total` over weights w_i in proportion w_i / den, where Σ w_i / den ≥ total − (count of
 * non-zero remainders) holds by construction: floors first, then one unit each to the largest remainders.
 */
function largestRemainder(weights: { clientId: string; weight: bigint }[], multiplier: bigint, den: bigint, total: bigint): Map<string, bigint> {
  const shares: Share[] = weights.map(({ clientId, weight }) => {
    const scaled = multiplier * weight;
    return { clientId, floor: scaled / den, remainder: scaled % den };
  });
  let left = total - shares.reduce((s, x) => s + x.floor, 0n);
  // Largest remainder first; equal remainders → smaller client id first. `shares` is already id-sorted.
  const order = [...shares].sort((a, b) => (a.remainder === b.remainder ? byId(a, b) : a.remainder > b.remainder ? -1 : 1));
  const out = new Map<string, bigint>(shares.map((s) => [s.clientId, s.floor]));
  for (const s of order) {
    if (left <= 0n) break;
    if (s.remainder === 0n) break; // never round up an exact share
    out.set(s.clientId, s.floor + 1n);
    left -= 1n;
  }
  if (left !== 0n) throw new Error(`largest remainder left ${left} units undistributed`); // cannot happen: a bug
  return out;
}

export function allocate(input: AllocationInput): Allocation {
  const S = BigInt(sats(input.baseSats, 'baseSats'));
  const F = BigInt(fiatMinor(input.dispensedFiat, 'dispensedFiat'));
  if (F < 0n) throw new AllocationInputError('dispensedFiat', 'must be ≥ 0');

  const seen = new Set<string>();
  // Validate in input order (so the field names the caller's index), then work in id order.
  const clients = input.clients
    .map((c, i) => {
      if (typeof c.clientId !== 'string' || c.clientId.length === 0) throw new AllocationInputError(`clients[${i}].clientId`, 'required');
      if (seen.has(c.clientId)) throw new AllocationInputError(`clients[${i}].clientId`, `duplicate client ${c.clientId}`);
      seen.add(c.clientId);
      const b = BigInt(fiatMinor(c.balance, `clients[${i}].balance`));
      if (b < 0n) throw new AllocationInputError(`clients[${i}].balance`, `must be ≥ 0 (client ${c.clientId})`);
      return { clientId: c.clientId, weight: b };
    })
    .sort(byId);

  const B = clients.reduce((s, c) => s + c.weight, 0n);
  const T = F < B ? F : B;
  const empty = (): Allocation => ({
    baseSats: sats(S),
    dispensedFiat: fiatMinor(F),
    totalDebit: fiatMinor(0),
    allocatedSats: sats(0),
    unallocatedSats: sats(S),
    lines: [],
  });
  // No fiat dispensed or no client money: nothing is bought, every sat is the operator's.
  if (T === 0n) return empty();

  // debit_i = T × b_i / B, largest remainder; each ≤ b_i because T ≤ B and b_i is an integer.
  const debits = largestRemainder(clients, T, B, T);
  // Client sats in total: S × T / F rounded half away from zero (= S exactly when T = F).
  const allocated = roundHalfAwayFromZero(S * T, F);
  const withDebit = clients.filter((c) => (debits.get(c.clientId) ?? 0n) > 0n).map((c) => ({ clientId: c.clientId, weight: debits.get(c.clientId)! }));
  // sats_i = S × debit_i / F, largest remainder to reach `allocated`.
  const satsById = largestRemainder(withDebit, S, F, allocated);

  const lines = withDebit.map((c) => ({
    clientId: c.clientId,
    fiatDebit: fiatMinor(c.weight),
    sats: sats(satsById.get(c.clientId)!),
  }));
  return {
    baseSats: sats(S),
    dispensedFiat: fiatMinor(F),
    totalDebit: fiatMinor(T),
    allocatedSats: sats(allocated),
    unallocatedSats: sats(S - allocated),
    lines,
  };
}
