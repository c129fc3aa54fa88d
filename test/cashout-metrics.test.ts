/**
 * Prometheus metrics of the real worker process (worker/main.ts with METRICS_PORT, as deployed): after one
 * cash-out, GET /metrics answers Prometheus text with Temporal Core's worker metrics for its task queue.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { startCashOut } from '../client/cashout';
import { cashOutWorkflowId } from '../domain/constants';
import type { CashOutResult } from '../workflows/cashout';
import { cashOutRow, withCashOutWorld } from './support/cashout-fixture';
import { freePort } from './support/ports';

const exited = (child: ChildProcess) => new Promise<void>((r) => (child.exitCode !== null || child.signalCode !== null ? r() : child.once('exit', () => r())));

/** Σ of the samples of `name` whose labels include task_queue="<taskQueue>" (and `extra`, if given). */
function sum(text: string, name: string, taskQueue: string, extra = ''): number {
  let total = 0;
  for (const line of text.split('\n')) {
    if (!line.startsWith(`${name}{`) || !line.includes(`task_queue="${taskQueue}"`) || !line.includes(extra)) continue;
    total += Number(line.slice(line.lastIndexOf(' ') + 1));
  }
  return total;
}

test('the worker process exposes Temporal worker metrics on METRICS_PORT', async (t) => {
  // The worker is the real worker process below, not an in-process one.
  await withCashOutWorld({ taskQueuePrefix: 'cashout-metrics', clients: 2, worker: false }, async ({ world: w, client }) => {
    const { taskQueue } = w;
    const dir = mkdtempSync(path.join(tmpdir(), 'cashout-metrics-'));
    const configFile = path.join(dir, 'config.json');
    writeFileSync(configFile, JSON.stringify(w.config), { mode: 0o600 });
    const port = await freePort();
    const child = spawn(process.execPath, ['--import', 'tsx', path.join(__dirname, 'support', 'worker-process.ts')], {
      env: { ...process.env, SATMACHINE_WORKER_CONFIG: configFile, METRICS_PORT: String(port) },
      stdio: ['ignore', 'ignore', 'inherit'],
    });
    try {
      const row = cashOutRow();
      await startCashOut(client, w.config, row);
      const result = (await client.workflow.getHandle(cashOutWorkflowId(row.id)).result()) as CashOutResult;
      assert.equal(result.status, 'completed');

      const url = `http://127.0.0.1:${port}/metrics`;
      let text = '';
      // Core exports on its own schedule: poll until the cash-out's tasks are counted.
      for (let i = 0; i < 100; i++) {
        const res = await fetch(url).catch(() => undefined);
        if (res?.status === 200) {
          text = await res.text();
          if (sum(text, 'temporal_workflow_completed', taskQueue) > 0 && sum(text, 'temporal_activity_execution_latency_count', taskQueue) > 0) break;
        }
        await new Promise((r) => setTimeout(r, 200));
      }
      assert.match(text, /^# (HELP|TYPE) temporal_/m, 'Prometheus text format');
      assert.equal(sum(text, 'temporal_workflow_completed', taskQueue, 'workflow_type="cashOutWorkflow"'), 1, 'one cash-out workflow completed');
      const activities = sum(text, 'temporal_activity_execution_latency_count', taskQueue);
      assert.ok(activities >= 8, `activity executions counted (${activities})`);
      assert.ok(sum(text, 'temporal_activity_execution_latency_count', taskQueue, 'activity_type="payPayment"') >= 3, '2 clients + commission paid');
      assert.ok(sum(text, 'temporal_workflow_task_execution_latency_count', taskQueue) > 0, 'workflow tasks counted');
      t.diagnostic(`${text.split('\n').filter((l) => l.startsWith('temporal_')).length} temporal_ samples; ${activities} activity executions`);
    } finally {
      child.kill('SIGTERM');
      await exited(child);
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
