import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { validateLamassuRow } from '../domain/lamassu-row';
import { LamassuConnectionError } from '../adapters/lamassu/connection';
import { HostKeyMismatchError } from '../adapters/lamassu/host-key';
import { runConnectionTest } from '../client/commands/connection-test';
import { checkConfig } from '../client/config-check';
import net from 'node:net';
import { createIngestionFixture, WRONG_FINGERPRINT, type IngestionFixture } from './support/ingestion-fixture';
import { startSshd } from './support/sshd';

const hoursAgo = (h: number) => new Date(Date.now() - h * 3_600_000);

async function withFixture(fn: (f: IngestionFixture) => Promise<void>, opts: Parameters<typeof createIngestionFixture>[0] = {}): Promise<void> {
  const f = await createIngestionFixture(opts);
  try {
    await fn(f);
  } finally {
    await f.cleanup();
  }
}

const ids = (rows: Array<{ id: string }>) => rows.map((r) => r.id);

describe('row validation (domain/lamassu-row.ts)', () => {
  const good = {
    id: '3f1c2a9e-8b7d-4c6e-9f0a-1b2c3d4e5f60', device_id: 'dev1', crypto_atoms: '512400', received_crypto_atoms: null, crypto_code: 'BTC',
    fiat: '4000.00000', fiat_code: 'GTQ', status: 'confirmed', dispense: true, dispense_confirmed: true, error: null, error_code: null,
    commission_percentage: '0.05500', discount: null, raw_ticker_price: '826091.28000', fixed_fee: null,
    created: '2026-11-28T10:00:00.000+00:00', confirmed_at: '2026-11-28T10:01:00+00:00',
  };

  test('a good row becomes a LamassuCashOut with exact strings and UTC ISO timestamps', () => {
    const v = validateLamassuRow(good, { fiatCode: 'GTQ' });
    assert.ok(v.ok, JSON.stringify(v));
    assert.equal(v.row.cryptoAtoms, '512400');
    assert.equal(v.row.fiat, '4000.00000');
    assert.equal(v.row.confirmedAt, '2026-11-28T10:01:00.000Z');
    // Any hex uuid PostgreSQL accepts, not only RFC-variant ones.
    assert.ok(validateLamassuRow({ ...good, id: '11111111-1111-1111-1111-111111111111' }, { fiatCode: 'GTQ' }).ok);
    assert.ok(validateLamassuRow({ ...good, discount: '25' }, { fiatCode: 'GTQ' }).ok);
    // Lamassu's admin range: −15 % … 100 %.
    for (const c of ['-0.15000', '-0.01000', '1.00000']) assert.ok(validateLamassuRow({ ...good, commission_percentage: c }, { fiatCode: 'GTQ' }).ok, c);
    assert.ok(validateLamassuRow({ ...good, fiat: '4000.50000' }, { fiatCode: 'GTQ', fiatDecimals: 2 }).ok);
  });

  const bad: Array<[string, Record<string, unknown>, RegExp?]> = [
    ['id', { id: 'not-a-uuid' }],
    ['crypto_atoms', { crypto_atoms: '0' }, /from 1/],
    ['crypto_atoms', { crypto_atoms: '-5' }],
    ['crypto_atoms', { crypto_atoms: '2100000000000001' }, /2100000000000000/],
    ['crypto_atoms', { crypto_atoms: '1.5' }],
    ['fiat', { fiat: '0.00000' }, /fiat > 0/],
    ['fiat', { fiat: '-4000.00000' }],
    ['fiat', { fiat: '12.123456' }, /5 decimals/],
    ['fiat_code', { fiat_code: 'USD' }, /GTQ/],
    ['crypto_code', { crypto_code: 'ETH' }],
    ['commission_percentage', { commission_percentage: '1.00001' }, /−0.15 ≤ c ≤ 1/],
    ['commission_percentage', { commission_percentage: '-0.15001' }],
    ['fiat', { fiat: '12.12300' }, /2 decimals/],
    ['device_id', { device_id: 'x'.repeat(3_000_000) }, /at most 200 characters/],
    ['error_code', { error_code: 'x'.repeat(101) }],
    ['discount', { discount: '101' }, /0 to 100/],
    ['discount', { discount: -1 }],
    ['discount', { discount: '' }],
    ['status', { status: 'authorized' }],
    ['dispense_confirmed', { dispense_confirmed: null }],
    ['dispense_confirmed', { dispense_confirmed: false }],
    ['error', { error: 'Operator cancel' }],
    ['error_code', { error_code: 'operatorCancel' }],
    ['confirmed_at', { confirmed_at: '2026-11-28 10:00:00' }, /time zone/],
    ['created', { created: 'yesterday' }],
    ['device_id', { device_id: '' }],
  ];
  for (const [field, change, reason] of bad) {
    test(`rejects ${field} = ${JSON.stringify(Object.values(change)[0]).slice(0, 40)}, naming the field`, () => {
      const v = validateLamassuRow({ ...good, ...change }, { fiatCode: 'GTQ', fiatDecimals: 2 });
      assert.equal(v.ok, false);
      if (v.ok) return;
      assert.equal(v.field, field);
      if (reason) assert.match(v.reason, reason);
    });
  }
});

describe('fetch through the ssh2 tunnel (real sshd + PostgreSQL)', () => {
  test('qualifying BTC and LN rows are fetched oldest first; non-qualifying ones are not', () =>
    withFixture(async ({ lamassu, ingestion }) => {
      const btc = await lamassu.insertCashOut({ confirmed_at: hoursAgo(2) });
      const ln = await lamassu.insertCashOut({ crypto_code: 'LN', confirmed_at: hoursAgo(1) });
      const excluded = await Promise.all([
        lamassu.insertCashOut({ error: 'Operator cancel', error_code: 'operatorCancel' }), // cancel also sets dispense
        lamassu.insertCashOut({ error_code: 'operatorCancel' }),
        lamassu.insertCashOut({ dispense_confirmed: false }),
        lamassu.insertCashOut({ dispense_confirmed: null }),
        lamassu.insertCashOut({ dispense: false, dispense_confirmed: false }),
        lamassu.insertCashOut({ status: 'authorized', confirmed_at: null }),
        lamassu.insertCashOut({ status: 'rejected' }),
        lamassu.insertCashOut({ crypto_code: 'ETH' }),
        lamassu.insertCashOut({ fiat_code: 'USD' }),
        lamassu.insertCashOut({ confirmed_at: hoursAgo(73), created: hoursAgo(74) }), // outside the look-back
      ]);
      const r = await ingestion.activities.fetchNewCashOuts();
      assert.deepEqual(ids(r.rows), [btc, ln]);
      assert.equal(r.fetched, 2);
      assert.equal(r.rejectedNew, 0);
      assert.equal(r.rows[1]!.cryptoCode, 'LN');
      assert.equal(r.rows[0]!.commissionPercentage, '0.05500');
      assert.ok(excluded.every((id) => !ids(r.rows).includes(id)));
    }));

  test('a row not yet dispense-confirmed is skipped, then picked up by a later poll once it flips', () =>
    withFixture(async ({ lamassu, ingestion }) => {
      const id = await lamassu.insertCashOut({ crypto_code: 'LN', dispense_confirmed: false });
      assert.deepEqual(ids((await ingestion.activities.fetchNewCashOuts()).rows), []);
      await lamassu.updateCashOut(id, { dispense_confirmed: true });
      assert.deepEqual(ids((await ingestion.activities.fetchNewCashOuts()).rows), [id]);
    }));

  test('ids the ledger already knows are excluded (one query); a rejected-then-fixed row is never paid', () =>
    withFixture(async ({ lamassu, ingestion, markKnown }) => {
      const known = await lamassu.insertCashOut({ confirmed_at: hoursAgo(3) });
      const fresh = await lamassu.insertCashOut();
      await markKnown(known, 'completed');
      const r = await ingestion.activities.fetchNewCashOuts();
      assert.deepEqual(ids(r.rows), [fresh]);
      assert.equal(r.known, 1);
    }));

  test('malformed rows are rejected once (field, reason, raw text), alerted once; valid rows of the poll go on', () =>
    withFixture(async ({ lamassu, ledger, ingestion }) => {
      const valid = await lamassu.insertCashOut({ confirmed_at: hoursAgo(1) });
      const zeroAtoms = await lamassu.insertCashOut({ crypto_atoms: '0', confirmed_at: hoursAgo(2) });
      const hugeAtoms = await lamassu.insertCashOut({ crypto_atoms: '99999999999999999999', confirmed_at: hoursAgo(3) });
      const badCommission = await lamassu.insertCashOut({ commission_percentage: '1.50000', confirmed_at: hoursAgo(4) });
      const badDiscount = await lamassu.insertCashOut({ discount: 150 });
      const negativeFiat = await lamassu.insertCashOut({ fiat: '-10.00000' });

      const first = await ingestion.activities.fetchNewCashOuts();
      assert.deepEqual(ids(first.rows), [valid]);
      assert.equal(first.rejectedNew, 5);

      const { rows } = await ledger.pool.query(
        `SELECT lamassu_id::text AS id, status, rejected_field, error, crypto_atoms::text, fiat::text FROM satoshimachine.lamassu_transactions ORDER BY rejected_field`,
      );
      const byId = new Map(rows.map((r) => [r.id, r]));
      assert.equal(rows.length, 5);
      assert.ok(rows.every((r) => r.status === 'rejected'));
      assert.equal(byId.get(zeroAtoms).rejected_field, 'crypto_atoms');
      assert.match(byId.get(zeroAtoms).error, /from 1/);
      assert.equal(byId.get(hugeAtoms).rejected_field, 'crypto_atoms');
      assert.equal(byId.get(badCommission).rejected_field, 'commission_percentage');
      assert.equal(byId.get(badDiscount).rejected_field, 'discount');
      assert.equal(byId.get(negativeFiat).rejected_field, 'fiat');
      assert.equal(byId.get(negativeFiat).fiat, '0.00000', 'a value the ledger column refuses is not stored there');

      const raw = await ledger.pool.query(`SELECT raw_id, field, raw FROM satoshimachine.lamassu_rejected_rows WHERE raw_id = $1`, [hugeAtoms]);
      assert.equal(raw.rows[0].raw.crypto_atoms, '99999999999999999999', 'the exact raw text is kept');
      const neg = await ledger.pool.query(`SELECT raw FROM satoshimachine.lamassu_rejected_rows WHERE raw_id = $1`, [negativeFiat]);
      assert.equal(neg.rows[0].raw.fiat, '-10.00000');

      const second = await ingestion.activities.fetchNewCashOuts();
      assert.deepEqual(ids(second.rows), [valid]);
      assert.equal(second.rejectedNew, 0, 'recorded once');
      const alerts = await ledger.pool.query(`SELECT dedup_key, kind, severity FROM satoshimachine.alerts WHERE kind = 'row-rejected' ORDER BY dedup_key`);
      assert.deepEqual(
        alerts.rows.map((a) => a.dedup_key),
        [zeroAtoms, hugeAtoms, badCommission, badDiscount, negativeFiat].map((id) => `row-rejected:${id}`).sort(),
        'one alert per rejected row, also after the second poll',
      );
      const unalerted = await ledger.pool.query(`SELECT count(*)::int AS n FROM satoshimachine.lamassu_rejected_rows WHERE alerted_at IS NULL`);
      assert.equal(unalerted.rows[0].n, 0);
    }));

  test('a row whose id is not a uuid is recorded in lamassu_rejected_rows by its raw id, alerted once', () =>
    withFixture(async ({ lamassu, ledger, ingestion }) => {
      // Lamassu's id is a uuid column; a server variant with a text id is simulated by changing the type.
      await lamassu.pool.query(`ALTER TABLE cash_out_txs ALTER COLUMN id TYPE text`);
      const valid = await lamassu.insertCashOut();
      await lamassu.insertCashOut({ id: 'tx-42-not-a-uuid', confirmed_at: hoursAgo(1) });
      for (let i = 0; i < 2; i++) {
        const r = await ingestion.activities.fetchNewCashOuts();
        assert.deepEqual(ids(r.rows), [valid]);
        assert.equal(r.rejectedNew, i === 0 ? 1 : 0);
      }
      const rec = await ledger.pool.query(`SELECT raw_id, lamassu_id, field, reason, raw->>'crypto_atoms' AS atoms FROM satoshimachine.lamassu_rejected_rows`);
      assert.deepEqual(rec.rows, [{ raw_id: 'tx-42-not-a-uuid', lamassu_id: null, field: 'id', reason: rec.rows[0].reason, atoms: '512400' }]);
      const lt = await ledger.pool.query(`SELECT count(*)::int AS n FROM satoshimachine.lamassu_transactions`);
      assert.equal(lt.rows[0].n, 0);
      const alerts = await ledger.pool.query(`SELECT dedup_key FROM satoshimachine.alerts WHERE kind = 'row-rejected'`);
      assert.deepEqual(alerts.rows, [{ dedup_key: 'row-rejected:tx-42-not-a-uuid' }]);
    }));

  test('after an outage longer than the look-back the window reaches back to the last complete poll', () =>
    withFixture(async ({ lamassu, ingestion }) => {
      const old = await lamassu.insertCashOut({ confirmed_at: hoursAgo(150), created: hoursAgo(151) });
      const tooOld = await lamassu.insertCashOut({ confirmed_at: hoursAgo(200), created: hoursAgo(201) });
      assert.deepEqual(ids((await ingestion.activities.fetchNewCashOuts()).rows), []);
      const r = await ingestion.activities.fetchNewCashOuts({ lastCompletePollAt: hoursAgo(100).toISOString() });
      assert.deepEqual(ids(r.rows), [old]);
      assert.ok(!ids(r.rows).includes(tooOld));
      assert.ok(Math.abs(Date.parse(r.windowStart) - hoursAgo(172).getTime()) < 60_000, r.windowStart);
    }));

  test('lamassu.payFrom: cash-outs confirmed before it are never fetched (the old system paid them)', () =>
    withFixture(async ({ config, lamassu, ingestion }) => {
      const before = await lamassu.insertCashOut({ confirmed_at: hoursAgo(5) });
      const after = await lamassu.insertCashOut({ confirmed_at: hoursAgo(1) });
      config.lamassu.payFrom = hoursAgo(3).toISOString();
      try {
        const r = await ingestion.activities.fetchNewCashOuts();
        assert.deepEqual(ids(r.rows), [after]);
        assert.ok(!ids(r.rows).includes(before));
      } finally {
        delete config.lamassu.payFrom;
      }
    }));

  test('more new rows than one fetch may carry: oldest first, truncated', () =>
    withFixture(async ({ lamassu, ingestion }) => {
      const a = await lamassu.insertCashOut({ confirmed_at: hoursAgo(3) });
      const b = await lamassu.insertCashOut({ confirmed_at: hoursAgo(2) });
      await lamassu.insertCashOut({ confirmed_at: hoursAgo(1) });
      const r = await ingestion.activities.fetchNewCashOuts({ maxRows: 2 });
      assert.deepEqual(ids(r.rows), [a, b]);
      assert.equal(r.truncated, true);
    }));

  test('a 3 MB device_id is rejected (recorded, alerted once, the alert cut short); the rows around it are fetched', () =>
    withFixture(async ({ lamassu, ledger, ingestion }) => {
      const before = await lamassu.insertCashOut({ confirmed_at: hoursAgo(2) });
      const poison = await lamassu.insertCashOut({ device_id: 'd'.repeat(3_000_000), confirmed_at: hoursAgo(1.5) });
      const after = await lamassu.insertCashOut({ confirmed_at: hoursAgo(1) });
      const r = await ingestion.activities.fetchNewCashOuts();
      assert.deepEqual(ids(r.rows), [before, after]);
      assert.equal(r.rejectedNew, 1);
      assert.ok(JSON.stringify(r).length < 10_000, 'the activity result never carries the text field');
      const tx = await ledger.pool.query(`SELECT status, rejected_field FROM satoshimachine.lamassu_transactions WHERE lamassu_id = $1`, [poison]);
      assert.deepEqual(tx.rows, [{ status: 'rejected', rejected_field: 'device_id' }]);
      await ingestion.activities.fetchNewCashOuts();
      const alerts = await ledger.pool.query(`SELECT details->'raw'->>'device_id' AS dev FROM satoshimachine.alerts WHERE dedup_key = $1`, [`row-rejected:${poison}`]);
      assert.equal(alerts.rows.length, 1, 'alerted once');
      assert.ok(alerts.rows[0].dev.length < 300, 'the alert holds a cut-short device_id');
    }));

  test('fixed_fee: rows are read on servers with and without the column (v10.0.3 has none)', async () => {
    for (const fixedFee of [false, true]) {
      await withFixture(async ({ lamassu, ingestion }) => {
        const id = await lamassu.insertCashOut(fixedFee ? { fixed_fee: '20.00000', crypto_atoms: '514900' } : {});
        const r = await ingestion.activities.fetchNewCashOuts();
        assert.deepEqual(ids(r.rows), [id]);
        assert.equal(r.rows[0]!.fixedFee, fixedFee ? '20.00000' : null);
      }, { fixedFee });
    }
  });

  test('dispensed in Lamassu but not final after 24 h: alerted once, listed for `status`, resolved once payable', () =>
    withFixture(async ({ lamassu, ledger, ingestion }) => {
      const zeroConf = await lamassu.insertCashOut({ status: 'authorized', confirmed_at: null, created: hoursAgo(30) });
      const stuck = await lamassu.insertCashOut({ dispense_confirmed: false, created: hoursAgo(26), confirmed_at: hoursAgo(26) });
      await lamassu.insertCashOut({ status: 'authorized', confirmed_at: null, created: hoursAgo(2) }); // too young
      await lamassu.insertCashOut({ dispense_confirmed: false, error: 'Operator cancel', error_code: 'operatorCancel', created: hoursAgo(30) }); // cancelled
      await ingestion.activities.fetchNewCashOuts();
      await ingestion.activities.fetchNewCashOuts();
      const alerts = await ledger.pool.query(`SELECT dedup_key, message FROM satoshimachine.alerts WHERE kind = 'cashout-dispensed-not-final' ORDER BY dedup_key`);
      assert.deepEqual(alerts.rows.map((a) => a.dedup_key).sort(), [zeroConf, stuck].map((id) => `cashout-dispensed-not-final:${id}`).sort());
      assert.match(alerts.rows[0].message, /dispensed, not final after 24 h/);
      const open = await ledger.pool.query(`SELECT lamassu_id::text AS id FROM satoshimachine.lamassu_unfinished_rows WHERE resolved_at IS NULL ORDER BY created`);
      assert.deepEqual(open.rows.map((r) => r.id), [zeroConf, stuck]);
      await lamassu.updateCashOut(stuck, { dispense_confirmed: true });
      const r = await ingestion.activities.fetchNewCashOuts();
      assert.deepEqual(ids(r.rows), [stuck], 'payable now: fetched like any other');
      const still = await ledger.pool.query(`SELECT lamassu_id::text AS id FROM satoshimachine.lamassu_unfinished_rows WHERE resolved_at IS NULL`);
      assert.deepEqual(still.rows.map((x) => x.id), [zeroConf]);
    }));

  test('the tunnel dying during a fetch makes it throw (never an empty result); the next fetch gets every row', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'satm-ingest-sshd-'));
    let sshd = await startSshd({ dir });
    let locker: pg.Client | undefined;
    try {
      await withFixture(async ({ lamassu, ingestion }) => {
        const id = await lamassu.insertCashOut();
        assert.deepEqual(ids((await ingestion.activities.fetchNewCashOuts()).rows), [id]);
        // Hold the fetch inside its query, then kill the SSH server under it.
        locker = new pg.Client({ connectionString: lamassu.url });
        // Terminated by the fixture's DROP DATABASE … WITH (FORCE) if an assertion fails first: never a crash.
        locker.on('error', () => undefined);
        await locker.connect();
        await locker.query('BEGIN; LOCK TABLE cash_out_txs IN ACCESS EXCLUSIVE MODE');
        const inFlight = assert.rejects(ingestion.activities.fetchNewCashOuts(), (err: unknown) => err instanceof LamassuConnectionError && /closed during the call/.test(err.message));
        await new Promise((r) => setTimeout(r, 400));
        await sshd.stop();
        await inFlight;
        await assert.rejects(ingestion.activities.fetchNewCashOuts(), /SSH connection .* failed|ECONNREFUSED/);
        await locker.query('ROLLBACK');
        await locker.end();
        locker = undefined;
        sshd = await startSshd({ dir, port: sshd.port });
        assert.deepEqual(ids((await ingestion.activities.fetchNewCashOuts()).rows), [id]);
      }, { sshd });
    } finally {
      await locker?.end().catch(() => undefined);
      await sshd.stop();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('a wrong pinned host key is refused: the fetch throws HostKeyMismatchError', () =>
    withFixture(async ({ lamassu, ingestion }) => {
      await lamassu.insertCashOut();
      await assert.rejects(ingestion.activities.fetchNewCashOuts(), (err: unknown) => err instanceof HostKeyMismatchError);
    }, { hostKeySha256: WRONG_FINGERPRINT }));
});

describe('readiness check (runbook validate_system_ready)', () => {
  test('ready when the ledger and the commission wallet answer and nothing is stuck', () =>
    withFixture(async ({ ingestion }) => {
      const r = await ingestion.activities.checkPollerReadiness();
      assert.deepEqual({ ready: r.ready, reason: r.reason }, { ready: true, reason: null });
      assert.deepEqual(r.checks.map((c) => c.name), ['ledger', 'stuck-payouts', 'commission-wallet']);
    }));

  test('not ready with a reason and one alert: commission wallet unknown or down; a payout stuck > 2 h alerts but blocks nothing', () =>
    withFixture(async ({ ingestion, wallet, ledger, markKnown }) => {
      wallet.setUp(false);
      let r = await ingestion.activities.checkPollerReadiness();
      assert.equal(r.ready, false);
      assert.match(r.reason!, /^commission-wallet: .*503/);
      wallet.setUp(true);

      const txId = '00000000-0000-4000-8000-00000000aaaa';
      await markKnown(txId, 'processing');
      await ledger.pool.query(
        `INSERT INTO satoshimachine.payments (transaction_id, kind, amount_sats, status, created_at)
         SELECT id, 'commission', 1000, 'pending', now() - interval '3 hours' FROM satoshimachine.lamassu_transactions WHERE lamassu_id = $1`,
        [txId],
      );
      r = await ingestion.activities.checkPollerReadiness();
      // Issue 19: one stuck cash-out never blocks the others; it is named in a warning and an alert.
      assert.equal(r.ready, true);
      assert.match(r.warnings?.[0] ?? '', new RegExp(`^stuck-payouts: 1 payment\\(s\\) pending for more than 2 h in cash-out\\(s\\) ${txId}`));
      await ingestion.activities.checkPollerReadiness();
      const alerts = await ledger.pool.query(`SELECT dedup_key FROM satoshimachine.alerts WHERE kind = 'poller-not-ready' ORDER BY dedup_key`);
      assert.deepEqual(alerts.rows.map((a) => a.dedup_key), ['poller-not-ready:commission-wallet']);
      const stuck = await ledger.pool.query(`SELECT message FROM satoshimachine.alerts WHERE kind = 'payout-stuck-long'`);
      assert.equal(stuck.rows.length, 1);
      assert.match(String(stuck.rows[0].message), new RegExp(txId));
      assert.ok(!JSON.stringify(r).includes(wallet.key), 'no key in the answer');
    }));
});

describe('connection test', () => {
  test('the activity and `satmachine connection test` report every step; --json prints the result', () =>
    withFixture(async ({ config, lamassu, ingestion }) => {
      await lamassu.insertCashOut();
      const viaActivity = await ingestion.activities.testLamassuConnection();
      assert.equal(viaActivity.ok, true, JSON.stringify(viaActivity));
      let text = '';
      const code = await runConnectionTest(config, { out: { write: (s: string) => (text += s) } });
      assert.equal(code, 0);
      assert.match(text, /ok\s+ssh-reachable/);
      assert.match(text, /ok\s+host-key/);
      assert.match(text, /Lamassu connection OK: 1 cash_out_txs rows/);
      let json = '';
      assert.equal(await runConnectionTest(config, { json: true, out: { write: (s: string) => (json += s) } }), 0);
      assert.equal(JSON.parse(json).rowCount, 1);
      assert.ok(!text.includes(config.lamassu.ssh!.privateKey.split('\n')[1]!));
    }));

  test('a wrong host key fails at the host-key step with exit code 1', () =>
    withFixture(async ({ config }) => {
      let text = '';
      const code = await runConnectionTest(config, { out: { write: (s: string) => (text += s) } });
      assert.equal(code, 1);
      assert.match(text, /FAIL\s+host-key\s+SSH host key mismatch/);
      assert.match(text, /FAILED at step "host-key"/);
    }, { hostKeySha256: WRONG_FINGERPRINT }));

  test('an SSH server that never finishes its handshake (a slow machine): the host key is unverified, not wrong — config check does not fail', () =>
    withFixture(async ({ config }) => {
      // Accepts TCP, never says a word: the handshake times out before any host key is presented.
      const sockets: net.Socket[] = [];
      const silent = net.createServer((s) => void sockets.push(s.on('error', () => undefined)));
      await new Promise<void>((r) => silent.listen(0, '127.0.0.1', r));
      try {
        const port = (silent.address() as net.AddressInfo).port;
        const slow = { ...config, lamassu: { ...config.lamassu, ssh: { ...config.lamassu.ssh!, host: '127.0.0.1', port, readyTimeoutMs: 1_000 } } };
        const report = await checkConfig(slow);
        const hostKey = report.checks.find((c) => c.name === 'lamassu.ssh.hostKeySha256')!;
        assert.equal(hostKey.status, 'unreachable', JSON.stringify(hostKey));
        assert.match(hostKey.detail, /SSH handshake failed before the host key was checked/);
      } finally {
        for (const s of sockets) s.destroy();
        await new Promise((r) => silent.close(r));
      }
    }));
});
