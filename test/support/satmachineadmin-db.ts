/**
 * The old LNbits extension satmachineadmin's tables, built the way LNbits 1.x creates them (our own DDL from its
 * documented layout: migrations m001 + m002), with rows written the way LNbits writes them:
 * - SQLite: one file per extension, `<data folder>/ext_satoshimachine.sqlite3`, tables under their plain
 *   names; timestamps are epoch seconds (`strftime('%s','now')`, datetimes bound as int(timestamp)).
 * - PostgreSQL: schema `satoshimachine` in LNbits' database; `timestamp` (no zone) holding UTC wall time.
 * Amounts are INTEGER columns; SQLite keeps a non-integral float written into one as REAL (as the versions
 * that stored GTQ floats did).
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import pg from 'pg';
import initSqlJs from 'sql.js';
import { createTestDatabase } from './stack';

type Value = string | number | null;
export interface OldRows {
  clients: Array<{ id: string; user_id: string; wallet_id: string; username: string | null; dca_mode?: string; status?: string; created: Date }>;
  deposits: Array<{ id: string; client_id: string; amount: number; currency?: string; status: string; notes?: string | null; created: Date; confirmed: Date | null }>;
  payments: Array<{ id: string; client_id: string; amount_sats: number; amount_fiat: number; exchange_rate: number; transaction_type: string; lamassu_transaction_id: string | null; payment_hash: string | null; status: string; created: Date; transaction_time: Date | null }>;
  cashOuts: Array<{ id: string; lamassu_transaction_id: string; fiat_amount: number; crypto_amount: number; commission_percentage: number; discount: number; effective_commission: number; commission_amount_sats: number; base_amount_sats: number; exchange_rate: number; device_id: string; transaction_time: Date; clients_count: number; distributions_total_sats: number }>;
}

/** m001 + m002 for one dialect: `ts` is LNbits' timestamp default, `prefix` the schema qualifier. */
function ddl(prefix: string, ts: string): string[] {
  return [
    `CREATE TABLE ${prefix}dca_clients (id TEXT PRIMARY KEY NOT NULL, user_id TEXT NOT NULL, wallet_id TEXT NOT NULL, username TEXT,
       dca_mode TEXT NOT NULL DEFAULT 'flow', fixed_mode_daily_limit INTEGER, status TEXT NOT NULL DEFAULT 'active',
       created_at TIMESTAMP NOT NULL DEFAULT ${ts}, updated_at TIMESTAMP NOT NULL DEFAULT ${ts})`,
    `CREATE TABLE ${prefix}dca_deposits (id TEXT PRIMARY KEY NOT NULL, client_id TEXT NOT NULL, amount INTEGER NOT NULL,
       currency TEXT NOT NULL DEFAULT 'GTQ', status TEXT NOT NULL DEFAULT 'pending', notes TEXT,
       created_at TIMESTAMP NOT NULL DEFAULT ${ts}, confirmed_at TIMESTAMP)`,
    `CREATE TABLE ${prefix}dca_payments (id TEXT PRIMARY KEY NOT NULL, client_id TEXT NOT NULL, amount_sats INTEGER NOT NULL,
       amount_fiat INTEGER NOT NULL, exchange_rate REAL NOT NULL, transaction_type TEXT NOT NULL, lamassu_transaction_id TEXT,
       payment_hash TEXT, status TEXT NOT NULL DEFAULT 'pending', created_at TIMESTAMP NOT NULL DEFAULT ${ts})`,
    `CREATE TABLE ${prefix}lamassu_config (id TEXT PRIMARY KEY NOT NULL, host TEXT NOT NULL, port INTEGER NOT NULL DEFAULT 5432,
       database_name TEXT NOT NULL, username TEXT NOT NULL, password TEXT NOT NULL, source_wallet_id TEXT, commission_wallet_id TEXT,
       is_active BOOLEAN NOT NULL DEFAULT true, created_at TIMESTAMP NOT NULL DEFAULT ${ts}, updated_at TIMESTAMP NOT NULL DEFAULT ${ts})`,
    `CREATE TABLE ${prefix}lamassu_transactions (id TEXT PRIMARY KEY NOT NULL, lamassu_transaction_id TEXT NOT NULL UNIQUE,
       fiat_amount INTEGER NOT NULL, crypto_amount INTEGER NOT NULL, commission_percentage REAL NOT NULL, discount REAL NOT NULL DEFAULT 0.0,
       effective_commission REAL NOT NULL, commission_amount_sats INTEGER NOT NULL, base_amount_sats INTEGER NOT NULL, exchange_rate REAL NOT NULL,
       crypto_code TEXT NOT NULL DEFAULT 'BTC', fiat_code TEXT NOT NULL DEFAULT 'GTQ', device_id TEXT, transaction_time TIMESTAMP NOT NULL,
       processed_at TIMESTAMP NOT NULL DEFAULT ${ts}, clients_count INTEGER NOT NULL DEFAULT 0, distributions_total_sats INTEGER NOT NULL DEFAULT 0)`,
    `ALTER TABLE ${prefix}dca_payments ADD COLUMN transaction_time TIMESTAMP`,
  ];
}

function inserts(rows: OldRows, t: (d: Date) => Value): Array<[string, Value[]]> {
  const out: Array<[string, Value[]]> = [];
  for (const c of rows.clients) {
    out.push(['INSERT INTO {p}dca_clients (id, user_id, wallet_id, username, dca_mode, status, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)',
      [c.id, c.user_id, c.wallet_id, c.username, c.dca_mode ?? 'flow', c.status ?? 'active', t(c.created), t(c.created)]]);
  }
  for (const d of rows.deposits) {
    out.push(['INSERT INTO {p}dca_deposits (id, client_id, amount, currency, status, notes, created_at, confirmed_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)',
      [d.id, d.client_id, d.amount, d.currency ?? 'GTQ', d.status, d.notes ?? null, t(d.created), d.confirmed ? t(d.confirmed) : null]]);
  }
  for (const p of rows.payments) {
    out.push(['INSERT INTO {p}dca_payments (id, client_id, amount_sats, amount_fiat, exchange_rate, transaction_type, lamassu_transaction_id, payment_hash, status, created_at, transaction_time) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)',
      [p.id, p.client_id, p.amount_sats, p.amount_fiat, p.exchange_rate, p.transaction_type, p.lamassu_transaction_id, p.payment_hash, p.status, t(p.created), p.transaction_time ? t(p.transaction_time) : null]]);
  }
  for (const x of rows.cashOuts) {
    out.push(['INSERT INTO {p}lamassu_transactions (id, lamassu_transaction_id, fiat_amount, crypto_amount, commission_percentage, discount, effective_commission, commission_amount_sats, base_amount_sats, exchange_rate, device_id, transaction_time, processed_at, clients_count, distributions_total_sats) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)',
      [x.id, x.lamassu_transaction_id, x.fiat_amount, x.crypto_amount, x.commission_percentage, x.discount, x.effective_commission, x.commission_amount_sats, x.base_amount_sats, x.exchange_rate, x.device_id, t(x.transaction_time), t(x.transaction_time), x.clients_count, x.distributions_total_sats]]);
  }
  return out;
}

/** An LNbits data folder holding ext_satoshimachine.sqlite3 with the rows. Returns the folder and the file. */
export async function createSqliteExtensionDb(rows: OldRows): Promise<{ dataFolder: string; file: string }> {
  const SQL = await initSqlJs();
  const db = new SQL.Database();
  for (const s of ddl('', `(strftime('%s', 'now'))`)) db.run(s);
  // LNbits binds datetimes on SQLite as int(timestamp): whole epoch seconds.
  for (const [sql, values] of inserts(rows, (d) => Math.floor(d.getTime() / 1000))) db.run(sql.replace('{p}', ''), values);
  const dataFolder = mkdtempSync(path.join(tmpdir(), 'lnbits-data-'));
  const file = path.join(dataFolder, 'ext_satoshimachine.sqlite3');
  writeFileSync(file, db.export());
  db.close();
  return { dataFolder, file };
}

/** A database like LNbits' on PostgreSQL, with schema satoshimachine and the rows. */
export async function createPostgresExtensionDb(rows: OldRows): Promise<{ url: string; drop: () => Promise<void> }> {
  const db = await createTestDatabase('lnbits_pg');
  const client = new pg.Client({ connectionString: db.url });
  await client.connect();
  try {
    await client.query('CREATE SCHEMA IF NOT EXISTS satoshimachine');
    for (const s of ddl('satoshimachine.', 'now()')) await client.query(s);
    // timestamp without time zone holding the UTC wall time (LNbits strips the zone of UTC datetimes).
    for (const [sql, values] of inserts(rows, (d) => d.toISOString().replace('T', ' ').replace('Z', ''))) {
      let i = 0;
      await client.query(sql.replace('{p}', 'satoshimachine.').replace(/\?/g, () => `$${++i}`), values);
    }
  } finally {
    await client.end();
  }
  return db;
}
