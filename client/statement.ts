/**
 * A client's statement: what the client may see of its own account (balance, deposits, payouts, totals, the
 * sats accumulated over time) and nothing else — no ids, keys, wallet or Lamassu references, no other client.
 * All amounts are exact integers (bigint); prices are fiat minor units per BTC, rounded half away from zero.
 * Read in one REPEATABLE READ snapshot so the totals and the lines agree.
 */
import type pg from 'pg';
import { stringify } from 'csv-stringify/sync';
import { withTransaction } from '../adapters/ledger/db';
import { roundHalfAwayFromZero } from '../domain/decimal';
import { LedgerNotFoundError } from '../domain/errors';
import { formatFiat } from './args';

const SATS_PER_BTC = 100_000_000n;

export interface StatementDeposit {
  at: string;
  amountFiatMinor: bigint;
  status: 'pending' | 'confirmed';
}

export interface StatementPayout {
  at: string;
  amountSats: bigint;
  fiatDebitMinor: bigint;
  /** Fiat minor units per BTC this payout bought at. */
  pricePerBtcFiatMinor: bigint;
  /** completed: in the client's wallet; pending: on its way; failed: delayed, waiting for the operator. */
  status: 'completed' | 'pending' | 'failed';
}

export interface Statement {
  name: string;
  currency: string;
  fiatDecimals: number;
  asOf: string;
  balanceFiatMinor: bigint;
  deposits: StatementDeposit[];
  payouts: StatementPayout[];
  totals: {
    /** Confirmed deposits: the money the client handed in. */
    investedFiatMinor: bigint;
    pendingDepositsFiatMinor: bigint;
    /** Operator corrections (positive or negative). */
    adjustmentsFiatMinor: bigint;
    /** Fiat debited for paid payouts. */
    spentFiatMinor: bigint;
    satsReceived: bigint;
    /** spent / sats received, per BTC; null before the first payout. */
    averageCostPerBtcFiatMinor: bigint | null;
  };
  /** Sats accumulated after each paid payout, oldest first. */
  accumulated: Array<{ at: string; totalSats: bigint }>;
}

/** Fiat minor units per BTC for `fiatMinor` that bought `sats`. */
export const pricePerBtc = (fiatMinor: bigint, sats: bigint): bigint => (sats === 0n ? 0n : roundHalfAwayFromZero(fiatMinor * SATS_PER_BTC, sats));

export async function clientStatement(pool: pg.Pool, clientId: string, fiatDecimals: number): Promise<Statement> {
  return withTransaction(
    pool,
    async (c) => {
      const client = await c.query(`SELECT name, currency, remaining_balance_fiat_minor::text AS balance, now() AS now FROM satoshimachine.clients WHERE id = $1`, [clientId]);
      if (!client.rows.length) throw new LedgerNotFoundError(`client ${clientId} not found`, 'client_id');
      const deposits = await c.query(
        `SELECT amount_fiat_minor::text AS amount, status, COALESCE(confirmed_at, created_at) AS at
           FROM satoshimachine.deposits WHERE client_id = $1 AND status IN ('pending', 'confirmed') ORDER BY created_at, id`,
        [clientId],
      );
      const payouts = await c.query(
        `SELECT amount_sats::text AS sats, fiat_debit_minor::text AS fiat, status, COALESCE(completed_at, created_at) AS at
           FROM satoshimachine.payments WHERE client_id = $1 AND kind = 'client' AND status IN ('completed', 'pending', 'failed')
          ORDER BY COALESCE(completed_at, created_at), id`,
        [clientId],
      );
      const adjustments = await c.query(`SELECT COALESCE(sum(amount_fiat_minor), 0)::text AS total FROM satoshimachine.adjustments WHERE client_id = $1`, [clientId]);
      const r = client.rows[0];
      const depositLines: StatementDeposit[] = deposits.rows.map((d) => ({ at: (d.at as Date).toISOString(), amountFiatMinor: BigInt(d.amount), status: d.status }));
      const payoutLines: StatementPayout[] = payouts.rows.map((p) => ({
        at: (p.at as Date).toISOString(),
        amountSats: BigInt(p.sats),
        fiatDebitMinor: BigInt(p.fiat),
        pricePerBtcFiatMinor: pricePerBtc(BigInt(p.fiat), BigInt(p.sats)),
        status: p.status,
      }));
      const sum = (xs: bigint[]) => xs.reduce((a, b) => a + b, 0n);
      const paid = payoutLines.filter((p) => p.status === 'completed');
      const satsReceived = sum(paid.map((p) => p.amountSats));
      const spentFiatMinor = sum(paid.map((p) => p.fiatDebitMinor));
      let running = 0n;
      return {
        name: String(r.name),
        currency: String(r.currency),
        fiatDecimals,
        asOf: (r.now as Date).toISOString(),
        balanceFiatMinor: BigInt(r.balance),
        deposits: depositLines,
        payouts: payoutLines,
        totals: {
          investedFiatMinor: sum(depositLines.filter((d) => d.status === 'confirmed').map((d) => d.amountFiatMinor)),
          pendingDepositsFiatMinor: sum(depositLines.filter((d) => d.status === 'pending').map((d) => d.amountFiatMinor)),
          adjustmentsFiatMinor: BigInt(adjustments.rows[0].total),
          spentFiatMinor,
          satsReceived,
          averageCostPerBtcFiatMinor: satsReceived === 0n ? null : pricePerBtc(spentFiatMinor, satsReceived),
        },
        accumulated: paid.map((p) => ({ at: p.at, totalSats: (running += p.amountSats) })),
      };
    },
    'BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY',
  );
}

/** The statement's lines as CSV (one row per deposit and payout, oldest first), amounts as exact decimals. */
export function statementCsv(s: Statement): string {
  const fiat = (v: bigint) => formatFiat(v, s.fiatDecimals);
  const rows = [
    ...s.deposits.map((d) => ({ at: d.at, row: [d.at, 'deposit', d.status, fiat(d.amountFiatMinor), s.currency, '', ''] })),
    ...s.payouts.map((p) => ({ at: p.at, row: [p.at, 'payout', p.status, fiat(p.fiatDebitMinor), s.currency, p.amountSats.toString(), fiat(p.pricePerBtcFiatMinor)] })),
  ].sort((a, b) => (a.at < b.at ? -1 : a.at > b.at ? 1 : 0));
  return stringify([['date', 'type', 'status', 'fiat_amount', 'currency', 'sats', 'price_per_btc'], ...rows.map((r) => r.row)]);
}
