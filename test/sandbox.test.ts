/**
 * `npm start` as a user runs it: sandbox/main.ts as a child process (random ports, a temp data folder, so it
 * never meets the test stack or a developer's sandbox). A cash-out row written into its simulated Lamassu
 * database is paid out (ledger and LNbits balances agree), an operator-cancelled one is never touched, a
 * malformed one is rejected; then SIGINT, as Ctrl-C sends, stops everything and no process is left.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { getClientInvoiceKey } from '../adapters/ledger';
import { repoRoot } from '../config/load';
import { insertCashOut } from './support/lamassu-db';
import { balanceSats } from './support/lnbits';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function until<T>(what: string, timeoutMs: number, fn: () => Promise<T | undefined>): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn().catch(() => undefined);
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(250);
  }
}

/** Every live (non-zombie) descendant of pid, by parent links in /proc. */
function descendants(pid: number): number[] {
  const children = new Map<number, number[]>();
  for (const e of readdirSync('/proc')) {
    if (!/^\d+$/.test(e)) continue;
    try {
      const stat = readFileSync(`/proc/${e}/stat`, 'utf8');
      const [state, ppid] = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      if (state === 'Z') continue;
      children.set(Number(ppid), [...(children.get(Number(ppid)) ?? []), Number(e)]);
    } catch {
      /* gone */
    }
  }
  const out: number[] = [];
  for (let level = children.get(pid) ?? []; level.length; level = level.flatMap((p) => children.get(p) ?? [])) out.push(...level);
  return out;
}

function alive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2)[0] !== 'Z';
  } catch {
    return false;
  }
}

function portOpen(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect({ host, port });
    s.once('connect', () => (s.destroy(), resolve(true)));
    s.once('error', () => resolve(false));
  });
}

test('npm start: the sandbox pays a cash-out end to end and Ctrl-C leaves no process behind', { timeout: 240_000 }, async (t) => {
  const dataDir = mkdtempSync(path.join(tmpdir(), 'satmachine-sandbox-'));
  chmodSync(dataDir, 0o755); // embedded PostgreSQL runs as the OS user `postgres` when we are root
  // A clean environment: no deployment variables, no DATABASE_URL (the sandbox starts its own PostgreSQL).
  const env: NodeJS.ProcessEnv = { PATH: process.env.PATH, HOME: process.env.HOME, LANG: process.env.LANG ?? 'C.UTF-8' };
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', path.join(repoRoot, 'sandbox', 'main.ts'), '--fresh', '--data-dir', dataDir, '--random-ports', '--atm-interval', '0', '--poll-interval', '1'],
    { cwd: repoRoot, env, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let output = '';
  child.stdout.on('data', (d: Buffer) => (output += d.toString()));
  child.stderr.on('data', (d: Buffer) => (output += d.toString()));
  const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
  let pool: pg.Pool | undefined;
  let lamassu: pg.Pool | undefined;
  t.after(async () => {
    await pool?.end();
    await lamassu?.end();
    if (child.exitCode === null) child.kill('SIGINT');
    await exited;
    rmSync(dataDir, { recursive: true, force: true });
  });

  try {
    const t0 = Date.now();
    await until('the worker to poll', 150_000, async () => {
      if (child.exitCode !== null) throw new Error(`sandbox exited early:\n${output}`);
      return /worker polling task queue/.test(output) ? true : undefined;
    }).catch((err: Error) => {
      throw new Error(`${err.message}\n--- sandbox output ---\n${output}`);
    });
    t.diagnostic(`sandbox up with a polling worker in ${((Date.now() - t0) / 1000).toFixed(1)} s`);

    const info = JSON.parse(readFileSync(path.join(dataDir, 'sandbox.json'), 'utf8')) as Record<string, unknown> & { clients: Array<{ id: string }> };
    for (const k of ['temporalAddress', 'namespace', 'temporalUiUrl', 'ledgerDatabaseUrl', 'lamassuDatabaseUrl', 'lnbitsUrl', 'sourceWalletId', 'commissionWalletId']) {
      assert.equal(typeof info[k], 'string', `sandbox.json ${k}`);
    }
    assert.equal(info.clients.length, 5);
    // The web console runs with the sandbox: the operator pages ask for the login printed in the banner.
    assert.match(String(info.consoleUrl), /^http:\/\/127\.0\.0\.1:\d+$/);
    assert.equal((info.consoleLogin as { name: string }).name, 'operator');
    const home = await fetch(`${String(info.consoleUrl)}/`, { redirect: 'manual' });
    assert.equal(home.status, 303);
    assert.match(home.headers.get('location') ?? '', /^\/login/);
    const configFile = path.join(dataDir, 'config.json');
    assert.equal(statSync(configFile).mode & 0o777, 0o600, 'config.json holds keys: 0600');
    const config = JSON.parse(readFileSync(configFile, 'utf8')) as {
      encryptionKey: string;
      fundingMode: string;
      lamassu: { mode: string };
      lnbits: { url: string; source: { invoiceKey: string }; commission: { invoiceKey: string } };
    };
    assert.equal(config.fundingMode, 'superuser-credit');
    // This machine has sshd (the test stack needs it too): the real tunnel code is in the path.
    assert.equal(config.lamassu.mode, 'ssh');

    lamassu = new pg.Pool({ connectionString: String(info.lamassuDatabaseUrl), max: 2 });
    pool = new pg.Pool({ connectionString: String(info.ledgerDatabaseUrl), max: 2 });
    // The domain doc's real row: 4000 GTQ sold for 512 400 sats at 5.5 % commission.
    const good = await insertCashOut(lamassu);
    const cancelled = await insertCashOut(lamassu, { dispense_confirmed: false, error: 'Operator cancel', error_code: 'operatorCancel' });
    const malformed = await insertCashOut(lamassu, { commission_percentage: '5.50000' });
    const t1 = Date.now();

    const tx = await until('the cash-out to complete', 90_000, async () => {
      const { rows } = await pool!.query(
        `SELECT id, status, base_sats::int AS base, commission_sats::int AS commission, coalesce(unallocated_sats, 0)::int AS unallocated
           FROM satoshimachine.lamassu_transactions WHERE lamassu_id = $1`,
        [good],
      );
      return rows[0]?.status === 'completed' ? (rows[0] as { id: string; base: number; commission: number; unallocated: number }) : undefined;
    }).catch((err: Error) => {
      throw new Error(`${err.message}\n--- sandbox output ---\n${output}`);
    });
    t.diagnostic(`cash-out completed ${((Date.now() - t1) / 1000).toFixed(1)} s after its row was written`);
    // The banner (printed once the sandbox is up) shows the console and this run's operator login.
    const login = info.consoleLogin as { name: string; password: string };
    assert.ok(output.includes(`Web console       ${String(info.consoleUrl)}   (log in as "${login.name}", password ${login.password})`), 'banner shows the console login');
    // Runbook model: base = ROUND(512400 / 1.055) = 485 687, commission = 26 713.
    assert.deepEqual([tx.base, tx.commission], [485_687, 26_713]);

    const { rows: payments } = await pool.query<{ kind: string; client_id: string | null; amount: number; status: string }>(
      `SELECT kind, client_id, amount_sats::int AS amount, status FROM satoshimachine.payments WHERE transaction_id = $1`,
      [tx.id],
    );
    assert.ok(payments.every((p) => p.status === 'completed'), `all payouts completed: ${JSON.stringify(payments)}`);
    const clientPayments = payments.filter((p) => p.kind === 'client');
    assert.equal(clientPayments.length, 5);
    const paidToClients = clientPayments.reduce((s, p) => s + p.amount, 0);
    assert.equal(paidToClients + tx.unallocated, tx.base);
    assert.deepEqual(payments.filter((p) => p.kind === 'commission').map((p) => p.amount), [26_713]);

    // LNbits agrees: the wallets were empty before (fresh sandbox, ATM off).
    const url = config.lnbits.url;
    assert.equal(await balanceSats(url, config.lnbits.commission.invoiceKey), 26_713);
    assert.equal(await balanceSats(url, config.lnbits.source.invoiceKey), tx.unallocated, 'the source keeps only what no client balance covered');
    for (const p of clientPayments) {
      const { invoiceKey } = await getClientInvoiceKey(pool, p.client_id!, config.encryptionKey);
      assert.equal(await balanceSats(url, invoiceKey), p.amount);
    }

    const malformedStatus = await until('the malformed row to be rejected', 30_000, async () => {
      const { rows } = await pool!.query(`SELECT status, rejected_field FROM satoshimachine.lamassu_transactions WHERE lamassu_id = $1`, [malformed]);
      return rows[0] as { status: string; rejected_field: string } | undefined;
    });
    assert.deepEqual(malformedStatus, { status: 'rejected', rejected_field: 'commission_percentage' });
    const { rowCount } = await pool.query(`SELECT 1 FROM satoshimachine.lamassu_transactions WHERE lamassu_id = $1`, [cancelled]);
    assert.equal(rowCount, 0, 'an operator-cancelled cash-out never enters the ledger');
    // …and the person at the terminal is told (the sandbox reads the ledger every second).
    await until('the terminal line for the cash-out', 10_000, async () => (/paid: .* sats to 5 client\(s\), commission 26,713 sats/.test(output) ? true : undefined));
  } finally {
    await pool?.end();
    await lamassu?.end();
    pool = lamassu = undefined;
  }

  // Ctrl-C: the terminal sends SIGINT to the parent; the parent stops the detached sandbox.
  const procs = descendants(child.pid!);
  assert.ok(procs.length >= 5, `sandbox processes seen: ${procs.length}`);
  const info = JSON.parse(readFileSync(path.join(dataDir, 'sandbox.json'), 'utf8')) as { temporalAddress: string; lnbitsUrl: string };
  const t2 = Date.now();
  child.kill('SIGINT');
  let timer: NodeJS.Timeout | undefined;
  const code = await Promise.race([exited, new Promise<'timeout'>((r) => (timer = setTimeout(() => r('timeout'), 90_000)))]);
  clearTimeout(timer);
  assert.equal(code, 0, `sandbox exit code; output:\n${output}`);
  t.diagnostic(`stopped in ${((Date.now() - t2) / 1000).toFixed(1)} s`);
  await sleep(200);
  const left = procs.filter(alive);
  assert.deepEqual(left, [], `processes left: ${left.map((p) => { try { return readFileSync(`/proc/${p}/cmdline`, 'utf8').replace(/\0/g, ' '); } catch { return String(p); } }).join(' | ')}`);
  const [host, port] = info.temporalAddress.split(':');
  assert.equal(await portOpen(host!, Number(port)), false, 'Temporal port closed');
  const lnbits = new URL(info.lnbitsUrl);
  assert.equal(await portOpen(lnbits.hostname, Number(lnbits.port)), false, 'LNbits port closed');
  assert.ok(existsSync(path.join(dataDir, 'pg', 'PG_VERSION')), 'data kept for the next run');
});
