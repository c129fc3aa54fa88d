/**
 * Config loading (one zod loader: file + environment + `_FILE` secrets, errors naming the field) and the
 * secrets rule: keys never in logs (pino redaction), config errors, workflow history or search attributes.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import { startCashOut } from '../client/cashout';
import { ConfigError, loadConfig } from '../config';
import { cashOutWorkflowId } from '../domain/constants';
import { createLogger } from '../log/logger';
import { cashOutRow, withCashOutWorld } from './support/cashout-fixture';

test('config: file, then environment (which wins), secrets from *_FILE; defaults applied', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'satm-config-'));
  const file = path.join(dir, 'config.yaml');
  writeFileSync(file, 'lnbits:\n  url: http://127.0.0.1:5001\nlamassu:\n  fiatCode: USD\n  lookbackHours: 24\n');
  const keyFile = path.join(dir, 'admin.key');
  writeFileSync(keyFile, 'adminkey-from-file\n');
  const config = loadConfig({ file, env: { LAMASSU_LOOKBACK_HOURS: '48', LNBITS_SOURCE_ADMIN_KEY_FILE: keyFile, DATABASE_URL: 'postgres://u:p@h/db' } });
  assert.equal(config.lnbits.url, 'http://127.0.0.1:5001');
  assert.equal(config.lamassu.fiatCode, 'USD');
  assert.equal(config.lamassu.lookbackHours, 48, 'the environment wins over the file');
  assert.equal(config.lnbits.source.adminKey, 'adminkey-from-file', 'secret read from the _FILE, trimmed');
  assert.equal(config.temporal.taskQueue, 'satmachine');
  assert.equal(config.commissionModel, 'runbook');
});

test('config: every invalid field is named; a secret value is never echoed', () => {
  const secret = 'not-a-fingerprint-SECRET-1234567890';
  assert.throws(
    () => loadConfig({ file: null, env: { LAMASSU_SSH_HOST_KEY_SHA256: secret, LAMASSU_SSH_HOST: 'h', LAMASSU_SSH_USER: 'u', LAMASSU_SSH_PRIVATE_KEY: 'PRIVATE-KEY-TEXT', LAMASSU_LOOKBACK_HOURS: '-1', COMMISSION_MODEL: 'float' } }),
    (err: unknown) => {
      assert.ok(err instanceof ConfigError);
      assert.match(err.message, /lamassu\.ssh\.hostKeySha256: expected SHA256:<base64 fingerprint>/);
      assert.match(err.message, /lamassu\.lookbackHours/);
      assert.match(err.message, /commissionModel/);
      assert.ok(!err.message.includes(secret) && !err.message.includes('PRIVATE-KEY-TEXT'), 'no value echoed');
      return true;
    },
  );
  assert.throws(() => loadConfig({ file: null, env: { LNBITS_SOURCE_ADMIN_KEY_FILE: '/nonexistent/key' } }), /LNBITS_SOURCE_ADMIN_KEY_FILE: cannot read/);
});

test('pino redacts keys, tokens, private keys and connection strings at any depth', () => {
  const lines: string[] = [];
  const sink = new Writable({ write: (chunk: Buffer, _enc, cb) => (lines.push(chunk.toString()), cb()) });
  const log = createLogger({ level: 'info', destination: sink });
  log.info({ adminKey: 'AK1', lnbits: { source: { invoiceKey: 'IK2' }, superuserToken: 'TOK3' }, ssh: { privateKey: 'PK4' }, databaseUrl: 'postgres://u:PW5@h/db', headers: { 'X-Api-Key': 'XK6' } }, 'hello');
  const out = lines.join('');
  for (const secret of ['AK1', 'IK2', 'TOK3', 'PK4', 'PW5', 'XK6']) assert.ok(!out.includes(secret), `${secret} leaked: ${out}`);
  assert.match(out, /\[redacted\]/);
});

/** Every string in a value, with binary payloads (Temporal's Payload.data) decoded as UTF-8. */
function textOf(value: unknown): string {
  const out: string[] = [];
  const walk = (v: unknown): void => {
    if (v === null || v === undefined) return;
    if (v instanceof Uint8Array) return void out.push(Buffer.from(v).toString('utf8'));
    if (typeof v === 'string') return void out.push(v);
    if (Array.isArray(v)) return v.forEach(walk);
    if (typeof v === 'object') return Object.values(v as Record<string, unknown>).forEach(walk);
    out.push(String(v));
  };
  walk(value);
  return out.join('\n');
}

test('no LNbits key in a cash-out workflow history, its search attributes or its status query', async () => {
  await withCashOutWorld({ taskQueuePrefix: 'secrets', clients: 2 }, async ({ world, client }) => {
    const row = cashOutRow();
    assert.equal(await startCashOut(client, world.config, row), 'started');
    const handle = client.workflow.getHandle(cashOutWorkflowId(row.id));
    assert.equal(((await handle.result()) as { status: string }).status, 'completed');
    const everything = textOf({
      history: await handle.fetchHistory(),
      description: (await handle.describe()).raw,
      status: await handle.query('status'),
    });
    assert.ok(everything.includes('"cryptoAtoms"'), 'payloads were decoded (the input row is readable)');
    const keys = [world.source, world.commission, ...world.clients.map((c) => c.wallet)].flatMap((w) => [w.adminKey, w.invoiceKey]);
    assert.ok(keys.length >= 8);
    for (const k of keys) assert.ok(!everything.includes(k), 'a key appears in the workflow');
    assert.ok(!everything.includes(world.config.encryptionKey!), 'the encryption key appears');
  });
});
