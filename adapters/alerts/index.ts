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
  /**
   * The class of cause (e.g. 'key-rejected', 'timeout'): with kind and severity it makes the fingerprint, so
   * alerts on the same subject with different causes are never deduplicated into one.
   */
  cause?: string;
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
  const fingerprint = alertFingerprint(alert.kind, severity, alert.cause);
  const row = await withTransaction(deps.pool, async (c) => {
    // Serialises raisers of one dedup key, so two concurrent raisers cannot both pass NOT EXISTS.
    await c.query('SELECT pg_advisory_xact_lock(hashtextextended($1, 7000))', [alert.dedupKey]);
    const { rows } = await c.query<{ id: string; at: Date }>(
      // Suppressed only by an unresolved alert of the same key AND cause within the quiet period.
      `INSERT INTO satoshimachine.alerts (severity, kind, dedup_key, message, details, fingerprint)
       SELECT $1, $2, $3, $4, $5::jsonb, $7
       WHERE NOT EXISTS (
         SELECT 1 FROM satoshimachine.alerts
          WHERE dedup_key = $3 AND fingerprint = $7 AND resolved_at IS NULL AND created_at > now() - make_interval(mins => $6::int))
       RETURNING id::text, created_at AS at`,
      [severity, alert.kind, alert.dedupKey, alert.message, JSON.stringify(alert.details ?? {}), alert.quietPeriodMinutes ?? deps.config.alerts.quietPeriodMinutes, fingerprint],
    );
    return rows[0];
  });
  if (!row) return { raised: false };
  const level = severity === 'critical' || severity === 'high' ? 'error' : severity === 'medium' ? 'warn' : 'info';
  deps.log[level]({ alert: { ...alert, severity, id: row.id } }, `ALERT ${severity}: ${alert.message}`);
  await deliver(deps, { id: row.id, severity, kind: alert.kind, dedupKey: alert.dedupKey, message: alert.message, details: alert.details ?? {}, at: row.at.toISOString() });
  return { raised: true, id: row.id };
}

/** kind | severity | cause: what makes two alerts on one subject "the same". */
export function alertFingerprint(kind: string, severity: AlertSeverity, cause?: string): string {
  return `${kind}|${severity}|${cause ?? ''}`;
}

/**
 * Resolves the open alerts matching `where` (the condition that raised them has cleared). `dedupKeyLike` is a
 * SQL LIKE pattern; `exceptDedupKeys` keeps the ones still current. Returns the ids resolved.
 */
export async function resolveAlerts(
  deps: AlertDeps,
  where: { dedupKeyLike: string; exceptDedupKeys?: string[] },
  by: string,
  reason: string,
): Promise<string[]> {
  const { rows } = await deps.pool.query<{ id: string; kind: string }>(
    `UPDATE satoshimachine.alerts SET resolved_at = now(), resolved_by = $3, resolve_reason = $4
      WHERE resolved_at IS NULL AND dedup_key LIKE $1 AND NOT (dedup_key = ANY($2::text[]))
      RETURNING id::text, kind`,
    [where.dedupKeyLike, where.exceptDedupKeys ?? [], by, reason],
  );
  if (rows.length) deps.log.info({ alertIds: rows.map((r) => r.id), reason }, `alerts resolved automatically: ${reason}`);
  return rows.map((r) => r.id);
}

/**
 * Offers an unacknowledged, unresolved critical alert to the channels again once every
 * config.alerts.renotifyCriticalMinutes (run by the stuck-payout sweep). Returns how many were re-notified.
 */
export async function renotifyCriticalAlerts(deps: AlertDeps, opts: { limit?: number } = {}): Promise<number> {
  const { rows } = await deps.pool.query(
    `UPDATE satoshimachine.alerts a SET last_notified_at = now(), notify_count = notify_count + 1
      FROM (SELECT id FROM satoshimachine.alerts
             WHERE severity = 'critical' AND acknowledged_at IS NULL AND resolved_at IS NULL
               AND COALESCE(last_notified_at, created_at) < now() - make_interval(mins => $1::int)
             ORDER BY created_at LIMIT $2 FOR UPDATE SKIP LOCKED) due
     WHERE a.id = due.id
     RETURNING a.id::text, a.severity, a.kind, a.dedup_key, a.message, a.details, a.created_at, a.notify_count`,
    [deps.config.alerts.renotifyCriticalMinutes, opts.limit ?? 50],
  );
  for (const r of rows) {
    const message = `STILL OPEN (notice ${Number(r.notify_count)}, unacknowledged since ${(r.created_at as Date).toISOString()}): ${String(r.message)}`;
    deps.log.error({ alert: { id: r.id, kind: r.kind, severity: r.severity } }, `ALERT critical (re-notified): ${String(r.message)}`);
    await deliver(deps, { id: String(r.id), severity: 'critical', kind: String(r.kind), dedupKey: String(r.dedup_key), message, details: r.details as Record<string, unknown>, at: (r.created_at as Date).toISOString() });
  }
  return rows.length;
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
