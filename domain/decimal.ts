/**
 * Exact decimals from strings (PostgreSQL numeric arrives from `pg` as a string). A value is
 * coefficient / 10^scale with a bigint coefficient, so no digit is ever lost to binary floating point.
 */
import { DecimalError } from './errors';

export interface Decimal {
  /** Signed integer coefficient: value = coefficient / 10^scale. */
  readonly coefficient: bigint;
  /** Digits after the decimal point, ≥ 0. */
  readonly scale: number;
}

/** A non-normalised exact fraction, den > 0. */
export interface Rational {
  readonly num: bigint;
  readonly den: bigint;
}

const DECIMAL_RE = /^([+-]?)(\d+)(?:\.(\d+))?$/;
/** numeric(30) and numeric(14,5) fit easily; the cap keeps hostile input from costing bigint time. */
const MAX_DIGITS = 60;

export function pow10(n: number): bigint {
  return 10n ** BigInt(n);
}

/** Parse "4000.00000", "-0.055", "512400" exactly. No exponents, no ".5", no whitespace. */
export function parseDecimal(text: string | number | bigint, field: string): Decimal {
  if (typeof text === 'bigint') return { coefficient: text, scale: 0 };
  // A number is only accepted when it is a safe integer (pg returns int2/int4 as numbers).
  if (typeof text === 'number') {
    if (!Number.isSafeInteger(text)) throw new DecimalError(field, `expected a decimal string, got the number ${text}`);
    return { coefficient: BigInt(text), scale: 0 };
  }
  if (typeof text !== 'string') throw new DecimalError(field, 'expected a decimal string');
  const m = DECIMAL_RE.exec(text);
  if (!m || text.length > MAX_DIGITS + 2) throw new DecimalError(field, `not a plain decimal: ${JSON.stringify(text.slice(0, 40))}`);
  const [, sign, int, frac = ''] = m;
  const coefficient = BigInt(`${int}${frac}`);
  return { coefficient: sign === '-' ? -coefficient : coefficient, scale: frac.length };
}

export function toRational(d: Decimal): Rational {
  return { num: d.coefficient, den: pow10(d.scale) };
}

/** Compare two decimals exactly: -1, 0, 1. */
export function compareDecimal(a: Decimal, b: Decimal): -1 | 0 | 1 {
  const s = Math.max(a.scale, b.scale);
  const x = a.coefficient * pow10(s - a.scale);
  const y = b.coefficient * pow10(s - b.scale);
  return x < y ? -1 : x > y ? 1 : 0;
}

/** num/den rounded to an integer, half away from zero (PostgreSQL ROUND on numeric). */
export function roundHalfAwayFromZero(num: bigint, den: bigint): bigint {
  if (den === 0n) throw new RangeError('division by zero');
  if (den < 0n) {
    num = -num;
    den = -den;
  }
  const negative = num < 0n;
  const abs = negative ? -num : num;
  // floor(|num|/den + 1/2) computed in integers: (2|num| + den) / (2 den).
  const q = (2n * abs + den) / (2n * den);
  return negative ? -q : q;
}

/** The decimal as an integer number of 10^-decimals units, or an error if that would lose digits. */
export function toScaledInteger(d: Decimal, decimals: number, field: string): bigint {
  if (d.scale <= decimals) return d.coefficient * pow10(decimals - d.scale);
  const div = pow10(d.scale - decimals);
  if (d.coefficient % div !== 0n) {
    throw new DecimalError(field, `${formatDecimal(d)} has more than ${decimals} decimal places`);
  }
  return d.coefficient / div;
}

/** Canonical text: no trailing fractional zeros, no leading zeros, "0" for zero. */
export function formatDecimal(d: Decimal): string {
  let { coefficient, scale } = d;
  while (scale > 0 && coefficient % 10n === 0n) {
    coefficient /= 10n;
    scale -= 1;
  }
  const negative = coefficient < 0n;
  const digits = (negative ? -coefficient : coefficient).toString().padStart(scale + 1, '0');
  const text = scale === 0 ? digits : `${digits.slice(0, -scale)}.${digits.slice(-scale)}`;
  return negative ? `-${text}` : text;
}
