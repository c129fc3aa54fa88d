/**
 * `satmachine payouts list [--status failed|pending] [--older-than 15m]`: the runbook's "stuck/failed
 * payments" query. Exit 1 when it lists any failed or stuck payout, so a cron job can alert on it.
 */
import type { Command } from 'commander';
import { z } from 'zod';
import { formatFiat, parseArgs, parseDuration, positiveIntArg } from '../args';
import { withContext } from '../context';
import { listPayouts } from '../ledger-views';
import { EXIT, print, setExitCode, table } from '../output';

const STATUSES = ['failed', 'pending', 'completed', 'cancelled'] as const;

export function registerPayouts(program: Command): void {
  program
    .command('payouts')
    .description('payouts to clients and the commission wallet')
    .command('list')
    .description('open payouts (pending and failed by default), oldest first; exit 1 when any is listed')
    .option('--status <status>', `${STATUSES.join(' | ')} (default: failed and pending)`)
    .option('--older-than <duration>', 'only payouts created before now minus this (15m, 2h, 1d)')
    .option('--limit <n>', 'at most N rows (default 200)')
    .option('--json', 'print JSON')
    .action((o: { status?: string; olderThan?: string; limit?: string; json?: boolean }) =>
      withContext(async (ctx) => {
        const statuses = o.status === undefined ? ['failed', 'pending'] : [parseArgs(z.enum(STATUSES, { error: `--status: one of ${STATUSES.join(', ')}` }), o.status)];
        const olderThanSeconds = o.olderThan === undefined ? undefined : parseDuration(o.olderThan, '--older-than');
        const rows = await listPayouts(ctx.pool(), { statuses, olderThanSeconds, limit: positiveIntArg(o.limit, '--limit') ?? 200 });
        const d = ctx.config.lamassu.fiatDecimals;
        print(Boolean(o.json), rows, () =>
          rows.length
            ? table(
                ['lamassu tx', 'kind', 'client', 'sats', 'fiat debit', 'status', 'age', 'attempts', 'payment hash', 'last error'],
                rows.map((p) => [p.lamassuId, p.kind, p.clientName ?? p.clientId, p.amountSats, formatFiat(p.fiatDebit, d), p.status, `${Math.floor(p.ageSeconds / 60)}m`, p.attempts, p.paymentHash, p.lastError]),
              )
            : 'no payouts',
        );
        if (rows.some((p) => p.status === 'failed' || p.status === 'pending')) setExitCode(EXIT.findings);
      }),
    );
}
