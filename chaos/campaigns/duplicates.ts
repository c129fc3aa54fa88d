/**
 * Campaign 5: duplicates. Three worker processes on one task queue, a second poller on the same Lamassu
 * database, poll storms (many pollNow signals at once to both pollers), rows seen again (Lamassu moves a paid
 * row's confirmed_at forward, so every poll reads it again), and cash-out workflows reset (to a random earlier
 * workflow task) or terminated mid-payout, each followed by a new poll.
 */
import { randomUUID } from 'node:crypto';
import type { Client } from '@temporalio/client';
import { ensurePollerStarted, pollNow } from '../../client/poller';
import { cashOutWorkflowId, POLLER_WORKFLOW_ID } from '../../domain/constants';
import { sleep } from '../../test/support/process-group';
import { onStack, type CampaignContext, type StackRun } from '../campaign';
import type { ChaosStack } from '../stack';
import { between, insertRows, statuses } from '../workload';

const SECOND_POLLER = 'lamassu-poller-chaos-2';

async function storm(client: Client, n: number): Promise<number> {
  const sent = await Promise.allSettled(Array.from({ length: n }, (_, i) => pollNow(client, { workflowId: i % 2 ? SECOND_POLLER : POLLER_WORKFLOW_ID })));
  return sent.filter((s) => s.status === 'fulfilled').length;
}

/** Resets a cash-out workflow to a random workflow task it completed (a new run replays from there). */
async function resetWorkflow(stack: ChaosStack, lamassuId: string): Promise<boolean> {
  const handle = stack.client.workflow.getHandle(cashOutWorkflowId(lamassuId));
  try {
    const desc = await handle.describe();
    const history = await handle.fetchHistory();
    const points = (history.events ?? []).filter((e) => e.workflowTaskCompletedEventAttributes).map((e) => Number(e.eventId));
    if (!points.length) return false;
    type ResetRequest = Parameters<typeof stack.client.workflowService.resetWorkflowExecution>[0];
    // protobufjs takes a number where the generated type says Long.
    const request = {
      namespace: stack.config.temporal.namespace,
      workflowExecution: { workflowId: desc.workflowId, runId: desc.runId },
      reason: 'chaos: reset',
      workflowTaskFinishEventId: points[between(0, points.length - 1)]!,
      requestId: randomUUID(),
    } as unknown as ResetRequest;
    await stack.client.workflowService.resetWorkflowExecution(request);
    return true;
  } catch {
    return false;
  }
}

export async function duplicatesCampaign(ctx: CampaignContext): Promise<StackRun[]> {
  const q = ctx.quick;
  return [
    await onStack(ctx, { name: 'duplicates', fundingMode: 'superuser-credit', clients: 4, depositMinor: 2_000_000, sourceSats: 0, workers: 3, settleMs: q ? 60_000 : 180_000 }, async (stack) => {
      const faults = { workers: stack.workers.length, pollers: 2, pollNowSignals: 0, rowsSeenAgain: 0, resets: 0, terminations: 0, newPolls: 0 };
      const notes: string[] = [];
      await ensurePollerStarted(stack.client, stack.config, { workflowId: SECOND_POLLER });
      const ids = await insertRows(stack.lamassu, q ? 4 : 12);
      faults.pollNowSignals += await storm(stack.client, q ? 20 : 100);
      await sleep(q ? 4_000 : 8_000);
      ids.push(...(await insertRows(stack.lamassu, q ? 4 : 12)));
      for (let round = 0; round < (q ? 2 : 6); round++) {
        faults.pollNowSignals += await storm(stack.client, q ? 10 : 40);
        // Rows seen again: paid (or being paid) rows move forward in time, as if Lamassu touched them.
        const seenAgain = ids.slice(0, between(1, Math.min(6, ids.length)));
        await stack.lamassu.query(`UPDATE cash_out_txs SET confirmed_at = now() WHERE id::text = ANY ($1)`, [seenAgain]);
        faults.rowsSeenAgain += seenAgain.length;
        // Reset or terminate a cash-out mid-payout (status processing), else any.
        const st = await statuses(stack.ledger, ids);
        const processing = ids.filter((id) => st.get(id) === 'processing');
        const pick = (processing.length ? processing : ids)[between(0, (processing.length ? processing : ids).length - 1)]!;
        if (round % 2 === 0) {
          if (await resetWorkflow(stack, pick)) faults.resets++;
        } else {
          const terminated = await stack.client.workflow.getHandle(cashOutWorkflowId(pick)).terminate('chaos: terminate').then(() => true, () => false);
          if (terminated) {
            faults.terminations++;
            notes.push(`terminated ${pick} while ${st.get(pick)}`);
          }
        }
        await pollNow(stack.client);
        faults.newPolls++;
        if (round === 1) ids.push(...(await insertRows(stack.lamassu, q ? 2 : 6)));
        await sleep(between(1_000, 4_000));
      }
      return { ids, faults, notes };
    }),
  ];
}
