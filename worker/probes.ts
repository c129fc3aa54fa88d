/**
 * What /healthz and /readyz check. Health: the worker polls its task queue and Temporal answers. Ready: the
 * ledger answers, the poller workflow is running, not paused, and its last successful poll is recent enough.
 * Each check has a short deadline: a probe never hangs on a dead dependency.
 */
import type { Client } from '@temporalio/client';
import type pg from 'pg';
import type { Config } from '../config/schema';
import { statusQuery, type PollerStatus } from '../workflows/poller';
import type { ProbeCheck } from './ops-server';

const PROBE_TIMEOUT_MS = 3_000;

function within<T>(ms: number, p: Promise<T>, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`${what}: no answer within ${ms} ms`)), ms)));
  return Promise.race([p, timeout]).finally(() => clearTimeout(timer));
}

const check = async (name: string, run: () => Promise<string>): Promise<ProbeCheck> => {
  try {
    return { name, ok: true, detail: await within(PROBE_TIMEOUT_MS, run(), name) };
  } catch (err) {
    return { name, ok: false, detail: (err as Error).message };
  }
};

export interface ProbeDeps {
  config: Config;
  pool: pg.Pool;
  client: Client;
  pollerWorkflowId: string;
  workerState: () => string;
}

/** The poller's status, or why there is none. */
export async function pollerStatus(client: Client, workflowId: string): Promise<PollerStatus> {
  const handle = client.workflow.getHandle(workflowId);
  const d = await handle.describe();
  if (d.status.name !== 'RUNNING') throw new Error(`poller ${workflowId} is ${d.status.name.toLowerCase()}`);
  return handle.query(statusQuery);
}

export function createProbes(deps: ProbeDeps) {
  const { config, pool, client, pollerWorkflowId } = deps;
  const maxPollAgeSeconds = config.readyMaxPollAgeSeconds ?? config.lamassu.pollIntervalSeconds * 3 + 120;
  const temporal = () =>
    check('temporal', async () => {
      await client.workflowService.getSystemInfo({});
      return `connected to ${config.temporal.address}`;
    });
  return {
    health: async (): Promise<ProbeCheck[]> => [
      { name: 'worker', ok: deps.workerState() === 'RUNNING', detail: `worker ${deps.workerState().toLowerCase()}` },
      await temporal(),
    ],
    ready: async (): Promise<ProbeCheck[]> =>
      Promise.all([
        check('ledger', async () => {
          await pool.query('SELECT 1');
          return 'ledger reachable';
        }),
        check('poller', async () => {
          const s = await pollerStatus(client, pollerWorkflowId);
          if (s.paused) throw new Error(`poller paused${s.pausedReason ? `: ${s.pausedReason}` : ''}${s.pausedBy ? ` (by ${s.pausedBy})` : ''}`);
          if (!s.lastSuccessAt) throw new Error('poller has not completed a poll yet');
          const ageSeconds = Math.round((Date.now() - Date.parse(s.lastSuccessAt)) / 1000);
          if (ageSeconds > maxPollAgeSeconds) throw new Error(`last successful poll ${ageSeconds} s ago (limit ${maxPollAgeSeconds} s)${s.lastError ? `: ${s.lastError}` : ''}`);
          return `running, last successful poll ${ageSeconds} s ago`;
        }),
      ]),
  };
}
