/**
 * `satmachine emergency stop|resume`: the runbook's "STOP POLLING IMMEDIATELY" as one command. Stop halts
 * payouts in the ledger (control.payouts_halted: running cash-out workflows wait before their next transfer)
 * and pauses the poller (no new cash-outs start). Each half is attempted even when the other fails, and both
 * are recorded in operator_events with who and why. Exit 0 only when both halves succeeded.
 */
import { WorkflowNotFoundError } from '@temporalio/client';
import type { Command } from 'commander';
import { haltPayouts, recordOperatorEvent, resumePayouts } from '../../adapters/ledger/operator-control';
import { type Context, messageOf, withContext } from '../context';
import { pausePoller, resumePoller } from '../poller';
import { EXIT, kv, print, setExitCode } from '../output';

export interface Part {
  ok: boolean;
  detail: string;
}

async function inFlight(ctx: Context): Promise<{ processingCashOuts: number; pendingPayouts: number } | null> {
  try {
    const { rows } = await ctx.pool().query(
      `SELECT (SELECT count(*) FROM satoshimachine.lamassu_transactions WHERE status = 'processing')::int AS tx,
              (SELECT count(*) FROM satoshimachine.payments WHERE status = 'pending')::int AS pay`,
    );
    return { processingCashOuts: Number(rows[0].tx), pendingPayouts: Number(rows[0].pay) };
  } catch {
    return null;
  }
}

async function pollerPart(ctx: Context, fn: (client: Awaited<ReturnType<Context['temporal']>>) => Promise<void>, done: string): Promise<Part> {
  try {
    await fn(await ctx.temporal());
    return { ok: true, detail: done };
  } catch (err) {
    // Nothing is polling when the poller was never started: the goal of stop holds, so that is not a failure.
    if (err instanceof WorkflowNotFoundError) return { ok: true, detail: 'poller not running (nothing to pause or resume)' };
    return { ok: false, detail: `poller: ${messageOf(err)}` };
  }
}

export type EmergencyReport = { actor: string; reason: string | null; payouts: Part; poller: Part; inFlight: Awaited<ReturnType<typeof inFlight>> };

/** Halts payouts (ledger first: money stops even when Temporal is unreachable) and pauses the poller; recorded. */
export async function emergencyStop(ctx: Context, actor: string, reasonText: string | undefined): Promise<EmergencyReport> {
  const reason = reasonText?.trim() || 'emergency stop';
  // Money first: the ledger halt stops transfers even if Temporal is unreachable.
  let payouts: Part;
  try {
    const r = await haltPayouts(ctx.pool(), actor, reason, { via: 'emergency stop' });
    payouts = { ok: true, detail: r.before.payoutsHalted ? `already halted since ${r.before.haltedAt} by ${r.before.haltedBy}` : 'halted: cash-out workflows wait before their next transfer' };
  } catch (err) {
    payouts = { ok: false, detail: `ledger: ${messageOf(err)}` };
  }
  const poller = await pollerPart(ctx, (c) => pausePoller(c, reason, { by: actor, workflowId: ctx.pollerWorkflowId }), 'paused: no new cash-outs start');
  if (payouts.ok) {
    await recordOperatorEvent(ctx.pool(), actor, 'emergency-stop', { reason, pollerPaused: poller.ok, pollerDetail: poller.detail }).catch(() => undefined);
  }
  return { actor, reason, payouts, poller, inFlight: await inFlight(ctx) };
}

/** Resumes payouts and (unless payoutsOnly) the poller; recorded. */
export async function emergencyResume(ctx: Context, actor: string, reasonText: string | undefined, payoutsOnly: boolean): Promise<EmergencyReport> {
  const reason = reasonText?.trim() || null;
  let payouts: Part;
  try {
    const r = await resumePayouts(ctx.pool(), actor, reason, { via: 'emergency resume' });
    payouts = { ok: true, detail: r.before.payoutsHalted ? 'resumed' : 'were not halted' };
  } catch (err) {
    payouts = { ok: false, detail: `ledger: ${messageOf(err)}` };
  }
  const poller = payoutsOnly
    ? { ok: true, detail: 'left as is (--payouts-only); `satmachine poller resume` when ready' }
    : await pollerPart(ctx, (c) => resumePoller(c, { by: actor, workflowId: ctx.pollerWorkflowId }), 'resumed: polls now');
  if (payouts.ok) {
    await recordOperatorEvent(ctx.pool(), actor, 'emergency-resume', { reason, payoutsOnly: Boolean(payoutsOnly), pollerDetail: poller.detail }).catch(() => undefined);
  }
  return { actor, reason, payouts, poller, inFlight: await inFlight(ctx) };
}

function report(json: boolean, title: string, value: EmergencyReport) {
  print(json, value, () =>
    [
      title,
      kv([
        ['payouts', `${value.payouts.ok ? 'ok  ' : 'FAIL'} ${value.payouts.detail}`],
        ['poller', `${value.poller.ok ? 'ok  ' : 'FAIL'} ${value.poller.detail}`],
        ['actor', value.actor],
        ['reason', value.reason],
        ['in flight', value.inFlight ? `${value.inFlight.processingCashOuts} cash-out(s) processing, ${value.inFlight.pendingPayouts} payout(s) pending` : 'unknown'],
      ]),
    ].join('\n'),
  );
  if (!value.payouts.ok || !value.poller.ok) setExitCode(EXIT.unavailable);
}

export function registerEmergency(program: Command): void {
  const emergency = program.command('emergency').description('emergency stop / resume (runbook phase 1 and phase 4)');

  emergency
    .command('stop')
    .description('halt payouts (ledger) and pause the poller (Temporal); both recorded with who and why')
    .option('--reason <text>', 'why (recorded in operator_events)')
    .option('--actor <name>', 'who (default: the OS user)')
    .option('--json', 'print JSON')
    .action((o: { reason?: string; actor?: string; json?: boolean }) =>
      withContext(async (ctx) => {
        report(Boolean(o.json), 'EMERGENCY STOP', await emergencyStop(ctx, ctx.actor(o.actor), o.reason));
      }),
    );

  emergency
    .command('resume')
    .description('undo emergency stop: resume payouts and the poller (recorded)')
    .option('--reason <text>', 'why (recorded in operator_events)')
    .option('--actor <name>', 'who (default: the OS user)')
    .option('--payouts-only', 'resume payouts but keep the poller paused (gradual restart: finish in-flight cash-outs first)')
    .option('--json', 'print JSON')
    .action((o: { reason?: string; actor?: string; payoutsOnly?: boolean; json?: boolean }) =>
      withContext(async (ctx) => {
        report(Boolean(o.json), 'EMERGENCY RESUME', await emergencyResume(ctx, ctx.actor(o.actor), o.reason, Boolean(o.payoutsOnly)));
      }),
    );
}
