/**
 * The operator's switches in the ledger: control.payouts_halted (read by the cash-out workflow before each
 * transfer, see adapters/ledger/cashout.ts payoutsHalted) and the append-only operator_events audit trail.
 * Each change and its audit row are written in one DB transaction: no switch flips without its record.
 */
import type pg from 'pg';
import { type Queryable, isoCol, nullableIsoCol, withTransaction } from './db';

export interface ControlState {
  payoutsHalted: boolean;
  haltedReason: string | null;
  haltedBy: string | null;
  haltedAt: string | null;
  updatedAt: string;
}

export interface OperatorEvent {
  id: string;
  actor: string;
  action: string;
  details: Record<string, unknown>;
  at: string;
}

const mapControl = (r: Record<string, unknown>): ControlState => ({
  payoutsHalted: Boolean(r.payouts_halted),
  haltedReason: (r.halted_reason as string | null) ?? null,
  haltedBy: (r.halted_by as string | null) ?? null,
  haltedAt: nullableIsoCol(r.halted_at),
  updatedAt: isoCol(r.updated_at),
});

const mapEvent = (r: Record<string, unknown>): OperatorEvent => ({
  id: String(r.id),
  actor: String(r.actor),
  action: String(r.action),
  details: (r.details as Record<string, unknown>) ?? {},
  at: isoCol(r.at),
});

export async function getControl(db: Queryable): Promise<ControlState> {
  const { rows } = await db.query(`SELECT payouts_halted, halted_reason, halted_by, halted_at, updated_at FROM satoshimachine.control`);
  return mapControl(rows[0]);
}

/** Append one audit row (who, what, why). Details hold ids and reasons only, never a key. */
export async function recordOperatorEvent(db: Queryable, actor: string, action: string, details: Record<string, unknown> = {}): Promise<OperatorEvent> {
  const { rows } = await db.query(
    `INSERT INTO satoshimachine.operator_events (actor, action, details) VALUES ($1, $2, $3::jsonb) RETURNING id, actor, action, details, at`,
    [actor, action, JSON.stringify(details)],
  );
  return mapEvent(rows[0]);
}

export async function listOperatorEvents(db: Queryable, opts: { limit?: number; action?: string } = {}): Promise<OperatorEvent[]> {
  const { rows } = await db.query(
    `SELECT id, actor, action, details, at FROM satoshimachine.operator_events
      WHERE ($1::text IS NULL OR action = $1) ORDER BY id DESC LIMIT $2`,
    [opts.action ?? null, opts.limit ?? 50],
  );
  return rows.map(mapEvent);
}

/**
 * Halt payouts (idempotent: halting again keeps the first halt's reason, who and when, and records the
 * repeated request). Returns the state before and after, and the audit event.
 */
export async function haltPayouts(pool: pg.Pool, actor: string, reason: string, details: Record<string, unknown> = {}) {
  return withTransaction(pool, async (c) => {
    const before = mapControl((await c.query(`SELECT * FROM satoshimachine.control FOR UPDATE`)).rows[0]);
    const { rows } = await c.query(
      `UPDATE satoshimachine.control SET payouts_halted = true,
              halted_reason = CASE WHEN payouts_halted THEN halted_reason ELSE $1 END,
              halted_by = CASE WHEN payouts_halted THEN halted_by ELSE $2 END,
              halted_at = CASE WHEN payouts_halted THEN halted_at ELSE now() END
        RETURNING *`,
      [reason, actor],
    );
    const event = await recordOperatorEvent(c, actor, 'payouts-halted', { reason, alreadyHalted: before.payoutsHalted, ...details });
    return { before, after: mapControl(rows[0]), event };
  });
}

/** Resume payouts (idempotent), with its audit event. */
export async function resumePayouts(pool: pg.Pool, actor: string, reason: string | null, details: Record<string, unknown> = {}) {
  return withTransaction(pool, async (c) => {
    const before = mapControl((await c.query(`SELECT * FROM satoshimachine.control FOR UPDATE`)).rows[0]);
    const { rows } = await c.query(
      `UPDATE satoshimachine.control SET payouts_halted = false, halted_reason = NULL, halted_by = NULL, halted_at = NULL RETURNING *`,
    );
    const event = await recordOperatorEvent(c, actor, 'payouts-resumed', { reason, wasHalted: before.payoutsHalted, haltedSince: before.haltedAt, ...details });
    return { before, after: mapControl(rows[0]), event };
  });
}
