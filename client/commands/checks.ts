/**
 * `satmachine reconcile` and `satmachine health`: run the scheduled checks now (the same workflows the
 * schedules start, reconciliationWorkflow and healthWorkflow, executed by the worker) and print the report.
 * Exit 1 when there are findings. A bounded execution timeout makes a missing worker an error, not a hang.
 */
import type { Command } from 'commander';
import { randomUUID } from 'node:crypto';
import { z } from 'zod';
import { SatmachineKind } from '../../domain/search-attributes';
import { healthWorkflow, type HealthReport } from '../../workflows/health';
import { reconciliationWorkflow } from '../../workflows/reconcile';
import type { ReconciliationReport } from '../../activities/reconcile';
import { parseArgs, parseDuration } from '../args';
import { type Context, withContext } from '../context';
import { EXIT, kv, print, progress, setExitCode, table } from '../output';

const stamp = () => new Date().toISOString().replace(/[-:.]/g, '');

/** Runs reconciliationWorkflow now (what the schedule starts) and waits for its report; CLI and console. */
export async function runReconciliation(
  ctx: Context,
  opts: { scope?: 'recent' | 'all' | 'skip'; timeoutSeconds: number; onStart?: (workflowId: string) => void },
): Promise<{ workflowId: string; report: ReconciliationReport }> {
  const workflowId = `satmachine-reconciliation-manual-${stamp()}-${randomUUID().slice(0, 8)}`;
  opts.onStart?.(workflowId);
  const report = await (await ctx.temporal()).workflow.execute(reconciliationWorkflow, {
    workflowId,
    taskQueue: ctx.config.temporal.taskQueue,
    args: [opts.scope ? { lnbits: opts.scope } : {}],
    workflowExecutionTimeout: `${opts.timeoutSeconds} seconds`,
    typedSearchAttributes: [{ key: SatmachineKind, value: 'reconcile' }],
  });
  return { workflowId, report };
}

/** The recorded LNbits losses line ("lost in LNbits (recorded)"), when there are any. */
function lossesLine(r: ReconciliationReport): string | null {
  const ledger = (r.summary.ledger as { lnbitsLosses?: { count: number; sats: string } } | undefined)?.lnbitsLosses;
  if (!ledger?.count) return null;
  const checked = (r.summary.lnbits as { lnbitsLosses?: { verified: number } } | undefined)?.lnbitsLosses;
  return `${ledger.count} payment(s), ${ledger.sats} sats${checked ? ` (${checked.verified} still shown so by LNbits)` : ''}`;
}

export function formatReconciliation(r: ReconciliationReport): string {
  const total = Object.values(r.counts).reduce((s, n) => s + n, 0);
  const lost = lossesLine(r);
  return [
    kv([['report', r.reportId], ['started', r.startedAt], ['finished', r.finishedAt], ['findings', total], ['alerts raised', r.alertsRaised.length], ...(lost ? [['lost in LNbits (recorded)', lost] as [string, string]] : [])]),
    total
      ? `\n${table(['kind', 'count'], Object.entries(r.counts).filter(([, n]) => n > 0).map(([k, n]) => [k, n]))}\n\n${table(['severity', 'kind', 'subject', 'message'], r.findings.map((f) => [f.severity, f.kind, f.subject, f.message]))}`
      : '\nno findings: ledger, balances, commission and wallets reconcile',
  ].join('\n');
}

export function formatHealth(r: HealthReport): string {
  return [
    table(['check', 'ok', 'detail'], r.checks.map((c) => [c.name, c.ok ? 'ok' : 'FAIL', c.detail])),
    ...r.checks.flatMap((c) => c.problems.map((p) => `  ${c.name}: ${(p as { message?: string }).message ?? JSON.stringify(p)}`)),
    r.pollerPaused ? 'the poller was PAUSED because an LNbits key was rejected (`satmachine poller resume` after fixing it)' : '',
    r.ok ? 'healthy' : 'UNHEALTHY',
  ].filter(Boolean).join('\n');
}

export function registerChecks(program: Command): void {
  program
    .command('reconcile')
    .description('run the reconciliation now (workflow reconciliationWorkflow) and print the report; exit 1 on findings')
    .option('--lnbits <scope>', 'which completed payouts to verify with LNbits: recent | all | skip (default recent)')
    .option('--timeout <duration>', 'give up after this long (default 30m)')
    .option('--json', 'print JSON')
    .action((o: { lnbits?: string; timeout?: string; json?: boolean }) =>
      withContext(async (ctx) => {
        const scope = o.lnbits === undefined ? undefined : parseArgs(z.enum(['recent', 'all', 'skip'], { error: '--lnbits: recent, all or skip' }), o.lnbits);
        const timeoutSeconds = parseDuration(o.timeout ?? '30m', '--timeout');
        const { workflowId, report } = await runReconciliation(ctx, { scope, timeoutSeconds, onStart: (id) => progress(`running reconciliationWorkflow ${id} on task queue ${ctx.config.temporal.taskQueue}…`) });
        print(Boolean(o.json), { workflowId, ...report }, () => formatReconciliation(report));
        if (Object.values(report.counts).some((n) => n > 0)) setExitCode(EXIT.findings);
      }),
    );

  program
    .command('health')
    .description('run the health check now (workflow healthWorkflow) and print it; exit 1 when unhealthy')
    .option('--timeout <duration>', 'give up after this long (default 5m)')
    .option('--json', 'print JSON')
    .action((o: { timeout?: string; json?: boolean }) =>
      withContext(async (ctx) => {
        const timeoutSeconds = parseDuration(o.timeout ?? '5m', '--timeout');
        const workflowId = `satmachine-health-manual-${stamp()}-${randomUUID().slice(0, 8)}`;
        progress(`running healthWorkflow ${workflowId} on task queue ${ctx.config.temporal.taskQueue}…`);
        const report = await (await ctx.temporal()).workflow.execute(healthWorkflow, {
          workflowId,
          taskQueue: ctx.config.temporal.taskQueue,
          args: [{ pollerWorkflowId: ctx.pollerWorkflowId }],
          workflowExecutionTimeout: `${timeoutSeconds} seconds`,
          typedSearchAttributes: [{ key: SatmachineKind, value: 'health' }],
        });
        print(Boolean(o.json), { workflowId, ...report }, () => formatHealth(report));
        if (!report.ok) setExitCode(EXIT.findings);
      }),
    );
}
