/**
 * `satmachine import satmachineadmin --from <LNbits database URL | SQLite file or data folder> [--apply]`:
 * go-live from the LNbits extension. Reads its tables read-only, prints the dry-run report, and with --apply
 * writes clients, deposits and opening balances in one ledger transaction (adapters/ledger/legacy-import.ts),
 * links wallets through LNbits' users API, stores the cut-over, then reconciles the ledger. Idempotent.
 * See docs/migration.md for the procedure.
 */
import type { Command } from 'commander';
import { z } from 'zod';
import { readLegacySnapshot, LegacyLayoutError, isPostgresUrl } from '../../adapters/legacy';
import { effectivePayFrom, getStoredCutover } from '../../adapters/ledger/cutover';
import { applyLegacyImport, importedBalances, linkImportedClientKey, readImportState, unlinkedImportedClients, walletConflicts, type ApplyResult } from '../../adapters/ledger/legacy-import';
import { beginReport, finishReport, reconcileLedger } from '../../adapters/ledger/reconciliation';
import { showDecimal } from '../../domain/legacy-amounts';
import { buildLegacyPlan, type ImportFinding, type LegacyPlan } from '../../domain/legacy-plan';
import { parseArgs } from '../args';
import { type Context, withContext } from '../context';
import { formatImportReport, linkCommands, type ImportReport, type ParityRow } from '../legacy-report';
import { resolveWalletKeys, WalletLookupError, type WalletLink } from '../legacy-wallets';
import { CliError, EXIT, print, setExitCode } from '../output';

const importArgs = z.object({
  from: z.string({ error: '--from is required (LNbits database URL, or its SQLite file / data folder)' }).trim().min(1, '--from: must not be empty'),
  schema: z.string().regex(/^[a-z_][a-z0-9_]*$/, '--schema: a plain schema name').optional(),
  amountUnit: z.enum(['major', 'minor'], { error: '--amount-unit: major or minor' }).default('major'),
  apply: z.boolean().default(false),
  actor: z.string().optional(),
  json: z.boolean().default(false),
});

/** Reading the old database: its own failures name --from (never the ledger), and say what kind of failure. */
async function readOld(from: string, schema: string | undefined) {
  try {
    return await readLegacySnapshot(from, schema);
  } catch (err) {
    if (err instanceof LegacyLayoutError) throw new CliError(err.message, EXIT.usage);
    const e = err as { code?: string; message?: string };
    const where = isPostgresUrl(from) ? 'the LNbits database (--from)' : `--from ${from}`;
    throw new CliError(`cannot read ${where}: ${e.message ?? e.code ?? String(err)}`, e.code && /^(ECONN|ENOTFOUND|ETIMEDOUT|57P|28)/.test(e.code) ? EXIT.unavailable : EXIT.usage);
  }
}

async function ledgerState(ctx: Context) {
  try {
    return await readImportState(ctx.pool());
  } catch (err) {
    if ((err as { code?: string }).code === '42P01') throw new CliError('the ledger lacks the import tables: run `npx satmachine setup` (migrations) first', EXIT.usage);
    throw err;
  }
}

async function reconcileAfterImport(ctx: Context): Promise<{ findings: number; counts: Record<string, number> }> {
  const pool = ctx.pool();
  const { reportId } = await beginReport(pool, `import-satmachineadmin-${new Date().toISOString()}`);
  const r = await reconcileLedger(pool, { reportId, pendingDepositHours: ctx.config.alerts.pendingDepositHours });
  await finishReport(pool, reportId, r.findings, { ...r.summary, source: 'import satmachineadmin' });
  return { findings: Object.values(r.counts).reduce((s, n) => s + n, 0), counts: r.counts };
}

async function runImport(ctx: Context, o: z.infer<typeof importArgs>): Promise<void> {
  const { fiatCode, fiatDecimals } = ctx.config.lamassu;
  const plan: LegacyPlan = buildLegacyPlan(await readOld(o.from, o.schema), { fiatCode, fiatDecimals, unit: o.amountUnit });
  const state = await ledgerState(ctx);
  const findings: ImportFinding[] = [...plan.findings];
  for (const x of walletConflicts(plan, state)) {
    findings.push({ severity: 'blocking', kind: 'wallet-taken', subject: x.legacyId, message: `wallet ${x.walletId} of old client ${x.legacyId} already belongs to ledger client ${x.clientId}, which was not imported` });
  }
  for (const c of plan.clients.filter((x) => state.clients.has(x.legacyId))) {
    for (const d of c.deposits.filter((x) => !state.deposits.has(x.legacyId))) {
      findings.push({ severity: 'warning', kind: 'changed-since-import', subject: d.legacyId, message: `deposit ${d.legacyId} of client ${c.legacyId} appeared after the client was imported: not imported (add it with \`satmachine deposits add\` if it is real)` });
    }
  }
  const blocking = findings.filter((f) => f.severity === 'blocking').length;

  // New clients, and clients imported earlier that still have no key (their wallet may resolve now).
  const keyless = new Set((await unlinkedImportedClients(ctx.pool())).map((u) => u.legacyId));
  const toLink = plan.clients.filter((c) => !state.clients.has(c.legacyId) || keyless.has(c.legacyId));
  let links: Map<string, WalletLink>;
  try {
    links = await resolveWalletKeys(ctx.lnbits(), ctx.config.lnbits.superuserToken, toLink);
  } catch (err) {
    if (err instanceof WalletLookupError) throw new CliError(`linking wallets: ${err.message}`, err.unreachable ? EXIT.unavailable : EXIT.usage);
    throw err;
  }

  let applied: ApplyResult | null = null;
  const linkedLater: string[] = [];
  if (o.apply && blocking === 0) {
    const keys = new Map([...links].flatMap(([id, l]) => (l.linked ? [[id, l.invoiceKey] as const] : [])));
    if (keys.size && !ctx.config.encryptionKey) throw new CliError('encryptionKey: required to store invoice keys (SATMACHINE_ENCRYPTION_KEY)', EXIT.usage);
    applied = await applyLegacyImport(ctx.pool(), plan, { actor: ctx.actor(o.actor), encryptionKey: ctx.config.encryptionKey ?? '', currency: fiatCode, keys });
    for (const c of plan.clients.filter((x) => keyless.has(x.legacyId) && keys.has(x.legacyId))) {
      const clientId = state.clients.get(c.legacyId)!;
      if (await linkImportedClientKey(ctx.pool(), clientId, c.walletId, keys.get(c.legacyId)!, c.wantsActive, { actor: ctx.actor(o.actor), encryptionKey: ctx.config.encryptionKey ?? '' })) linkedLater.push(c.legacyId);
    }
  }

  const pool = ctx.pool();
  const balances = await importedBalances(pool);
  const createdNow = new Set(applied?.created.map((c) => c.legacyId) ?? []);
  const clients: ParityRow[] = plan.clients.map((c) => {
    const inLedger = balances.get(c.legacyId);
    const link = links.get(c.legacyId);
    const ledgerBalance = inLedger ? inLedger.balance : c.openingMinor;
    return {
      legacyId: c.legacyId, name: c.name, walletId: c.walletId,
      confirmedMinor: c.confirmedMinor.toString(), pendingMinor: c.pendingMinor.toString(), paidMinor: showDecimal(c.paidMinor), paidSats: c.paidSats.toString(),
      oldBalanceMinor: showDecimal(c.oldBalance), ledgerBalanceMinor: ledgerBalance.toString(),
      ledgerState: !inLedger ? 'planned' : createdNow.has(c.legacyId) ? 'imported' : 'imported-earlier',
      clientId: inLedger?.clientId ?? null,
      status: inLedger?.status ?? (link?.linked && c.wantsActive ? 'active' : 'paused'),
      key: linkedLater.includes(c.legacyId) ? 'linked via LNbits now' : link ? (link.linked ? (!inLedger ? 'resolved via LNbits (checked)' : createdNow.has(c.legacyId) ? 'linked via LNbits' : 'resolvable (--apply links it)') : 'NOT LINKED') : 'linked earlier',
      matches: ledgerBalance === c.openingMinor,
    };
  });
  // Not linked: clients still to import whose wallet did not resolve (dry run, or a blocked --apply), and ledger clients without a key.
  const reasonOf = (legacyId: string) => {
    const link = links.get(legacyId);
    return link && !link.linked ? link.reason : 'no invoice key linked yet';
  };
  const unlinked: ImportReport['unlinked'] = [
    ...plan.clients.filter((c) => !balances.has(c.legacyId) && links.get(c.legacyId)?.linked === false).map((c) => ({ legacyId: c.legacyId, clientId: null, name: c.name, walletId: c.walletId })),
    ...(await unlinkedImportedClients(pool)),
  ].map((u) => ({ ...u, reason: reasonOf(u.legacyId), commands: linkCommands(u.clientId) }));

  const stored = await getStoredCutover(pool);
  const effective = await effectivePayFrom(pool, ctx.config.lamassu.payFrom);
  const report: ImportReport = {
    applied: Boolean(applied),
    location: plan.location,
    currency: fiatCode,
    clients,
    deposits: {
      confirmed: plan.clients.reduce((s, c) => s + c.deposits.filter((d) => d.status === 'confirmed').length, 0),
      pending: plan.clients.reduce((s, c) => s + c.deposits.filter((d) => d.status === 'pending').length, 0),
      other: plan.clients.reduce((s, c) => s + c.deposits.filter((d) => d.status === 'cancelled').length, 0),
    },
    paymentsByStatus: Object.fromEntries(Object.entries(plan.paymentsByStatus).map(([s, t]) => [s, { count: t.count, sats: t.sats.toString(), fiatMinor: showDecimal(t.fiatMinor) }])),
    cashOuts: {
      count: plan.cashOuts.length, newest: plan.cutover, alreadyRecorded: plan.cashOuts.filter((t) => state.cashOuts.has(t.lamassuId)).length,
      list: plan.cashOuts.map((t) => ({
        lamassuId: t.lamassuId, transactionTime: t.transactionTime, cryptoAtoms: t.cryptoAtoms?.toString() ?? null, baseSats: t.baseSats?.toString() ?? null,
        commissionSats: t.commissionSats?.toString() ?? null, distributedSats: t.distributedSats?.toString() ?? null,
      })),
    },
    payments: plan.payments.map((x) => ({ legacyId: x.legacyId, clientLegacyId: x.clientLegacyId, sats: x.amountSats.toString(), fiatMinor: showDecimal(x.fiatMinor), status: x.status, type: x.type, lamassuId: x.lamassuId })),
    findings,
    blocking,
    cutover: {
      fromOldSystem: plan.cutover,
      ledgerBefore: applied ? applied.cutover.before : (stored?.payFrom ?? null),
      ledgerAfter: applied ? applied.cutover.after : (stored?.payFrom ?? null),
      config: ctx.config.lamassu.payFrom ?? null,
      effective,
      setting: plan.cutover ? `LAMASSU_PAY_FROM=${plan.cutover}` : null,
    },
    unlinked,
    reconciliation: applied ? await reconcileAfterImport(ctx) : null,
  };
  print(o.json, report, () => formatImportReport(report, fiatDecimals));
  if (o.apply && blocking > 0) throw new CliError(`not applied: ${blocking} blocking inconsistenc${blocking === 1 ? 'y' : 'ies'} (see the report)`, EXIT.findings);
  if (blocking > 0 || clients.some((c) => c.ledgerState !== 'imported-earlier' && !c.matches) || (report.reconciliation?.findings ?? 0) > 0) setExitCode(EXIT.findings);
}

export function registerImport(program: Command): void {
  const imp = program.command('import').description('bring data over from the system this one replaces');
  imp
    .command('satmachineadmin')
    .description('import clients, deposits and balances of the LNbits extension satmachineadmin (dry run unless --apply); see docs/migration.md')
    .option('--from <source>', "LNbits' database: a postgres:// URL, or the SQLite file ext_satoshimachine.sqlite3 / LNbits' data folder")
    .option('--schema <name>', 'the extension schema (default: satoshimachine, else satmachineadmin)')
    .option('--amount-unit <unit>', 'what the old fiat amounts count: major (whole GTQ, the extension default) | minor (centavos)')
    .option('--apply', 'write into the ledger (one transaction; running it again changes nothing)')
    .option('--actor <name>', 'who (default: the OS user)')
    .option('--json', 'print JSON')
    .action((raw: Record<string, unknown>) => withContext(async (ctx) => runImport(ctx, parseArgs(importArgs, raw))));
}
