/**
 * From the old satmachineadmin tables (as read, every value as exact text) to an import plan: clients, their
 * deposits, the balance the old system computed (confirmed deposits − confirmed payments, its
 * get_client_balance_summary), the opening balance we will hold, the cash-outs it handled, the cut-over, and
 * every inconsistency found. Pure: the readers and the ledger writer live in adapters/.
 */
import { z } from 'zod';
import { type Decimal } from './decimal';
import { BusinessError } from './errors';
import { type LegacyAmountUnit, ZERO, addDecimal, floorDecimal, negateDecimal, showDecimal, toMinorAmount, toUtcIso, toWholeSats } from './legacy-amounts';

export type RawRow = Record<string, string | null>;

export interface LegacySnapshot {
  /** Where the tables were read: `sqlite <file>` or `postgres <schema>` (no credentials). */
  location: string;
  clients: RawRow[];
  deposits: RawRow[];
  payments: RawRow[];
  cashOuts: RawRow[];
}

export type FindingSeverity = 'blocking' | 'warning' | 'info';
export interface ImportFinding {
  severity: FindingSeverity;
  kind: string;
  /** The old row's id (or a client's) the finding is about. */
  subject: string;
  message: string;
}

export interface PlannedDeposit {
  legacyId: string;
  amountMinor: bigint;
  status: 'pending' | 'confirmed' | 'cancelled';
  createdAt: string;
  confirmedAt: string | null;
  note: string | null;
}

export interface PlannedClient {
  legacyId: string;
  userId: string;
  walletId: string;
  name: string;
  mode: 'flow' | 'fixed';
  legacyStatus: string;
  /** The old system had it active: it becomes active here once its wallet key is linked. */
  wantsActive: boolean;
  deposits: PlannedDeposit[];
  confirmedMinor: bigint;
  pendingMinor: bigint;
  paidMinor: Decimal;
  paidSats: bigint;
  payments: number;
  /** The old system's remaining balance (exact, may have sub-cent digits or be negative). */
  oldBalance: Decimal;
  /** What we hold: the old balance floored to the minor unit, never below 0. */
  openingMinor: bigint;
  /** opening − confirmed deposits imported: the adjustment that carries the old payments over. */
  adjustmentMinor: bigint;
}

export interface PlannedCashOut {
  legacyId: string;
  lamassuId: string;
  transactionTime: string;
  cryptoAtoms: bigint | null;
  baseSats: bigint | null;
  commissionSats: bigint | null;
  distributedSats: bigint | null;
}

export interface PlannedPayment {
  legacyId: string;
  clientLegacyId: string;
  amountSats: bigint;
  fiatMinor: Decimal;
  status: string;
  type: string | null;
  lamassuId: string | null;
}

export interface PaymentTotals {
  count: number;
  sats: bigint;
  fiatMinor: Decimal;
}

export interface LegacyPlan {
  location: string;
  clients: PlannedClient[];
  cashOuts: PlannedCashOut[];
  paymentsByStatus: Record<string, PaymentTotals>;
  payments: PlannedPayment[];
  /** The newest cash-out the old system handled: the cut-over (null when it handled none). */
  cutover: string | null;
  findings: ImportFinding[];
}

export interface PlanOptions {
  fiatCode: string;
  fiatDecimals: number;
  unit: LegacyAmountUnit;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const text = z.string().trim().min(1);
const clientRow = z.object({ id: text, user_id: text, wallet_id: text, username: z.string().nullable(), dca_mode: z.string().nullable(), status: z.string().nullable() });
const depositRow = z.object({ id: text, client_id: text, amount: text, currency: z.string().nullable(), status: z.string().nullable(), notes: z.string().nullable(), created_at: text, confirmed_at: z.string().nullable() });
const paymentRow = z.object({ id: text, client_id: text, amount_sats: text, amount_fiat: text, status: z.string().nullable(), lamassu_transaction_id: z.string().nullable(), transaction_type: z.string().nullable() });
const cashOutRow = z.object({
  id: text, lamassu_transaction_id: text, transaction_time: text, crypto_amount: z.string().nullable(), base_amount_sats: z.string().nullable(),
  commission_amount_sats: z.string().nullable(), distributions_total_sats: z.string().nullable(), fiat_code: z.string().nullable(),
  fiat_amount: z.string().nullable().optional(),
});

/** Thrown for a field the reader could not even parse; the plan turns it into a blocking finding. */
class RowError extends BusinessError {
  override name = 'LegacyRowError';
}

function parseRow<T extends z.ZodType>(schema: T, row: RawRow, table: string): z.infer<T> {
  const r = schema.safeParse(row);
  if (r.success) return r.data;
  const issue = r.error.issues[0]!;
  throw new RowError(`${table} ${row.id ?? '(no id)'}: ${issue.path.join('.')}: ${issue.message}`, issue.path.join('.'));
}

export function buildLegacyPlan(snap: LegacySnapshot, opts: PlanOptions): LegacyPlan {
  const findings: ImportFinding[] = [];
  const find = (severity: FindingSeverity, kind: string, subject: string, message: string) => findings.push({ severity, kind, subject, message });
  /** Runs one row's conversion; a row that cannot be read is a blocking finding, never a silent skip. */
  const guarded = <T>(table: string, row: RawRow, fn: () => T): T | null => {
    try {
      return fn();
    } catch (err) {
      find('blocking', 'unreadable-row', String(row.id ?? '(no id)'), `${table}: ${(err as Error).message}`);
      return null;
    }
  };
  const minor = (text: string, field: string, subject: string) => {
    const m = toMinorAmount(text, opts.unit, opts.fiatDecimals, field);
    if (!m.isWhole) find('warning', 'amount-not-exact', subject, `${field} = ${text} is not exact to the minor unit (${showDecimal(m.exact)} minor units): carried exactly into the old balance, which is then floored`);
    return m;
  };

  const clients = new Map<string, PlannedClient>();
  const wallets = new Map<string, string>();
  for (const raw of snap.clients) {
    const c = guarded('dca_clients', raw, () => parseRow(clientRow, raw, 'dca_clients'));
    if (!c) continue;
    const other = wallets.get(c.wallet_id);
    if (other) find('blocking', 'duplicate-wallet', c.id, `clients ${other} and ${c.id} share LNbits wallet ${c.wallet_id}`);
    wallets.set(c.wallet_id, c.id);
    const mode = c.dca_mode === 'fixed' ? 'fixed' : 'flow';
    if (c.dca_mode !== null && c.dca_mode !== 'flow' && c.dca_mode !== 'fixed') find('warning', 'unknown-mode', c.id, `dca_mode ${JSON.stringify(c.dca_mode)} read as flow`);
    const status = c.status ?? 'active';
    clients.set(c.id, {
      legacyId: c.id, userId: c.user_id, walletId: c.wallet_id, mode, legacyStatus: status, wantsActive: status === 'active',
      name: c.username?.trim() || `satmachineadmin client ${c.id}`,
      deposits: [], confirmedMinor: 0n, pendingMinor: 0n, paidMinor: ZERO, paidSats: 0n, payments: 0, oldBalance: ZERO, openingMinor: 0n, adjustmentMinor: 0n,
    });
  }

  const exactDeposits = new Map<string, Decimal>();
  for (const raw of snap.deposits) {
    guarded('dca_deposits', raw, () => {
      const d = parseRow(depositRow, raw, 'dca_deposits');
      const client = clients.get(d.client_id);
      if (!client) return find('blocking', 'unknown-client', d.id, `deposit ${d.id} belongs to client ${d.client_id}, which is not in dca_clients`);
      const currency = d.currency ?? opts.fiatCode;
      if (currency !== opts.fiatCode) return find('blocking', 'currency-mismatch', d.id, `deposit ${d.id} is in ${currency}; this ledger holds ${opts.fiatCode}`);
      const amount = minor(d.amount, 'amount', d.id);
      if (amount.exact.coefficient < 0n) return find('blocking', 'negative-amount', d.id, `deposit ${d.id} has a negative amount ${d.amount}`);
      const createdAt = toUtcIso(d.created_at, 'created_at');
      const status = d.status === 'confirmed' || d.status === 'pending' ? d.status : 'cancelled';
      if (status === 'cancelled') find('info', 'deposit-not-counted', d.id, `deposit ${d.id} has status ${JSON.stringify(d.status)}: imported as cancelled (the old system never counted it)`);
      let confirmedAt: string | null = null;
      if (status === 'confirmed') {
        exactDeposits.set(client.legacyId, addDecimal(exactDeposits.get(client.legacyId) ?? ZERO, amount.exact));
        if (d.confirmed_at) confirmedAt = toUtcIso(d.confirmed_at, 'confirmed_at');
        else {
          confirmedAt = createdAt;
          find('warning', 'confirmed-without-time', d.id, `deposit ${d.id} is confirmed but has no confirmed_at: its created_at ${createdAt} is used`);
        }
      }
      if (amount.whole === 0n) return find('info', 'zero-deposit', d.id, `deposit ${d.id} of ${d.amount} is below one minor unit: not imported as a deposit (its value stays in the old balance)`);
      client.deposits.push({ legacyId: d.id, amountMinor: amount.whole, status, createdAt, confirmedAt, note: d.notes });
      if (status === 'confirmed') client.confirmedMinor += amount.whole;
      if (status === 'pending') client.pendingMinor += amount.whole;
    });
  }

  const paymentsByStatus: Record<string, PaymentTotals> = {};
  const payments: PlannedPayment[] = [];
  const paidSatsByTx = new Map<string, bigint>();
  const paidFiatByTx = new Map<string, Decimal>();
  for (const raw of snap.payments) {
    guarded('dca_payments', raw, () => {
      const p = parseRow(paymentRow, raw, 'dca_payments');
      const fiat = minor(p.amount_fiat, 'amount_fiat', p.id);
      const satsAmount = toWholeSats(p.amount_sats, 'amount_sats');
      const status = p.status ?? 'pending';
      const t = (paymentsByStatus[status] ??= { count: 0, sats: 0n, fiatMinor: ZERO });
      t.count++;
      t.sats += satsAmount;
      t.fiatMinor = addDecimal(t.fiatMinor, fiat.exact);
      payments.push({ legacyId: p.id, clientLegacyId: p.client_id, amountSats: satsAmount, fiatMinor: fiat.exact, status, type: p.transaction_type, lamassuId: p.lamassu_transaction_id });
      if (p.lamassu_transaction_id && status === 'confirmed') {
        paidSatsByTx.set(p.lamassu_transaction_id, (paidSatsByTx.get(p.lamassu_transaction_id) ?? 0n) + satsAmount);
        paidFiatByTx.set(p.lamassu_transaction_id, addDecimal(paidFiatByTx.get(p.lamassu_transaction_id) ?? ZERO, fiat.exact));
      }
      const client = clients.get(p.client_id);
      if (!client) return find('warning', 'unknown-client', p.id, `payment ${p.id} (${status}) names client ${p.client_id}, which is not in dca_clients: it changes no imported balance`);
      if (status !== 'confirmed') {
        return find('warning', 'payment-not-confirmed', p.id, `payment ${p.id} of ${p.amount_sats} sats to client ${p.client_id} is ${status}: the old system did not debit it (check in LNbits whether it was paid)`);
      }
      client.payments++;
      client.paidSats += satsAmount;
      client.paidMinor = addDecimal(client.paidMinor, fiat.exact);
    });
  }

  for (const client of clients.values()) {
    client.oldBalance = addDecimal(exactDeposits.get(client.legacyId) ?? ZERO, negateDecimal(client.paidMinor));
    const floored = floorDecimal(client.oldBalance);
    if (floored < 0n) find('warning', 'negative-balance', client.legacyId, `client ${client.legacyId} (${client.name}): the old system paid more than was deposited (balance ${showDecimal(client.oldBalance)} minor units): opening balance 0`);
    client.openingMinor = floored < 0n ? 0n : floored;
    client.adjustmentMinor = client.openingMinor - client.confirmedMinor;
    client.deposits.sort((a, b) => (a.confirmedAt ?? a.createdAt).localeCompare(b.confirmedAt ?? b.createdAt) || a.legacyId.localeCompare(b.legacyId));
  }

  const cashOuts: PlannedCashOut[] = [];
  for (const raw of snap.cashOuts) {
    guarded('lamassu_transactions', raw, () => {
      const t = parseRow(cashOutRow, raw, 'lamassu_transactions');
      const num = (v: string | null, f: string) => (v === null ? null : toWholeSats(v, f));
      const c: PlannedCashOut = {
        legacyId: t.id, lamassuId: t.lamassu_transaction_id.toLowerCase(), transactionTime: toUtcIso(t.transaction_time, 'transaction_time'),
        cryptoAtoms: num(t.crypto_amount, 'crypto_amount'), baseSats: num(t.base_amount_sats, 'base_amount_sats'),
        commissionSats: num(t.commission_amount_sats, 'commission_amount_sats'), distributedSats: num(t.distributions_total_sats, 'distributions_total_sats'),
      };
      if (!UUID.test(c.lamassuId)) return find('blocking', 'bad-lamassu-id', t.id, `lamassu_transaction_id ${JSON.stringify(t.lamassu_transaction_id)} is not a Lamassu uuid`);
      if (t.fiat_code && t.fiat_code !== opts.fiatCode) find('warning', 'currency-mismatch', t.id, `cash-out ${c.lamassuId} was in ${t.fiat_code}`);
      if (c.baseSats !== null && c.commissionSats !== null && c.cryptoAtoms !== null && c.baseSats + c.commissionSats !== c.cryptoAtoms) {
        find('warning', 'cashout-split', t.id, `cash-out ${c.lamassuId}: base ${c.baseSats} + commission ${c.commissionSats} ≠ crypto ${c.cryptoAtoms} sats`);
      }
      const paid = paidSatsByTx.get(t.lamassu_transaction_id) ?? 0n;
      if (c.distributedSats !== null && c.distributedSats !== paid) {
        find('warning', 'cashout-distribution', t.id, `cash-out ${c.lamassuId}: recorded ${c.distributedSats} sats distributed, confirmed payments sum to ${paid}`);
      }
      // The clients' cash funds the dispense: debiting them more fiat than the ATM dispensed takes money they still had.
      const paidFiat = paidFiatByTx.get(t.lamassu_transaction_id) ?? ZERO;
      if (t.fiat_amount) {
        const dispensed = toMinorAmount(t.fiat_amount, opts.unit, opts.fiatDecimals, 'fiat_amount').exact;
        if (addDecimal(paidFiat, negateDecimal(dispensed)).coefficient > 0n) {
          find('warning', 'cashout-fiat', t.id, `cash-out ${c.lamassuId}: clients were debited ${showDecimal(paidFiat)} minor units for ${showDecimal(dispensed)} dispensed`);
        }
      }
      if (c.baseSats !== null && paid > c.baseSats) find('warning', 'cashout-overpaid', t.id, `cash-out ${c.lamassuId}: clients were paid ${paid} sats of a base of ${c.baseSats}`);
      cashOuts.push(c);
    });
  }
  const handled = new Set(snap.cashOuts.map((r) => r.lamassu_transaction_id));
  for (const [txId] of paidSatsByTx) {
    if (!handled.has(txId)) find('warning', 'payment-without-cashout', txId, `confirmed payments name cash-out ${txId}, which is not in lamassu_transactions`);
  }
  cashOuts.sort((a, b) => a.transactionTime.localeCompare(b.transactionTime) || a.lamassuId.localeCompare(b.lamassuId));
  const cutover = cashOuts.length ? cashOuts[cashOuts.length - 1]!.transactionTime : null;
  if (!cutover) find('warning', 'no-cutover', '-', 'the old system recorded no cash-out: no cut-over is set; set LAMASSU_PAY_FROM to the time it stopped');
  return { location: snap.location, clients: [...clients.values()].sort((a, b) => a.name.localeCompare(b.name) || a.legacyId.localeCompare(b.legacyId)), cashOuts, paymentsByStatus, payments, cutover, findings };
}

export const isBlocked = (plan: { findings: ImportFinding[] }): boolean => plan.findings.some((f) => f.severity === 'blocking');
