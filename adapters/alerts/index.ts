import type pg from 'pg';
import type { Config } from '../../config/schema';
import type { Logger } from '../../log/logger';

/** Severities of the runbook's "Automated Alert Triggers" table. */
export type AlertSeverity = 'critical' | 'high' | 'medium' | 'info';

export interface AlertInput {
  severity: AlertSeverity;
  /** What happened, e.g. `payout-stuck`, `row-rejected`, `cashout-needs-attention`. */
  kind: string;
  /** Same key within the quiet period = one alert (e.g. `payout-stuck:<payment id>`). */
  dedupKey: string;
  message: string;
  /** Ids and amounts only: never a key or token. */
  details?: Record<string, unknown>;
}

export interface AlertDeps {
  pool: pg.Pool;
  log: Logger;
  config: Config;
}

/**
 * Records an alert (always pino and the ledger's alerts table), unless one with the same dedup key was
 * raised within the quiet period. Optional channels (webhook, e-mail) are added by the alerts module.
 * Returns whether a new alert was raised.
 */
export async function raiseAlert(deps: AlertDeps, alert: AlertInput): Promise<{ raised: boolean; id?: string }> {
  const { rows } = await deps.pool.query<{ id: string }>(
    `INSERT INTO satoshimachine.alerts (severity, kind, dedup_key, message, details)
     SELECT $1, $2, $3, $4, $5::jsonb
     WHERE NOT EXISTS (
       SELECT 1 FROM satoshimachine.alerts
        WHERE dedup_key = $3 AND created_at > now() - make_interval(mins => $6::int))
     RETURNING id::text`,
    [alert.severity, alert.kind, alert.dedupKey, alert.message, JSON.stringify(alert.details ?? {}), deps.config.alerts.quietPeriodMinutes],
  );
  const raised = rows.length > 0;
  if (raised) {
    const level = alert.severity === 'critical' || alert.severity === 'high' ? 'error' : alert.severity === 'medium' ? 'warn' : 'info';
    deps.log[level]({ alert: { ...alert, id: rows[0]!.id } }, `ALERT ${alert.severity}: ${alert.message}`);
  }
  return { raised, id: rows[0]?.id };
}
