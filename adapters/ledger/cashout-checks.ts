/**
 * Ledger side of the cash-out checks (issue 12): what the plausibility check needs (the row as recorded,
 * recent prices, the rolling 24 h sums), the held state, the end of a failed workflow, and the Lamassu rows
 * that Lamassu counts as dispensed but that never became payable. All SQL is parameterised.
 */
import type pg from 'pg';
import type { RawCashOutRow } from '../lamassu/reader';
import { type Queryable, isoCol, nullableIsoCol } from './db';

export interface CheckedTransaction {
  id: string;
  lamassuId: string;
  status: string;
  cryptoAtoms: string;
  receivedCryptoAtoms: string | null;
  fiat: string;
  fiatCode: string;
  fixedFee: string | null;
  rawTickerPrice: string | null;
  effectiveCommission: string | null;
  excessSats: number;
  baseSats: number | null;
  commissionSats: number | null;
  confirmedAt: string;
  workflowId: string | null;
}

export async function getCheckedTransaction(db: Queryable, id: string): Promise<CheckedTransaction> {
  const { rows } = await db.query(
    `SELECT id, lamassu_id::text, status, crypto_atoms::text AS crypto_atoms, received_crypto_atoms::text AS received_crypto_atoms,
            fiat::text AS fiat, fiat_code, fixed_fee::text AS fixed_fee, raw_ticker_price::text AS raw_ticker_price,
            effective_commission::text AS effective_commission, COALESCE(excess_sats, 0)::text AS excess_sats,
            base_sats::text AS base_sats, commission_sats::text AS commission_sats, confirmed_at, workflow_id
       FROM satoshimachine.lamassu_transactions WHERE id = $1`,
    [id],
  );
  const r = rows[0];
  if (!r) throw new Error(`transaction ${id} not found`);
  return {
    id: String(r.id), lamassuId: String(r.lamassu_id), status: String(r.status), cryptoAtoms: String(r.crypto_atoms),
    receivedCryptoAtoms: (r.received_crypto_atoms as string | null) ?? null, fiat: String(r.fiat), fiatCode: String(r.fiat_code),
    fixedFee: (r.fixed_fee as string | null) ?? null, rawTickerPrice: (r.raw_ticker_price as string | null) ?? null,
    effectiveCommission: (r.effective_commission as string | null) ?? null, excessSats: Number(r.excess_sats),
    baseSats: r.base_sats === null ? null : Number(r.base_sats), commissionSats: r.commission_sats === null ? null : Number(r.commission_sats),
    confirmedAt: isoCol(r.confirmed_at), workflowId: (r.workflow_id as string | null) ?? null,
  };
}

/** Statuses whose cash-outs count towards the rolling caps (paid, being paid or waiting for a retry). */
const COUNTED = ['processing', 'completed', 'needs_attention'];

/** Sums of the other cash-outs confirmed in the 24 h before `confirmedAt` (sats, whole fiat as exact text). */
export async function dailyTotals(db: Queryable, t: { id: string; fiatCode: string; confirmedAt: string }): Promise<{ sats: string; fiat: string }> {
  const { rows } = await db.query(
    `SELECT COALESCE(sum(crypto_atoms), 0)::text AS sats, COALESCE(sum(fiat), 0)::text AS fiat
       FROM satoshimachine.lamassu_transactions
      WHERE id <> $1 AND fiat_code = $2 AND status = ANY ($3::text[])
        AND confirmed_at > $4::timestamptz - interval '24 hours' AND confirmed_at <= $4::timestamptz`,
    [t.id, t.fiatCode, COUNTED, t.confirmedAt],
  );
  return { sats: String(rows[0].sats), fiat: String(rows[0].fiat) };
}

/** Median implied price (fiat per coin, integer, floor) of the last `n` completed cash-outs in this currency. */
export async function referencePrice(db: Queryable, t: { id: string; fiatCode: string }, n: number): Promise<string | null> {
  const { rows } = await db.query(
    `SELECT floor(percentile_disc(0.5) WITHIN GROUP (ORDER BY p))::text AS median
       FROM (SELECT fiat * 100000000 / crypto_atoms AS p FROM satoshimachine.lamassu_transactions
              WHERE id <> $1 AND fiat_code = $2 AND status = 'completed' AND crypto_atoms > 0
              ORDER BY confirmed_at DESC LIMIT $3) recent`,
    [t.id, t.fiatCode, n],
  );
  return (rows[0]?.median as string | null) ?? null;
}

/** processing → held (with the findings as its error); idempotent. */
export async function holdTransaction(db: Queryable, id: string, reason: string): Promise<void> {
  await db.query(`UPDATE satoshimachine.lamassu_transactions SET status = 'held', error = $2 WHERE id = $1 AND status IN ('processing', 'held')`, [id, reason]);
}

/**
 * The operator's decision on a held cash-out: approve → processing (the payout stage runs), reject →
 * rejected (never paid). Idempotent for the same decision; anything else than held/that outcome throws.
 */
export async function decideHeld(db: Queryable, id: string, decision: 'approve' | 'reject', reason: string): Promise<string> {
  const target = decision === 'approve' ? 'processing' : 'rejected';
  const { rows } = await db.query(
    `UPDATE satoshimachine.lamassu_transactions
        SET status = $2, error = CASE WHEN $2 = 'rejected' THEN $3 ELSE NULL END,
            rejected_field = CASE WHEN $2 = 'rejected' THEN 'operator' ELSE rejected_field END
      WHERE id = $1 AND status = 'held' RETURNING status`,
    [id, target, reason],
  );
  if (rows.length) return target;
  const { rows: now } = await db.query(`SELECT status FROM satoshimachine.lamassu_transactions WHERE id = $1`, [id]);
  const status = now[0]?.status as string | undefined;
  if (status === target || (decision === 'approve' && status !== 'rejected')) return String(status);
  throw new Error(`transaction ${id} is ${status ?? 'missing'}, not held`);
}

/**
 * A cash-out workflow of this run ended without completing: its ledger row (if this run owns one and it is
 * not final) becomes needs_attention with the reason. Returns the row's id and status, or null when this run
 * recorded nothing.
 */
export async function markRunFailed(db: Queryable, lamassuId: string, runId: string, reason: string): Promise<{ id: string; status: string } | null> {
  const { rows } = await db.query(
    `UPDATE satoshimachine.lamassu_transactions SET status = 'needs_attention', error = $3
      WHERE lamassu_id = $1::uuid AND run_id = $2 AND status IN ('received', 'processing', 'held')
      RETURNING id, status`,
    [lamassuId, runId, reason.slice(0, 2000)],
  );
  if (rows.length) return { id: String(rows[0].id), status: 'needs_attention' };
  const { rows: own } = await db.query(`SELECT id, status FROM satoshimachine.lamassu_transactions WHERE lamassu_id = $1::uuid AND run_id = $2`, [lamassuId, runId]);
  return own[0] ? { id: String(own[0].id), status: String(own[0].status) } : null;
}

// Dispensed in Lamassu, never payable ---------------------------------------------------------------------

export interface UnfinishedRow {
  lamassuId: string;
  lamassuStatus: string;
  dispenseConfirmed: boolean | null;
  cryptoCode: string;
  cryptoAtoms: string;
  fiat: string;
  fiatCode: string;
  created: string;
  firstSeenAt: string;
  alertedAt: string | null;
}

/**
 * Upserts this poll's unfinished rows, resolves the ones no longer reported, and returns the rows still
 * waiting for their alert (alerted_at IS NULL).
 */
export async function syncUnfinishedRows(pool: pg.Pool, raws: RawCashOutRow[]): Promise<UnfinishedRow[]> {
  const ids = raws.map((r) => r.id.toLowerCase());
  for (const r of raws) {
    await pool.query(
      `INSERT INTO satoshimachine.lamassu_unfinished_rows (lamassu_id, lamassu_status, dispense_confirmed, crypto_code, crypto_atoms, fiat, fiat_code, created)
       VALUES ($1::uuid, $2, $3, $4, $5, $6, $7, $8::timestamptz)
       ON CONFLICT (lamassu_id) DO UPDATE SET lamassu_status = EXCLUDED.lamassu_status, dispense_confirmed = EXCLUDED.dispense_confirmed,
              last_seen_at = now(), resolved_at = NULL`,
      [r.id, r.status ?? '', r.dispense_confirmed, r.crypto_code ?? '', (r.crypto_atoms ?? '').slice(0, 40), (r.fiat ?? '').slice(0, 40), r.fiat_code ?? '', r.created],
    );
  }
  await pool.query(`UPDATE satoshimachine.lamassu_unfinished_rows SET resolved_at = now() WHERE resolved_at IS NULL AND NOT (lamassu_id = ANY ($1::uuid[]))`, [ids]);
  return (await listUnfinishedRows(pool)).filter((r) => r.alertedAt === null);
}

export async function markUnfinishedAlerted(db: Queryable, lamassuId: string): Promise<void> {
  await db.query(`UPDATE satoshimachine.lamassu_unfinished_rows SET alerted_at = now() WHERE lamassu_id = $1::uuid AND alerted_at IS NULL`, [lamassuId]);
}

/** Open (unresolved) unfinished rows, oldest first: `satmachine status` lists them. */
export async function listUnfinishedRows(db: Queryable, limit = 50): Promise<UnfinishedRow[]> {
  const { rows } = await db.query(
    `SELECT lamassu_id::text, lamassu_status, dispense_confirmed, crypto_code, crypto_atoms, fiat, fiat_code, created, first_seen_at, alerted_at
       FROM satoshimachine.lamassu_unfinished_rows WHERE resolved_at IS NULL ORDER BY created LIMIT $1`,
    [limit],
  );
  return rows.map((r) => ({
    lamassuId: String(r.lamassu_id), lamassuStatus: String(r.lamassu_status), dispenseConfirmed: (r.dispense_confirmed as boolean | null) ?? null,
    cryptoCode: String(r.crypto_code), cryptoAtoms: String(r.crypto_atoms), fiat: String(r.fiat), fiatCode: String(r.fiat_code),
    created: isoCol(r.created), firstSeenAt: isoCol(r.first_seen_at), alertedAt: nullableIsoCol(r.alerted_at),
  }));
}
