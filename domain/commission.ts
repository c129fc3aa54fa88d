/**
 * Operator commission on a Lamassu cash-out, computed exactly with bigint rationals.
 *
 * - effective = commission_percentage × (100 − discount) / 100 (a null counts as 0).
 * - 'runbook' (default, the operator's documented formula): base = ROUND(crypto_atoms / (1 + effective)),
 *   half away from zero like PostgreSQL ROUND on numeric; commission = crypto_atoms − base.
 * - 'lamassu-ticker' (how the machine actually priced the sale): base = ROUND(fiat × 10^8 / raw_ticker_price);
 *   only when the row carries raw_ticker_price, otherwise the runbook formula is used and recorded.
 * - Lamassu's machine rounds crypto_atoms to 100-sat steps, so the commission-free amount can exceed
 *   crypto_atoms by a few sats (0 % commission, 100 % discount); a negative commission (Lamassu allows
 *   −15 %) makes it exceed crypto_atoms by design. The base is then capped at crypto_atoms (commission 0)
 *   and the excess is reported in `excessSats` (what the commission wallet would owe the clients): never a
 *   negative commission, never a throw. The plausibility checks hold such a cash-out for the operator.
 * - fixed_fee (newer Lamassu servers; whole fiat units) is folded into crypto_atoms by the machine: its share
 *   ROUND(crypto_atoms × fee / (fiat + fee)) is taken out first, as operator revenue (part of commissionSats).
 * The model actually used is part of the result and is stored with the transaction.
 */
import { CommissionInputError, DecimalError } from './errors';
import { type Decimal, compareDecimal, formatDecimal, parseDecimal, pow10, roundHalfAwayFromZero } from './decimal';
import { MAX_SATS, type Sats, sats } from './money';

export const COMMISSION_MODELS = ['runbook', 'lamassu-ticker'] as const;
export type CommissionModel = (typeof COMMISSION_MODELS)[number];

/** Raw values as read from Lamassu (`pg` strings for numeric columns; smallint may be a number). */
export interface CommissionInput {
  cryptoAtoms: string | number | bigint;
  commissionPercentage: string | null | undefined;
  discount: string | number | null | undefined;
  /** Whole fiat units, numeric(14,5) text; only used by 'lamassu-ticker'. */
  fiat?: string | null;
  /** Fiat per whole coin, numeric(14,5) text; only used by 'lamassu-ticker'. */
  rawTickerPrice?: string | null;
  /** Whole fiat units, numeric(14,5) text (newer servers); null/absent = no fee. */
  fixedFee?: string | null;
}

export interface CommissionResult {
  /** The model actually applied ('lamassu-ticker' falls back to 'runbook' without a ticker price). */
  model: CommissionModel;
  /** Exact decimal text of the effective commission fraction, e.g. "0.0495". */
  effectiveCommission: string;
  baseSats: Sats;
  /** Commission plus the fixed fee's sats. */
  commissionSats: Sats;
  /** The fixed fee's share of crypto_atoms (included in commissionSats). */
  fixedFeeSats: Sats;
  /** Commission-free sats above what was left after the fee: capped away (see above); > 0 only then. */
  excessSats: Sats;
}

const SATS_PER_COIN = 100_000_000n;
const ZERO: Decimal = { coefficient: 0n, scale: 0 };
const ONE: Decimal = { coefficient: 1n, scale: 0 };
/** Lamassu's admin allows commissions down to −15 %. */
const MIN_COMMISSION: Decimal = { coefficient: -15n, scale: 2 };

/** Parse as decimal, re-labelling parse failures as CommissionInputError naming the Lamassu column. */
function decimalField(value: string | number | bigint, field: string): Decimal {
  try {
    return parseDecimal(value, field);
  } catch (err) {
    if (err instanceof DecimalError) throw new CommissionInputError(field, err.message.replace(`${field}: `, ''));
    throw err;
  }
}

export function parseCryptoAtoms(value: string | number | bigint): bigint {
  const d = decimalField(value, 'crypto_atoms');
  if (d.scale !== 0 && d.coefficient % pow10(d.scale) !== 0n) throw new CommissionInputError('crypto_atoms', 'must be a whole number of atoms');
  const atoms = d.coefficient / pow10(d.scale);
  if (atoms < 0n || atoms > BigInt(MAX_SATS)) throw new CommissionInputError('crypto_atoms', `out of range 0…${MAX_SATS}`);
  return atoms;
}

export function parseCommissionPercentage(value: string | null | undefined): Decimal {
  if (value === null || value === undefined) return ZERO;
  const c = decimalField(value, 'commission_percentage');
  if (compareDecimal(c, MIN_COMMISSION) < 0 || compareDecimal(c, ONE) > 0) {
    throw new CommissionInputError('commission_percentage', `must be a fraction −0.15 ≤ c ≤ 1, got ${formatDecimal(c)}`);
  }
  return c;
}

export function parseDiscount(value: string | number | null | undefined): bigint {
  if (value === null || value === undefined) return 0n;
  const d = decimalField(value, 'discount');
  if (d.scale !== 0 && d.coefficient % pow10(d.scale) !== 0n) throw new CommissionInputError('discount', 'must be a whole percent');
  const percent = d.coefficient / pow10(d.scale);
  if (percent < 0n || percent > 100n) throw new CommissionInputError('discount', `must be 0…100, got ${percent}`);
  return percent;
}

/** effective = c × (100 − d) / 100, exact (scale grows by 2). */
export function effectiveCommission(c: Decimal, discountPercent: bigint): Decimal {
  return { coefficient: c.coefficient * (100n - discountPercent), scale: c.scale + 2 };
}

/** ROUND(atoms / (1 + e)) with e = E / 10^s, i.e. ROUND(atoms × 10^s / (10^s + E)). */
export function runbookBase(atoms: bigint, effective: Decimal): bigint {
  const one = pow10(effective.scale);
  return roundHalfAwayFromZero(atoms * one, one + effective.coefficient);
}

/** ROUND(fiat × 10^8 / ticker), fiat and ticker as exact decimals. */
export function tickerBase(fiat: Decimal, ticker: Decimal): bigint {
  // (f / 10^fs) × 10^8 / (t / 10^ts) = f × 10^8 × 10^ts / (t × 10^fs)
  return roundHalfAwayFromZero(fiat.coefficient * SATS_PER_COIN * pow10(ticker.scale), ticker.coefficient * pow10(fiat.scale));
}

/** The fixed fee's share of crypto_atoms: ROUND(atoms × fee / (fiat + fee)), exact. */
export function fixedFeeSats(atoms: bigint, fiat: Decimal, fee: Decimal): bigint {
  if (fee.coefficient <= 0n) return 0n;
  const scale = Math.max(fiat.scale, fee.scale);
  const f = fiat.coefficient * pow10(scale - fiat.scale);
  const e = fee.coefficient * pow10(scale - fee.scale);
  return roundHalfAwayFromZero(atoms * e, f + e);
}

export function computeCommission(input: CommissionInput, model: CommissionModel = 'runbook'): CommissionResult {
  if (!COMMISSION_MODELS.includes(model)) throw new CommissionInputError('commission_model', `unknown model ${String(model)}`);
  const atoms = parseCryptoAtoms(input.cryptoAtoms);
  const effective = effectiveCommission(parseCommissionPercentage(input.commissionPercentage), parseDiscount(input.discount));

  let feeSats = 0n;
  if (input.fixedFee !== null && input.fixedFee !== undefined) {
    const fee = decimalField(input.fixedFee, 'fixed_fee');
    if (fee.coefficient < 0n) throw new CommissionInputError('fixed_fee', 'must be ≥ 0');
    if (fee.coefficient > 0n) {
      if (input.fiat === null || input.fiat === undefined) throw new CommissionInputError('fiat', 'required with a fixed_fee');
      feeSats = fixedFeeSats(atoms, decimalField(input.fiat, 'fiat'), fee);
    }
  }
  const net = atoms - feeSats;

  let used: CommissionModel = 'runbook';
  let base: bigint;
  const hasTicker = input.rawTickerPrice !== null && input.rawTickerPrice !== undefined;
  if (model === 'lamassu-ticker' && hasTicker) {
    used = 'lamassu-ticker';
    const ticker = decimalField(input.rawTickerPrice as string, 'raw_ticker_price');
    if (ticker.coefficient <= 0n) throw new CommissionInputError('raw_ticker_price', 'must be > 0');
    if (input.fiat === null || input.fiat === undefined) throw new CommissionInputError('fiat', 'required by the lamassu-ticker model');
    const fiat = decimalField(input.fiat, 'fiat');
    if (fiat.coefficient < 0n) throw new CommissionInputError('fiat', 'must be ≥ 0');
    base = tickerBase(fiat, ticker);
  } else {
    base = runbookBase(net, effective);
  }
  // Never a negative commission: the excess (machine rounding, a negative commission) is reported instead.
  const excess = base > net ? base - net : 0n;
  if (excess > 0n) base = net;
  return {
    model: used,
    effectiveCommission: formatDecimal(effective),
    baseSats: sats(base, 'base_sats'),
    commissionSats: sats(atoms - base, 'commission_sats'),
    fixedFeeSats: sats(feeSats, 'fixed_fee_sats'),
    excessSats: sats(excess, 'excess_sats'),
  };
}
