/**
 * Reserving a cash-out's payouts: payment rows + client balance debits + balance_log, all in one DB
 * transaction, before any money moves (ledger first, then the external call). Compensation releases them.
 *
 * Lock order, everywhere: the transaction row, then clients by id (lockClients). Payment rows are created
 * here, so no other path can hold one while waiting for a client lock taken here.
 */
import type pg from 'pg';
import type { Allocation } from '../../domain/allocation';
import { ClientNotEligibleError, LedgerNotFoundError, LedgerStateError } from '../../domain/errors';
import { type FiatMinor, type Sats } from '../../domain/money';
import { applyBalanceChange } from './balances';
import { lockClients } from './clients';
import { type Queryable, fiatCol, isoCol, nullableIsoCol, satsCol, withTransaction } from './db';

export type PaymentKind = 'client' | 'commission';
export type PaymentStatus = 'pending' | 'completed' | 'failed' | 'cancelled';

export interface PaymentRow {
  id: string;
  transactionId: string;
  clientId: string | null;
  kind: PaymentKind;
  amountSats: Sats;
  fiatDebit: FiatMinor;
  status: PaymentStatus;
  paymentHash: string | null;
  bolt11: string | null;
  /** Hashes of earlier invoices of this payout, replaced after they expired unpaid (oldest first). */
  replacedPaymentHashes: string[];
  attempts: number;
  lastError: string | null;
  createdAt: string;
  updatedAt: string;
  completedAt: string | null;
}

const COLUMNS = `id, transaction_id, client_id, kind, amount_sats, fiat_debit_minor, status, payment_hash, bolt11, attempts,
  last_error, created_at, updated_at, completed_at, replaced_payment_hashes`;

export function mapPayment(r: Record<string, unknown>): PaymentRow {
  return {
    id: String(r.id),
    transactionId: String(r.transaction_id),
    clientId: (r.client_id as string | null) ?? null,
    kind: r.kind as PaymentKind,
    amountSats: satsCol(r.amount_sats, 'amount_sats'),
    fiatDebit: fiatCol(r.fiat_debit_minor, 'fiat_debit_minor'),
    status: r.status as PaymentStatus,
    paymentHash: (r.payment_hash as string | null) ?? null,
    bolt11: (r.bolt11 as string | null) ?? null,
    replacedPaymentHashes: (r.replaced_payment_hashes as string[] | undefined) ?? [],
    attempts: Number(r.attempts),
    lastError: (r.last_error as string | null) ?? null,
    createdAt: isoCol(r.created_at),
    updatedAt: isoCol(r.updated_at),
    completedAt: nullableIsoCol(r.completed_at),
  };
}

/** All payments of a transaction: client payouts by client id, then the commission. */
export async function listPayments(db: Queryable, transactionId: string): Promise<PaymentRow[]> {
  const { rows } = await db.query(
    `SELECT ${COLUMNS} FROM satoshimachine.payments WHERE transaction_id = $1 ORDER BY kind = 'commission', client_id`,
    [transactionId],
  );
  return rows.map(mapPayment);
}

/** The allocation must describe the transaction's recorded split and be internally consistent. */
function checkAllocation(txId: string, tx: Record<string, unknown>, a: Allocation): void {
  const fail = (msg: string, field: string) => {
    throw new LedgerStateError(`transaction ${txId}: ${msg}`, field);
  };
  if (tx.base_sats === null) fail('commission not recorded yet', 'base_sats');
  if (String(tx.base_sats) !== String(a.baseSats)) fail(`allocation is for ${a.baseSats} sats but base_sats is ${String(tx.base_sats)}`, 'baseSats');
  if (tx.fiat_minor !== null && String(tx.fiat_minor) !== String(a.dispensedFiat)) fail('allocation dispensedFiat differs from fiat_minor', 'dispensedFiat');
  const ids = new Set(a.lines.map((l) => l.clientId));
  if (ids.size !== a.lines.length) fail('allocation names a client twice', 'lines');
  const satsSum = a.lines.reduce((s, l) => s + BigInt(l.sats), 0n);
  if (satsSum + BigInt(a.unallocatedSats) !== BigInt(a.baseSats)) fail('allocation does not conserve sats', 'lines');
  if (a.lines.some((l) => !(l.fiatDebit > 0) || l.sats < 0)) fail('allocation has a non-positive debit', 'lines');
}

/**
 * Reserve the payouts of `transactionId` per `allocation` (from domain/allocation `allocate`). One DB
 * transaction: client payments (pending; a 0-sat dust line is completed at once), one commission payment
 * when commission_sats > 0, client balance debits with balance_log, unallocated_sats on the transaction.
 *
 * Idempotent: if the transaction already has payments, nothing changes and the existing rows are returned.
 * Fails (rolling everything back) with BalanceWouldGoNegativeError if a debit exceeds a stored balance, and
 * with ClientNotEligibleError if a client is missing, not active/flow, or in another currency.
 */
export async function reservePayouts(pool: pg.Pool, transactionId: string, allocation: Allocation): Promise<PaymentRow[]> {
  return withTransaction(pool, async (c) => {
    const txRes = await c.query(
      `SELECT id, fiat_code, base_sats, commission_sats, fiat_minor FROM satoshimachine.lamassu_transactions WHERE id = $1 FOR UPDATE`,
      [transactionId],
    );
    const tx = txRes.rows[0];
    if (!tx) throw new LedgerNotFoundError(`transaction ${transactionId} not found`, 'transaction_id');
    const existing = await listPayments(c, transactionId);
    if (existing.length > 0) return existing;
    checkAllocation(transactionId, tx, allocation);

    const lines = [...allocation.lines].sort((a, b) => (a.clientId < b.clientId ? -1 : a.clientId > b.clientId ? 1 : 0));
    const clients = await lockClients(c, lines.map((l) => l.clientId));
    for (const l of lines) {
      const cl = clients.get(l.clientId);
      if (!cl) throw new ClientNotEligibleError(l.clientId, 'client not found');
      if (cl.status !== 'active' || cl.mode !== 'flow') throw new ClientNotEligibleError(l.clientId, `client is ${cl.status}/${cl.mode}`);
      if (cl.currency !== tx.fiat_code) throw new ClientNotEligibleError(l.clientId, `client currency ${cl.currency} ≠ ${String(tx.fiat_code)}`);
    }

    const ins = await c.query(
      `INSERT INTO satoshimachine.payments (transaction_id, client_id, kind, amount_sats, fiat_debit_minor, status, completed_at)
       SELECT $1, u.client_id, 'client', u.sats, u.debit,
              CASE WHEN u.sats = 0 THEN 'completed' ELSE 'pending' END,
              CASE WHEN u.sats = 0 THEN now() END
         FROM unnest($2::uuid[], $3::bigint[], $4::bigint[]) AS u(client_id, sats, debit)
       RETURNING id, client_id`,
      [transactionId, lines.map((l) => l.clientId), lines.map((l) => String(l.sats)), lines.map((l) => String(l.fiatDebit))],
    );
    const paymentIdByClient = new Map(ins.rows.map((r) => [String(r.client_id), String(r.id)]));
    // Debits in client-id order under the locks taken above; a debit above the stored balance throws.
    for (const l of lines) {
      await applyBalanceChange(c, l.clientId, clients.get(l.clientId)!.balance, -BigInt(l.fiatDebit), 'payout_reserved', {
        paymentId: paymentIdByClient.get(l.clientId)!,
      });
    }
    if (BigInt(tx.commission_sats) > 0n) {
      await c.query(
        `INSERT INTO satoshimachine.payments (transaction_id, kind, amount_sats) VALUES ($1, 'commission', $2)`,
        [transactionId, String(tx.commission_sats)],
      );
    }
    await c.query(`UPDATE satoshimachine.lamassu_transactions SET unallocated_sats = $2 WHERE id = $1`, [transactionId, String(allocation.unallocatedSats)]);
    return listPayments(c, transactionId);
  });
}

async function releaseLocked(c: pg.PoolClient, p: PaymentRow, reason: string): Promise<PaymentRow> {
  if (p.status === 'cancelled') return p; // released before: idempotent
  if (p.status === 'completed') throw new LedgerStateError(`payment ${p.id} is completed and cannot be released`, 'status');
  // A payout the cash-out workflow already compensated (failed, debit released) is only closed here.
  const { rows: held } = await c.query(`SELECT debit_held, reserve_round FROM satoshimachine.payments WHERE id = $1`, [p.id]);
  const debitHeld = Boolean(held[0]?.debit_held);
  const round = Number(held[0]?.reserve_round ?? 1);
  const { rows } = await c.query(
    `UPDATE satoshimachine.payments SET status = 'cancelled', debit_held = false, last_error = $2 WHERE id = $1 RETURNING ${COLUMNS}`,
    [p.id, reason],
  );
  if (p.kind === 'client' && p.clientId && p.fiatDebit > 0 && debitHeld) {
    const client = (await lockClients(c, [p.clientId])).get(p.clientId);
    if (!client) throw new LedgerNotFoundError(`client ${p.clientId} not found`, 'client_id');
    await applyBalanceChange(c, p.clientId, client.balance, BigInt(p.fiatDebit), 'payout_released', { paymentId: p.id, round });
  }
  return mapPayment(rows[0]);
}

/**
 * Compensation for one payout that will never be sent: mark it cancelled (terminal, so no retry can pay it
 * later) and give the client its fiat debit back, logged. Idempotent; a completed payment is refused.
 * The caller must have verified with LNbits that the payment did not and cannot settle.
 */
export async function releasePayout(pool: pg.Pool, paymentId: string, reason: string): Promise<PaymentRow> {
  return withTransaction(pool, async (c) => {
    const { rows } = await c.query(`SELECT ${COLUMNS} FROM satoshimachine.payments WHERE id = $1 FOR UPDATE`, [paymentId]);
    if (rows.length === 0) throw new LedgerNotFoundError(`payment ${paymentId} not found`, 'payment_id');
    return releaseLocked(c, mapPayment(rows[0]), reason);
  });
}

/**
 * Release every pending or failed payment of a transaction (client debits restored, commission cancelled)
 * in one DB transaction; completed payments stay. Returns all payments of the transaction afterwards.
 */
export async function releaseTransactionPayouts(pool: pg.Pool, transactionId: string, reason: string): Promise<PaymentRow[]> {
  return withTransaction(pool, async (c) => {
    await c.query(`SELECT id FROM satoshimachine.lamassu_transactions WHERE id = $1 FOR UPDATE`, [transactionId]);
    const { rows } = await c.query(
      `SELECT ${COLUMNS} FROM satoshimachine.payments WHERE transaction_id = $1 AND status IN ('pending', 'failed')
        ORDER BY client_id NULLS LAST FOR UPDATE`,
      [transactionId],
    );
    const open = rows.map(mapPayment);
    await lockClients(c, open.flatMap((p) => (p.clientId ? [p.clientId] : []))); // id order before any update
    for (const p of open) await releaseLocked(c, p, reason);
    return listPayments(c, transactionId);
  });
}
