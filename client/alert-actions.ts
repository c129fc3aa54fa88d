/** Acknowledging an open alert (the console's dashboard): stamped with who, recorded in operator_events. */
import { recordOperatorEvent } from '../adapters/ledger/operator-control';
import { LedgerNotFoundError } from '../domain/errors';
import type { Context } from './context';

export async function acknowledgeAlert(ctx: Context, alertId: string, actor: string): Promise<{ acknowledged: boolean }> {
  if (!/^\d{1,18}$/.test(alertId)) throw new LedgerNotFoundError(`alert ${JSON.stringify(alertId.slice(0, 40))} not found`, 'alert_id');
  const pool = ctx.pool();
  const r = await pool.query(
    `UPDATE satoshimachine.alerts SET acknowledged_at = now(), acknowledged_by = $2 WHERE id = $1 AND acknowledged_at IS NULL RETURNING kind`,
    [alertId, actor],
  );
  if (!r.rowCount) {
    const exists = await pool.query(`SELECT 1 FROM satoshimachine.alerts WHERE id = $1`, [alertId]);
    if (!exists.rowCount) throw new LedgerNotFoundError(`alert ${alertId} not found`, 'alert_id');
    return { acknowledged: false };
  }
  await recordOperatorEvent(pool, actor, 'alert-acknowledged', { alertId, kind: r.rows[0].kind });
  return { acknowledged: true };
}
