import pg from 'pg';
import { migrateLedger } from '../../db/migrate';
import { createTestDatabase } from './stack';

export { migrateLedger };

/** A fresh, migrated ledger database with a pool; `drop()` closes the pool and removes the database. */
export async function createLedgerDatabase(prefix = 'ledger'): Promise<{ url: string; pool: pg.Pool; drop: () => Promise<void> }> {
  const db = await createTestDatabase(prefix);
  await migrateLedger(db.url);
  const pool = new pg.Pool({ connectionString: db.url, max: 8 });
  // DROP DATABASE … WITH (FORCE) ends idle connections of pools a test forgot: not a test failure.
  pool.on('error', () => {});
  return {
    url: db.url,
    pool,
    drop: async () => {
      await pool.end();
      await db.drop();
    },
  };
}
