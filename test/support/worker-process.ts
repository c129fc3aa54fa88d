/**
 * The real worker (worker/main.ts runWorker) as a child process for crash and metrics tests: config from the
 * JSON file named by SATMACHINE_WORKER_CONFIG, plus METRICS_PORT from the environment when set (as in
 * production), and the poller it watches from SATMACHINE_POLLER_WORKFLOW_ID. The parent kills it with SIGKILL and starts another one.
 */
import { loadConfig } from '../../config';
import { createLogger } from '../../log/logger';
import { runWorker } from '../../worker/main';

const file = process.env.SATMACHINE_WORKER_CONFIG;
if (!file) throw new Error('SATMACHINE_WORKER_CONFIG is not set');
const config = loadConfig({ env: process.env.METRICS_PORT ? { METRICS_PORT: process.env.METRICS_PORT } : {}, file });
const pollerWorkflowId = process.env.SATMACHINE_POLLER_WORKFLOW_ID || undefined;
runWorker(config, createLogger({ level: process.env.LOG_LEVEL ?? 'silent', name: 'worker-child' }), { pollerWorkflowId }).catch((err: unknown) => {
  console.error('worker failed:', err instanceof Error ? err.message : String(err));
  process.exitCode = 1;
});
