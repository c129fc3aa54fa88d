/**
 * Reads qualifying cash-outs from Lamassu's `cash_out_txs` (read-only, through the ssh2 tunnel).
 *
 * Rows come back RAW: numerics, ids and the status enum as text, timestamps as ISO text with their zone,
 * so that nothing is rounded, truncated or coerced before domain/lamassu-row.ts validates it.
 *
 * Look-back column: `confirmed_at` (no index on it in Lamassu). A bound on `created` could use an index
 * on a big table, but it would silently drop a cash-out confirmed long after it was created (0-conf
 * redeem, slow on-chain confirmation) — a lost payout. A single ATM's table is small; the qualifying
 * filter makes the scan a few ms, and the statement timeout bounds it.
 */
import type pg from 'pg';
import { LamassuConnectionError, type LamassuConnection } from './connection';

/** One `cash_out_txs` row as selected: every value text/boolean/null, exactly as Lamassu stores it. */
export interface RawCashOutRow {
  id: string;
  device_id: string | null;
  crypto_atoms: string | null;
  received_crypto_atoms: string | null;
  crypto_code: string | null;
  fiat: string | null;
  fiat_code: string | null;
  status: string | null;
  dispense: boolean | null;
  dispense_confirmed: boolean | null;
  error: string | null;
  error_code: string | null;
  commission_percentage: string | null;
  discount: string | null;
  raw_ticker_price: string | null;
  fixed_fee: string | null;
  created: string | null;
  confirmed_at: string | null;
}

export interface FetchWindow {
  fiatCode: string;
  lookbackHours: number;
  /**
   * The database time of the last complete poll. The window starts `lookbackHours` before the earlier of
   * it and now, so an outage (or a pause) longer than the look-back only delays rows, never skips them.
   */
  lastCompletePollAt?: string | null;
  /** Cash-outs confirmed before this are never fetched (config lamassu.payFrom). */
  payFrom?: string | null;
}

export interface FetchResult {
  rows: RawCashOutRow[];
  /** Lamassu's now() (transaction start), ISO: the next poll's `lastCompletePollAt`. */
  dbNow: string;
  /** Start of the window actually used, ISO. */
  windowStart: string;
}

/** The coins whose crypto_atoms are sats. Other coins exist on Lamassu and are never ours. */
export const SATS_COINS = ['BTC', 'LN'] as const;

/** Columns Lamassu servers have had for long; a server without one of them is not one we can read. */
const REQUIRED = ['id', 'device_id', 'crypto_atoms', 'crypto_code', 'fiat', 'fiat_code', 'status', 'dispense', 'dispense_confirmed', 'error', 'error_code', 'commission_percentage', 'created', 'confirmed_at'] as const;
/** Columns of newer servers only: selected as NULL where absent (validation then decides). */
const OPTIONAL = ['received_crypto_atoms', 'discount', 'raw_ticker_price', 'fixed_fee'] as const;

/** How each column is selected: ids, numerics and enums as text, timestamps as ISO-8601 text with offset. */
const SELECT_AS: Record<(typeof REQUIRED)[number] | (typeof OPTIONAL)[number], string> = {
  id: 'id::text',
  device_id: 'device_id::text',
  crypto_atoms: 'crypto_atoms::text',
  received_crypto_atoms: 'received_crypto_atoms::text',
  crypto_code: 'crypto_code::text',
  fiat: 'fiat::text',
  fiat_code: 'fiat_code::text',
  status: 'status::text',
  dispense: 'dispense',
  dispense_confirmed: 'dispense_confirmed',
  error: 'error::text',
  error_code: 'error_code::text',
  commission_percentage: 'commission_percentage::text',
  discount: 'discount::text',
  raw_ticker_price: 'raw_ticker_price::text',
  fixed_fee: 'fixed_fee::text',
  // to_json keeps the zone (a naive `timestamp` column would come without one and be rejected).
  created: `to_json(created) #>> '{}'`,
  confirmed_at: `to_json(confirmed_at) #>> '{}'`,
};

async function existingColumns(client: pg.PoolClient): Promise<Set<string>> {
  const { rows } = await client.query<{ column_name: string }>(
    `SELECT column_name::text FROM information_schema.columns
      WHERE table_name = 'cash_out_txs' AND table_schema = ANY (current_schemas(false))`,
  );
  return new Set(rows.map((r) => r.column_name));
}

/** The SELECT list for this server's columns (identifiers come from the constant lists above only). */
function selectList(have: Set<string>): string {
  const missing = REQUIRED.filter((c) => !have.has(c));
  if (missing.length) {
    // Not a link failure, but retrying is harmless and the operator sees the message in the poller status.
    throw new LamassuConnectionError(`cash_out_txs lacks column(s) ${missing.join(', ')}: not a Lamassu schema this reader knows`);
  }
  return [...REQUIRED, ...OPTIONAL].map((c) => (have.has(c) ? `${SELECT_AS[c]} AS ${c}` : `NULL::text AS ${c}`)).join(',\n       ');
}

/**
 * Qualifying cash-outs in the look-back window, oldest first, in one READ ONLY transaction with the
 * connection's statement timeout. Throws when Lamassu cannot be read — never returns an empty result
 * for a failure.
 */
export async function fetchQualifyingCashOuts(conn: LamassuConnection, window: FetchWindow): Promise<FetchResult> {
  return conn.withReadOnly(async (client) => {
    const columns = selectList(await existingColumns(client));
    const { rows: [clock] } = await client.query<{ now: string; window_start: string }>(
      `SELECT to_json(now()) #>> '{}' AS now,
              to_json(LEAST(now(), COALESCE($1::timestamptz, now())) - make_interval(hours => $2::int)) #>> '{}' AS window_start`,
      [window.lastCompletePollAt ?? null, window.lookbackHours],
    );
    const { rows } = await client.query<RawCashOutRow>(
      `SELECT ${columns}
         FROM cash_out_txs
        WHERE status::text = 'confirmed'
          AND dispense IS TRUE
          AND dispense_confirmed IS TRUE
          AND error IS NULL
          AND error_code IS DISTINCT FROM 'operatorCancel'
          AND crypto_code = ANY ($1::text[])
          AND fiat_code = $2
          AND confirmed_at >= $3::timestamptz
          AND ($4::timestamptz IS NULL OR confirmed_at >= $4::timestamptz)
        ORDER BY confirmed_at, id`,
      [SATS_COINS, window.fiatCode, clock!.window_start, window.payFrom ?? null],
    );
    return { rows, dbNow: clock!.now, windowStart: clock!.window_start };
  });
}

/** Every value of a raw row as text (booleans 'true'/'false'), for the rejected-row record. */
export function rawRowAsText(row: RawCashOutRow): Record<string, string | null> {
  return Object.fromEntries(Object.entries(row).map(([k, v]) => [k, v === null || v === undefined ? null : String(v)]));
}

/**
 * One cash-out by id, whatever its state (READ ONLY): the record step's source of truth. null when Lamassu
 * has no such row. Throws when Lamassu cannot be read.
 */
export async function fetchCashOutById(conn: LamassuConnection, id: string): Promise<RawCashOutRow | null> {
  return conn.withReadOnly(async (client) => {
    const columns = selectList(await existingColumns(client));
    const { rows } = await client.query<RawCashOutRow>(`SELECT ${columns} FROM cash_out_txs WHERE id = $1::uuid`, [id]);
    return rows[0] ?? null;
  });
}

/**
 * Rows Lamassu itself counts as a successful cash-out (error IS NULL AND dispense) that are still not payable
 * (not confirmed, or dispense never confirmed) although created more than `olderThanHours` ago, within the
 * look-back (`withinHours` before now). A zero-conf sale left `authorized` or a crash mid-dispense ends here.
 */
export async function fetchDispensedNotFinal(
  conn: LamassuConnection,
  opts: { fiatCode: string; olderThanHours: number; withinHours: number; payFrom?: string | null },
): Promise<RawCashOutRow[]> {
  return conn.withReadOnly(async (client) => {
    const columns = selectList(await existingColumns(client));
    const { rows } = await client.query<RawCashOutRow>(
      `SELECT ${columns}
         FROM cash_out_txs
        WHERE error IS NULL
          AND dispense IS TRUE
          AND NOT (status::text = 'confirmed' AND dispense_confirmed IS TRUE)
          AND crypto_code = ANY ($1::text[])
          AND fiat_code = $2
          AND created < now() - make_interval(hours => $3::int)
          AND created >= now() - make_interval(hours => $4::int)
          AND ($5::timestamptz IS NULL OR created >= $5::timestamptz)
        ORDER BY created, id
        LIMIT 200`,
      [SATS_COINS, opts.fiatCode, opts.olderThanHours, opts.withinHours, opts.payFrom ?? null],
    );
    return rows;
  });
}
