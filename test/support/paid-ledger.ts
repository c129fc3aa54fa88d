/**
 * A ledger whose cash-outs were really paid through LNbits: clients with confirmed deposits, cash-outs with
 * the runbook commission split, reserved payouts, each paid from the source wallet to the recipient's
 * invoice and then marked completed with its payment hash. Used by the reconciliation and health tests.
 */
import { randomUUID } from 'node:crypto';
import type pg from 'pg';
import { createLnbitsClient } from '../../adapters/lnbits/client';
import {
  addDeposit, confirmDeposit, createClient, eligibleBalancesAt, listPayments, recordCommission, recordLamassuTransaction, reservePayouts,
  type LamassuTransactionInsert, type PaymentRow, type TransactionRow,
} from '../../adapters/ledger';
import { allocate } from '../../domain/allocation';
import { computeCommission } from '../../domain/commission';
import { fiatMinor } from '../../domain/money';
import { createWallet, type TestWallet } from './lnbits';
import { getStack } from './stack';

export const ENCRYPTION_KEY = 'e'.repeat(40);

export interface PaidLedger {
  pool: pg.Pool;
  source: TestWallet;
  commission: TestWallet;
  clients: Array<{ id: string; wallet: TestWallet }>;
}

export function txRow(over: Partial<LamassuTransactionInsert> = {}): LamassuTransactionInsert {
  return {
    lamassuId: randomUUID(), deviceId: 'dev1', cryptoAtoms: '21000', receivedCryptoAtoms: null, cryptoCode: 'BTC',
    fiat: '300.00000', fiatCode: 'GTQ', commissionPercentage: '0.05000', discount: 0, rawTickerPrice: null,
    fixedFee: null, lamassuStatus: 'confirmed', dispense: true, dispenseConfirmed: true, lamassuError: null,
    lamassuErrorCode: null, created: new Date().toISOString(), confirmedAt: new Date().toISOString(), ...over,
  };
}

/** Source wallet (funded), a fresh commission wallet and `clientCount` clients with 1000.00 GTQ each. */
export async function createPaidLedger(pool: pg.Pool, clientCount = 3): Promise<PaidLedger> {
  const { url, superuserToken } = getStack().lnbits;
  const source = await createWallet(url, superuserToken, { name: 'source', fundSats: 5_000_000 });
  const commission = await createWallet(url, superuserToken, { name: 'commission' });
  const clients: PaidLedger['clients'] = [];
  for (let i = 0; i < clientCount; i++) {
    const wallet = await createWallet(url, superuserToken, { name: `client-${i}` });
    const c = await createClient(pool, { name: `client ${i}`, walletId: wallet.id, invoiceKey: wallet.invoiceKey, currency: 'GTQ' }, ENCRYPTION_KEY);
    await confirmDeposit(pool, (await addDeposit(pool, { clientId: c.id, amount: fiatMinor(100_000) })).id);
    clients.push({ id: c.id, wallet });
  }
  return { pool, source, commission, clients };
}

/** Pays one payout from the source wallet to a new invoice of its recipient; returns the invoice. */
export async function payInvoiceFromSource(l: PaidLedger, p: Pick<PaymentRow, 'clientId' | 'kind' | 'amountSats'>): Promise<{ paymentHash: string; bolt11: string }> {
  const lnbits = createLnbitsClient({ url: getStack().lnbits.url });
  const to = p.kind === 'commission' ? l.commission : l.clients.find((c) => c.id === p.clientId)!.wallet;
  const inv = await lnbits.createInvoice(to.invoiceKey, { amountSats: p.amountSats, memo: 'test payout' });
  const out = await lnbits.payInvoice(l.source.adminKey, inv.bolt11);
  if (out.kind !== 'paid') throw new Error(`test payout not paid: ${JSON.stringify(out)}`);
  return { paymentHash: inv.paymentHash, bolt11: inv.bolt11 };
}

/** Pays one payout from the source wallet to its recipient's invoice; returns the payment hash. */
export async function payFromSource(l: PaidLedger, p: Pick<PaymentRow, 'clientId' | 'kind' | 'amountSats'>): Promise<string> {
  return (await payInvoiceFromSource(l, p)).paymentHash;
}

/** One cash-out recorded, split, reserved, paid and completed — what the cash-out workflow leaves behind. */
export async function paidCashOut(l: PaidLedger, over: Partial<LamassuTransactionInsert> = {}, opts: { pay?: boolean } = {}): Promise<{ tx: TransactionRow; payments: PaymentRow[] }> {
  const row = txRow(over);
  const { transaction } = await recordLamassuTransaction(l.pool, row);
  const commission = computeCommission({ cryptoAtoms: row.cryptoAtoms, commissionPercentage: row.commissionPercentage, discount: row.discount }, 'runbook');
  const tx = await recordCommission(l.pool, transaction.id, commission, fiatMinor(30_000));
  await l.pool.query(`UPDATE satoshimachine.lamassu_transactions SET status = 'processing' WHERE id = $1`, [tx.id]);
  const { rows } = await l.pool.query<{ t: Date }>('SELECT clock_timestamp() AS t');
  const balances = await eligibleBalancesAt(l.pool, rows[0]!.t.toISOString(), { currency: 'GTQ' });
  const allocation = allocate({ baseSats: tx.baseSats!, dispensedFiat: fiatMinor(30_000), clients: balances });
  await reservePayouts(l.pool, tx.id, allocation);
  if (opts.pay === false) return { tx, payments: await listPayments(l.pool, tx.id) };
  for (const p of await listPayments(l.pool, tx.id)) {
    if (p.status !== 'pending') continue;
    const inv = await payInvoiceFromSource(l, p);
    await l.pool.query(`UPDATE satoshimachine.payments SET status = 'completed', completed_at = now(), payment_hash = $2, bolt11 = $3, attempts = 1 WHERE id = $1`, [p.id, inv.paymentHash, inv.bolt11]);
  }
  await l.pool.query(`UPDATE satoshimachine.lamassu_transactions SET status = 'completed', completed_at = now() WHERE id = $1`, [tx.id]);
  return { tx, payments: await listPayments(l.pool, tx.id) };
}
