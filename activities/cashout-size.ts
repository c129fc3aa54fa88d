/**
 * The size guard of a cash-out (issue 15): refuse an allocation too large for one workflow before anything is
 * reserved or paid. Every line becomes a payout that the workflow carries in activity results, its `status`
 * query and its result; Temporal refuses payloads over 2 MB. Refused here, the workflow fails with a named
 * business error, so its ledger row turns needs_attention with the reason and a critical alert is raised
 * (workflows/cashout-failure.ts) — never stuck halfway.
 */
import type { Config } from '../config/schema';
import type { Allocation } from '../domain/allocation';
import { CashOutTooLargeError } from '../domain/errors';

/** JSON bytes of the allocation as Temporal serializes it (the JSON payload converter). */
export const allocationBytes = (allocation: Allocation): number => Buffer.byteLength(JSON.stringify(allocation), 'utf8');

export function assertCashOutFits(transactionId: string, allocation: Allocation, limits: Config['cashOutLimits']): void {
  const clients = allocation.lines.length;
  if (clients > limits.maxClients) {
    throw new CashOutTooLargeError(
      `transaction ${transactionId}: ${clients} clients in one cash-out exceed cashOutLimits.maxClients (${limits.maxClients}); nothing was reserved or paid`,
      'cashOutLimits.maxClients',
    );
  }
  const bytes = allocationBytes(allocation);
  if (bytes > limits.maxAllocationBytes) {
    throw new CashOutTooLargeError(
      `transaction ${transactionId}: the allocation of ${clients} clients is ${bytes} bytes, over cashOutLimits.maxAllocationBytes (${limits.maxAllocationBytes}); nothing was reserved or paid`,
      'cashOutLimits.maxAllocationBytes',
    );
  }
}
