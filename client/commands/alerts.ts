/**
 * `satmachine alerts list|ack|resolve`: the alert life cycle. Checks resolve their own alerts when the
 * condition clears; an operator acknowledges (seen, working on it: no more re-notification) or resolves by
 * hand. Both are recorded in operator_events with who and why.
 */
import type { Command } from 'commander';
import { z } from 'zod';
import { changeAlerts, listAlerts, type AlertRow } from '../../adapters/ledger/alert-lifecycle';
import { parseArgs, positiveIntArg } from '../args';
import { withContext } from '../context';
import { CliError, EXIT, print, table } from '../output';

const idsArg = z.array(z.string().regex(/^\d+$/, '<id>: an alert id is a number (see `satmachine alerts list`)')).min(1, '<id>: at least one alert id');

function formatAlerts(rows: AlertRow[]): string {
  if (rows.length === 0) return 'no alerts';
  return table(
    ['id', 'severity', 'kind', 'at', 'state', 'message'],
    rows.map((a) => [
      a.id, a.severity, a.kind, a.createdAt,
      a.resolvedAt ? `resolved by ${a.resolvedBy}` : a.acknowledgedAt ? `acknowledged by ${a.acknowledgedBy}` : 'OPEN',
      a.message.length > 160 ? `${a.message.slice(0, 157)}…` : a.message,
    ]),
  );
}

export function registerAlerts(program: Command): void {
  const alerts = program.command('alerts').description('alerts: list, acknowledge, resolve');

  alerts
    .command('list')
    .description('open alerts (unacknowledged first, most severe first); --all includes resolved ones')
    .option('--state <state>', 'open | unacknowledged | resolved | all (default open)')
    .option('--all', 'same as --state all')
    .option('--kind <kind>', 'only this kind')
    .option('--limit <n>', 'at most n (default 100)')
    .option('--json', 'print JSON')
    .action((o: { state?: string; all?: boolean; kind?: string; limit?: string; json?: boolean }) =>
      withContext(async (ctx) => {
        const state = o.all ? 'all' : parseArgs(z.enum(['open', 'unacknowledged', 'resolved', 'all'], { error: '--state: open, unacknowledged, resolved or all' }).default('open'), o.state);
        const rows = await listAlerts(ctx.pool(), { state, kind: o.kind, limit: positiveIntArg(o.limit, '--limit') });
        print(Boolean(o.json), rows, () => formatAlerts(rows));
      }),
    );

  for (const action of ['ack', 'resolve'] as const) {
    alerts
      .command(`${action} <id...>`)
      .description(
        action === 'ack'
          ? 'acknowledge alerts (you have seen them; a critical one is no longer re-notified)'
          : 'resolve alerts by hand (the condition is gone or handled); checks also resolve their own alerts when the condition clears',
      )
      .option('--reason <text>', action === 'ack' ? 'why / what you are doing (recorded)' : 'why (required; recorded)')
      .option('--actor <name>', 'who (default: the OS user)')
      .option('--json', 'print JSON')
      .action((ids: string[], o: { reason?: string; actor?: string; json?: boolean }) =>
        withContext(async (ctx) => {
          const list = parseArgs(idsArg, ids);
          if (action === 'resolve' && !o.reason?.trim()) throw new CliError('--reason is required: say why the alert is resolved', EXIT.usage);
          const r = await changeAlerts(ctx.pool(), action, list, ctx.actor(o.actor), o.reason?.trim() || null);
          const verb = action === 'ack' ? 'acknowledged' : 'resolved';
          print(Boolean(o.json), r, () =>
            [
              r.changed.length ? `${verb}: ${r.changed.map((a) => `${a.id} (${a.kind})`).join(', ')}` : `nothing ${verb}`,
              ...r.unchanged.map((a) => `alert ${a.id} was already ${a.resolvedAt ? `resolved by ${a.resolvedBy}` : `acknowledged by ${a.acknowledgedBy}`}`),
            ].join('\n'),
          );
        }),
      );
  }
}
