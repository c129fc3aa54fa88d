/**
 * Amounts and times of the old satmachineadmin extension, converted exactly. It stored fiat as INTEGER or
 * REAL (whole fiat units in the versions we know; `minor` for installations that typed centavos) and times
 * as epoch seconds (SQLite) or `timestamp` without zone (PostgreSQL). Readers hand us every value as the
 * text that identifies it exactly (integers as digits, binary floats as their shortest round-trip text), and
 * this file turns it into minor units without ever going through a float.
 */
import { type Decimal, formatDecimal, parseDecimal, pow10 } from './decimal';
import { DecimalError } from './errors';

export type LegacyAmountUnit = 'major' | 'minor';

/** An amount in minor units as an exact decimal (a float's value may have digits beyond the cent). */
export interface MinorAmount {
  /** value = coefficient / 10^scale minor units. */
  exact: Decimal;
  /** Whole minor units, truncated toward zero. */
  whole: bigint;
  /** True when the stored value is a whole number of minor units (exact to the cent). */
  isWhole: boolean;
}

/** "150.75" (major, 2 decimals) → 15075 minor units; "150.755" → 15075.5, not whole. */
export function toMinorAmount(text: string, unit: LegacyAmountUnit, fiatDecimals: number, field: string): MinorAmount {
  const d = parseDecimal(text.trim(), field);
  const shift = unit === 'major' ? fiatDecimals : 0;
  // Multiplying by 10^shift only moves the decimal point: reduce the scale, or grow the coefficient.
  const exact: Decimal = d.scale >= shift ? { coefficient: d.coefficient, scale: d.scale - shift } : { coefficient: d.coefficient * pow10(shift - d.scale), scale: 0 };
  const div = pow10(exact.scale);
  return { exact, whole: exact.coefficient / div, isWhole: exact.coefficient % div === 0n };
}

export function addDecimal(a: Decimal, b: Decimal): Decimal {
  const s = Math.max(a.scale, b.scale);
  return { coefficient: a.coefficient * pow10(s - a.scale) + b.coefficient * pow10(s - b.scale), scale: s };
}

export const negateDecimal = (a: Decimal): Decimal => ({ coefficient: -a.coefficient, scale: a.scale });
export const ZERO: Decimal = { coefficient: 0n, scale: 0 };

/** The largest integer ≤ d (a positive balance with sub-cent digits is never rounded up). */
export function floorDecimal(d: Decimal): bigint {
  const div = pow10(d.scale);
  const q = d.coefficient / div;
  return d.coefficient < 0n && d.coefficient % div !== 0n ? q - 1n : q;
}

export const isWholeDecimal = (d: Decimal): boolean => d.coefficient % pow10(d.scale) === 0n;
export const showDecimal = formatDecimal;

/** Sats columns must hold whole numbers: "1200" or "1200.0" → 1200n. */
export function toWholeSats(text: string, field: string): bigint {
  const d = parseDecimal(text.trim(), field);
  const div = pow10(d.scale);
  if (d.coefficient % div !== 0n) throw new DecimalError(field, `${text} is not a whole number of sats`);
  return d.coefficient / div;
}

const ISO_FULL = /^(\d{4})-(\d\d)-(\d\d)[T ](\d\d):(\d\d):(\d\d)(?:\.(\d{1,9}))?(Z|[+-]\d\d(?::?\d\d)?)?$/;

/**
 * A stored time → `YYYY-MM-DDTHH:MM:SS.ffffffZ` (fixed width, so strings compare in time order).
 * Epoch seconds (SQLite: integer, or real / numeric text) and ISO texts; a text without a zone is UTC
 * (LNbits writes UTC: `timestamp` columns hold the UTC wall time). Sub-microsecond digits are truncated.
 */
export function toUtcIso(text: string, field: string): string {
  const t = text.trim();
  if (/^\d+(\.\d+)?$/.test(t)) {
    const [secText, fracText = ''] = t.split('.');
    const ms = Number(secText) * 1000;
    if (!Number.isSafeInteger(ms)) throw new DecimalError(field, `epoch seconds out of range: ${t}`);
    return `${new Date(ms).toISOString().slice(0, 19)}.${fracText.padEnd(6, '0').slice(0, 6)}Z`;
  }
  const m = ISO_FULL.exec(t);
  if (!m) throw new DecimalError(field, `not a time: ${JSON.stringify(t.slice(0, 40))}`);
  const [, y, mo, d, h, mi, s, frac = '', zone = 'Z'] = m;
  const whole = Date.parse(`${y}-${mo}-${d}T${h}:${mi}:${s}${zone === 'Z' ? 'Z' : zone.length === 3 ? `${zone}:00` : zone.replace(/^([+-]\d\d)(\d\d)$/, '$1:$2')}`);
  if (Number.isNaN(whole)) throw new DecimalError(field, `not a time: ${JSON.stringify(t.slice(0, 40))}`);
  return `${new Date(whole).toISOString().slice(0, 19)}.${frac.padEnd(6, '0').slice(0, 6)}Z`;
}
