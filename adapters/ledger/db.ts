/** Transactions and column mapping shared by the ledger adapters. All SQL is parameterised. */
import type pg from 'pg';
import { AmountError } from '../../domain/errors';
import { type FiatMinor, type Sats, fiatMinor, sats } from '../../domain/money';

/** Pool or an already-checked-out client: read-only helpers accept either. */
export type Queryable = pg.Pool | pg.PoolClient;

/**
 * Run `fn` in one database transaction, rolling back on any error. Default READ COMMITTED with explicit row
 * locks; `begin` chooses another start, e.g. a REPEATABLE READ snapshot for reports and exports.
 */
export async function withTransaction<T>(pool: pg.Pool, fn: (client: pg.PoolClient) => Promise<T>, begin = 'BEGIN'): Promise<T> {
  const client = await pool.connect();
  try {
    await client.query(begin);
    const result = await fn(client);
    await client.query('COMMIT');
    return result;
  } catch (err) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw err;
  } finally {
    client.release();
  }
}

/** int8 columns arrive as strings from `pg`; map to a safe integer or fail naming the column. */
function int8(value: unknown, field: string): string | number {
  if (typeof value === 'string' || typeof value === 'number') return value;
  throw new AmountError(field, `expected an integer column, got ${value === null ? 'null' : typeof value}`);
}
export const satsCol = (value: unknown, field: string): Sats => sats(int8(value, field), field);
export const fiatCol = (value: unknown, field: string): FiatMinor => fiatMinor(int8(value, field), field);
export const nullableSatsCol = (value: unknown, field: string): Sats | null => (value === null ? null : satsCol(value, field));
export const nullableFiatCol = (value: unknown, field: string): FiatMinor | null => (value === null ? null : fiatCol(value, field));

/** timestamptz → ISO string (plain data crosses Temporal boundaries; Date objects do not round-trip). */
export const isoCol = (value: unknown): string => (value instanceof Date ? value.toISOString() : String(value));
export const nullableIsoCol = (value: unknown): string | null => (value === null || value === undefined ? null : isoCol(value));
