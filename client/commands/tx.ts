/**
 * `satmachine tx list|show|retry|cancel-failed|settle-lost-payment|…`: cash-outs by their Lamassu id. `show` is the runbook's
 * audit view of one transaction (source row, commission split, allocation, payouts with payment hashes).
 * `retry` / `cancel-failed` execute the cash-out workflow's updates on workflow id cashOutWorkflowId(id):
 * the workflow owns its payouts, so the operator never edits payment rows by hand.
 */
import type { Command } from 'commander';
import { z } from 'zod';
import { listPayments, TRANSACTION_STATUSES, type TransactionRow } from '../../adapters/ledger';
import { recordOperatorEvent } from '../../adapters/ledger/operator-control';
import { cashOutWorkflowId } from '../../domain/constants';
import { CashOutStatus, FailedPayouts } from '../../domain/search-attributes';
import { formatFiat, parseArgs, parseDuration, positiveIntArg, uuidArg } from '../args';
import { type Context, messageOf, withContext } from '../context';
import { findTransaction, listTransactions } from '../ledger-views';
import { CliError, EXIT, kv, print, progress, setExitCode, table } from '../output';
import { cancelFailedPayoutsUpdate, cashOutStatusQuery, retryFailedPayoutsUpdate, type CancelInput, type CashOutState, type OperatorActionResult, type RetryInput } from '../../workflows/cashout';
import { approveHeldCashOutUpdate, rejectHeldCashOutUpdate, type HoldDecisionInput, type HoldDecisionResult } from '../../workflows/cashout-hold';
import { ledgerCashOut, resumeCashOut, runStatus } from '../recovery';
import { settleLostPayment } from '../lost-payment';

/** Sats columns as numbers (safe integers ≤ 21e6 BTC), crypto_atoms included. */
const satsNumber = (text: string): number | string => (Number.isSafeInteger(Number(text)) ? Number(text) : text);

export async function transactionDetail(ctx: Context, idArg: string) {
  const pool = ctx.pool();
  const tx = await findTransaction(pool, idArg.trim());
  const payments = await listPayments(pool, tx.id);
  const names = new Map<string, string>(
    (await pool.query(`SELECT id, name FROM satoshimachine.clients WHERE id = ANY($1::uuid[])`, [payments.flatMap((p) => (p.clientId ? [p.clientId] : []))])).rows.map((r) => [String(r.id), String(r.name)]),
  );
  const payouts = payments
    .filter((p) => p.kind === 'client')
    .map((p) => ({
      id: p.id, clientId: p.clientId, clientName: p.clientId ? (names.get(p.clientId) ?? null) : null, amountSats: p.amountSats, fiatDebitMinor: p.fiatDebit,
      status: p.status, paymentHash: p.paymentHash, attempts: p.attempts, lastError: p.lastError, completedAt: p.completedAt,
    }));
  const commission = payments.find((p) => p.kind === 'commission');
  return {
    id: tx.id,
    lamassuId: tx.lamassuId,
    status: tx.status,
    error: tx.error,
    rejectedField: tx.rejectedField,
    cryptoAtoms: satsNumber(tx.cryptoAtoms),
    cryptoCode: tx.cryptoCode,
    fiat: tx.fiat,
    fiatCode: tx.fiatCode,
    fiatMinor: tx.fiatMinor,
    commissionPercentage: tx.commissionPercentage,
    discount: tx.discount,
    rawTickerPrice: tx.rawTickerPrice,
    commissionModel: tx.commissionModel,
    effectiveCommission: tx.effectiveCommission,
    baseSats: tx.baseSats,
    commissionSats: tx.commissionSats,
    unallocatedSats: tx.unallocatedSats,
    allocatedSats: payouts.reduce((s, p) => s + p.amountSats, 0),
    allocatedFiatMinor: payouts.reduce((s, p) => s + p.fiatDebitMinor, 0),
    confirmedAt: tx.confirmedAt,
    createdAt: tx.createdAt,
    workflowId: tx.workflowId ?? cashOutWorkflowId(tx.lamassuId),
    payouts,
    commissionPayout: commission
      ? { id: commission.id, amountSats: commission.amountSats, status: commission.status, paymentHash: commission.paymentHash, attempts: commission.attempts, lastError: commission.lastError }
      : null,
  };
}

/** The cash-out workflow's execution state and search attributes; "unreachable"/"not found" as text. */
export async function workflowView(ctx: Context, lamassuId: string): Promise<{ status: string; cashOutStatus: string | null; failedPayouts: number | null; error: string | null }> {
  try {
    const d = await (await ctx.temporal()).workflow.getHandle(cashOutWorkflowId(lamassuId)).describe();
    return { status: d.status.name, cashOutStatus: d.typedSearchAttributes.get(CashOutStatus) ?? null, failedPayouts: d.typedSearchAttributes.get(FailedPayouts) ?? null, error: null };
  } catch (err) {
    return { status: 'UNKNOWN', cashOutStatus: null, failedPayouts: null, error: messageOf(err) };
  }
}

function formatDetail(t: Awaited<ReturnType<typeof transactionDetail>>, wf: Awaited<ReturnType<typeof workflowView>> | null, decimals: number): string {
  return [
    kv([
      ['lamassu id', t.lamassuId], ['ledger id', t.id], ['status', `${t.status}${t.error ? ` — ${t.error}` : ''}`],
      ['workflow', `${t.workflowId}${wf ? ` (${wf.error ? wf.error : `${wf.status}${wf.cashOutStatus ? `, ${wf.cashOutStatus}` : ''}`})` : ''}`],
      ['confirmed at', t.confirmedAt], ['crypto atoms', `${t.cryptoAtoms} (${t.cryptoCode})`],
      ['fiat', `${t.fiat} ${t.fiatCode}`], ['commission %', `${t.commissionPercentage ?? '-'} discount ${t.discount ?? 0}% → effective ${t.effectiveCommission ?? '-'} (${t.commissionModel ?? '-'})`],
      ['base sats', t.baseSats], ['commission sats', t.commissionSats], ['allocated sats', t.allocatedSats], ['unallocated sats', t.unallocatedSats],
      ['commission payout', t.commissionPayout ? `${t.commissionPayout.amountSats} sats ${t.commissionPayout.status} ${t.commissionPayout.paymentHash ?? ''}` : null],
    ]),
    '',
    t.payouts.length
      ? table(['client', 'name', 'sats', 'fiat debit', 'status', 'attempts', 'payment hash', 'last error'], t.payouts.map((p) => [p.clientId, p.clientName, p.amountSats, formatFiat(p.fiatDebitMinor, decimals), p.status, p.attempts, p.paymentHash, p.lastError]))
      : 'no payouts reserved',
  ].join('\n');
}

function txLine(t: TransactionRow, decimals: number) {
  return [t.lamassuId, t.status, t.confirmedAt, t.cryptoAtoms, t.baseSats, t.commissionSats, t.fiatMinor === null ? `${t.fiat} ${t.fiatCode}` : `${formatFiat(t.fiatMinor, decimals)} ${t.fiatCode}`, t.error];
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** The cash-out workflow's status query (latest run), or null when no worker answers / no run exists. */
async function cashOutState(ctx: Context, lamassuId: string): Promise<CashOutState | null> {
  return (await ctx.temporal()).workflow.getHandle(cashOutWorkflowId(lamassuId)).query(cashOutStatusQuery).catch(() => null);
}

/** Polls the status query until `want` holds or `timeoutSeconds` passed; returns the last state seen. */
async function waitForCashOut(ctx: Context, lamassuId: string, want: (s: CashOutState) => boolean, timeoutSeconds: number): Promise<CashOutState | null> {
  const deadline = Date.now() + timeoutSeconds * 1000;
  let last: CashOutState | null = null;
  for (;;) {
    last = (await cashOutState(ctx, lamassuId)) ?? last;
    if (last && want(last)) return last;
    if (Date.now() > deadline) return last;
    await sleep(1000);
  }
}

/**
 * Executes one of the cash-out workflow's operator updates and returns its result. A cash-out that is open
 * in the ledger but whose workflow run is gone (terminated, reset, lost) gets a recovery run instead
 * (client/recovery.ts): `retry` resumes it, `cancel-failed` resumes it with the cancel queued.
 */
export async function runUpdate(ctx: Context, idArg: string, update: 'retryFailedPayouts' | 'cancelFailedPayouts', input: { actor: string; reason?: string; funding?: RetryInput['funding'] }) {
  const tx = await findTransaction(ctx.pool(), idArg.trim());
  const client = await ctx.temporal();
  const reason = input.reason?.trim() || undefined;
  const owner = await ledgerCashOut(ctx.pool(), tx.id);
  const open = tx.status === 'processing' || tx.status === 'needs_attention';
  let result: OperatorActionResult | { accepted: true; action: 'resume'; payouts: number; runId: string };
  if (open && (await runStatus(client, owner.workflowId, owner.runId)) !== 'RUNNING') {
    const cancel: CancelInput | undefined = update === 'cancelFailedPayouts' ? { by: input.actor, ...(reason ? { reason } : {}) } : undefined;
    const r = await resumeCashOut(client, ctx.config, ctx.pool(), tx.id, cancel ? { cancel } : {});
    if (r.outcome !== 'started') throw new Error(`cash-out ${tx.lamassuId}: a run of ${r.workflowId} started meanwhile; try again`);
    const payouts = (await listPayments(ctx.pool(), tx.id)).filter((p) => p.status !== 'completed' && p.status !== 'cancelled').length;
    result = { accepted: true, action: 'resume', payouts, runId: r.runId };
  } else {
    const handle = client.workflow.getHandle(owner.workflowId);
    result =
      update === 'retryFailedPayouts'
        ? await handle.executeUpdate<OperatorActionResult, [RetryInput]>(retryFailedPayoutsUpdate.name, { args: [{ by: input.actor, ...(input.funding ? { funding: input.funding } : {}) }] })
        : await handle.executeUpdate<OperatorActionResult, [CancelInput]>(cancelFailedPayoutsUpdate.name, { args: [{ by: input.actor, ...(reason ? { reason } : {}) }] });
  }
  await recordOperatorEvent(ctx.pool(), input.actor, update === 'retryFailedPayouts' ? 'payouts-retried' : 'failed-payouts-cancelled', {
    lamassuId: tx.lamassuId, transactionId: tx.id, reason: reason ?? null, funding: input.funding ?? null, payouts: result.payouts, action: result.action,
  });
  return { tx, result };
}

/** approve / reject a held cash-out: the workflow's update, then the audit row (who, why). */
async function decideHeld(ctx: Context, idArg: string, decision: 'approve' | 'reject', input: { actor: string; reason?: string }) {
  const reason = input.reason?.trim();
  if (!reason) throw new CliError('--reason is required: say why (it is recorded)', EXIT.usage);
  const tx = await findTransaction(ctx.pool(), idArg.trim());
  if (tx.status !== 'held') throw new CliError(`cash-out ${tx.lamassuId} is ${tx.status}, not held`, EXIT.usage);
  const handle = (await ctx.temporal()).workflow.getHandle(tx.workflowId ?? cashOutWorkflowId(tx.lamassuId));
  const update = decision === 'approve' ? approveHeldCashOutUpdate : rejectHeldCashOutUpdate;
  const result = await handle.executeUpdate<HoldDecisionResult, [HoldDecisionInput]>(update.name, { args: [{ by: input.actor, reason }] });
  await recordOperatorEvent(ctx.pool(), input.actor, decision === 'approve' ? 'held-cashout-approved' : 'held-cashout-rejected', {
    lamassuId: tx.lamassuId, transactionId: tx.id, reason, heldFor: tx.error,
  });
  return { tx, result };
}

export function registerTx(program: Command): void {
  const tx = program.command('tx').description('Lamassu cash-outs in the ledger');

  tx.command('list')
    .description('cash-outs, newest first')
    .option('--status <status>', TRANSACTION_STATUSES.join(' | '))
    .option('--limit <n>', 'at most N rows (default 50)')
    .option('--json', 'print JSON')
    .action((o: { status?: string; limit?: string; json?: boolean }) =>
      withContext(async (ctx) => {
        const status = o.status === undefined ? undefined : parseArgs(z.enum(TRANSACTION_STATUSES, { error: `--status: one of ${TRANSACTION_STATUSES.join(', ')}` }), o.status);
        const rows = await listTransactions(ctx.pool(), { status, limit: positiveIntArg(o.limit, '--limit') ?? 50 });
        const d = ctx.config.lamassu.fiatDecimals;
        print(Boolean(o.json), rows.map((r) => ({ ...r, cryptoAtoms: satsNumber(r.cryptoAtoms) })), () =>
          rows.length ? table(['lamassu id', 'status', 'confirmed', 'atoms', 'base', 'commission', 'fiat', 'error'], rows.map((r) => txLine(r, d))) : 'no cash-outs',
        );
      }),
    );

  tx.command('show <lamassuId>')
    .description('one cash-out: source row, commission split, allocation, payouts with payment hashes')
    .option('--json', 'print JSON')
    .action((id: string, o: { json?: boolean }) =>
      withContext(async (ctx) => {
        const detail = await transactionDetail(ctx, id);
        const wf = await workflowView(ctx, detail.lamassuId);
        print(Boolean(o.json), { ...detail, workflow: wf }, () => formatDetail(detail, wf, ctx.config.lamassu.fiatDecimals));
      }),
    );

  tx.command('retry <lamassuId>')
    .description("retry the cash-out's failed payouts (cash-out workflow update retryFailedPayouts)")
    .option('--funding <answer>', 'only when the source wallet credit is uncertain: credited | not-credited (check the source wallet in LNbits first)')
    .option('--wait [duration]', 'then wait (default up to 5m) for the outcome: exit 0 when the cash-out completed, 1 when it needs attention again')
    .option('--reason <text>', 'why (recorded)')
    .option('--actor <name>', 'who (default: the OS user)')
    .option('--json', 'print JSON')
    .action((id: string, o: { funding?: string; wait?: string | boolean; reason?: string; actor?: string; json?: boolean }) =>
      withContext(async (ctx) => {
        const funding = o.funding === undefined ? undefined : parseArgs(z.enum(['credited', 'not-credited'], { error: '--funding: credited or not-credited' }), o.funding);
        const waitSeconds = o.wait === undefined || o.wait === false ? null : parseDuration(o.wait === true ? '5m' : o.wait, '--wait');
        if (waitSeconds !== null) {
          const t = await findTransaction(ctx.pool(), id.trim());
          if (t.status === 'completed') {
            print(Boolean(o.json), { lamassuId: t.lamassuId, update: null, status: 'completed' }, () => `cash-out ${t.lamassuId} completed by itself: nothing to retry`);
            return;
          }
          const before = await cashOutState(ctx, t.lamassuId);
          const { result } = await runUpdate(ctx, id, 'retryFailedPayouts', { actor: ctx.actor(o.actor), reason: o.reason, funding });
          progress(`retry of ${result.payouts} open payout(s) of ${t.lamassuId} accepted (${result.action}); waiting up to ${waitSeconds} s for the outcome…`);
          // Completed, or waiting for the operator once more (a new needs_attention, or a recovery run's).
          const end = await waitForCashOut(
            ctx, t.lamassuId,
            (x) => x.status === 'completed' || (x.status === 'needs_attention' && x.step === 'wait-operator' && (x.runId !== before?.runId || x.attentionCount > (before?.attentionCount ?? 0))),
            waitSeconds,
          );
          const status = end?.status ?? 'unknown';
          print(Boolean(o.json), { lamassuId: t.lamassuId, update: 'retryFailedPayouts', result, status }, () =>
            status === 'completed'
              ? `retry of ${result.payouts} open payout(s) of ${t.lamassuId}: cash-out completed`
              : `retry of ${result.payouts} open payout(s) of ${t.lamassuId}: cash-out is ${status}${end?.lastError ? ` (${end.lastError})` : ''} — see \`satmachine tx show ${t.lamassuId}\``,
          );
          if (status !== 'completed') setExitCode(EXIT.findings);
          return;
        }
        const { tx: t, result } = await runUpdate(ctx, id, 'retryFailedPayouts', { actor: ctx.actor(o.actor), reason: o.reason, funding });
        print(Boolean(o.json), { lamassuId: t.lamassuId, update: 'retryFailedPayouts', result }, () =>
          result.action === 'resume'
            ? `the workflow of ${t.lamassuId} was gone: a recovery run retries its ${result.payouts} open payout(s); \`satmachine tx show ${t.lamassuId}\` follows it`
            : result.action === 'wake'
              ? `the ${result.payouts} open payout(s) of ${t.lamassuId} were still being tried: tried again now`
              : `retry of ${result.payouts} failed payout(s) of ${t.lamassuId} accepted; \`satmachine tx show ${t.lamassuId}\` follows it`);
      }),
    );

  tx.command('resume <lamassuId>')
    .description('adopt a cash-out whose workflow is gone (terminated, reset, lost): a recovery run checks each payout in LNbits and continues from the ledger')
    .option('--actor <name>', 'who (default: the OS user)')
    .option('--json', 'print JSON')
    .action((id: string, o: { actor?: string; json?: boolean }) =>
      withContext(async (ctx) => {
        const r = await resumeCashOut(await ctx.temporal(), ctx.config, ctx.pool(), id);
        const c = await ledgerCashOut(ctx.pool(), id);
        if (r.outcome === 'started') {
          await recordOperatorEvent(ctx.pool(), ctx.actor(o.actor), 'cashout-resumed', { lamassuId: c.lamassuId, transactionId: c.transactionId, runId: r.runId });
        }
        print(Boolean(o.json), { lamassuId: c.lamassuId, ...r }, () =>
          r.outcome === 'started'
            ? `recovery run ${r.runId} of ${r.workflowId} started for ${c.lamassuId}; \`npx satmachine tx show ${c.lamassuId}\` follows it`
            : `the workflow of ${c.lamassuId} is running (${r.workflowId}): use \`npx satmachine tx retry\` or \`tx cancel-failed\``,
        );
      }),
    );

  tx.command('approve <lamassuId>')
    .description('pay a HELD cash-out after checking it in Lamassu (update approveHeldCashOut; audited)')
    .option('--reason <text>', 'why it is right to pay it (required, recorded)')
    .option('--actor <name>', 'who (default: the OS user)')
    .option('--json', 'print JSON')
    .action((id: string, o: { reason?: string; actor?: string; json?: boolean }) =>
      withContext(async (ctx) => {
        const { tx: t, result } = await decideHeld(ctx, id, 'approve', { actor: ctx.actor(o.actor), reason: o.reason });
        print(Boolean(o.json), { lamassuId: t.lamassuId, update: 'approveHeldCashOut', result }, () => `held cash-out ${t.lamassuId} approved: it is paid now; \`satmachine tx show ${t.lamassuId}\` follows it`);
      }),
    );

  tx.command('reject <lamassuId>')
    .description('close a HELD cash-out without paying it (update rejectHeldCashOut; audited)')
    .option('--reason <text>', 'why (required, recorded)')
    .option('--actor <name>', 'who (default: the OS user)')
    .option('--json', 'print JSON')
    .action((id: string, o: { reason?: string; actor?: string; json?: boolean }) =>
      withContext(async (ctx) => {
        const { tx: t, result } = await decideHeld(ctx, id, 'reject', { actor: ctx.actor(o.actor), reason: o.reason });
        print(Boolean(o.json), { lamassuId: t.lamassuId, update: 'rejectHeldCashOut', result }, () => `held cash-out ${t.lamassuId} rejected: it will never be paid`);
      }),
    );

  tx.command('settle-lost-payment <lamassuId>')
    .description('a payout LNbits lost (source debited, recipient row failed): verify that in LNbits, record the loss, pay the payout with a new invoice (audited)')
    .option('--payment <paymentId>', 'the held payout (its id, from `tx show` or the payout-disagreement alert)')
    .option('--reason <text>', 'what you checked in LNbits (required, recorded with the loss)')
    .option('--wait [duration]', 'then wait (default up to 5m) for the outcome: exit 0 when the cash-out completed, 1 when it needs attention again')
    .option('--actor <name>', 'who (default: the OS user)')
    .option('--json', 'print JSON')
    .action((id: string, o: { payment?: string; reason?: string; wait?: string | boolean; actor?: string; json?: boolean }) =>
      withContext(async (ctx) => {
        const paymentId = parseArgs(uuidArg('--payment'), o.payment);
        const reason = o.reason?.trim();
        if (!reason) throw new CliError('--reason is required: say what you checked in LNbits (it is recorded with the loss)', EXIT.usage);
        const waitSeconds = o.wait === undefined || o.wait === false ? null : parseDuration(o.wait === true ? '5m' : o.wait, '--wait');
        const actor = ctx.actor(o.actor);
        const r = await settleLostPayment(ctx, { lamassuId: id, paymentId, actor, note: reason });
        const loss = { id: r.loss.id, lostPaymentHash: r.loss.lostPaymentHash, amountSats: r.loss.amountSats, recordedAt: r.loss.recordedAt, recordedBy: r.loss.recordedBy };
        const lamassuId = r.tx.lamassuId;
        // An earlier run that stopped after the replacement, before the retry: the retry is sent now.
        if (r.outcome === 'already-settled' && !(r.tx.status === 'needs_attention' && r.payout.status === 'failed')) {
          print(Boolean(o.json), { lamassuId, paymentId, outcome: r.outcome, loss, payoutStatus: r.payout.status, status: r.tx.status }, () =>
            `the LNbits loss of ${loss.lostPaymentHash} (${loss.amountSats} sats) was recorded at ${loss.recordedAt} by ${loss.recordedBy}; payout ${paymentId} is ${r.payout.status}, cash-out ${lamassuId} ${r.tx.status}: nothing to do`);
          return;
        }
        const before = waitSeconds === null ? null : await cashOutState(ctx, lamassuId);
        const { result } = await runUpdate(ctx, lamassuId, 'retryFailedPayouts', { actor, reason: `LNbits lost payment ${loss.lostPaymentHash}: paid again with a new invoice` });
        const head = `LNbits loss of ${loss.lostPaymentHash} (${loss.amountSats} sats) ${r.outcome === 'replaced' && r.lossCreated ? 'recorded' : 'already recorded'}; payout ${paymentId} has a new invoice ${r.payout.paymentHash}`;
        if (waitSeconds === null) {
          print(Boolean(o.json), { lamassuId, paymentId, outcome: r.outcome, loss, paymentHash: r.payout.paymentHash, result }, () =>
            `${head}; ${result.action === 'resume' ? 'a recovery run pays it' : 'the cash-out pays it'} — \`satmachine tx show ${lamassuId}\` follows it`);
          return;
        }
        progress(`${head}; waiting up to ${waitSeconds} s for the cash-out…`);
        const end = await waitForCashOut(
          ctx, lamassuId,
          (x) => x.status === 'completed' || (x.status === 'needs_attention' && x.step === 'wait-operator' && (x.runId !== before?.runId || x.attentionCount > (before?.attentionCount ?? 0))),
          waitSeconds,
        );
        const status = end?.status ?? 'unknown';
        print(Boolean(o.json), { lamassuId, paymentId, outcome: r.outcome, loss, paymentHash: r.payout.paymentHash, result, status }, () =>
          status === 'completed'
            ? `${head}; cash-out ${lamassuId} completed`
            : `${head}; cash-out ${lamassuId} is ${status}${end?.lastError ? ` (${end.lastError})` : ''} — see \`satmachine tx show ${lamassuId}\``);
        if (status !== 'completed') setExitCode(EXIT.findings);
      }),
    );

  tx.command('cancel-failed <lamassuId>')
    .description("cancel the cash-out's failed payouts and give the clients their fiat back (update cancelFailedPayouts)")
    .option('--reason <text>', 'why (recorded)')
    .option('--actor <name>', 'who (default: the OS user)')
    .option('--json', 'print JSON')
    .action((id: string, o: { reason?: string; actor?: string; json?: boolean }) =>
      withContext(async (ctx) => {
        const { tx: t, result } = await runUpdate(ctx, id, 'cancelFailedPayouts', { actor: ctx.actor(o.actor), reason: o.reason });
        print(Boolean(o.json), { lamassuId: t.lamassuId, update: 'cancelFailedPayouts', result }, () => `cancel of ${result.payouts} failed payout(s) of ${t.lamassuId} accepted: their clients get their fiat back`);
      }),
    );
}
