import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { WorkflowNotFoundError, type Client } from '@temporalio/client';
import { Worker } from '@temporalio/worker';
import { cashOutWorkflowId } from '../domain/constants';
import { LamassuTxId } from '../domain/search-attributes';
import { ensurePollerStarted, getPollerStatus, pausePoller, pollNow, resumePoller, type PollerStatus } from '../client/poller';
import { createIngestionFixture, WRONG_FINGERPRINT, type IngestionFixture, type IngestionFixtureOptions } from './support/ingestion-fixture';
import { getStack } from './support/stack';
import { startSshd } from './support/sshd';
import { startTestWorker, testClient, uniqueTaskQueue } from './support/temporal-client';

let client: Client;
let closeClient: () => Promise<void>;
before(async () => ({ client, close: closeClient } = await testClient()));
after(async () => closeClient());

interface RunningPoller {
  f: IngestionFixture;
  workflowId: string;
  status(): Promise<PollerStatus>;
  waitFor(what: string, ok: (s: PollerStatus) => boolean, timeoutMs?: number): Promise<PollerStatus>;
}

/**
 * A poller under a unique workflow id on its own task queue (tests share the namespace), with the
 * ingestion activities of a fresh fixture. Cash-outs go to another queue that no worker serves: the test
 * only checks that they were started, exactly once. Everything is terminated and dropped afterwards.
 */
type IngestionActivities = IngestionFixture['ingestion']['activities'];

async function withPoller(
  fn: (p: RunningPoller) => Promise<void>,
  opts: IngestionFixtureOptions & { pollsPerRun?: number; before?: (f: IngestionFixture) => Promise<void>; activities?: (a: IngestionActivities) => IngestionActivities } = {},
) {
  const cashOutTaskQueue = uniqueTaskQueue('cashout');
  const f = await createIngestionFixture({ ...opts, cashOutTaskQueue, temporalClient: client });
  const taskQueue = uniqueTaskQueue('poller');
  const worker = await startTestWorker({ taskQueue, activities: opts.activities ? opts.activities(f.ingestion.activities) : f.ingestion.activities });
  const workflowId = `lamassu-poller-test-${randomBytes(4).toString('hex')}`;
  const started: string[] = [];
  try {
    await opts.before?.(f);
    const pollerConfig = { ...f.config, temporal: { ...f.config.temporal, taskQueue }, lamassu: { ...f.config.lamassu, pollIntervalSeconds: 3600, pollsPerRun: opts.pollsPerRun ?? 200 } };
    const first = await ensurePollerStarted(client, pollerConfig, { workflowId });
    assert.equal(first.started, true);
    const again = await ensurePollerStarted(client, pollerConfig, { workflowId });
    assert.deepEqual(again, { ...first, started: false }, 'a second ensurePollerStarted uses the running poller');
    const status = () => getPollerStatus(client, { workflowId });
    const waitFor = async (what: string, ok: (s: PollerStatus) => boolean, timeoutMs = 20_000) => {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const s = await status();
        if (ok(s)) return s;
        if (Date.now() > deadline) assert.fail(`timed out waiting for ${what}; status: ${JSON.stringify(s, null, 2)}`);
        await new Promise((r) => setTimeout(r, 100));
      }
    };
    await fn({ f, workflowId, status, waitFor });
  } finally {
    for await (const wf of client.workflow.list({ query: `TaskQueue = "${cashOutTaskQueue}"` })) started.push(wf.workflowId);
    await Promise.all([workflowId, ...started].map((id) => client.workflow.getHandle(id).terminate('test over').catch(() => undefined)));
    await worker.stop();
    await f.cleanup();
  }
}

async function exists(workflowId: string): Promise<boolean> {
  return client.workflow.getHandle(workflowId).describe().then(
    () => true,
    (err: unknown) => (err instanceof WorkflowNotFoundError ? false : Promise.reject(err)),
  );
}

/** Attempts of each fetchNewCashOuts execution in the poller's history (with the last failure's message). */
async function fetchAttempts(workflowId: string): Promise<Array<{ attempt: number; lastFailure?: string }>> {
  const history = await client.workflow.getHandle(workflowId).fetchHistory();
  const fetchIds = new Set(
    history.events!.filter((e) => e.activityTaskScheduledEventAttributes?.activityType?.name === 'fetchNewCashOuts').map((e) => String(e.eventId)),
  );
  return history.events!
    .filter((e) => e.activityTaskStartedEventAttributes && fetchIds.has(String(e.activityTaskStartedEventAttributes.scheduledEventId)))
    .map((e) => ({ attempt: e.activityTaskStartedEventAttributes!.attempt!, lastFailure: e.activityTaskStartedEventAttributes!.lastFailure?.message ?? undefined }));
}

test('one cash-out workflow per new row, with its deterministic id and the row; a second poll over the same rows skips them', () =>
  withPoller(async ({ f, workflowId, waitFor }) => {
    const s1 = await waitFor('first poll', (s) => s.counts.polls >= 1);
    assert.deepEqual({ ...s1.counts, ready: s1.ready, lastError: s1.lastError }, { polls: 1, started: 2, skipped: 0, rejected: 0, ready: true, lastError: null });
    const ids = (await f.lamassu.pool.query<{ id: string }>(`SELECT id::text FROM cash_out_txs ORDER BY confirmed_at`)).rows.map((r) => r.id);
    for (const id of ids) {
      const handle = client.workflow.getHandle(cashOutWorkflowId(id));
      const d = await handle.describe();
      assert.equal(d.type, 'cashOutWorkflow');
      assert.equal(d.taskQueue, f.config.temporal.taskQueue);
      assert.deepEqual(d.typedSearchAttributes.get(LamassuTxId), id);
      const started = (await handle.fetchHistory()).events![0]!.workflowExecutionStartedEventAttributes!;
      const input = JSON.parse(Buffer.from(started.input!.payloads![0]!.data!).toString()) as { row: { id: string; cryptoAtoms: string } };
      assert.deepEqual([input.row.id, input.row.cryptoAtoms], [id, '512400']);
    }

    // The rows are not in the ledger (no cash-out worker recorded them), so the next poll offers them again:
    // Temporal refuses the duplicate ids, nothing new starts, and they are counted as skipped.
    await pollNow(client, { workflowId });
    const s2 = await waitFor('second poll', (s) => s.counts.polls >= 2);
    assert.deepEqual(s2.counts, { polls: 2, started: 2, skipped: 2, rejected: 0 });
    assert.deepEqual(s2.lastPoll, { fetched: 2, known: 0, new: 2, started: 0, skipped: 2, failed: 0, rejected: 0 });
  }, { before: async (f) => void (await Promise.all([f.lamassu.insertCashOut({ confirmed_at: new Date(Date.now() - 60_000) }), f.lamassu.insertCashOut({ crypto_code: 'LN' })])) }));

test('pause through the real temporal CLI stops new starts; pollNow with a limit, resume and pollNow signals start them', () =>
  withPoller(async ({ f, workflowId, status, waitFor }) => {
    await waitFor('first poll', (s) => s.counts.polls >= 1);
    const { address, namespace, cliPath } = getStack().temporal;
    execFileSync(cliPath, ['workflow', 'signal', '--address', address, '--namespace', namespace, '--workflow-id', workflowId, '--name', 'pause'], { stdio: 'pipe' });
    const paused = await waitFor('paused', (s) => s.paused);
    assert.equal(paused.pausedReason, null);

    const id = await f.lamassu.insertCashOut();
    await pollNow(client, { workflowId });
    await new Promise((r) => setTimeout(r, 1_500));
    const still = await status();
    assert.equal(still.counts.polls, 1, 'a paused poller does not poll');
    assert.equal(await exists(cashOutWorkflowId(id)), false, 'nothing starts while paused');

    await pausePoller(client, 'counting the cash box', { workflowId, by: 'operator-ana' });
    const why = await waitFor('pause reason', (s) => s.pausedReason !== null);
    assert.deepEqual([why.pausedReason, why.pausedBy], ['counting the cash box', 'operator-ana']);

    // Gradual restart while paused: pollNow with a limit starts at most that many, oldest first.
    const id2 = await f.lamassu.insertCashOut();
    await pollNow(client, { workflowId, limit: 1 });
    const limited = await waitFor('limited poll', (s) => s.counts.polls >= 2);
    assert.deepEqual([limited.paused, limited.counts.started, limited.lastPoll?.new, limited.lastPoll?.started], [true, 1, 2, 1]);
    assert.equal(limited.lastCompletePollDbTime, still.lastCompletePollDbTime, 'a partial poll does not move the window');
    assert.deepEqual([await exists(cashOutWorkflowId(id)), await exists(cashOutWorkflowId(id2))], [true, false]);

    await resumePoller(client, { workflowId });
    const resumed = await waitFor('poll after resume', (s) => s.counts.polls >= 3);
    assert.equal(resumed.paused, false);
    assert.deepEqual(resumed.counts, { polls: 3, started: 2, skipped: 1, rejected: 0 });
    assert.equal(await exists(cashOutWorkflowId(id2)), true);

    await pollNow(client, { workflowId });
    const again = await waitFor('pollNow', (s) => s.counts.polls >= 4);
    assert.deepEqual(again.counts, { polls: 4, started: 2, skipped: 3, rejected: 0 });

    // The recorded history (signals, queries, polls) replays deterministically against the current code.
    const stack = getStack() as ReturnType<typeof getStack> & { workflowBundlePath?: string };
    const bundle = stack.workflowBundlePath ? { workflowBundle: { codePath: stack.workflowBundlePath } } : { workflowsPath: require.resolve('../workflows') };
    await Worker.runReplayHistory(bundle, await client.workflow.getHandle(workflowId).fetchHistory(), workflowId);
  }));

test('not ready (commission wallet down): starts nothing, says why in its status, raises an alert; starts once ready', () =>
  withPoller(async ({ f, workflowId, waitFor }) => {
    const s = await waitFor('first poll', (x) => x.counts.polls >= 1);
    assert.equal(s.ready, false);
    assert.match(s.notReadyReason!, /^commission-wallet: LNbits transient failure: 503/);
    assert.equal(s.counts.started, 0);
    const alerts = await f.ledger.pool.query(`SELECT dedup_key FROM satoshimachine.alerts WHERE kind = 'poller-not-ready'`);
    assert.deepEqual(alerts.rows, [{ dedup_key: 'poller-not-ready:commission-wallet' }]);

    f.wallet.setUp(true);
    await pollNow(client, { workflowId });
    const ready = await waitFor('poll when ready', (x) => x.counts.polls >= 2);
    assert.deepEqual([ready.ready, ready.notReadyReason, ready.counts.started], [true, null, 1]);
  }, { before: async (f) => (f.wallet.setUp(false), void (await f.lamassu.insertCashOut())) }));

test('the tunnel killed during a poll: the fetch activity throws, Temporal retries it, nothing is skipped', async () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'satm-poller-sshd-'));
  let sshd = await startSshd({ dir });
  let locker: pg.Client | undefined;
  try {
    await withPoller(async ({ f, workflowId, waitFor }) => {
      // The tunnel is killed only once the first poll's fetch is seen waiting for the lock (a fixed delay was
      // too short on a loaded machine: the fetch started after the restart and passed in its first attempt).
      for (const deadline = Date.now() + 60_000; ; await new Promise((r) => setTimeout(r, 100))) {
        const { rows } = await f.lamassu.pool.query(
          `SELECT count(*)::int AS n FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND query ILIKE '%cash_out_txs%' AND pid <> pg_backend_pid()`,
        );
        if (rows[0].n > 0) break;
        if (Date.now() > deadline) throw new Error('the first poll never waited for the lock on cash_out_txs');
      }
      await sshd.stop();
      sshd = await startSshd({ dir, port: sshd.port });
      await locker!.query('ROLLBACK');
      await locker!.end();
      const s = await waitFor('the retried fetch', (x) => x.counts.polls >= 1, 30_000);
      assert.deepEqual([s.counts.started, s.counts.skipped, s.lastError], [2, 0, null]);
      const attempts = await fetchAttempts(workflowId);
      assert.equal(attempts.length, 1);
      assert.ok(attempts[0]!.attempt >= 2, JSON.stringify(attempts));
      assert.match(attempts[0]!.lastFailure!, /SSH tunnel .* closed during the call/);
    }, {
      sshd,
      before: async (f) => {
        await f.lamassu.insertCashOut({ confirmed_at: new Date(Date.now() - 5_000) });
        await f.lamassu.insertCashOut();
        locker = new pg.Client({ connectionString: f.lamassu.url });
        locker.on('error', () => undefined); // dropped with the database if the test fails early
        await locker.connect();
        await locker.query('BEGIN; LOCK TABLE cash_out_txs IN ACCESS EXCLUSIVE MODE');
      },
    });
  } finally {
    await locker?.end().catch(() => undefined);
    await sshd.stop();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a wrong host key: the poller records the error without retrying and starts nothing', () =>
  withPoller(async ({ workflowId, waitFor }) => {
    const s = await waitFor('first poll', (x) => x.counts.polls >= 1);
    assert.match(s.lastError!, /^HostKeyMismatchError: SSH host key mismatch/);
    assert.equal(s.counts.started, 0);
    assert.equal(s.lastSuccessAt, null);
    assert.deepEqual((await fetchAttempts(workflowId)).map((a) => a.attempt), [1]);
  }, { hostKeySha256: WRONG_FINGERPRINT, before: async (f) => void (await f.lamassu.insertCashOut()) }));

test('continue-as-new after pollsPerRun polls carries counters and the window', () =>
  withPoller(async ({ workflowId, waitFor }) => {
    const s1 = await waitFor('first poll', (x) => x.counts.polls >= 1);
    await pollNow(client, { workflowId });
    const s2 = await waitFor('a new run', (x) => x.runId !== s1.runId);
    assert.deepEqual(s2.counts, { polls: 2, started: 1, skipped: 1, rejected: 0 });
    assert.ok(s2.lastCompletePollDbTime);
    assert.equal(s2.pollsThisRun, 0, 'a continued run waits for its interval');
    await pollNow(client, { workflowId });
    const s3 = await waitFor('first poll of the new run', (x) => x.pollsThisRun >= 1);
    assert.deepEqual(s3.counts, { polls: 3, started: 1, skipped: 2, rejected: 0 });
  }, { pollsPerRun: 2, before: async (f) => void (await f.lamassu.insertCashOut()) }));

test('a worker gone during a poll (no answer, no heartbeat): the fetch is retried after its 10 s heartbeat timeout, not its 2-minute startToClose', () => {
  // The first attempt behaves like a SIGKILLed worker: it never answers and never heartbeats.
  let release = () => {};
  const gone = new Promise<never>((_, reject) => (release = () => reject(new Error('test over'))));
  gone.catch(() => undefined);
  let calls = 0;
  return withPoller(async ({ workflowId, waitFor }) => {
    const t0 = Date.now();
    try {
      const s = await waitFor('the poll, retried on a live worker', (x) => x.counts.polls >= 1, 60_000);
      assert.deepEqual([s.counts.started, s.lastError], [1, null]);
      assert.ok(Date.now() - t0 < 45_000, `the poller was held ${Date.now() - t0} ms`);
      const attempts = await fetchAttempts(workflowId);
      assert.deepEqual(attempts.map((a) => a.attempt), [2]);
      assert.match(attempts[0]!.lastFailure!, /Heartbeat timeout/);
    } finally {
      release();
    }
  }, {
    activities: (a) => ({ ...a, fetchNewCashOuts: (input) => (++calls === 1 ? gone : a.fetchNewCashOuts(input)) }),
    before: async (f) => void (await f.lamassu.insertCashOut()),
  });
});

test('a fetch held longer than the heartbeat timeout (Lamassu slow) heartbeats: it ends in its first attempt', async () => {
  let locker: pg.Client | undefined;
  try {
    await withPoller(async ({ workflowId, waitFor }) => {
      await new Promise((r) => setTimeout(r, 12_000)); // the first poll's fetch waits for the lock, > 10 s
      await locker!.query('ROLLBACK');
      const s = await waitFor('the held fetch', (x) => x.counts.polls >= 1, 30_000);
      assert.deepEqual([s.counts.started, s.lastError], [1, null]);
      assert.deepEqual((await fetchAttempts(workflowId)).map((a) => a.attempt), [1]);
    }, {
      before: async (f) => {
        await f.lamassu.insertCashOut();
        locker = new pg.Client({ connectionString: f.lamassu.url });
        locker.on('error', () => undefined);
        await locker.connect();
        await locker.query('BEGIN; LOCK TABLE cash_out_txs IN ACCESS EXCLUSIVE MODE');
      },
    });
  } finally {
    await locker?.end().catch(() => undefined);
  }
});
