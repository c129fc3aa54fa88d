/** Stuck-payout sweep (schedule `satmachine-stuck-payout-sweep`, every 15 min): one alert per stuck payout. */
import { patched, proxyActivities, upsertSearchAttributes } from '@temporalio/workflow';
import type { OrphanSweepResult, SweepActivities, SweepResult } from '../activities/sweep';
import { SatmachineKind } from '../domain/search-attributes';

const { sweepStuckPayouts, adoptOrphanedCashOuts } = proxyActivities<SweepActivities>({
  startToCloseTimeout: '5 minutes',
  retry: { initialInterval: '5 seconds', backoffCoefficient: 2, maximumInterval: '1 minute', maximumAttempts: 3 },
});

export async function stuckPayoutSweepWorkflow(): Promise<SweepResult & Partial<OrphanSweepResult>> {
  upsertSearchAttributes([{ key: SatmachineKind, value: 'sweep' }]);
  const stuck = await sweepStuckPayouts({});
  // Cash-outs whose workflow is gone are adopted by a recovery run (issue 19).
  if (!patched('sweep-adopt-orphaned-cashouts')) return stuck;
  return { ...stuck, ...(await adoptOrphanedCashOuts({})) };
}
