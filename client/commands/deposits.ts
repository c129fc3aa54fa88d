/**
 * `satmachine deposits add|confirm|cancel|list`. Amounts are typed in fiat with decimals ("1500.50") and
 * become minor units exactly (config.lamassu.fiatDecimals; more decimals than the currency has are refused).
 * Confirming credits the balance once and stamps confirmed_at once (adapters/ledger/deposits.ts).
 */
import type { Command } from 'commander';
import { z } from 'zod';
import { findClient } from '../../adapters/ledger';
import { formatFiat, parseArgs, parseFiatAmount, positiveIntArg, uuidArg } from '../args';
import { type Context, withContext } from '../context';
import { cancelDepositAs, confirmDepositAs, recordDeposit } from '../deposit-actions';
import { listDeposits } from '../ledger-views';
import { print, table } from '../output';

const STATUSES = ['pending', 'confirmed', 'cancelled'] as const;

/** `deposits <name> <deposit>`: an operator action on one deposit (`run` gets its validated id and the actor). */
function depositAction(
  deposits: Command,
  name: string,
  description: string,
  run: (ctx: Context, depositId: string, actor: string, json: boolean) => Promise<void>,
): void {
  deposits
    .command(`${name} <deposit>`)
    .description(description)
    .option('--actor <name>', 'who (default: the OS user)')
    .option('--json', 'print JSON')
    .action((id: string, o: { actor?: string; json?: boolean }) =>
      withContext((ctx) => run(ctx, parseArgs(uuidArg('<deposit>'), id), ctx.actor(o.actor), Boolean(o.json))),
    );
}

export function registerDeposits(program: Command): void {
  const deposits = program.command('deposits').description("clients' cash deposits");

  deposits
    .command('add <client> <amount>')
    .description('record a pending deposit, e.g. `deposits add <client> 1500.50` (in the client\'s currency)')
    .option('--note <text>', 'note kept with the deposit')
    .option('--confirm', 'confirm it at once (credits the balance)')
    .option('--actor <name>', 'who (default: the OS user)')
    .option('--json', 'print JSON')
    .action((client: string, amount: string, o: { note?: string; confirm?: boolean; actor?: string; json?: boolean }) =>
      withContext(async (ctx) => {
        const amountMinor = parseFiatAmount(amount, ctx.config.lamassu.fiatDecimals, '<amount>');
        const clientId = (await findClient(ctx.pool(), client)).id;
        const { client: c, deposit, balanceAfter } = await recordDeposit(ctx, { clientId, amountFiatMinor: amountMinor, note: o.note, confirm: o.confirm }, ctx.actor(o.actor));
        const d = ctx.config.lamassu.fiatDecimals;
        print(Boolean(o.json), { ...deposit, amountFiatMinor: deposit.amount, balanceAfterFiatMinor: balanceAfter }, () =>
          `deposit ${deposit.id}: ${formatFiat(deposit.amount, d)} ${c.currency} for ${c.name}, ${deposit.status}${balanceAfter !== null ? `; balance now ${formatFiat(balanceAfter, d)}` : ''}`,
        );
      }),
    );

  depositAction(deposits, 'confirm', "confirm a pending deposit: credits the client's balance (once; confirming again changes nothing)", async (ctx, depositId, actor, json) => {
    const { deposit, change } = await confirmDepositAs(ctx, depositId, actor);
    const d = ctx.config.lamassu.fiatDecimals;
    print(json, { ...deposit, amountFiatMinor: deposit.amount, alreadyConfirmed: change === null, balanceAfterFiatMinor: change?.after ?? null }, () =>
      change ? `deposit ${depositId} confirmed; balance ${formatFiat(change.before, d)} → ${formatFiat(change.after, d)}` : `deposit ${depositId} was already confirmed at ${deposit.confirmedAt}`,
    );
  });

  depositAction(deposits, 'cancel', 'cancel a pending deposit (a confirmed one is corrected with `satmachine adjust`)', async (ctx, depositId, actor, json) => {
    const deposit = await cancelDepositAs(ctx, depositId, actor);
    print(json, { ...deposit, amountFiatMinor: deposit.amount }, () => `deposit ${depositId} cancelled`);
  });

  deposits
    .command('list')
    .description('deposits, newest first')
    .option('--client <id>', 'only this client (id or name)')
    .option('--status <status>', STATUSES.join(' | '))
    .option('--limit <n>', 'at most N rows (default 100)')
    .option('--json', 'print JSON')
    .action((o: { client?: string; status?: string; limit?: string; json?: boolean }) =>
      withContext(async (ctx) => {
        const clientId = o.client === undefined ? undefined : (await findClient(ctx.pool(), o.client)).id;
        const status = o.status === undefined ? undefined : parseArgs(z.enum(STATUSES, { error: `--status: one of ${STATUSES.join(', ')}` }), o.status);
        const rows = await listDeposits(ctx.pool(), { clientId, status, limit: positiveIntArg(o.limit, '--limit') ?? 100 });
        const d = ctx.config.lamassu.fiatDecimals;
        print(Boolean(o.json), rows, () =>
          rows.length ? table(['id', 'client', 'amount', 'status', 'created', 'confirmed', 'note'], rows.map((r) => [r.id, r.clientName, `${formatFiat(r.amountFiatMinor, d)} ${r.currency}`, r.status, r.createdAt, r.confirmedAt, r.note])) : 'no deposits',
        );
      }),
    );
}
