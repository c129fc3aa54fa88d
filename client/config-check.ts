/**
 * `checkConfig(config)`: is this config usable for moving money? Each check is 'ok', 'fail' (the config is
 * wrong: a missing or wrong-kind key, a key of another wallet, a host key that does not match), 'unreachable'
 * (could not verify now) or 'skipped'. The worker refuses to start on any 'fail' (worker/main.ts); the CLI
 * prints the report (`satmachine config check`). No key or password ever appears in a detail.
 */
import pg from 'pg';
import { type Config, isLoopbackHost } from '../config/schema';
import { createLnbitsClient } from '../adapters/lnbits/client';
import { publicLnbitsUrl } from '../adapters/lnbits/url';
import { verifyEncryptionKey } from '../adapters/ledger/key-custody';
import { describeDatabaseUrl } from '../adapters/lamassu/connection';
import { testLamassuConnection } from '../adapters/lamassu/connection-test';
import { checkAdminKey, checkInvoiceKey, type KeyCheck, type KeyCheckStatus } from './lnbits-keys';

export type CheckStatus = KeyCheckStatus | 'skipped';

export interface ConfigCheck {
  name: string;
  status: CheckStatus;
  detail: string;
}

export interface ConfigCheckReport {
  /** No check failed ('unreachable' and 'skipped' do not make it false). */
  ok: boolean;
  /** Every check could be carried out. */
  complete: boolean;
  checks: ConfigCheck[];
}

const message = (err: unknown) => (err instanceof Error ? err.message : String(err));

async function ledgerCheck(config: Config): Promise<ConfigCheck> {
  const name = 'ledger';
  if (!config.databaseUrl) return { name, status: 'fail', detail: 'databaseUrl is not set (DATABASE_URL)' };
  const where = describeDatabaseUrl(config.databaseUrl);
  const client = new pg.Client({ connectionString: config.databaseUrl, connectionTimeoutMillis: 10_000 });
  client.on('error', () => undefined);
  try {
    await client.connect();
    const { rows } = await client.query(`SELECT to_regclass('satoshimachine.control') IS NOT NULL AS migrated`);
    return { name, status: 'ok', detail: `${where} answers${rows[0].migrated ? '' : ' (not migrated yet: the worker migrates it at start)'}` };
  } catch (err) {
    return { name, status: 'unreachable', detail: `${where}: ${message(err)}` };
  } finally {
    await client.end().catch(() => undefined);
  }
}

const fromKey = (name: string, c: KeyCheck): ConfigCheck => ({ name, status: c.status, detail: c.detail });

async function lnbitsChecks(config: Config): Promise<ConfigCheck[]> {
  const lnbits = createLnbitsClient({ url: config.lnbits.url, timeoutMs: config.lnbits.requestTimeoutMs });
  const { source, commission } = config.lnbits;
  const checks: Array<Promise<ConfigCheck>> = [];
  // The source wallet pays the clients: its admin key is required.
  if (!source.adminKey) checks.push(Promise.resolve({ name: 'lnbits.source.adminKey', status: 'fail', detail: 'not set (LNBITS_SOURCE_ADMIN_KEY): the source wallet pays the clients' }));
  else checks.push(checkAdminKey(lnbits, source.adminKey, source.id).then((c) => fromKey('lnbits.source.adminKey', c)));
  if (source.invoiceKey) checks.push(checkInvoiceKey(lnbits, source.invoiceKey, source.id).then((c) => fromKey('lnbits.source.invoiceKey', c)));
  // The commission wallet only receives: an invoice key suffices (and cannot spend).
  if (!commission.invoiceKey && !commission.adminKey) {
    checks.push(Promise.resolve({ name: 'lnbits.commission', status: 'fail', detail: 'no key set (LNBITS_COMMISSION_INVOICE_KEY): the commission is paid to this wallet' }));
  }
  if (commission.invoiceKey) checks.push(checkInvoiceKey(lnbits, commission.invoiceKey, commission.id).then((c) => fromKey('lnbits.commission.invoiceKey', c)));
  if (commission.adminKey) checks.push(checkAdminKey(lnbits, commission.adminKey, commission.id).then((c) => fromKey('lnbits.commission.adminKey', c)));
  if (source.id && commission.id && source.id === commission.id) {
    checks.push(Promise.resolve({ name: 'lnbits.wallets', status: 'fail', detail: 'the source and commission wallets are the same wallet' }));
  }
  if (config.fundingMode === 'superuser-credit' && !config.lnbits.superuserToken) {
    checks.push(Promise.resolve({ name: 'lnbits.superuserToken', status: 'fail', detail: 'fundingMode superuser-credit needs LNBITS_SUPERUSER_TOKEN' }));
  }
  if (config.fundingMode === 'superuser-credit' && !source.id) {
    checks.push(Promise.resolve({ name: 'lnbits.source.id', status: 'fail', detail: 'fundingMode superuser-credit needs the source wallet id (LNBITS_SOURCE_WALLET_ID)' }));
  }
  return Promise.all(checks.map((p) => p.catch((err: unknown): ConfigCheck => ({ name: 'lnbits', status: 'fail', detail: message(err) }))));
}

/** The SSH host key, checked as the connection test's host-key step (ssh mode only). */
async function hostKeyCheck(config: Config): Promise<ConfigCheck> {
  const name = 'lamassu.ssh.hostKeySha256';
  if (config.lamassu.mode !== 'ssh') return { name, status: 'skipped', detail: 'lamassu.mode is direct (no SSH)' };
  if (!config.lamassu.ssh) return { name, status: 'fail', detail: 'lamassu.mode is ssh but lamassu.ssh is not configured' };
  try {
    const result = await testLamassuConnection(config.lamassu);
    const step = result.steps.find((s) => s.step === 'host-key');
    // A handshake cut before the host key was seen (sshd or the machine slow, a timeout) proves nothing about the
    // key: unverified, not wrong — the worker must not refuse to start for it (the poller retries the link).
    if (step) return { name, status: step.ok ? 'ok' : step.transient ? 'unreachable' : 'fail', detail: step.detail };
    const last = result.steps.at(-1);
    return { name, status: last?.step === 'config' ? 'fail' : 'unreachable', detail: last ? `${last.step}: ${last.detail}` : 'not checked' };
  } catch (err) {
    return { name, status: 'unreachable', detail: message(err) };
  }
}

/**
 * The encryption key must open every stored client key: a wrong key is refused here (and so at worker start),
 * not found by each payout after minutes of retries.
 */
async function encryptionCheck(config: Config): Promise<ConfigCheck> {
  const name = 'encryptionKey';
  if (!config.encryptionKey) return { name, status: 'fail', detail: 'not set (SATMACHINE_ENCRYPTION_KEY): client invoice keys cannot be read' };
  if (!config.databaseUrl) return { name, status: 'unreachable', detail: 'set, but not verified: no ledger configured (DATABASE_URL)' };
  const client = new pg.Client({ connectionString: config.databaseUrl, connectionTimeoutMillis: 10_000 });
  client.on('error', () => undefined);
  try {
    await client.connect();
    const { rows } = await client.query(`SELECT to_regclass('satoshimachine.clients') IS NOT NULL AS migrated`);
    if (!rows[0].migrated) return { name, status: 'ok', detail: 'set (no client keys stored yet)' };
    const v = await verifyEncryptionKey(client, config.encryptionKey);
    if (v.unreadable.length) {
      return { name, status: 'fail', detail: `SATMACHINE_ENCRYPTION_KEY does not decrypt ${v.unreadable.length} of the ${v.stored} stored client keys: wrong key (use the one they were stored with; see the runbook, "Encryption key custody")` };
    }
    return { name, status: 'ok', detail: v.stored ? `decrypts all ${v.stored} stored client keys` : 'set (no client keys stored yet)' };
  } catch (err) {
    return { name, status: 'unreachable', detail: `set, but not verified: ${describeDatabaseUrl(config.databaseUrl)}: ${message(err)}` };
  } finally {
    await client.end().catch(() => undefined);
  }
}

/** Where LNbits is, as it may be shown (never credentials), and whether the keys travel encrypted. */
function transportCheck(config: Config): ConfigCheck {
  const u = new URL(config.lnbits.url);
  const where = publicLnbitsUrl(config.lnbits.url);
  if (u.protocol === 'https:') return { name: 'lnbits.url', status: 'ok', detail: `${where} (https)` };
  return !isLoopbackHost(u.hostname)
    ? { name: 'lnbits.url', status: 'ok', detail: `${where}: PLAIN HTTP to another host, allowed by lnbits.allowInsecureHttp: the admin key crosses the network in clear text` }
    : { name: 'lnbits.url', status: 'ok', detail: `${where} (http on this machine)` };
}

export async function checkConfig(config: Config): Promise<ConfigCheckReport> {
  const [ledger, encryption, lnbits, hostKey] = await Promise.all([ledgerCheck(config), encryptionCheck(config), lnbitsChecks(config), hostKeyCheck(config)]);
  const checks = [ledger, encryption, transportCheck(config), ...lnbits, hostKey];
  return { ok: checks.every((c) => c.status !== 'fail'), complete: checks.every((c) => c.status !== 'unreachable'), checks };
}

export function formatConfigCheck(r: ConfigCheckReport): string {
  const width = Math.max(...r.checks.map((c) => c.name.length));
  const mark = { ok: 'ok  ', fail: 'FAIL', unreachable: '??  ', skipped: 'skip' } as const;
  const lines = r.checks.map((c) => `${mark[c.status]}  ${c.name.padEnd(width)}  ${c.detail}`);
  lines.push(r.ok ? (r.complete ? 'config OK' : 'config OK so far; some checks could not reach their service (??)') : 'config FAILED');
  return lines.join('\n');
}
