/**
 * `satmachine` commands that drive Temporal, against the real stack: poller start/status/pause/resume/poll now,
 * emergency stop/resume (ledger halt + poller pause, audited), status, health, reconcile, connection test,
 * and tx retry / cancel-failed on real cash-out workflows stuck in needs_attention.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import type { Client } from '@temporalio/client';
import { createCashOutActivities } from '../activities/cashout';
import { createHealthActivities } from '../activities/health';
import { createReconcileActivities } from '../activities/reconcile';
import { createLnbitsClient } from '../adapters/lnbits/client';
import { startCashOut } from '../client/cashout';
import { getPollerStatus } from '../client/poller';
import { cashOutWorkflowId } from '../domain/constants';
import { cashOutStatusQuery } from '../workflows/cashout';
import { cashOutRow, createCashOutWorld, fund, type CashOutWorld } from './support/cashout-fixture';
import { createIngestionFixture, log, WRONG_FINGERPRINT, type IngestionFixture } from './support/ingestion-fixture';
import { cliEnvFor, runCli } from './support/cli';
import { startTestWorker, testClient, uniqueTaskQueue } from './support/temporal-client';

let client: Client;
let closeClient: () => Promise<void>;
before(async () => ({ client, close: closeClient } = await testClient()));
after(async () => closeClient());

async function until<T>(what: string, fn: () => Promise<T>, ok: (v: T) => boolean, timeoutMs = 20_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (ok(v)) return v;
    if (Date.now() > deadline) assert.fail(`timed out waiting for ${what}: ${JSON.stringify(v)}`);
    await new Promise((r) => setTimeout(r, 150));
  }
}

describe('poller, emergency, status, health, reconcile', () => {
  let f: IngestionFixture;
  let env: Record<string, string>;
  let stopWorker: () => Promise<void>;
  const workflowId = `lamassu-poller-cli-${randomBytes(4).toString('hex')}`;

  before(async () => {
    f = await createIngestionFixture({ cashOutTaskQueue: uniqueTaskQueue('cli-cashout'), temporalClient: client });
    const taskQueue = uniqueTaskQueue('cli-poller');
    const config = { ...f.config, temporal: { ...f.config.temporal, taskQueue }, lamassu: { ...f.config.lamassu, pollIntervalSeconds: 3600 } };
    const deps = { config, pool: f.ledger.pool, log };
    const activities = { ...f.ingestion.activities, ...createHealthActivities(deps, { temporalClient: client }), ...createReconcileActivities(deps) };
    ({ stop: stopWorker } = await startTestWorker({ taskQueue, activities }));
    env = cliEnvFor(config, { SATMACHINE_POLLER_WORKFLOW_ID: workflowId, SATMACHINE_SCHEDULE_ID_PREFIX: `cli-${randomBytes(3).toString('hex')}-` });
  });
  after(async () => {
    await client.workflow.getHandle(workflowId).terminate('test over').catch(() => undefined);
    await stopWorker?.();
    await f?.cleanup();
  });
  const events = async () => (await f.ledger.pool.query(`SELECT actor, action, details FROM satoshimachine.operator_events ORDER BY id`)).rows;

  test('poller start, status, poll now', async () => {
    assert.equal((await runCli(['poller', 'status'], env)).code, 4, 'not started yet');
    const started = await runCli(['poller', 'start', '--json'], env);
    assert.equal(started.code, 0, started.stderr);
    assert.equal(started.json().started, true);
    assert.equal((await runCli(['poller', 'start', '--json'], env)).json().started, false, 'idempotent');
    const first = await until('first poll', () => getPollerStatus(client, { workflowId }), (s) => s.lastSuccessAt !== null);
    const now = await runCli(['poll', 'now', '--json'], env);
    assert.equal(now.code, 0, now.stderr);
    assert.equal(now.json().requested, true);
    await until('second poll', () => getPollerStatus(client, { workflowId }), (s) => s.counts.polls > first.counts.polls);
    const st = await runCli(['poller', 'status', '--json'], env);
    assert.equal(st.code, 0);
    assert.equal(st.json().execution, 'RUNNING');
    assert.equal(st.json().status.paused, false);
    assert.equal((await runCli(['poll', 'now', '--limit', '0'], env)).code, 2);
  });

  test('emergency stop halts payouts and pauses the poller, recorded with who and why; resume undoes both', async () => {
    const stop = await runCli(['emergency', 'stop', '--reason', 'duplicate suspected', '--actor', 'ana', '--json'], env);
    assert.equal(stop.code, 0, stop.stderr);
    assert.equal(stop.json().payouts.ok, true);
    assert.equal(stop.json().poller.ok, true);
    const control = (await f.ledger.pool.query(`SELECT payouts_halted, halted_reason, halted_by FROM satoshimachine.control`)).rows[0];
    assert.deepEqual(control, { payouts_halted: true, halted_reason: 'duplicate suspected', halted_by: 'ana' });
    const paused = await until('paused', () => getPollerStatus(client, { workflowId }), (s) => s.paused);
    assert.equal(paused.pausedReason, 'duplicate suspected');
    assert.equal(paused.pausedBy, 'ana');
    assert.deepEqual((await events()).map((e) => [e.action, e.actor, e.details.reason]), [['payouts-halted', 'ana', 'duplicate suspected'], ['emergency-stop', 'ana', 'duplicate suspected']]);

    // status shows the stop on one screen.
    const status = await runCli(['status', '--json'], env);
    const s = status.json();
    assert.equal(s.control.value.payoutsHalted, true);
    assert.equal(s.poller.value.status.paused, true);
    assert.equal(s.schedules.ok, true);
    assert.ok(s.schedules.value.every((x: { exists: boolean }) => !x.exists), 'no schedules under this prefix');
    assert.equal(s.cashOuts.ok, true);
    assert.equal(s.alerts.ok, true);
    assert.equal(status.code, s.wallets.value.some((w: { configured: boolean; error?: string }) => w.configured && w.error) ? 3 : 0);
    assert.match((await runCli(['status'], env)).stdout, /== payouts switch\nHALTED since .* by ana: duplicate suspected/);

    const resume = await runCli(['emergency', 'resume', '--reason', 'false alarm', '--actor', 'ana', '--json'], env);
    assert.equal(resume.code, 0, resume.stderr);
    assert.equal((await f.ledger.pool.query(`SELECT payouts_halted FROM satoshimachine.control`)).rows[0].payouts_halted, false);
    await until('resumed', () => getPollerStatus(client, { workflowId }), (x) => !x.paused);
    assert.deepEqual((await events()).slice(-2).map((e) => e.action), ['payouts-resumed', 'emergency-resume']);
  });

  test('poller pause/resume are audited; poll now --limit 1 starts one cash-out while paused; resume --payouts-only', async () => {
    assert.equal((await runCli(['poller', 'pause', '--reason', 'maintenance', '--actor', 'bo'], env)).code, 0);
    const pausedStatus = await until('paused', () => getPollerStatus(client, { workflowId }), (s) => s.paused && s.pausedBy === 'bo');
    // Gradual restart: two new cash-outs in Lamassu, one poll limited to one start, the poller stays paused.
    await f.lamassu.insertCashOut();
    await f.lamassu.insertCashOut();
    const limited = await runCli(['poll', 'now', '--limit', '1', '--actor', 'bo', '--json'], env);
    assert.equal(limited.code, 0, limited.stderr);
    assert.deepEqual([limited.json().limit, limited.json().paused], [1, true]);
    await until('limited poll', () => getPollerStatus(client, { workflowId }), (s) => s.counts.started > pausedStatus.counts.started && !s.pollRequested);
    await new Promise((r) => setTimeout(r, 500));
    const settled = await getPollerStatus(client, { workflowId });
    assert.equal(settled.counts.started - pausedStatus.counts.started, 1, JSON.stringify(settled.lastPoll));
    assert.equal(settled.lastPoll?.new, 2, 'both were fetched; only one was started');
    assert.equal(settled.paused, true);
    assert.equal((await runCli(['emergency', 'stop', '--actor', 'bo'], env)).code, 0);
    assert.equal((await runCli(['emergency', 'resume', '--payouts-only', '--actor', 'bo'], env)).code, 0);
    assert.equal((await f.ledger.pool.query(`SELECT payouts_halted FROM satoshimachine.control`)).rows[0].payouts_halted, false);
    assert.equal((await getPollerStatus(client, { workflowId })).paused, true, '--payouts-only leaves the poller paused');
    assert.equal((await runCli(['poller', 'resume', '--actor', 'bo'], env)).code, 0);
    await until('resumed', () => getPollerStatus(client, { workflowId }), (s) => !s.paused);
    const actions = (await events()).filter((e) => e.actor === 'bo').map((e) => e.action);
    assert.deepEqual(actions, ['poller-paused', 'poll-now-limited', 'payouts-halted', 'emergency-stop', 'payouts-resumed', 'emergency-resume', 'poller-resumed']);
  });

  test('health and reconcile run their workflows now; exit 1 exactly when there are findings', async () => {
    const health = await runCli(['health', '--json'], env);
    assert.ok([0, 1].includes(health.code), health.stderr);
    const h = health.json();
    assert.deepEqual(h.checks.map((c: { name: string }) => c.name).sort(), ['lamassu', 'poller', 'stuck-payouts', 'wallets']);
    assert.equal(h.checks.find((c: { name: string }) => c.name === 'lamassu').ok, true, 'the Lamassu link works in this fixture');
    assert.equal(health.code, h.ok ? 0 : 1);

    const rec = await runCli(['reconcile', '--lnbits', 'skip', '--json'], env);
    assert.ok([0, 1].includes(rec.code), rec.stderr);
    const r = rec.json();
    assert.ok(r.reportId);
    const total = Object.values(r.counts as Record<string, number>).reduce((a, b) => a + b, 0);
    assert.equal(rec.code, total > 0 ? 1 : 0);
    const stored = (await f.ledger.pool.query(`SELECT count(*)::int AS n FROM satoshimachine.reconciliation_reports WHERE finished_at IS NOT NULL`)).rows[0].n;
    assert.equal(stored, 1);
  });

  test('connection test and config check: the pinned host key is checked', async () => {
    const ok = await runCli(['connection', 'test', '--json'], env);
    assert.equal(ok.code, 0, ok.stdout);
    assert.equal(ok.json().ok, true);
    const wrongEnv = cliEnvFor({ ...f.config, lamassu: { ...f.config.lamassu, ssh: { ...f.config.lamassu.ssh!, hostKeySha256: WRONG_FINGERPRINT } } });
    const wrong = await runCli(['connection', 'test'], wrongEnv);
    assert.equal(wrong.code, 1);
    assert.match(wrong.stdout, /FAIL +host-key/);
    const check = await runCli(['config', 'check', '--json'], wrongEnv);
    const hostKey = check.json().checks.find((c: { name: string }) => c.name === 'lamassu.ssh.hostKeySha256');
    assert.equal(hostKey.status, 'fail');
    assert.equal(check.code, 1);
  });
});

describe('tx retry / cancel-failed on cash-outs waiting for the operator', () => {
  let w: CashOutWorld;
  let env: Record<string, string>;
  let stopWorker: () => Promise<void>;

  before(async () => {
    const taskQueue = uniqueTaskQueue('cli-cashout');
    // The source wallet cannot pay: payouts fail and the cash-outs wait in needs_attention.
    w = await createCashOutWorld({ taskQueue, sourceSats: 1_000 });
    const lnbits = createLnbitsClient({ url: w.config.lnbits.url });
    ({ stop: stopWorker } = await startTestWorker({ taskQueue, activities: createCashOutActivities({ config: w.config, pool: w.db.pool, log, lnbits }) }));
    env = cliEnvFor(w.config);
  });
  after(async () => {
    await stopWorker?.();
    await w?.close();
  });

  const waitStatus = (lamassuId: string, status: string) =>
    until(`cash-out ${status}`, () => client.workflow.getHandle(cashOutWorkflowId(lamassuId)).query(cashOutStatusQuery), (s) => s.status === status, 30_000);

  test('retry after funding completes the cash-out; cancel-failed gives the clients their fiat back', async () => {
    const rowA = cashOutRow({ cryptoAtoms: '100000', fiat: '500.00000' });
    const rowB = cashOutRow({ cryptoAtoms: '100000', fiat: '500.00000' });
    assert.equal(await startCashOut(client, w.config, rowA), 'started');
    await waitStatus(rowA.id, 'needs_attention');
    assert.equal(await startCashOut(client, w.config, rowB), 'started');
    await waitStatus(rowB.id, 'needs_attention');
    const balancesBefore = (await w.db.pool.query(`SELECT id, remaining_balance_fiat_minor::int AS b FROM satoshimachine.clients ORDER BY id`)).rows;

    const shown = await runCli(['tx', 'show', rowA.id, '--json'], env);
    assert.equal(shown.code, 0, shown.stderr);
    assert.equal(shown.json().status, 'needs_attention');
    assert.equal(shown.json().workflow.cashOutStatus, 'needs_attention');

    await fund(w.source, 2_000_000);
    const retry = await runCli(['tx', 'retry', rowA.id, '--actor', 'op', '--json'], env);
    assert.equal(retry.code, 0, retry.stderr);
    assert.equal(retry.json().result.accepted, true);
    await waitStatus(rowA.id, 'completed');
    const done = (await runCli(['tx', 'show', rowA.id, '--json'], env)).json();
    assert.equal(done.status, 'completed');
    assert.ok(done.payouts.length > 0 && done.payouts.every((p: { status: string; paymentHash: string | null }) => p.status === 'completed' && p.paymentHash));

    const cancel = await runCli(['tx', 'cancel-failed', rowB.id, '--reason', 'operator decision', '--actor', 'op', '--json'], env);
    assert.equal(cancel.code, 0, cancel.stderr);
    await until('cash-out B closed', () => client.workflow.getHandle(cashOutWorkflowId(rowB.id)).describe(), (d) => d.status.name !== 'RUNNING', 30_000);
    const b = (await runCli(['tx', 'show', rowB.id, '--json'], env)).json();
    assert.ok(b.payouts.every((p: { status: string }) => p.status === 'cancelled'), JSON.stringify(b.payouts));
    // B's debits came back; only A's completed payouts are debited relative to before.
    const after = (await w.db.pool.query(`SELECT id, remaining_balance_fiat_minor::int AS b FROM satoshimachine.clients ORDER BY id`)).rows;
    const debitA = new Map<string, number>(done.payouts.map((p: { clientId: string; fiatDebitMinor: number }) => [p.clientId, p.fiatDebitMinor]));
    for (const r of after) {
      const before = balancesBefore.find((x) => x.id === r.id)!.b;
      assert.ok(r.b === before - (debitA.get(r.id) ?? 0) || r.b === before, `client ${r.id}: ${before} → ${r.b}`);
    }
    const actions = (await w.db.pool.query(`SELECT action FROM satoshimachine.operator_events ORDER BY id`)).rows.map((r) => r.action);
    assert.deepEqual(actions, ['payouts-retried', 'failed-payouts-cancelled']);

    const again = await runCli(['tx', 'retry', rowA.id], env);
    assert.notEqual(again.code, 0, 'nothing to retry on a completed cash-out');
  });
});
