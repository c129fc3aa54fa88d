/**
 * The sandbox's money actors: the LNbits source and commission wallets, and five DCA clients, each with an
 * LNbits wallet and a confirmed deposit in the ledger (createClient → addDeposit → confirmDeposit, the same
 * path an operator takes). Idempotent across runs: what the previous run recorded is reused once checked.
 */
import type pg from 'pg';
import { createLnbitsClient } from '../adapters/lnbits/client';
import { addDeposit, confirmDeposit, createClient, getClient, getClientInvoiceKey, listClients, setClientStatus } from '../adapters/ledger';
import { fiatMinor, type FiatMinor } from '../domain/money';
import type { Logger } from '../log/logger';
import { createWallet } from '../test/support/lnbits';

export interface DemoWallet {
  id: string;
  adminKey: string;
  invoiceKey: string;
}

export interface DemoClient {
  /** Ledger client id. */
  id: string;
  name: string;
  walletId: string;
  /** The deposit the client starts with (and tops up with when it runs low). */
  depositFiatMinor: FiatMinor;
}

export interface DemoState {
  source: DemoWallet;
  commission: DemoWallet;
  clients: DemoClient[];
}

/** Whole GTQ; a client whose balance falls under a fifth of it brings the same amount again. */
export const DEMO_CLIENTS: ReadonlyArray<{ name: string; depositWhole: number }> = [
  { name: 'Ana López', depositWhole: 15_000 },
  { name: 'Bernardo Pérez', depositWhole: 8_000 },
  { name: 'Carmen Díaz', depositWhole: 25_000 },
  { name: 'Diego Morales', depositWhole: 5_000 },
  { name: 'Elena Castillo', depositWhole: 12_000 },
];

export interface DemoDeps {
  pool: pg.Pool;
  lnbitsUrl: string;
  superuserToken: string;
  encryptionKey: string;
  currency: string;
  fiatDecimals: number;
  log: Logger;
}

async function walletAnswers(url: string, key: string, expectedId?: string): Promise<boolean> {
  try {
    const w = await createLnbitsClient({ url }).getWallet(key);
    return expectedId === undefined || w.id === null || w.id === expectedId;
  } catch {
    return false;
  }
}

async function ensureWallet(deps: DemoDeps, name: string, previous: DemoWallet | undefined, created: string[]): Promise<DemoWallet> {
  if (previous && (await walletAnswers(deps.lnbitsUrl, previous.adminKey, previous.id))) return previous;
  const w = await createWallet(deps.lnbitsUrl, deps.superuserToken, { name });
  created.push(`LNbits wallet "${name}"`);
  return { id: w.id, adminKey: w.adminKey, invoiceKey: w.invoiceKey };
}

/** The ledger still knows the client and its LNbits wallet still answers with the stored key. */
async function clientUsable(deps: DemoDeps, c: DemoClient): Promise<boolean> {
  try {
    const row = await getClient(deps.pool, c.id);
    if (row.status !== 'active') return false;
    const { invoiceKey } = await getClientInvoiceKey(deps.pool, c.id, deps.encryptionKey);
    return await walletAnswers(deps.lnbitsUrl, invoiceKey);
  } catch {
    return false;
  }
}

async function deposit(deps: DemoDeps, clientId: string, amount: FiatMinor, note: string): Promise<void> {
  const d = await addDeposit(deps.pool, { clientId, amount, note });
  await confirmDeposit(deps.pool, d.id);
}

export async function ensureDemoData(deps: DemoDeps, previous: Partial<DemoState> = {}): Promise<{ state: DemoState; created: string[] }> {
  const created: string[] = [];
  const source = await ensureWallet(deps, 'Satoshi Machine source', previous.source, created);
  const commission = await ensureWallet(deps, 'Operator commission', previous.commission, created);
  const clients: DemoClient[] = [];
  for (const spec of DEMO_CLIENTS) {
    const depositFiatMinor = fiatMinor(BigInt(spec.depositWhole) * 10n ** BigInt(deps.fiatDecimals), 'deposit');
    const old = previous.clients?.find((c) => c.name === spec.name);
    if (old && (await clientUsable(deps, old))) {
      clients.push(old);
      continue;
    }
    if (old) {
      // Its wallet is gone (LNbits data removed): keep the ledger history, stop paying it.
      await setClientStatus(deps.pool, old.id, 'closed').catch(() => undefined);
    }
    const wallet = await createWallet(deps.lnbitsUrl, deps.superuserToken, { name: spec.name });
    const row = await createClient(deps.pool, { name: spec.name, walletId: wallet.id, invoiceKey: wallet.invoiceKey, currency: deps.currency }, deps.encryptionKey);
    await deposit(deps, row.id, depositFiatMinor, 'sandbox: first deposit');
    created.push(`client ${spec.name} (deposit ${spec.depositWhole.toLocaleString('en-US')} ${deps.currency})`);
    clients.push({ id: row.id, name: spec.name, walletId: wallet.id, depositFiatMinor });
  }
  return { state: { source, commission, clients }, created };
}

/** Clients come back with cash when their balance runs low, so a long-running sandbox keeps paying out. */
export async function topUpClients(deps: DemoDeps, clients: DemoClient[]): Promise<Array<{ name: string; amount: FiatMinor }>> {
  const rows = new Map((await listClients(deps.pool)).map((r) => [r.id, r]));
  const done: Array<{ name: string; amount: FiatMinor }> = [];
  for (const c of clients) {
    const row = rows.get(c.id);
    if (!row || row.status !== 'active') continue;
    if (BigInt(row.balance) * 5n >= BigInt(c.depositFiatMinor)) continue;
    await deposit(deps, c.id, c.depositFiatMinor, 'sandbox: top-up');
    done.push({ name: c.name, amount: c.depositFiatMinor });
  }
  return done;
}
