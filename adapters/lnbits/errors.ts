/**
 * Typed LNbits failures. Messages name the HTTP status, the endpoint path and LNbits' `detail`,
 * never a key or token (the client never puts one into a message).
 */

/** Fields every LNbits error carries, for logs and for the activity layer's retry decisions. */
export abstract class LnbitsError extends Error {
  readonly status: number | undefined;
  readonly path: string;
  readonly detail: string | undefined;
  constructor(message: string, info: { status?: number; path: string; detail?: string }) {
    super(message);
    this.status = info.status;
    this.path = info.path;
    this.detail = info.detail;
  }
}

function describe(what: string, info: { status?: number; path: string; detail?: string }): string {
  const status = info.status === undefined ? '' : ` ${info.status}`;
  return `LNbits ${what}:${status} ${info.path}${info.detail ? `: ${info.detail}` : ''}`;
}

/** 401 (no/invalid key or token), 403 (wrong key kind, not a superuser), 404 "Wallet not found." (unknown key). */
export class LnbitsAuthError extends LnbitsError {
  override name = 'LnbitsAuthError';
  constructor(info: { status?: number; path: string; detail?: string }) {
    super(describe('rejected the credentials', info), info);
  }
}

/** 520 "Insufficient balance.": nothing was paid. */
export class LnbitsInsufficientBalanceError extends LnbitsError {
  override name = 'LnbitsInsufficientBalanceError';
  constructor(info: { status: number; path: string; detail?: string }) {
    super(describe('insufficient balance', info), info);
  }
}

/** 5xx other than payment errors, timeouts, refused/reset connections: retrying may help. */
export class LnbitsTransientError extends LnbitsError {
  override name = 'LnbitsTransientError';
  constructor(info: { status?: number; path: string; detail?: string }) {
    super(describe('transient failure', info), info);
  }
}

/** An answer did not have the shape we rely on (or an unexpected 4xx); `field` names the offending field. */
export class LnbitsResponseError extends LnbitsError {
  override name = 'LnbitsResponseError';
  readonly field: string | undefined;
  constructor(info: { status?: number; path: string; detail?: string; field?: string }) {
    super(describe('unexpected answer', { ...info, detail: info.field ? `${info.field}: ${info.detail ?? 'invalid'}` : info.detail }), info);
    this.field = info.field;
  }
}

/** LNbits refused the request itself (400/422, other 4xx, a 520 invoice error such as "Amountless invoices
 *  not supported."): the same request will fail again. */
export class LnbitsRejectedError extends LnbitsError {
  override name = 'LnbitsRejectedError';
  constructor(info: { status?: number; path: string; detail?: string }) {
    super(describe('rejected the request', info), info);
  }
}
