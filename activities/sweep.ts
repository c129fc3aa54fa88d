/**
 * Stuck-payout sweep (runbook: "Alert if any payment remains in non-completed status > 15 minutes"):
 * every payout pending or failed for longer than config.alerts.stuckPayoutMinutes gets its own alert,
 * deduplicated per payout (`payout-stuck:<payment id>`) within the quiet period.
 */
import { Client, Connection } from '@temporalio/client';
import { raiseAlert, severityFor } from '../adapters/alerts';
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
        if (config.payouts.autoResume) {
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
      return { stuck: rows.length ? Number(rows[0].total) : 0, alerted, paymentIds: rows.map((r) => String(r.id)) };
    },
  };
}

export type SweepActivities = ReturnType<typeof createSweepActivities>;
