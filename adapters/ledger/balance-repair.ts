/**
 * Repair of a stored balance that disagrees with the ledger (reconciliation's `balance-mismatch`): the stored
 * balance is set to the one derived from confirmed deposits − payout debits held + adjustments, by an audited,
 * append-only correction (balance_corrections + balance_log reason 'correction'). Unlike an adjustment, a
 * correction does not change the derived balance, so afterwards stored = derived and reconciliation is clean.
 */
import type pg from 'pg';
import { z } from 'zod';
import { LedgerNotFoundError, LedgerStateError } from '../../domain/errors';
import { type FiatMinor, fiatMinor } from '../../domain/money';
import { type BalanceChange, applyBalanceChange } from './balances';
import { lockClients } from './clients';
import { type Queryable, isoCol, withTransaction } from './db';

/** The derived balance the reconciliation compares with (adapters/ledger/reconciliation.ts, same terms). */
export async function derivedBalance(db: Queryable, clientId: string): Promise<bigint> {
  const { rows } = await db.query<{ derived: string }>(
    `SELECT (COALESCE((SELECT sum(amount_fiat_minor) FROM satoshimachine.deposits WHERE client_id = $1 AND status = 'confirmed'), 0)
           - COALESCE((SELECT sum(fiat_debit_minor) FROM satoshimachine.payments WHERE client_id = $1 AND debit_held), 0)
           + COALESCE((SELECT sum(amount_fiat_minor) FROM satoshimachine.adjustments WHERE client_id = $1), 0))::text AS derived`,
    [clientId],
  );
  return BigInt(rows[0]!.derived);
}

export const repairInput = z.object({
  clientId: z.uuid(),
  reason: z.string().trim().min(1, '--reason: must not be empty'),
  actor: z.string().trim().min(1),
  /** Compute and report only. */
  dryRun: z.boolean().default(false),
});

export interface BalanceRepair {
  clientId: string;
  storedBeforeFiatMinor: FiatMinor;
  derivedFiatMinor: FiatMinor;
  deltaFiatMinor: string;
  /** null when nothing was written (already equal, or a dry run). */
  correctionId: string | null;
  change: BalanceChange | null;
  at: string | null;
}

/** Sets the stored balance to the derived one under the client's row lock; idempotent (equal → no row). */
export async function repairBalance(pool: pg.Pool, input: z.input<typeof repairInput>): Promise<BalanceRepair> {
  const v = repairInput.parse(input);
  return withTransaction(pool, async (c) => {
    const client = (await lockClients(c, [v.clientId])).get(v.clientId);
    if (!client) throw new LedgerNotFoundError(`client ${v.clientId} not found`, 'client_id');
    const derived = await derivedBalance(c, v.clientId);
    if (derived < 0n) {
      throw new LedgerStateError(`client ${v.clientId}: the derived balance is ${derived} (negative: payout debits exceed deposits + adjustments); investigate with \`tx show\` and \`reconcile\` before repairing`);
    }
    const stored = BigInt(client.balance);
    const delta = derived - stored;
    const base = { clientId: v.clientId, storedBeforeFiatMinor: client.balance, derivedFiatMinor: fiatMinor(derived), deltaFiatMinor: delta.toString() };
    if (delta === 0n || v.dryRun) return { ...base, correctionId: null, change: null, at: null };
    const { rows } = await c.query(
      `INSERT INTO satoshimachine.balance_corrections (client_id, stored_before_fiat_minor, derived_fiat_minor, delta_fiat_minor, reason, actor)
       VALUES ($1, $2, $3, $4, $5, $6) RETURNING id, created_at`,
      [v.clientId, stored.toString(), derived.toString(), delta.toString(), v.reason, v.actor],
    );
    const correctionId = String(rows[0].id);
    const change = await applyBalanceChange(c, v.clientId, client.balance, delta, 'correction', { correctionId });
    await c.query(`INSERT INTO satoshimachine.operator_events (actor, action, details) VALUES ($1, 'balance-repaired', $2::jsonb)`, [
      v.actor,
      JSON.stringify({ clientId: v.clientId, correctionId, storedBeforeFiatMinor: stored.toString(), derivedFiatMinor: derived.toString(), deltaFiatMinor: delta.toString(), reason: v.reason }),
    ]);
    return { ...base, correctionId, change, at: isoCol(rows[0].created_at) };
  });
}

