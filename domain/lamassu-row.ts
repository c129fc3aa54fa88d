import { z } from 'zod';
import { MAX_SATS } from './money';

/**
 * A Lamassu `cash_out_txs` row as this system keeps it: validated, exact (numerics stay decimal
 * strings), timestamps as ISO-8601 UTC strings. It travels in workflow inputs, so it holds no secret.
 */
export interface LamassuCashOut {
  id: string;
  deviceId: string;
  /** numeric(30) as an integer string: sats the customer sent, commission included. */
  cryptoAtoms: string;
  receivedCryptoAtoms: string | null;
  cryptoCode: 'BTC' | 'LN';
  /** numeric(14,5) in whole fiat units, e.g. "4000.00000". */
  fiat: string;
  fiatCode: string;
  status: string;
  dispense: boolean;
  dispenseConfirmed: boolean | null;
  error: string | null;
  errorCode: string | null;
  /** A fraction, "0.05500" = 5.5 %; null = 0. Lamassu's admin allows −15 % to 100 %. */
  commissionPercentage: string | null;
  /** Integer percent off the commission, 0–100; null = 0. */
  discount: number | null;
  rawTickerPrice: string | null;
  fixedFee: string | null;
  created: string;
  confirmedAt: string;
}

const integerString = (min: bigint, max: bigint) =>
  z
    .union([z.string(), z.number().int(), z.bigint()])
    .transform((v) => String(v))
    .refine((v) => /^\d{1,30}$/.test(v), 'expected a non-negative integer')
    .refine((v) => !/^\d{1,30}$/.test(v) || (BigInt(v) >= min && BigInt(v) <= max), `expected an integer from ${min} to ${max}`);

const decimalString = (opts: { maxScale: number }) =>
  z
    .union([z.string(), z.number().int()])
    .transform((v) => String(v))
    .refine((v) => new RegExp(`^\\d{1,15}(\\.\\d{1,${opts.maxScale}})?$`).test(v), `expected a non-negative decimal with at most ${opts.maxScale} decimals`);

/** Signed decimal text within [min, max] (exact: compared as scaled bigints). */
const signedDecimalBetween = (opts: { maxScale: number; min: string; max: string; message: string }) =>
  z
    .union([z.string(), z.number().int()])
    .transform((v) => String(v))
    .refine((v) => new RegExp(`^-?\\d{1,15}(\\.\\d{1,${opts.maxScale}})?$`).test(v), `expected a decimal with at most ${opts.maxScale} decimals`)
    .refine((v) => !/^-?\d{1,15}(\.\d+)?$/.test(v) || (compareText(v, opts.min) >= 0 && compareText(v, opts.max) <= 0), opts.message);

/** Compare two decimal texts exactly. */
function compareText(a: string, b: string): number {
  const scale = (t: string) => (t.split('.')[1] ?? '').length;
  const s = Math.max(scale(a), scale(b));
  const big = (t: string) => {
    const neg = t.startsWith('-');
    const [i, f = ''] = t.replace('-', '').split('.');
    const v = BigInt(`${i}${f.padEnd(s, '0')}`);
    return neg ? -v : v;
  };
  const d = big(a) - big(b);
  return d < 0n ? -1 : d > 0n ? 1 : 0;
}

/** Text fields a cash-out carries into workflow inputs: bounded, so one row can never exceed a payload limit. */
export const TEXT_LIMITS = { deviceId: 200, error: 500, errorCode: 100 } as const;

const isoTimestamp = z
  .union([z.date(), z.string()])
  .transform((v, ctx) => {
    const d = v instanceof Date ? v : new Date(v);
    // A naive timestamp string (no zone) is refused rather than guessed.
    if (Number.isNaN(d.getTime()) || (typeof v === 'string' && !/(Z|[+-]\d\d(:?\d\d)?)$/.test(v))) {
      ctx.addIssue({ code: 'custom', message: 'expected a timestamp with a time zone' });
      return z.NEVER;
    }
    return d.toISOString();
  });

/** smallint percent: a JS integer or its decimal text (the reader selects numerics as text); never coerced from '' or true. */
const smallPercent = z
  .union([z.number().int(), z.string().regex(/^-?\d{1,6}$/, 'expected an integer percent').transform(Number)])
  .pipe(z.number().int().min(0, 'expected a percent from 0 to 100').max(100, 'expected a percent from 0 to 100'));

/**
 * Validation of one raw row (as the reader selects it: numerics as text, timestamps as ISO text or Date).
 * The qualification conditions the reader's SQL filters on (confirmed, dispensed and dispense-confirmed, no
 * error/operator cancel) are checked again here: a row that reaches a payout must satisfy them, whatever SQL
 * produced it.
 */
export function lamassuRowSchema(opts: RowOptions) {
  return z
    .object({
      // Any 8-4-4-4-12 hex id, as PostgreSQL's uuid type accepts it (z.uuid() would insist on RFC variant bits).
      id: z.guid(),
      device_id: z.string().min(1).max(TEXT_LIMITS.deviceId, `expected at most ${TEXT_LIMITS.deviceId} characters`),
      crypto_atoms: integerString(1n, BigInt(MAX_SATS)),
      received_crypto_atoms: integerString(0n, BigInt(MAX_SATS)).nullable().default(null),
      crypto_code: z.enum(['BTC', 'LN']),
      fiat: decimalString({ maxScale: 5 })
        .refine((v) => /[1-9]/.test(v), 'expected fiat > 0')
        .refine(
          (v) => opts.fiatDecimals === undefined || /^0*$/.test((v.split('.')[1] ?? '').slice(opts.fiatDecimals)),
          `expected at most ${opts.fiatDecimals ?? 5} decimals (the currency's minor unit)`,
        ),
      fiat_code: z.literal(opts.fiatCode, { error: `expected the configured fiat code ${opts.fiatCode}` }),
      status: z.literal('confirmed', { error: 'expected status confirmed' }),
      dispense: z.literal(true, { error: 'expected dispense = true' }),
      dispense_confirmed: z.literal(true, { error: 'expected dispense_confirmed = true' }),
      error: z.null({ error: 'expected no error (an operator cancel or failure)' }).default(null),
      error_code: z
        .string()
        .max(TEXT_LIMITS.errorCode, `expected at most ${TEXT_LIMITS.errorCode} characters`)
        .refine((v) => v !== 'operatorCancel', 'operator cancel')
        .nullable()
        .default(null),
      commission_percentage: signedDecimalBetween({ maxScale: 5, min: '-0.15', max: '1', message: 'expected a fraction −0.15 ≤ c ≤ 1 (Lamassu allows −15 % to 100 %)' })
        .nullable()
        .default(null),
      discount: smallPercent.nullable().default(null),
      raw_ticker_price: decimalString({ maxScale: 5 }).refine((v) => /[1-9]/.test(v), 'expected a price > 0').nullable().default(null),
      fixed_fee: decimalString({ maxScale: 5 }).nullable().default(null),
      created: isoTimestamp,
      confirmed_at: isoTimestamp,
    })
    .transform(
      (r): LamassuCashOut => ({
        id: r.id.toLowerCase(),
        deviceId: r.device_id,
        cryptoAtoms: r.crypto_atoms,
        receivedCryptoAtoms: r.received_crypto_atoms,
        cryptoCode: r.crypto_code,
        fiat: r.fiat,
        fiatCode: r.fiat_code,
        status: r.status,
        dispense: r.dispense,
        dispenseConfirmed: r.dispense_confirmed,
        error: r.error,
        errorCode: r.error_code,
        commissionPercentage: r.commission_percentage,
        discount: r.discount,
        rawTickerPrice: r.raw_ticker_price,
        fixedFee: r.fixed_fee,
        created: r.created,
        confirmedAt: r.confirmed_at,
      }),
    );
}

export interface RowOptions {
  fiatCode: string;
  /** Digits of the currency's minor unit (GTQ: 2): fiat with more (non-zero) decimals is refused. */
  fiatDecimals?: number;
}

export type RowValidation =
  | { ok: true; row: LamassuCashOut }
  | { ok: false; id: string | null; field: string; reason: string };

/** Validates a raw row; a failure names the first offending field (and never throws). */
export function validateLamassuRow(raw: unknown, opts: RowOptions): RowValidation {
  const result = lamassuRowSchema(opts).safeParse(raw);
  if (result.success) return { ok: true, row: result.data };
  const issue = result.error.issues[0]!;
  const id = typeof (raw as { id?: unknown })?.id === 'string' ? (raw as { id: string }).id : null;
  return { ok: false, id, field: issue.path.join('.') || '(row)', reason: issue.message };
}

/** The raw (snake_case) form of a validated cash-out: validating it again must give the same cash-out. */
export function toRawRow(row: LamassuCashOut): Record<string, unknown> {
  return {
    id: row.id, device_id: row.deviceId, crypto_atoms: row.cryptoAtoms, received_crypto_atoms: row.receivedCryptoAtoms,
    crypto_code: row.cryptoCode, fiat: row.fiat, fiat_code: row.fiatCode, status: row.status, dispense: row.dispense,
    dispense_confirmed: row.dispenseConfirmed, error: row.error, error_code: row.errorCode,
    commission_percentage: row.commissionPercentage, discount: row.discount, raw_ticker_price: row.rawTickerPrice,
    fixed_fee: row.fixedFee, created: row.created, confirmed_at: row.confirmedAt,
  };
}

/** Fields whose values differ between two cash-outs (numerics compared exactly, "4000.00000" = "4000"). */
export function cashOutDifferences(a: LamassuCashOut, b: LamassuCashOut): string[] {
  const numeric = new Set<keyof LamassuCashOut>(['cryptoAtoms', 'receivedCryptoAtoms', 'fiat', 'commissionPercentage', 'rawTickerPrice', 'fixedFee']);
  const out: string[] = [];
  for (const k of Object.keys(a) as Array<keyof LamassuCashOut>) {
    const x = a[k];
    const y = b[k];
    if (x === y) continue;
    if (numeric.has(k) && typeof x === 'string' && typeof y === 'string' && compareText(x, y) === 0) continue;
    // A fixed fee of 0 and no fixed_fee column are the same cash-out.
    if (k === 'fixedFee' && [x, y].every((v) => v === null || (typeof v === 'string' && compareText(v, '0') === 0))) continue;
    out.push(k);
  }
  return out;
}
