/**
 * Poller histories on the real stack (Lamassu through the run's sshd): paused (with a limited pollNow while
 * paused), the run that continued-as-new, and the new run after it. The cash-outs it starts go to a task
 * queue no worker serves; everything is terminated at the end.
 */
import { randomBytes } from 'node:crypto';
import type { Client } from '@temporalio/client';
import { ensurePollerStarted, getPollerStatus, pausePoller, pollNow, resumePoller } from '../../client/poller';
import { createIngestionFixture } from '../../test/support/ingestion-fixture';
import { startTestWorker, uniqueTaskQueue } from '../../test/support/temporal-client';
import { HistoryRecording, until } from './recording';

export async function recordPoller(rec: HistoryRecording, client: Client): Promise<void> {
  const cashOutTaskQueue = uniqueTaskQueue('record-unserved');
  const f = await createIngestionFixture({ cashOutTaskQueue, temporalClient: client });
  const taskQueue = uniqueTaskQueue('record-poller');
  const worker = await startTestWorker({ taskQueue, activities: f.ingestion.activities });
  const workflowId = `lamassu-poller-record-${randomBytes(4).toString('hex')}`;
  try {
    await f.lamassu.insertCashOut({ confirmed_at: new Date(Date.now() - 60_000) });
    await f.lamassu.insertCashOut();
    const config = { ...f.config, temporal: { ...f.config.temporal, taskQueue }, lamassu: { ...f.config.lamassu, pollIntervalSeconds: 3600, pollsPerRun: 3 } };
    const { runId: firstRunId } = await ensurePollerStarted(client, config, { workflowId });
    const status = () => getPollerStatus(client, { workflowId });
    await until('first poll', async () => ((await status()).counts.polls >= 1 ? true : undefined));

    await pausePoller(client, 'recording', { workflowId, by: 'recorder' });
    await until('paused', async () => ((await status()).paused ? true : undefined));
    await f.lamassu.insertCashOut();
    await f.lamassu.insertCashOut();
    await pollNow(client, { workflowId, limit: 1 }); // the operator's gradual restart while paused
    await until('limited poll', async () => ((await status()).counts.polls >= 2 ? true : undefined));
    await rec.save('poller-paused-open', 'polled, paused, one limited pollNow while paused', workflowId);

    await resumePoller(client, { workflowId, by: 'recorder' }); // polls at once: the third poll ends the run
    const next = await until('continue-as-new', async () => {
      const s = await status();
      return s.runId !== firstRunId ? s : undefined;
    });
    await rec.save('poller-continued-as-new', 'three polls (pollsPerRun 3), resumed, continued as new', workflowId, firstRunId);
    await pollNow(client, { workflowId });
    await until('a poll in the new run', async () => ((await status()).pollsThisRun >= 1 ? true : undefined));
    await rec.save('poller-after-continue-as-new-open', 'the run after continue-as-new: carried state, one poll', workflowId, next.runId);
  } finally {
    const ids = [workflowId];
    for await (const wf of client.workflow.list({ query: `TaskQueue = "${cashOutTaskQueue}"` })) ids.push(wf.workflowId);
    await Promise.all(ids.map((id) => client.workflow.getHandle(id).terminate('recording over').catch(() => undefined)));
    await worker.stop();
    await f.cleanup();
  }
}
