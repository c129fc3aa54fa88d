/**
 * Determinism: histories recorded from real cash-out runs (happy path, needs_attention → retry, revoked key →
 * cancel, duplicate) replay without a non-determinism error against the current workflow code.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Worker } from '@temporalio/worker';
import { createCashOutActivities } from '../activities/cashout';
import { startCashOut } from '../client/cashout';
import { cashOutWorkflowId } from '../domain/constants';
import { createLogger } from '../log/logger';
import { cancelFailedPayoutsUpdate, cashOutStatusQuery, retryFailedPayoutsUpdate } from '../workflows/cashout';
import { cashOutRow, createCashOutWorld, deleteWallet, fund } from './support/cashout-fixture';
import { getStack } from './support/stack';
import { startTestWorker, testClient, uniqueTaskQueue } from './support/temporal-client';

const log = createLogger({ level: process.env.LOG_LEVEL ?? 'silent', name: 'cashout-replay' });

test('recorded cash-out histories replay deterministically', async (t) => {
  const taskQueue = uniqueTaskQueue('cashout-replay');
  const w = await createCashOutWorld({ taskQueue, sourceSats: 1_000 });
  const { client, close } = await testClient();
  const worker = await startTestWorker({ taskQueue, activities: createCashOutActivities({ config: w.config, pool: w.db.pool, log }) });
  const ids: string[] = [];
  const waitAttention = async (id: string) => {
    for (let i = 0; i < 200; i++) {
      const s = await client.workflow.getHandle(id).query(cashOutStatusQuery).catch(() => undefined);
      if (s?.step === 'wait-operator') return;
      await new Promise((r) => setTimeout(r, 100));
    }
    throw new Error(`${id} never waited for the operator`);
  };
  try {
    // 1. needs_attention (source too low) → funded → retry → completed.
    const a = cashOutRow();
    await startCashOut(client, w.config, a);
    const idA = cashOutWorkflowId(a.id);
    await waitAttention(idA);
    await fund(w.source, 2_000_000);
    await client.workflow.getHandle(idA).executeUpdate(retryFailedPayoutsUpdate, { args: [{ by: 'replay' }] });
    await client.workflow.getHandle(idA).result();
    ids.push(idA);

    // 2. a duplicate of it under a fresh id.
    await startCashOut(client, w.config, a, { workflowId: `${idA}-dup` });
    await client.workflow.getHandle(`${idA}-dup`).result();
    ids.push(`${idA}-dup`);

    // 3. a revoked client key → needs_attention → cancel.
    await deleteWallet(w.clients[0]!.wallet);
    const b = cashOutRow();
    await startCashOut(client, w.config, b);
    const idB = cashOutWorkflowId(b.id);
    await waitAttention(idB);
    await client.workflow.getHandle(idB).executeUpdate(cancelFailedPayoutsUpdate, { args: [{ reason: 'replay' }] });
    await client.workflow.getHandle(idB).result();
    ids.push(idB);
  } finally {
    await worker.stop();
  }
  try {
    const histories = await Promise.all(ids.map(async (workflowId) => ({ workflowId, history: await client.workflow.getHandle(workflowId).fetchHistory() })));
    const stack = getStack() as ReturnType<typeof getStack> & { workflowBundlePath?: string };
    const source = stack.workflowBundlePath ? { workflowBundle: { codePath: stack.workflowBundlePath } } : { workflowsPath: require.resolve('../workflows') };
    let replayed = 0;
    for await (const r of Worker.runReplayHistories(source, histories)) {
      assert.equal(r.error, undefined, `${r.workflowId}: ${String(r.error)}`);
      replayed++;
    }
    assert.equal(replayed, 3);
    t.diagnostic(`replayed ${replayed} histories (${histories.map((h) => h.history.events?.length ?? 0).join(', ')} events)`);
  } finally {
    await close();
    await w.close();
  }
});
