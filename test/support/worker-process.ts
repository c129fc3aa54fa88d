/**
 * The real worker (worker/main.ts runWorker) as a child process for crash and metrics tests: config from the
 * JSON file named by SATMACHINE_WORKER_CONFIG, plus METRICS_PORT from the environment when set (as in
 * production), and the poller it watches from SATMACHINE_POLLER_WORKFLOW_ID. The parent kills it with SIGKILL and starts another one.
 */
import { Worker } from '@temporalio/worker';
import { loadConfig } from '../../config';
import { createLogger } from '../../log/logger';
import { runWorker } from '../../worker/main';

// SATMACHINE_WORKFLOW_BUNDLE: a workflow bundle built once by the parent (bundleWorkflowCode), used instead of
// bundling workflows/ again at every start — as test/run.ts does for in-process workers. A parent that restarts
// the worker many times (chaos/) would otherwise spend most of the machine on webpack.
const bundle = process.env.SATMACHINE_WORKFLOW_BUNDLE;
if (bundle) {
  const create = Worker.create.bind(Worker);
  Worker.create = (options) => create({ ...options, workflowsPath: undefined, workflowBundle: { codePath: bundle } });
}

const file = process.env.SATMACHINE_WORKER_CONFIG;
if (!file) throw new Error('SATMACHINE_WORKER_CONFIG is not set');
const config = loadConfig({ env: process.env.METRICS_PORT ? { METRICS_PORT: process.env.METRICS_PORT } : {}, file });
const pollerWorkflowId = process.env.SATMACHINE_POLLER_WORKFLOW_ID || undefined;
runWorker(config, createLogger({ level: process.env.LOG_LEVEL ?? 'silent', name: 'worker-child' }), { pollerWorkflowId }).catch((err: unknown) => {
  console.error('worker failed:', err instanceof Error ? err.message : String(err));
  process.exitCode = 1;
});
