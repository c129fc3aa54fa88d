/**
 * The ATM side of a campaign: plausible cash-outs of random size inserted into the simulated Lamassu
 * database (the poller finds them through the SSH tunnel), and waiting until the ledger says every one of
 * them settled (completed or rejected) or the campaign's time is up.
 */
import { randomInt } from 'node:crypto';
import type pg from 'pg';
import { insertCashOut, type CashOutColumns } from '../test/support/lamassu-db';
import { sleep } from '../test/support/process-group';

/** A qualifying cash-out of 100–1500 GTQ at ~830 000 GTQ/BTC, 5.5 % commission, confirmed now. */
export function plausibleRow(): Partial<CashOutColumns> {
  const fiatWhole = randomInt(100, 1501);
  const ticker = 830_000;
  // sats = fiat × 10^8 / ticker / (1 − 0.055), in integers (rounded down)
  const atoms = (BigInt(fiatWhole) * 100_000_000n * 1000n) / (BigInt(ticker) * 945n);
  const now = new Date();
  return {
    crypto_atoms: String(atoms), received_crypto_atoms: String(atoms), fiat: `${fiatWhole}.00000`, fiat_code: 'GTQ', crypto_code: randomInt(4) === 0 ? 'LN' : 'BTC',
    commission_percentage: '0.05500', raw_ticker_price: `${ticker}.00000`, created: new Date(now.getTime() - 30_000), confirmed_at: now,
  };
}

export async function insertRows(lamassu: pg.Pool, n: number): Promise<string[]> {
  const ids: string[] = [];
  for (let i = 0; i < n; i++) ids.push(await insertCashOut(lamassu, plausibleRow()));
  return ids;
}

export interface Settlement {
  byStatus: Record<string, number>;
  settled: number;
  waitedMs: number;
}

/** Ledger statuses of `ids` (absent: 'not-ingested'); retries while the ledger itself is down. */
export async function statuses(ledger: pg.Pool, ids: string[]): Promise<Map<string, string>> {
  const out = new Map(ids.map((id) => [id, 'not-ingested']));
  const { rows } = await ledger.query(`SELECT lamassu_id::text AS id, status FROM satoshimachine.lamassu_transactions WHERE lamassu_id::text = ANY ($1)`, [ids]);
  for (const r of rows) out.set(String(r.id), String(r.status));
  return out;
}

const SETTLED = new Set(['completed', 'rejected']);

/**
 * Waits until every id is completed or rejected, or nothing moved (no status change, no payment asked of
 * LNbits: `activity()`) for `idleMs` while some are stuck, or `timeoutMs`. Never throws for an unreachable ledger.
 */
export async function waitSettled(ledger: pg.Pool, ids: string[], timeoutMs: number, opts: { idleMs?: number; activity?: () => number } = {}): Promise<Settlement> {
  const t0 = Date.now();
  const idleMs = opts.idleMs ?? 30_000;
  let last = new Map<string, string>();
  let signature = '';
  let changedAt = Date.now();
  for (;;) {
    last = await statuses(ledger, ids).catch(() => last);
    const sig = `${[...last.values()].join(',')}|${opts.activity?.() ?? 0}`;
    if (sig !== signature) {
      signature = sig;
      changedAt = Date.now();
    }
    const settled = [...last.values()].filter((s) => SETTLED.has(s)).length;
    if (settled === ids.length || Date.now() - t0 > timeoutMs || Date.now() - changedAt > idleMs) {
      const byStatus: Record<string, number> = {};
      for (const s of last.values()) byStatus[s] = (byStatus[s] ?? 0) + 1;
      return { byStatus, settled, waitedMs: Date.now() - t0 };
    }
    await sleep(1_000);
  }
}

/** Random integer in [lo, hi]. */
export const between = (lo: number, hi: number) => randomInt(lo, hi + 1);
