/**
 * Operator-side control of the Lamassu poller: start it (idempotent), pause/resume it, poll now, read its
 * status. The workflow id defaults to `lamassu-poller`; tests pass their own because they share a namespace.
 */
import { WorkflowNotFoundError, type Client } from '@temporalio/client';
import type { Config } from '../config/schema';
import { POLLER_WORKFLOW_ID } from '../domain/constants';
import { SatmachineKind } from '../domain/search-attributes';
import { lamassuPollerWorkflow, pauseSignal, pollNowSignal, resumeSignal, statusQuery, type PollerStatus } from '../workflows/poller';

export interface PollerTarget {
  /** Defaults to POLLER_WORKFLOW_ID. */
  workflowId?: string;
}

const handleOf = (client: Client, opts: PollerTarget = {}) => client.workflow.getHandle(opts.workflowId ?? POLLER_WORKFLOW_ID);

/**
 * Starts the poller unless one is running (conflict policy USE_EXISTING; a terminated or failed poller is
 * replaced). Settings come from config.lamassu; a running poller keeps the settings it was started with.
 */
export async function ensurePollerStarted(client: Client, config: Config, opts: PollerTarget = {}): Promise<{ workflowId: string; runId: string; started: boolean }> {
  const workflowId = opts.workflowId ?? POLLER_WORKFLOW_ID;
  const before = await handleOf(client, opts)
    .describe()
    .then((d) => (d.status.name === 'RUNNING' ? d.runId : null))
    .catch((err: unknown) => {
      if (err instanceof WorkflowNotFoundError) return null;
      throw err;
    });
  const handle = await client.workflow.start(lamassuPollerWorkflow, {
    workflowId,
    taskQueue: config.temporal.taskQueue,
    args: [{ pollIntervalSeconds: config.lamassu.pollIntervalSeconds, pollsPerRun: config.lamassu.pollsPerRun }],
    workflowIdConflictPolicy: 'USE_EXISTING',
    workflowIdReusePolicy: 'ALLOW_DUPLICATE',
    typedSearchAttributes: [{ key: SatmachineKind, value: 'poller' }],
  });
  return { workflowId, runId: handle.firstExecutionRunId, started: handle.firstExecutionRunId !== before };
}

export async function pausePoller(client: Client, reason?: string, opts: PollerTarget & { by?: string } = {}): Promise<void> {
  await handleOf(client, opts).signal(pauseSignal, { reason, by: opts.by });
}

export async function resumePoller(client: Client, opts: PollerTarget & { by?: string } = {}): Promise<void> {
  await handleOf(client, opts).signal(resumeSignal, { by: opts.by });
}

/** Poll now. With `limit`, start at most that many cash-outs — also while paused (a gradual restart). */
export async function pollNow(client: Client, opts: PollerTarget & { limit?: number } = {}): Promise<void> {
  if (opts.limit !== undefined && !(Number.isSafeInteger(opts.limit) && opts.limit > 0)) throw new RangeError('limit: expected a positive integer');
  await handleOf(client, opts).signal(pollNowSignal, opts.limit === undefined ? undefined : { limit: opts.limit });
}

export async function getPollerStatus(client: Client, opts: PollerTarget = {}): Promise<PollerStatus> {
  return handleOf(client, opts).query(statusQuery);
}

export type { PollerStatus };
