/** `satmachine setup [--json]`: migrations, search attributes, schedules, poller — idempotent (client/setup.ts). */
import type { Command } from 'commander';
import { withContext } from '../context';
import { print, table } from '../output';
import { runSetup, type SetupResult } from '../setup';

export function formatSetup(r: SetupResult): string {
  const rows: Array<[string, string, string]> = [
    ['migrations', r.migrations.outcome, r.migrations.applied.join(', ') || '-'],
    ['search attributes', r.searchAttributes.outcome, r.searchAttributes.detail ?? (r.searchAttributes.added.length ? `added ${r.searchAttributes.added.join(', ')}` : 'all present')],
    ...r.schedules.map((s): [string, string, string] => [`schedule ${s.scheduleId}`, s.outcome, `${s.workflowType}, ${s.spec}`]),
    ['poller', r.poller.outcome, r.poller.workflowId ?? '-'],
  ];
  return table(['step', 'outcome', 'detail'], rows);
}

export function registerSetup(program: Command): void {
  program
    .command('setup')
    .description('apply ledger migrations, register search attributes, create/update the schedules (reconciliation 00:00 UTC, health every 2 h, stuck-payout sweep every 15 min) and start the poller; safe to repeat')
    .option('--json', 'print JSON')
    .option('--no-poller', 'do not start the Lamassu poller')
    .action(async (o: { json?: boolean; poller: boolean }) => {
      await withContext(async (ctx) => {
        const result = await runSetup(ctx.config, ctx.log, { client: await ctx.temporal(), startPoller: o.poller });
        print(!!o.json, result, () => formatSetup(result));
      });
    });
}
