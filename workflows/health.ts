/**
 * Health check (schedule `satmachine-health`, every 2 h): poller freshness, LNbits wallets with their keys,
 * the Lamassu connection, payouts stuck for hours. Every problem is alerted with its runbook severity; a key
 * LNbits rejects (rotated or revoked) pauses the poller, which only an operator resumes.
 */
import { proxyActivities, upsertSearchAttributes } from '@temporalio/workflow';
import type { HealthActivities, HealthCheck } from '../activities/health';
import { SatmachineKind } from '../domain/search-attributes';

export interface HealthInput {
  /** The poller to watch (tests use their own id). */
  pollerWorkflowId?: string;
}

export interface HealthReport {
  ok: boolean;
  checks: HealthCheck[];
  alertsRaised: string[];
  pollerPaused: boolean;
}

const retry = { initialInterval: '2 seconds', backoffCoefficient: 2, maximumInterval: '30 seconds', maximumAttempts: 3 };
const acts = proxyActivities<HealthActivities>({ startToCloseTimeout: '2 minutes', retry });

export async function healthWorkflow(input: HealthInput = {}): Promise<HealthReport> {
  upsertSearchAttributes([{ key: SatmachineKind, value: 'health' }]);
  // The checks are independent; each reports problems instead of failing.
  const [poller, wallets, lamassu, stuck] = await Promise.all([
    acts.checkPollerHealth({ pollerWorkflowId: input.pollerWorkflowId }),
    acts.checkWalletsHealth(),
    acts.checkLamassuHealth(),
    acts.checkStuckPayoutsHealth(),
  ]);
  let pollerPaused = false;
  if (wallets.keyRejected) {
    const rejected = wallets.problems.filter((p) => p.kind === 'wallet-key-rejected').map((p) => p.subject);
    const r = await acts.pausePollerForHealth({ pollerWorkflowId: input.pollerWorkflowId, reason: `health: LNbits ${rejected.join(', ')} key rejected` });
    pollerPaused = r.paused;
  }
  const checks: HealthCheck[] = [poller, { name: wallets.name, ok: wallets.ok, detail: wallets.detail, problems: wallets.problems }, lamassu, stuck];
  const { raised } = await acts.reportHealthProblems({ problems: checks.flatMap((c) => c.problems) });
  return { ok: checks.every((c) => c.ok), checks, alertsRaised: raised, pollerPaused };
}
