import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { lamassuSchema } from '../config/schema';
import { createLogger } from '../log/logger';
import { createLamassuConnection, LamassuConnectionError, type LamassuConfig } from '../adapters/lamassu/connection';
import { testLamassuConnection } from '../adapters/lamassu/connection-test';
import { HostKeyMismatchError } from '../adapters/lamassu/host-key';
import { TunnelError } from '../adapters/lamassu/tunnel';
import { createTestDatabase, getStack } from './support/stack';
import { startSshd } from './support/sshd';

const log = createLogger({ level: 'silent' });
const WRONG_FINGERPRINT = `SHA256:${Buffer.alloc(32, 7).toString('base64').replace(/=+$/, '')}`;
let db: Awaited<ReturnType<typeof createTestDatabase>>;

type SshCoords = { host: string; port: number; username: string; privateKeyPath: string; hostKeySha256: string };

function sshConfig(sshd: SshCoords, over: Partial<LamassuConfig> & { hostKeySha256?: string } = {}): LamassuConfig {
  const { hostKeySha256, ...rest } = over;
  return lamassuSchema.parse({
    mode: 'ssh',
    databaseUrl: db.url, // the SSH server is local, so "as seen from it" is the same URL
    statementTimeoutMs: 5_000,
    ssh: {
      host: sshd.host,
      port: sshd.port,
      username: sshd.username,
      privateKey: readFileSync(sshd.privateKeyPath, 'utf8'),
      hostKeySha256: hostKeySha256 ?? sshd.hostKeySha256,
      readyTimeoutMs: 5_000,
      keepaliveIntervalMs: 1_000,
    },
    ...rest,
  });
}

before(async () => {
  db = await createTestDatabase('lamassu_tunnel');
  // The adapter is read-only by design, so the fixture is written with a plain client.
  const client = new pg.Client({ connectionString: db.url });
  await client.connect();
  // Minimal stand-in for Lamassu's table; the full fixture lives elsewhere.
  await client.query(`CREATE TABLE cash_out_txs (id uuid PRIMARY KEY, crypto_atoms numeric(30) NOT NULL, fiat numeric(14,5) NOT NULL, confirmed_at timestamptz)`);
  await client.query(`INSERT INTO cash_out_txs VALUES ('00000000-0000-4000-8000-000000000001', 512400, 4000.00000, now()), ('00000000-0000-4000-8000-000000000002', 266800, 2000.00000, now())`);
  await client.end();
});

after(async () => {
  await db?.drop();
});

test('a query through the ssh2 tunnel reaches PostgreSQL; NUMERIC arrives as a string; session is read-only', async (t) => {
  const conn = createLamassuConnection(sshConfig(getStack().sshd), log);
  try {
    let t0 = performance.now();
    const first = await conn.withReadOnly(async (c) => (await c.query(`SELECT 1 AS one, crypto_atoms, fiat FROM cash_out_txs ORDER BY id LIMIT 1`)).rows[0]);
    const cold = performance.now() - t0;
    assert.deepEqual(first, { one: 1, crypto_atoms: '512400', fiat: '4000.00000' });

    const warm: number[] = [];
    for (let i = 0; i < 20; i++) {
      t0 = performance.now();
      await conn.withReadOnly((c) => c.query('SELECT 1'));
      warm.push(performance.now() - t0);
    }
    warm.sort((a, b) => a - b);
    t.diagnostic(`latency: first call (ssh handshake + pg connect) ${cold.toFixed(1)} ms; warm withReadOnly median ${warm[10]!.toFixed(2)} ms, max ${warm[19]!.toFixed(2)} ms`);

    await assert.rejects(conn.withReadOnly((c) => c.query(`DELETE FROM cash_out_txs`)), /read-only transaction/);
    const timeout = await conn.withReadOnly(async (c) => (await c.query(`SHOW statement_timeout`)).rows[0].statement_timeout);
    assert.equal(timeout, '5s');
  } finally {
    await conn.close();
  }
});

test('a wrong pinned host key is refused with HostKeyMismatchError naming both fingerprints', async () => {
  const sshd = getStack().sshd;
  const conn = createLamassuConnection(sshConfig(sshd, { hostKeySha256: WRONG_FINGERPRINT }), log);
  try {
    await assert.rejects(conn.withReadOnly((c) => c.query('SELECT 1')), (err: unknown) => {
      assert.ok(err instanceof HostKeyMismatchError);
      assert.match(err.message, new RegExp(`expected ${WRONG_FINGERPRINT.replace(/[+/]/g, '\\$&')}`));
      assert.ok(err.message.includes(`presented ${sshd.hostKeySha256}`));
      return true;
    });
  } finally {
    await conn.close();
  }
});

test('sshd dying fails the in-flight and the next call; after it is back the connection rebuilds itself', async () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'satmachine-sshd-'));
  let sshd = await startSshd({ dir });
  const cfg = sshConfig(sshd);
  const conn = createLamassuConnection(cfg, log);
  try {
    assert.equal(await conn.withReadOnly(async (c) => (await c.query('SELECT 2 AS n')).rows[0].n), 2);

    const inFlight = assert.rejects(conn.withReadOnly((c) => c.query('SELECT pg_sleep(3)')), (err: unknown) => {
      assert.ok(err instanceof LamassuConnectionError, String(err));
      assert.match(err.message, /SSH tunnel .* closed during the call/);
      return true;
    });
    await new Promise((r) => setTimeout(r, 300));
    await sshd.stop();
    await inFlight;

    // sshd is down: the next call tries to reconnect and fails loudly.
    await assert.rejects(conn.withReadOnly((c) => c.query('SELECT 1')), (err: unknown) => {
      assert.ok(err instanceof TunnelError && err.stage === 'connect', String(err));
      return true;
    });

    sshd = await startSshd({ dir, port: sshd.port }); // same keys, same port
    assert.equal(await conn.withReadOnly(async (c) => (await c.query('SELECT 3 AS n')).rows[0].n), 3);
  } finally {
    await conn.close();
    await sshd.stop();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('errors never carry the private key or the database password', async () => {
  const url = new URL(db.url);
  url.password = 'sekret-pw-123';
  url.pathname = '/no_such_database_xyz';
  const cfg = sshConfig(getStack().sshd, { databaseUrl: url.toString() });
  const conn = createLamassuConnection(cfg, log);
  try {
    const err = await conn.withReadOnly((c) => c.query('SELECT 1')).then(() => undefined, (e: Error) => e);
    assert.ok(err, 'expected a failure');
    const text = `${err.message} ${String(err.stack)}`;
    assert.ok(!text.includes('sekret-pw-123'), text);
    assert.ok(!text.includes(cfg.ssh!.privateKey.split('\n')[1]!), text);
  } finally {
    await conn.close();
  }
  const report = await testLamassuConnection(cfg);
  assert.equal(report.ok, false);
  assert.ok(!JSON.stringify(report).includes('sekret-pw-123'));
});

test('the connection test reports every step ok, the row count and the clock offset', async () => {
  const report = await testLamassuConnection(sshConfig(getStack().sshd));
  assert.equal(report.ok, true, JSON.stringify(report, null, 2));
  assert.deepEqual(report.steps.map((s) => [s.step, s.ok]), [
    ['ssh-reachable', true], ['host-key', true], ['authenticated', true], ['database', true], ['cash_out_txs', true],
  ]);
  assert.equal(report.rowCount, 2);
  assert.equal(report.confirmedAtIndexed, false, 'Lamassu has no index on confirmed_at');
  assert.match(report.steps.at(-1)!.detail, /readable, 2 rows; no index on confirmed_at/);
  assert.ok(report.databaseTime && !Number.isNaN(Date.parse(report.databaseTime)));
  assert.ok(Math.abs(report.clockOffsetMs!) < 2_000, `offset ${report.clockOffsetMs}`);

  const direct = await testLamassuConnection(lamassuSchema.parse({ mode: 'direct', databaseUrl: db.url }));
  assert.deepEqual(direct.steps.map((s) => [s.step, s.ok]), [['database', true], ['cash_out_txs', true]]);

  // The operator adds the index docs/performance.md (P4) recommends: the test says the poll is now bounded.
  const writer = new pg.Client({ connectionString: db.url });
  await writer.connect();
  await writer.query('CREATE INDEX cash_out_txs_confirmed_at_test ON cash_out_txs (confirmed_at)');
  try {
    const indexed = await testLamassuConnection(lamassuSchema.parse({ mode: 'direct', databaseUrl: db.url }));
    assert.equal(indexed.confirmedAtIndexed, true);
    assert.match(indexed.steps.at(-1)!.detail, /indexed on confirmed_at: a poll reads only its look-back window/);
  } finally {
    await writer.query('DROP INDEX cash_out_txs_confirmed_at_test');
    await writer.end();
  }
});

test('the connection test stops at the failing step', async () => {
  const sshd = getStack().sshd;
  const wrongKey = await testLamassuConnection(sshConfig(sshd, { hostKeySha256: WRONG_FINGERPRINT }));
  assert.equal(wrongKey.ok, false);
  assert.deepEqual(wrongKey.steps.map((s) => [s.step, s.ok]), [['ssh-reachable', true], ['host-key', false]]);
  assert.match(wrongKey.steps[1]!.detail, /expected SHA256:.*presented SHA256:/);

  const closedPort = await testLamassuConnection(sshConfig({ ...sshd, port: 1 }));
  assert.deepEqual(closedPort.steps.map((s) => [s.step, s.ok]), [['ssh-reachable', false]]);

  const noTable = await testLamassuConnection(sshConfig(sshd, { databaseUrl: getStack().postgres.adminUrl }));
  assert.deepEqual(noTable.steps.map((s) => s.ok), [true, true, true, true, false]);
  assert.match(noTable.steps[4]!.detail, /cash_out_txs/);
});
