/** The runbook's commission verification query (db/queries/verify-commission.sql), runnable from code. */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { type Queryable } from './db';

export const VERIFY_COMMISSION_SQL_PATH = path.resolve(__dirname, '..', '..', 'db', 'queries', 'verify-commission.sql');

let cached: string | undefined;
export function verifyCommissionSql(): string {
  cached ??= readFileSync(VERIFY_COMMISSION_SQL_PATH, 'utf8');
  return cached;
}

export interface CommissionDiscrepancy {
  id: string;
  lamassuId: string;
  commissionModel: string;
  baseSats: string;
  expectedBase: string;
  commissionSats: string;
  expectedCommission: string;
}

/** Transactions whose stored commission split disagrees with the formula (exactly: no tolerance). */
export async function findCommissionDiscrepancies(db: Queryable): Promise<CommissionDiscrepancy[]> {
  const { rows } = await db.query(verifyCommissionSql());
  return rows.map((r) => ({
    id: String(r.id),
    lamassuId: String(r.lamassu_id),
    commissionModel: String(r.commission_model),
    baseSats: String(r.base_sats),
    expectedBase: String(r.expected_base),
    commissionSats: String(r.commission_sats),
    expectedCommission: String(r.expected_commission),
  }));
}
