import path from 'node:path';
import { runner } from 'node-pg-migrate';
import { repoRoot } from '../config/load';

export const LEDGER_SCHEMA = 'satoshimachine';
export const MIGRATIONS_DIR = path.join(repoRoot, 'db', 'migrations');

/**
 * Applies the ledger migrations (db/migrations/*.sql, node-pg-migrate) up to the newest.
 * Runs at worker start-up, in `satmachine setup` and in tests; node-pg-migrate takes an advisory
 * lock, so concurrent callers wait instead of racing.
 */
export async function migrateLedger(databaseUrl: string, log: (msg: string) => void = () => {}): Promise<string[]> {
  const applied = await runner({
    databaseUrl,
    dir: MIGRATIONS_DIR,
    direction: 'up',
    migrationsTable: 'pgmigrations',
    migrationsSchema: LEDGER_SCHEMA,
    schema: LEDGER_SCHEMA,
    createSchema: true,
    createMigrationsSchema: true,
    checkOrder: true,
    log,
    logger: { debug: () => {}, info: log, warn: log, error: log },
  });
  return applied.map((m) => m.name);
}
