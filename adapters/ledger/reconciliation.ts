/**
 * The ledger side of the daily reconciliation (runbook scenarios 1, 3, 4, 5 and its "Full System
 * Reconciliation"), at ONE consistent database snapshot (REPEATABLE READ), scaling to millions of payouts:
 * each table is aggregated on its own (payments in one pass over its rows, per cash-out/status/kind, plus one
 * over the held debits' partial index), and only the aggregates are joined. The runbook's own balance query joins deposits
 * and payments to clients at once, which multiplies the sums; this does not.
 */
import type pg from 'pg';
import { findCommissionDiscrepancies } from './verify-commission';
import { withTransaction } from './db';

export interface LedgerFinding {
  kind: 'balance-mismatch' | 'commission-formula' | 'conservation' | 'payout-over-allocated' | 'payout-missing' | 'deposit-pending-long';
  /** What the finding is about: a client id, a transaction id. */
  subject: string;
  message: string;
  details: Record<string, unknown>;
}

export interface LedgerReconciliation {
  findings: LedgerFinding[];
  /** Findings per kind before capping. */
  counts: Record<string, number>;
  summary: {
    clients: number;
    storedTotalFiatMinor: string;
    derivedTotalFiatMinor: string;
    maxAbsBalanceDiscrepancyFiatMinor: string;
    transactions: { total: number; byStatus: Record<string, number>; cryptoAtoms: string; baseSats: string; commissionSats: string };
    payoutsByStatus: Array<{ kind: string; status: string; count: number; sats: string; oldest: string | null }>;
    commissionCompletedSinceSats: string | null;
    /** Payments LNbits lost, recorded (lnbits_losses): the source's extra outflow, "lost in LNbits (recorded)". */
    lnbitsLosses: LnbitsLossesSummary;
    timingsMs: Record<string, number>;
  };
}

export interface LnbitsLossesSummary {
  count: number;
  sats: string;
  /** The 50 most recent. */
  recent: unknown[];
}

export interface LedgerReconcileOptions {
  /** balance_snapshots rows are written under this report id (replacing any earlier rows of it). */
  reportId: string;
  pendingDepositHours: number;
  /** Σ completed commission payouts since this time is reported (for the commission wallet check). */
  commissionSince?: string | null;
  /** Findings kept per kind (the counts are exact). */
  maxFindingsPerKind?: number;
}

/**
 * The pass over payments per cash-out, status and kind ($1: commission-since time or null). It reads the
 * covering index payments_recon_by_transaction in its order, so PostgreSQL aggregates as it streams
 * (GroupAggregate) instead of hashing every row; the per-cash-out and per-status views are then summed from
 * its result (≈ 2 rows per cash-out), not from payments again. Exported for the benchmark's EXPLAIN.
 */
export const PAYMENTS_BY_TRANSACTION_SQL = `SELECT transaction_id, status, kind,
                count(*)::bigint AS n,
                COALESCE(sum(amount_sats), 0)::bigint AS sats,
                COALESCE(sum(amount_sats) FILTER (WHERE kind = 'commission' AND status = 'completed' AND completed_at >= $1::timestamptz), 0)::bigint AS commission_since,
                min(created_at) AS oldest
           FROM satoshimachine.payments
          GROUP BY transaction_id, status, kind`;

/** The pass over the fiat debits currently held, per client (index-only on payments_recon_held_debit). */
export const HELD_DEBITS_SQL = `SELECT client_id, sum(fiat_debit_minor)::bigint AS held_debit
           FROM satoshimachine.payments WHERE debit_held AND client_id IS NOT NULL GROUP BY client_id`;

/**
 * Planner settings of the payments passes: no hash aggregation (a million-row hash table costs more than
 * reading the covering index in order; the planner's estimate says otherwise when the visibility map is fresh).
 */
export const PAYMENTS_PASS_SETTINGS = [`SET LOCAL work_mem = '64MB'`, 'SET LOCAL enable_hashagg = off'];

const str = (v: unknown) => (v === null || v === undefined ? '0' : String(v));

/** A snapshot id as pg_export_snapshot() returns it (interpolated: SET TRANSACTION SNAPSHOT takes no parameter). */
const SNAPSHOT_ID = /^[0-9A-F]+-[0-9A-F]+(-[0-9]+)?$/i;

/**
 * Two independent halves run at once on two connections that share ONE snapshot (the first exports it, the
 * second imports it: both see exactly the same rows), so the 2+ cores of the database work in parallel:
 * the cash-out half (the pass over payments per cash-out, conservation, per-status view) and the client half
 * (held debits, deposits, the balance snapshot, the commission formula). Findings are added afterwards in a
 * fixed order.
 */
export async function reconcileLedger(pool: pg.Pool, opts: LedgerReconcileOptions): Promise<LedgerReconciliation> {
  const cap = opts.maxFindingsPerKind ?? 100;
  const timings: Record<string, number> = {};
  const findings: LedgerFinding[] = [];
  const counts: Record<string, number> = {};
  const add = (f: LedgerFinding) => {
    counts[f.kind] = (counts[f.kind] ?? 0) + 1;
    if (counts[f.kind]! <= cap) findings.push(f);
  };
  const timed = async <T>(name: string, fn: () => Promise<T>): Promise<T> => {
    const t0 = Date.now();
    const out = await fn();
    timings[name] = Date.now() - t0;
    return out;
  };
  const { tx, statusRows, lnbitsLosses, clientHalf } = await withTransaction(pool, async (c) => {
    const snapshot = String((await c.query('SELECT pg_export_snapshot() AS s')).rows[0]!.s);
    if (!SNAPSHOT_ID.test(snapshot)) throw new Error(`unexpected snapshot id from pg_export_snapshot(): ${snapshot}`);
    const clientPart = withTransaction(pool, async (b) => {
      await b.query(`SET TRANSACTION SNAPSHOT '${snapshot}'`);
      return reconcileClients(b, opts, timed);
    }, 'BEGIN ISOLATION LEVEL REPEATABLE READ');
    // Both halves end before either connection is released or rolled back (no query left running on it).
    const [cashOuts, clients] = await Promise.allSettled([reconcileCashOuts(c, opts, timed), clientPart]);
    if (cashOuts.status === 'rejected') throw cashOuts.reason;
    if (clients.status === 'rejected') throw clients.reason;
    const clientHalf = clients.value;
    return { ...cashOuts.value, clientHalf };
  }, 'BEGIN ISOLATION LEVEL REPEATABLE READ');

  const { totals } = clientHalf;
  for (const r of clientHalf.mismatches) {
    add({
      kind: 'balance-mismatch',
      subject: String(r.client_id),
      message: `client ${String(r.client_id)}: stored balance ${String(r.stored)} ≠ derived ${String(r.derived)} (fiat minor units, difference ${String(r.diff)})`,
      details: { clientId: r.client_id, storedFiatMinor: r.stored, derivedFiatMinor: r.derived, discrepancyFiatMinor: r.diff },
    });
  }
  for (const r of clientHalf.pending) {
    add({
      kind: 'deposit-pending-long',
      subject: String(r.client_id),
      message: `client ${String(r.client_id)}: ${Number(r.old_pending)} deposit(s) pending for more than ${opts.pendingDepositHours} h`,
      details: { clientId: r.client_id, count: Number(r.old_pending), depositIds: r.old_pending_ids, oldest: (r.oldest_pending as Date).toISOString() },
    });
  }
  for (const d of clientHalf.discrepancies) {
    add({
      kind: 'commission-formula',
      subject: d.id,
      message: `cash-out ${d.lamassuId}: stored split base ${d.baseSats} / commission ${d.commissionSats}, the ${d.commissionModel} formula gives ${d.expectedBase} / ${d.expectedCommission}`,
      details: { ...d },
    });
  }
  const byStatus: Record<string, number> = {};
  for (const [k, v] of Object.entries(tx.by_status as Record<string, unknown>)) byStatus[k] = Number(v);
  for (const b of tx.bad as Array<Record<string, string | boolean | null>>) {
    const base = BigInt(String(b.baseSats ?? '0'));
    const clientOver = BigInt(String(b.clientSats)) + BigInt(String(b.unallocatedSats ?? '0')) - base;
    const commissionOver = BigInt(String(b.commissionPaidSats)) - BigInt(String(b.commissionSats ?? '0'));
    const kind: LedgerFinding['kind'] = b.splitBad || b.cancelledBad ? 'conservation' : clientOver > 0n || commissionOver > 0n ? 'payout-over-allocated' : 'payout-missing';
    // Cancelled payouts' sats stay in the source wallet: they must be recorded on the cash-out (cancelled_sats).
    const what = b.cancelledBad
      ? `cancelled payouts ${String(b.cancelledPayoutSats)} sats, recorded cancelled_sats ${String(b.cancelledSats)}: sats left in the source wallet unrecorded`
      : b.splitBad
      ? `split base ${String(b.baseSats)} + commission ${String(b.commissionSats)} ≠ crypto_atoms ${String(b.cryptoAtoms)}`
      : `client payouts ${String(b.clientSats)} + unallocated ${String(b.unallocatedSats ?? 0)} vs base ${String(b.baseSats)} (${clientOver >= 0n ? '+' : ''}${clientOver}); commission paid ${String(b.commissionPaidSats)} vs ${String(b.commissionSats)} (${commissionOver >= 0n ? '+' : ''}${commissionOver})`;
    add({
      kind,
      subject: String(b.id),
      message: `cash-out ${String(b.lamassuId)} (${String(b.status)}): ${what}`,
      details: { ...b, clientExcessSats: clientOver.toString(), commissionExcessSats: commissionOver.toString() },
    });
  }
  const commissionSince = opts.commissionSince
    ? statusRows.reduce((s, r) => s + BigInt(String(r.commission_since)), 0n).toString()
    : null;
  return {
    findings,
    counts,
    summary: {
      clients: Number(totals.clients),
      storedTotalFiatMinor: str(totals.stored),
      derivedTotalFiatMinor: str(totals.derived),
      maxAbsBalanceDiscrepancyFiatMinor: str(totals.max_abs),
      transactions: { total: Number(tx.total), byStatus, cryptoAtoms: str(tx.atoms), baseSats: str(tx.base), commissionSats: str(tx.commission) },
      payoutsByStatus: statusRows.map((r) => ({
        kind: String(r.kind), status: String(r.status), count: Number(r.n), sats: String(r.sats), oldest: r.oldest ? (r.oldest as Date).toISOString() : null,
      })),
      commissionCompletedSinceSats: commissionSince,
      lnbitsLosses,
      timingsMs: timings,
    },
  };
}

type Timed = <T>(name: string, fn: () => Promise<T>) => Promise<T>;
type Row = Record<string, unknown>;

/** The cash-out half: payments per cash-out/status/kind in one pass, then conservation and the per-status view. */
async function reconcileCashOuts(c: pg.PoolClient, opts: LedgerReconcileOptions, timed: Timed): Promise<{ tx: Row; statusRows: Row[]; lnbitsLosses: LnbitsLossesSummary }> {
  for (const setting of PAYMENTS_PASS_SETTINGS) await c.query(setting);
  // The allocation's client and commission rows per cash-out whatever their status (a released payout stays
  // part of its allocation).
  await timed('paymentsAggregate', () =>
    c.query(`CREATE TEMP TABLE recon_pay ON COMMIT DROP AS ${PAYMENTS_BY_TRANSACTION_SQL}`, [opts.commissionSince ?? null]),
  );
  await c.query('SET LOCAL enable_hashagg = on');
  // Conservation per processed cash-out, one pass over the transactions joined to the per-cash-out sums; one
  // row per status (the bad cash-outs of that status as JSON), summed up below.
  const tx = await timed('conservation', async () => {
    const { rows } = await c.query(
      `SELECT status, count(*)::int AS n, sum(crypto_atoms)::text AS atoms, sum(base_sats)::text AS base, sum(commission_sats)::text AS commission,
              COALESCE(json_agg(bad) FILTER (WHERE bad IS NOT NULL), '[]') AS bad
         FROM (
           SELECT v.status, v.crypto_atoms, v.base_sats, v.commission_sats,
                  CASE WHEN v.split_bad OR v.cancelled_bad OR (v.reserved AND (v.client_sats + COALESCE(v.unallocated_sats, 0) <> v.base_sats
                                                                           OR v.commission_paid <> v.commission_sats))
                  THEN json_build_object('id', v.id, 'lamassuId', v.lamassu_id, 'status', v.status, 'cryptoAtoms', v.crypto_atoms::text,
                                         'baseSats', v.base_sats::text, 'commissionSats', v.commission_sats::text, 'unallocatedSats', v.unallocated_sats::text,
                                         'clientSats', v.client_sats::text, 'commissionPaidSats', v.commission_paid::text, 'splitBad', v.split_bad,
                                         'cancelledSats', v.cancelled_sats::text, 'cancelledPayoutSats', v.cancelled_rows::text, 'cancelledBad', v.cancelled_bad) END AS bad
             FROM (
               SELECT t.*,
                      t.status IN ('completed', 'processing') AND (t.base_sats IS NULL AND t.status = 'completed' OR t.base_sats + t.commission_sats <> t.crypto_atoms) AS split_bad,
                      t.status IN ('completed', 'processing') AND t.base_sats IS NOT NULL AND (t.status = 'completed' OR t.has_payments OR t.unallocated_sats IS NOT NULL) AS reserved,
                      t.cancelled_rows <> t.cancelled_sats AS cancelled_bad
                 FROM (
                   SELECT t.id, t.lamassu_id, t.status, t.crypto_atoms, t.base_sats, t.commission_sats, t.unallocated_sats, t.cancelled_sats,
                          p.transaction_id IS NOT NULL AS has_payments, COALESCE(p.alloc_client_sats, 0) AS client_sats,
                          COALESCE(p.commission_row_sats, 0) AS commission_paid, COALESCE(p.cancelled_row_sats, 0) AS cancelled_rows
                     FROM satoshimachine.lamassu_transactions t
                     LEFT JOIN (SELECT transaction_id,
                                       sum(sats) FILTER (WHERE kind = 'client') AS alloc_client_sats,
                                       sum(sats) FILTER (WHERE kind = 'commission') AS commission_row_sats,
                                       sum(sats) FILTER (WHERE status = 'cancelled') AS cancelled_row_sats
                                  FROM recon_pay GROUP BY transaction_id) p ON p.transaction_id = t.id
                 ) t
             ) v
         ) x GROUP BY status`,
    );
    const sum = (k: string) => rows.reduce((s, r) => s + BigInt(String(r[k] ?? '0')), 0n).toString();
    return {
      total: rows.reduce((s, r) => s + Number(r.n), 0),
      by_status: Object.fromEntries(rows.map((r) => [String(r.status), Number(r.n)])),
      atoms: sum('atoms'), base: sum('base'), commission: sum('commission'),
      bad: rows.flatMap((r) => r.bad as unknown[]),
    };
  });
  const statusRows = await c.query(
    `SELECT kind, status, sum(n)::int AS n, sum(sats)::text AS sats, min(oldest) AS oldest, sum(commission_since)::text AS commission_since
       FROM recon_pay GROUP BY kind, status ORDER BY kind, status`,
  );
  // Sats the source paid that LNbits lost (recorded by `tx settle-lost-payment`): listed, not a finding.
  const losses = await c.query(
    `SELECT count(*)::int AS n, COALESCE(sum(amount_sats), 0)::text AS sats,
            COALESCE(json_agg(json_build_object('paymentId', payment_id, 'transactionId', transaction_id, 'lostPaymentHash', lost_payment_hash,
                                                'amountSats', amount_sats, 'recordedAt', recorded_at) ORDER BY recorded_at DESC) FILTER (WHERE rn <= 50), '[]') AS recent
       FROM (SELECT *, row_number() OVER (ORDER BY recorded_at DESC) AS rn FROM satoshimachine.lnbits_losses) l`,
  );
  const lost = losses.rows[0]!;
  return { tx, statusRows: statusRows.rows, lnbitsLosses: { count: Number(lost.n), sats: String(lost.sats), recent: lost.recent as unknown[] } };
}

/** The client half: held debits and deposits per client, the balance snapshot, the commission formula. */
async function reconcileClients(c: pg.PoolClient, opts: LedgerReconcileOptions, timed: Timed) {
  for (const setting of PAYMENTS_PASS_SETTINGS) await c.query(setting);
  await timed('heldDebits', () => c.query(`CREATE TEMP TABLE recon_held ON COMMIT DROP AS ${HELD_DEBITS_SQL}`));
  await c.query('SET LOCAL enable_hashagg = on');
  // Deposits, one pass: confirmed totals and long-pending deposits per client.
  await timed('depositsAggregate', () =>
    c.query(
      `CREATE TEMP TABLE recon_dep ON COMMIT DROP AS
       SELECT client_id,
              COALESCE(sum(amount_fiat_minor) FILTER (WHERE status = 'confirmed'), 0)::bigint AS confirmed,
              count(*) FILTER (WHERE status = 'pending' AND created_at < now() - make_interval(hours => $1::int))::int AS old_pending,
              (array_agg(id ORDER BY created_at) FILTER (WHERE status = 'pending' AND created_at < now() - make_interval(hours => $1::int)))[1:20] AS old_pending_ids,
              min(created_at) FILTER (WHERE status = 'pending' AND created_at < now() - make_interval(hours => $1::int)) AS oldest_pending
         FROM satoshimachine.deposits GROUP BY client_id`,
      [opts.pendingDepositHours],
    ),
  );
  // Stored vs derived per client (derived = confirmed deposits − payout debits held (reserved, completed, or
  // failed and not yet compensated) + adjustments), kept as the daily snapshot.
  await timed('balanceSnapshot', async () => {
    await c.query('DELETE FROM satoshimachine.balance_snapshots WHERE report_id = $1', [opts.reportId]);
    await c.query(
      `INSERT INTO satoshimachine.balance_snapshots (report_id, client_id, stored_fiat_minor, derived_fiat_minor)
       SELECT $1, cl.id, cl.remaining_balance_fiat_minor, COALESCE(d.confirmed, 0) - COALESCE(p.held_debit, 0) + COALESCE(a.total, 0)
         FROM satoshimachine.clients cl
         LEFT JOIN recon_dep d ON d.client_id = cl.id
         LEFT JOIN recon_held p ON p.client_id = cl.id
         LEFT JOIN (SELECT client_id, sum(amount_fiat_minor)::bigint AS total FROM satoshimachine.adjustments GROUP BY client_id) a ON a.client_id = cl.id`,
      [opts.reportId],
    );
  });
  const totals = await timed('balanceCompare', async () => {
    const { rows } = await c.query(
      `SELECT count(*)::int AS clients, COALESCE(sum(stored_fiat_minor), 0)::text AS stored, COALESCE(sum(derived_fiat_minor), 0)::text AS derived,
              COALESCE(max(abs(stored_fiat_minor - derived_fiat_minor)), 0)::text AS max_abs
         FROM satoshimachine.balance_snapshots WHERE report_id = $1`,
      [opts.reportId],
    );
    return rows[0]!;
  });
  const mismatches = await c.query(
    `SELECT client_id, stored_fiat_minor::text AS stored, derived_fiat_minor::text AS derived, (stored_fiat_minor - derived_fiat_minor)::text AS diff
       FROM satoshimachine.balance_snapshots WHERE report_id = $1 AND stored_fiat_minor <> derived_fiat_minor
      ORDER BY abs(stored_fiat_minor - derived_fiat_minor) DESC, client_id`,
    [opts.reportId],
  );
  const pending = await c.query(`SELECT client_id, old_pending, old_pending_ids, oldest_pending FROM recon_dep WHERE old_pending > 0 ORDER BY oldest_pending`);
  // Commission re-verified for every cash-out with a split: the runbook's query, exact (no ± 1 sat tolerance).
  const discrepancies = await timed('commissionVerify', () => findCommissionDiscrepancies(c));
  return { totals, mismatches: mismatches.rows, pending: pending.rows, discrepancies };
}

export interface PayoutToVerify {
  id: string;
  transactionId: string;
  kind: string;
  amountSats: number;
  paymentHash: string | null;
  completedAt: string;
}

/** A completed payout with what the recipient check needs: its recipient, stored invoice, and whether its
 * current hash is a recorded LNbits loss (then the losses check covers it, never the recipient check). */
export interface CompletedPayout extends PayoutToVerify {
  clientId: string | null;
  bolt11: string | null;
  recordedLost: boolean;
}

/**
 * Completed payouts with something to send (amount > 0), in id order after `afterId`, optionally only those
 * completed since `since`; `sampleFraction` (0 < f ≤ 1) picks a random subset (for very large ledgers).
 */
export async function completedPayoutsPage(
  db: pg.Pool | pg.PoolClient,
  opts: { afterId?: string | null; since?: string | null; limit: number; sampleFraction?: number },
): Promise<CompletedPayout[]> {
  const { rows } = await db.query(
    `SELECT p.id, p.transaction_id, p.kind, p.client_id, p.amount_sats::text AS amount_sats, p.payment_hash, p.bolt11, p.completed_at,
            EXISTS (SELECT 1 FROM satoshimachine.lnbits_losses l WHERE l.payment_id = p.id AND l.lost_payment_hash = p.payment_hash) AS recorded_lost
       FROM satoshimachine.payments p
      WHERE p.status = 'completed' AND p.amount_sats > 0
        AND ($1::uuid IS NULL OR p.id > $1) AND ($2::timestamptz IS NULL OR p.completed_at >= $2)
        AND ($4::float8 IS NULL OR random() < $4)
      ORDER BY p.id LIMIT $3`,
    [opts.afterId ?? null, opts.since ?? null, opts.limit, opts.sampleFraction ?? null],
  );
  return rows.map((r) => ({
    id: String(r.id), transactionId: String(r.transaction_id), kind: String(r.kind), amountSats: Number(r.amount_sats),
    paymentHash: (r.payment_hash as string | null) ?? null, completedAt: (r.completed_at as Date).toISOString(),
    clientId: r.client_id === null ? null : String(r.client_id), bolt11: (r.bolt11 as string | null) ?? null, recordedLost: r.recorded_lost === true,
  }));
}

/**
 * Every invoice that must NOT have been paid: the current invoice of each failed or cancelled payout and
 * every replaced invoice of any payout (issue 19: a payment of one of them is money that left unrecorded) —
 * except the hashes recorded as lost by LNbits (lnbits_losses, `tx settle-lost-payment`): the source did pay
 * those, nobody received them; the LNbits part checks them on their own (lostPaymentsToVerify).
 */
export async function unpaidInvoicesPage(db: pg.Pool | pg.PoolClient, opts: { afterKey?: string | null; limit: number }): Promise<Array<PayoutToVerify & { status: string; key: string }>> {
  const { rows } = await db.query(
    `SELECT * FROM (
       SELECT id, transaction_id, kind, amount_sats::text AS amount_sats, status, payment_hash AS hash, updated_at
         FROM satoshimachine.payments WHERE status IN ('failed', 'cancelled') AND payment_hash IS NOT NULL
       UNION ALL
       SELECT id, transaction_id, kind, amount_sats::text, status, unnest(replaced_payment_hashes), updated_at
         FROM satoshimachine.payments WHERE cardinality(replaced_payment_hashes) > 0
     ) x WHERE ($1::text IS NULL OR id::text || ':' || hash > $1)
         AND NOT EXISTS (SELECT 1 FROM satoshimachine.lnbits_losses l WHERE l.payment_id = x.id AND l.lost_payment_hash = x.hash)
       ORDER BY id::text || ':' || hash LIMIT $2`,
    [opts.afterKey ?? null, opts.limit],
  );
  return rows.map((r) => ({
    id: String(r.id), transactionId: String(r.transaction_id), kind: String(r.kind), amountSats: Number(r.amount_sats), status: String(r.status),
    paymentHash: String(r.hash), completedAt: (r.updated_at as Date).toISOString(), key: `${String(r.id)}:${String(r.hash)}`,
  }));
}

export async function beginReport(db: pg.Pool, runKey: string): Promise<{ reportId: string; startedAt: string; previousStartedAt: string | null }> {
  const { rows } = await db.query(
    `WITH ins AS (
       INSERT INTO satoshimachine.reconciliation_reports (run_key) VALUES ($1)
       ON CONFLICT (run_key) DO UPDATE SET run_key = EXCLUDED.run_key RETURNING id, started_at)
     SELECT ins.id::text AS id, ins.started_at,
            (SELECT max(started_at) FROM satoshimachine.reconciliation_reports r WHERE r.finished_at IS NOT NULL AND r.run_key <> $1) AS previous
       FROM ins`,
    [runKey],
  );
  const r = rows[0]!;
  return { reportId: String(r.id), startedAt: (r.started_at as Date).toISOString(), previousStartedAt: r.previous ? (r.previous as Date).toISOString() : null };
}

export async function finishReport(db: pg.Pool, reportId: string, findings: unknown[], summary: Record<string, unknown>): Promise<{ finishedAt: string }> {
  const { rows } = await db.query(
    `UPDATE satoshimachine.reconciliation_reports SET finished_at = COALESCE(finished_at, now()), findings = $2::jsonb, summary = $3::jsonb
      WHERE id = $1 RETURNING finished_at`,
    [reportId, JSON.stringify(findings), JSON.stringify(summary)],
  );
  return { finishedAt: (rows[0]!.finished_at as Date).toISOString() };
}
