import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import type { Client } from '@temporalio/client';
import { defineSearchAttributeKey, SearchAttributeType } from '@temporalio/common';
import { createHealth } from '../activities/health';
import { createLamassuIngestion } from '../activities/lamassu';
import { createReconcileActivities } from '../activities/reconcile';
import { createSweepActivities } from '../activities/sweep';
import { runSetup } from '../client/setup';
import { loadConfig, type Config } from '../config';
import { SCHEDULE_IDS } from '../domain/constants';
import { createLogger } from '../log/logger';
import { createLamassuDatabase, type LamassuTestDatabase } from './support/lamassu-db';
import { createLedgerDatabase } from './support/ledger-db';
import { createPaidLedger, paidCashOut } from './support/paid-ledger';
import { getStack } from './support/stack';
import { startTestWorker, testClient, uniqueTaskQueue } from './support/temporal-client';

/** Temporal's own attribute on every workflow a schedule starts. */
const scheduledById = defineSearchAttributeKey('TemporalScheduledById', SearchAttributeType.KEYWORD);
const log = createLogger({ level: process.env.LOG_LEVEL ?? 'silent', name: 'test' });
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
// Test files share one dev server: every schedule id and the poller id carry this run's prefix.
const prefix = `t${randomBytes(4).toString('hex')}-`;
const pollerWorkflowId = `${prefix}lamassu-poller`;

let db: Awaited<ReturnType<typeof createLedgerDatabase>>;
let lamassu: LamassuTestDatabase;
let temporal: { client: Client; close: () => Promise<void> };
let config: Config;
const stops: Array<() => Promise<void>> = [];

before(async () => {
  db = await createLedgerDatabase('schedules_test');
  lamassu = await createLamassuDatabase('schedules_lamassu');
  temporal = await testClient();
  const ledger = await createPaidLedger(db.pool, 2);
  await paidCashOut(ledger);
  const stack = getStack();
  config = loadConfig({
    env: {},
    file: null,
    overrides: {
      databaseUrl: db.url,
      temporal: { address: stack.temporal.address, namespace: stack.temporal.namespace, taskQueue: uniqueTaskQueue('schedules') },
      lnbits: { url: stack.lnbits.url, source: { adminKey: ledger.source.adminKey }, commission: { invoiceKey: ledger.commission.invoiceKey } },
      lamassu: { mode: 'direct', databaseUrl: lamassu.url, fiatCode: 'GTQ' },
    },
  });
  const deps = { config, pool: db.pool, log };
  const health = createHealth(deps, { temporalClient: temporal.client });
  const ingestion = createLamassuIngestion(deps, { temporalClient: temporal.client });
  const activities = { ...ingestion.activities, ...createReconcileActivities(deps), ...health.activities, ...createSweepActivities(deps) };
  const w = await startTestWorker({ taskQueue: config.temporal.taskQueue, activities });
  stops.push(async () => {
    await w.stop();
    await health.close();
    await ingestion.close();
  });
});
after(async () => {
  for await (const s of temporal.client.schedule.list()) {
    if (s.scheduleId.startsWith(prefix)) await temporal.client.schedule.getHandle(s.scheduleId).delete();
  }
  await temporal.client.workflow.getHandle(pollerWorkflowId).terminate('test done').catch(() => undefined);
  for (const stop of stops.reverse()) await stop();
  await temporal?.close();
  await lamassu?.drop();
  await db?.drop();
});

async function ourSchedules(): Promise<string[]> {
  const ids: string[] = [];
  for await (const s of temporal.client.schedule.list()) if (s.scheduleId.startsWith(prefix)) ids.push(s.scheduleId);
  return ids.sort();
}

test('setup twice leaves one schedule of each; `temporal schedule trigger` runs each to completion', async () => {
  const opts = { client: temporal.client, scheduleIdPrefix: prefix, pollerWorkflowId };
  const first = await runSetup(config, log, opts);
  assert.deepEqual(first.schedules.map((s) => s.outcome), ['created', 'created', 'created', 'created']);
  assert.equal(first.poller.outcome, 'started');
  assert.equal(first.migrations.outcome, 'unchanged'); // the test ledger was migrated already
  assert.equal(first.searchAttributes.outcome, 'unchanged'); // the dev server has them from temporal-dev.yaml

  const second = await runSetup(config, log, opts);
  assert.deepEqual(second.schedules.map((s) => s.outcome), ['updated', 'updated', 'updated', 'updated']);
  assert.equal(second.poller.outcome, 'running');
  assert.equal(second.poller.runId, first.poller.runId);

  const expectedIds = Object.values(SCHEDULE_IDS).map((id) => `${prefix}${id}`).sort();
  // Schedule listing is eventually consistent (visibility).
  let ids: string[] = [];
  for (let i = 0; i < 50 && ids.length < expectedIds.length; i++) {
    ids = await ourSchedules();
    if (ids.length < expectedIds.length) await sleep(200);
  }
  assert.deepEqual(ids, expectedIds);

  const rec = await temporal.client.schedule.getHandle(`${prefix}${SCHEDULE_IDS.reconciliation}`).describe();
  assert.equal(rec.policies.overlap, 'SKIP');
  assert.equal(rec.policies.catchupWindow, 600_000);
  assert.deepEqual(rec.spec.calendars?.[0] && { hour: rec.spec.calendars[0].hour, minute: rec.spec.calendars[0].minute }, { hour: [{ start: 0, end: 0, step: 1 }], minute: [{ start: 0, end: 0, step: 1 }] });
  // Issue 13: a light reconciliation every hour at :30 (LNbits checks for recent payouts only).
  const hourly = await temporal.client.schedule.getHandle(`${prefix}${SCHEDULE_IDS.hourlyReconciliation}`).describe();
  assert.deepEqual(hourly.spec.calendars?.[0]?.minute, [{ start: 30, end: 30, step: 1 }]);
  assert.deepEqual(hourly.action.type === 'startWorkflow' ? hourly.action.args : null, [{ lnbits: 'recent' }]);
  const health = await temporal.client.schedule.getHandle(`${prefix}${SCHEDULE_IDS.health}`).describe();
  assert.equal(health.spec.intervals?.[0]?.every, 2 * 3_600_000);
  const sweep = await temporal.client.schedule.getHandle(`${prefix}${SCHEDULE_IDS.stuckPayoutSweep}`).describe();
  assert.equal(sweep.spec.intervals?.[0]?.every, 15 * 60_000);

  const { address, namespace, cliPath } = getStack().temporal;
  for (const scheduleId of expectedIds) {
    execFileSync(cliPath, ['schedule', 'trigger', '--schedule-id', scheduleId, '--address', address, '--namespace', namespace], { encoding: 'utf8' });
    let workflowId: string | undefined;
    for (let i = 0; i < 100 && !workflowId; i++) {
      const d = await temporal.client.schedule.getHandle(scheduleId).describe();
      workflowId = d.info.recentActions[0]?.action.workflow.workflowId;
      if (!workflowId) await sleep(100);
    }
    assert.ok(workflowId, `${scheduleId} started a workflow`);
    const handle = temporal.client.workflow.getHandle(workflowId);
    await handle.result();
    const d = await handle.describe();
    assert.equal(d.status.name, 'COMPLETED', scheduleId);
    assert.equal(d.typedSearchAttributes.get(scheduledById), scheduleId);
  }
  const reports = await db.pool.query('SELECT count(*)::int AS n FROM satoshimachine.reconciliation_reports WHERE finished_at IS NOT NULL');
  assert.equal(reports.rows[0].n, 2, 'the daily and the hourly reconciliation');
});
