/**
 * Read-only ledger queries for the web console's dashboard and reconciliation page (the rest of what it shows
 * comes from client/ledger-views.ts and `collectStatus`). Sums are exact text from PostgreSQL, kept as bigint.
 */
import type { Queryable } from '../adapters/ledger';

/** Midnight UTC today, whatever the database session's time zone. */
const TODAY_UTC = `(date_trunc('day', now() AT TIME ZONE 'UTC') AT TIME ZONE 'UTC')`;

export interface DayFigures {
  cashOutsToday: number;
  clientSatsToday: bigint;
  clientSatsTotal: bigint;
  commissionSatsTotal: bigint;
  /** What the business owes its clients: the sum of remaining balances, per currency. */
  liability: Array<{ currency: string; clients: number; balanceFiatMinor: bigint }>;
}

export async function dayFigures(db: Queryable): Promise<DayFigures> {
  const { rows } = await db.query(
    `SELECT
       (SELECT count(*) FROM satoshimachine.lamassu_transactions WHERE created_at >= ${TODAY_UTC})::int AS cashouts_today,
       (SELECT COALESCE(sum(amount_sats), 0) FROM satoshimachine.payments WHERE kind = 'client' AND status = 'completed' AND completed_at >= ${TODAY_UTC})::text AS today,
       (SELECT COALESCE(sum(amount_sats), 0) FROM satoshimachine.payments WHERE kind = 'client' AND status = 'completed')::text AS total,
       (SELECT COALESCE(sum(amount_sats), 0) FROM satoshimachine.payments WHERE kind = 'commission' AND status = 'completed')::text AS commission`,
  );
  const liability = await db.query(
    `SELECT currency, count(*)::int AS n, sum(remaining_balance_fiat_minor)::text AS balance FROM satoshimachine.clients GROUP BY currency ORDER BY currency`,
  );
  const r = rows[0];
  return {
    cashOutsToday: Number(r.cashouts_today),
    clientSatsToday: BigInt(r.today),
    clientSatsTotal: BigInt(r.total),
    commissionSatsTotal: BigInt(r.commission),
    liability: liability.rows.map((l) => ({ currency: String(l.currency), clients: Number(l.n), balanceFiatMinor: BigInt(l.balance) })),
  };
}

export interface ReportSummary {
  id: string;
  startedAt: string;
  finishedAt: string | null;
  findings: Array<{ kind: string; severity: string; subject?: string; message: string }>;
}

export async function recentReconciliationReports(db: Queryable, limit: number): Promise<ReportSummary[]> {
  const { rows } = await db.query(
    `SELECT id::text AS id, started_at, finished_at, findings FROM satoshimachine.reconciliation_reports ORDER BY started_at DESC, id DESC LIMIT $1`,
    [limit],
  );
  return rows.map((r) => ({
    id: String(r.id),
    startedAt: (r.started_at as Date).toISOString(),
    finishedAt: r.finished_at ? (r.finished_at as Date).toISOString() : null,
    findings: Array.isArray(r.findings) ? (r.findings as ReportSummary['findings']) : [],
  }));
}

/** Deposit totals per status and currency (the deposits page). */
export async function depositTotals(db: Queryable): Promise<Array<{ status: string; currency: string; count: number; amountFiatMinor: bigint }>> {
  const { rows } = await db.query(
    `SELECT status, currency, count(*)::int AS n, sum(amount_fiat_minor)::text AS amount FROM satoshimachine.deposits GROUP BY status, currency ORDER BY status, currency`,
  );
  return rows.map((r) => ({ status: String(r.status), currency: String(r.currency), count: Number(r.n), amountFiatMinor: BigInt(r.amount) }));
}
