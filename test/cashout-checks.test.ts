/**
 * Issue 12 on the real stack (Temporal, PostgreSQL, LNbits, a simulated lamassu-server v10.0.3 database):
 * only cash-outs that are real (re-read from Lamassu) and plausible are paid; the others move 0 sats and
 * are rejected or held with a critical alert; a held one is paid only after `satmachine tx approve`.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import type { Client } from '@temporalio/client';
import { createCashOutActivities } from '../activities/cashout';
import { createLamassuIngestion } from '../activities/lamassu';
import { createLamassuConnection } from '../adapters/lamassu/connection';
import { startCashOut } from '../client/cashout';
import { cashOutWorkflowId } from '../domain/constants';
import { LedgerStateError } from '../domain/errors';
import { toRawRow, type LamassuCashOut } from '../domain/lamassu-row';
import { CashOutStatus } from '../domain/search-attributes';
import { createLogger } from '../log/logger';
import type { CashOutResult } from '../workflows/cashout';
import { cliEnvFor, runCli } from './support/cli';
import { cashOutRow, ledgerTransaction, untilState, walletSats, withCashOutWorld, type CashOutWorld } from './support/cashout-fixture';
import { startTestWorker } from './support/temporal-client';
import { createLedgerDatabase } from './support/ledger-db';
import { createSweepActivities } from '../activities/sweep';
import { configSchema } from '../config/schema';

const log = createLogger({ level: process.env.LOG_LEVEL ?? 'silent', name: 'cashout-checks' });
const minutesFromNow = (m: number) => new Date(Date.now() + m * 60_000).toISOString();

/** 200 GTQ at 826 091.28 GTQ/BTC less 5.5 %: the machine asks 25 600 sats (100-sat steps). */
const small = (over: Partial<LamassuCashOut> = {}) => cashOutRow({ cryptoAtoms: '25600', receivedCryptoAtoms: '25600', fiat: '200.00000', ...over });

/** Writes the cash-out into the world's simulated Lamassu table exactly as the input carries it. */
async function inLamassu(w: CashOutWorld, row: LamassuCashOut, extra: Record<string, unknown> = {}): Promise<LamassuCashOut> {
  const raw: Record<string, unknown> = { ...toRawRow(row), to_address: 'bc1qsim', tx_version: 4, ...extra };
  if (raw.fixed_fee === null) delete raw.fixed_fee;
  const names = Object.keys(raw);
  await w.lamassu!.pool.query(`INSERT INTO cash_out_txs (${names.join(', ')}) VALUES (${names.map((_, i) => `$${i + 1}`).join(', ')})`, Object.values(raw));
  return row;
}

async function run(client: Client, w: CashOutWorld, row: LamassuCashOut): Promise<CashOutResult> {
  await startCashOut(client, w.config, row);
  return (await client.workflow.getHandle(cashOutWorkflowId(row.id)).result()) as CashOutResult;
}

const alertsOf = async (w: CashOutWorld, kind: string) =>
  (await w.db.pool.query(`SELECT severity, dedup_key, message FROM satoshimachine.alerts WHERE kind = $1 ORDER BY id`, [kind])).rows as Array<{ severity: string; dedup_key: string; message: string }>;

const paymentsOf = async (w: CashOutWorld, lamassuId: string) => (await ledgerTransaction(w.db.pool, lamassuId))?.payments ?? [];

/** Sats the clients' wallets hold in all. */
const clientSats = async (w: CashOutWorld) => (await Promise.all(w.clients.map((c) => walletSats(c.wallet)))).reduce((a, b) => a + b, 0);

test('forged, changed and unfinished inputs and a 3 MB device_id move 0 sats (rejected + alert); the good rows around them are paid', async () => {
  await withCashOutWorld({ taskQueuePrefix: 'checks-real', lamassu: true }, async ({ world: w, client }) => {
    // The poller's path: fetch from Lamassu (the 3 MB row is rejected there), start the rest.
    // Confirmed after the world's deposits (balances are taken as of confirmed_at), in this order.
    const tick = () => new Promise((r) => setTimeout(r, 20));
    const good1 = await inLamassu(w, small({ confirmedAt: new Date().toISOString() }));
    await tick();
    const poison = await inLamassu(w, small({ deviceId: 'd'.repeat(3_000_000), confirmedAt: new Date().toISOString() }));
    await tick();
    const good2 = await inLamassu(w, small({ confirmedAt: new Date().toISOString() }));
    const ingestion = createLamassuIngestion({ config: w.config, pool: w.db.pool, log }, { temporalClient: client });
    try {
      const fetched = await ingestion.activities.fetchNewCashOuts();
      assert.deepEqual(fetched.rows.map((r) => r.id), [good1.id, good2.id]);
      // A row that cannot be started at all (here: over Temporal's payload limit) is rejected, alerted
      // once, and does not stop the others (in production the row schema's limits catch it earlier).
      const unstartable = small({ deviceId: 'u'.repeat(3_000_000) });
      const started = await ingestion.activities.startCashOutWorkflows({ rows: [fetched.rows[0]!, unstartable, fetched.rows[1]!] });
      assert.deepEqual(started.started, [good1.id, good2.id]);
      assert.deepEqual(started.rejected?.map((r) => r.id), [unstartable.id], JSON.stringify({ ...started, failed: started.failed.map((f) => ({ ...f, error: f.error.slice(0, 300) })) }));
      assert.deepEqual(started.failed, []);
      const rej = await w.db.pool.query(`SELECT status, rejected_field FROM satoshimachine.lamassu_transactions WHERE lamassu_id = $1`, [unstartable.id]);
      assert.deepEqual(rej.rows, [{ status: 'rejected', rejected_field: '(workflow start)' }]);
      assert.equal((await alertsOf(w, 'row-rejected')).filter((a) => a.dedup_key === `row-rejected:${unstartable.id}`).length, 1);
    } finally {
      await ingestion.close();
    }
    for (const r of [good1, good2]) assert.equal((await client.workflow.getHandle(cashOutWorkflowId(r.id)).result() as CashOutResult).status, 'completed');
    const paidToClients = await clientSats(w);
    assert.ok(paidToClients > 0);
    assert.equal((await ledgerTransaction(w.db.pool, poison.id))!.status, 'rejected');
    assert.equal((await paymentsOf(w, poison.id)).length, 0);

    // Forged: an id Lamassu does not have, 5 000 000 sats for 1 GTQ.
    const forged = cashOutRow({ cryptoAtoms: '5000000', fiat: '1.00000' });
    // Changed after polling: the operator cancelled it in Lamassu.
    const cancelled = await inLamassu(w, small());
    await w.lamassu!.pool.query(`UPDATE cash_out_txs SET error = 'Operator cancel', error_code = 'operatorCancel', tx_version = tx_version + 1 WHERE id = $1`, [cancelled.id]);
    // Claims more sats than Lamassu says.
    const inflated = await inLamassu(w, small());
    // Fiat with more decimals than GTQ has.
    const decimals = await inLamassu(w, small({ fiat: '200.12300' }));
    const cases: Array<[LamassuCashOut, RegExp]> = [
      [forged, /is not in Lamassu/],
      [cancelled, /not final in Lamassu \(error/],
      [{ ...inflated, cryptoAtoms: '2560000', receivedCryptoAtoms: '2560000' }, /differs from Lamassu in cryptoAtoms/],
      [decimals, /fiat: expected at most 2 decimals/],
    ];
    for (const [row, reason] of cases) {
      const r = await run(client, w, row);
      assert.equal(r.status, 'rejected', row.id);
      const tx = (await ledgerTransaction(w.db.pool, row.id))!;
      assert.equal(tx.status, 'rejected');
      assert.equal(tx.payments.length, 0, '0 sats moved');
      const { rows } = await w.db.pool.query(`SELECT error FROM satoshimachine.lamassu_transactions WHERE lamassu_id = $1`, [row.id]);
      assert.match(rows[0].error, reason);
    }
    const refused = await alertsOf(w, 'cashout-refused');
    assert.equal(refused.length, cases.length);
    assert.ok(refused.every((a) => a.severity === 'critical'));
    assert.equal(await clientSats(w), paidToClients, 'no client received anything more');
  });
});

test('implausible cash-outs are HELD (critical alert, CashOutStatus held, 0 sats); `tx approve` pays one, `tx reject` never pays', async () => {
  await withCashOutWorld({ taskQueuePrefix: 'checks-hold', lamassu: true, overrides: { commissionModel: 'lamassu-ticker' } }, async ({ world: w, client }) => {
    const env = cliEnvFor(w.config);
    // Lamassu's 100-sat rounding under lamassu-ticker (0 % effective commission): paid, never a throw.
    const rounded = await inLamassu(w, cashOutRow({ cryptoAtoms: '24200', receivedCryptoAtoms: '24200', fiat: '200.00000', discount: 100 }));
    assert.equal((await run(client, w, rounded)).status, 'completed');
    const rt = (await ledgerTransaction(w.db.pool, rounded.id))!;
    assert.deepEqual([rt.base_sats, rt.commission_sats], [24200, 0]);
    assert.equal((await alertsOf(w, 'commission-capped')).length, 1, 'paid, with an alert');

    const held: Array<[string, LamassuCashOut, RegExp]> = [
      ['price', await inLamassu(w, cashOutRow({ cryptoAtoms: '9000000', receivedCryptoAtoms: '9000000', fiat: '1.00000' })), /price: 9000000 sats for 1 GTQ is outside ±10 %/],
      ['received', await inLamassu(w, small({ receivedCryptoAtoms: '0' })), /received_crypto_atoms 0 does not cover crypto_atoms 25600/],
      ['future', await inLamassu(w, small({ confirmedAt: minutesFromNow(60) })), /is in the future/],
      ['cap', await inLamassu(w, cashOutRow({ cryptoAtoms: '1000', receivedCryptoAtoms: '1000', fiat: '90000.00000' })), /exceeds the per-cash-out cap of 20000/],
      // −5 %: the machine asked 23 100 sats for 200 GTQ; the commission wallet would owe the clients.
      ['negative', await inLamassu(w, small({ cryptoAtoms: '23100', receivedCryptoAtoms: '23100', commissionPercentage: '-0.05000' })), /negative commission \(-0.05\): the commission wallet would owe the clients \d+ sats/],
    ];
    const sourceBefore = await walletSats(w.source);
    for (const [name, row, reason] of held) {
      await startCashOut(client, w.config, row);
      const s = await untilState(client, cashOutWorkflowId(row.id), (x) => x.status === 'held' && x.step === 'wait-operator', `${name} held`);
      assert.match(s.lastError ?? '', reason, name);
      const tx = (await ledgerTransaction(w.db.pool, row.id))!;
      assert.equal(tx.status, 'held', name);
      assert.equal(tx.payments.length, 0, `${name}: 0 sats moved`);
      const d = await client.workflow.getHandle(cashOutWorkflowId(row.id)).describe();
      assert.equal(d.typedSearchAttributes.get(CashOutStatus), 'held');
    }
    const alerts = await alertsOf(w, 'cashout-held');
    assert.equal(alerts.length, held.length);
    assert.ok(alerts.every((a) => a.severity === 'critical' && /satmachine tx approve/.test(a.message)));
    assert.equal(await walletSats(w.source), sourceBefore, 'nothing left the source wallet');
    assert.match((await runCli(['status'], env)).stdout, /HELD/);

    // A reason is required; approve pays the received-0 one (checked in Lamassu by the operator).
    const received = held[1]![1];
    assert.notEqual((await runCli(['tx', 'approve', received.id], env)).code, 0);
    const approved = await runCli(['tx', 'approve', received.id, '--reason', 'seen paid on-chain', '--actor', 'ops', '--json'], env);
    assert.equal(approved.code, 0, approved.stderr);
    assert.equal((await client.workflow.getHandle(cashOutWorkflowId(received.id)).result() as CashOutResult).status, 'completed');
    const paid = (await ledgerTransaction(w.db.pool, received.id))!;
    assert.equal(paid.status, 'completed');
    assert.ok(paid.payments.length > 0 && paid.payments.every((p) => p.status === 'completed'));

    // Reject closes the others: never paid, even when asked to approve afterwards.
    for (const [name, row] of held.filter(([n]) => n !== 'received')) {
      const r = await runCli(['tx', 'reject', row.id, '--reason', `implausible: ${name}`, '--actor', 'ops'], env);
      assert.equal(r.code, 0, r.stderr);
      assert.equal((await client.workflow.getHandle(cashOutWorkflowId(row.id)).result() as CashOutResult).status, 'rejected');
      const tx = (await ledgerTransaction(w.db.pool, row.id))!;
      assert.equal(tx.status, 'rejected');
      assert.equal(tx.payments.length, 0, `${name}: never paid`);
      assert.notEqual((await runCli(['tx', 'approve', row.id, '--reason', 'changed my mind'], env)).code, 0);
    }
    const events = await w.db.pool.query(`SELECT actor, action, details->>'reason' AS reason FROM satoshimachine.operator_events WHERE action LIKE 'held-cashout-%' ORDER BY id`);
    assert.deepEqual(events.rows.map((e) => e.action), ['held-cashout-approved', 'held-cashout-rejected', 'held-cashout-rejected', 'held-cashout-rejected', 'held-cashout-rejected']);
    assert.ok(events.rows.every((e) => e.actor === 'ops' && e.reason));
  });
});

test('fixed_fee (newer Lamassu servers): its share of crypto_atoms is operator revenue', async () => {
  await withCashOutWorld({ taskQueuePrefix: 'checks-fee', lamassu: { fixedFee: true } }, async ({ world: w, client }) => {
    // 200 GTQ + a 2 GTQ fee: the machine asked 25 900 sats; the fee's share ROUND(25900 × 2 / 202) = 256.
    const row = await inLamassu(w, small({ cryptoAtoms: '25900', receivedCryptoAtoms: '25900', fixedFee: '2.00000' }));
    assert.equal((await run(client, w, row)).status, 'completed');
    const { rows } = await w.db.pool.query(`SELECT fixed_fee_sats::int AS fee, base_sats::int AS base, commission_sats::int AS commission FROM satoshimachine.lamassu_transactions WHERE lamassu_id = $1`, [row.id]);
    assert.deepEqual(rows[0], { fee: 256, base: 24307, commission: 1593 });
    assert.equal(await walletSats(w.commission), 1593);
  });
});

test('a failure before the payout stage leaves the row needs_attention with a critical alert (never processing in silence)', async () => {
  await withCashOutWorld({ taskQueuePrefix: 'checks-fail', lamassu: true, worker: false }, async ({ world: w, client }) => {
    const conn = createLamassuConnection(w.config.lamassu, log);
    const real = createCashOutActivities({ config: w.config, pool: w.db.pool, log }, { lamassu: () => conn });
    // A fault the real ledger cannot be made to produce on demand, wrapping the real activities.
    const activities = { ...real, allocateCashOut: async () => Promise.reject(new LedgerStateError('balances unreadable (injected)', 'balances')) };
    const worker = await startTestWorker({ taskQueue: w.taskQueue, activities });
    try {
      const row = await inLamassu(w, small());
      await startCashOut(client, w.config, row);
      await assert.rejects(client.workflow.getHandle(cashOutWorkflowId(row.id)).result());
      const { rows } = await w.db.pool.query(`SELECT status, error FROM satoshimachine.lamassu_transactions WHERE lamassu_id = $1`, [row.id]);
      assert.equal(rows[0].status, 'needs_attention');
      assert.match(rows[0].error, /LedgerStateError: balances: balances unreadable/);
      const alerts = await alertsOf(w, 'cashout-failed');
      assert.equal(alerts.length, 1);
      assert.equal(alerts[0]!.severity, 'critical');
      const d = await client.workflow.getHandle(cashOutWorkflowId(row.id)).describe();
      assert.equal(d.typedSearchAttributes.get(CashOutStatus), 'needs_attention');
      assert.equal((await paymentsOf(w, row.id)).length, 0);
    } finally {
      await worker.stop();
      await conn.close();
    }
  });
});

test('the row id of a forged input that is not even a uuid: refused before anything is recorded', async () => {
  await withCashOutWorld({ taskQueuePrefix: 'checks-nouuid', lamassu: true }, async ({ world: w, client }) => {
    const row = cashOutRow({ id: `not-a-uuid-${randomUUID()}` });
    const r = await run(client, w, row);
    assert.equal(r.status, 'rejected');
    const rej = await w.db.pool.query(`SELECT field FROM satoshimachine.lamassu_rejected_rows WHERE raw_id = $1`, [row.id]);
    assert.deepEqual(rej.rows, [{ field: 'id' }]);
    assert.equal((await alertsOf(w, 'cashout-refused')).length, 1);
  });
});

test('the stuck sweep reports transactions too: processing without payouts, held or needs_attention for too long', async () => {
  const db = await createLedgerDatabase('checks_sweep');
  try {
    const config = configSchema.parse({ databaseUrl: db.url });
    const insert = (status: string, minutesAgo: number) =>
      db.pool.query(
        `INSERT INTO satoshimachine.lamassu_transactions (lamassu_id, device_id, crypto_atoms, crypto_code, fiat, fiat_code, lamassu_status, created, confirmed_at, status, error, updated_at)
         VALUES (gen_random_uuid(), 'atm', 25600, 'BTC', 200, 'GTQ', 'confirmed', now(), now(), $1, $2, now() - make_interval(mins => $3::int)) RETURNING id::text`,
        [status, status === 'processing' ? null : 'why', minutesAgo],
      );
    const stuck = (await insert('processing', 20)).rows[0].id as string;
    const held = (await insert('held', 3 * 60)).rows[0].id as string;
    await insert('processing', 1); // young: a running cash-out
    await insert('held', 30); // held, not for long yet
    await insert('completed', 600);
    const r = await createSweepActivities({ config, pool: db.pool, log }).sweepStuckPayouts({});
    assert.deepEqual([...(r.transactionIds ?? [])].sort(), [stuck, held].sort());
    const alerts = await db.pool.query(`SELECT severity, details->>'transactionId' AS id FROM satoshimachine.alerts WHERE kind = 'transaction-stuck' ORDER BY severity`);
    assert.deepEqual(alerts.rows.map((a) => a.id).sort(), [stuck, held].sort());
    assert.equal(alerts.rows.find((a) => a.id === stuck)!.severity, 'critical');
  } finally {
    await db.drop();
  }
});
