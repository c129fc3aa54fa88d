/**
 * Stuck-payout sweep (runbook: "Alert if any payment remains in non-completed status > 15 minutes"):
 * every payout pending or failed for longer than config.alerts.stuckPayoutMinutes gets its own alert,
 * deduplicated per payout (`payout-stuck:<payment id>`) within the quiet period.
 */
import { raiseAlert, renotifyCriticalAlerts, severityFor } from '../adapters/alerts';
import type { ActivityDeps } from './deps';

export interface SweepResult {
  stuck: number;
  alerted: number;
  /** The stuck payouts seen (capped at `limit`), oldest first. */
  paymentIds: string[];
  /** payout-stuck alerts resolved because their payout completed or was cancelled. */
  resolved?: number;
  /** Unacknowledged critical alerts offered to the channels again. */
  renotified?: number;
}

export function createSweepActivities(deps: ActivityDeps) {
  const { config, pool } = deps;
  return {
    async sweepStuckPayouts(input: { limit?: number } = {}): Promise<SweepResult> {
      const minutes = config.alerts.stuckPayoutMinutes;
      const { rows } = await pool.query(
        `SELECT p.id, p.transaction_id, p.client_id, p.kind, p.amount_sats::text AS amount_sats, p.status, p.attempts, p.last_error,
                p.created_at, t.lamassu_id, count(*) OVER ()::int AS total
           FROM satoshimachine.payments p JOIN satoshimachine.lamassu_transactions t ON t.id = p.transaction_id
          WHERE p.status IN ('pending', 'failed') AND p.created_at < now() - make_interval(mins => $1::int)
          ORDER BY p.created_at LIMIT $2`,
        [minutes, input.limit ?? 500],
      );
      let alerted = 0;
      for (const r of rows) {
        const ageMin = Math.floor((Date.now() - (r.created_at as Date).getTime()) / 60_000);
        const out = await raiseAlert(deps, {
          severity: severityFor(config, 'payout-stuck'),
          kind: 'payout-stuck',
          dedupKey: `payout-stuck:${String(r.id)}`,
          message: `payout ${String(r.id)} (${String(r.kind)}, ${String(r.amount_sats)} sats, cash-out ${String(r.lamassu_id)}) is ${String(r.status)} after ${ageMin} min`,
          details: {
            paymentId: r.id, transactionId: r.transaction_id, lamassuId: r.lamassu_id, clientId: r.client_id, kind: r.kind,
            amountSats: r.amount_sats, status: r.status, attempts: r.attempts, lastError: r.last_error, ageMinutes: ageMin,
          },
        });
        if (out.raised) alerted++;
      }
      // Payouts that are no longer open: their stuck alerts are resolved.
      const { rows: cleared } = await pool.query<{ id: string }>(
        `UPDATE satoshimachine.alerts a SET resolved_at = now(), resolved_by = 'satmachine', resolve_reason = 'payout ' || p.status
           FROM satoshimachine.payments p
          WHERE a.resolved_at IS NULL AND a.kind = 'payout-stuck' AND a.dedup_key = 'payout-stuck:' || p.id::text
            AND p.status IN ('completed', 'cancelled')
          RETURNING a.id::text`,
      );
      // The sweep runs every 15 min: it also re-notifies unacknowledged critical alerts when they are due.
      const renotified = await renotifyCriticalAlerts(deps);
      return { stuck: rows.length ? Number(rows[0].total) : 0, alerted, paymentIds: rows.map((r) => String(r.id)), resolved: cleared.length, renotified };
    },
  };
}

export type SweepActivities = ReturnType<typeof createSweepActivities>;
