/**
 * Business metrics for Prometheus (prom-client), read from the ledger and the poller at each scrape, so every
 * worker replica reports the same truth: cash-outs by status, sats paid, failed payouts, cash-outs needing
 * attention, open alerts, the poller's last successful poll and its lag. Counts and sums are exact integers.
 */
import type { Client } from '@temporalio/client';
import type pg from 'pg';
import { Gauge, Registry } from 'prom-client';
import { pollerStatus } from './probes';

export interface BusinessMetricsDeps {
  pool: pg.Pool;
  client: Client;
  pollerWorkflowId: string;
  onError: (what: string, err: Error) => void;
}

export function createBusinessMetrics(deps: BusinessMetricsDeps): { contentType: string; metrics: () => Promise<string> } {
  const { pool, client, pollerWorkflowId, onError } = deps;
  const registry = new Registry();
  const ledger = async <R extends pg.QueryResultRow>(sql: string): Promise<R[]> => (await pool.query<R>(sql)).rows;
  const safely = async (what: string, fn: () => Promise<void>) => fn().catch((err: unknown) => onError(what, err as Error));

  new Gauge({
    name: 'satmachine_cashouts', help: 'Cash-outs in the ledger by status', labelNames: ['status'], registers: [registry],
    async collect() {
      this.reset();
      await safely('cash-outs', async () => {
        for (const r of await ledger<{ status: string; n: string }>(`SELECT status, count(*) AS n FROM satoshimachine.lamassu_transactions GROUP BY status`)) this.set({ status: r.status }, Number(r.n));
      });
    },
  });
  new Gauge({
    name: 'satmachine_cashouts_needing_attention', help: 'Cash-outs waiting for the operator (needs_attention)', registers: [registry],
    async collect() {
      await safely('needs attention', async () => {
        this.set(Number((await ledger<{ n: string }>(`SELECT count(*) AS n FROM satoshimachine.lamassu_transactions WHERE status = 'needs_attention'`))[0]!.n));
      });
    },
  });
  new Gauge({
    name: 'satmachine_sats_paid', help: 'Sats paid by completed payouts, by kind (client, commission); monotonic', labelNames: ['kind'], registers: [registry],
    async collect() {
      this.reset();
      await safely('sats paid', async () => {
        for (const r of await ledger<{ kind: string; sats: string }>(`SELECT kind, coalesce(sum(amount_sats), 0) AS sats FROM satoshimachine.payments WHERE status = 'completed' GROUP BY kind`)) this.set({ kind: r.kind }, Number(r.sats));
      });
    },
  });
  new Gauge({
    name: 'satmachine_payouts_failed', help: 'Payouts in status failed (waiting for a retry or cancel)', registers: [registry],
    async collect() {
      await safely('payouts failed', async () => {
        this.set(Number((await ledger<{ n: string }>(`SELECT count(*) AS n FROM satoshimachine.payments WHERE status = 'failed'`))[0]!.n));
      });
    },
  });
  new Gauge({
    name: 'satmachine_open_alerts', help: 'Alerts not acknowledged, by severity', labelNames: ['severity'], registers: [registry],
    async collect() {
      this.reset();
      await safely('open alerts', async () => {
        for (const r of await ledger<{ severity: string; n: string }>(`SELECT severity, count(*) AS n FROM satoshimachine.alerts WHERE acknowledged_at IS NULL GROUP BY severity`)) this.set({ severity: r.severity }, Number(r.n));
      });
    },
  });
  // The poller's view: one query per scrape, shared by the three gauges below.
  let poller: Promise<Awaited<ReturnType<typeof pollerStatus>> | undefined> | undefined;
  const pollerNow = () => (poller ??= pollerStatus(client, pollerWorkflowId).catch((err: unknown) => void onError('poller status', err as Error)));
  new Gauge({
    name: 'satmachine_poller_last_success_timestamp_seconds', help: 'Unix time of the poller\'s last successful poll (0: none)', registers: [registry],
    async collect() {
      const s = await pollerNow();
      this.set(s?.lastSuccessAt ? Math.floor(Date.parse(s.lastSuccessAt) / 1000) : 0);
    },
  });
  new Gauge({
    name: 'satmachine_poll_lag_seconds', help: 'Seconds since the poller\'s last successful poll (-1: no poll yet or poller not running)', registers: [registry],
    async collect() {
      const s = await pollerNow();
      this.set(s?.lastSuccessAt ? Math.max(0, Math.round((Date.now() - Date.parse(s.lastSuccessAt)) / 1000)) : -1);
    },
  });
  new Gauge({
    name: 'satmachine_poller_paused', help: '1 while the poller is paused (or not running), else 0', registers: [registry],
    async collect() {
      const s = await pollerNow();
      this.set(!s || s.paused ? 1 : 0);
    },
  });
  return {
    contentType: registry.contentType,
    metrics: async () => {
      poller = undefined;
      return registry.metrics();
    },
  };
}
