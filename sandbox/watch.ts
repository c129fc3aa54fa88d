/**
 * Tells the person at the terminal what the system did with each cash-out: it reads the ledger every
 * couple of seconds and reports every transaction that reached an outcome (completed, rejected, failed,
 * needs attention) once, with its payouts.
 */
import type pg from 'pg';

export interface CashOutOutcome {
  lamassuId: string;
  status: string;
  cryptoCode: string;
  fiat: string;
  fiatCode: string;
  cryptoAtoms: string;
  commissionSats: string | null;
  clientPayouts: number;
  paidSats: string;
  reason: string | null;
}

const TERMINAL = ['completed', 'rejected', 'failed', 'needs_attention'];

export function watchOutcomes(pool: pg.Pool, onOutcome: (o: CashOutOutcome) => void, opts: { intervalMs?: number; onError?: (err: Error) => void } = {}): { stop(): Promise<void> } {
  const seen = new Map<string, string>();
  let stopped = false;
  let since = new Date(0).toISOString();
  let running: Promise<void> | undefined;

  async function once(): Promise<void> {
    const { rows } = await pool.query(
      `SELECT t.lamassu_id::text AS lamassu_id, t.status, t.crypto_code, t.fiat::text AS fiat, t.fiat_code,
              t.crypto_atoms::text AS crypto_atoms, t.commission_sats::text AS commission_sats,
              coalesce(t.rejected_field || ': ', '') || coalesce(t.error, '') AS reason, t.updated_at,
              (SELECT count(*)::int FROM satoshimachine.payments p WHERE p.transaction_id = t.id AND p.kind = 'client' AND p.amount_sats > 0) AS client_payouts,
              (SELECT coalesce(sum(p.amount_sats), 0)::text FROM satoshimachine.payments p
                WHERE p.transaction_id = t.id AND p.kind = 'client' AND p.status = 'completed') AS paid_sats
         FROM satoshimachine.lamassu_transactions t
        WHERE t.status = ANY ($1::text[]) AND t.updated_at >= $2::timestamptz
        ORDER BY t.updated_at`,
      [TERMINAL, since],
    );
    for (const r of rows) {
      since = (r.updated_at as Date).toISOString();
      const id = String(r.lamassu_id);
      if (seen.get(id) === r.status) continue;
      seen.set(id, String(r.status));
      onOutcome({
        lamassuId: id,
        status: String(r.status),
        cryptoCode: String(r.crypto_code),
        fiat: String(r.fiat),
        fiatCode: String(r.fiat_code),
        cryptoAtoms: String(r.crypto_atoms),
        commissionSats: (r.commission_sats as string | null) ?? null,
        clientPayouts: Number(r.client_payouts),
        paidSats: String(r.paid_sats),
        reason: (r.reason as string) || null,
      });
    }
  }

  /** Outcomes from before this start are not news: remember them silently. */
  const prime = pool
    .query(`SELECT lamassu_id::text AS id, status, updated_at FROM satoshimachine.lamassu_transactions WHERE status = ANY ($1::text[])`, [TERMINAL])
    .then(({ rows }) => {
      for (const r of rows) seen.set(String(r.id), String(r.status));
      since = new Date().toISOString();
    });

  const timer = setInterval(() => {
    if (stopped || running) return;
    running = prime
      .then(once)
      .catch((err: Error) => opts.onError?.(err))
      .finally(() => (running = undefined));
  }, opts.intervalMs ?? 1_000);

  return {
    async stop() {
      stopped = true;
      clearInterval(timer);
      await running;
      await prime.catch(() => undefined);
    },
  };
}
