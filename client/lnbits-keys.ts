/**
 * Telling LNbits 1.6.2 key kinds apart without spending: GET /api/v1/wallet answers both kinds, but returns
 * the wallet `id` only for an admin key. An invoice key's wallet is learnt by creating a 1-sat internal
 * invoice (what payouts do with it anyway) and reading that payment back: its row names the wallet.
 * Messages never contain a key.
 */
import type { LnbitsClient } from '../adapters/lnbits/client';
import { LnbitsAuthError, LnbitsTransientError } from '../adapters/lnbits/errors';

export type KeyCheckStatus = 'ok' | 'fail' | 'unreachable';

export interface KeyCheck {
  status: KeyCheckStatus;
  detail: string;
  walletName?: string;
  balanceMsat?: bigint;
}

const unreachable = (err: unknown): KeyCheck | null =>
  err instanceof LnbitsTransientError ? { status: 'unreachable', detail: err.message } : null;

const rejected = (err: unknown): KeyCheck | null => (err instanceof LnbitsAuthError ? { status: 'fail', detail: `LNbits rejected the key: ${err.detail ?? err.message}` } : null);

/** The key must be an admin key of `walletId` (when given). */
export async function checkAdminKey(lnbits: LnbitsClient, key: string, walletId: string | undefined): Promise<KeyCheck> {
  try {
    const w = await lnbits.getWallet(key);
    if (w.id === null) return { status: 'fail', detail: 'this is not an admin key (LNbits does not reveal the wallet id to it): it is an invoice key' };
    if (walletId !== undefined && w.id !== walletId) return { status: 'fail', detail: `admin key of wallet ${w.id}, not of the configured wallet ${walletId}` };
    return { status: 'ok', detail: `admin key of wallet ${w.id} ("${w.name}")`, walletName: w.name, balanceMsat: w.balanceMsat };
  } catch (err) {
    const known = unreachable(err) ?? rejected(err);
    if (known) return known;
    throw err;
  }
}

/** The key must be an invoice key (not an admin key: it must not be able to spend) of `walletId`. */
export async function checkInvoiceKey(lnbits: LnbitsClient, key: string, walletId: string | undefined): Promise<KeyCheck> {
  try {
    const w = await lnbits.getWallet(key);
    if (w.id !== null) return { status: 'fail', detail: `this is an ADMIN key (of wallet ${w.id}); give the wallet's invoice key — an admin key can spend` };
    if (walletId === undefined) return { status: 'ok', detail: `invoice key of wallet "${w.name}" (no wallet id configured to compare)`, walletName: w.name, balanceMsat: w.balanceMsat };
    const invoice = await lnbits.createInvoice(key, { amountSats: 1, memo: 'satmachine key check (never paid)', extra: { satmachine: 'key-check' } });
    // Read through the payments list: it never changes the row (a by-hash look-up may re-check it).
    const payment = (await lnbits.paymentRows(key, invoice.paymentHash))[0];
    if (!payment) return { status: 'fail', detail: 'LNbits did not find the key-check invoice it just created' };
    if (payment.walletId !== walletId) return { status: 'fail', detail: `invoice key of wallet ${payment.walletId}, not of wallet ${walletId}` };
    return { status: 'ok', detail: `invoice key of wallet ${walletId} ("${w.name}")`, walletName: w.name, balanceMsat: w.balanceMsat };
  } catch (err) {
    const known = unreachable(err) ?? rejected(err);
    if (known) return known;
    throw err;
  }
}
