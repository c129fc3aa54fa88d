/**
 * What the Web UI shows for a duplicate run of a cash-out (a second start after a reset, or any run that finds
 * the ledger row owned by another run): the OWNING run's ledger status and the sats it paid — not a green
 * "duplicate, 0 sats" that hides the cash-out's real state. The details say it is a duplicate that paid
 * nothing. Workflow code: only @temporalio/workflow APIs.
 */
import { setCurrentDetails, upsertSearchAttributes } from '@temporalio/workflow';
import type { RecordResult } from '../activities/cashout';
import type { LamassuCashOut } from '../domain/lamassu-row';
import { CashOutStatus, FailedPayouts, LamassuTxId, PayoutSats, SatmachineKind } from '../domain/search-attributes';
import { cashOutSummary } from './cashout-types';

export function publishDuplicate(row: LamassuCashOut, rec: RecordResult): void {
  const paid = rec.ownerPaidSats ?? 0;
  upsertSearchAttributes([
    { key: SatmachineKind, value: 'cashout' },
    { key: LamassuTxId, value: row.id },
    { key: CashOutStatus, value: rec.ownerStatus },
    { key: FailedPayouts, value: 0 },
    { key: PayoutSats, value: paid },
  ]);
  setCurrentDetails(
    `${cashOutSummary(row)} · DUPLICATE run: this run paid nothing · the cash-out belongs to ${rec.ownerWorkflowId ?? 'another process'} ` +
      `(ledger status ${rec.ownerStatus}, ${paid} sats paid to clients) — see that run, or \`satmachine tx show ${row.id}\``,
  );
}
