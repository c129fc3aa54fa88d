/** LNbits wallets for tests, on the run's LNbits (see getStack().lnbits). */
import { z } from 'zod';
import { createLnbitsClient } from '../../adapters/lnbits/client';

export interface TestWallet {
  id: string;
  adminKey: string;
  invoiceKey: string;
  userId: string;
}

const accountSchema = z.object({ id: z.string().min(1), user: z.string().min(1), adminkey: z.string().min(1), inkey: z.string().min(1) });

/** A new LNbits user with one wallet (POST /api/v1/account, no auth), optionally funded by the superuser. */
export async function createWallet(url: string, superuserToken: string, opts: { name: string; fundSats?: number }): Promise<TestWallet> {
  const res = await fetch(`${url.replace(/\/+$/, '')}/api/v1/account`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ name: opts.name }),
    signal: AbortSignal.timeout(10_000),
  });
  if (res.status !== 200) throw new Error(`POST /api/v1/account: HTTP ${res.status} ${(await res.text()).slice(0, 300)}`);
  const a = accountSchema.parse(await res.json());
  const wallet = { id: a.id, adminKey: a.adminkey, invoiceKey: a.inkey, userId: a.user };
  if (opts.fundSats) await createLnbitsClient({ url }).creditWallet(superuserToken, wallet.id, opts.fundSats);
  return wallet;
}

/** Whole sats in the wallet; throws if the balance has a sub-sat remainder so no test silently rounds. */
export async function balanceSats(url: string, key: string): Promise<number> {
  const { balanceMsat } = await createLnbitsClient({ url }).getWallet(key);
  if (balanceMsat % 1000n !== 0n) throw new Error(`balance ${balanceMsat} msat is not whole sats`);
  return Number(balanceMsat / 1000n);
}
