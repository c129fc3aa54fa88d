/**
 * One campaign's own stack, in a temp folder on random ports: PostgreSQL (ledger + simulated Lamassu
 * database), the Temporal dev server (state on disk), LNbits (FakeWallet), an sshd through which the real
 * SSH-tunnel code reads the Lamassu rows, a fault proxy in front of LNbits for the workers, the wallets and
 * clients, `satmachine setup` (schedules, poller) and N worker processes. `stop()` takes everything down.
 */
import { randomBytes } from 'node:crypto';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Client, Connection } from '@temporalio/client';
import pg from 'pg';
import { runSetup } from '../client/setup';
import { loadConfig } from '../config';
import type { Config, ConfigInput } from '../config/schema';
import { migrateLedger } from '../db/migrate';
import { addDeposit, confirmDeposit, createClient } from '../adapters/ledger';
import { createLnbitsClient } from '../adapters/lnbits/client';
import { fiatMinor } from '../domain/money';
import { createLogger } from '../log/logger';
import { startFaultProxy, type FaultProxy } from '../test/support/lnbits-fault-proxy';
import { createWallet, type TestWallet } from '../test/support/lnbits';
import { freePort } from '../test/support/ports';
import { startSshd } from '../test/support/sshd';
import { startChaosLnbits, startChaosPostgres, startChaosTemporal, startChaosWorker, type Restartable } from './components';

export type FundingMode = 'prefunded' | 'superuser-credit';

export interface ChaosClient {
  id: string;
  wallet: TestWallet;
}

export interface ChaosStack {
  dir: string;
  config: Config;
  configFile: string;
  ledger: pg.Pool;
  lamassu: pg.Pool;
  lamassuUrl: string;
  client: Client;
  proxy: FaultProxy;
  postgres: Restartable;
  temporal: Restartable;
  lnbits: Restartable & { url: string; superuserToken: string; dbFile: string };
  workers: Array<ReturnType<typeof startChaosWorker>>;
  source: TestWallet;
  commission: TestWallet;
  clients: ChaosClient[];
  /** A further worker process on the same config (duplicates campaign). */
  addWorker(): Promise<void>;
}

export const ENCRYPTION_KEY_BYTES = 32;
const MAX_CREDIT_SATS = 10_000_000;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export interface StackOptions {
  name: string;
  fundingMode: FundingMode;
  clients: number;
  /** Each client's confirmed deposit (fiat minor units). */
  depositMinor: number;
  /** Prefunded: sats credited to the source wallet up front. */
  sourceSats: number;
  workers?: number;
  overrides?: ConfigInput;
  /** The poller's interval (default 2 s: campaigns want cash-outs picked up at once). */
  pollIntervalSeconds?: number;
  /** Where the folder goes; removed at stop unless CHAOS_KEEP is set. */
  parentDir?: string;
}

async function ensureDatabase(adminUrl: string, name: string): Promise<string> {
  const admin = new pg.Client({ connectionString: adminUrl });
  await admin.connect();
  try {
    const { rowCount } = await admin.query('SELECT 1 FROM pg_database WHERE datname = $1', [name]);
    if (!rowCount) await admin.query(`CREATE DATABASE "${name}"`);
  } finally {
    await admin.end();
  }
  const u = new URL(adminUrl);
  u.pathname = `/${name}`;
  return u.toString();
}

async function retry<T>(what: string, fn: () => Promise<T>, attempts = 8): Promise<T> {
  for (let i = 1; ; i++) {
    try {
      return await fn();
    } catch (err) {
      if (i >= attempts) throw new Error(`${what}: ${(err as Error).message}`, { cause: err });
      await sleep(300 * i);
    }
  }
}

export async function startChaosStack(opts: StackOptions, register: (name: string, stop: () => Promise<void>) => void): Promise<ChaosStack> {
  const dir = mkdtempSync(path.join(opts.parentDir ?? tmpdir(), `satmachine-chaos-${opts.name}-`));
  chmodSync(dir, 0o755); // embedded PostgreSQL runs as the OS user postgres when we are root
  register('folder', async () => {
    if (!process.env.CHAOS_KEEP) rmSync(dir, { recursive: true, force: true });
  });
  const [pgPort, temporalPort, lnbitsPort] = [await freePort(), await freePort(), await freePort()];
  const [postgres, temporal, lnbits, sshd] = await Promise.all([
    startChaosPostgres(path.join(dir, 'pg'), pgPort).then((s) => (register('postgres', s.stop), s)),
    startChaosTemporal(dir, temporalPort).then((s) => (register('temporal', s.stop), s)),
    startChaosLnbits(path.join(dir, 'lnbits'), lnbitsPort, randomBytes(18).toString('base64url')).then((s) => (register('lnbits', s.stop), s)),
    startSshd({ dir: path.join(dir, 'sshd') }).then((s) => (register('sshd', s.stop), s)),
  ]);
  const ledgerUrl = await ensureDatabase(postgres.adminUrl, 'satmachine');
  const lamassuUrl = await ensureDatabase(postgres.adminUrl, 'lamassu_sim');
  const lamassu = new pg.Pool({ connectionString: lamassuUrl, max: 4 });
  lamassu.on('error', () => {});
  register('lamassu pool', () => lamassu.end());
  await lamassu.query(readFileSync(path.join(__dirname, '..', 'db', 'lamassu-sim', 'schema.sql'), 'utf8'));
  await migrateLedger(ledgerUrl);
  const ledger = new pg.Pool({ connectionString: ledgerUrl, max: 4 });
  ledger.on('error', () => {});
  register('ledger pool', () => ledger.end());

  const encryptionKey = randomBytes(ENCRYPTION_KEY_BYTES).toString('base64url');
  const newWallet = (name: string) => retry(`wallet ${name}`, () => createWallet(lnbits.url, lnbits.superuserToken, { name }));
  const source = await newWallet('source');
  const commission = await newWallet('commission');
  const lnbitsApi = createLnbitsClient({ url: lnbits.url });
  if (opts.fundingMode === 'prefunded') {
    for (let left = opts.sourceSats; left > 0; left -= MAX_CREDIT_SATS) {
      await retry('fund source', () => lnbitsApi.creditWallet(lnbits.superuserToken, source.id, Math.min(left, MAX_CREDIT_SATS)));
    }
  }
  const clients: ChaosClient[] = [];
  for (let i = 0; i < opts.clients; i++) {
    const wallet = await newWallet(`client-${i}`);
    const c = await createClient(ledger, { name: `chaos client ${i}`, walletId: wallet.id, invoiceKey: wallet.invoiceKey, currency: 'GTQ' }, encryptionKey);
    // Different balances so that the proportional split differs per client.
    const amount = fiatMinor(opts.depositMinor + i * Math.floor(opts.depositMinor / 4));
    await confirmDeposit(ledger, (await addDeposit(ledger, { clientId: c.id, amount })).id);
    clients.push({ id: c.id, wallet });
  }

  const proxy = await startFaultProxy(lnbits.url);
  register('fault proxy', () => proxy.close());
  const configInput: ConfigInput = {
    temporal: { address: temporal.address, namespace: temporal.namespace, taskQueue: 'satmachine' },
    databaseUrl: ledgerUrl,
    lnbits: {
      url: proxy.url,
      source: { id: source.id, adminKey: source.adminKey, invoiceKey: source.invoiceKey },
      commission: { id: commission.id, invoiceKey: commission.invoiceKey },
      superuserToken: lnbits.superuserToken,
      requestTimeoutMs: 5_000,
    },
    lamassu: {
      mode: 'ssh',
      databaseUrl: lamassuUrl,
      ssh: { host: sshd.host, port: sshd.port, username: sshd.username, privateKey: readFileSync(sshd.privateKeyPath, 'utf8'), hostKeySha256: sshd.hostKeySha256, readyTimeoutMs: 5_000, keepaliveIntervalMs: 2_000 },
      fiatCode: 'GTQ',
      fiatDecimals: 2,
      pollIntervalSeconds: opts.pollIntervalSeconds ?? 2,
      lookbackHours: 2,
    },
    commissionModel: 'runbook',
    fundingMode: opts.fundingMode,
    encryptionKey,
    log: { level: 'info' },
    ...opts.overrides,
  };
  const config = loadConfig({ env: {}, file: null, overrides: configInput });
  const configFile = path.join(dir, 'config.json');
  writeFileSync(configFile, JSON.stringify(configInput), { mode: 0o600 });

  // gRPC reconnects by itself after a Temporal restart on the same port.
  const connection = await Connection.connect({ address: temporal.address });
  const client = new Client({ connection, namespace: temporal.namespace });
  register('temporal client', () => connection.close());

  mkdirSync(path.join(dir, 'logs'), { recursive: true });
  const workers: ChaosStack['workers'] = [];
  const addWorker = async () => {
    const w = startChaosWorker(configFile, path.join(dir, 'logs', `worker-${workers.length}.log`));
    workers.push(w);
    register(`worker ${workers.length}`, w.stop);
    await w.started();
  };
  await Promise.all(Array.from({ length: opts.workers ?? 1 }, () => addWorker()));
  await runSetup(config, createLogger({ level: 'silent', name: 'chaos-setup' }), { client });

  return {
    dir, config, configFile, ledger, lamassu, lamassuUrl, client, proxy, postgres, temporal, lnbits, workers, source, commission, clients,
    addWorker,
  };
}
