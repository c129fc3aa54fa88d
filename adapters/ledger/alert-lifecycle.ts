/** Operator side of the alert life cycle: list, acknowledge, resolve (each change audited in operator_events). */
import type pg from 'pg';
import { LedgerNotFoundError } from '../../domain/errors';
import { type Queryable, isoCol, nullableIsoCol, withTransaction } from './db';

export interface AlertRow {
  id: string;
  severity: string;
  kind: string;
  dedupKey: string;
  message: string;
  createdAt: string;
  acknowledgedAt: string | null;
  acknowledgedBy: string | null;
  resolvedAt: string | null;
  resolvedBy: string | null;
  resolveReason: string | null;
  notifyCount: number;
}

const COLUMNS = `id::text, severity, kind, dedup_key, message, created_at, acknowledged_at, acknowledged_by, resolved_at, resolved_by, resolve_reason, notify_count`;

const mapAlert = (r: Record<string, unknown>): AlertRow => ({
  id: String(r.id), severity: String(r.severity), kind: String(r.kind), dedupKey: String(r.dedup_key), message: String(r.message),
  createdAt: isoCol(r.created_at), acknowledgedAt: nullableIsoCol(r.acknowledged_at), acknowledgedBy: (r.acknowledged_by as string | null) ?? null,
  resolvedAt: nullableIsoCol(r.resolved_at), resolvedBy: (r.resolved_by as string | null) ?? null, resolveReason: (r.resolve_reason as string | null) ?? null,
  notifyCount: Number(r.notify_count),
});

export type AlertState = 'open' | 'unacknowledged' | 'resolved' | 'all';

/** Alerts in `state`, unacknowledged first, most severe first, newest first. */
export async function listAlerts(db: Queryable, opts: { state?: AlertState; kind?: string; limit?: number } = {}): Promise<AlertRow[]> {
  const state = opts.state ?? 'open';
  const where = { open: 'resolved_at IS NULL', unacknowledged: 'resolved_at IS NULL AND acknowledged_at IS NULL', resolved: 'resolved_at IS NOT NULL', all: 'true' }[state];
  const { rows } = await db.query(
    `SELECT ${COLUMNS} FROM satoshimachine.alerts WHERE ${where} AND ($1::text IS NULL OR kind = $1)
      ORDER BY (resolved_at IS NULL) DESC, (acknowledged_at IS NULL) DESC,
               CASE severity WHEN 'critical' THEN 0 WHEN 'high' THEN 1 WHEN 'medium' THEN 2 ELSE 3 END, created_at DESC, id DESC
      LIMIT $2`,
    [opts.kind ?? null, opts.limit ?? 100],
  );
  return rows.map(mapAlert);
}

/**
 * Acknowledge (`ack`) or resolve alerts by id, with who and why; an alert already in that state is left as it
 * is (reported in `unchanged`). Resolving also acknowledges. Unknown ids → LedgerNotFoundError, nothing changed.
 */
export async function changeAlerts(
  pool: pg.Pool,
  action: 'ack' | 'resolve',
  ids: string[],
  actor: string,
  reason: string | null,
): Promise<{ changed: AlertRow[]; unchanged: AlertRow[] }> {
  return withTransaction(pool, async (c) => {
    const found = await c.query(`SELECT ${COLUMNS} FROM satoshimachine.alerts WHERE id = ANY($1::bigint[]) FOR UPDATE`, [ids]);
    const missing = ids.filter((id) => !found.rows.some((r) => String(r.id) === id));
    if (missing.length) throw new LedgerNotFoundError(`alert(s) ${missing.join(', ')} not found`, 'alert_id');
    const sql =
      action === 'ack'
        ? `UPDATE satoshimachine.alerts SET acknowledged_at = now(), acknowledged_by = $2, acknowledge_reason = $3
            WHERE id = ANY($1::bigint[]) AND acknowledged_at IS NULL AND resolved_at IS NULL RETURNING ${COLUMNS}`
        : `UPDATE satoshimachine.alerts SET resolved_at = now(), resolved_by = $2, resolve_reason = $3,
                  acknowledged_at = COALESCE(acknowledged_at, now()), acknowledged_by = COALESCE(acknowledged_by, $2)
            WHERE id = ANY($1::bigint[]) AND resolved_at IS NULL RETURNING ${COLUMNS}`;
    const { rows } = await c.query(sql, [ids, actor, reason]);
    const changed = rows.map(mapAlert);
    const unchanged = found.rows.map(mapAlert).filter((a) => !changed.some((x) => x.id === a.id));
    if (changed.length) {
      await c.query(`INSERT INTO satoshimachine.operator_events (actor, action, details) VALUES ($1, $2, $3::jsonb)`, [
        actor,
        action === 'ack' ? 'alerts-acknowledged' : 'alerts-resolved',
        JSON.stringify({ alertIds: changed.map((a) => a.id), kinds: [...new Set(changed.map((a) => a.kind))], reason }),
      ]);
    }
    return { changed, unchanged };
  });
}

/** Resolves the open alerts whose dedup key matches `dedupKeyLike` (the operator fixed their cause); returns their ids. */
export async function resolveAlertsLike(db: Queryable, dedupKeyLike: string, actor: string, reason: string): Promise<string[]> {
  const { rows } = await db.query<{ id: string }>(
    `UPDATE satoshimachine.alerts SET resolved_at = now(), resolved_by = $2, resolve_reason = $3,
            acknowledged_at = COALESCE(acknowledged_at, now()), acknowledged_by = COALESCE(acknowledged_by, $2)
      WHERE resolved_at IS NULL AND dedup_key LIKE $1 RETURNING id::text`,
    [dedupKeyLike, actor, reason],
  );
  return rows.map((r) => r.id);
}
