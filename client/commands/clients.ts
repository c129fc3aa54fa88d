/**
 * `satmachine clients add|list|show|set-status|set-key|set-wallet|repair-balance`. A client is named by its id
 * or its unique name. The invoice key comes from an environment variable, a file
 * or stdin (never the command line: shell history), is verified with LNbits to be an invoice key of the
 * given wallet, and is stored encrypted (adapters/ledger/clients.ts). Changes are recorded in operator_events.
 */
import type { Command } from 'commander';
import { z } from 'zod';
import { balanceHistory, CLIENT_MODES, CLIENT_STATUSES, findClient, getClient, listClients, type ClientRow } from '../../adapters/ledger';
import { repairBalance } from '../../adapters/ledger/balance-repair';
import { setClientInvoiceKey, setClientWallet } from '../../adapters/ledger/clients';
import { resolveAlertsLike } from '../../adapters/ledger/alert-lifecycle';
import { recordOperatorEvent } from '../../adapters/ledger/operator-control';
import { parseArgs, readSecret, formatFiat } from '../args';
import { addVerifiedClient, assertSupportedMode, changeClientStatus } from '../client-actions';
import { withContext } from '../context';
import { registerStatementLink } from './statement-link';
import { checkInvoiceKey } from '../lnbits-keys';
import { clientTotals, listDeposits } from '../ledger-views';
import { CliError, EXIT, cliEnv, kv, print, progress, table } from '../output';

const addArgs = z.object({
  name: z.string({ error: '--name is required' }).trim().min(1, '--name: must not be empty'),
  walletId: z.string({ error: '--wallet-id is required' }).trim().min(1, '--wallet-id: must not be empty'),
  currency: z.string().regex(/^[A-Z]{3}$/, '--currency: expected a 3-letter code like GTQ').optional(),
  mode: z.enum(CLIENT_MODES, { error: `--mode: one of ${CLIENT_MODES.join(', ')}` }).default('flow'),
  invoiceKeyEnv: z.string().optional(),
  invoiceKeyFile: z.string().optional(),
  invoiceKeyStdin: z.boolean().optional(),
  actor: z.string().optional(),
  json: z.boolean().default(false),
});

export function formatClient(c: ClientRow, decimals: number): Array<string | number> {
  return [c.id, c.name, c.walletId, c.status, c.mode, `${formatFiat(c.balance, decimals)} ${c.currency}`];
}

export function registerClients(program: Command): void {
  const clients = program.command('clients').description('DCA clients');
  registerStatementLink(clients);

  clients
    .command('add')
    .description('add a client; its LNbits invoice key is read from --invoice-key-env VAR, --invoice-key-file PATH or --invoice-key-stdin and verified with LNbits')
    .option('--name <name>', 'client name')
    .option('--wallet-id <id>', "the client's LNbits wallet id")
    .option('--currency <code>', 'balance currency (default: config lamassu.fiatCode)')
    .option('--mode <mode>', `${CLIENT_MODES.join(' | ')} (default flow)`)
    .option('--invoice-key-env <var>', 'environment variable holding the invoice key')
    .option('--invoice-key-file <path>', 'file holding the invoice key')
    .option('--invoice-key-stdin', 'read the invoice key from stdin')
    .option('--actor <name>', 'who (default: the OS user)')
    .option('--json', 'print JSON')
    .action((raw: Record<string, unknown>) =>
      withContext(async (ctx) => {
        const o = parseArgs(addArgs, raw);
        assertSupportedMode(o.mode);
        const invoiceKey = await readSecret({ env: o.invoiceKeyEnv, file: o.invoiceKeyFile, stdin: o.invoiceKeyStdin }, 'invoice-key', cliEnv());
        const { client, keyCheck } = await addVerifiedClient(ctx, { name: o.name, walletId: o.walletId, invoiceKey, currency: o.currency, mode: o.mode }, ctx.actor(o.actor));
        print(o.json, client, () => `client ${client.id} added (${client.name}, wallet ${client.walletId}, ${client.currency}, ${client.mode}); invoice key verified: ${keyCheck}`);
      }),
    );

  clients
    .command('list')
    .description('all clients with their balances')
    .option('--json', 'print JSON')
    .action((o: { json?: boolean }) =>
      withContext(async (ctx) => {
        const rows = await listClients(ctx.pool());
        const d = ctx.config.lamassu.fiatDecimals;
        print(Boolean(o.json), rows, () => (rows.length ? table(['id', 'name', 'wallet', 'status', 'mode', 'balance'], rows.map((c) => formatClient(c, d))) : 'no clients'));
      }),
    );

  clients
    .command('show <client>')
    .description('one client: balance, totals, deposits, payouts, balance history')
    .option('--json', 'print JSON')
    .action((id: string, o: { json?: boolean }) =>
      withContext(async (ctx) => {
        const clientId = (await findClient(ctx.pool(), id)).id;
        const pool = ctx.pool();
        const client = await getClient(pool, clientId);
        const [totals, deposits, payouts, history] = await Promise.all([
          clientTotals(pool, clientId),
          listDeposits(pool, { clientId, limit: 20 }),
          pool.query(
            `SELECT p.id, t.lamassu_id, p.amount_sats, p.fiat_debit_minor, p.status, p.payment_hash, p.created_at
               FROM satoshimachine.payments p JOIN satoshimachine.lamassu_transactions t ON t.id = p.transaction_id
              WHERE p.client_id = $1 ORDER BY p.created_at DESC LIMIT 20`,
            [clientId],
          ),
          balanceHistory(pool, clientId),
        ]);
        const d = ctx.config.lamassu.fiatDecimals;
        const recentPayouts = payouts.rows.map((r) => ({
          id: String(r.id), lamassuId: String(r.lamassu_id), amountSats: Number(r.amount_sats), fiatDebitMinor: Number(r.fiat_debit_minor),
          status: String(r.status), paymentHash: (r.payment_hash as string | null) ?? null, createdAt: (r.created_at as Date).toISOString(),
        }));
        print(Boolean(o.json), { ...client, totals, deposits, payouts: recentPayouts, balanceHistory: history.slice(-20) }, () =>
          [
            kv([
              ['id', client.id], ['name', client.name], ['wallet', client.walletId], ['status', client.status], ['mode', client.mode],
              ['balance', `${formatFiat(client.balance, d)} ${client.currency}`],
              ['confirmed deposits', formatFiat(totals.confirmedDepositsFiatMinor, d)],
              ['adjustments', formatFiat(totals.adjustmentsFiatMinor, d)],
              ['paid', `${totals.paidSats} sats for ${formatFiat(totals.paidFiatMinor, d)}`],
              ['pending deposits', totals.pendingDeposits], ['open payouts', totals.openPayouts],
            ]),
            '',
            'deposits:',
            deposits.length ? table(['id', 'amount', 'status', 'created', 'confirmed'], deposits.map((x) => [x.id, formatFiat(x.amountFiatMinor, d), x.status, x.createdAt, x.confirmedAt])) : '  none',
            '',
            'payouts:',
            recentPayouts.length ? table(['lamassu tx', 'sats', 'fiat debit', 'status', 'payment hash'], recentPayouts.map((p) => [p.lamassuId, p.amountSats, formatFiat(p.fiatDebitMinor, d), p.status, p.paymentHash])) : '  none',
            '',
            'balance history (last 20):',
            history.length
              ? table(['at', 'reason', 'change', 'balance'], history.slice(-20).map((h) => [h.at, h.reason, formatFiat(h.delta, d), formatFiat(h.after, d)]))
              : '  none',
          ].join('\n'),
        );
      }),
    );

  clients
    .command('set-status <client> <status>')
    .description(`set a client's status: ${CLIENT_STATUSES.join(' | ')} (paused/closed clients take no part in new cash-outs)`)
    .option('--reason <text>', 'why (recorded)')
    .option('--force', 'close a client that still has a balance')
    .option('--actor <name>', 'who (default: the OS user)')
    .option('--json', 'print JSON')
    .action((id: string, status: string, o: { reason?: string; force?: boolean; actor?: string; json?: boolean }) =>
      withContext(async (ctx) => {
        const clientId = (await findClient(ctx.pool(), id)).id;
        const s = parseArgs(z.enum(CLIENT_STATUSES, { error: `<status>: one of ${CLIENT_STATUSES.join(', ')}` }), status);
        const { before, after, closedWithBalance } = await changeClientStatus(ctx, clientId, s, o.reason, ctx.actor(o.actor), { force: o.force });
        if (closedWithBalance) progress(`client ${before.name} closed with a balance of ${closedWithBalance} (--force)`);
        print(Boolean(o.json), after, () => `client ${clientId}: ${before.status} → ${after.status}`);
      }),
    );

  clients
    .command('set-key <client>')
    .description("replace a client's LNbits invoice key (after the client rotated it); read like `add` and verified with LNbits")
    .option('--invoice-key-env <var>', 'environment variable holding the invoice key')
    .option('--invoice-key-file <path>', 'file holding the invoice key')
    .option('--invoice-key-stdin', 'read the invoice key from stdin')
    .option('--actor <name>', 'who (default: the OS user)')
    .option('--json', 'print JSON')
    .action((id: string, o: { invoiceKeyEnv?: string; invoiceKeyFile?: string; invoiceKeyStdin?: boolean; actor?: string; json?: boolean }) =>
      withContext(async (ctx) => {
        const clientId = (await findClient(ctx.pool(), id)).id;
        const invoiceKey = await readSecret({ env: o.invoiceKeyEnv, file: o.invoiceKeyFile, stdin: o.invoiceKeyStdin }, 'invoice-key', cliEnv());
        if (!ctx.config.encryptionKey) throw new CliError('encryptionKey: required to store invoice keys (SATMACHINE_ENCRYPTION_KEY)', EXIT.usage);
        const pool = ctx.pool();
        const before = await getClient(pool, clientId);
        const check = await checkInvoiceKey(ctx.lnbits(), invoiceKey, before.walletId);
        if (check.status === 'unreachable') throw new CliError(`cannot verify the invoice key: ${check.detail}`, EXIT.unavailable);
        if (check.status !== 'ok') throw new CliError(`invoice key refused: ${check.detail}`, EXIT.usage);
        const after = await setClientInvoiceKey(pool, clientId, invoiceKey, ctx.config.encryptionKey);
        await recordOperatorEvent(pool, ctx.actor(o.actor), 'client-key-replaced', { clientId, walletId: after.walletId });
        // The cause of "LNbits rejected the client's key" is fixed: its alert is resolved.
        await resolveAlertsLike(pool, `client-wallet-rejected:${clientId}`, ctx.actor(o.actor), 'new invoice key verified (clients set-key)');
        print(Boolean(o.json), after, () => `client ${clientId}: invoice key replaced and verified (${check.detail}); status ${after.status} — \`clients set-status ${clientId} active\` if it was paused`);
      }),
    );

  clients
    .command('set-wallet <client>')
    .description("move a client to another LNbits wallet (after its wallet was deleted); the new invoice key is read like `add` and verified against the NEW wallet; failed payouts retried afterwards go to the new wallet")
    .option('--wallet-id <id>', 'the new LNbits wallet id')
    .option('--invoice-key-env <var>', 'environment variable holding the new invoice key')
    .option('--invoice-key-file <path>', 'file holding the new invoice key')
    .option('--invoice-key-stdin', 'read the new invoice key from stdin')
    .option('--reason <text>', 'why (recorded)')
    .option('--actor <name>', 'who (default: the OS user)')
    .option('--json', 'print JSON')
    .action((id: string, o: { walletId?: string; invoiceKeyEnv?: string; invoiceKeyFile?: string; invoiceKeyStdin?: boolean; reason?: string; actor?: string; json?: boolean }) =>
      withContext(async (ctx) => {
        const walletId = parseArgs(z.string({ error: '--wallet-id is required' }).trim().min(1, '--wallet-id: must not be empty'), o.walletId);
        const pool = ctx.pool();
        const before = await findClient(pool, id);
        const invoiceKey = await readSecret({ env: o.invoiceKeyEnv, file: o.invoiceKeyFile, stdin: o.invoiceKeyStdin }, 'invoice-key', cliEnv());
        if (!ctx.config.encryptionKey) throw new CliError('encryptionKey: required to store invoice keys (SATMACHINE_ENCRYPTION_KEY)', EXIT.usage);
        const check = await checkInvoiceKey(ctx.lnbits(), invoiceKey, walletId);
        if (check.status === 'unreachable') throw new CliError(`cannot verify the invoice key: ${check.detail}`, EXIT.unavailable);
        if (check.status !== 'ok') throw new CliError(`invoice key refused: ${check.detail}`, EXIT.usage);
        const after = await setClientWallet(pool, before.id, walletId, invoiceKey, ctx.config.encryptionKey).catch((err: unknown) => {
          if ((err as { constraint?: string }).constraint === 'clients_wallet_id_key') throw new CliError(`--wallet-id: wallet ${walletId} already belongs to a client`, EXIT.usage);
          throw err;
        });
        await recordOperatorEvent(pool, ctx.actor(o.actor), 'client-wallet-replaced', { clientId: before.id, fromWalletId: before.walletId, toWalletId: walletId, reason: o.reason ?? null });
        await resolveAlertsLike(pool, `client-wallet-rejected:${before.id}`, ctx.actor(o.actor), `moved to wallet ${walletId} (clients set-wallet)`);
        print(Boolean(o.json), after, () =>
          `client ${after.name} (${after.id}): wallet ${before.walletId} → ${walletId}, invoice key verified (${check.detail}); status ${after.status}` +
          (after.status === 'active' ? '' : ` — \`satmachine clients set-status ${after.id} active\` to include it again`),
        );
      }),
    );

  clients
    .command('repair-balance <client>')
    .description("set the stored balance to the one derived from deposits, payouts and adjustments (reconciliation's balance-mismatch), as an audited correction entry")
    .option('--reason <text>', 'why (required; recorded with the correction)')
    .option('--dry-run', 'show the correction without writing it')
    .option('--actor <name>', 'who (default: the OS user)')
    .option('--json', 'print JSON')
    .action((id: string, o: { reason?: string; dryRun?: boolean; actor?: string; json?: boolean }) =>
      withContext(async (ctx) => {
        if (!o.reason?.trim()) throw new CliError('--reason is required: every correction says why', EXIT.usage);
        const pool = ctx.pool();
        const client = await findClient(pool, id);
        const r = await repairBalance(pool, { clientId: client.id, reason: o.reason, actor: ctx.actor(o.actor), dryRun: Boolean(o.dryRun) });
        const d = ctx.config.lamassu.fiatDecimals;
        const money = (v: string | number) => `${formatFiat(v, d)} ${client.currency}`;
        print(Boolean(o.json), r, () =>
          r.deltaFiatMinor === '0'
            ? `client ${client.name} (${client.id}): stored balance ${money(r.storedBeforeFiatMinor)} = derived: nothing to repair`
            : r.correctionId
              ? `client ${client.name} (${client.id}): stored balance ${money(r.storedBeforeFiatMinor)} → ${money(r.derivedFiatMinor)} (derived from deposits, payouts and adjustments; correction ${r.correctionId}, change ${formatFiat(r.deltaFiatMinor, d)})`
              : `client ${client.name} (${client.id}): would set the stored balance ${money(r.storedBeforeFiatMinor)} → ${money(r.derivedFiatMinor)} (dry run, nothing written)`,
        );
      }),
    );
}
