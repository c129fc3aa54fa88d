/**
 * Streaming dumps of the ledger for `export` (CSV) and `backup` (JSON lines). Every table is read through a
 * server-side cursor in batches inside ONE read-only REPEATABLE READ transaction, so the files form a
 * consistent snapshot and no table is ever held in memory. Each file gets its row count and sha256.
 */
import { createHash } from 'node:crypto';
import { createReadStream, createWriteStream, statSync } from 'node:fs';
import { once } from 'node:events';
import { finished } from 'node:stream/promises';
import type { Writable } from 'node:stream';
import type pg from 'pg';
import { stringify } from 'csv-stringify';
import { withTransaction } from '../adapters/ledger/db';

const BATCH_ROWS = 500;
const SCHEMA = 'satoshimachine';

export interface DumpedFile {
  table: string;
  file: string;
  rows: number;
  bytes: number;
  sha256: string;
}

/** Every base table of the ledger schema, in name order. */
export async function ledgerTables(c: pg.PoolClient): Promise<string[]> {
  const { rows } = await c.query(
    `SELECT table_name FROM information_schema.tables WHERE table_schema = $1 AND table_type = 'BASE TABLE' ORDER BY table_name`,
    [SCHEMA],
  );
  return rows.map((r) => String(r.table_name));
}

/** SELECT of one table in primary-key order, without the `exclude`d columns. */
export async function tableSelect(c: pg.PoolClient, table: string, exclude: readonly string[] = []): Promise<string> {
  const cols = await c.query(
    `SELECT column_name FROM information_schema.columns WHERE table_schema = $1 AND table_name = $2 ORDER BY ordinal_position`,
    [SCHEMA, table],
  );
  const pk = await c.query(
    `SELECT a.attname FROM pg_index i JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = ANY(i.indkey)
      WHERE i.indrelid = format('%I.%I', $1::text, $2::text)::regclass AND i.indisprimary ORDER BY array_position(i.indkey, a.attnum)`,
    [SCHEMA, table],
  );
  const id = (name: string) => c.escapeIdentifier(name);
  const list = cols.rows.map((r) => String(r.column_name)).filter((n) => !exclude.includes(n));
  const order = pk.rows.length ? pk.rows.map((r) => id(String(r.attname))).join(', ') : '1';
  return `SELECT ${list.map(id).join(', ')} FROM ${id(SCHEMA)}.${id(table)} ORDER BY ${order}`;
}

/** Runs `fn` in one consistent, read-only snapshot of the ledger. */
export function inSnapshot<T>(pool: pg.Pool, fn: (c: pg.PoolClient) => Promise<T>): Promise<T> {
  return withTransaction(pool, fn, 'BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
}

/** Feeds the rows of `sql` to `onBatch` BATCH_ROWS at a time through a cursor (inside the snapshot). */
export async function cursorRows(c: pg.PoolClient, sql: string, onBatch: (rows: Array<Record<string, unknown>>, columns: string[]) => Promise<void>): Promise<void> {
  await c.query(`DECLARE satmachine_dump NO SCROLL CURSOR FOR ${sql}`);
  try {
    for (;;) {
      const r = await c.query(`FETCH ${BATCH_ROWS} FROM satmachine_dump`);
      await onBatch(r.rows as Array<Record<string, unknown>>, r.fields.map((f) => f.name));
      if (r.rows.length < BATCH_ROWS) break;
    }
  } finally {
    await c.query('CLOSE satmachine_dump');
  }
}

async function write(stream: Writable, chunk: unknown): Promise<void> {
  if (!stream.write(chunk)) await once(stream, 'drain');
}

export async function sha256File(file: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(file)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

async function describe(table: string, file: string, rows: number): Promise<DumpedFile> {
  return { table, file, rows, bytes: statSync(file).size, sha256: await sha256File(file) };
}

/** CSV with a header row: timestamps as ISO 8601, json as JSON text, exact numerics as their text. */
export async function dumpCsv(c: pg.PoolClient, sql: string, table: string, file: string): Promise<DumpedFile> {
  let rows = 0;
  let csv: ReturnType<typeof stringify> | undefined;
  let out: Promise<void> | undefined;
  await cursorRows(c, sql, async (batch, columns) => {
    if (!csv) {
      csv = stringify({
        header: true,
        columns,
        cast: { date: (d) => d.toISOString(), object: (o) => JSON.stringify(o), boolean: (b) => (b ? 'true' : 'false') },
      });
      const fileStream = createWriteStream(file, { mode: 0o600 });
      csv.pipe(fileStream);
      out = finished(fileStream);
    }
    for (const row of batch) await write(csv, row);
    rows += batch.length;
  });
  csv!.end();
  await out;
  return describe(table, file, rows);
}

/** One JSON object per line (backup): every column, values as pg returns them (int8/numeric as exact text). */
export async function dumpJsonLines(c: pg.PoolClient, sql: string, table: string, file: string): Promise<DumpedFile> {
  let rows = 0;
  const stream = createWriteStream(file, { mode: 0o600 });
  const done = finished(stream);
  await cursorRows(c, sql, async (batch) => {
    for (const row of batch) await write(stream, `${JSON.stringify(row)}\n`);
    rows += batch.length;
  });
  stream.end();
  await done;
  return describe(table, file, rows);
}

/** The runbook's "Combined Audit Report": every cash-out with its payouts (one row per payout). */
export const AUDIT_REPORT_SQL = `
SELECT t.lamassu_id, t.id AS transaction_id, t.confirmed_at, t.created AS lamassu_created, t.crypto_atoms, t.crypto_code,
       t.fiat, t.fiat_code, t.fiat_minor, t.commission_percentage, t.discount, t.commission_model, t.effective_commission,
       t.base_sats, t.commission_sats, t.unallocated_sats, t.status AS transaction_status, t.error AS transaction_error,
       p.id AS payment_id, p.kind AS payment_kind, p.client_id, c.name AS client_name, p.amount_sats, p.fiat_debit_minor,
       p.status AS payment_status, p.payment_hash, p.attempts, p.completed_at AS payment_completed_at
  FROM satoshimachine.lamassu_transactions t
  LEFT JOIN satoshimachine.payments p ON p.transaction_id = t.id
  LEFT JOIN satoshimachine.clients c ON c.id = p.client_id
 ORDER BY t.confirmed_at DESC NULLS LAST, t.id, p.kind = 'commission', c.name, p.id`;
