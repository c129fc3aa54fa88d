/**
 * The runbook's validate_system_ready, run before every poll: the ledger answers and the commission wallet
 * answers. Never throws: "not ready" is an answer (with the reason), and it raises an alert when the ledger
 * can still take one. Payouts pending for stuckPayoutCriticalHours do NOT stop the poller (issue 19: one
 * stuck cash-out must not block the others): each such cash-out gets a critical alert naming it, the check
 * reports them as a warning, and unrelated cash-outs keep being paid unless the operator halts payouts.
 */
import { raiseAlert, resolveAlerts } from '../adapters/alerts';
import { createLnbitsClient } from '../adapters/lnbits/client';
import { LnbitsAuthError } from '../adapters/lnbits/errors';
import type { ActivityDeps } from './deps';

export type ReadinessCheckName = 'ledger' | 'stuck-payouts' | 'commission-wallet';

export interface ReadinessResult {
  ready: boolean;
  /** Why not ready (the first failing check); null when ready. */
  reason: string | null;
  checks: Array<{ name: ReadinessCheckName; ok: boolean; detail: string }>;
  /** Problems that need the operator but do not stop the poller (stuck cash-outs, named). */
  warnings?: string[];
}

/** Thrown by a check whose failure needs the operator now (a rejected key will not heal by waiting). */
class CriticalCheckError extends Error {}

const message = (err: unknown) => (err instanceof Error ? err.message : String(err));

function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`${what}: no answer within ${ms} ms`)), ms)));
  return Promise.race([p, timeout]).finally(() => clearTimeout(timer));
}

/** GET /api/v1/wallet with the commission wallet's key (invoice key preferred: it cannot spend). */
async function commissionWalletCheck(deps: ActivityDeps): Promise<string> {
  const { lnbits } = deps.config;
  const key = lnbits.commission.invoiceKey ?? lnbits.commission.adminKey;
  if (!key) throw new Error('no commission wallet key configured (lnbits.commission.invoiceKey or adminKey)');
  const client = deps.lnbits ?? createLnbitsClient({ url: lnbits.url, timeoutMs: lnbits.requestTimeoutMs });
  try {
    const wallet = await client.getWallet(key);
    return `commission wallet "${wallet.name}" answers`;
  } catch (err) {
    throw err instanceof LnbitsAuthError ? new CriticalCheckError(err.message) : err;
  }
}

export async function checkSystemReady(deps: ActivityDeps): Promise<ReadinessResult> {
  const { pool, config, log } = deps;
  const checks: ReadinessResult['checks'] = [];
  let critical = false;
  const run = async (name: ReadinessCheckName, fn: () => Promise<string>) => {
    try {
      checks.push({ name, ok: true, detail: await fn() });
    } catch (err) {
      critical ||= err instanceof CriticalCheckError;
      checks.push({ name, ok: false, detail: message(err) });
    }
  };

  await run('ledger', async () => {
    await withTimeout(pool.query('SELECT 1'), 10_000, 'ledger');
    return 'ledger answers';
  });
  const warnings: string[] = [];
  if (checks[0]!.ok) {
    const hours = config.alerts.stuckPayoutCriticalHours;
    await run('stuck-payouts', async () => {
      const { rows } = await pool.query<{ lamassu_id: string; transaction_id: string; n: number; sats: string }>(
        `SELECT t.lamassu_id, t.id AS transaction_id, count(*)::int AS n, sum(p.amount_sats)::text AS sats
           FROM satoshimachine.payments p JOIN satoshimachine.lamassu_transactions t ON t.id = p.transaction_id
          WHERE p.status = 'pending' AND p.created_at < now() - make_interval(hours => $1::int)
          GROUP BY t.lamassu_id, t.id ORDER BY t.lamassu_id LIMIT 50`,
        [hours],
      );
      if (rows.length === 0) return `no payment pending for more than ${hours} h`;
      for (const r of rows) {
        await raiseAlert(deps, {
          severity: 'critical',
          kind: 'payout-stuck-long',
          dedupKey: `payout-stuck-long:${r.transaction_id}`,
          message: `Cash-out ${r.lamassu_id}: ${r.n} payment(s) (${r.sats} sats) pending for more than ${hours} h; other cash-outs keep being paid ` +
            `(\`npx satmachine tx show ${r.lamassu_id}\`, then \`tx retry\`, \`tx cancel-failed\` or \`tx resume\`; \`emergency stop\` halts every payout)`,
          details: { lamassuId: r.lamassu_id, transactionId: r.transaction_id, payments: r.n, sats: r.sats, hours },
        }).catch((err: unknown) => log.error({ err: message(err), lamassuId: r.lamassu_id }, 'could not record the stuck-payout alert'));
      }
      const n = rows.reduce((s, r) => s + r.n, 0);
      const text = `${n} payment(s) pending for more than ${hours} h in cash-out(s) ${rows.map((r) => r.lamassu_id).join(', ')}: alerted; unrelated cash-outs are still paid`;
      warnings.push(`stuck-payouts: ${text}`);
      return text;
    });
  }
  await run('commission-wallet', () => commissionWalletCheck(deps));

  const failed = checks.find((c) => !c.ok);
  const result: ReadinessResult = { ready: !failed, reason: failed ? `${failed.name}: ${failed.detail}` : null, checks, ...(warnings.length ? { warnings } : {}) };
  if (failed) {
    log.warn({ checks }, 'system not ready: the Lamassu poller starts no cash-out');
    // The ledger may be the thing that is down: then pino (inside raiseAlert's caller) is all we have.
    await raiseAlert(deps, {
      severity: critical ? 'critical' : 'high',
      kind: 'poller-not-ready',
      dedupKey: `poller-not-ready:${failed.name}`,
      cause: critical ? 'key-rejected' : 'check-failed',
      message: `Lamassu poller paused by the readiness check: ${result.reason}`,
      details: { checks },
    }).catch((err: unknown) => log.error({ err: message(err), reason: result.reason }, 'could not record the not-ready alert'));
  }
  if (!failed) {
    await resolveAlerts(deps, { dedupKeyLike: 'poller-not-ready:%' }, 'satmachine', 'readiness checks pass again')
      .catch((err: unknown) => log.warn({ err: message(err) }, 'could not resolve the not-ready alerts'));
  }
  return result;
}
