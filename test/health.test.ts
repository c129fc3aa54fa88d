import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import type { Client } from '@temporalio/client';
import { createHealth } from '../activities/health';
import { createLamassuIngestion } from '../activities/lamassu';
import { createSweepActivities } from '../activities/sweep';
import { ensurePollerStarted, getPollerStatus } from '../client/poller';
import { loadConfig, type Config } from '../config';
import { releaseTransactionPayouts } from '../adapters/ledger';
import { createLogger } from '../log/logger';
import { healthWorkflow, stuckPayoutSweepWorkflow } from '../workflows';
import { createLamassuDatabase, type LamassuTestDatabase } from './support/lamassu-db';
import { createLedgerDatabase } from './support/ledger-db';
import { createPaidLedger, paidCashOut, type PaidLedger } from './support/paid-ledger';
import { getStack } from './support/stack';
import { startTestWorker, testClient, uniqueTaskQueue } from './support/temporal-client';

const log = createLogger({ level: process.env.LOG_LEVEL ?? 'silent', name: 'test' });
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

let db: Awaited<ReturnType<typeof createLedgerDatabase>>;
let lamassu: LamassuTestDatabase;
let temporal: { client: Client; close: () => Promise<void> };
let ledger: PaidLedger;
const pollerWorkflowId = `poller-health-${randomBytes(4).toString('hex')}`;
const pollerQueue = uniqueTaskQueue('health-poller');
const stops: Array<() => Promise<void>> = [];

function configFor(taskQueue: string, over: { commissionInvoiceKey?: string; lamassuUrl?: string } = {}): Config {
  const stack = getStack();
  return loadConfig({
    env: {},
    file: null,
    overrides: {
      databaseUrl: db.url,
      temporal: { address: stack.temporal.address, namespace: stack.temporal.namespace, taskQueue },
      lnbits: { url: stack.lnbits.url, source: { adminKey: ledger.source.adminKey }, commission: { invoiceKey: over.commissionInvoiceKey ?? ledger.commission.invoiceKey } },
      lamassu: { mode: 'direct', databaseUrl: over.lamassuUrl ?? lamassu.url, fiatCode: 'GTQ' },
    },
  });
}

/** A worker on `taskQueue` with the health, sweep and (for the poller) Lamassu activities built from `config`. */
async function worker(taskQueue: string, config: Config) {
  const deps = { config, pool: db.pool, log };
  const health = createHealth(deps, { temporalClient: temporal.client });
  const ingestion = createLamassuIngestion(deps, { temporalClient: temporal.client });
  const w = await startTestWorker({ taskQueue, activities: { ...health.activities, ...ingestion.activities, ...createSweepActivities(deps) } });
  stops.push(async () => {
    await w.stop();
    await health.close();
    await ingestion.close();
  });
}

before(async () => {
  db = await createLedgerDatabase('health_test');
  lamassu = await createLamassuDatabase('health_lamassu');
  temporal = await testClient();
  ledger = await createPaidLedger(db.pool, 2);
  // The poller runs with a healthy configuration on its own queue, as in production.
  const config = configFor(pollerQueue);
  await worker(pollerQueue, config);
  await ensurePollerStarted(temporal.client, config, { workflowId: pollerWorkflowId });
});
after(async () => {
  await temporal?.client.workflow.getHandle(pollerWorkflowId).terminate('test done').catch(() => undefined);
  for (const stop of stops.reverse()) await stop();
  await temporal?.close();
  await lamassu?.drop();
  await db?.drop();
});

async function runHealth(config: Config) {
  return temporal.client.workflow.execute(healthWorkflow, {
    taskQueue: config.temporal.taskQueue,
    workflowId: `health-test-${randomBytes(4).toString('hex')}`,
    args: [{ pollerWorkflowId }],
  });
}

describe('health check', () => {
  test('all healthy: a fresh poll, both wallets, Lamassu, no stuck payouts — no alert', async () => {
    for (let i = 0; i < 100; i++) {
      if ((await getPollerStatus(temporal.client, { workflowId: pollerWorkflowId })).lastSuccessAt) break;
      await sleep(100);
    }
    const report = await runHealth(configFor(pollerQueue));
    assert.deepEqual(report.checks.map((c) => [c.name, c.ok]), [['poller', true], ['wallets', true], ['lamassu', true], ['stuck-payouts', true]], JSON.stringify(report.checks));
    assert.equal(report.ok, true);
    assert.deepEqual(report.alertsRaised, []);
    assert.equal(report.pollerPaused, false);
  });

  test('a revoked key pauses the poller (critical); Lamassu down and a payout stuck 3 h alert with their severities', async () => {
    const { rows } = await db.pool.query<{ n: number }>('SELECT count(*)::int AS n FROM satoshimachine.alerts');
    assert.equal(rows[0]!.n, 0);
    const stuck = await paidCashOut(ledger, {}, { pay: false });
    await db.pool.query(`UPDATE satoshimachine.payments SET created_at = now() - interval '3 hours' WHERE transaction_id = $1`, [stuck.tx.id]);

    const queue = uniqueTaskQueue('health-bad');
    // A made-up invoice key: LNbits answers 401/404 exactly as for a revoked key or a deleted wallet.
    const bad = configFor(queue, { commissionInvoiceKey: randomBytes(16).toString('hex'), lamassuUrl: `${lamassu.url.replace(/\/[^/]*$/, '')}/no_such_database` });
    await worker(queue, bad);
    const report = await runHealth(bad);
    assert.equal(report.ok, false);
    assert.equal(report.pollerPaused, true);
    const problems = report.checks.flatMap((c) => c.problems).map((p) => [p.kind, p.severity, p.subject]);
    assert.deepEqual(problems, [
      ['wallet-key-rejected', 'critical', 'commission.invoiceKey'],
      ['lamassu-unreachable', 'medium', 'lamassu:database'],
      ['payout-stuck-long', 'critical', 'payouts'],
    ]);
    const status = await getPollerStatus(temporal.client, { workflowId: pollerWorkflowId });
    assert.equal(status.paused, true);
    assert.equal(status.pausedReason, 'health: LNbits commission.invoiceKey key rejected');
    assert.equal(status.pausedBy, 'health-check');
    const alerts = await db.pool.query(`SELECT kind, severity FROM satoshimachine.alerts WHERE dedup_key LIKE 'health:%' ORDER BY id`);
    assert.deepEqual(alerts.rows, [
      { kind: 'wallet-key-rejected', severity: 'critical' },
      { kind: 'lamassu-unreachable', severity: 'medium' },
      { kind: 'payout-stuck-long', severity: 'critical' },
    ]);
    const detail = JSON.stringify(report);
    assert.ok(!detail.includes(bad.lnbits.commission.invoiceKey!) && !detail.includes(ledger.source.adminKey), 'no key in the report');

    // Again: still paused (health never resumes it), no duplicate alerts within the quiet period.
    const again = await runHealth(bad);
    assert.deepEqual(again.alertsRaised, []);
    assert.equal((await getPollerStatus(temporal.client, { workflowId: pollerWorkflowId })).paused, true);
    await releaseTransactionPayouts(db.pool, stuck.tx.id, 'test: compensated');
  });
});

describe('stuck-payout sweep', () => {
  test('one alert per payout not completed after 15 minutes, once per quiet period', async () => {
    const old = await paidCashOut(ledger, {}, { pay: false });
    const fresh = await paidCashOut(ledger, {}, { pay: false });
    await db.pool.query(`UPDATE satoshimachine.payments SET created_at = now() - interval '20 minutes' WHERE transaction_id = $1`, [old.tx.id]);
    const oldClient = old.payments.find((p) => p.kind === 'client')!;
    await db.pool.query(`UPDATE satoshimachine.payments SET status = 'failed', last_error = 'LNbits timeout' WHERE id = $1`, [oldClient.id]);

    const run = () => temporal.client.workflow.execute(stuckPayoutSweepWorkflow, { taskQueue: pollerQueue, workflowId: `sweep-test-${randomBytes(4).toString('hex')}` });
    const first = await run();
    const expected = old.payments.map((p) => p.id).sort();
    assert.deepEqual([...first.paymentIds].sort(), expected);
    assert.equal(first.stuck, old.payments.length);
    assert.equal(first.alerted, old.payments.length);
    const keys = await db.pool.query(`SELECT dedup_key, severity FROM satoshimachine.alerts WHERE kind = 'payout-stuck' ORDER BY dedup_key`);
    assert.deepEqual(keys.rows, expected.map((id) => ({ dedup_key: `payout-stuck:${id}`, severity: 'critical' })));
    assert.ok(!first.paymentIds.some((id) => fresh.payments.some((p) => p.id === id)), 'a 1-minute-old payout is not stuck');

    const second = await run();
    assert.equal(second.stuck, old.payments.length);
    assert.equal(second.alerted, 0);
  });
});
