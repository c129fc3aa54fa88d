/**
 * Operator actions on deposits, shared by `satmachine deposits` and the web console. Confirming credits the
 * balance once (adapters/ledger/deposits.ts); each change is recorded with who made it.
 */
import { addDeposit, cancelDeposit, confirmDeposit, getClient, type ClientRow, type DepositRow } from '../adapters/ledger';
import { recordOperatorEvent } from '../adapters/ledger/operator-control';
import type { FiatMinor } from '../domain/money';
import type { Context } from './context';

/** Confirms a deposit and, when that credited the balance (not when it was confirmed already), records who did. */
export async function confirmDepositAs(ctx: Context, depositId: string, actor: string): Promise<Awaited<ReturnType<typeof confirmDeposit>>> {
  const pool = ctx.pool();
  const r = await confirmDeposit(pool, depositId);
  if (r.change) await recordOperatorEvent(pool, actor, 'deposit-confirmed', { depositId, clientId: r.deposit.clientId, amountFiatMinor: r.deposit.amount });
  return r;
}

/** Records a pending deposit (and confirms it at once with `confirm`). */
export async function recordDeposit(
  ctx: Context,
  input: { clientId: string; amountFiatMinor: FiatMinor; note?: string; confirm?: boolean },
  actor: string,
): Promise<{ client: ClientRow; deposit: DepositRow; balanceAfter: FiatMinor | null }> {
  const pool = ctx.pool();
  const client = await getClient(pool, input.clientId);
  let deposit = await addDeposit(pool, { clientId: input.clientId, amount: input.amountFiatMinor, note: input.note });
  await recordOperatorEvent(pool, actor, 'deposit-added', { depositId: deposit.id, clientId: input.clientId, amountFiatMinor: deposit.amount });
  let balanceAfter: FiatMinor | null = null;
  if (input.confirm) {
    const r = await confirmDepositAs(ctx, deposit.id, actor);
    deposit = r.deposit;
    balanceAfter = r.change?.after ?? null;
  }
  return { client, deposit, balanceAfter };
}

export async function cancelDepositAs(ctx: Context, depositId: string, actor: string): Promise<DepositRow> {
  const pool = ctx.pool();
  const deposit = await cancelDeposit(pool, depositId);
  await recordOperatorEvent(pool, actor, 'deposit-cancelled', { depositId, clientId: deposit.clientId });
  return deposit;
}
