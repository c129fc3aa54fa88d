/**
 * Branded integer money types. Amounts are plain numbers at runtime (JSON- and Temporal-friendly),
 * but only the constructors below produce them, so an unchecked number cannot be passed where money is
 * expected. Sats ≤ 2.1e15 < 2^53, so safe integers are exact; millisats can exceed 2^53 and are bigint.
 */
import { AmountError } from './errors';

declare const brand: unique symbol;
type Brand<T, B extends string> = T & { readonly [brand]: B };

/** Whole satoshis, 0 … MAX_SATS. */
export type Sats = Brand<number, 'Sats'>;
/** Millisatoshis (LNbits wallet balances), ≥ 0. */
export type Msat = Brand<bigint, 'Msat'>;
/** Fiat in minor units (centavos), a safe integer; signed (adjustments), balances are ≥ 0 by DB CHECK. */
export type FiatMinor = Brand<number, 'FiatMinor'>;

/** 21 million BTC in sats: no valid amount exceeds it. */
export const MAX_SATS = 2_100_000_000_000_000;
const MAX_SATS_BIG = BigInt(MAX_SATS);
const MAX_SAFE_BIG = BigInt(Number.MAX_SAFE_INTEGER);

type IntegerLike = number | bigint | string;

/** Exact integer from a number, bigint or integer string (as `pg` returns int8/numeric(30)). */
function toBigIntExact(value: IntegerLike, field: string): bigint {
  if (typeof value === 'bigint') return value;
  if (typeof value === 'number') {
    if (!Number.isSafeInteger(value)) throw new AmountError(field, `expected a safe integer, got ${String(value)}`);
    return BigInt(value);
  }
  if (typeof value === 'string' && /^-?\d{1,30}$/.test(value)) return BigInt(value);
  throw new AmountError(field, `expected an integer, got ${JSON.stringify(String(value)).slice(0, 40)}`);
}

export function sats(value: IntegerLike, field = 'sats'): Sats {
  const v = toBigIntExact(value, field);
  if (v < 0n || v > MAX_SATS_BIG) throw new AmountError(field, `sats out of range 0…${MAX_SATS}: ${v}`);
  return Number(v) as Sats;
}

export function msat(value: IntegerLike, field = 'msat'): Msat {
  const v = toBigIntExact(value, field);
  if (v < 0n) throw new AmountError(field, `msat must be ≥ 0: ${v}`);
  return v as Msat;
}

/** Signed fiat minor units (safe integer). Use `nonNegativeFiat` for balances and debits. */
export function fiatMinor(value: IntegerLike, field = 'fiat_minor'): FiatMinor {
  const v = toBigIntExact(value, field);
  if (v > MAX_SAFE_BIG || v < -MAX_SAFE_BIG) throw new AmountError(field, `fiat minor units beyond safe integer range: ${v}`);
  return Number(v) as FiatMinor;
}

export function nonNegativeFiat(value: IntegerLike, field = 'fiat_minor'): FiatMinor {
  const f = fiatMinor(value, field);
  if (f < 0) throw new AmountError(field, `must be ≥ 0: ${f}`);
  return f;
}

export function satsToMsat(s: Sats): Msat {
  return (BigInt(s) * 1000n) as Msat;
}

/** Whole sats in a millisat amount, rounded down (LNbits pays whole sats; sub-sat dust stays in the wallet). */
export function msatToSatsFloor(m: Msat, field = 'msat'): Sats {
  return sats(m / 1000n, field);
}
