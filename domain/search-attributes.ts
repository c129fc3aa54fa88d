import { defineSearchAttributeKey, SearchAttributeType } from '@temporalio/common';

/**
 * Custom search attributes (registered by temporal-dev.yaml on the dev server and by `satmachine setup`
 * elsewhere). They hold ids, states and amounts only — never a key or other secret.
 */
export const LamassuTxId = defineSearchAttributeKey('LamassuTxId', SearchAttributeType.KEYWORD);
export const CashOutStatus = defineSearchAttributeKey('CashOutStatus', SearchAttributeType.KEYWORD);
export const FailedPayouts = defineSearchAttributeKey('FailedPayouts', SearchAttributeType.INT);
export const PayoutSats = defineSearchAttributeKey('PayoutSats', SearchAttributeType.INT);
/** Which kind of satmachine workflow: cashout | poller | reconcile | health | sweep | smoke. */
export const SatmachineKind = defineSearchAttributeKey('SatmachineKind', SearchAttributeType.KEYWORD);

export const ALL_SEARCH_ATTRIBUTES = [LamassuTxId, CashOutStatus, FailedPayouts, PayoutSats, SatmachineKind];
