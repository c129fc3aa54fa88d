/**
 * Stuck transactions too (issue 12): a cash-out still received/processing after stuckPayoutMinutes without
 * an open payout (so no payout alert covers it: stuck before the payout stage, or its workflow gone), or
 * held / needs_attention for longer than stuckPayoutCriticalHours, gets an alert per transaction
 * (`transaction-stuck:<id>`, within the quiet period).
 *
 * Stuck-payout sweep (runbook: "Alert if any payment remains in non-completed status > 15 minutes"):
 * every payout pending or failed for longer than config.alerts.stuckPayoutMinutes gets its own alert,
 * deduplicated per payout (`payout-stuck:<payment id>`) within the quiet period.
 */
import { raiseAlert, severityFor } from '../adapters/alerts';
import type { ActivityDeps } from './deps';

export interface SweepResult {
  stuck: number;
  alerted: number;
  /** The stuck payouts seen (capped at `limit`), oldest first. */
  paymentIds: string[];
  /** Stuck transactions (see above) and their ids. */
  stuckTransactions?: number;
  transactionIds?: string[];
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
      const txs = await pool.query(
        `SELECT t.id, t.lamassu_id, t.status, t.error, t.workflow_id, t.updated_at
           FROM satoshimachine.lamassu_transactions t
          WHERE (t.status IN ('received', 'processing') AND t.updated_at < now() - make_interval(mins => $1::int)
                 AND NOT EXISTS (SELECT 1 FROM satoshimachine.payments p WHERE p.transaction_id = t.id AND p.status IN ('pending', 'failed')))
             OR (t.status IN ('held', 'needs_attention') AND t.updated_at < now() - make_interval(hours => $2::int))
          ORDER BY t.updated_at LIMIT $3`,
        [minutes, config.alerts.stuckPayoutCriticalHours, input.limit ?? 500],
      );
      for (const t of txs.rows) {
        const ageMin = Math.floor((Date.now() - (t.updated_at as Date).getTime()) / 60_000);
        const out = await raiseAlert(deps, {
          severity: t.status === 'processing' || t.status === 'received' ? 'critical' : severityFor(config, 'payout-stuck'),
          kind: 'transaction-stuck',
          dedupKey: `transaction-stuck:${String(t.id)}`,
          message: `cash-out ${String(t.lamassu_id)} is ${String(t.status)} for ${ageMin} min${t.error ? ` (${String(t.error).slice(0, 300)})` : ''}: see \`satmachine tx show ${String(t.lamassu_id)}\``,
          details: { transactionId: t.id, lamassuId: t.lamassu_id, status: t.status, error: t.error, workflowId: t.workflow_id, ageMinutes: ageMin },
        });
        if (out.raised) alerted++;
      }
      return {
        stuck: rows.length ? Number(rows[0].total) : 0, alerted, paymentIds: rows.map((r) => String(r.id)),
        stuckTransactions: txs.rows.length, transactionIds: txs.rows.map((t) => String(t.id)),
      };
    },
  };
}

export type SweepActivities = ReturnType<typeof createSweepActivities>;
