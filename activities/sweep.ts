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
import { Client, Connection } from '@temporalio/client';
import { raiseAlert, renotifyCriticalAlerts, severityFor } from '../adapters/alerts';
import { resumeCashOut, runStatus } from '../client/recovery';
import type { ActivityDeps } from './deps';

export interface OrphanSweepResult {
  /** Open cash-outs (processing / needs_attention) whose owning run is gone. */
  orphaned: Array<{ lamassuId: string; runStatus: string; resumed: boolean; error: string | null }>;
}

export interface SweepResult {
  stuck: number;
  alerted: number;
  /** The stuck payouts seen (capped at `limit`), oldest first. */
  paymentIds: string[];
  /** Stuck transactions (see above) and their ids. */
  stuckTransactions?: number;
  transactionIds?: string[];
  /** payout-stuck alerts resolved because their payout completed or was cancelled. */
  resolved?: number;
  /** Unacknowledged critical alerts offered to the channels again. */
  renotified?: number;
}

export function createSweepActivities(deps: ActivityDeps, opts: { temporalClient?: Client } = {}) {
  const { config, pool, log } = deps;
  let temporal: Promise<Client> | undefined = opts.temporalClient ? Promise.resolve(opts.temporalClient) : undefined;
  const temporalClient = () =>
    (temporal ??= Connection.connect({ address: config.temporal.address, tls: config.temporal.tls || undefined, apiKey: config.temporal.apiKey })
      .then((connection) => new Client({ connection, namespace: config.temporal.namespace }))
      .catch((err: unknown) => {
        temporal = undefined; // try again on the next call
        throw err;
      }));
  return {
    /**
     * Cash-outs whose workflow is gone (issue 19): open in the ledger (processing / needs_attention), unchanged
     * for config.payouts.orphanAfterMinutes, and their owning run (workflow_id, run_id) closed — terminated,
     * reset, failed — or unknown to Temporal (lost). Each gets a critical alert naming it and, with
     * config.payouts.autoResume, a recovery run (client/recovery.ts, the same as `satmachine tx resume`).
     */
    async adoptOrphanedCashOuts(input: { limit?: number } = {}): Promise<OrphanSweepResult> {
      const { rows } = await pool.query(
        `SELECT id, lamassu_id, workflow_id, run_id, status FROM satoshimachine.lamassu_transactions
          WHERE status IN ('processing', 'needs_attention') AND workflow_id IS NOT NULL
            AND updated_at < now() - make_interval(mins => $1::int)
          ORDER BY updated_at LIMIT $2`,
        [config.payouts.orphanAfterMinutes, input.limit ?? 200],
      );
      if (rows.length === 0) return { orphaned: [] };
      const client = await temporalClient();
      const orphaned: OrphanSweepResult['orphaned'] = [];
      for (const r of rows) {
        const status = await runStatus(client, String(r.workflow_id), (r.run_id as string | null) ?? undefined);
        if (status === 'RUNNING') continue;
        let resumed = false;
        let error: string | null = null;
        // A run that FAILED after marking its row needs_attention (workflows/cashout-failure.ts) already told the
        // operator why; resuming it automatically would fail the same way every sweep. It is alerted once (per
        // run) with the resume command; terminated, reset and lost runs are adopted at once.
        const failedByItself = status === 'FAILED' && r.status === 'needs_attention';
        if (config.payouts.autoResume && !failedByItself) {
          try {
            resumed = (await resumeCashOut(client, config, pool, String(r.id))).outcome === 'started';
          } catch (err) {
            error = err instanceof Error ? err.message : String(err);
          }
        }
        await raiseAlert(deps, {
          severity: 'critical',
          kind: 'cashout-orphaned',
          dedupKey: `cashout-orphaned:${String(r.id)}:${String(r.run_id)}`,
          message: `Cash-out ${String(r.lamassu_id)} is ${String(r.status)} but its workflow run is ${status}: ` +
            (resumed ? 'a recovery run adopted it' : `resume it with \`npx satmachine tx resume ${String(r.lamassu_id)}\`${error ? ` (automatic resume failed: ${error})` : ''}`),
          details: { lamassuId: r.lamassu_id, transactionId: r.id, workflowId: r.workflow_id, runId: r.run_id, runStatus: status, resumed, error },
        });
        log.warn({ lamassuId: r.lamassu_id, runStatus: status, resumed, error }, 'orphaned cash-out');
        orphaned.push({ lamassuId: String(r.lamassu_id), runStatus: status, resumed, error });
      }
      return { orphaned };
    },

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
      return {
        stuck: rows.length ? Number(rows[0].total) : 0, alerted, paymentIds: rows.map((r) => String(r.id)),
        stuckTransactions: txs.rows.length, transactionIds: txs.rows.map((t) => String(t.id)), resolved: cleared.length, renotified,
      };
    },
  };
}

export type SweepActivities = ReturnType<typeof createSweepActivities>;
