/**
 * Everything a Lamassu-ingestion test needs on the real stack: a migrated ledger, a simulated Lamassu
 * database reached through the run's sshd (ssh2 tunnel, pinned host key), a real LNbits commission wallet
 * behind a fault proxy (to make LNbits 'down' on demand), the
 * config tying them together and the ingestion activities built from it.
 */
import { readFileSync } from 'node:fs';
import type { Client } from '@temporalio/client';
import { configSchema, type Config } from '../../config/schema';
import { createLogger } from '../../log/logger';
import { createLamassuConnection, type LamassuConnection } from '../../adapters/lamassu/connection';
import { createLamassuIngestion } from '../../activities/lamassu';
import { createLedgerDatabase } from './ledger-db';
import { createLamassuDatabase, type LamassuTestDatabase } from './lamassu-db';
import { getStack } from './stack';
import { startFaultProxy } from './lnbits-fault-proxy';
import { createWallet } from './lnbits';

export const WRONG_FINGERPRINT = `SHA256:${Buffer.alloc(32, 7).toString('base64').replace(/=+$/, '')}`;

export interface SshCoords {
  host: string;
  port: number;
  username: string;
  privateKeyPath: string;
  hostKeySha256: string;
}

export interface IngestionFixtureOptions {
  /** Defaults to the run's sshd. */
  sshd?: SshCoords;
  hostKeySha256?: string;
  /** Task queue the cash-out workflows are started on. */
  cashOutTaskQueue?: string;
  temporalClient?: Client;
  statementTimeoutMs?: number;
  /** The simulated Lamassu database has the newer servers' fixed_fee columns. */
  fixedFee?: boolean;
}

export interface IngestionFixture {
  config: Config;
  ledger: Awaited<ReturnType<typeof createLedgerDatabase>>;
  lamassu: LamassuTestDatabase;
  /** The commission wallet's LNbits, through a fault proxy: `wallet.setUp(false)` makes it answer 503. */
  wallet: { setUp(up: boolean): void; key: string; url: string };
  conn: LamassuConnection;
  ingestion: ReturnType<typeof createLamassuIngestion>;
  /** Puts a Lamassu id into the ledger as if a cash-out workflow had recorded it. */
  markKnown(lamassuId: string, status?: string): Promise<void>;
  cleanup(): Promise<void>;
}

export const log = createLogger({ level: process.env.LOG_LEVEL ?? 'silent', name: 'test' });

export async function createIngestionFixture(opts: IngestionFixtureOptions = {}): Promise<IngestionFixture> {
  const stack = getStack();
  const sshd = opts.sshd ?? stack.sshd;
  const [ledger, lamassu, proxy, commissionWallet] = await Promise.all([
    createLedgerDatabase('ingest_ledger'),
    createLamassuDatabase('ingest_lamassu', { fixedFee: opts.fixedFee }),
    startFaultProxy(stack.lnbits.url),
    createWallet(stack.lnbits.url, stack.lnbits.superuserToken, { name: 'ingest-commission' }),
  ]);
  const wallet = { url: proxy.url, key: commissionWallet.invoiceKey, setUp: (up: boolean) => void (proxy.down = !up) };
  const config = configSchema.parse({
    databaseUrl: ledger.url,
    temporal: { address: stack.temporal.address, namespace: stack.temporal.namespace, taskQueue: opts.cashOutTaskQueue ?? 'ingest-test-cashouts' },
    lnbits: { url: wallet.url, commission: { invoiceKey: wallet.key } },
    lamassu: {
      mode: 'ssh',
      databaseUrl: lamassu.url, // the SSH server is local: "as seen from it" is the same URL
      fiatCode: 'GTQ',
      lookbackHours: 72,
      statementTimeoutMs: opts.statementTimeoutMs ?? 15_000,
      ssh: {
        host: sshd.host,
        port: sshd.port,
        username: sshd.username,
        privateKey: readFileSync(sshd.privateKeyPath, 'utf8'),
        hostKeySha256: opts.hostKeySha256 ?? sshd.hostKeySha256,
        readyTimeoutMs: 5_000,
        keepaliveIntervalMs: 1_000,
      },
    },
  });
  const conn = createLamassuConnection(config.lamassu, log);
  const ingestion = createLamassuIngestion({ config, pool: ledger.pool, log }, { lamassu: conn, temporalClient: opts.temporalClient });
  return {
    config,
    ledger,
    lamassu,
    wallet,
    conn,
    ingestion,
    async markKnown(lamassuId, status = 'received') {
      await ledger.pool.query(
        `INSERT INTO satoshimachine.lamassu_transactions (lamassu_id, device_id, crypto_atoms, crypto_code, fiat, fiat_code, lamassu_status, created, confirmed_at, status)
         VALUES ($1, 'sim-device-1', 512400, 'BTC', 4000, 'GTQ', 'confirmed', now(), now(), $2)`,
        [lamassuId, status],
      );
    },
    async cleanup() {
      await ingestion.close();
      await conn.close();
      await proxy.close();
      await Promise.all([ledger.drop(), lamassu.drop()]);
    },
  };
}
