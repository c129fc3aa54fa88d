/**
 * `satmachine poll now [--limit N]` and `satmachine poller start|pause|resume|status`: the Lamassu poller
 * workflow (workflows/poller.ts) driven through client/poller.ts. Pause/resume are recorded in the ledger's
 * operator_events when the ledger is configured.
 */
import type { Client } from '@temporalio/client';
import { WorkflowNotFoundError } from '@temporalio/client';
import type { Command } from 'commander';
import { recordOperatorEvent } from '../../adapters/ledger/operator-control';
import { POLLER_WORKFLOW_ID } from '../../domain/constants';
import { parseDuration, positiveIntArg } from '../args';
import { type Context, messageOf, withContext } from '../context';
import { ensurePollerStarted, getPollerStatus, pausePoller, pollNow, resumePoller, type PollerStatus } from '../poller';
import { CliError, EXIT, kv, print, progress, setExitCode } from '../output';

const QUERY_TIMEOUT_MS = 5_000;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * After `poll now`: waits for the poll to happen (the poll counter grows), then for every cash-out recorded
 * since the request to leave `processing`. ok = the poll succeeded and every such cash-out completed.
 */
async function waitForPoll(ctx: Context, client: Client, pollsBefore: number, timeoutSeconds: number) {
  const since = new Date(Date.now() - 1000).toISOString();
  const deadline = Date.now() + timeoutSeconds * 1000;
  let status: PollerStatus | null = null;
  while (Date.now() < deadline) {
    status = await getPollerStatus(client, { workflowId: ctx.pollerWorkflowId }).catch(() => status);
    if (status && status.counts.polls > pollsBefore) break;
    await sleep(500);
  }
  if (!status || status.counts.polls <= pollsBefore) throw new CliError(`no poll happened within ${timeoutSeconds} s (is a worker running?)`, EXIT.unavailable);
  let cashOuts: Array<{ lamassuId: string; status: string }> = [];
  for (;;) {
    const { rows } = await ctx.pool().query<{ lamassu_id: string; status: string }>(
      `SELECT lamassu_id, status FROM satoshimachine.lamassu_transactions WHERE created_at >= $1 ORDER BY created_at`,
      [since],
    );
    cashOuts = rows.map((r) => ({ lamassuId: r.lamassu_id, status: r.status }));
    const expected = status.lastPoll?.started ?? 0;
    if (cashOuts.length >= expected && cashOuts.every((c) => c.status !== 'processing')) break;
    if (Date.now() > deadline) break;
    await sleep(1000);
  }
  const pollError = status.lastErrorAt && status.lastErrorAt >= since ? status.lastError : null;
  return { cashOuts, pollError, ok: !pollError && cashOuts.every((c) => c.status === 'completed') };
}

export interface PollerView {
  workflowId: string;
  /** RUNNING, COMPLETED, TERMINATED, … or NOT_FOUND. */
  execution: string;
  status: PollerStatus | null;
  /** Why `status` is missing (no worker answering the query, not running). */
  error: string | null;
}

function timeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([p, new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`${what}: no answer within ${ms} ms (is a worker running?)`)), ms)))]).finally(() => clearTimeout(timer));
}

/** The poller's execution state and, when a worker answers, its `status` query. Never throws for "not running". */
export async function readPoller(client: Client, workflowId = POLLER_WORKFLOW_ID): Promise<PollerView> {
  let execution: string;
  try {
    execution = (await client.workflow.getHandle(workflowId).describe()).status.name;
  } catch (err) {
    if (err instanceof WorkflowNotFoundError) return { workflowId, execution: 'NOT_FOUND', status: null, error: 'the poller has never been started (satmachine poller start)' };
    throw err;
  }
  if (execution !== 'RUNNING') return { workflowId, execution, status: null, error: `the poller is ${execution.toLowerCase()} (satmachine poller start)` };
  try {
    return { workflowId, execution, status: await timeout(getPollerStatus(client, { workflowId }), QUERY_TIMEOUT_MS, 'poller status query'), error: null };
  } catch (err) {
    return { workflowId, execution, status: null, error: messageOf(err) };
  }
}

export function formatPoller(v: PollerView): string {
  const s = v.status;
  if (!s) return kv([['poller', `${v.execution}${v.error ? ` — ${v.error}` : ''}`]]);
  return kv([
    ['poller', s.paused ? `PAUSED since ${s.pausedAt ?? '?'} by ${s.pausedBy ?? '?'}: ${s.pausedReason ?? '(no reason)'}` : 'running'],
    ['ready', s.ready === null ? '-' : s.ready ? 'yes' : `NO: ${s.notReadyReason ?? ''}`],
    ['last poll', s.lastPollAt],
    ['last success', s.lastSuccessAt],
    ['last error', s.lastError ? `${s.lastErrorAt ?? ''} ${s.lastError}` : null],
    ['last poll rows', s.lastPoll ? `fetched ${s.lastPoll.fetched}, new ${s.lastPoll.new}, started ${s.lastPoll.started}, failed ${s.lastPoll.failed}, rejected ${s.lastPoll.rejected}` : null],
    ['totals', `polls ${s.counts.polls}, started ${s.counts.started}, skipped ${s.counts.skipped}, rejected ${s.counts.rejected}`],
    ['interval', `${s.pollIntervalSeconds} s`],
  ]);
}

/** Audit row in the ledger; a ledger that is not configured or unreachable is a warning (returned), not fatal. */
async function audit(ctx: Context, actor: string, action: string, details: Record<string, unknown>): Promise<string | null> {
  let auditError: string | null = null;
  if (!ctx.config.databaseUrl) auditError = 'not recorded: no ledger configured';
  else {
    try {
      await recordOperatorEvent(ctx.pool(), actor, action, details);
    } catch (err) {
      auditError = `not recorded in operator_events: ${messageOf(err)}`;
    }
  }
  if (auditError) progress(`warning: ${auditError}`);
  return auditError;
}

/** `poller pause` and `poller resume` differ only in the signal sent, the event recorded and the answer. */
const PAUSE_RESUME = [
  {
    name: 'pause',
    description: 'stop starting new cash-outs (running ones finish); see also `emergency stop`',
    event: 'poller-paused',
    signal: (client: Client, by: string, reason: string | undefined, workflowId: string) => pausePoller(client, reason, { by, workflowId }),
    answer: (actor: string, reason: string | null, auditError: string | null) => ({ paused: true, actor, reason, auditError }),
    text: (actor: string) => `poller paused by ${actor}`,
  },
  {
    name: 'resume',
    description: 'resume polling (polls at once)',
    event: 'poller-resumed',
    signal: (client: Client, by: string, _reason: string | undefined, workflowId: string) => resumePoller(client, { by, workflowId }),
    answer: (actor: string, _reason: string | null, auditError: string | null) => ({ paused: false, actor, auditError }),
    text: (actor: string) => `poller resumed by ${actor}`,
  },
];

export function registerPoller(program: Command): void {
  program
    .command('poll')
    .description('poller actions')
    .command('now')
    .description('ask the poller to poll Lamassu now (the runbook\'s manual poll)')
    .option('--limit <n>', 'start at most N cash-outs, even while the poller is paused (gradual restart: one first)')
    .option('--wait [duration]', 'wait (default up to 5m) for the poll and for the cash-outs it started to finish: exit 0 when all completed, 1 otherwise (so `poll now --limit 1 --wait && poller resume` checks one first)')
    .option('--actor <name>', 'who (default: the OS user; recorded for a limited poll)')
    .option('--json', 'print JSON')
    .action((o: { limit?: string; wait?: string | boolean; actor?: string; json?: boolean }) =>
      withContext(async (ctx) => {
        const limit = positiveIntArg(o.limit, '--limit');
        const waitSeconds = o.wait === undefined || o.wait === false ? null : parseDuration(o.wait === true ? '5m' : o.wait, '--wait');
        const client = await ctx.temporal();
        const before = await readPoller(client, ctx.pollerWorkflowId);
        if (before.execution !== 'RUNNING') throw new CliError(`poller is not running (${before.execution}); start it with \`satmachine poller start\``, EXIT.notFound);
        // With a limit the poller polls even while paused and starts at most `limit` cash-outs (gradual restart).
        await pollNow(client, { workflowId: ctx.pollerWorkflowId, limit });
        const paused = before.status?.paused ?? false;
        const actor = ctx.actor(o.actor);
        if (limit !== undefined) await audit(ctx, actor, 'poll-now-limited', { limit, pollerPaused: paused });
        if (waitSeconds !== null) {
          if (paused && limit === undefined) throw new CliError('the poller is PAUSED: a poll without --limit waits for `satmachine poller resume`; use --limit N for a limited poll now', EXIT.usage);
          const r = await waitForPoll(ctx, client, before.status?.counts.polls ?? 0, waitSeconds);
          print(Boolean(o.json), { requested: true, limit: limit ?? null, paused, workflowId: before.workflowId, ...r }, () =>
            [
              `poll done: ${r.cashOuts.length} cash-out(s) started${r.pollError ? `; poll error: ${r.pollError}` : ''}`,
              ...r.cashOuts.map((c) => `  ${c.lamassuId}: ${c.status}`),
              r.ok ? (paused ? 'all completed: `satmachine poller resume` when satisfied' : 'all completed') : 'NOT all completed: see `satmachine tx show <lamassu id>` before resuming',
            ].join('\n'),
          );
          if (!r.ok) setExitCode(EXIT.findings);
          return;
        }
        print(Boolean(o.json), { requested: true, limit: limit ?? null, paused, workflowId: before.workflowId }, () =>
          limit !== undefined
            ? `poll requested: at most ${limit} cash-out(s) will start${paused ? ' (the poller stays paused afterwards)' : ''}; \`satmachine poller status\` shows the result`
            : paused
              ? 'poll requested, but the poller is PAUSED: it polls after `satmachine poller resume` (or use --limit N for a limited poll now)'
              : 'poll requested; `satmachine poller status` shows its result',
        );
      }),
    );

  const poller = program.command('poller').description('the Lamassu poller workflow (lamassu-poller)');
  poller
    .command('status')
    .description('poller state, last poll, last success, last error')
    .option('--json', 'print JSON')
    .action((o: { json?: boolean }) =>
      withContext(async (ctx) => {
        const view = await readPoller(await ctx.temporal(), ctx.pollerWorkflowId);
        print(Boolean(o.json), view, () => formatPoller(view));
        if (view.execution === 'NOT_FOUND') throw new CliError('poller not found', EXIT.notFound);
      }),
    );

  poller
    .command('start')
    .description('start the poller unless it is running (settings from config.lamassu)')
    .option('--json', 'print JSON')
    .action((o: { json?: boolean }) =>
      withContext(async (ctx) => {
        const r = await ensurePollerStarted(await ctx.temporal(), ctx.config, { workflowId: ctx.pollerWorkflowId });
        print(Boolean(o.json), r, () => (r.started ? `poller started (run ${r.runId})` : 'poller already running'));
      }),
    );

  for (const c of PAUSE_RESUME) {
    poller
      .command(c.name)
      .description(c.description)
      .option('--reason <text>', 'why (recorded)')
      .option('--actor <name>', 'who (default: the OS user)')
      .option('--json', 'print JSON')
      .action((o: { reason?: string; actor?: string; json?: boolean }) =>
        withContext(async (ctx) => {
          const actor = ctx.actor(o.actor);
          await c.signal(await ctx.temporal(), actor, o.reason, ctx.pollerWorkflowId);
          const reason = o.reason ?? null;
          const auditError = await audit(ctx, actor, c.event, { reason });
          print(Boolean(o.json), c.answer(actor, reason, auditError), () => c.text(actor));
        }),
      );
  }
}
