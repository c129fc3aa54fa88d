/** Operator balance corrections: append-only rows, each changing the balance once, with who and why. */
import type pg from 'pg';
import { z } from 'zod';
import { LedgerNotFoundError } from '../../domain/errors';
import { type FiatMinor, fiatMinor } from '../../domain/money';
import { type BalanceChange, applyBalanceChange } from './balances';
import { lockClients } from './clients';
import { isoCol, withTransaction } from './db';

export const adjustmentInput = z.object({
  clientId: z.uuid(),
  /** Signed fiat minor units: + credits, − debits; never 0. */
  amount: z.number().int().refine((n) => n !== 0 && Number.isSafeInteger(n), 'must be a non-zero safe integer'),
  reason: z.string().trim().min(1),
  actor: z.string().trim().min(1),
  note: z.string().optional(),
});
export type AdjustmentInput = z.input<typeof adjustmentInput>;

export interface AdjustmentRow {
  id: string;
  clientId: string;
  amount: FiatMinor;
  reason: string;
  note: string | null;
  actor: string;
  createdAt: string;
}

/** Adjust a client's balance; a debit beyond the balance fails with BalanceWouldGoNegativeError. */
export async function addAdjustment(pool: pg.Pool, input: AdjustmentInput): Promise<{ adjustment: AdjustmentRow; change: BalanceChange }> {
  const v = adjustmentInput.parse(input);
  return withTransaction(pool, async (c) => {
    const client = (await lockClients(c, [v.clientId])).get(v.clientId);
    if (!client) throw new LedgerNotFoundError(`client ${v.clientId} not found`, 'client_id');
    const { rows } = await c.query(
      `INSERT INTO satoshimachine.adjustments (client_id, amount_fiat_minor, reason, note, actor)
       VALUES ($1, $2, $3, $4, $5) RETURNING id, client_id, amount_fiat_minor, reason, note, actor, created_at`,
      [v.clientId, String(v.amount), v.reason, v.note ?? null, v.actor],
    );
    const r = rows[0];
    const change = await applyBalanceChange(c, v.clientId, client.balance, BigInt(v.amount), 'adjustment', { adjustmentId: String(r.id) });
    return {
      adjustment: {
        id: String(r.id),
        clientId: String(r.client_id),
        amount: fiatMinor(r.amount_fiat_minor, 'amount_fiat_minor'),
        reason: String(r.reason),
        note: r.note ?? null,
        actor: String(r.actor),
        createdAt: isoCol(r.created_at),
      },
      change,
    };
  });
}
