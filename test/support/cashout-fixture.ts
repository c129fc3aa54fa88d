/**
 * A cash-out world on the real stack: a migrated ledger, clients with LNbits wallets and confirmed deposits,
 * a source wallet and a commission wallet, a config pointing at all of it, and a Lamassu row to pay.
 */
import { randomUUID } from 'node:crypto';
import type pg from 'pg';
import type { Client } from '@temporalio/client';
import { createCashOutActivities } from '../../activities/cashout';
import { createClient, addDeposit, confirmDeposit, listPayments } from '../../adapters/ledger';
import { createLnbitsClient } from '../../adapters/lnbits/client';
import { loadConfig } from '../../config';
import type { Config, ConfigInput } from '../../config/schema';
import type { LamassuCashOut } from '../../domain/lamassu-row';
import { fiatMinor } from '../../domain/money';
import { createLogger } from '../../log/logger';
import { cashOutStatusQuery, type CashOutState } from '../../workflows/cashout';
import { createLedgerDatabase } from './ledger-db';
import { createLamassuDatabase, type LamassuTestDatabase } from './lamassu-db';
import { createLamassuConnection } from '../../adapters/lamassu/connection';
import { balanceSats, createWallet, type TestWallet } from './lnbits';
import { startFaultProxy, type FaultProxy } from './lnbits-fault-proxy';
import { getStack } from './stack';
import { startTestWorker, testClient, uniqueTaskQueue } from './temporal-client';

export const ENCRYPTION_KEY = 'x'.repeat(32);

export interface CashOutWorld {
  db: { url: string; pool: pg.Pool; drop: () => Promise<void> };
  clients: Array<{ id: string; wallet: TestWallet; depositMinor: number }>;
  source: TestWallet;
  commission: TestWallet;
  config: Config;
  taskQueue: string;
  /** With `lamassu: true`: the simulated Lamassu database the record step re-reads cash-outs from. */
  lamassu?: LamassuTestDatabase;
  close: () => Promise<void>;
}

/** The LNbits a world's wallets live in: the run's, or a test's private one (e.g. one it restarts). */
export interface WorldLnbits {
  url: string;
  superuserToken: string;
}

/** LNbits (SQLite) answers 500 now and then when several test files create accounts at once: try again. */
export async function newWallet(name: string, fundSats?: number, lnbitsServer: WorldLnbits = getStack().lnbits): Promise<TestWallet> {
  const { url, superuserToken } = lnbitsServer;
  for (let attempt = 1; ; attempt++) {
    try {
      return await createWallet(url, superuserToken, { name, fundSats });
    } catch (err) {
      if (attempt >= 5 || !/HTTP 5\d\d/.test((err as Error).message)) throw err;
      await new Promise((r) => setTimeout(r, 200 * attempt));
    }
  }
}

export async function createCashOutWorld(opts: {
  taskQueue: string;
  clients?: number;
  depositMinor?: number;
  sourceSats?: number;
  overrides?: ConfigInput;
  lnbitsUrl?: string;
  /** A simulated Lamassu database (v10.0.3; `fixedFee`: newer) and every cash-out check on, as in production. */
  lamassu?: boolean | { fixedFee?: boolean };
  /** Wallets in this LNbits instead of the run's. */
  lnbits?: WorldLnbits;
}): Promise<CashOutWorld> {
  const { temporal } = getStack();
  const lnbits = opts.lnbits ?? getStack().lnbits;
  const db = await createLedgerDatabase('cashout');
  const lamassu = opts.lamassu ? await createLamassuDatabase('cashout_lamassu', typeof opts.lamassu === 'object' ? opts.lamassu : {}) : undefined;
  const [source, commission] = await Promise.all([
    newWallet('source', opts.sourceSats ?? 2_000_000, lnbits),
    newWallet('commission', undefined, lnbits),
  ]);
  const clients: CashOutWorld['clients'] = [];
  const n = opts.clients ?? 5;
  for (let i = 0; i < n; i++) {
    const wallet = await newWallet(`client-${i}`, undefined, lnbits);
    const c = await createClient(db.pool, { name: `client ${i}`, walletId: wallet.id, invoiceKey: wallet.invoiceKey, currency: 'GTQ' }, ENCRYPTION_KEY);
    // Different balances so the proportional split is visible: 500, 750, 1000, … GTQ.
    const depositMinor = opts.depositMinor ?? 50_000 + i * 25_000;
    await confirmDeposit(db.pool, (await addDeposit(db.pool, { clientId: c.id, amount: fiatMinor(depositMinor) })).id);
    clients.push({ id: c.id, wallet, depositMinor });
  }
  // lnbits overrides are merged into the world's wallets; everything else replaces.
  const { lnbits: _lnbitsOverrides, ...rest } = opts.overrides ?? {};
  const config = loadConfig({
    env: {},
    file: null,
    overrides: {
      databaseUrl: db.url,
      temporal: { address: temporal.address, namespace: temporal.namespace, taskQueue: opts.taskQueue },
      lnbits: {
        url: opts.lnbitsUrl ?? lnbits.url,
        source: { id: source.id, adminKey: source.adminKey, invoiceKey: source.invoiceKey },
        commission: { id: commission.id, invoiceKey: commission.invoiceKey },
        superuserToken: lnbits.superuserToken,
        ...opts.overrides?.lnbits,
      },
      encryptionKey: ENCRYPTION_KEY,
      lamassu: { fiatCode: 'GTQ', fiatDecimals: 2, ...(lamassu ? { mode: 'direct' as const, databaseUrl: lamassu.url } : {}) },
      // Without a Lamassu database the rows are made up: no re-read, no price band (the commission rules stay).
      cashOutChecks: lamassu ? {} : { verifyInLamassu: false, plausibility: false },
      log: { level: (process.env.LOG_LEVEL as 'silent') ?? 'silent' },
      ...rest,
    },
  });
  return {
    db, clients, source, commission, config, taskQueue: opts.taskQueue, lamassu,
    close: async () => {
      await lamassu?.drop();
      await db.drop();
    },
  };
}

export interface CashOutWorldOptions {
  /** Prefix of the world's unique task queue (one per test file). */
  taskQueuePrefix: string;
  clients?: number;
  sourceSats?: number;
  overrides?: ConfigInput;
  /** Put a fault proxy in front of LNbits: the world's config (and so the worker) talks to LNbits through it. */
  faultProxy?: boolean;
  /** Run the cash-out activities in an in-process worker (default); false when the test runs its own worker process. */
  worker?: boolean;
  lamassu?: boolean | { fixedFee?: boolean };
  /** A private LNbits for the world's wallets (and the proxy's target). */
  lnbits?: WorldLnbits;
}
export interface CashOutContext {
  world: CashOutWorld;
  client: Client;
  proxy?: FaultProxy;
}

/**
 * Runs `fn` in a fresh cash-out world with a Temporal client and (unless `worker: false`) a worker on the
 * world's task queue; everything is stopped and the ledger dropped afterwards, whatever `fn` did.
 */
export async function withCashOutWorld(opts: CashOutWorldOptions & { faultProxy: true }, fn: (ctx: CashOutContext & { proxy: FaultProxy }) => Promise<void>): Promise<void>;
export async function withCashOutWorld(opts: CashOutWorldOptions, fn: (ctx: CashOutContext) => Promise<void>): Promise<void>;
export async function withCashOutWorld(
  opts: CashOutWorldOptions,
  fn: ((ctx: CashOutContext & { proxy: FaultProxy }) => Promise<void>) | ((ctx: CashOutContext) => Promise<void>),
): Promise<void> {
  const { taskQueuePrefix, faultProxy, worker: inProcessWorker = true, ...worldOpts } = opts;
  const cleanup: Array<() => Promise<void>> = [];
  try {
    const proxy = faultProxy ? await startFaultProxy((worldOpts.lnbits ?? getStack().lnbits).url) : undefined;
    if (proxy) cleanup.unshift(() => proxy.close());
    const taskQueue = uniqueTaskQueue(taskQueuePrefix);
    const world = await createCashOutWorld({ taskQueue, lnbitsUrl: proxy?.url, ...worldOpts });
    cleanup.push(() => world.close());
    const { client, close } = await testClient();
    cleanup.unshift(close);
    if (inProcessWorker) {
      const log = createLogger({ level: process.env.LOG_LEVEL ?? 'silent', name: taskQueuePrefix });
      const conn = world.lamassu ? createLamassuConnection(world.config.lamassu, log) : undefined;
      if (conn) cleanup.unshift(() => conn.close());
      const activities = createCashOutActivities({ config: world.config, pool: world.db.pool, log }, conn ? { lamassu: () => conn } : {});
      const worker = await startTestWorker({ taskQueue, activities });
      cleanup.unshift(worker.stop);
    }
    // The overloads guarantee `proxy` is set whenever `fn` expects it.
    await (fn as (ctx: CashOutContext) => Promise<void>)({ world, client, proxy });
  } finally {
    // Worker, client, proxy, then the ledger: nothing may still be paying when the world goes away.
    for (const step of cleanup) await step();
  }
}

/** A qualifying Lamassu cash-out confirmed now (after the deposits): 512 400 sats for 4000 GTQ at 5.5 %. */
export function cashOutRow(over: Partial<LamassuCashOut> = {}): LamassuCashOut {
  const now = new Date().toISOString();
  return {
    id: randomUUID(), deviceId: 'atm-1', cryptoAtoms: '512400', receivedCryptoAtoms: null, cryptoCode: 'BTC',
    fiat: '4000.00000', fiatCode: 'GTQ', status: 'confirmed', dispense: true, dispenseConfirmed: true, error: null,
    errorCode: null, commissionPercentage: '0.05500', discount: 0, rawTickerPrice: '826091.28000', fixedFee: null,
    created: now, confirmedAt: now, ...over,
  };
}

export async function ledgerTransaction(pool: pg.Pool, lamassuId: string) {
  const { rows } = await pool.query(
    `SELECT id, status, crypto_atoms::bigint::int AS crypto_atoms, base_sats::int AS base_sats, commission_sats::int AS commission_sats,
            unallocated_sats::int AS unallocated_sats, workflow_id, run_id
       FROM satoshimachine.lamassu_transactions WHERE lamassu_id = $1`,
    [lamassuId],
  );
  const tx = rows[0] as { id: string; status: string; crypto_atoms: number; base_sats: number; commission_sats: number; unallocated_sats: number; workflow_id: string; run_id: string } | undefined;
  return tx ? { ...tx, payments: await listPayments(pool, tx.id) } : undefined;
}

export const walletSats = (w: TestWallet) => balanceSats(getStack().lnbits.url, w.adminKey);

export async function setHalted(pool: pg.Pool, halted: boolean): Promise<void> {
  await pool.query(
    halted
      ? `UPDATE satoshimachine.control SET payouts_halted = true, halted_reason = 'test', halted_by = 'test', halted_at = now()`
      : `UPDATE satoshimachine.control SET payouts_halted = false, halted_reason = NULL, halted_by = NULL, halted_at = NULL`,
  );
}

/** Superuser credit of a test wallet. */
export async function fund(wallet: TestWallet, sats: number): Promise<void> {
  const { url, superuserToken } = getStack().lnbits;
  await createLnbitsClient({ url }).creditWallet(superuserToken, wallet.id, sats);
}

/** Deletes a wallet as the superuser: its keys stop working ("Wallet not found."). */
export async function deleteWallet(wallet: TestWallet): Promise<void> {
  const { url, superuserToken } = getStack().lnbits;
  const res = await fetch(`${url}/users/api/v1/user/${wallet.userId}/wallet/${wallet.id}`, {
    method: 'DELETE',
    headers: { Authorization: `Bearer ${superuserToken}` },
  });
  if (res.status !== 200) throw new Error(`delete wallet: HTTP ${res.status} ${await res.text()}`);
}

/** Polls a visibility query until `ids` match (visibility is eventually consistent). */
export async function waitForList(list: () => Promise<string[]>, expect: (ids: string[]) => boolean, timeoutMs = 10_000): Promise<string[]> {
  const deadline = Date.now() + timeoutMs;
  let ids: string[] = [];
  while (Date.now() < deadline) {
    ids = await list();
    if (expect(ids)) return ids;
    await new Promise((r) => setTimeout(r, 200));
  }
  return ids;
}

/** Polls the workflow's `status` query until `pred` holds (the workflow may not have answered yet). */
export async function untilState(client: Client, workflowId: string, pred: (s: CashOutState) => boolean, what: string, timeoutMs = 30_000): Promise<CashOutState> {
  const handle = client.workflow.getHandle(workflowId);
  const deadline = Date.now() + timeoutMs;
  let last: CashOutState | undefined;
  while (Date.now() < deadline) {
    last = await handle.query(cashOutStatusQuery).catch(() => last);
    if (last && pred(last)) return last;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`${workflowId} never reached "${what}" (last: status ${last?.status}, step ${last?.step}, error ${last?.lastError})`);
}

/** Workflow ids matching a visibility query. */
export const listWorkflowIds = (client: Client, query: string) => async (): Promise<string[]> => {
  const ids: string[] = [];
  for await (const wf of client.workflow.list({ query })) ids.push(wf.workflowId);
  return ids;
};

/** The workflow's current details (what the Web UI shows), read through the SDK's metadata query. */
export async function currentDetails(client: Client, workflowId: string): Promise<string> {
  const meta = (await client.workflow.getHandle(workflowId).query('__temporal_workflow_metadata')) as { currentDetails?: string };
  return meta.currentDetails ?? '';
}

/** A client's stored balance (fiat minor units). */
export async function storedBalance(pool: pg.Pool, clientId: string): Promise<number> {
  const { rows } = await pool.query(`SELECT remaining_balance_fiat_minor::bigint::int AS b FROM satoshimachine.clients WHERE id = $1`, [clientId]);
  return rows[0].b as number;
}
