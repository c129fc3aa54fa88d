/**
 * `satmachine payouts list [--status failed|pending] [--older-than 15m]`: the runbook's "stuck/failed
 * payments" query. Exit 1 when it lists any failed or stuck payout, so a cron job can alert on it.
 */
import type { Command } from 'commander';
import { z } from 'zod';
import { formatFiat, parseArgs, parseDuration, positiveIntArg } from '../args';
import { withContext } from '../context';
import { listPayouts } from '../ledger-views';
import { EXIT, print, progress, setExitCode, table } from '../output';

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
        // "failed" as the operator means it: failed in the ledger, or pending and retrying after a failed attempt.
        const failing = statuses.includes('failed');
        const pool = ctx.pool();
        const rows = await listPayouts(pool, { statuses, failing, olderThanSeconds, limit: positiveIntArg(o.limit, '--limit') ?? 200 });
        // Cash-outs that failed before any payout was reserved (pre-flight: source wallet short, LNbits down).
        const unreserved = failing
          ? (await pool.query<{ lamassu_id: string; error: string | null }>(
              `SELECT t.lamassu_id, t.error FROM satoshimachine.lamassu_transactions t
                WHERE t.status = 'needs_attention' AND NOT EXISTS (SELECT 1 FROM satoshimachine.payments p WHERE p.transaction_id = t.id)
                ORDER BY t.created_at LIMIT 50`,
            )).rows
          : [];
        const d = ctx.config.lamassu.fiatDecimals;
        const shown = rows.map((p) => ({ ...p, state: p.status === 'pending' && p.lastError ? 'pending (retrying)' : p.status }));
        // JSON stays the list of payouts (scripts); the cash-outs without payouts go to stderr there.
        if (o.json) for (const u of unreserved) progress(`cash-out ${u.lamassu_id} needs attention before any payout was reserved: ${u.error ?? ''}`);
        print(Boolean(o.json), shown, () =>
          [
            shown.length
              ? table(
                  ['lamassu tx', 'kind', 'client', 'sats', 'fiat debit', 'status', 'age', 'attempts', 'payment hash', 'last error'],
                  shown.map((p) => [p.lamassuId, p.kind, p.clientName ?? p.clientId, p.amountSats, formatFiat(p.fiatDebit, d), p.state, `${Math.floor(p.ageSeconds / 60)}m`, p.attempts, p.paymentHash, p.lastError]),
                )
              : 'no payouts',
            ...unreserved.map((u) => `cash-out ${u.lamassu_id} needs attention before any payout was reserved: ${u.error ?? ''} (\`satmachine tx show ${u.lamassu_id}\`)`),
          ].join('\n'),
        );
        if (rows.some((p) => p.status === 'failed' || p.status === 'pending') || unreserved.length) setExitCode(EXIT.findings);
      }),
    );
}
