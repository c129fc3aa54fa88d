import path from 'node:path';
import { runner } from 'node-pg-migrate';
import { repoRoot } from '../config/load';

export const LEDGER_SCHEMA = 'satoshimachine';
export const MIGRATIONS_DIR = path.join(repoRoot, 'db', 'migrations');

/** node-pg-migrate's answer when another process holds its advisory lock (it does not wait for it). */
const LOCKED = /Another migration is already running/;
/** How long a caller waits for another process's migration run (a slow first migration under load). */
const LOCK_WAIT_MS = 120_000;

/**
 * Applies the ledger migrations (db/migrations/*.sql, node-pg-migrate) up to the newest.
 * Runs at worker start-up, in `satmachine setup` and in tests. node-pg-migrate takes an advisory lock with
 * pg_try_advisory_lock and throws at once when another process holds it — even when nothing is left to apply:
 * several workers started together (a redeploy, the chaos duplicates campaign) then saw all but one exit with
 * "Another migration is already running". A caller waits for the other run instead and tries again (the
 * second run finds nothing to apply).
 */
export async function migrateLedger(databaseUrl: string, log: (msg: string) => void = () => {}): Promise<string[]> {
  for (const deadline = Date.now() + LOCK_WAIT_MS; ; ) {
    try {
      return await migrateOnce(databaseUrl, log);
    } catch (err) {
      if (!(err instanceof Error && LOCKED.test(err.message)) || Date.now() > deadline) throw err;
      log('another process is migrating the ledger: waiting for it');
      await new Promise((r) => setTimeout(r, 250 + Math.floor(Math.random() * 500)));
    }
  }
}

async function migrateOnce(databaseUrl: string, log: (msg: string) => void): Promise<string[]> {
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
