/**
 * The import report of `satmachine import satmachineadmin`: the old system's clients, deposits, balances,
 * payments and cash-outs; every inconsistency; the old balance next to the ledger's (parity); the wallets that
 * could not be linked with the exact commands to link them by hand; the cut-over. Text or JSON.
 */
import type { Decimal } from '../domain/decimal';
import { formatDecimal } from '../domain/decimal';
import { isWholeDecimal } from '../domain/legacy-amounts';
import type { ImportFinding } from '../domain/legacy-plan';
import { formatFiat } from './args';
import { kv, table } from './output';

/** The human report lists this many of the newest handled cash-outs (the JSON has all). */
const CASHOUTS_SHOWN = 20;

export interface ParityRow {
  legacyId: string;
  name: string;
  walletId: string;
  confirmedMinor: string;
  pendingMinor: string;
  paidMinor: string;
  paidSats: string;
  oldBalanceMinor: string;
  /** The ledger's balance (after --apply, or of an earlier import) or the planned opening balance (dry run). */
  ledgerBalanceMinor: string;
  ledgerState: 'planned' | 'imported' | 'imported-earlier';
  clientId: string | null;
  status: string;
  key: string;
  /** The old balance floored to the minor unit (never below 0) equals the ledger's. */
  matches: boolean;
}

export interface ImportReport {
  applied: boolean;
  location: string;
  currency: string;
  clients: ParityRow[];
  deposits: { confirmed: number; pending: number; other: number };
  paymentsByStatus: Record<string, { count: number; sats: string; fiatMinor: string }>;
  cashOuts: { count: number; newest: string | null; alreadyRecorded: number; list: Array<{ lamassuId: string; transactionTime: string; cryptoAtoms: string | null; baseSats: string | null; commissionSats: string | null; distributedSats: string | null }> };
  payments: Array<{ legacyId: string; clientLegacyId: string; sats: string; fiatMinor: string; status: string; type: string | null; lamassuId: string | null }>;
  findings: ImportFinding[];
  blocking: number;
  cutover: { fromOldSystem: string | null; ledgerBefore: string | null; ledgerAfter: string | null; config: string | null; effective: string | null; setting: string | null };
  unlinked: Array<{ legacyId: string; clientId: string | null; name: string; walletId: string; reason: string; commands: string[] }>;
  reconciliation: { findings: number; counts: Record<string, number> } | null;
}

/** Minor units as an exact decimal → "150.75" (sub-cent digits shown when the old value had them). */
export function formatMinor(d: Decimal, decimals: number): string {
  if (isWholeDecimal(d)) return formatFiat(d.coefficient / 10n ** BigInt(d.scale), decimals);
  return formatDecimal({ coefficient: d.coefficient, scale: d.scale + decimals });
}

export function linkCommands(clientId: string | null): string[] {
  const id = clientId ?? '<client id printed by --apply>';
  return [
    `CLIENT_INVOICE_KEY=<the wallet's invoice key> npx satmachine clients set-key ${id} --invoice-key-env CLIENT_INVOICE_KEY`,
    `npx satmachine clients set-status ${id} active`,
  ];
}

export function formatImportReport(r: ImportReport, decimals: number): string {
  const money = (minor: string) => formatFiat(minor, decimals);
  const lines: string[] = [];
  lines.push(r.applied ? 'satmachineadmin import: APPLIED' : 'satmachineadmin import: DRY RUN (nothing written; --apply to import)');
  lines.push(kv([
    ['read from', r.location],
    ['clients', r.clients.length],
    ['deposits', `${r.deposits.confirmed} confirmed, ${r.deposits.pending} pending, ${r.deposits.other} other`],
    ['cash-outs handled', `${r.cashOuts.count} (newest ${r.cashOuts.newest ?? '-'})`],
    ...Object.entries(r.paymentsByStatus).map(([s, t]): [string, string] => [`payments ${s}`, `${t.count}: ${t.sats} sats for ${formatMinor(parseMinor(t.fiatMinor), decimals)} ${r.currency}`]),
  ]));
  lines.push('', `balances (${r.currency}): the old system's (confirmed deposits − confirmed payments) next to the ledger's`);
  lines.push(r.clients.length
    ? table(
      ['old id', 'name', 'deposits', 'pending', 'paid', 'sats paid', 'old balance', 'ledger', '', 'client', 'status', 'wallet key'],
      r.clients.map((c) => [c.legacyId, c.name, money(c.confirmedMinor), money(c.pendingMinor), formatMinor(parseMinor(c.paidMinor), decimals), c.paidSats,
        formatMinor(parseMinor(c.oldBalanceMinor), decimals), `${money(c.ledgerBalanceMinor)} (${c.ledgerState})`, c.matches ? '=' : '≠', c.clientId, c.status, c.key]),
    )
    : '  no clients');
  const shown = r.cashOuts.list.slice(-CASHOUTS_SHOWN);
  lines.push('', `cash-outs the old system handled (${r.cashOuts.list.length}${r.cashOuts.list.length > shown.length ? `, newest ${shown.length} shown; all with --json` : ''}):`);
  if (shown.length) lines.push(table(['lamassu id', 'confirmed', 'sats', 'base', 'commission', 'to clients'], shown.map((t) => [t.lamassuId, t.transactionTime, t.cryptoAtoms, t.baseSats, t.commissionSats, t.distributedSats])));
  const open = r.payments.filter((p) => p.status !== 'confirmed');
  if (open.length) {
    lines.push('', `payments the old system did not count (${open.length}; confirmed ones are summed per client above):`);
    lines.push(table(['payment', 'client', 'sats', 'fiat', 'status', 'cash-out'], open.map((p) => [p.legacyId, p.clientLegacyId, p.sats, formatMinor(parseMinor(p.fiatMinor), decimals), p.status, p.lamassuId])));
  }
  lines.push('', `inconsistencies: ${r.findings.length} (${r.blocking} blocking)`);
  if (r.findings.length) lines.push(table(['severity', 'kind', 'subject', 'message'], r.findings.map((f) => [f.severity, f.kind, f.subject, f.message])));
  if (r.unlinked.length) {
    lines.push('', `wallets not linked (${r.unlinked.length}): these clients stay paused until linked by hand:`);
    for (const u of r.unlinked) lines.push(`  ${u.name} (old ${u.legacyId}, wallet ${u.walletId}): ${u.reason}`, ...u.commands.map((c) => `    ${c}`));
  }
  lines.push('', kv([
    ['cut-over (old system)', r.cutover.fromOldSystem ?? 'none: set LAMASSU_PAY_FROM to when the old system stopped'],
    ['cut-over in ledger', r.applied ? `${r.cutover.ledgerBefore ?? '-'} → ${r.cutover.ledgerAfter ?? '-'}` : (r.cutover.ledgerBefore ?? '-')],
    ['LAMASSU_PAY_FROM (config)', r.cutover.config ?? '-'],
    ['poller pays from', `${r.cutover.effective ?? '-'} (the later of config and ledger)`],
  ]));
  if (r.cutover.setting) lines.push(`  to keep it in the config instead: ${r.cutover.setting}`);
  if (r.reconciliation) {
    lines.push('', r.reconciliation.findings === 0 ? 'ledger reconciliation after the import: clean' : `ledger reconciliation after the import: ${r.reconciliation.findings} finding(s) ${JSON.stringify(r.reconciliation.counts)}`);
  }
  return lines.join('\n');
}

/** The report carries exact minor-unit decimals as text ("15075", "15075.5", "-200"). */
export function parseMinor(text: string): Decimal {
  const m = /^(-?)(\d+)(?:\.(\d+))?$/.exec(text);
  if (!m) throw new Error(`not a decimal: ${text}`);
  const coefficient = BigInt(`${m[2]}${m[3] ?? ''}`);
  return { coefficient: m[1] ? -coefficient : coefficient, scale: (m[3] ?? '').length };
}
