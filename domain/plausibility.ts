/**
 * Plausibility of a cash-out before money moves (pure, exact: bigint rationals, never floats). Each finding
 * is a reason to HOLD the cash-out for the operator (workflows/cashout-hold.ts):
 * - the price: crypto_atoms within ±priceBandPercent of what raw_ticker_price less the commission buys for
 *   the fiat (+ fixed fee) — how the machine prices a sale; without a ticker, the implied price
 *   (fiat ÷ crypto_atoms) within the band of the recent cash-outs' median price;
 * - received_crypto_atoms, when present, covers crypto_atoms;
 * - confirmed_at not in the future (beyond the allowed clock skew);
 * - per-cash-out and rolling 24 h caps, in sats and in fiat;
 * - a negative commission, or a commission-free amount above crypto_atoms by more than Lamassu's 100-sat
 *   rounding: the commission wallet would owe the clients.
 */
import { type Decimal, compareDecimal, formatDecimal, parseDecimal, pow10 } from './decimal';

const SATS_PER_COIN = 100_000_000n;
/** Lamassu rounds crypto_atoms to 100-sat steps: a commission-free excess up to this is rounding. */
export const MACHINE_ROUNDING_SATS = 100n;

export interface PlausibilityLimits {
  priceBandPercent: number;
  maxCashOutSats: number;
  /** Whole fiat units. */
  maxCashOutFiat: string;
  maxDailySats: number;
  maxDailyFiat: string;
  clockSkewSeconds: number;
}

export interface PlausibilityInput {
  cryptoAtoms: string;
  receivedCryptoAtoms: string | null;
  /** Whole fiat units. */
  fiat: string;
  fiatCode: string;
  fixedFee: string | null;
  rawTickerPrice: string | null;
  /** Effective commission fraction (discount applied), exact text; may be negative. */
  effectiveCommission: string;
  /** Commission-free sats above crypto_atoms that the split capped away (domain/commission.ts). */
  excessSats: number;
  confirmedAt: string;
  now: string;
  /** Median implied price (fiat per coin, integer) of recent cash-outs; null when there are none. */
  referencePrice: string | null;
  /** Other cash-outs in the 24 h before confirmed_at: sats and whole-fiat sums. */
  dailySats: string;
  dailyFiat: string;
}

const dec = (v: string, field: string): Decimal => parseDecimal(v, field);
/** Both decimals as integers at a common scale. */
function common(a: Decimal, b: Decimal): [bigint, bigint, number] {
  const s = Math.max(a.scale, b.scale);
  return [a.coefficient * pow10(s - a.scale), b.coefficient * pow10(s - b.scale), s];
}
const add = (a: Decimal, b: Decimal): Decimal => {
  const [x, y, s] = common(a, b);
  return { coefficient: x + y, scale: s };
};
/** |n/d − 1| ≤ band % ⇔ |n − d| × 100 ≤ band × d (d > 0). */
const withinBand = (n: bigint, d: bigint, bandPercent: number): boolean => {
  const diff = n > d ? n - d : d - n;
  return diff * 100n <= BigInt(bandPercent) * d;
};

/** Fiat per whole coin implied by a cash-out, as an integer (floor): fiat × 10^8 / crypto_atoms. */
export function impliedPrice(fiat: string, cryptoAtoms: string): bigint {
  const f = dec(fiat, 'fiat');
  const atoms = BigInt(cryptoAtoms);
  return atoms > 0n ? (f.coefficient * SATS_PER_COIN) / (pow10(f.scale) * atoms) : 0n;
}

/** `commissionOnly`: only the commission findings (negative, excess) — the money rules no config turns off. */
export function plausibilityFindings(i: PlausibilityInput, limits: PlausibilityLimits, opts: { commissionOnly?: boolean } = {}): string[] {
  const out: string[] = [];
  const atoms = BigInt(i.cryptoAtoms);
  const fiat = dec(i.fiat, 'fiat');
  const fee = i.fixedFee ? dec(i.fixedFee, 'fixed_fee') : { coefficient: 0n, scale: 0 };
  const paidFiat = add(fiat, fee);
  const eff = dec(i.effectiveCommission, 'effective_commission');

  if (eff.coefficient < 0n) {
    out.push(`negative commission (${formatDecimal(eff)}): the commission wallet would owe the clients ${i.excessSats} sats; approving pays the clients all ${i.cryptoAtoms} sats, no commission`);
  } else if (BigInt(i.excessSats) > MACHINE_ROUNDING_SATS) {
    out.push(`the commission-free amount exceeds crypto_atoms by ${i.excessSats} sats (more than Lamassu's 100-sat rounding)`);
  }

  if (opts.commissionOnly) return out;
  // The price.
  const oneMinusEff = pow10(eff.scale) - eff.coefficient; // (1 − eff) × 10^es
  if (i.rawTickerPrice !== null) {
    const t = dec(i.rawTickerPrice, 'raw_ticker_price');
    if (oneMinusEff <= 0n) out.push(`commission ${formatDecimal(eff)}: the machine's price is zero, nothing to compare crypto_atoms with`);
    else {
      // crypto_atoms × ticker × (1 − eff) vs (fiat + fee) × 10^8, all at integer scale.
      const n = atoms * t.coefficient * oneMinusEff * pow10(paidFiat.scale);
      const d = paidFiat.coefficient * SATS_PER_COIN * pow10(t.scale) * pow10(eff.scale);
      if (d <= 0n || !withinBand(n, d, limits.priceBandPercent)) {
        const expected = d > 0n && t.coefficient > 0n ? (paidFiat.coefficient * SATS_PER_COIN * pow10(t.scale) * pow10(eff.scale)) / (t.coefficient * oneMinusEff * pow10(paidFiat.scale)) : 0n;
        out.push(`price: ${i.cryptoAtoms} sats for ${formatDecimal(paidFiat)} ${i.fiatCode} is outside ±${limits.priceBandPercent} % of the ${expected} sats raw_ticker_price ${formatDecimal(t)} less commission buys`);
      }
    }
  } else if (i.referencePrice !== null) {
    const ref = BigInt(i.referencePrice);
    // implied = paidFiat × 10^8 / atoms vs ref: compare paidFiat × 10^8 with ref × atoms (scaled).
    const n = paidFiat.coefficient * SATS_PER_COIN;
    const d = ref * atoms * pow10(paidFiat.scale);
    if (d <= 0n || !withinBand(n, d, limits.priceBandPercent)) {
      out.push(`price: no raw_ticker_price, and the implied ${impliedPrice(formatDecimal(paidFiat), i.cryptoAtoms)} ${i.fiatCode}/BTC is outside ±${limits.priceBandPercent} % of recent cash-outs (${ref})`);
    }
  } else {
    out.push('price: no raw_ticker_price and no previous cash-out to compare the implied price with');
  }

  if (i.receivedCryptoAtoms !== null && BigInt(i.receivedCryptoAtoms) < atoms) {
    out.push(`received_crypto_atoms ${i.receivedCryptoAtoms} does not cover crypto_atoms ${i.cryptoAtoms}`);
  }
  if (Date.parse(i.confirmedAt) > Date.parse(i.now) + limits.clockSkewSeconds * 1000) {
    out.push(`confirmed_at ${i.confirmedAt} is in the future`);
  }
  if (atoms > BigInt(limits.maxCashOutSats)) out.push(`${i.cryptoAtoms} sats exceed the per-cash-out cap of ${limits.maxCashOutSats}`);
  if (compareDecimal(fiat, dec(limits.maxCashOutFiat, 'maxCashOutFiat')) > 0) out.push(`${formatDecimal(fiat)} ${i.fiatCode} exceeds the per-cash-out cap of ${limits.maxCashOutFiat}`);
  const daySats = BigInt(i.dailySats) + atoms;
  if (daySats > BigInt(limits.maxDailySats)) out.push(`${daySats} sats in 24 h exceed the daily cap of ${limits.maxDailySats}`);
  const dayFiat = add(dec(i.dailyFiat, 'daily_fiat'), fiat);
  if (compareDecimal(dayFiat, dec(limits.maxDailyFiat, 'maxDailyFiat')) > 0) out.push(`${formatDecimal(dayFiat)} ${i.fiatCode} in 24 h exceed the daily cap of ${limits.maxDailyFiat}`);
  return out;
}
