/** Stuck-payout sweep (schedule `satmachine-stuck-payout-sweep`, every 15 min): one alert per stuck payout. */
import { proxyActivities, upsertSearchAttributes } from '@temporalio/workflow';
import type { SweepActivities, SweepResult } from '../activities/sweep';
import { SatmachineKind } from '../domain/search-attributes';

const { sweepStuckPayouts } = proxyActivities<SweepActivities>({
  startToCloseTimeout: '5 minutes',
  retry: { initialInterval: '5 seconds', backoffCoefficient: 2, maximumInterval: '1 minute', maximumAttempts: 3 },
});

export async function stuckPayoutSweepWorkflow(): Promise<SweepResult> {
  upsertSearchAttributes([{ key: SatmachineKind, value: 'sweep' }]);
  return sweepStuckPayouts({});
}
