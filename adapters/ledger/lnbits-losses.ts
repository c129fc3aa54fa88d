/**
 * Payments LNbits lost (db/migrations/1732800900000_lnbits_losses.sql): recorded by
 * `satmachine tx settle-lost-payment` once LNbits showed the exact signature (payer row success for the payout's
 * amount, recipient row failed), before the payout's invoice is replaced. Read by the reconciliation and the
 * chaos verifier, which account the source's extra outflow as "lost in LNbits (recorded)".
 */
import type pg from 'pg';
import { withTransaction, type Queryable } from './db';
import { getPayoutRow } from './cashout';

/** The two LNbits rows of the lost hash as the command read them (never a key). */
export interface LossEvidence {
  payer: { walletId: string; checkingId: string; status: string; amountMsat: string };
  recipient: { walletId: string; checkingId: string; status: string; amountMsat: string };
  /** The disagreement alert the worker raised for this hash, when there is one. */
  alertId: string | null;
}

export interface LnbitsLoss {
  id: string;
  paymentId: string;
  transactionId: string;
  clientId: string | null;
  lostPaymentHash: string;
  amountSats: number;
  evidence: LossEvidence;
  note: string;
  recordedBy: string;
  recordedAt: string;
}

const COLUMNS = `id::text, payment_id::text, transaction_id::text, client_id::text, lost_payment_hash, amount_sats::text AS amount_sats, evidence, note, recorded_by, recorded_at`;

const mapLoss = (r: Record<string, unknown>): LnbitsLoss => ({
  id: String(r.id), paymentId: String(r.payment_id), transactionId: String(r.transaction_id), clientId: (r.client_id as string | null) ?? null,
  lostPaymentHash: String(r.lost_payment_hash), amountSats: Number(r.amount_sats), evidence: r.evidence as LossEvidence, note: String(r.note),
  recordedBy: String(r.recorded_by), recordedAt: (r.recorded_at as Date).toISOString(),
});

/**
 * Records the loss and its operator_events row in one DB transaction. Idempotent on the lost hash: a second
 * call returns the row already recorded (`created: false`) and writes nothing.
 */
export async function recordLnbitsLoss(
  pool: pg.Pool,
  loss: Omit<LnbitsLoss, 'id' | 'recordedAt'>,
): Promise<{ loss: LnbitsLoss; created: boolean }> {
  return withTransaction(pool, async (c) => {
    const { rows } = await c.query(
      `INSERT INTO satoshimachine.lnbits_losses (payment_id, transaction_id, client_id, lost_payment_hash, amount_sats, evidence, note, recorded_by)
       VALUES ($1, $2, $3, $4, $5, $6::jsonb, $7, $8) ON CONFLICT (lost_payment_hash) DO NOTHING RETURNING ${COLUMNS}`,
      [loss.paymentId, loss.transactionId, loss.clientId, loss.lostPaymentHash, loss.amountSats, JSON.stringify(loss.evidence), loss.note, loss.recordedBy],
    );
    if (rows.length === 0) {
      const existing = await c.query(`SELECT ${COLUMNS} FROM satoshimachine.lnbits_losses WHERE lost_payment_hash = $1`, [loss.lostPaymentHash]);
      return { loss: mapLoss(existing.rows[0]), created: false };
    }
    const recorded = mapLoss(rows[0]);
    await c.query(`INSERT INTO satoshimachine.operator_events (actor, action, details) VALUES ($1, 'lnbits-loss-recorded', $2::jsonb)`, [
      loss.recordedBy,
      JSON.stringify({ lossId: recorded.id, paymentId: loss.paymentId, transactionId: loss.transactionId, clientId: loss.clientId, lostPaymentHash: loss.lostPaymentHash, amountSats: loss.amountSats, note: loss.note }),
    ]);
    return { loss: recorded, created: true };
  });
}

/** The losses recorded for one payout, oldest first. */
export async function lossesOfPayout(db: Queryable, paymentId: string): Promise<LnbitsLoss[]> {
  const { rows } = await db.query(`SELECT ${COLUMNS} FROM satoshimachine.lnbits_losses WHERE payment_id = $1 ORDER BY recorded_at, id`, [paymentId]);
  return rows.map(mapLoss);
}

/** Every recorded loss, oldest first (the reconciliation lists them; there are few). */
export async function listLnbitsLosses(db: Queryable): Promise<LnbitsLoss[]> {
  const { rows } = await db.query(`SELECT ${COLUMNS} FROM satoshimachine.lnbits_losses ORDER BY recorded_at, id`);
  return rows.map(mapLoss);
}

/**
 * A failed payout whose current invoice is a recorded loss gets a new invoice; the lost hash goes to
 * replaced_payment_hashes (the database's invoice guard allows exactly this). Compare-and-set on the lost hash:
 * the row is returned as stored, so a caller whose invoice is not the stored one never has it paid.
 */
export async function replaceLostInvoice(db: Queryable, paymentId: string, lostHash: string, paymentHash: string, bolt11: string): Promise<Awaited<ReturnType<typeof getPayoutRow>>> {
  await db.query(
    `UPDATE satoshimachine.payments
        SET payment_hash = $3, bolt11 = $4, replaced_payment_hashes = replaced_payment_hashes || $2::text
      WHERE id = $1 AND payment_hash = $2 AND status = 'failed'
        AND EXISTS (SELECT 1 FROM satoshimachine.lnbits_losses l WHERE l.payment_id = $1 AND l.lost_payment_hash = $2)`,
    [paymentId, lostHash, paymentHash, bolt11],
  );
  return getPayoutRow(db, paymentId);
}
