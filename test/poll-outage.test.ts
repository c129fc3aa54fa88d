/**
 * A Lamassu poll outage is alerted by the poller itself within 5 minutes (issue 13; before, only the 2-hourly
 * health check noticed). The real poller workflow with the DEFAULT settings (poll every 60 s, poll-failing after
 * 180 s of failed reads) against an SSH port where nothing listens; then, against the working sshd, the first
 * successful read resolves the alert.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import type { Client } from '@temporalio/client';
import { ensurePollerStarted } from '../client/poller';
import { configSchema } from '../config/schema';
import { createIngestionFixture, type IngestionFixture } from './support/ingestion-fixture';
import { freePort } from './support/ports';
import { getStack } from './support/stack';
import { startTestWorker, testClient, uniqueTaskQueue } from './support/temporal-client';

let client: Client;
let closeClient: () => Promise<void>;
before(async () => ({ client, close: closeClient } = await testClient()));
after(async () => closeClient());

const alerts = async (f: IngestionFixture) =>
  (await f.ledger.pool.query(`SELECT kind, severity, message, resolved_at, created_at FROM satoshimachine.alerts WHERE kind = 'poll-failing' ORDER BY id`)).rows;

test('the defaults alert a poll outage within 5 minutes', () => {
  const d = configSchema.parse({}).alerts;
  const interval = configSchema.parse({}).lamassu.pollIntervalSeconds;
  // The alert fires at the first failed read after pollFailureAlertSeconds: at most one poll interval later.
  assert.ok(d.pollFailureAlertSeconds + interval <= 300, `${d.pollFailureAlertSeconds} s + one ${interval} s poll interval ≤ 5 min`);
});

test('SSH down: the running poller raises poll-failing within 5 minutes; a successful read resolves it', { timeout: 420_000 }, async (t) => {
  const { sshd } = getStack();
  const deadPort = await freePort();
  const f = await createIngestionFixture({ sshd: { ...sshd, port: deadPort } });
  const workflowId = `lamassu-poller-outage-${randomBytes(4).toString('hex')}`;
  const taskQueue = uniqueTaskQueue('poll-outage');
  const { stop } = await startTestWorker({ taskQueue, activities: f.ingestion.activities });
  try {
    const t0 = Date.now();
    // Default poll interval (60 s) and alert threshold (180 s): nothing shortened.
    await ensurePollerStarted(client, { ...f.config, temporal: { ...f.config.temporal, taskQueue } }, { workflowId });
    let rows = await alerts(f);
    while (rows.length === 0 && Date.now() - t0 < 300_000) {
      await new Promise((r) => setTimeout(r, 2_000));
      rows = await alerts(f);
    }
    const after = (Date.now() - t0) / 1000;
    t.diagnostic(`poll-failing raised after ${after.toFixed(0)} s`);
    assert.equal(rows.length, 1, 'poll-failing raised within 5 minutes');
    assert.equal(rows[0].severity, 'high');
    assert.match(rows[0].message, /Lamassu polls failing for \d+ s/);
    assert.ok(after >= 170, 'not before the threshold');
  } finally {
    await client.workflow.getHandle(workflowId).terminate('test over').catch(() => undefined);
    await stop();
  }

  // The link is back (the run's working sshd): the next successful read resolves the alert.
  const ok = await createIngestionFixture({});
  try {
    // Same ledger state as the outage left it: copy the failing period and the alert into this fixture's ledger.
    await ok.ledger.pool.query(`UPDATE satoshimachine.poll_failures SET failing_since = now() - interval '5 minutes', consecutive_failures = 7, last_error = 'ECONNREFUSED'`);
    await ok.ledger.pool.query(
      `INSERT INTO satoshimachine.alerts (severity, kind, dedup_key, message, fingerprint) VALUES ('high', 'poll-failing', 'poll-failing:lamassu', 'Lamassu polls failing', 'poll-failing|high|ECONNREFUSED')`,
    );
    await ok.ingestion.activities.fetchNewCashOuts({});
    const rows = await alerts(ok);
    assert.equal(rows.length, 1);
    assert.ok(rows[0].resolved_at, 'resolved by the successful read');
    const state = (await ok.ledger.pool.query(`SELECT failing_since, consecutive_failures, last_success_at FROM satoshimachine.poll_failures`)).rows[0];
    assert.deepEqual([state.failing_since, state.consecutive_failures], [null, 0]);
    assert.ok(state.last_success_at);
  } finally {
    await ok.cleanup();
    await f.cleanup();
  }
});
