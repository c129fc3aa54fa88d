/**
 * Custody of the encryption key and of the LNbits transport: a wrong SATMACHINE_ENCRYPTION_KEY stops `config
 * check` and the worker with one clear line; `keys rotate` re-encrypts every client key and round-trips; a
 * plain-http LNbits URL to another host is refused without the loud override; credentials inside the LNbits
 * URL never appear in errors or in `config check`.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { getClientInvoiceKey } from '../adapters/ledger/clients';
import { verifyEncryptionKey } from '../adapters/ledger/key-custody';
import { createLnbitsClient } from '../adapters/lnbits/client';
import { loadConfig, repoRoot } from '../config/load';
import { createLogger } from '../log/logger';
import { runWorker } from '../worker/main';
import { createCashOutWorld, ENCRYPTION_KEY, type CashOutWorld } from './support/cashout-fixture';
import { cliEnvFor, runCli } from './support/cli';
import { freePort } from './support/ports';
import { getStack } from './support/stack';
import { uniqueTaskQueue } from './support/temporal-client';

const WRONG_KEY = 'w'.repeat(32);
const log = createLogger({ level: 'silent' });

async function withWorld(fn: (w: CashOutWorld) => Promise<void>): Promise<void> {
  const w = await createCashOutWorld({ taskQueue: uniqueTaskQueue('key-custody'), clients: 2 });
  try {
    await fn(w);
  } finally {
    await w.close();
  }
}

test('a wrong encryption key stops config check and the worker with one clear line', async () => {
  await withWorld(async (w) => {
    const wrong = { ...w.config, encryptionKey: WRONG_KEY };
    const r = await runCli(['config', 'check'], cliEnvFor(wrong));
    assert.equal(r.code, 1, r.stdout + r.stderr);
    const lines = r.stdout.split('\n').filter((l) => l.includes('encryptionKey'));
    assert.equal(lines.length, 1);
    assert.match(lines[0]!, /^FAIL\s+encryptionKey\s+SATMACHINE_ENCRYPTION_KEY does not decrypt 2 of the 2 stored client keys: wrong key/);
    assert.ok(!r.stdout.includes(WRONG_KEY) && !r.stdout.includes(ENCRYPTION_KEY), 'no key echoed');

    const ok = await runCli(['config', 'check', '--json'], cliEnvFor(w.config));
    const enc = (ok.json().checks as Array<{ name: string; status: string; detail: string }>).find((c) => c.name === 'encryptionKey')!;
    assert.deepEqual([enc.status, enc.detail], ['ok', 'decrypts all 2 stored client keys']);

    await assert.rejects(runWorker(wrong, log), (err: Error) => {
      assert.ok(!err.message.includes('\n'), 'one line');
      assert.match(err.message, /worker not started: encryptionKey: SATMACHINE_ENCRYPTION_KEY does not decrypt 2 of the 2 stored client keys/);
      return true;
    });

    // The real worker process, configured as deployed: exits 1 with one log line saying why.
    const env = { ...cliEnvFor(wrong), LOG_LEVEL: 'info' };
    const out = await new Promise<{ code: number | null; text: string }>((resolve, reject) => {
      const child = spawn(process.execPath, ['--import', 'tsx', path.join(repoRoot, 'worker', 'main.ts')], { env, cwd: repoRoot });
      let text = '';
      child.stdout.on('data', (d: Buffer) => (text += d.toString()));
      child.stderr.on('data', (d: Buffer) => (text += d.toString()));
      child.on('error', reject);
      child.on('close', (code) => resolve({ code, text }));
    });
    assert.equal(out.code, 1, out.text);
    const logLines = out.text.trim().split('\n');
    assert.equal(logLines.length, 1, out.text);
    assert.match(logLines[0]!, /SATMACHINE_ENCRYPTION_KEY does not decrypt 2 of the 2 stored client keys/);
    assert.ok(!out.text.includes(WRONG_KEY), 'the key is not echoed');
  });
});

test('keys rotate re-encrypts every client key in one go and round-trips; a wrong current key changes nothing', async () => {
  await withWorld(async (w) => {
    const dir = mkdtempSync(path.join(tmpdir(), 'satm-keys-'));
    const newKey = 'n'.repeat(20) + 'E'.repeat(20);
    const keyFile = path.join(dir, 'new.key');
    writeFileSync(keyFile, `${newKey}\n`, { mode: 0o600 });

    const rotated = await runCli(['keys', 'rotate', '--new-key-file', keyFile, '--actor', 'test', '--json'], cliEnvFor(w.config));
    assert.equal(rotated.code, 0, rotated.stderr);
    assert.deepEqual(rotated.json(), { rotated: 2 });
    assert.deepEqual((await verifyEncryptionKey(w.db.pool, ENCRYPTION_KEY)).unreadable.length, 2, 'the old key opens nothing');
    assert.deepEqual((await verifyEncryptionKey(w.db.pool, newKey)).unreadable, []);
    for (const c of w.clients) assert.equal((await getClientInvoiceKey(w.db.pool, c.id, newKey)).invoiceKey, c.wallet.invoiceKey, 'the same invoice key');

    // A current key that does not open them: refused, nothing changed.
    const refused = await runCli(['keys', 'rotate', '--new-key-env', 'SATM_NEW'], cliEnvFor({ ...w.config, encryptionKey: WRONG_KEY }, { SATM_NEW: 'q'.repeat(32) }));
    assert.equal(refused.code, 2);
    assert.match(refused.stderr, /^satmachine: client [0-9a-f-]+: its key does not open with the current SATMACHINE_ENCRYPTION_KEY; nothing was rotated\n$/);
    assert.deepEqual((await verifyEncryptionKey(w.db.pool, newKey)).unreadable, []);

    // And back, the new key read from an environment variable.
    const back = await runCli(['keys', 'rotate', '--new-key-env', 'SATM_NEW', '--json'], cliEnvFor({ ...w.config, encryptionKey: newKey }, { SATM_NEW: ENCRYPTION_KEY }));
    assert.equal(back.code, 0, back.stderr);
    assert.deepEqual((await verifyEncryptionKey(w.db.pool, ENCRYPTION_KEY)).unreadable, []);
    for (const c of w.clients) assert.equal((await getClientInvoiceKey(w.db.pool, c.id, ENCRYPTION_KEY)).invoiceKey, c.wallet.invoiceKey);
    const events = (await w.db.pool.query(`SELECT action, details FROM satoshimachine.operator_events ORDER BY id`)).rows;
    assert.deepEqual(events.map((e) => e.action), ['encryption-key-rotated', 'encryption-key-rotated']);
    assert.ok(!JSON.stringify(events).includes(newKey) && !JSON.stringify(events).includes(ENCRYPTION_KEY), 'no key in the audit');

    // The new key is never a command-line argument.
    assert.notEqual((await runCli(['keys', 'rotate', '--new-key', newKey], cliEnvFor(w.config))).code, 0);
  });
});

test('LNbits URL: plain http to another host only with the loud override; URL credentials never echoed', async () => {
  const load = (env: Record<string, string>) => loadConfig({ file: null, env });
  assert.throws(() => load({ LNBITS_URL: 'http://lnbits.example:5000' }), /lnbits\.url: plain http:\/\/ to a non-loopback host would send the LNbits keys in clear text/);
  assert.equal(load({ LNBITS_URL: 'http://lnbits.example:5000', LNBITS_ALLOW_INSECURE_HTTP: 'true' }).lnbits.allowInsecureHttp, true);
  for (const url of ['https://lnbits.example', 'http://127.0.0.1:5000', 'http://localhost:5000', 'http://[::1]:5000']) assert.equal(load({ LNBITS_URL: url }).lnbits.url, url);
  assert.throws(() => load({ LNBITS_URL: 'ftp://lnbits.example' }), /lnbits\.url/);
  const secret = 's3cr3t-pass-word';
  assert.throws(
    () => load({ LNBITS_URL: `http://op:${secret}@lnbits.example` }),
    (err: Error) => !err.message.includes(secret),
  );

  // Credentials in the URL: taken out of it (basic auth), scrubbed from every error.
  const { url } = getStack().lnbits;
  const closed = await freePort();
  const down = createLnbitsClient({ url: `http://op:${secret}@127.0.0.1:${closed}` });
  await assert.rejects(down.getWallet('somekey'), (err: Error) => !err.message.includes(secret) && /transient/.test(err.message));
  const withCreds = createLnbitsClient({ url: url.replace('http://', `http://op:${secret}@`) });
  await assert.rejects(withCreds.getWallet('0'.repeat(32)), (err: Error) => !err.message.includes(secret));

  await withWorld(async (w) => {
    // LNbits reads keys from X-Api-Key: the basic-auth header of the URL's credentials does not disturb it.
    assert.equal((await withCreds.getWallet(w.source.adminKey)).id, w.source.id);
    const r = await runCli(['config', 'check'], cliEnvFor({ ...w.config, lnbits: { ...w.config.lnbits, url: `http://op:${secret}@127.0.0.1:${closed}` } }));
    assert.ok(!(r.stdout + r.stderr).includes(secret), r.stdout + r.stderr);
    assert.match(r.stdout, new RegExp(`lnbits\\.url\\s+http://127\\.0\\.0\\.1:${closed} \\(http on this machine\\)`));
  });
});
