/**
 * The real `satmachine` binary (node bin/satmachine.cjs) and the degraded paths: exit codes of the process,
 * the invoice key from stdin, status/emergency stop with Temporal unreachable, `config check` of every LNbits
 * key kind, and the worker refusing a config that fails the check.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import type pg from 'pg';
import { ConfigError } from '../config/load';
import { configSchema, type ConfigInput } from '../config/schema';
import { checkConfig } from '../client/config-check';
import { createLogger } from '../log/logger';
import { runWorker } from '../worker/main';
import { createWallet, type TestWallet } from './support/lnbits';
import { getStack } from './support/stack';
import { cliEnvFor, createCliLedgerWorld, runBinary, runCli } from './support/cli';

let db: { url: string; pool: pg.Pool; drop: () => Promise<void> };
let source: TestWallet;
let commission: TestWallet;
let other: TestWallet;
let good: ConfigInput;
let env: Record<string, string>;

before(async () => {
  const { lnbits } = getStack();
  [{ db, source, commission, config: good }, other] = await Promise.all([
    createCliLedgerWorld({ dbPrefix: 'cli_binary', taskQueue: 'cli-binary-none', sourceSats: 5_000, encryptionKey: 'b'.repeat(40), lamassu: { mode: 'direct', fiatCode: 'GTQ', fiatDecimals: 2 } }),
    createWallet(lnbits.url, lnbits.superuserToken, { name: 'other' }),
  ]);
  env = cliEnvFor(good);
});
after(async () => {
  await db?.drop();
});

describe('the binary', () => {
  test('help exits 0; bad input 2; unknown transaction 4; the invoice key from stdin', async () => {
    const help = await runBinary(['--help'], env);
    assert.equal(help.code, 0);
    for (const cmd of ['status', 'emergency', 'poll', 'poller', 'clients', 'deposits', 'tx', 'payouts', 'adjust', 'reconcile', 'health', 'connection', 'config', 'export', 'backup', 'commission']) {
      assert.match(help.stdout, new RegExp(`\\n  ${cmd}\\b`), cmd);
    }
    const bad = await runBinary(['deposits', 'add', 'Ana', '10.001'], env);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /^satmachine: <amount>: at most 2 decimal place/m);
    // A client is named by id or by name: a name nobody has is "not found".
    const nobody = await runBinary(['deposits', 'add', 'not-a-client', '10'], env);
    assert.equal(nobody.code, 4);
    assert.match(nobody.stderr, /^satmachine: <client>: no client named "not-a-client"/m);
    const unknown = await runBinary(['tx', 'show', randomUUID(), '--json'], env);
    assert.equal(unknown.code, 4);
    assert.match(unknown.stderr, /not found/);

    const added = await runBinary(['clients', 'add', '--name', 'Stdin', '--wallet-id', other.id, '--invoice-key-stdin', '--json'], env, `${other.invoiceKey}\n`);
    assert.equal(added.code, 0, added.stderr);
    assert.equal(JSON.parse(added.stdout).walletId, other.id);
  });
});

describe('degraded: Temporal unreachable', () => {
  test('status still shows the ledger and wallets, names what is unreachable, exits 3', async () => {
    const r = await runCli(['status', '--json'], env);
    assert.equal(r.code, 3);
    const s = r.json();
    assert.equal(s.poller.ok, false);
    assert.match(s.poller.error, /Temporal unreachable at 127\.0\.0\.1:1/);
    assert.equal(s.control.ok, true);
    assert.equal(s.cashOuts.ok, true);
    assert.equal(s.payouts.ok, true);
    assert.deepEqual(s.wallets.value.map((w: { wallet: string; balanceSats: number }) => [w.wallet, w.balanceSats]), [['source', 5000], ['commission', 0]]);
    const human = await runCli(['status'], env);
    assert.match(human.stdout, /== poller\nUNAVAILABLE: Temporal unreachable/);
  });

  test('emergency stop still halts payouts in the ledger, reports the poller failure, exits 3', async () => {
    const r = await runCli(['emergency', 'stop', '--reason', 'lnbits down', '--actor', 'op', '--json'], env);
    assert.equal(r.code, 3);
    assert.equal(r.json().payouts.ok, true);
    assert.equal(r.json().poller.ok, false);
    const c = (await db.pool.query(`SELECT payouts_halted, halted_by FROM satoshimachine.control`)).rows[0];
    assert.deepEqual(c, { payouts_halted: true, halted_by: 'op' });
    const e = (await db.pool.query(`SELECT details FROM satoshimachine.operator_events WHERE action = 'emergency-stop'`)).rows[0];
    assert.equal(e.details.pollerPaused, false);
    const resumed = await runCli(['emergency', 'resume', '--payouts-only', '--json'], env);
    assert.equal(resumed.code, 0, resumed.stderr);
    assert.equal((await db.pool.query(`SELECT payouts_halted FROM satoshimachine.control`)).rows[0].payouts_halted, false);
  });
});

describe('config check', () => {
  test('a good config passes; every key is of the right kind and of the right wallet', async () => {
    const r = await runCli(['config', 'check', '--json'], env);
    assert.equal(r.code, 0, r.stdout);
    const byName = Object.fromEntries(r.json().checks.map((c: { name: string; status: string }) => [c.name, c.status]));
    assert.deepEqual(byName, {
      ledger: 'ok', encryptionKey: 'ok', 'lnbits.url': 'ok', 'lnbits.source.adminKey': 'ok', 'lnbits.source.invoiceKey': 'ok',
      'lnbits.commission.invoiceKey': 'ok', 'lamassu.ssh.hostKeySha256': 'skipped',
    });
    assert.ok(![source.adminKey, source.invoiceKey, commission.invoiceKey].some((k) => r.stdout.includes(k)));
  });

  test('swapped key kinds and another wallet\'s key fail (exit 1) and the worker refuses to start', async () => {
    const bad = configSchema.parse({
      ...good,
      lnbits: {
        ...good.lnbits,
        source: { id: source.id, adminKey: source.invoiceKey, invoiceKey: source.adminKey },
        commission: { id: commission.id, invoiceKey: other.invoiceKey },
      },
    });
    const report = await checkConfig(bad);
    const byName = Object.fromEntries(report.checks.map((c) => [c.name, c]));
    assert.equal(report.ok, false);
    assert.equal(byName['lnbits.source.adminKey']!.status, 'fail');
    assert.match(byName['lnbits.source.adminKey']!.detail, /not an admin key/);
    assert.equal(byName['lnbits.source.invoiceKey']!.status, 'fail');
    assert.match(byName['lnbits.source.invoiceKey']!.detail, /ADMIN key/);
    assert.match(byName['lnbits.commission.invoiceKey']!.detail, new RegExp(`invoice key of wallet ${other.id}, not of wallet ${commission.id}`));

    const cli = await runCli(['config', 'check'], cliEnvFor(bad));
    assert.equal(cli.code, 1);
    assert.match(cli.stdout, /FAIL +lnbits\.source\.adminKey/);
    assert.match(cli.stdout, /config FAILED/);

    await assert.rejects(runWorker(bad, createLogger({ level: 'silent' })), (err: unknown) => err instanceof ConfigError && /config check failed, worker not started: lnbits\.source\.adminKey/.test(err.message));
    const missing = await checkConfig(configSchema.parse({ ...good, encryptionKey: undefined, lnbits: { url: good.lnbits!.url } }));
    assert.deepEqual(missing.checks.filter((c) => c.status === 'fail').map((c) => c.name).sort(), ['encryptionKey', 'lnbits.commission', 'lnbits.source.adminKey']);
  });
});
