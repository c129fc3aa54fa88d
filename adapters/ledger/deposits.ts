/** Client deposits: pending → confirmed (credits the balance, once) | cancelled. */
import type pg from 'pg';
import { ClientNotEligibleError, LedgerNotFoundError, LedgerStateError } from '../../domain/errors';
import { type FiatMinor, nonNegativeFiat } from '../../domain/money';
import { type BalanceChange, applyBalanceChange } from './balances';
import { lockClients } from './clients';
import { type Queryable, fiatCol, isoCol, nullableIsoCol, withTransaction } from './db';

export type DepositStatus = 'pending' | 'confirmed' | 'cancelled';

export interface DepositRow {
  id: string;
  clientId: string;
  amount: FiatMinor;
  currency: string;
  status: DepositStatus;
  note: string | null;
  createdAt: string;
  confirmedAt: string | null;
  cancelledAt: string | null;
}

const COLUMNS = 'id, client_id, amount_fiat_minor, currency, status, note, created_at, confirmed_at, cancelled_at';

function mapDeposit(r: Record<string, unknown>): DepositRow {
  return {
    id: String(r.id),
    clientId: String(r.client_id),
    amount: fiatCol(r.amount_fiat_minor, 'amount_fiat_minor'),
    currency: String(r.currency),
    status: r.status as DepositStatus,
    note: (r.note as string | null) ?? null,
    createdAt: isoCol(r.created_at),
    confirmedAt: nullableIsoCol(r.confirmed_at),
    cancelledAt: nullableIsoCol(r.cancelled_at),
  };
}

/** Record a pending deposit in the client's currency (a different `currency` is refused by the FK). */
export async function addDeposit(db: Queryable, input: { clientId: string; amount: FiatMinor; currency?: string; note?: string }): Promise<DepositRow> {
  const amount = nonNegativeFiat(input.amount, 'amount_fiat_minor'); // zero is refused by the DB CHECK
  const { rows } = await db.query(
    `INSERT INTO satoshimachine.deposits (client_id, amount_fiat_minor, currency, note)
     SELECT c.id, $2, COALESCE($3, c.currency), $4 FROM satoshimachine.clients c WHERE c.id = $1
     RETURNING ${COLUMNS}`,
    [input.clientId, String(amount), input.currency ?? null, input.note ?? null],
  );
  if (rows.length === 0) throw new LedgerNotFoundError(`client ${input.clientId} not found`, 'client_id');
  return mapDeposit(rows[0]);
}

export async function getDeposit(db: Queryable, depositId: string): Promise<DepositRow> {
  const { rows } = await db.query(`SELECT ${COLUMNS} FROM satoshimachine.deposits WHERE id = $1`, [depositId]);
  if (rows.length === 0) throw new LedgerNotFoundError(`deposit ${depositId} not found`, 'deposit_id');
  return mapDeposit(rows[0]);
}

async function lockDeposit(client: pg.PoolClient, depositId: string): Promise<DepositRow> {
  const { rows } = await client.query(`SELECT ${COLUMNS} FROM satoshimachine.deposits WHERE id = $1 FOR UPDATE`, [depositId]);
  if (rows.length === 0) throw new LedgerNotFoundError(`deposit ${depositId} not found`, 'deposit_id');
  return mapDeposit(rows[0]);
}

/**
 * Confirm a pending deposit: credit the client's balance and log it, in one transaction under the deposit's
 * and the client's row locks. Idempotent: confirming a confirmed deposit changes nothing (`change` null).
 */
export async function confirmDeposit(pool: pg.Pool, depositId: string): Promise<{ deposit: DepositRow; change: BalanceChange | null }> {
  return withTransaction(pool, async (c) => {
    const dep = await lockDeposit(c, depositId);
    if (dep.status === 'confirmed') return { deposit: dep, change: null };
    if (dep.status === 'cancelled') throw new LedgerStateError(`deposit ${depositId} is cancelled`, 'status');
    const client = (await lockClients(c, [dep.clientId])).get(dep.clientId);
    if (!client) throw new LedgerNotFoundError(`client ${dep.clientId} not found`, 'client_id');
    if (client.status === 'closed') throw new ClientNotEligibleError(dep.clientId, 'client is closed');
    const change = await applyBalanceChange(c, dep.clientId, client.balance, BigInt(dep.amount), 'deposit_confirmed', { depositId });
    // confirmed_at = the balance_log time, so "balance as of t" and the deposit agree on when money arrived.
    const { rows } = await c.query(
      `UPDATE satoshimachine.deposits SET status = 'confirmed', confirmed_at = $2 WHERE id = $1 RETURNING ${COLUMNS}`,
      [depositId, change.at],
    );
    return { deposit: mapDeposit(rows[0]), change };
  });
}

/** Cancel a pending deposit. Idempotent; a confirmed deposit cannot be cancelled (use an adjustment). */
export async function cancelDeposit(pool: pg.Pool, depositId: string): Promise<DepositRow> {
  return withTransaction(pool, async (c) => {
    const dep = await lockDeposit(c, depositId);
    if (dep.status === 'cancelled') return dep;
    if (dep.status === 'confirmed') throw new LedgerStateError(`deposit ${depositId} is confirmed; reverse it with an adjustment`, 'status');
    const { rows } = await c.query(
      `UPDATE satoshimachine.deposits SET status = 'cancelled', cancelled_at = now() WHERE id = $1 RETURNING ${COLUMNS}`,
      [depositId],
    );
    return mapDeposit(rows[0]);
  });
}
