/**
 * Linking imported clients' wallets without anyone handing keys around: the old system stored each client's
 * LNbits user id and wallet id; LNbits' users API (superuser bearer token) lists that user's wallets with their
 * keys. The invoice key found there is checked exactly like `clients add` checks a typed one
 * (client/lnbits-keys.ts), and only then used. Keys never leave this process except encrypted into the ledger.
 */
import type { LnbitsClient } from '../adapters/lnbits/client';
import { LnbitsTransientError } from '../adapters/lnbits/errors';
import { checkInvoiceKey } from './lnbits-keys';

export type WalletLink = { linked: true; invoiceKey: string; detail: string } | { linked: false; reason: string };

/** A link failure that concerns LNbits as a whole (unreachable, token refused): the import stops. */
export class WalletLookupError extends Error {
  override name = 'WalletLookupError';
  constructor(message: string, readonly unreachable: boolean) {
    super(message);
  }
}

export async function resolveWalletKeys(
  lnbits: LnbitsClient,
  superuserToken: string | undefined,
  clients: Array<{ legacyId: string; userId: string; walletId: string }>,
): Promise<Map<string, WalletLink>> {
  const out = new Map<string, WalletLink>();
  if (!superuserToken) {
    for (const c of clients) out.set(c.legacyId, { linked: false, reason: 'no LNbits superuser token configured (LNBITS_SUPERUSER_TOKEN)' });
    return out;
  }
  const byUser = new Map<string, Awaited<ReturnType<LnbitsClient['getUserWallets']>>>();
  for (const c of clients) {
    let wallets = byUser.get(c.userId);
    if (wallets === undefined) {
      try {
        wallets = await lnbits.getUserWallets(superuserToken, c.userId);
      } catch (err) {
        throw new WalletLookupError(`LNbits users API (wallets of user ${c.userId}): ${(err as Error).message}`, err instanceof LnbitsTransientError);
      }
      byUser.set(c.userId, wallets);
    }
    const wallet = wallets?.find((w) => w.id === c.walletId);
    if (!wallets) out.set(c.legacyId, { linked: false, reason: `LNbits has no user ${c.userId}` });
    else if (!wallet) out.set(c.legacyId, { linked: false, reason: `LNbits user ${c.userId} has no wallet ${c.walletId}` });
    else if (wallet.deleted) out.set(c.legacyId, { linked: false, reason: `wallet ${c.walletId} was deleted in LNbits (an LNbits admin can restore it; the next --apply then links it)` });
    else {
      const check = await checkInvoiceKey(lnbits, wallet.invoiceKey, c.walletId);
      if (check.status === 'unreachable') throw new WalletLookupError(`LNbits: ${check.detail}`, true);
      out.set(c.legacyId, check.status === 'ok' ? { linked: true, invoiceKey: wallet.invoiceKey, detail: check.detail } : { linked: false, reason: `key check failed: ${check.detail}` });
    }
  }
  return out;
}
