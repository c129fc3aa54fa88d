/**
 * Named business errors. Activities throw them; Temporal turns an error into an ApplicationFailure whose
 * type is the error's `name`, and workflows/activities list `BUSINESS_ERROR_TYPES` as nonRetryableErrorTypes:
 * retrying the same input cannot fix a business rule violation, it needs an operator or new input.
 * Messages never contain secrets (keys, tokens); they may contain amounts and ids.
 */

/** Base of every business error; `field` names the offending input where there is one. */
export class BusinessError extends Error {
  readonly field: string | undefined;
  constructor(message: string, field?: string) {
    super(field ? `${field}: ${message}` : message);
    this.field = field;
  }
}

/** A commission input (crypto_atoms, commission_percentage, discount, fiat, raw_ticker_price) is invalid. */
export class CommissionInputError extends BusinessError {
  override name = 'CommissionInputError';
  constructor(field: string, message: string) {
    super(message, field);
  }
}

/** An amount (sats, msat, fiat minor units) is not a valid integer in range. */
export class AmountError extends BusinessError {
  override name = 'AmountError';
  constructor(field: string, message: string) {
    super(message, field);
  }
}

/** A decimal string could not be parsed exactly or converted without loss. */
export class DecimalError extends BusinessError {
  override name = 'DecimalError';
  constructor(field: string, message: string) {
    super(message, field);
  }
}

/** The allocation's inputs are inconsistent (duplicate client ids, negative balances, …). */
export class AllocationInputError extends BusinessError {
  override name = 'AllocationInputError';
  constructor(field: string, message: string) {
    super(message, field);
  }
}

/** A Lamassu `cash_out_txs` row failed validation (used by the Lamassu reader). */
export class InvalidLamassuRowError extends BusinessError {
  override name = 'InvalidLamassuRowError';
  constructor(field: string, message: string) {
    super(message, field);
  }
}

/** The source wallet (or another payer) lacks the funds for a payout. */
export class InsufficientBalanceError extends BusinessError {
  override name = 'InsufficientBalanceError';
}

/** LNbits refused a key (401/403/404 "Wallet not found."). */
export class LnbitsAuthError extends BusinessError {
  override name = 'LnbitsAuthError';
}

/** LNbits answered 520 "Insufficient balance.". */
export class LnbitsInsufficientBalanceError extends BusinessError {
  override name = 'LnbitsInsufficientBalanceError';
}

/** A ledger debit would take a client's stored fiat balance below zero. */
export class BalanceWouldGoNegativeError extends BusinessError {
  override name = 'BalanceWouldGoNegativeError';
  constructor(
    readonly clientId: string,
    readonly balanceFiatMinor: number,
    readonly debitFiatMinor: number,
  ) {
    super(`client ${clientId}: debit ${debitFiatMinor} exceeds stored balance ${balanceFiatMinor}`, 'remaining_balance_fiat_minor');
  }
}

/** A client named in an allocation is missing, paused or closed at reservation time. */
export class ClientNotEligibleError extends BusinessError {
  override name = 'ClientNotEligibleError';
  constructor(readonly clientId: string, reason: string) {
    super(`client ${clientId}: ${reason}`, 'client_id');
  }
}

/** The operator halted payouts (control.payouts_halted). */
export class PayoutsHaltedError extends BusinessError {
  override name = 'PayoutsHaltedError';
}

/** The same Lamassu transaction was seen again where a first sighting was required. */
export class DuplicateTransactionError extends BusinessError {
  override name = 'DuplicateTransactionError';
}

/** A ledger row is in a state that forbids the requested change (e.g. confirming a cancelled deposit). */
export class LedgerStateError extends BusinessError {
  override name = 'LedgerStateError';
}

/** A ledger row that must exist does not. */
export class LedgerNotFoundError extends BusinessError {
  override name = 'LedgerNotFoundError';
}

/** LNbits answered a payment with "failed" (nothing was paid): paying the same invoice again fails again. */
export class PayoutRejectedError extends BusinessError {
  override name = 'PayoutRejectedError';
}

/**
 * LNbits and the ledger disagree about a payout: the invoice to pay is not the one we created (amount, hash,
 * signature, wallet), or LNbits' answers do not prove the stored hash paid for exactly the amount by the
 * payer to the recipient. Nothing is marked completed; the operator decides (runbook: "LNbits disagrees
 * with the ledger"). `disagreement` says what disagreed, for the alert.
 */
export class PayoutDisagreementError extends BusinessError {
  override name = 'PayoutDisagreementError';
  constructor(message: string, readonly disagreement: string) {
    super(message, 'payment');
  }
}

/** The superuser credit of a cash-out may or may not have happened (a crash or timeout around the call):
 *  it is never repeated automatically; the operator decides (retryFailedPayouts with `funding`). */
export class FundingNeedsAttentionError extends BusinessError {
  override name = 'FundingNeedsAttentionError';
}

/** A setting the cash-out needs is missing or wrong (e.g. no source admin key, no commission invoice key). */
export class CashOutConfigError extends BusinessError {
  override name = 'CashOutConfigError';
}

/** A cash-out whose allocation is too large for one workflow (clients or payload bytes over `cashOutLimits`):
 *  refused before anything is reserved or paid; the operator raises the limit or splits the pool (runbook). */
export class CashOutTooLargeError extends BusinessError {
  override name = 'CashOutTooLargeError';
}

/** Temporal `nonRetryableErrorTypes`: every business error above, by name. */
export const BUSINESS_ERROR_TYPES = [
  'CommissionInputError',
  'AmountError',
  'DecimalError',
  'AllocationInputError',
  'InvalidLamassuRowError',
  'InsufficientBalanceError',
  'LnbitsAuthError',
  'LnbitsInsufficientBalanceError',
  'BalanceWouldGoNegativeError',
  'ClientNotEligibleError',
  'PayoutsHaltedError',
  'DuplicateTransactionError',
  'LedgerStateError',
  'LedgerNotFoundError',
  'PayoutRejectedError',
  'PayoutDisagreementError',
  'FundingNeedsAttentionError',
  'CashOutConfigError',
  'CashOutTooLargeError',
  // adapters/lnbits/errors.ts: LNbits refused the request itself (400/422, an invoice error): it fails again.
  'LnbitsRejectedError',
] as const;

export type BusinessErrorType = (typeof BUSINESS_ERROR_TYPES)[number];
