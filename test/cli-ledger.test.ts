/**
 * `satmachine` ledger commands against the real stack (PostgreSQL ledger, LNbits): clients, deposits, adjust,
 * tx, payouts, export, backup — run in-process through main(argv) with the config in SATMACHINE_CONFIG.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomUUID } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type pg from 'pg';
import { computeCommission } from '../domain/commission';
import { allocate } from '../domain/allocation';
import { fiatMinor } from '../domain/money';
import { eligibleBalancesAt, recordCommission, recordLamassuTransaction, reservePayouts } from '../adapters/ledger';
import type { ConfigInput } from '../config/schema';
import { createWallet, type TestWallet } from './support/lnbits';
import { getStack } from './support/stack';
import { cliEnvFor, createCliLedgerWorld, runCli } from './support/cli';

const KEY = 'e'.repeat(40);
let db: { url: string; pool: pg.Pool; drop: () => Promise<void> };
let env: Record<string, string>;
let config: ConfigInput;
let w1: TestWallet;
let w2: TestWallet;
let clientA: string;
let clientB: string;

before(async () => {
  const { lnbits } = getStack();
  // No Temporal for these commands: the config's closed port shows how the Temporal parts degrade.
  [{ db, config }, w1, w2] = await Promise.all([
    createCliLedgerWorld({ dbPrefix: 'cli_ledger', taskQueue: 'cli-ledger-none', sourceSats: 10_000, encryptionKey: KEY, lamassu: { fiatCode: 'GTQ', fiatDecimals: 2 } }),
    createWallet(lnbits.url, lnbits.superuserToken, { name: 'client-1' }),
    createWallet(lnbits.url, lnbits.superuserToken, { name: 'client-2' }),
  ]);
  env = cliEnvFor(config, { W1_INKEY: w1.invoiceKey, W1_ADMIN: w1.adminKey, W2_INKEY: w2.invoiceKey });
});
after(async () => {
  await db?.drop();
});

const events = async (action: string) =>
  (await db.pool.query(`SELECT actor, action, details FROM satoshimachine.operator_events WHERE action = $1 ORDER BY id`, [action])).rows;
const balance = async (id: string) => Number((await db.pool.query(`SELECT remaining_balance_fiat_minor FROM satoshimachine.clients WHERE id = $1`, [id])).rows[0].remaining_balance_fiat_minor);

describe('clients', () => {
  test('add: the invoice key from an env var is verified with LNbits, stored encrypted, never printed', async () => {
    const r = await runCli(['clients', 'add', '--name', 'Ana', '--wallet-id', w1.id, '--invoice-key-env', 'W1_INKEY', '--actor', 'op1', '--json'], env);
    assert.equal(r.code, 0, r.stderr);
    const c = r.json();
    assert.equal(c.name, 'Ana');
    assert.equal(c.walletId, w1.id);
    assert.equal(c.currency, 'GTQ');
    assert.ok(!r.stdout.includes(w1.invoiceKey) && !r.stderr.includes(w1.invoiceKey));
    const raw = (await db.pool.query(`SELECT invoice_key_enc FROM satoshimachine.clients WHERE id = $1`, [c.id])).rows[0].invoice_key_enc as string;
    assert.ok(raw.startsWith('v1.') && !raw.includes(w1.invoiceKey));
    assert.deepEqual((await events('client-added')).map((e) => [e.actor, e.details.clientId]), [['op1', c.id]]);
    clientA = c.id;
  });

  test('add: from a file; an admin key, another wallet\'s key, no key source and a taken wallet are refused (exit 2)', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'cli-key-'));
    const keyFile = path.join(dir, 'inkey');
    writeFileSync(keyFile, `${w2.invoiceKey}\n`, { mode: 0o600 });

    const admin = await runCli(['clients', 'add', '--name', 'X', '--wallet-id', w1.id, '--invoice-key-env', 'W1_ADMIN'], env);
    assert.equal(admin.code, 2);
    assert.match(admin.stderr, /ADMIN key/);
    assert.ok(!admin.stderr.includes(w1.adminKey));

    const wrongWallet = await runCli(['clients', 'add', '--name', 'X', '--wallet-id', w1.id, '--invoice-key-file', keyFile], env);
    assert.equal(wrongWallet.code, 2);
    assert.match(wrongWallet.stderr, new RegExp(`invoice key of wallet ${w2.id}, not of wallet ${w1.id}`));

    const noKey = await runCli(['clients', 'add', '--name', 'X', '--wallet-id', w2.id], env);
    assert.equal(noKey.code, 2);
    assert.match(noKey.stderr, /exactly one of --invoice-key-env/);

    const unset = await runCli(['clients', 'add', '--name', 'X', '--wallet-id', w2.id, '--invoice-key-env', 'NOPE'], env);
    assert.equal(unset.code, 2);
    assert.match(unset.stderr, /NOPE is not set/);

    const ok = await runCli(['clients', 'add', '--name', 'Beto', '--wallet-id', w2.id, '--invoice-key-file', keyFile, '--json'], env);
    assert.equal(ok.code, 0, ok.stderr);
    clientB = ok.json().id;

    const taken = await runCli(['clients', 'add', '--name', 'Again', '--wallet-id', w2.id, '--invoice-key-file', keyFile], env);
    assert.equal(taken.code, 2);
    assert.match(taken.stderr, /already belongs to a client/);
    assert.equal((await db.pool.query(`SELECT count(*)::int AS n FROM satoshimachine.clients`)).rows[0].n, 2);
  });

  test('list, show, set-status; bad and unknown ids', async () => {
    const list = await runCli(['clients', 'list', '--json'], env);
    assert.equal(list.code, 0);
    assert.deepEqual(list.json().map((c: { name: string }) => c.name), ['Ana', 'Beto']);
    const human = await runCli(['clients', 'list'], env);
    assert.match(human.stdout, /Ana .* active +flow +0\.00 GTQ/);

    const paused = await runCli(['clients', 'set-status', clientB, 'paused', '--reason', 'asked to pause', '--json'], env);
    assert.equal(paused.code, 0, paused.stderr);
    assert.equal(paused.json().status, 'paused');
    assert.deepEqual((await events('client-status')).map((e) => [e.details.from, e.details.to, e.details.reason]), [['active', 'paused', 'asked to pause']]);
    assert.equal((await runCli(['clients', 'set-status', clientB, 'active'], env)).code, 0);

    assert.equal((await runCli(['clients', 'set-status', clientB, 'gone'], env)).code, 2);
    // Not a uuid: a name, and no client has it.
    const notUuid = await runCli(['clients', 'show', 'abc'], env);
    assert.equal(notUuid.code, 4);
    assert.match(notUuid.stderr, /<client>: no client named "abc"/);
    assert.equal((await runCli(['clients', 'show', randomUUID()], env)).code, 4);
  });
});

describe('deposits', () => {
  test('fiat with decimals becomes minor units exactly; more decimals than the currency has are refused', async () => {
    for (const bad of ['1500.505', '0', '0.00', '-5', 'abc', '1e3', '.5']) {
      const r = await runCli(['deposits', 'add', clientA, bad], env);
      assert.equal(r.code, 2, `${bad}: ${r.stderr}`);
    }
    assert.match((await runCli(['deposits', 'add', clientA, '1500.505'], env)).stderr, /at most 2 decimal place/);
    const r = await runCli(['deposits', 'add', clientA, '1500.50', '--note', 'cash at the office', '--json'], env);
    assert.equal(r.code, 0, r.stderr);
    const d = r.json();
    assert.equal(d.amountFiatMinor, 150050);
    assert.equal(d.status, 'pending');
    assert.equal(await balance(clientA), 0, 'pending deposits do not count');
  });

  test('confirm credits once and stamps confirmed_at once; confirmed deposits cannot be cancelled', async () => {
    const [pending] = (await runCli(['deposits', 'list', '--client', clientA, '--status', 'pending', '--json'], env)).json();
    const first = await runCli(['deposits', 'confirm', pending.id, '--json'], env);
    assert.equal(first.code, 0, first.stderr);
    assert.equal(first.json().balanceAfterFiatMinor, 150050);
    assert.ok(first.json().confirmedAt);
    const second = await runCli(['deposits', 'confirm', pending.id, '--json'], env);
    assert.equal(second.code, 0);
    assert.equal(second.json().alreadyConfirmed, true);
    assert.equal(second.json().confirmedAt, first.json().confirmedAt, 'confirmed_at is set once');
    assert.equal(await balance(clientA), 150050);
    const cancel = await runCli(['deposits', 'cancel', pending.id], env);
    assert.equal(cancel.code, 2);
    assert.match(cancel.stderr, /confirmed; reverse it with an adjustment/);
    assert.equal((await events('deposit-confirmed')).length, 1);
  });

  test('add --confirm, cancel a pending one, list', async () => {
    const r = await runCli(['deposits', 'add', clientB, '2500', '--confirm', '--json'], env);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.json().status, 'confirmed');
    assert.equal(await balance(clientB), 250000);
    const p = (await runCli(['deposits', 'add', clientB, '10', '--json'], env)).json();
    const c = await runCli(['deposits', 'cancel', p.id, '--json'], env);
    assert.equal(c.code, 0);
    assert.equal(c.json().status, 'cancelled');
    assert.equal(await balance(clientB), 250000);
    const list = (await runCli(['deposits', 'list', '--client', clientB, '--json'], env)).json();
    assert.deepEqual(list.map((d: { status: string }) => d.status).sort(), ['cancelled', 'confirmed']);
    assert.equal((await runCli(['deposits', 'confirm', randomUUID()], env)).code, 4);
  });
});

describe('adjust', () => {
  test('a compensating entry, never an UPDATE of history; no negative balance; reason required', async () => {
    const r = await runCli(['adjust', clientA, '-20.50', '--reason', 'reconciliation 2026-11-28', '--actor', 'op2', '--json'], env);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.json().balanceBeforeFiatMinor, 150050);
    assert.equal(r.json().balanceAfterFiatMinor, 148000);
    const rows = (await db.pool.query(`SELECT amount_fiat_minor::int AS a, reason, actor FROM satoshimachine.adjustments WHERE client_id = $1`, [clientA])).rows;
    assert.deepEqual(rows, [{ a: -2050, reason: 'reconciliation 2026-11-28', actor: 'op2' }]);
    const log = (await db.pool.query(`SELECT reason, delta_fiat_minor::int AS d FROM satoshimachine.balance_log WHERE client_id = $1 ORDER BY id`, [clientA])).rows;
    assert.deepEqual(log, [{ reason: 'deposit_confirmed', d: 150050 }, { reason: 'adjustment', d: -2050 }]);

    const plus = await runCli(['adjust', clientA, '+5', '--reason', 'found cash'], env);
    assert.equal(plus.code, 0, plus.stderr);
    assert.match(plus.stdout, /1480\.00 → 1485\.00/);

    const tooMuch = await runCli(['adjust', clientA, '-100000', '--reason', 'x'], env);
    assert.equal(tooMuch.code, 2);
    assert.match(tooMuch.stderr, /exceeds stored balance/);
    assert.equal((await runCli(['adjust', clientA, '-1'], env)).code, 2, '--reason is required');
    assert.equal((await runCli(['adjust', clientA, '1.001', '--reason', 'x'], env)).code, 2);
    assert.equal(await balance(clientA), 148500);
  });
});

describe('tx and payouts', () => {
  let lamassuId: string;
  before(async () => {
    // A recorded cash-out with reserved (pending) payouts, as the cash-out workflow leaves it mid-way.
    lamassuId = randomUUID();
    const row = {
      lamassuId, deviceId: 'atm-1', cryptoAtoms: '512400', receivedCryptoAtoms: null, cryptoCode: 'BTC', fiat: '1000.00000', fiatCode: 'GTQ',
      commissionPercentage: '0.05500', discount: 0, rawTickerPrice: '826091.28000', fixedFee: null, lamassuStatus: 'confirmed', dispense: true,
      dispenseConfirmed: true, lamassuError: null, lamassuErrorCode: null, created: new Date().toISOString(), confirmedAt: new Date().toISOString(),
    };
    const { transaction } = await recordLamassuTransaction(db.pool, row);
    const split = computeCommission({ cryptoAtoms: row.cryptoAtoms, commissionPercentage: row.commissionPercentage, discount: 0, fiat: row.fiat, rawTickerPrice: row.rawTickerPrice }, 'runbook');
    await recordCommission(db.pool, transaction.id, split, fiatMinor(100000));
    const balances = await eligibleBalancesAt(db.pool, new Date().toISOString());
    await reservePayouts(db.pool, transaction.id, allocate({ baseSats: split.baseSats, dispensedFiat: fiatMinor(100000), clients: balances }));
  });

  test('tx show --json: status, split, allocation, payouts with payment hashes', async () => {
    const r = await runCli(['tx', 'show', lamassuId, '--json'], env);
    assert.equal(r.code, 0, r.stderr);
    const t = r.json();
    assert.equal(t.status, 'received');
    assert.equal(t.cryptoAtoms, 512400);
    assert.equal(t.baseSats + t.commissionSats, 512400);
    assert.equal(t.baseSats, 485687); // ROUND(512400 / 1.055)
    assert.equal(t.payouts.length, 2);
    for (const p of t.payouts) {
      assert.deepEqual(Object.keys(p).filter((k) => ['clientId', 'amountSats', 'fiatDebitMinor', 'status', 'paymentHash'].includes(k)).sort(), ['amountSats', 'clientId', 'fiatDebitMinor', 'paymentHash', 'status']);
      assert.equal(p.status, 'pending');
    }
    assert.equal(t.payouts.reduce((s: number, p: { amountSats: number }) => s + p.amountSats, 0) + t.unallocatedSats, t.baseSats, 'Σ payouts + unallocated = base');
    assert.equal(t.payouts.reduce((s: number, p: { fiatDebitMinor: number }) => s + p.fiatDebitMinor, 0), 100000);
    assert.equal(t.commissionPayout.amountSats, t.commissionSats);
    assert.equal(t.workflow.status, 'UNKNOWN', 'Temporal unreachable: said, not fatal');

    const human = await runCli(['tx', 'show', lamassuId], env);
    assert.equal(human.code, 0);
    assert.match(human.stdout, /base sats +485687/);
    assert.equal((await runCli(['tx', 'show', randomUUID()], env)).code, 4);
  });

  test('tx list --status', async () => {
    const all = await runCli(['tx', 'list', '--json'], env);
    assert.deepEqual(all.json().map((t: { lamassuId: string }) => t.lamassuId), [lamassuId]);
    assert.deepEqual((await runCli(['tx', 'list', '--status', 'failed', '--json'], env)).json(), []);
    assert.equal((await runCli(['tx', 'list', '--status', 'weird'], env)).code, 2);
  });

  test('payouts list: open payouts exit 1; --older-than and --status filter', async () => {
    const open = await runCli(['payouts', 'list', '--json'], env);
    assert.equal(open.code, 1, 'open payouts are findings');
    assert.equal(open.json().length, 3, 'two clients and the commission');
    assert.ok(open.json().every((p: { lamassuId: string }) => p.lamassuId === lamassuId));
    const old = await runCli(['payouts', 'list', '--status', 'pending', '--older-than', '15m', '--json'], env);
    assert.equal(old.code, 0);
    assert.deepEqual(old.json(), []);
    assert.equal((await runCli(['payouts', 'list', '--status', 'failed'], env)).code, 0);
    assert.equal((await runCli(['payouts', 'list', '--older-than', '15 minutes'], env)).code, 2);
  });
});

describe('export and backup', () => {
  test('export: a CSV per table (no encrypted keys) and the audit report, with a manifest', async () => {
    const out = path.join(mkdtempSync(path.join(tmpdir(), 'cli-export-')), 'audit');
    const r = await runCli(['export', '--out', out, '--json'], env);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /exported clients: 2 rows/);
    const m = JSON.parse(readFileSync(path.join(out, 'manifest.json'), 'utf8'));
    const files = new Map<string, { rows: number; sha256: string; file: string }>(m.files.map((f: { table: string }) => [f.table, f]));
    for (const t of ['clients', 'deposits', 'payments', 'lamassu_transactions', 'adjustments', 'balance_log', 'operator_events', 'control', 'alerts', 'audit_report']) assert.ok(files.has(t), t);
    const clientsCsv = readFileSync(path.join(out, 'clients.csv'), 'utf8');
    assert.ok(!clientsCsv.includes('invoice_key_enc') && !clientsCsv.includes('v1.'));
    assert.equal(clientsCsv.trim().split('\n').length, 3);
    assert.equal(files.get('payments')!.rows, 3);
    assert.equal(files.get('audit_report')!.rows, 3);
    const audit = readFileSync(path.join(out, 'audit_report.csv'), 'utf8').split('\n');
    assert.match(audit[0]!, /^lamassu_id,transaction_id,confirmed_at/);
    for (const f of files.values()) assert.equal(createHash('sha256').update(readFileSync(path.join(out, f.file))).digest('hex'), f.sha256);
    // An empty table still gets its header row.
    assert.match(readFileSync(path.join(out, 'funding_credits.csv'), 'utf8'), /^id,transaction_id,wallet_id/);
    const again = await runCli(['export', '--out', out], env);
    assert.equal(again.code, 2, 'never overwrites an export');
  });

  test('backup: JSON lines of every table in a timestamped folder; manifest row counts and sha256 match', async () => {
    const parent = mkdtempSync(path.join(tmpdir(), 'cli-backup-'));
    const r = await runCli(['backup', '--out', parent, '--json'], env);
    assert.equal(r.code, 0, r.stderr);
    const { dir, files } = r.json();
    assert.match(path.basename(dir), /^satmachine-backup-\d{8}-\d{6}Z$/);
    for (const f of files as Array<{ table: string; file: string; rows: number; sha256: string }>) {
      const text = readFileSync(path.join(dir, f.file), 'utf8');
      const lines = text.split('\n').filter(Boolean);
      assert.equal(lines.length, f.rows, f.table);
      assert.equal(createHash('sha256').update(text).digest('hex'), f.sha256);
      const count = (await db.pool.query(`SELECT count(*)::int AS n FROM satoshimachine.${f.table}`)).rows[0].n;
      assert.equal(f.rows, count, f.table);
    }
    const clients = readFileSync(path.join(dir, 'clients.jsonl'), 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l));
    assert.ok(clients.every((c) => String(c.invoice_key_enc).startsWith('v1.')), 'a backup keeps the encrypted keys (restorable)');
    assert.ok(existsSync(path.join(dir, 'pgmigrations.jsonl')));
  });
});
