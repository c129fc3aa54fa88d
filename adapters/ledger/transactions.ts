/** Lamassu cash-outs in our ledger: recorded once by lamassu_id, then their commission split. */
import { z } from 'zod';
import { LedgerNotFoundError, LedgerStateError } from '../../domain/errors';
import type { CommissionResult } from '../../domain/commission';
import type { FiatMinor, Sats } from '../../domain/money';
import { type Queryable, isoCol, nullableFiatCol, nullableIsoCol, nullableSatsCol } from './db';

export const TRANSACTION_STATUSES = ['received', 'processing', 'held', 'completed', 'failed', 'needs_attention', 'rejected'] as const;
export type TransactionStatus = (typeof TRANSACTION_STATUSES)[number];

/** The cash_out_txs fields as received (numerics as their exact text). */
export interface LamassuTransactionInsert {
  lamassuId: string;
  deviceId: string;
  cryptoAtoms: string;
  receivedCryptoAtoms: string | null;
  cryptoCode: string;
  fiat: string;
  fiatCode: string;
  commissionPercentage: string | null;
  discount: number | null;
  rawTickerPrice: string | null;
  fixedFee: string | null;
  lamassuStatus: string;
  dispense: boolean | null;
  dispenseConfirmed: boolean | null;
  lamassuError: string | null;
  lamassuErrorCode: string | null;
  /** ISO timestamps with offset. */
  created: string;
  confirmedAt: string | null;
}

export interface TransactionRow {
  id: string;
  lamassuId: string;
  cryptoAtoms: string;
  fiat: string;
  fiatCode: string;
  cryptoCode: string;
  commissionPercentage: string | null;
  discount: number | null;
  rawTickerPrice: string | null;
  confirmedAt: string | null;
  fiatMinor: FiatMinor | null;
  commissionModel: CommissionResult['model'] | null;
  effectiveCommission: string | null;
  baseSats: Sats | null;
  commissionSats: Sats | null;
  unallocatedSats: Sats | null;
  status: TransactionStatus;
  error: string | null;
  rejectedField: string | null;
  workflowId: string | null;
  createdAt: string;
  updatedAt: string;
}

const COLUMNS = `id, lamassu_id, crypto_atoms::text AS crypto_atoms, fiat::text AS fiat, fiat_code, crypto_code,
  commission_percentage::text AS commission_percentage, discount, raw_ticker_price::text AS raw_ticker_price, confirmed_at,
  fiat_minor, commission_model, effective_commission::text AS effective_commission, base_sats, commission_sats,
  unallocated_sats, status, error, rejected_field, workflow_id, created_at, updated_at`;

export function mapTransaction(r: Record<string, unknown>): TransactionRow {
  return {
    id: String(r.id),
    lamassuId: String(r.lamassu_id),
    cryptoAtoms: String(r.crypto_atoms),
    fiat: String(r.fiat),
    fiatCode: String(r.fiat_code),
    cryptoCode: String(r.crypto_code),
    commissionPercentage: (r.commission_percentage as string | null) ?? null,
    discount: (r.discount as number | null) ?? null,
    rawTickerPrice: (r.raw_ticker_price as string | null) ?? null,
    confirmedAt: nullableIsoCol(r.confirmed_at),
    fiatMinor: nullableFiatCol(r.fiat_minor, 'fiat_minor'),
    commissionModel: (r.commission_model as CommissionResult['model'] | null) ?? null,
    effectiveCommission: (r.effective_commission as string | null) ?? null,
    baseSats: nullableSatsCol(r.base_sats, 'base_sats'),
    commissionSats: nullableSatsCol(r.commission_sats, 'commission_sats'),
    unallocatedSats: nullableSatsCol(r.unallocated_sats, 'unallocated_sats'),
    status: z.enum(TRANSACTION_STATUSES).parse(r.status),
    error: (r.error as string | null) ?? null,
    rejectedField: (r.rejected_field as string | null) ?? null,
    workflowId: (r.workflow_id as string | null) ?? null,
    createdAt: isoCol(r.created_at),
    updatedAt: isoCol(r.updated_at),
  };
}

/** Insert once per lamassu_id; a second sighting returns the existing row with `inserted: false`. */
export async function recordLamassuTransaction(db: Queryable, t: LamassuTransactionInsert): Promise<{ transaction: TransactionRow; inserted: boolean }> {
  const ins = await db.query(
    `INSERT INTO satoshimachine.lamassu_transactions
       (lamassu_id, device_id, crypto_atoms, received_crypto_atoms, crypto_code, fiat, fiat_code, commission_percentage,
        discount, raw_ticker_price, fixed_fee, lamassu_status, dispense, dispense_confirmed, lamassu_error,
        lamassu_error_code, created, confirmed_at)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18)
     ON CONFLICT (lamassu_id) DO NOTHING
     RETURNING ${COLUMNS}`,
    [
      t.lamassuId, t.deviceId, t.cryptoAtoms, t.receivedCryptoAtoms, t.cryptoCode, t.fiat, t.fiatCode, t.commissionPercentage,
      t.discount, t.rawTickerPrice, t.fixedFee, t.lamassuStatus, t.dispense, t.dispenseConfirmed, t.lamassuError,
      t.lamassuErrorCode, t.created, t.confirmedAt,
    ],
  );
  if (ins.rows.length > 0) return { transaction: mapTransaction(ins.rows[0]), inserted: true };
  const { rows } = await db.query(`SELECT ${COLUMNS} FROM satoshimachine.lamassu_transactions WHERE lamassu_id = $1`, [t.lamassuId]);
  return { transaction: mapTransaction(rows[0]), inserted: false };
}

export async function getTransaction(db: Queryable, id: string): Promise<TransactionRow> {
  const { rows } = await db.query(`SELECT ${COLUMNS} FROM satoshimachine.lamassu_transactions WHERE id = $1`, [id]);
  if (rows.length === 0) throw new LedgerNotFoundError(`transaction ${id} not found`, 'transaction_id');
  return mapTransaction(rows[0]);
}

/**
 * Store the commission split (and the dispensed fiat in minor units) once. Repeating it with the same
 * values is a no-op; different values for an already-split transaction are refused (LedgerStateError).
 */
export async function recordCommission(db: Queryable, id: string, commission: CommissionResult, fiatMinor: FiatMinor): Promise<TransactionRow> {
  const { rows } = await db.query(
    `UPDATE satoshimachine.lamassu_transactions
        SET commission_model = $2, effective_commission = $3, base_sats = $4, commission_sats = $5, fiat_minor = $6,
            fixed_fee_sats = $7, excess_sats = $8
      WHERE id = $1 AND base_sats IS NULL
      RETURNING ${COLUMNS}`,
    [
      id, commission.model, commission.effectiveCommission, String(commission.baseSats), String(commission.commissionSats), String(fiatMinor),
      String(commission.fixedFeeSats ?? 0), String(commission.excessSats ?? 0),
    ],
  );
  if (rows.length > 0) return mapTransaction(rows[0]);
  const existing = await getTransaction(db, id);
  const same =
    existing.commissionModel === commission.model &&
    existing.baseSats === commission.baseSats &&
    existing.commissionSats === commission.commissionSats &&
    existing.fiatMinor === fiatMinor;
  if (!same) throw new LedgerStateError(`transaction ${id} already has a different commission split`, 'base_sats');
  return existing;
}
