/**
 * The ledger side of Lamassu ingestion: which Lamassu ids the ledger already knows, and the once-only
 * record of rows that failed validation. All SQL is parameterised.
 */
import type pg from 'pg';
import type { RawCashOutRow } from '../lamassu/reader';
import { rawRowAsText } from '../lamassu/reader';
import { withTransaction } from './db';

/** PostgreSQL's uuid input syntax in canonical form (what `id::text` of a uuid column returns). */
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
export const isUuid = (id: string): boolean => UUID.test(id);

/**
 * Ledger status (`lamassu_transactions.status`) of each id the ledger already holds, in ONE query.
 * Ids that are not uuids cannot be in the ledger's uuid column and are not sent.
 */
export async function knownLamassuIds(pool: pg.Pool, ids: string[]): Promise<Map<string, string>> {
  const uuids = [...new Set(ids.filter(isUuid).map((id) => id.toLowerCase()))];
  if (uuids.length === 0) return new Map();
  const { rows } = await pool.query<{ lamassu_id: string; status: string }>(
    `SELECT lamassu_id::text AS lamassu_id, status FROM satoshimachine.lamassu_transactions WHERE lamassu_id = ANY ($1::uuid[])
     UNION ALL
     SELECT lamassu_id::text, 'imported' FROM satoshimachine.legacy_cashouts WHERE lamassu_id = ANY ($1::uuid[])`,
    [uuids],
  );
  // A cash-out the old system handled (legacy_cashouts, status 'imported') is known: it was paid there.
  const known = new Map<string, string>();
  for (const r of rows) if (!known.has(r.lamassu_id) || r.status === 'imported') known.set(r.lamassu_id, r.status);
  return known;
}

export interface Rejection {
  raw: RawCashOutRow;
  field: string;
  reason: string;
}

// Which raw values fit the ledger's typed columns. A value that does not fit is stored as NULL (or, for the
// NOT NULL ones, a neutral placeholder); the exact raw text always stays in lamassu_rejected_rows.raw.
const fits = {
  atoms: (v: string | null) => (v !== null && /^\d{1,30}$/.test(v) ? v : null),
  signedAtoms: (v: string | null) => (v !== null && /^-?\d{1,30}$/.test(v) ? v : null),
  fiat: (v: string | null) => (v !== null && /^\d{1,9}(\.\d{1,5})?$/.test(v) ? v : null),
  numeric14_5: (v: string | null) => (v !== null && /^-?\d{1,9}(\.\d{1,5})?$/.test(v) ? v : null),
  smallint: (v: string | null) => (v !== null && /^-?\d{1,5}$/.test(v) && Math.abs(Number(v)) <= 32767 ? v : null),
  timestamp: (v: string | null) => (v !== null && /(Z|[+-]\d\d(:?\d\d)?)$/.test(v) && !Number.isNaN(Date.parse(v)) ? v : null),
};

/**
 * Records rejected rows once (ON CONFLICT DO NOTHING, one transaction): every one in lamassu_rejected_rows
 * (keyed by the raw id text), uuid ones also in lamassu_transactions as status 'rejected' with the field and
 * reason. Returns the raw ids recorded by this call (first sighting) and those whose alert is still owed.
 */
export async function recordRejections(pool: pg.Pool, rejections: Rejection[]): Promise<{ recorded: string[]; unalerted: string[] }> {
  if (rejections.length === 0) return { recorded: [], unalerted: [] };
  return withTransaction(pool, async (client) => {
    const recorded: string[] = [];
    for (const { raw, field, reason } of rejections) {
      const uuid = isUuid(raw.id) ? raw.id.toLowerCase() : null;
      const inserted = await client.query(
        `INSERT INTO satoshimachine.lamassu_rejected_rows (raw_id, lamassu_id, field, reason, raw)
         VALUES ($1, $2::uuid, $3, $4, $5::jsonb)
         ON CONFLICT (raw_id) DO NOTHING`,
        [raw.id, uuid, field, reason, JSON.stringify(rawRowAsText(raw))],
      );
      if (inserted.rowCount) recorded.push(raw.id);
      if (!uuid) continue;
      await client.query(
        `INSERT INTO satoshimachine.lamassu_transactions
           (lamassu_id, device_id, crypto_atoms, received_crypto_atoms, crypto_code, fiat, fiat_code,
            commission_percentage, discount, raw_ticker_price, fixed_fee, lamassu_status, dispense, dispense_confirmed,
            lamassu_error, lamassu_error_code, created, confirmed_at, status, error, rejected_field)
         VALUES ($1::uuid, $2, $3::numeric, $4::numeric, $5, $6::numeric, $7, $8::numeric, $9::smallint, $10::numeric, $11::numeric,
                 $12, $13, $14, $15, $16, COALESCE($17::timestamptz, $18::timestamptz, now()), $18::timestamptz, 'rejected', $19, $20)
         ON CONFLICT (lamassu_id) DO NOTHING`,
        [
          uuid, raw.device_id ?? '', fits.atoms(raw.crypto_atoms) ?? '0', fits.signedAtoms(raw.received_crypto_atoms), raw.crypto_code ?? '',
          fits.fiat(raw.fiat) ?? '0', raw.fiat_code ?? '', fits.numeric14_5(raw.commission_percentage), fits.smallint(raw.discount),
          fits.numeric14_5(raw.raw_ticker_price), fits.numeric14_5(raw.fixed_fee), raw.status ?? '', raw.dispense, raw.dispense_confirmed,
          raw.error, raw.error_code, fits.timestamp(raw.created), fits.timestamp(raw.confirmed_at), reason, field,
        ],
      );
    }
    const { rows } = await client.query<{ raw_id: string }>(
      `SELECT raw_id FROM satoshimachine.lamassu_rejected_rows WHERE raw_id = ANY ($1::text[]) AND alerted_at IS NULL`,
      [rejections.map((r) => r.raw.id)],
    );
    return { recorded, unalerted: rows.map((r) => r.raw_id) };
  });
}

/** The alert for a rejected row was raised: never raise it again. */
export async function markRejectionAlerted(pool: pg.Pool, rawId: string): Promise<void> {
  await pool.query(`UPDATE satoshimachine.lamassu_rejected_rows SET alerted_at = now() WHERE raw_id = $1 AND alerted_at IS NULL`, [rawId]);
}
