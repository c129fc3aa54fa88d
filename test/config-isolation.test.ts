/**
 * Config isolation: the sandbox's `.satmachine/config.json` (its encryption key, superuser token,
 * superuser-credit funding, local Temporal) is read only when no deployment variable is set. A production
 * environment next to it never reads it; naming it together with deployment variables is refused.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { ConfigError, deploymentVariables, loadConfig } from '../config';

/** A sandbox folder as `npm start` leaves it, somewhere private. */
function sandboxFile(): string {
  const dir = path.join(mkdtempSync(path.join(tmpdir(), 'satm-isolation-')), '.satmachine');
  mkdirSync(dir);
  const file = path.join(dir, 'config.json');
  writeFileSync(file, JSON.stringify({
    databaseUrl: 'postgres://sandbox@127.0.0.1:5999/sandbox',
    temporal: { address: '127.0.0.1:17233' },
    lnbits: { url: 'http://127.0.0.1:15000', superuserToken: 'SANDBOX-SUPERUSER-TOKEN' },
    fundingMode: 'superuser-credit',
    encryptionKey: 'sandbox-encryption-key-0123456789abcdef',
  }));
  return file;
}

test('no deployment variable: the sandbox config is used (npx satmachine next to npm start)', () => {
  const file = sandboxFile();
  const config = loadConfig({ env: { LOG_LEVEL: 'warn' }, sandboxFile: file });
  assert.equal(config.fundingMode, 'superuser-credit');
  assert.equal(config.temporal.address, '127.0.0.1:17233');
});

test('a production environment next to a sandbox config does not read it', () => {
  const file = sandboxFile();
  const env = { DATABASE_URL: 'postgres://prod@db.internal/satmachine', LNBITS_URL: 'https://lnbits.example.com', LNBITS_SOURCE_ADMIN_KEY: 'prod-admin-key' };
  const config = loadConfig({ env, sandboxFile: file });
  assert.equal(config.databaseUrl, env.DATABASE_URL);
  assert.equal(config.lnbits.url, 'https://lnbits.example.com');
  assert.equal(config.lnbits.superuserToken, undefined, 'no sandbox superuser token');
  assert.equal(config.encryptionKey, undefined, 'no sandbox encryption key');
  assert.equal(config.fundingMode, 'prefunded', 'no sandbox funding mode');
  assert.equal(config.temporal.address, '127.0.0.1:7233', 'no sandbox Temporal address');
  // A secret given as a file counts as a deployment variable too.
  assert.equal(loadConfig({ env: { SATMACHINE_ENCRYPTION_KEY_FILE: '/dev/null' }, sandboxFile: file }).fundingMode, 'prefunded');
});

test('the sandbox config named together with deployment variables is refused, naming the variables', () => {
  const file = sandboxFile();
  const env = { SATMACHINE_CONFIG: file, LNBITS_URL: 'https://lnbits.example.com', TEMPORAL_ADDRESS_FILE: '/etc/satmachine/addr', LOG_LEVEL: 'info' };
  assert.throws(() => loadConfig({ env, sandboxFile: file }), (err: unknown) => {
    assert.ok(err instanceof ConfigError);
    assert.match(err.message, /sandbox's config .*config\.json is not mixed with deployment variables \(LNBITS_URL, TEMPORAL_ADDRESS_FILE\)/);
    assert.ok(!err.message.includes('LOG_LEVEL'), 'LOG_LEVEL is not a deployment variable');
    return true;
  });
  // Any sandbox folder counts (npm start --data-dir), explicit file option too.
  assert.throws(() => loadConfig({ env: { DATABASE_URL: 'postgres://x@y/z' }, file }), /not mixed with deployment variables \(DATABASE_URL\)/);
});

test('a deployment config file of its own mixes with deployment variables as before', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'satm-deploy-'));
  const file = path.join(dir, 'satmachine.yaml');
  writeFileSync(file, 'lamassu:\n  fiatCode: USD\n');
  const config = loadConfig({ env: { SATMACHINE_CONFIG: file, LNBITS_URL: 'https://lnbits.example.com' }, sandboxFile: sandboxFile() });
  assert.equal(config.lamassu.fiatCode, 'USD');
  assert.deepEqual(deploymentVariables({ SATMACHINE_CONFIG: file, LNBITS_URL: 'x', LOG_LEVEL: 'info', DATABASE_URL: '' }), ['LNBITS_URL']);
});
