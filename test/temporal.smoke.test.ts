import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { pingWorkflow } from '../workflows';
import { getStack } from './support/stack';
import { startTestWorker, testClient, uniqueTaskQueue } from './support/temporal-client';

test('a workflow runs on the real dev server and is found by a custom search attribute', async () => {
  const taskQueue = uniqueTaskQueue('smoke');
  const { client, close } = await testClient();
  const worker = await startTestWorker({ taskQueue });
  try {
    const workflowId = `smoke-${randomBytes(4).toString('hex')}`;
    const result = await client.workflow.execute(pingWorkflow, { taskQueue, workflowId, args: ['hello'] });
    assert.deepEqual(result, { echo: 'hello', workflowId });

    // Visibility is eventually consistent: wait until the upserted attribute is indexed.
    let found: string[] = [];
    for (let i = 0; i < 50 && !found.includes(workflowId); i++) {
      found = [];
      for await (const wf of client.workflow.list({ query: `SatmachineKind = "ping" AND WorkflowId = "${workflowId}"` })) found.push(wf.workflowId);
      if (!found.includes(workflowId)) await new Promise((r) => setTimeout(r, 200));
    }
    assert.deepEqual(found, [workflowId]);

    // The same through the temporal CLI the operator uses.
    const { address, namespace, cliPath } = getStack().temporal;
    const out = execFileSync(cliPath, ['workflow', 'list', '--address', address, '--namespace', namespace, '--query', `SatmachineKind = "ping" AND WorkflowId = "${workflowId}"`, '--output', 'json'], { encoding: 'utf8' });
    const listed = (JSON.parse(out) as Array<{ execution: { workflowId: string } }>).map((w) => w.execution.workflowId);
    assert.deepEqual(listed, [workflowId]);
  } finally {
    await worker.stop();
    await close();
  }
});
