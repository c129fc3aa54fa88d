/**
 * Client traps closed (issue 13): `clients add --mode fixed` is refused (fixed mode is not implemented: such a
 * client would never be paid); closing a client that still has a balance needs --force and says the amount;
 * clients are found by name (a unique match) as well as by id; the stored balance cannot be edited by hand.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import type pg from 'pg';
import type { ConfigInput } from '../config/schema';
import { createWallet, type TestWallet } from './support/lnbits';
import { getStack } from './support/stack';
import { cliEnvFor, createCliLedgerWorld, runCli } from './support/cli';

let db: { url: string; pool: pg.Pool; drop: () => Promise<void> };
let env: Record<string, string>;
let config: ConfigInput;
let w1: TestWallet;
let w2: TestWallet;

before(async () => {
  const { lnbits } = getStack();
  [{ db, config }, w1, w2] = await Promise.all([
    createCliLedgerWorld({ dbPrefix: 'cli_safety', taskQueue: 'cli-safety-none', sourceSats: 1_000, encryptionKey: 'f'.repeat(40), lamassu: { fiatCode: 'GTQ', fiatDecimals: 2 } }),
    createWallet(lnbits.url, lnbits.superuserToken, { name: 'safety-1' }),
    createWallet(lnbits.url, lnbits.superuserToken, { name: 'safety-2' }),
  ]);
  env = cliEnvFor(config, { W1: w1.invoiceKey, W2: w2.invoiceKey, USER: 'op' });
});
after(async () => db?.drop());

test('add --mode fixed is refused; flow is accepted', async () => {
  const fixed = await runCli(['clients', 'add', '--name', 'Fixie', '--wallet-id', w1.id, '--invoice-key-env', 'W1', '--mode', 'fixed'], env);
  assert.equal(fixed.code, 2);
  assert.match(fixed.stderr, /--mode fixed: not supported yet/);
  assert.equal((await db.pool.query(`SELECT count(*)::int AS n FROM satoshimachine.clients`)).rows[0].n, 0);
  assert.equal((await runCli(['clients', 'add', '--name', 'Marta Lopez', '--wallet-id', w1.id, '--invoice-key-env', 'W1'], env)).code, 0);
  assert.equal((await runCli(['clients', 'add', '--name', 'Twin', '--wallet-id', w2.id, '--invoice-key-env', 'W2'], env)).code, 0);
});

test('clients by name: unique match, case-insensitive; ambiguous names ask for the id', async () => {
  const dep = await runCli(['deposits', 'add', 'marta lopez', '250.00', '--json'], env);
  assert.equal(dep.code, 0, dep.stderr);
  assert.equal((await runCli(['deposits', 'confirm', dep.json().id], env)).code, 0);
  const show = await runCli(['clients', 'show', 'Marta Lopez'], env);
  assert.equal(show.code, 0, show.stderr);
  assert.match(show.stdout, /balance +250\.00 GTQ/);
  assert.match(show.stdout, /balance history[\s\S]*deposit_confirmed/, 'the balance history is printed, not only with --json');
  // A second client with the same name: the name is no longer a unique match.
  await db.pool.query(`UPDATE satoshimachine.clients SET name = 'Marta Lopez' WHERE wallet_id = $1`, [w2.id]);
  const amb = await runCli(['clients', 'show', 'Marta Lopez'], env);
  assert.equal(amb.code, 2);
  assert.match(amb.stderr, /ambiguous: 2 clients have this name/);
  await db.pool.query(`UPDATE satoshimachine.clients SET name = 'Twin' WHERE wallet_id = $1`, [w2.id]);
});

test('closing a client with a balance needs --force and says the amount', async () => {
  const refused = await runCli(['clients', 'set-status', 'Marta Lopez', 'closed', '--reason', 'left'], env);
  assert.equal(refused.code, 2);
  assert.match(refused.stderr, /still has a balance of 250\.00 GTQ/);
  const forced = await runCli(['clients', 'set-status', 'Marta Lopez', 'closed', '--reason', 'left, refund by bank', '--force'], env);
  assert.equal(forced.code, 0, forced.stderr);
  assert.match(forced.stderr, /closed with a balance of 250\.00 GTQ \(--force\)/);
  const ev = await db.pool.query(`SELECT details FROM satoshimachine.operator_events WHERE action = 'client-status' ORDER BY id DESC LIMIT 1`);
  assert.equal(ev.rows[0].details.forced, true);
  assert.equal(String(ev.rows[0].details.balanceFiatMinor), '25000');
  // No balance: closing needs no --force.
  assert.equal((await runCli(['clients', 'set-status', 'Twin', 'closed', '--reason', 'never funded'], env)).code, 0);
});

test('the stored balance cannot be edited by hand; repair-balance is the audited way back', async () => {
  const { rows } = await db.pool.query(`SELECT id FROM satoshimachine.clients WHERE wallet_id = $1`, [w1.id]);
  await assert.rejects(
    db.pool.query(`UPDATE satoshimachine.clients SET remaining_balance_fiat_minor = 1 WHERE id = $1`, [rows[0].id]),
    /does not match its balance_log/,
  );
  const nothing = await runCli(['clients', 'repair-balance', 'Marta Lopez', '--reason', 'check'], env);
  assert.equal(nothing.code, 0, nothing.stderr);
  assert.match(nothing.stdout, /nothing to repair/);
  assert.equal((await runCli(['clients', 'repair-balance', 'Marta Lopez'], env)).code, 2, '--reason is required');
});
