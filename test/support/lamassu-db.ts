/** A simulated Lamassu database (db/lamassu-sim/schema.sql) on the run's PostgreSQL, for tests and the sandbox. */
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import pg from 'pg';
import { createTestDatabase } from './stack';

const simDir = path.resolve(__dirname, '..', '..', 'db', 'lamassu-sim');
const schemaFile = path.join(simDir, 'schema.sql');
const fixedFeeFile = path.join(simDir, 'fixed-fee.sql');

type Value = string | number | boolean | Date | null;

/** Columns of cash_out_txs a test may set (values go in as parameters; names are checked against this list). */
export interface CashOutColumns {
  id: string;
  device_id: string;
  to_address: string;
  crypto_atoms: Value;
  received_crypto_atoms: Value;
  crypto_code: string;
  fiat: Value;
  fiat_code: string;
  status: 'notSeen' | 'published' | 'rejected' | 'authorized' | 'instant' | 'confirmed' | 'insufficientFunds';
  dispense: boolean;
  dispense_confirmed: boolean | null;
  error: string | null;
  error_code: string | null;
  commission_percentage: Value;
  raw_ticker_price: Value;
  discount: number | null;
  /** Only on servers newer than v10.0.3: createLamassuDatabase({ fixedFee: true }). */
  fixed_fee: Value;
  phone: string | null;
  tx_version: number;
  created: Date | string;
  confirmed_at: Date | string | null;
}

const COLUMNS = new Set<string>([
  'id', 'device_id', 'to_address', 'crypto_atoms', 'received_crypto_atoms', 'crypto_code', 'fiat', 'fiat_code', 'status',
  'dispense', 'dispense_confirmed', 'error', 'error_code', 'commission_percentage', 'raw_ticker_price', 'discount',
  'fixed_fee', 'phone', 'created', 'confirmed_at', 'tx_version',
]);

/** A qualifying BTC cash-out of the domain doc's real example (4000 GTQ, 512 400 sats, 5.5 %), confirmed now. */
export function qualifyingCashOut(): Omit<CashOutColumns, 'fixed_fee'> {
  const now = new Date();
  return {
    id: randomUUID(),
    device_id: 'sim-device-1',
    to_address: 'bc1qsimulatedaddress0000000000000000000000',
    crypto_atoms: '512400',
    received_crypto_atoms: '512400',
    crypto_code: 'BTC',
    fiat: '4000.00000',
    fiat_code: 'GTQ',
    status: 'confirmed',
    dispense: true,
    dispense_confirmed: true,
    error: null,
    error_code: null,
    commission_percentage: '0.05500',
    raw_ticker_price: '826091.28000',
    discount: null,
    phone: null,
    tx_version: 3,
    created: new Date(now.getTime() - 60_000),
    confirmed_at: now,
  };
}

function checkColumns(names: string[]): void {
  const bad = names.filter((n) => !COLUMNS.has(n));
  if (bad.length) throw new Error(`unknown cash_out_txs column(s): ${bad.join(', ')}`);
}

/** Inserts `qualifyingCashOut()` with `overrides` applied into any simulated Lamassu database (a test's, the sandbox's); returns its id. */
export async function insertCashOut(pool: pg.Pool, overrides: Partial<CashOutColumns> = {}): Promise<string> {
  const row = { ...qualifyingCashOut(), ...overrides };
  const names = Object.keys(row);
  checkColumns(names);
  await pool.query(`INSERT INTO cash_out_txs (${names.join(', ')}) VALUES (${names.map((_, i) => `$${i + 1}`).join(', ')})`, Object.values(row));
  return row.id;
}

export interface LamassuTestDatabase {
  url: string;
  pool: pg.Pool;
  /** Inserts a qualifying cash-out with `overrides` applied; returns its id. */
  insertCashOut(overrides?: Partial<CashOutColumns>): Promise<string>;
  /** Changes columns of an existing cash-out (e.g. dispense_confirmed flipping to true later). */
  updateCashOut(id: string, changes: Partial<CashOutColumns>): Promise<void>;
  drop(): Promise<void>;
}

/** lamassu-server v10.0.3's tables (db/lamassu-sim/schema.sql); `fixedFee`: plus the newer servers' fixed_fee columns. */
export async function createLamassuDatabase(prefix = 'lamassu', opts: { fixedFee?: boolean } = {}): Promise<LamassuTestDatabase> {
  const db = await createTestDatabase(prefix);
  const pool = new pg.Pool({ connectionString: db.url, max: 4 });
  // An idle client terminated by the server (DROP DATABASE … WITH (FORCE)) must not crash the test process.
  pool.on('error', () => undefined);
  await pool.query(readFileSync(schemaFile, 'utf8'));
  if (opts.fixedFee) await pool.query(readFileSync(fixedFeeFile, 'utf8'));
  return {
    url: db.url,
    pool,
    insertCashOut: (overrides) => insertCashOut(pool, overrides),
    async updateCashOut(id, changes) {
      const names = Object.keys(changes);
      checkColumns(names);
      await pool.query(`UPDATE cash_out_txs SET ${names.map((n, i) => `${n} = $${i + 2}`).join(', ')} WHERE id::text = $1`, [id, ...Object.values(changes)]);
    },
    async drop() {
      await pool.end();
      await db.drop();
    },
  };
}
