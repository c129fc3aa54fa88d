/**
 * Client fiat balances. `clients.remaining_balance_fiat_minor` is the current balance; every change goes
 * through `applyBalanceChange` (under the client's row lock) and is logged in `balance_log`. The database
 * enforces it: at commit the stored balance must equal the newest balance_log `after` (clients_balance_guard).
 */
import type pg from 'pg';
import { z } from 'zod';
import { BalanceWouldGoNegativeError } from '../../domain/errors';
import type { ClientBalance } from '../../domain/allocation';
import { type FiatMinor, fiatMinor } from '../../domain/money';
import { type Queryable, fiatCol, isoCol } from './db';

export type BalanceReason = 'deposit_confirmed' | 'payout_reserved' | 'payout_released' | 'adjustment' | 'correction';
/** A payout's debit/release is logged once per reservation round (payments.reserve_round, default 1). */
export type BalanceRef = { depositId: string } | { paymentId: string; round?: number } | { adjustmentId: string } | { correctionId: string };

export interface BalanceChange {
  clientId: string;
  before: FiatMinor;
  after: FiatMinor;
  delta: FiatMinor;
  at: string;
}

/**
 * Change a client's stored balance by `delta` and log it. The caller must hold the client's row lock
 * (`lockClients`) inside `client`'s transaction and pass the balance it read under that lock.
 */
export async function applyBalanceChange(
  client: pg.PoolClient,
  clientId: string,
  before: FiatMinor,
  delta: bigint,
  reason: BalanceReason,
  ref: BalanceRef,
): Promise<BalanceChange> {
  const after = BigInt(before) + delta;
  if (after < 0n) throw new BalanceWouldGoNegativeError(clientId, before, Number(-delta));
  // Relative update + WHERE on the expected value: if the caller's `before` is stale this changes nothing.
  const upd = await client.query(
    `UPDATE satoshimachine.clients SET remaining_balance_fiat_minor = remaining_balance_fiat_minor + $2
     WHERE id = $1 AND remaining_balance_fiat_minor = $3`,
    [clientId, delta.toString(), String(before)],
  );
  if (upd.rowCount !== 1) throw new Error(`balance of client ${clientId} changed under a lock that should prevent it`);
  const { rows } = await client.query(
    `INSERT INTO satoshimachine.balance_log
       (client_id, before_fiat_minor, after_fiat_minor, delta_fiat_minor, reason, deposit_id, payment_id, adjustment_id, reserve_round, correction_id)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) RETURNING at`,
    [
      clientId,
      String(before),
      after.toString(),
      delta.toString(),
      reason,
      'depositId' in ref ? ref.depositId : null,
      'paymentId' in ref ? ref.paymentId : null,
      'adjustmentId' in ref ? ref.adjustmentId : null,
      'paymentId' in ref ? (ref.round ?? 1) : 1,
      'correctionId' in ref ? ref.correctionId : null,
    ],
  );
  return { clientId, before, after: fiatMinor(after), delta: fiatMinor(delta), at: isoCol(rows[0].at) };
}

const isoWithOffset = z.iso.datetime({ offset: true });

/**
 * Balances of all eligible clients (mode flow, status active, balance > 0) as of `atIso`, in ONE query.
 *
 * "As of t" = the current stored balance minus the credits (confirmed deposits, positive adjustments)
 * logged after t. So money that arrived after the cash-out does not take part in it, while every debit
 * already made — including reservations for cash-outs processed out of order and negative adjustments —
 * counts in full. Hence b_i(t) ≤ stored balance: an allocation built on these balances can be reserved
 * unless the balance changes between this read and the reservation (then reservePayouts fails with
 * BalanceWouldGoNegativeError and the caller recomputes). Released (compensated) payouts count as restored.
 */
export async function eligibleBalancesAt(db: Queryable, atIso: string, opts: { currency?: string } = {}): Promise<ClientBalance[]> {
  const at = isoWithOffset.parse(atIso);
  const { rows } = await db.query(
    `SELECT c.id, c.remaining_balance_fiat_minor - COALESCE(l.later_credits, 0) AS balance
       FROM satoshimachine.clients c
       LEFT JOIN (
         SELECT client_id, SUM(delta_fiat_minor) AS later_credits
           FROM satoshimachine.balance_log
          WHERE at > $1 AND delta_fiat_minor > 0 AND reason IN ('deposit_confirmed', 'adjustment')
          GROUP BY client_id
       ) l ON l.client_id = c.id
      WHERE c.mode = 'flow' AND c.status = 'active'
        AND ($2::text IS NULL OR c.currency = $2)
        AND c.remaining_balance_fiat_minor - COALESCE(l.later_credits, 0) > 0
      ORDER BY c.id`,
    [at, opts.currency ?? null],
  );
  return rows.map((r) => ({ clientId: String(r.id), balance: fiatCol(r.balance, 'balance') }));
}

export interface BalanceLogRow extends BalanceChange {
  id: string;
  reason: BalanceReason;
  depositId: string | null;
  paymentId: string | null;
  adjustmentId: string | null;
}

export async function balanceHistory(db: Queryable, clientId: string): Promise<BalanceLogRow[]> {
  const { rows } = await db.query(
    `SELECT id, client_id, before_fiat_minor, after_fiat_minor, delta_fiat_minor, reason, deposit_id, payment_id, adjustment_id, at
       FROM satoshimachine.balance_log WHERE client_id = $1 ORDER BY id`,
    [clientId],
  );
  return rows.map((r) => ({
    id: String(r.id),
    clientId: String(r.client_id),
    before: fiatCol(r.before_fiat_minor, 'before_fiat_minor'),
    after: fiatCol(r.after_fiat_minor, 'after_fiat_minor'),
    delta: fiatCol(r.delta_fiat_minor, 'delta_fiat_minor'),
    reason: r.reason as BalanceReason,
    depositId: r.deposit_id,
    paymentId: r.payment_id,
    adjustmentId: r.adjustment_id,
    at: isoCol(r.at),
  }));
}

/** The client's balance right after this payout's latest debit (its newest payout_reserved entry), or null. */
export async function balanceAfterPayoutDebit(db: Queryable, paymentId: string): Promise<FiatMinor | null> {
  const { rows } = await db.query(
    `SELECT after_fiat_minor FROM satoshimachine.balance_log WHERE payment_id = $1 AND reason = 'payout_reserved' ORDER BY id DESC LIMIT 1`,
    [paymentId],
  );
  return rows.length ? fiatCol(rows[0].after_fiat_minor, 'after_fiat_minor') : null;
}
