/**
 * The one alerts module. An alert is always recorded first (the ledger's alerts table and pino) and then
 * offered to the optional channels (webhook, e-mail). A channel failure never loses it: the row stays,
 * with delivery_error set, and `redeliverAlerts` (run by the health workflow) offers it again.
 */
import type pg from 'pg';
import type { Config } from '../../config/schema';
import type { Logger } from '../../log/logger';
import { sendEmail } from './email';
import { type AlertSeverity, SEVERITY_RANK } from './severity';
import { sendWebhook, webhookPayload } from './webhook';
import { withTransaction } from '../ledger/db';

export { DEFAULT_SEVERITIES, SEVERITY_RANK, severityFor, type AlertSeverity, type KnownAlertKind } from './severity';

export interface AlertInput {
  severity: AlertSeverity;
  /** What happened, e.g. `payout-stuck`, `row-rejected`, `cashout-needs-attention`. */
  kind: string;
  /** Same key within the quiet period = one alert (e.g. `payout-stuck:<payment id>`). */
  dedupKey: string;
  message: string;
  /** Ids and amounts only: never a key or token. */
  details?: Record<string, unknown>;
  /** Overrides config.alerts.quietPeriodMinutes for this alert (e.g. 1440: once a day). */
  quietPeriodMinutes?: number;
}

export interface AlertDeps {
  pool: pg.Pool;
  log: Logger;
  config: Config;
}

interface AlertRecord {
  id: string;
  severity: AlertSeverity;
  kind: string;
  dedupKey: string;
  message: string;
  details: Record<string, unknown>;
  at: string;
}

const errText = (err: unknown) => (err instanceof Error ? err.message : String(err));

/** Channels configured for this severity (below channelMinSeverity only pino + table). */
function channelsFor(config: Config, severity: AlertSeverity): Array<'webhook' | 'email'> {
  if (SEVERITY_RANK[severity] < SEVERITY_RANK[config.alerts.channelMinSeverity]) return [];
  const out: Array<'webhook' | 'email'> = [];
  if (config.alerts.webhookUrl) out.push('webhook');
  if (config.alerts.smtpUrl && config.alerts.emailTo) out.push('email');
  return out;
}

/** Offers one recorded alert to every configured channel and records the outcome on its row. */
async function deliver(deps: AlertDeps, a: AlertRecord): Promise<{ delivered: boolean; error?: string }> {
  const { config } = deps;
  const channels = channelsFor(config, a.severity);
  if (channels.length === 0) return { delivered: false };
  const errors: string[] = [];
  await Promise.all(
    channels.map(async (ch) => {
      try {
        if (ch === 'webhook') {
          await sendWebhook(config.alerts.webhookUrl!, webhookPayload(a), {
            timeoutMs: config.alerts.webhookTimeoutMs,
            attempts: config.alerts.webhookAttempts,
            backoffMs: config.alerts.webhookBackoffMs,
          });
        } else {
          await sendEmail(
            { smtpUrl: config.alerts.smtpUrl!, from: config.alerts.emailFrom, to: config.alerts.emailTo!, timeoutMs: config.alerts.emailTimeoutMs },
            { subject: `[satmachine ${a.severity.toUpperCase()}] ${a.kind}`, text: `${a.message}\n\nalert ${a.id} at ${a.at}\n${JSON.stringify(a.details, null, 2)}` },
          );
        }
      } catch (err) {
        errors.push(errText(err));
      }
    }),
  );
  const error = errors.length ? errors.join('; ') : undefined;
  await deps.pool
    .query(
      `UPDATE satoshimachine.alerts SET delivery_attempts = delivery_attempts + 1,
              delivered_at = CASE WHEN $2::text IS NULL THEN now() END, delivery_error = $2 WHERE id = $1`,
      [a.id, error ?? null],
    )
    .catch((err: unknown) => deps.log.error({ alertId: a.id, err: errText(err) }, 'could not record the alert delivery status'));
  if (error) deps.log.warn({ alertId: a.id, kind: a.kind, error }, 'alert channel delivery failed (the alert is recorded; redelivered later)');
  return { delivered: !error, error };
}

/**
 * Records an alert (always pino and the ledger's alerts table), unless one with the same dedup key was
 * raised within the quiet period, then delivers it to the configured channels. The severity may be
 * overridden per kind by config.alerts.severities. Returns whether a new alert was raised.
 */
export async function raiseAlert(deps: AlertDeps, alert: AlertInput): Promise<{ raised: boolean; id?: string }> {
  const severity = deps.config.alerts.severities[alert.kind] ?? alert.severity;
  const row = await withTransaction(deps.pool, async (c) => {
    // Serialises raisers of one dedup key, so two concurrent raisers cannot both pass NOT EXISTS.
    await c.query('SELECT pg_advisory_xact_lock(hashtextextended($1, 7000))', [alert.dedupKey]);
    const { rows } = await c.query<{ id: string; at: Date }>(
      `INSERT INTO satoshimachine.alerts (severity, kind, dedup_key, message, details)
       SELECT $1, $2, $3, $4, $5::jsonb
       WHERE NOT EXISTS (
         SELECT 1 FROM satoshimachine.alerts
          WHERE dedup_key = $3 AND created_at > now() - make_interval(mins => $6::int))
       RETURNING id::text, created_at AS at`,
      [severity, alert.kind, alert.dedupKey, alert.message, JSON.stringify(alert.details ?? {}), alert.quietPeriodMinutes ?? deps.config.alerts.quietPeriodMinutes],
    );
    return rows[0];
  });
  if (!row) return { raised: false };
  const level = severity === 'critical' || severity === 'high' ? 'error' : severity === 'medium' ? 'warn' : 'info';
  deps.log[level]({ alert: { ...alert, severity, id: row.id } }, `ALERT ${severity}: ${alert.message}`);
  await deliver(deps, { id: row.id, severity, kind: alert.kind, dedupKey: alert.dedupKey, message: alert.message, details: alert.details ?? {}, at: row.at.toISOString() });
  return { raised: true, id: row.id };
}

/**
 * Offers again the alerts whose channel delivery failed (newest first, within `withinHours`, fewer than
 * `maxAttempts` attempts). Returns how many were tried and delivered.
 */
export async function redeliverAlerts(deps: AlertDeps, opts: { withinHours?: number; maxAttempts?: number; limit?: number } = {}): Promise<{ tried: number; delivered: number }> {
  const { rows } = await deps.pool.query(
    `SELECT id::text, severity, kind, dedup_key, message, details, created_at FROM satoshimachine.alerts
      WHERE delivered_at IS NULL AND delivery_error IS NOT NULL AND delivery_attempts < $2
        AND created_at > now() - make_interval(hours => $1::int)
      ORDER BY created_at DESC LIMIT $3`,
    [opts.withinHours ?? 24, opts.maxAttempts ?? 10, opts.limit ?? 50],
  );
  let delivered = 0;
  for (const r of rows) {
    const out = await deliver(deps, {
      id: String(r.id), severity: r.severity as AlertSeverity, kind: String(r.kind), dedupKey: String(r.dedup_key),
      message: String(r.message), details: r.details as Record<string, unknown>, at: (r.created_at as Date).toISOString(),
    });
    if (out.delivered) delivered++;
  }
  return { tried: rows.length, delivered };
}
