/**
 * Ledger operations of the cash-out workflow (activities/cashout.ts): recording the transaction under its
 * Temporal run, payout bookkeeping (invoice, attempts, completion), compensation rounds and the funding
 * credit guard. Lock order as everywhere: the transaction row, then payments, then clients by id.
 */
import type pg from 'pg';
import { LedgerNotFoundError, LedgerStateError } from '../../domain/errors';
import { applyBalanceChange } from './balances';
import { lockClients } from './clients';
import { type Queryable, withTransaction } from './db';
import { type PaymentRow, listPayments, mapPayment } from './reservations';
import { type LamassuTransactionInsert, type TransactionRow, type TransactionStatus, mapTransaction } from './transactions';

const TX_COLUMNS = `id, lamassu_id, crypto_atoms::text AS crypto_atoms, fiat::text AS fiat, fiat_code, crypto_code,
  commission_percentage::text AS commission_percentage, discount, raw_ticker_price::text AS raw_ticker_price, confirmed_at,
  fiat_minor, commission_model, effective_commission::text AS effective_commission, base_sats, commission_sats,
  unallocated_sats, status, error, rejected_field, workflow_id, created_at, updated_at`;
const PAY_COLUMNS = `id, transaction_id, client_id, kind, amount_sats, fiat_debit_minor, status, payment_hash, bolt11, attempts,
  last_error, created_at, updated_at, completed_at, replaced_payment_hashes`;

export type RecordOutcome = 'inserted' | 'same-run' | 'duplicate';

/**
 * Insert the transaction owned by (workflowId, runId) in ONE statement (so a crash cannot leave it without
 * its owner). The row exists already: same run id → 'same-run' (an activity retry), anything else
 * → 'duplicate' (another run, a forgotten workflow, or a row recorded by ingestion as rejected).
 */
export async function recordCashOutTransaction(
  db: Queryable,
  t: LamassuTransactionInsert,
  owner: { workflowId: string; runId: string },
): Promise<{ transaction: TransactionRow; outcome: RecordOutcome; ownerRunId: string | null }> {
  const ins = await db.query(
    `INSERT INTO satoshimachine.lamassu_transactions
       (lamassu_id, device_id, crypto_atoms, received_crypto_atoms, crypto_code, fiat, fiat_code, commission_percentage,
        discount, raw_ticker_price, fixed_fee, lamassu_status, dispense, dispense_confirmed, lamassu_error,
        lamassu_error_code, created, confirmed_at, workflow_id, run_id, status)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, 'processing')
     ON CONFLICT (lamassu_id) DO NOTHING
     RETURNING ${TX_COLUMNS}`,
    [
      t.lamassuId, t.deviceId, t.cryptoAtoms, t.receivedCryptoAtoms, t.cryptoCode, t.fiat, t.fiatCode, t.commissionPercentage,
      t.discount, t.rawTickerPrice, t.fixedFee, t.lamassuStatus, t.dispense, t.dispenseConfirmed, t.lamassuError,
      t.lamassuErrorCode, t.created, t.confirmedAt, owner.workflowId, owner.runId,
    ],
  );
  if (ins.rows.length > 0) return { transaction: mapTransaction(ins.rows[0]), outcome: 'inserted', ownerRunId: owner.runId };
  const { rows } = await db.query(`SELECT ${TX_COLUMNS}, run_id FROM satoshimachine.lamassu_transactions WHERE lamassu_id = $1`, [t.lamassuId]);
  const ownerRunId = (rows[0].run_id as string | null) ?? null;
  return { transaction: mapTransaction(rows[0]), outcome: ownerRunId === owner.runId ? 'same-run' : 'duplicate', ownerRunId };
}

export async function setTransactionStatus(db: Queryable, id: string, status: TransactionStatus, error: string | null = null): Promise<TransactionRow> {
  const { rows } = await db.query(
    `UPDATE satoshimachine.lamassu_transactions
        SET status = $2, error = $3, completed_at = CASE WHEN $2 IN ('completed', 'failed') THEN now() ELSE NULL END
      WHERE id = $1 RETURNING ${TX_COLUMNS}`,
    [id, status, error],
  );
  if (rows.length === 0) throw new LedgerNotFoundError(`transaction ${id} not found`, 'transaction_id');
  return mapTransaction(rows[0]);
}

export async function getPayoutRow(db: Queryable, paymentId: string): Promise<PaymentRow & { reserveRound: number; debitHeld: boolean }> {
  const { rows } = await db.query(`SELECT ${PAY_COLUMNS}, reserve_round, debit_held FROM satoshimachine.payments WHERE id = $1`, [paymentId]);
  if (rows.length === 0) throw new LedgerNotFoundError(`payment ${paymentId} not found`, 'payment_id');
  return { ...mapPayment(rows[0]), reserveRound: Number(rows[0].reserve_round), debitHeld: Boolean(rows[0].debit_held) };
}

/** Count one transfer attempt (before the LNbits calls). */
export async function notePaymentAttempt(db: Queryable, paymentId: string): Promise<void> {
  await db.query(`UPDATE satoshimachine.payments SET attempts = attempts + 1, last_attempt_at = now() WHERE id = $1`, [paymentId]);
}

/** A failed attempt; a pending payout also starts (or continues) its waiting streak (waiting_since). */
export async function notePaymentError(db: Queryable, paymentId: string, error: string): Promise<void> {
  await db.query(
    `UPDATE satoshimachine.payments SET last_error = $2, waiting_since = CASE WHEN status = 'pending' THEN COALESCE(waiting_since, now()) ELSE waiting_since END
      WHERE id = $1 AND status <> 'completed'`,
    [paymentId, error.slice(0, 500)],
  );
}

/**
 * Store the payout's invoice once (WHERE payment_hash IS NULL). Returns the row as stored: when another
 * attempt stored one first, that invoice is the payout's and the caller's new invoice is simply never paid.
 */
export async function setPaymentInvoice(db: Queryable, paymentId: string, paymentHash: string, bolt11: string): Promise<PaymentRow> {
  await db.query(`UPDATE satoshimachine.payments SET payment_hash = $2, bolt11 = $3 WHERE id = $1 AND payment_hash IS NULL AND status = 'pending'`, [paymentId, paymentHash, bolt11]);
  const row = await getPayoutRow(db, paymentId);
  // A payout compensated (failed, its debit possibly released) while a late attempt was creating its invoice:
  // that attempt must not pay anything. Compensation saw no invoice, so none may appear now.
  if (row.status !== 'pending' && row.status !== 'completed') throw new LedgerStateError(`payment ${paymentId} is ${row.status}: its invoice is not stored, nothing is paid`, 'status');
  return row;
}

/**
 * Replace a pending payout's expired invoice (`oldHash`, which LNbits reported failed and the payer never
 * paid) by a fresh one, keeping the old hash in replaced_payment_hashes. Compare-and-set on the old hash:
 * when another attempt replaced it first, the row is returned as stored and the caller's invoice is never paid.
 */
export async function replacePaymentInvoice(db: Queryable, paymentId: string, oldHash: string, paymentHash: string, bolt11: string): Promise<PaymentRow> {
  await db.query(
    `UPDATE satoshimachine.payments
        SET payment_hash = $3, bolt11 = $4, replaced_payment_hashes = replaced_payment_hashes || $2::text
      WHERE id = $1 AND payment_hash = $2 AND status = 'pending'`,
    [paymentId, oldHash, paymentHash, bolt11],
  );
  return getPayoutRow(db, paymentId);
}

/** pending → completed (idempotent). A failed payout found paid must be re-reserved first (reserveFailedPayouts). */
export async function completePayment(db: Queryable, paymentId: string): Promise<PaymentRow> {
  const { rows } = await db.query(
    `UPDATE satoshimachine.payments SET status = 'completed', completed_at = now(), last_error = NULL, waiting_since = NULL
      WHERE id = $1 AND status = 'pending' RETURNING ${PAY_COLUMNS}`,
    [paymentId],
  );
  if (rows.length > 0) return mapPayment(rows[0]);
  const p = await getPayoutRow(db, paymentId);
  if (p.status !== 'completed') throw new LedgerStateError(`payment ${paymentId} is ${p.status}, not pending`, 'status');
  return p;
}

async function lockOpenPayments(c: pg.PoolClient, transactionId: string, statuses: string[]) {
  const tx = await c.query(`SELECT id FROM satoshimachine.lamassu_transactions WHERE id = $1 FOR UPDATE`, [transactionId]);
  if (tx.rows.length === 0) throw new LedgerNotFoundError(`transaction ${transactionId} not found`, 'transaction_id');
  const { rows } = await c.query(
    `SELECT ${PAY_COLUMNS}, reserve_round, debit_held FROM satoshimachine.payments
      WHERE transaction_id = $1 AND status = ANY($2::text[]) ORDER BY client_id NULLS LAST FOR UPDATE`,
    [transactionId, statuses],
  );
  const open = rows.map((r) => ({ ...mapPayment(r), reserveRound: Number(r.reserve_round), debitHeld: Boolean(r.debit_held) }));
  const clients = await lockClients(c, open.flatMap((p) => (p.clientId ? [p.clientId] : []))); // id order before any update
  return { open, clients };
}

/**
 * Compensation (runbook scenario 3): every pending payout of the transaction becomes failed and its client
 * debit is restored (balance_log 'payout_released' for its round), in one DB transaction. `paid` lists
 * payouts LNbits confirmed as paid: they are completed instead (never reversed). `unknown` lists payouts
 * whose invoice may have been paid (LNbits could not say): they become failed but KEEP their debit, so the
 * client cannot spend that fiat again on another cash-out before the operator's retry or cancel (both ask
 * LNbits first). Completed payouts stay.
 */
export async function failOpenPayouts(
  pool: pg.Pool,
  transactionId: string,
  reason: string,
  paid: ReadonlySet<string> = new Set(),
  unknown: ReadonlySet<string> = new Set(),
): Promise<PaymentRow[]> {
  return withTransaction(pool, async (c) => {
    const { open, clients } = await lockOpenPayments(c, transactionId, ['pending', 'failed']);
    for (const p of open) {
      // Paid and still debited (pending, or failed with its debit kept): completed, never reversed.
      if (paid.has(p.id) && (p.status === 'pending' || p.debitHeld)) {
        await c.query(`UPDATE satoshimachine.payments SET status = 'completed', completed_at = now(), debit_held = true, last_error = NULL, waiting_since = NULL WHERE id = $1`, [p.id]);
        continue;
      }
      if (unknown.has(p.id)) {
        await c.query(`UPDATE satoshimachine.payments SET status = 'failed', waiting_since = NULL, last_error = COALESCE(last_error, $2) WHERE id = $1`, [p.id, reason.slice(0, 500)]);
        continue;
      }
      if (p.kind === 'client' && p.clientId && p.fiatDebit > 0 && p.debitHeld) {
        const before = clients.get(p.clientId)!.balance;
        const change = await applyBalanceChange(c, p.clientId, before, BigInt(p.fiatDebit), 'payout_released', { paymentId: p.id, round: p.reserveRound });
        clients.set(p.clientId, { ...clients.get(p.clientId)!, balance: change.after });
      }
      await c.query(`UPDATE satoshimachine.payments SET status = 'failed', debit_held = false, waiting_since = NULL, last_error = COALESCE(last_error, $2) WHERE id = $1`, [p.id, reason.slice(0, 500)]);
    }
    return listPayments(c, transactionId);
  });
}

/**
 * Operator retry: failed payouts become pending again in a new round, their client debit applied again
 * (BalanceWouldGoNegativeError if the client no longer has it: nothing changes then).
 */
export async function reserveFailedPayouts(pool: pg.Pool, transactionId: string): Promise<PaymentRow[]> {
  return withTransaction(pool, async (c) => {
    const { open, clients } = await lockOpenPayments(c, transactionId, ['failed']);
    for (const p of open) {
      const round = p.debitHeld ? p.reserveRound : p.reserveRound + 1;
      if (p.kind === 'client' && p.clientId && p.fiatDebit > 0 && !p.debitHeld) {
        const before = clients.get(p.clientId)!.balance;
        const change = await applyBalanceChange(c, p.clientId, before, -BigInt(p.fiatDebit), 'payout_reserved', { paymentId: p.id, round });
        clients.set(p.clientId, { ...clients.get(p.clientId)!, balance: change.after });
      }
      await c.query(`UPDATE satoshimachine.payments SET status = 'pending', debit_held = true, reserve_round = $2 WHERE id = $1`, [p.id, round]);
    }
    return listPayments(c, transactionId);
  });
}

/**
 * Operator cancel: failed payouts become cancelled (final); a debit still held is restored. Payouts LNbits
 * confirmed as paid (`paid`) are re-debited and completed instead: a paid payout is never cancelled.
 */
export async function cancelFailedPayoutRows(pool: pg.Pool, transactionId: string, reason: string, paid: ReadonlySet<string> = new Set()): Promise<PaymentRow[]> {
  return withTransaction(pool, async (c) => {
    const { open, clients } = await lockOpenPayments(c, transactionId, ['failed']);
    for (const p of open) {
      const hasDebit = p.kind === 'client' && p.clientId !== null && p.fiatDebit > 0;
      if (paid.has(p.id)) {
        const round = p.debitHeld ? p.reserveRound : p.reserveRound + 1;
        if (hasDebit && !p.debitHeld) {
          const change = await applyBalanceChange(c, p.clientId!, clients.get(p.clientId!)!.balance, -BigInt(p.fiatDebit), 'payout_reserved', { paymentId: p.id, round });
          clients.set(p.clientId!, { ...clients.get(p.clientId!)!, balance: change.after });
        }
        await c.query(
          `UPDATE satoshimachine.payments SET status = 'completed', completed_at = now(), debit_held = true, reserve_round = $2, last_error = NULL WHERE id = $1`,
          [p.id, round],
        );
        continue;
      }
      if (hasDebit && p.debitHeld) {
        const change = await applyBalanceChange(c, p.clientId!, clients.get(p.clientId!)!.balance, BigInt(p.fiatDebit), 'payout_released', { paymentId: p.id, round: p.reserveRound });
        clients.set(p.clientId!, { ...clients.get(p.clientId!)!, balance: change.after });
      }
      await c.query(`UPDATE satoshimachine.payments SET status = 'cancelled', debit_held = false, last_error = $2 WHERE id = $1`, [p.id, reason.slice(0, 500)]);
    }
    // The cancelled payouts' sats stay in the source wallet: recorded on the cash-out, so the books add up.
    await c.query(
      `UPDATE satoshimachine.lamassu_transactions
          SET cancelled_sats = (SELECT COALESCE(sum(amount_sats), 0) FROM satoshimachine.payments WHERE transaction_id = $1 AND status = 'cancelled')
        WHERE id = $1`,
      [transactionId],
    );
    return listPayments(c, transactionId);
  });
}

/**
 * A recovery run takes the cash-out over from a run that is gone (terminated, reset, lost): compare-and-set
 * on the previous owner's run id, and only while the cash-out is open. False: someone else adopted it, or it
 * is settled; the caller stops without moving money.
 */
export async function adoptCashOutTransaction(
  db: Queryable,
  transactionId: string,
  previousRunId: string | null,
  owner: { workflowId: string; runId: string },
): Promise<{ adopted: boolean; transaction: TransactionRow; runId: string | null }> {
  const { rows } = await db.query(
    `UPDATE satoshimachine.lamassu_transactions SET workflow_id = $3, run_id = $4, adoptions = adoptions + 1,
            status = CASE WHEN status = 'needs_attention' THEN 'processing' ELSE status END
      WHERE id = $1 AND run_id IS NOT DISTINCT FROM $2 AND status IN ('processing', 'needs_attention')
      RETURNING ${TX_COLUMNS}, run_id`,
    [transactionId, previousRunId, owner.workflowId, owner.runId],
  );
  if (rows.length > 0) return { adopted: true, transaction: mapTransaction(rows[0]), runId: owner.runId };
  const cur = await db.query(`SELECT ${TX_COLUMNS}, run_id FROM satoshimachine.lamassu_transactions WHERE id = $1`, [transactionId]);
  if (cur.rows.length === 0) throw new LedgerNotFoundError(`transaction ${transactionId} not found`, 'transaction_id');
  const runId = (cur.rows[0].run_id as string | null) ?? null;
  // The same recovery run asking again (an activity retry) holds it already.
  return { adopted: runId === owner.runId, transaction: mapTransaction(cur.rows[0]), runId };
}

export async function payoutsHalted(db: Queryable): Promise<{ halted: boolean; reason: string | null }> {
  const { rows } = await db.query(`SELECT payouts_halted, halted_reason FROM satoshimachine.control`);
  return { halted: Boolean(rows[0]?.payouts_halted), reason: (rows[0]?.halted_reason as string | null) ?? null };
}

// Funding credits (fundingMode superuser-credit) -----------------------------------------------------------

export type FundingStatus = 'pending' | 'done' | 'needs_attention';
export interface FundingRow {
  id: string;
  transactionId: string;
  walletId: string;
  amountSats: number;
  status: FundingStatus;
  attempts: number;
  /** When the one credit call was claimed (made, or about to be). */
  claimedAt: Date | null;
  /** The LNbits "Admin credit" row matched to this credit. */
  lnbitsPaymentHash: string | null;
}

const mapFunding = (r: Record<string, unknown>): FundingRow => ({
  id: String(r.id),
  transactionId: String(r.transaction_id),
  walletId: String(r.wallet_id),
  amountSats: Number(r.amount_sats),
  status: r.status as FundingStatus,
  attempts: Number(r.attempts),
  claimedAt: (r.claimed_at as Date | null) ?? null,
  lnbitsPaymentHash: (r.lnbits_payment_hash as string | null) ?? null,
});
const FUND_COLUMNS = 'id, transaction_id, wallet_id, amount_sats, status, attempts, claimed_at, lnbits_payment_hash';

/** The transaction's funding row, created pending on first call. */
export async function ensureFundingCredit(db: Queryable, transactionId: string, walletId: string, amountSats: number): Promise<FundingRow> {
  await db.query(
    `INSERT INTO satoshimachine.funding_credits (transaction_id, wallet_id, amount_sats) VALUES ($1, $2, $3) ON CONFLICT (transaction_id) DO NOTHING`,
    [transactionId, walletId, String(amountSats)],
  );
  const { rows } = await db.query(`SELECT ${FUND_COLUMNS} FROM satoshimachine.funding_credits WHERE transaction_id = $1`, [transactionId]);
  return mapFunding(rows[0]);
}

/**
 * Claim the one credit call: pending with attempts = 0 → attempts 1, in one statement. False means a call
 * may already have been made (a crash after it): the caller must not call LNbits again.
 */
export async function claimFundingCall(db: Queryable, fundingId: string): Promise<boolean> {
  const r = await db.query(`UPDATE satoshimachine.funding_credits SET attempts = attempts + 1, claimed_at = now() WHERE id = $1 AND status = 'pending' AND attempts = 0`, [fundingId]);
  return r.rowCount === 1;
}

/** LNbits credit rows already matched to a funding credit (of any cash-out). */
export async function attributedCreditHashes(db: Queryable, hashes: string[]): Promise<Set<string>> {
  if (hashes.length === 0) return new Set();
  const { rows } = await db.query(`SELECT lnbits_payment_hash FROM satoshimachine.funding_credits WHERE lnbits_payment_hash = ANY($1::text[])`, [hashes]);
  return new Set(rows.map((r) => String(r.lnbits_payment_hash)));
}

/** Match an LNbits credit row to this funding credit (once; one row serves one credit). False: taken meanwhile. */
export async function attributeCredit(db: Queryable, fundingId: string, paymentHash: string): Promise<boolean> {
  try {
    const r = await db.query(`UPDATE satoshimachine.funding_credits SET lnbits_payment_hash = $2 WHERE id = $1 AND lnbits_payment_hash IS NULL`, [fundingId, paymentHash]);
    return r.rowCount === 1;
  } catch (err) {
    if ((err as { code?: string }).code === '23505') return false; // the unique index: another credit has it
    throw err;
  }
}

export async function setFundingStatus(db: Queryable, fundingId: string, status: FundingStatus, error: string | null = null): Promise<void> {
  await db.query(
    `UPDATE satoshimachine.funding_credits SET status = $2, last_error = $3, done_at = CASE WHEN $2 = 'done' THEN now() ELSE NULL END,
            attempts = CASE WHEN $2 = 'pending' THEN 0 ELSE attempts END
      WHERE id = $1`,
    [fundingId, status, error],
  );
}

