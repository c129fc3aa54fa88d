/**
 * `satmachine import satmachineadmin` against the real stack: the old extension's tables in both LNbits layouts
 * (SQLite file, PostgreSQL schema) with realistic data — a pending deposit, a zero balance, a deleted wallet,
 * float amounts — real LNbits users and wallets, the real ledger. Dry run writes nothing; --apply imports to the
 * cent, links keys through LNbits' users API, sets the cut-over; a second run changes nothing; reconcile is clean.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes, randomUUID } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import pg from 'pg';
import { readPostgresLegacy } from '../adapters/legacy/postgres-source';
import { createReconcileActivities } from '../activities/reconcile';
import { getClientInvoiceKey } from '../adapters/ledger';
import { applyLegacyImport } from '../adapters/ledger/legacy-import';
import { rotateEncryptionKey, verifyEncryptionKey } from '../adapters/ledger/key-custody';
import { buildLegacyPlan } from '../domain/legacy-plan';
import { createIngestionFixture } from './support/ingestion-fixture';
import { effectivePayFrom } from '../adapters/ledger/cutover';
import { knownLamassuIds } from '../adapters/ledger/lamassu-ingestion';
import { loadConfig } from '../config';
import type { ConfigInput } from '../config/schema';
import { toMinorAmount, toUtcIso, floorDecimal } from '../domain/legacy-amounts';
import { createLogger } from '../log/logger';
import { cliEnvFor, createCliLedgerWorld, runCli, type CliLedgerWorld } from './support/cli';
import { createWallet, type TestWallet } from './support/lnbits';
import { createPostgresExtensionDb, createSqliteExtensionDb, type OldRows } from './support/satmachineadmin-db';
import { getStack } from './support/stack';
import { startTestWorker, uniqueTaskQueue } from './support/temporal-client';

const KEY = 'm'.repeat(40);
const KEY2 = 'n'.repeat(40);
const log = createLogger({ level: process.env.LOG_LEVEL ?? 'silent', name: 'test' });
const ago = (hours: number) => new Date(Date.now() - hours * 3600_000);

interface People { ana: TestWallet; beto: TestWallet; carla: TestWallet; dora: TestWallet }

/** Soft-deletes a wallet through LNbits' users API, as an LNbits admin would in the UI. */
async function deleteWallet(w: TestWallet): Promise<void> {
  const { url, superuserToken } = getStack().lnbits;
  const res = await fetch(`${url}/users/api/v1/user/${w.userId}/wallet/${w.id}`, { method: 'DELETE', headers: { Authorization: `Bearer ${superuserToken}` } });
  assert.equal(res.status, 200, await res.text());
}

/**
 * Ana 1500 + 500 − 200 − 100 = 1700 (and a failed payment of 50 the old system never debited); Beto 1000 − 250 = 750
 * with 300 pending (on SQLite the 250 are two float payments 216.667 + 33.333); Carla 400 − 400 = 0; Dora
 * 800 − 100 = 700, whose wallet was deleted. Three cash-outs handled, the newest 1 h ago.
 */
function oldRows(p: People, floats: boolean) {
  const tx = [randomUUID(), randomUUID(), randomUUID()];
  const cl = { ana: `cA${randomBytes(6).toString('hex')}`, beto: `cB${randomBytes(6).toString('hex')}`, carla: `cC${randomBytes(6).toString('hex')}`, dora: `cD${randomBytes(6).toString('hex')}` };
  const pay = (id: string, client: string, sats: number, fiat: number, txId: string, status: string, hours: number) => ({
    id, client_id: client, amount_sats: sats, amount_fiat: fiat, exchange_rate: sats / fiat, transaction_type: 'flow', lamassu_transaction_id: txId,
    payment_hash: randomBytes(32).toString('hex'), status, created: ago(hours), transaction_time: ago(hours),
  });
  const rows: OldRows = {
    clients: [
      { id: cl.ana, user_id: p.ana.userId, wallet_id: p.ana.id, username: 'Ana', created: ago(400) },
      { id: cl.beto, user_id: p.beto.userId, wallet_id: p.beto.id, username: 'Beto', created: ago(400) },
      { id: cl.carla, user_id: p.carla.userId, wallet_id: p.carla.id, username: 'Carla', created: ago(400) },
      { id: cl.dora, user_id: p.dora.userId, wallet_id: p.dora.id, username: 'Dora', created: ago(400) },
    ],
    deposits: [
      { id: 'dA1', client_id: cl.ana, amount: 1500, status: 'confirmed', notes: 'cash in office', created: ago(300), confirmed: ago(299) },
      { id: 'dA2', client_id: cl.ana, amount: 500, status: 'confirmed', created: ago(200), confirmed: ago(199) },
      { id: 'dB1', client_id: cl.beto, amount: 1000, status: 'confirmed', created: ago(250), confirmed: ago(249) },
      { id: 'dB2', client_id: cl.beto, amount: 300, status: 'pending', created: ago(2), confirmed: null },
      { id: 'dC1', client_id: cl.carla, amount: 400, status: 'confirmed', created: ago(260), confirmed: ago(259) },
      { id: 'dD1', client_id: cl.dora, amount: 800, status: 'confirmed', created: ago(270), confirmed: ago(269) },
    ],
    payments: [
      pay('pA1', cl.ana, 25_000, 200, tx[0]!, 'confirmed', 120),
      pay('pC1', cl.carla, 50_000, 400, tx[0]!, 'confirmed', 120),
      pay('pA2', cl.ana, 12_500, 100, tx[1]!, 'confirmed', 72),
      ...(floats
        ? [pay('pB1', cl.beto, 27_083, 216.667, tx[1]!, 'confirmed', 72), pay('pB2', cl.beto, 4_167, 33.333, tx[1]!, 'confirmed', 72)]
        : [pay('pB1', cl.beto, 31_250, 250, tx[1]!, 'confirmed', 72)]),
      pay('pD1', cl.dora, 12_500, 100, tx[1]!, 'confirmed', 72),
      pay('pA3', cl.ana, 6_250, 50, tx[2]!, 'failed', 1),
    ],
    cashOuts: [
      { id: 'lt1', lamassu_transaction_id: tx[0]!, fiat_amount: 600, crypto_amount: 77_250, commission_percentage: 0.03, discount: 0, effective_commission: 0.03, commission_amount_sats: 2_250, base_amount_sats: 75_000, exchange_rate: 125, device_id: 'atm-1', transaction_time: ago(120), clients_count: 2, distributions_total_sats: 75_000 },
      { id: 'lt2', lamassu_transaction_id: tx[1]!, fiat_amount: 450, crypto_amount: 57_950, commission_percentage: 0.03, discount: 0, effective_commission: 0.03, commission_amount_sats: 1_700, base_amount_sats: 56_250, exchange_rate: 125, device_id: 'atm-1', transaction_time: ago(72), clients_count: 3, distributions_total_sats: 56_250 },
      { id: 'lt3', lamassu_transaction_id: tx[2]!, fiat_amount: 50, crypto_amount: 6_450, commission_percentage: 0.03, discount: 0, effective_commission: 0.03, commission_amount_sats: 200, base_amount_sats: 6_250, exchange_rate: 125, device_id: 'atm-1', transaction_time: ago(1), clients_count: 0, distributions_total_sats: 0 },
    ],
  };
  return { rows, tx, cl, newest: rows.cashOuts[2]!.transaction_time };
}

const EXPECTED_MINOR = { Ana: 170_000, Beto: 75_000, Carla: 0, Dora: 70_000 } as const;

async function people(): Promise<People> {
  const { url, superuserToken } = getStack().lnbits;
  const [ana, beto, carla, dora] = await Promise.all(['ana', 'beto', 'carla', 'dora'].map((name) => createWallet(url, superuserToken, { name })));
  await deleteWallet(dora!);
  return { ana: ana!, beto: beto!, carla: carla!, dora: dora! };
}

async function world(prefix: string): Promise<{ w: CliLedgerWorld; config: ConfigInput; env: Record<string, string> }> {
  const w = await createCliLedgerWorld({ dbPrefix: prefix, taskQueue: uniqueTaskQueue('import'), sourceSats: 0, encryptionKey: KEY, lamassu: { fiatCode: 'GTQ', fiatDecimals: 2 } });
  const { temporal, lnbits } = getStack();
  const config: ConfigInput = { ...w.config, temporal: { address: temporal.address, namespace: temporal.namespace, taskQueue: uniqueTaskQueue('import-rec') }, lnbits: { ...w.config.lnbits, superuserToken: lnbits.superuserToken } };
  return { w, config, env: cliEnvFor(config) };
}

const ledgerCounts = async (w: CliLedgerWorld) =>
  (await w.db.pool.query(`SELECT (SELECT count(*) FROM satoshimachine.clients)::int AS clients, (SELECT count(*) FROM satoshimachine.deposits)::int AS deposits,
     (SELECT count(*) FROM satoshimachine.balance_log)::int AS log, (SELECT count(*) FROM satoshimachine.adjustments)::int AS adjustments,
     (SELECT count(*) FROM satoshimachine.operator_events)::int AS events, (SELECT count(*) FROM satoshimachine.legacy_cashouts)::int AS cashouts,
     (SELECT count(*) FROM satoshimachine.cutover)::int AS cutover`)).rows[0];

describe('legacy amounts and times (exact)', () => {
  test('major units to minor exactly; floats beyond the cent are flagged, never rounded up', () => {
    assert.deepEqual(toMinorAmount('150.75', 'major', 2, 'a'), { exact: { coefficient: 15075n, scale: 0 }, whole: 15075n, isWhole: true });
    assert.equal(toMinorAmount('1500', 'major', 2, 'a').whole, 150000n);
    const odd = toMinorAmount('216.667', 'major', 2, 'a');
    assert.equal(odd.isWhole, false);
    assert.equal(odd.whole, 21666n);
    assert.equal(toMinorAmount('0.30000000000000004', 'major', 2, 'a').isWhole, false);
    assert.equal(toMinorAmount('15075', 'minor', 2, 'a').whole, 15075n);
    assert.equal(floorDecimal({ coefficient: -5n, scale: 1 }), -1n);
    assert.throws(() => toMinorAmount('1e3', 'major', 2, 'a'), /not a plain decimal/);
  });
  test('the plan: negative old balances open at 0, sub-cent balances are floored, over-debited cash-outs are flagged', () => {
    const t = '1733011200';
    const plan = buildLegacyPlan({
      location: 'test',
      clients: [{ id: 'c1', user_id: 'u1', wallet_id: 'w1', username: 'Over', dca_mode: 'flow', status: 'active' }, { id: 'c2', user_id: 'u2', wallet_id: 'w2', username: null, dca_mode: 'fixed', status: 'inactive' }],
      deposits: [
        { id: 'd1', client_id: 'c1', amount: '100', currency: 'GTQ', status: 'confirmed', notes: null, created_at: t, confirmed_at: t },
        { id: 'd2', client_id: 'c2', amount: '100', currency: null, status: 'confirmed', notes: null, created_at: t, confirmed_at: null },
      ],
      payments: [
        { id: 'p1', client_id: 'c1', amount_sats: '15000', amount_fiat: '150', status: 'confirmed', lamassu_transaction_id: 'tx', transaction_type: 'flow' },
        { id: 'p2', client_id: 'c2', amount_sats: '4167', amount_fiat: '33.333', status: 'confirmed', lamassu_transaction_id: 'tx', transaction_type: 'flow' },
      ],
      cashOuts: [],
    }, { fiatCode: 'GTQ', fiatDecimals: 2, unit: 'major' });
    const [over, second] = [plan.clients.find((c) => c.legacyId === 'c1')!, plan.clients.find((c) => c.legacyId === 'c2')!];
    assert.deepEqual([over.openingMinor, over.adjustmentMinor], [0n, -10_000n]);
    assert.deepEqual([second.openingMinor, second.adjustmentMinor, second.mode, second.wantsActive, second.name], [6_666n, -3_334n, 'fixed', false, 'satmachineadmin client c2']);
    assert.deepEqual(plan.findings.map((f) => f.kind).sort(), ['amount-not-exact', 'confirmed-without-time', 'negative-balance', 'no-cutover', 'payment-without-cashout']);
    assert.ok(plan.findings.every((f) => f.severity !== 'blocking'));
  });

  test('times: SQLite epoch seconds, PostgreSQL naive UTC wall time, zones', () => {
    assert.equal(toUtcIso('1733011200', 't'), '2024-12-01T00:00:00.000000Z');
    assert.equal(toUtcIso('2024-12-01 00:00:00.123456', 't'), '2024-12-01T00:00:00.123456Z');
    assert.equal(toUtcIso('2024-12-01T02:00:00+02:00', 't'), '2024-12-01T00:00:00.000000Z');
    assert.throws(() => toUtcIso('yesterday', 't'), /not a time/);
  });
});

for (const layout of ['sqlite', 'postgres'] as const) {
  describe(`import satmachineadmin from ${layout}`, () => {
    let p: People;
    let old: ReturnType<typeof oldRows>;
    let from: string;
    let dropOld: () => Promise<void> = async () => {};
    let ctx: Awaited<ReturnType<typeof world>>;

    before(async () => {
      p = await people();
      old = oldRows(p, layout === 'sqlite');
      if (layout === 'sqlite') from = (await createSqliteExtensionDb(old.rows)).dataFolder;
      else ({ url: from, drop: dropOld } = await createPostgresExtensionDb(old.rows));
      ctx = await world(`import_${layout}`);
    });
    after(async () => {
      await ctx?.w.db.drop();
      await dropOld();
    });

    if (layout === 'postgres') {
      test('the PostgreSQL reader needs nothing but SELECT on the extension schema (it reads in a READ ONLY transaction)', async () => {
        const role = `ro_${randomBytes(4).toString('hex')}`;
        const admin = new pg.Client({ connectionString: from });
        await admin.connect();
        try {
          await admin.query(`CREATE ROLE ${role} LOGIN PASSWORD 'ro-pass'`);
          await admin.query(`GRANT USAGE ON SCHEMA satoshimachine TO ${role}`);
          await admin.query(`GRANT SELECT ON ALL TABLES IN SCHEMA satoshimachine TO ${role}`);
          const u = new URL(from);
          u.username = role;
          u.password = 'ro-pass';
          const snap = await readPostgresLegacy(u.toString());
          assert.equal(snap.location, 'postgres schema satoshimachine');
          assert.deepEqual([snap.clients.length, snap.deposits.length, snap.payments.length, snap.cashOuts.length], [4, 6, 6, 3]);
        } finally {
          await admin.query(`DROP OWNED BY ${role}`).catch(() => undefined);
          await admin.query(`DROP ROLE IF EXISTS ${role}`).catch(() => undefined);
          await admin.end();
        }
      });
    }

    test('dry run: the report lists clients, balances, payments and inconsistencies, and writes nothing', async () => {
      const r = await runCli(['import', 'satmachineadmin', '--from', from, '--json'], ctx.env);
      assert.equal(r.code, 0, r.stderr + r.stdout);
      const rep = r.json();
      assert.equal(rep.applied, false);
      assert.equal(rep.blocking, 0);
      assert.deepEqual(Object.fromEntries(rep.clients.map((c: { name: string; ledgerBalanceMinor: string }) => [c.name, Number(c.ledgerBalanceMinor)])), EXPECTED_MINOR);
      assert.ok(rep.clients.every((c: { matches: boolean; ledgerState: string }) => c.matches && c.ledgerState === 'planned'));
      assert.deepEqual(rep.deposits, { confirmed: 5, pending: 1, other: 0 });
      assert.equal(rep.paymentsByStatus.failed.count, 1);
      assert.deepEqual(rep.cashOuts.list.map((t: { lamassuId: string }) => t.lamassuId), old.tx);
      assert.equal(rep.payments.length, layout === 'sqlite' ? 7 : 6);
      assert.deepEqual(rep.payments.filter((x: { fiatMinor: string }) => x.fiatMinor.includes('.')).map((x: { fiatMinor: string }) => x.fiatMinor), layout === 'sqlite' ? ['21666.7', '3333.3'] : []);
      const kinds = rep.findings.map((f: { kind: string }) => f.kind).sort();
      assert.deepEqual(kinds, layout === 'sqlite' ? ['amount-not-exact', 'amount-not-exact', 'payment-not-confirmed'] : ['payment-not-confirmed']);
      assert.deepEqual(rep.unlinked.map((u: { name: string; reason: string }) => [u.name, u.reason]), [['Dora', `wallet ${p.dora.id} was deleted in LNbits (an LNbits admin can restore it; the next --apply then links it)`]]);
      assert.match(rep.unlinked[0].commands[0], /npx satmachine clients set-key <client id printed by --apply> --invoice-key-env CLIENT_INVOICE_KEY/);
      assert.equal(Date.parse(rep.cutover.fromOldSystem), layout === 'sqlite' ? Math.floor(old.newest.getTime() / 1000) * 1000 : old.newest.getTime());
      assert.ok(!r.stdout.includes(p.ana.invoiceKey), 'no key in the report');
      assert.deepEqual(await ledgerCounts(ctx.w), { clients: 0, deposits: 0, log: 0, adjustments: 0, events: 0, cashouts: 0, cutover: 0 });
      const human = await runCli(['import', 'satmachineadmin', '--from', from], ctx.env);
      if (process.env.SHOW_REPORT) console.log(human.stdout);
      assert.match(human.stdout, /DRY RUN/);
      assert.match(human.stdout, /Ana .*1700\.00 .*1700\.00 \(planned\)\s+=/);
      assert.match(human.stdout, /cash-outs the old system handled \(3\):/);
      assert.match(human.stdout, /payments the old system did not count \(1;[^\n]*\n.*\npA3 .* 6250 +50\.00 +failed/);
    });

    test('--apply: clients, deposits and opening balances to the cent, keys linked through LNbits, cut-over stored', async () => {
      const r = await runCli(['import', 'satmachineadmin', '--from', from, '--apply', '--actor', 'migrator', '--json'], ctx.env);
      assert.equal(r.code, 0, r.stderr + r.stdout);
      const rep = r.json();
      if (process.env.SHOW_REPORT) console.log((await runCli(['import', 'satmachineadmin', '--from', from], ctx.env)).stdout);
      assert.equal(rep.applied, true);
      assert.deepEqual(rep.reconciliation, { findings: 0, counts: {} });
      assert.ok(rep.clients.every((c: { matches: boolean; ledgerState: string }) => c.matches && c.ledgerState === 'imported'));

      const list = await runCli(['clients', 'list', '--json'], ctx.env);
      assert.equal(list.code, 0, list.stderr);
      const clients = list.json() as Array<{ id: string; name: string; balance: number; status: string; walletId: string }>;
      assert.deepEqual(Object.fromEntries(clients.map((c) => [c.name, c.balance])), EXPECTED_MINOR, 'clients list = the old balances to the cent');
      assert.deepEqual(Object.fromEntries(clients.map((c) => [c.name, c.status])), { Ana: 'active', Beto: 'active', Carla: 'active', Dora: 'paused' });
      const byName = Object.fromEntries(clients.map((c) => [c.name, c]));
      for (const [name, wallet] of [['Ana', p.ana], ['Beto', p.beto], ['Carla', p.carla]] as const) {
        assert.deepEqual(await getClientInvoiceKey(ctx.w.db.pool, byName[name]!.id, KEY), { walletId: wallet.id, invoiceKey: wallet.invoiceKey }, `${name}'s key came from LNbits`);
      }
      await assert.rejects(getClientInvoiceKey(ctx.w.db.pool, byName.Dora!.id, KEY), /no invoice key linked yet/);
      // Key custody (start-up check, rotation) covers the stored keys and skips the client without one.
      assert.deepEqual(await verifyEncryptionKey(ctx.w.db.pool, KEY), { stored: 3, unreadable: [] });
      assert.equal(await rotateEncryptionKey(ctx.w.db.pool, KEY, KEY2), 3);
      assert.equal(await rotateEncryptionKey(ctx.w.db.pool, KEY2, KEY), 3);
      assert.deepEqual(rep.unlinked.map((u: { clientId: string }) => u.clientId), [byName.Dora!.id]);
      assert.match(rep.unlinked[0].commands.join('\n'), new RegExp(`clients set-key ${byName.Dora!.id} .*\\n.*clients set-status ${byName.Dora!.id} active`));
      const early = await runCli(['clients', 'set-status', byName.Dora!.id, 'active'], ctx.env);
      assert.equal(early.code, 2, 'no payout could reach a client without a key: it cannot be made active');
      assert.match(early.stderr, /has no invoice key yet: link it with `(npx )?satmachine clients set-key/);

      const deposits = (await ctx.w.db.pool.query(`SELECT c.name, d.status, d.amount_fiat_minor::int AS amount FROM satoshimachine.deposits d JOIN satoshimachine.clients c ON c.id = d.client_id ORDER BY c.name, d.amount_fiat_minor`)).rows;
      assert.deepEqual(deposits.filter((d) => d.status === 'pending'), [{ name: 'Beto', status: 'pending', amount: 30_000 }]);
      assert.equal(deposits.filter((d) => d.status === 'confirmed').length, 5);
      const audits = (await ctx.w.db.pool.query(`SELECT actor, details FROM satoshimachine.operator_events WHERE action = 'client-imported'`)).rows;
      assert.equal(audits.length, 4);
      assert.ok(audits.every((a) => a.actor === 'migrator'));
      assert.equal(audits.find((a) => a.details.name === 'Dora').details.keyLinked, false);

      // The cut-over is the newest cash-out the old system handled; the poller uses the later of it and the config.
      const payFrom = await effectivePayFrom(ctx.w.db.pool, undefined);
      assert.equal(Date.parse(payFrom!), Date.parse(rep.cutover.fromOldSystem));
      assert.equal(await effectivePayFrom(ctx.w.db.pool, '2020-01-01T00:00:00Z'), payFrom);
      assert.equal(await effectivePayFrom(ctx.w.db.pool, '2099-01-01T00:00:00Z'), '2099-01-01T00:00:00Z');
      // And every cash-out it handled is known to the poller, so none is paid twice even at the cut-over instant.
      const known = await knownLamassuIds(ctx.w.db.pool, [...old.tx, randomUUID()]);
      assert.deepEqual(old.tx.map((id) => known.get(id)), ['imported', 'imported', 'imported']);
      assert.equal(known.size, 3);
    });

    test('a second --apply changes nothing; the report shows the earlier import', async () => {
      const before = await ledgerCounts(ctx.w);
      const balances = (await ctx.w.db.pool.query(`SELECT id, remaining_balance_fiat_minor FROM satoshimachine.clients ORDER BY id`)).rows;
      const r = await runCli(['import', 'satmachineadmin', '--from', from, '--apply', '--json'], ctx.env);
      assert.equal(r.code, 0, r.stderr + r.stdout);
      const rep = r.json();
      assert.ok(rep.clients.every((c: { ledgerState: string; matches: boolean }) => c.ledgerState === 'imported-earlier' && c.matches));
      const afterCounts = await ledgerCounts(ctx.w);
      // Only the import's own ledger reconciliation report is new (reconciliation_reports is not counted above).
      assert.deepEqual(afterCounts, before);
      assert.deepEqual((await ctx.w.db.pool.query(`SELECT id, remaining_balance_fiat_minor FROM satoshimachine.clients ORDER BY id`)).rows, balances);
    });

    test('a wallet restored in LNbits later is linked by the next --apply (and only then; balances untouched)', async () => {
      const { url, superuserToken } = getStack().lnbits;
      const res = await fetch(`${url}/users/api/v1/user/${p.dora.userId}/wallet/${p.dora.id}/undelete`, { method: 'PUT', headers: { Authorization: `Bearer ${superuserToken}` } });
      assert.equal(res.status, 200, await res.text());
      const dry = await runCli(['import', 'satmachineadmin', '--from', from, '--json'], ctx.env);
      assert.equal(dry.code, 0, dry.stderr);
      assert.equal(dry.json().clients.find((c: { name: string }) => c.name === 'Dora').key, 'resolvable (--apply links it)');
      const dora = (await ctx.w.db.pool.query(`SELECT id, status FROM satoshimachine.clients WHERE name = 'Dora'`)).rows[0];
      assert.equal(dora.status, 'paused', 'a dry run links nothing');
      const r = await runCli(['import', 'satmachineadmin', '--from', from, '--apply', '--json'], ctx.env);
      assert.equal(r.code, 0, r.stderr + r.stdout);
      assert.deepEqual(r.json().unlinked, []);
      assert.deepEqual(await getClientInvoiceKey(ctx.w.db.pool, dora.id, KEY), { walletId: p.dora.id, invoiceKey: p.dora.invoiceKey });
      const after = (await ctx.w.db.pool.query(`SELECT status, remaining_balance_fiat_minor::int AS balance FROM satoshimachine.clients WHERE id = $1`, [dora.id])).rows[0];
      assert.deepEqual(after, { status: 'active', balance: EXPECTED_MINOR.Dora });
      const events = (await ctx.w.db.pool.query(`SELECT details FROM satoshimachine.operator_events WHERE action = 'client-key-linked'`)).rows;
      assert.deepEqual(events.map((e) => e.details.clientId), [dora.id]);
      const counts = await ledgerCounts(ctx.w);
      assert.equal((await runCli(['import', 'satmachineadmin', '--from', from, '--apply'], ctx.env)).code, 0);
      assert.deepEqual(await ledgerCounts(ctx.w), counts, 'nothing left to do: nothing changes');
    });

    test('satmachine reconcile (the workflow, run by a worker) is clean after the import', async () => {
      const config = loadConfig({ env: {}, file: null, overrides: ctx.config });
      const { stop } = await startTestWorker({ taskQueue: config.temporal.taskQueue, activities: createReconcileActivities({ config, pool: ctx.w.db.pool, log }) });
      try {
        const r = await runCli(['reconcile', '--lnbits', 'skip', '--json'], ctx.env);
        assert.equal(r.code, 0, r.stdout + r.stderr);
        assert.deepEqual(Object.values(r.json().counts as Record<string, number>).filter((n) => n > 0), []);
      } finally {
        await stop();
      }
    });
  });
}

describe('the poller after an import', () => {
  test('fetches neither cash-outs before the ledger cut-over nor those the old system handled (even at the cut-over instant)', async () => {
    const f = await createIngestionFixture();
    try {
      const confirmedAt = ago(3);
      await f.lamassu.insertCashOut({ confirmed_at: ago(5) });
      const handled = await f.lamassu.insertCashOut({ confirmed_at: confirmedAt });
      const after = await f.lamassu.insertCashOut({ confirmed_at: ago(1) });
      // As the SQLite layout stores it: whole epoch seconds, so the cut-over is at or just before the handled one.
      const cashOut = { id: 'lt1', lamassu_transaction_id: handled, transaction_time: String(Math.floor(confirmedAt.getTime() / 1000)), crypto_amount: null, base_amount_sats: null, commission_amount_sats: null, distributions_total_sats: null, fiat_code: 'GTQ', fiat_amount: null };
      const plan = buildLegacyPlan({ location: 'test', clients: [], deposits: [], payments: [], cashOuts: [cashOut] }, { fiatCode: 'GTQ', fiatDecimals: 2, unit: 'major' });
      await applyLegacyImport(f.ledger.pool, plan, { actor: 'test', encryptionKey: KEY, currency: 'GTQ', keys: new Map() });
      const r = await f.ingestion.activities.fetchNewCashOuts();
      assert.deepEqual(r.rows.map((x) => x.id), [after]);
      assert.equal(r.known, 1, 'the handled one is read (confirmed at/after the cut-over) and recognised as known');
    } finally {
      await f.cleanup();
    }
  });
});

describe('import satmachineadmin refuses what it cannot import exactly', () => {
  test('a deposit in another currency, a deposit of an unknown client, duplicate wallets: blocking, nothing applied (exit 1)', async () => {
    const p = await people();
    const old = oldRows(p, false);
    old.rows.deposits.push({ id: 'dX1', client_id: old.cl.ana, amount: 10, currency: 'USD', status: 'confirmed', created: ago(5), confirmed: ago(5) });
    old.rows.deposits.push({ id: 'dX2', client_id: 'nobody', amount: 10, status: 'confirmed', created: ago(5), confirmed: ago(5) });
    old.rows.clients.push({ id: 'cX', user_id: p.ana.userId, wallet_id: p.ana.id, username: 'Ana again', created: ago(5) });
    const { dataFolder } = await createSqliteExtensionDb(old.rows);
    const ctx = await world('import_blocked');
    try {
      const r = await runCli(['import', 'satmachineadmin', '--from', dataFolder, '--apply', '--json'], ctx.env);
      assert.equal(r.code, 1, r.stderr);
      assert.match(r.stderr, /not applied: 3 blocking inconsistencies/);
      assert.deepEqual(r.json().findings.filter((f: { severity: string }) => f.severity === 'blocking').map((f: { kind: string }) => f.kind).sort(), ['currency-mismatch', 'duplicate-wallet', 'unknown-client']);
      assert.deepEqual(await ledgerCounts(ctx.w), { clients: 0, deposits: 0, log: 0, adjustments: 0, events: 0, cashouts: 0, cutover: 0 });
      // A live WAL next to the file means uncommitted-to-file rows: refused, not half-read.
      writeFileSync(`${dataFolder}/ext_satoshimachine.sqlite3-wal`, 'x');
      const wal = await runCli(['import', 'satmachineadmin', '--from', dataFolder], ctx.env);
      assert.equal(wal.code, 2);
      assert.match(wal.stderr, /-wal is not empty: stop LNbits/);
    } finally {
      await ctx.w.db.drop();
    }
  });
});
