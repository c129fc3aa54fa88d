/**
 * Read-only ledger queries behind the operator commands (the runbook's hand-written SQL, parameterised).
 * Amount columns keep their units in their names; int8 arrives from pg as text and is mapped exactly.
 */
import { type Queryable, isoCol, mapPayment, mapTransaction, nullableIsoCol, type PaymentRow, type TransactionRow } from '../adapters/ledger';
import { LedgerNotFoundError } from '../domain/errors';

const TX_COLUMNS = `id, lamassu_id, crypto_atoms::text AS crypto_atoms, fiat::text AS fiat, fiat_code, crypto_code,
  commission_percentage::text AS commission_percentage, discount, raw_ticker_price::text AS raw_ticker_price, confirmed_at,
  fiat_minor, commission_model, effective_commission::text AS effective_commission, base_sats, commission_sats,
  unallocated_sats, status, error, rejected_field, workflow_id, created_at, updated_at`;
const PAY_COLUMNS = `p.id, p.transaction_id, p.client_id, p.kind, p.amount_sats, p.fiat_debit_minor, p.status, p.payment_hash, p.bolt11,
  p.attempts, p.last_error, p.created_at, p.updated_at, p.completed_at`;

const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** A cash-out by its Lamassu id (what operators see in Lamassu's admin) or by our own row id. */
export async function findTransaction(db: Queryable, id: string): Promise<TransactionRow> {
  if (!UUID_RE.test(id)) throw new LedgerNotFoundError(`transaction ${JSON.stringify(id.slice(0, 60))} not found (expected a Lamassu transaction id, a uuid)`, 'lamassu_id');
  const { rows } = await db.query(`SELECT ${TX_COLUMNS} FROM satoshimachine.lamassu_transactions WHERE lamassu_id = $1 OR id = $1 ORDER BY lamassu_id = $1 DESC LIMIT 1`, [id]);
  if (rows.length === 0) throw new LedgerNotFoundError(`transaction ${id} not found`, 'lamassu_id');
  return mapTransaction(rows[0]);
}

export async function listTransactions(db: Queryable, opts: { status?: string; limit: number }): Promise<TransactionRow[]> {
  const { rows } = await db.query(
    `SELECT ${TX_COLUMNS} FROM satoshimachine.lamassu_transactions WHERE ($1::text IS NULL OR status = $1)
      ORDER BY COALESCE(confirmed_at, created) DESC, id LIMIT $2`,
    [opts.status ?? null, opts.limit],
  );
  return rows.map(mapTransaction);
}

export interface PayoutView extends PaymentRow {
  clientName: string | null;
  lamassuId: string;
  ageSeconds: number;
  /** A pending payout whose transfer keeps failing on an outage: since when (ISO), else null. */
  waitingSince: string | null;
}

/** Payouts by status and age (the runbook's "stuck/failed payments" query). Oldest first. */
/**
 * Payouts in `statuses`; `failing` adds the pending ones whose last attempt failed (still retrying by
 * themselves: "failing" to the operator, though not yet `failed` in the ledger).
 */
export async function listPayouts(db: Queryable, opts: { statuses: string[]; failing?: boolean; olderThanSeconds?: number; transactionId?: string; limit: number }): Promise<PayoutView[]> {
  const { rows } = await db.query(
    `SELECT ${PAY_COLUMNS}, c.name AS client_name, t.lamassu_id, EXTRACT(EPOCH FROM now() - p.created_at)::bigint AS age_seconds, p.waiting_since
       FROM satoshimachine.payments p
       JOIN satoshimachine.lamassu_transactions t ON t.id = p.transaction_id
       LEFT JOIN satoshimachine.clients c ON c.id = p.client_id
      WHERE (p.status = ANY($1::text[]) OR ($5::boolean AND p.status = 'pending' AND p.last_error IS NOT NULL))
        AND ($2::int IS NULL OR p.created_at < now() - make_interval(secs => $2::int))
        AND ($3::uuid IS NULL OR p.transaction_id = $3)
      ORDER BY p.created_at, p.id LIMIT $4`,
    [opts.statuses, opts.olderThanSeconds ?? null, opts.transactionId ?? null, opts.limit, opts.failing ?? false],
  );
  return rows.map((r) => ({ ...mapPayment(r), clientName: (r.client_name as string | null) ?? null, lamassuId: String(r.lamassu_id), ageSeconds: Number(r.age_seconds), waitingSince: nullableIsoCol(r.waiting_since) }));
}

export interface CountRow {
  status: string;
  count: number;
  /** Sum of the status's sats (crypto_atoms for cash-outs, amount_sats for payouts), as exact text. */
  sats: string;
  oldest: string | null;
}

export async function cashOutCounts(db: Queryable): Promise<CountRow[]> {
  const { rows } = await db.query(
    `SELECT status, count(*)::int AS n, COALESCE(sum(crypto_atoms), 0)::text AS sats, min(created_at) AS oldest
       FROM satoshimachine.lamassu_transactions GROUP BY status ORDER BY status`,
  );
  return rows.map((r) => ({ status: String(r.status), count: Number(r.n), sats: String(r.sats), oldest: nullableIsoCol(r.oldest) }));
}

export async function payoutCounts(db: Queryable): Promise<CountRow[]> {
  const { rows } = await db.query(
    `SELECT status, count(*)::int AS n, COALESCE(sum(amount_sats), 0)::text AS sats, min(created_at) AS oldest
       FROM satoshimachine.payments GROUP BY status ORDER BY status`,
  );
  return rows.map((r) => ({ status: String(r.status), count: Number(r.n), sats: String(r.sats), oldest: nullableIsoCol(r.oldest) }));
}

export interface AlertView {
  id: string;
  severity: string;
  kind: string;
  message: string;
  createdAt: string;
  /** Who acknowledged it (null: nobody yet). */
  acknowledgedBy?: string | null;
}

/**
 * Open (unresolved) alerts: unacknowledged first, then most severe, then newest. `total` counts the open ones,
 * `unacknowledged` those nobody has acknowledged yet.
 */
export async function openAlerts(db: Queryable, limit: number): Promise<{ total: number; unacknowledged: number; alerts: AlertView[] }> {
  const counts = (await db.query(
    `SELECT count(*)::int AS n, count(*) FILTER (WHERE acknowledged_at IS NULL)::int AS unack FROM satoshimachine.alerts WHERE resolved_at IS NULL`,
  )).rows[0];
  const { rows } = await db.query(
    `SELECT id::text AS id, severity, kind, message, created_at, acknowledged_at, acknowledged_by FROM satoshimachine.alerts WHERE resolved_at IS NULL
      ORDER BY (acknowledged_at IS NULL) DESC, CASE severity WHEN 'critical' THEN 0 WHEN 'high' THEN 1 WHEN 'medium' THEN 2 ELSE 3 END, created_at DESC LIMIT $1`,
    [limit],
  );
  return {
    total: Number(counts.n),
    unacknowledged: Number(counts.unack),
    alerts: rows.map((r) => ({
      id: String(r.id), severity: String(r.severity), kind: String(r.kind), message: String(r.message), createdAt: isoCol(r.created_at),
      acknowledgedBy: (r.acknowledged_by as string | null) ?? null,
    })),
  };
}

export interface DepositView {
  id: string;
  clientId: string;
  clientName: string;
  amountFiatMinor: number;
  currency: string;
  status: string;
  note: string | null;
  createdAt: string;
  confirmedAt: string | null;
  cancelledAt: string | null;
}

export async function listDeposits(db: Queryable, opts: { clientId?: string; status?: string; limit: number }): Promise<DepositView[]> {
  const { rows } = await db.query(
    `SELECT d.id, d.client_id, c.name, d.amount_fiat_minor, d.currency, d.status, d.note, d.created_at, d.confirmed_at, d.cancelled_at
       FROM satoshimachine.deposits d JOIN satoshimachine.clients c ON c.id = d.client_id
      WHERE ($1::uuid IS NULL OR d.client_id = $1) AND ($2::text IS NULL OR d.status = $2)
      ORDER BY d.created_at DESC, d.id LIMIT $3`,
    [opts.clientId ?? null, opts.status ?? null, opts.limit],
  );
  return rows.map((r) => ({
    id: String(r.id),
    clientId: String(r.client_id),
    clientName: String(r.name),
    amountFiatMinor: Number(r.amount_fiat_minor),
    currency: String(r.currency),
    status: String(r.status),
    note: (r.note as string | null) ?? null,
    createdAt: isoCol(r.created_at),
    confirmedAt: nullableIsoCol(r.confirmed_at),
    cancelledAt: nullableIsoCol(r.cancelled_at),
  }));
}

/** The client's totals: what the reconciliation compares (confirmed deposits, adjustments, payouts). */
export async function clientTotals(db: Queryable, clientId: string) {
  const { rows } = await db.query(
    `SELECT
       (SELECT COALESCE(sum(amount_fiat_minor), 0) FROM satoshimachine.deposits WHERE client_id = $1 AND status = 'confirmed')::text AS deposits,
       (SELECT count(*) FROM satoshimachine.deposits WHERE client_id = $1 AND status = 'pending')::int AS pending_deposits,
       (SELECT COALESCE(sum(amount_fiat_minor), 0) FROM satoshimachine.adjustments WHERE client_id = $1)::text AS adjustments,
       (SELECT COALESCE(sum(amount_sats), 0) FROM satoshimachine.payments WHERE client_id = $1 AND status = 'completed')::text AS paid_sats,
       (SELECT COALESCE(sum(fiat_debit_minor), 0) FROM satoshimachine.payments WHERE client_id = $1 AND status = 'completed')::text AS paid_fiat,
       (SELECT count(*) FROM satoshimachine.payments WHERE client_id = $1 AND status IN ('pending', 'failed'))::int AS open_payouts`,
    [clientId],
  );
  const r = rows[0];
  return {
    confirmedDepositsFiatMinor: Number(r.deposits),
    pendingDeposits: Number(r.pending_deposits),
    adjustmentsFiatMinor: Number(r.adjustments),
    paidSats: Number(r.paid_sats),
    paidFiatMinor: Number(r.paid_fiat),
    openPayouts: Number(r.open_payouts),
  };
}

/** Newest ledger activity: the runbook's "hours since last transaction". */
export async function lastTransactionAt(db: Queryable): Promise<string | null> {
  const { rows } = await db.query(`SELECT max(created_at) AS t FROM satoshimachine.lamassu_transactions`);
  return nullableIsoCol(rows[0].t);
}
