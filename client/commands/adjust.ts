/**
 * `satmachine adjust <client> <±amount> --reason …`: the runbook's balance correction as a compensating,
 * append-only adjustment entry (addAdjustment) — never an UPDATE of a balance or of history. The amount is
 * fiat with decimals ("-20.50"); a debit below zero is refused.
 */
import type { Command } from 'commander';
import { addAdjustment, findClient, getClient } from '../../adapters/ledger';
import { recordOperatorEvent } from '../../adapters/ledger/operator-control';
import { formatFiat, parseFiatAmount } from '../args';
import { withContext } from '../context';
import { CliError, EXIT, print } from '../output';

export function registerAdjust(program: Command): void {
  program
    .command('adjust <client> <amount>')
    .description('compensating balance adjustment in fiat: +credit / -debit, e.g. `adjust <client> -20.50 --reason "reconciliation 2026-11-28"`')
    .option('--reason <text>', 'why (required; recorded with the entry)')
    .option('--note <text>', 'longer note')
    .option('--actor <name>', 'who (default: the OS user)')
    .option('--json', 'print JSON')
    .action((client: string, amount: string, o: { reason?: string; note?: string; actor?: string; json?: boolean }) =>
      withContext(async (ctx) => {
        const clientId = (await findClient(ctx.pool(), client)).id;
        if (!o.reason?.trim()) throw new CliError('--reason is required: every adjustment says why', EXIT.usage);
        const amountMinor = parseFiatAmount(amount, ctx.config.lamassu.fiatDecimals, '<amount>', { signed: true });
        const pool = ctx.pool();
        const c = await getClient(pool, clientId);
        const actor = ctx.actor(o.actor);
        const { adjustment, change } = await addAdjustment(pool, { clientId, amount: amountMinor, reason: o.reason.trim(), note: o.note, actor });
        await recordOperatorEvent(pool, actor, 'adjustment', { adjustmentId: adjustment.id, clientId, amountFiatMinor: adjustment.amount, reason: adjustment.reason });
        const d = ctx.config.lamassu.fiatDecimals;
        print(Boolean(o.json), { adjustment, balanceBeforeFiatMinor: change.before, balanceAfterFiatMinor: change.after }, () =>
          `adjustment ${adjustment.id}: ${formatFiat(adjustment.amount, d)} ${c.currency} for ${c.name}; balance ${formatFiat(change.before, d)} → ${formatFiat(change.after, d)}`,
        );
      }),
    );
}
