/**
 * Health-check activities (runbook "Connection Health Monitor", every 2 h): the age of the poller's last
 * successful poll (its status query), the LNbits wallets answering to every configured key, the Lamassu
 * connection test, payouts stuck beyond stuckPayoutCriticalHours. Each check returns problems instead of
 * throwing; `reportHealthProblems` alerts them; `pausePollerForHealth` stops the poller when LNbits rejects
 * a key (only an operator resumes it). Keys are read from config here and never returned.
 */
import { Client, Connection, WorkflowNotFoundError } from '@temporalio/client';
import { raiseAlert, redeliverAlerts, resolveAlerts, severityFor, type AlertSeverity } from '../adapters/alerts';
import { testLamassuConnection } from '../adapters/lamassu/connection-test';
import { createLnbitsClient } from '../adapters/lnbits/client';
import { LnbitsAuthError } from '../adapters/lnbits/errors';
import { getPollerStatus, pausePoller } from '../client/poller';
import { POLLER_WORKFLOW_ID } from '../domain/constants';
import type { ActivityDeps } from './deps';
import { temporalConnectOptions } from '../config/temporal-connection';

export interface HealthProblem {
  kind: string;
  severity: AlertSeverity;
  /** Stable part of the dedup key (a wallet, a step, 'poller'). */
  subject: string;
  message: string;
  details: Record<string, unknown>;
}

export interface HealthCheck {
  name: 'poller' | 'wallets' | 'lamassu' | 'stuck-payouts';
  ok: boolean;
  detail: string;
  problems: HealthProblem[];
}

export interface HealthOptions {
  /** Tests inject theirs; by default a connection to config.temporal on first use. */
  temporalClient?: Client;
}

const errText = (err: unknown) => (err instanceof Error ? err.message : String(err));
const HOUR_MS = 3_600_000;
/** A running poller whose worker is down never answers its query: bound the wait. */
const QUERY_TIMEOUT_MS = 10_000;

function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const t = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`${what}: no answer within ${ms} ms (is a worker running?)`)), ms)));
  return Promise.race([p, t]).finally(() => clearTimeout(timer));
}

export function createHealth(deps: ActivityDeps, opts: HealthOptions = {}) {
  const { config, pool, log } = deps;
  let temporal: Promise<Client> | undefined = opts.temporalClient ? Promise.resolve(opts.temporalClient) : undefined;
  let ownConnection: Connection | undefined;
  const temporalClient = () =>
    (temporal ??= Connection.connect(temporalConnectOptions(config.temporal))
      .then((connection) => ((ownConnection = connection), new Client({ connection, namespace: config.temporal.namespace })))
      .catch((err: unknown) => {
        temporal = undefined;
        throw err;
      }));
  const problem = (kind: string, subject: string, message: string, details: Record<string, unknown> = {}): HealthProblem => ({
    kind, severity: severityFor(config, kind), subject, message, details,
  });
  const check = (name: HealthCheck['name'], problems: HealthProblem[], okDetail: string): HealthCheck => ({
    name, ok: problems.length === 0, detail: problems.length ? problems.map((p) => p.message).join('; ') : okDetail, problems,
  });

  const activities = {
    /** The poller runs and its last complete poll is younger than maxPollDelayHours. */
    async checkPollerHealth(input: { pollerWorkflowId?: string } = {}): Promise<HealthCheck> {
      const workflowId = input.pollerWorkflowId ?? POLLER_WORKFLOW_ID;
      const maxH = config.alerts.maxPollDelayHours;
      try {
        const client = await temporalClient();
        const d = await client.workflow.getHandle(workflowId).describe();
        if (d.status.name !== 'RUNNING') {
          return check('poller', [problem('poller-not-running', 'poller', `the Lamassu poller ${workflowId} is ${d.status.name}`, { workflowId })], '');
        }
        const s = await withTimeout(getPollerStatus(client, { workflowId }), QUERY_TIMEOUT_MS, 'poller status query');
        const since = s.lastSuccessAt ?? d.startTime.toISOString();
        const ageH = (Date.now() - Date.parse(since)) / HOUR_MS;
        const base = { workflowId, lastSuccessAt: s.lastSuccessAt, lastError: s.lastError, paused: s.paused, pausedReason: s.pausedReason, ageHours: Number(ageH.toFixed(2)) };
        if (ageH > maxH) {
          const why = s.paused ? `paused (${s.pausedReason ?? 'no reason'})` : s.lastError ? `last error: ${s.lastError}` : s.ready === false ? `not ready: ${s.notReadyReason}` : 'no complete poll';
          return check('poller', [problem('poll-stale', 'poller', `no successful Lamassu poll for ${ageH.toFixed(1)} h (> ${maxH} h): ${why}`, base)], '');
        }
        return check('poller', [], `last successful poll ${s.lastSuccessAt ?? 'none yet (started ' + since + ')'}${s.paused ? `; paused: ${s.pausedReason ?? ''}` : ''}`);
      } catch (err) {
        const msg = err instanceof WorkflowNotFoundError ? `the Lamassu poller ${workflowId} does not exist` : `poller status unavailable: ${errText(err)}`;
        return check('poller', [problem('poller-not-running', 'poller', msg, { workflowId })], '');
      }
    },

    /** GET /api/v1/wallet with every configured key of the source and commission wallets. */
    async checkWalletsHealth(): Promise<HealthCheck & { keyRejected: boolean }> {
      const lnbits = createLnbitsClient({ url: config.lnbits.url, timeoutMs: config.lnbits.requestTimeoutMs });
      const problems: HealthProblem[] = [];
      let keyRejected = false;
      const ok: string[] = [];
      for (const wallet of ['source', 'commission'] as const) {
        const keys = (['adminKey', 'invoiceKey'] as const).filter((k) => config.lnbits[wallet][k]);
        if (keys.length === 0) problems.push(problem('wallet-unreachable', `${wallet}`, `no key configured for the ${wallet} wallet`, { wallet }));
        for (const k of keys) {
          const subject = `${wallet}.${k}`;
          try {
            const w = await lnbits.getWallet(config.lnbits[wallet][k]!);
            ok.push(`${subject} "${w.name}"`);
          } catch (err) {
            if (err instanceof LnbitsAuthError) {
              keyRejected = true;
              problems.push(problem('wallet-key-rejected', subject, `LNbits rejected the ${wallet} wallet's ${k} (${err.status ?? ''} ${err.detail ?? ''}): rotated or revoked; poller paused`, { wallet, key: k, status: err.status }));
            } else {
              problems.push(problem('wallet-unreachable', subject, `${wallet} wallet (${k}) unreachable: ${errText(err)}`, { wallet, key: k }));
            }
          }
        }
      }
      return { ...check('wallets', problems, `answering: ${ok.join(', ')}`), keyRejected };
    },

    async checkLamassuHealth(): Promise<HealthCheck> {
      try {
        const r = await testLamassuConnection(config.lamassu);
        if (r.ok) return check('lamassu', [], `cash_out_txs readable (${r.rowCount} rows), clock offset ${r.clockOffsetMs} ms`);
        const failed = r.steps.at(-1);
        return check('lamassu', [problem('lamassu-unreachable', `lamassu:${failed?.step ?? 'config'}`, `Lamassu connection failed at ${failed?.step ?? 'config'}: ${failed?.detail ?? ''}`, { steps: r.steps })], '');
      } catch (err) {
        return check('lamassu', [problem('lamassu-unreachable', 'lamassu', `Lamassu connection test failed: ${errText(err)}`)], '');
      }
    },

    /** Payouts not completed after stuckPayoutCriticalHours (the readiness threshold). */
    async checkStuckPayoutsHealth(): Promise<HealthCheck> {
      const hours = config.alerts.stuckPayoutCriticalHours;
      const { rows } = await pool.query(
        `SELECT count(*)::int AS n, min(created_at) AS oldest, (array_agg(id ORDER BY created_at))[1:50] AS ids, COALESCE(sum(amount_sats), 0)::text AS sats
           FROM satoshimachine.payments WHERE status IN ('pending', 'failed') AND created_at < now() - make_interval(hours => $1::int)`,
        [hours],
      );
      const r = rows[0]!;
      if (Number(r.n) === 0) return check('stuck-payouts', [], `no payout open for more than ${hours} h`);
      return check('stuck-payouts', [problem('payout-stuck-long', 'payouts', `${Number(r.n)} payout(s) (${String(r.sats)} sats) not completed after ${hours} h; oldest ${(r.oldest as Date).toISOString()}`, { count: Number(r.n), paymentIds: r.ids, sats: r.sats })], '');
    },

    /** One alert per problem (dedup per kind and subject within the quiet period); offers failed deliveries again. */
    async reportHealthProblems(input: { problems: HealthProblem[] }): Promise<{ raised: string[]; redelivered: number }> {
      const raised: string[] = [];
      const current: string[] = [];
      for (const p of input.problems) {
        const dedupKey = `health:${p.kind}:${p.subject}`;
        current.push(dedupKey);
        const r = await raiseAlert(deps, { severity: p.severity, kind: p.kind, dedupKey, message: p.message, details: p.details });
        if (r.raised) raised.push(`${p.kind}:${p.subject}`);
      }
      // Every check ran: a health alert whose problem is gone is resolved.
      await resolveAlerts(deps, { dedupKeyLike: 'health:%', exceptDedupKeys: current }, 'satmachine', 'health check passes again');
      const re = await redeliverAlerts(deps).catch((err: unknown) => (log.warn({ err: errText(err) }, 'alert redelivery failed'), { delivered: 0 }));
      return { raised, redelivered: re.delivered };
    },

    /** Pauses the poller (unless already paused); idempotent. Never resumes: that is the operator's call. */
    async pausePollerForHealth(input: { pollerWorkflowId?: string; reason: string }): Promise<{ paused: boolean; alreadyPaused: boolean }> {
      const workflowId = input.pollerWorkflowId ?? POLLER_WORKFLOW_ID;
      const client = await temporalClient();
      try {
        const s = await withTimeout(getPollerStatus(client, { workflowId }), QUERY_TIMEOUT_MS, 'poller status query');
        if (s.paused) return { paused: true, alreadyPaused: true };
      } catch (err) {
        if (err instanceof WorkflowNotFoundError) return { paused: false, alreadyPaused: false };
        // Status unavailable: pause anyway (a signal is delivered even while no worker runs the poller).
      }
      await pausePoller(client, input.reason, { workflowId, by: 'health-check' });
      log.warn({ workflowId, reason: input.reason }, 'health check paused the Lamassu poller');
      return { paused: true, alreadyPaused: false };
    },
  };

  return {
    activities,
    async close(): Promise<void> {
      await ownConnection?.close();
    },
  };
}

export function createHealthActivities(deps: ActivityDeps, opts: HealthOptions = {}) {
  return createHealth(deps, opts).activities;
}

export type HealthActivities = ReturnType<typeof createHealthActivities>;
