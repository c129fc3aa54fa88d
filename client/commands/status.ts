/**
 * `satmachine status`: one screen for the operator — payouts halted or not, the poller (state, last poll,
 * last success), the schedules and their next runs, cash-outs by status, failed and pending payouts, open
 * alerts, source and commission wallet balances. Every part is fetched independently: an unreachable
 * ledger, Temporal or LNbits is shown as such and the rest still prints (exit 3 when a part is missing).
 */
import { ScheduleNotFoundError } from '@temporalio/client';
import type { Command } from 'commander';
import type pg from 'pg';
import { getControl, type ControlState } from '../../adapters/ledger/operator-control';
import { listUnfinishedRows, type UnfinishedRow } from '../../adapters/ledger/cashout-checks';
import { SCHEDULE_IDS } from '../../domain/constants';
import { type Context, messageOf, withContext } from '../context';
import { cashOutCounts, lastTransactionAt, listPayouts, openAlerts, payoutCounts, type AlertView, type CountRow, type PayoutView } from '../ledger-views';
import { EXIT, print, setExitCode, table } from '../output';
import { formatPoller, readPoller, type PollerView } from './poller';

type Part<T> = { ok: true; value: T } | { ok: false; error: string };

async function part<T>(fn: () => Promise<T>): Promise<Part<T>> {
  try {
    return { ok: true, value: await fn() };
  } catch (err) {
    return { ok: false, error: messageOf(err) };
  }
}

interface ScheduleView {
  id: string;
  exists: boolean;
  paused: boolean | null;
  note: string | null;
  nextRuns: string[];
  lastRun: string | null;
}

async function schedules(ctx: Context): Promise<ScheduleView[]> {
  const client = await ctx.temporal();
  return Promise.all(
    Object.values(SCHEDULE_IDS).map(async (baseId): Promise<ScheduleView> => {
      const id = `${ctx.scheduleIdPrefix}${baseId}`;
      try {
        const d = await client.schedule.getHandle(id).describe();
        return {
          id, exists: true, paused: d.state.paused, note: d.state.note ?? null,
          nextRuns: d.info.nextActionTimes.slice(0, 3).map((t) => t.toISOString()),
          lastRun: d.info.recentActions.at(-1)?.takenAt.toISOString() ?? null,
        };
      } catch (err) {
        if (err instanceof ScheduleNotFoundError) return { id, exists: false, paused: null, note: 'not created (satmachine setup)', nextRuns: [], lastRun: null };
        throw err;
      }
    }),
  );
}

interface WalletView {
  wallet: 'source' | 'commission';
  configured: boolean;
  name?: string;
  balanceSats?: number;
  balanceMsat?: string;
  error?: string;
}

async function wallets(ctx: Context): Promise<WalletView[]> {
  const lnbits = ctx.lnbits();
  return Promise.all(
    (['source', 'commission'] as const).map(async (wallet): Promise<WalletView> => {
      const w = ctx.config.lnbits[wallet];
      // The invoice key reads the balance too and cannot spend: prefer it.
      const key = w.invoiceKey ?? w.adminKey;
      if (!key) return { wallet, configured: false, error: `no key configured (lnbits.${wallet}.invoiceKey or adminKey)` };
      try {
        const info = await lnbits.getWallet(key);
        return { wallet, configured: true, name: info.name, balanceSats: Number(info.balanceMsat / 1000n), balanceMsat: info.balanceMsat.toString() };
      } catch (err) {
        return { wallet, configured: true, error: messageOf(err) };
      }
    }),
  );
}

export interface StatusReport {
  at: string;
  control: Part<ControlState>;
  poller: Part<PollerView>;
  schedules: Part<ScheduleView[]>;
  cashOuts: Part<CashOutsView>;
  payouts: Part<{ byStatus: CountRow[]; open: PayoutView[]; stuckMinutes: number }>;
  alerts: Part<{ total: number; unacknowledged: number; alerts: AlertView[] }>;
  wallets: Part<WalletView[]>;
}

interface CashOutsView {
  byStatus: CountRow[];
  lastRecordedAt: string | null;
  /** Held for the operator (`tx approve|reject`), with why. */
  held: Array<{ lamassuId: string; reason: string | null }>;
  /** Dispensed in Lamassu (error IS NULL AND dispense) but not payable after cashOutChecks.dispensedNotFinalHours. */
  dispensedNotFinal: UnfinishedRow[];
}

async function heldCashOuts(pool: pg.Pool): Promise<CashOutsView['held']> {
  const { rows } = await pool.query(`SELECT lamassu_id::text AS id, error FROM satoshimachine.lamassu_transactions WHERE status = 'held' ORDER BY confirmed_at LIMIT 20`);
  return rows.map((r) => ({ lamassuId: String(r.id), reason: (r.error as string | null) ?? null }));
}

export async function collectStatus(ctx: Context): Promise<StatusReport> {
  const pool = () => ctx.pool();
  const [control, poller, sched, cashOuts, payouts, alerts, walletParts] = await Promise.all([
    part(() => getControl(pool())),
    part(async () => readPoller(await ctx.temporal(), ctx.pollerWorkflowId)),
    part(() => schedules(ctx)),
    part(async () => ({
      byStatus: await cashOutCounts(pool()),
      lastRecordedAt: await lastTransactionAt(pool()),
      held: await heldCashOuts(pool()),
      dispensedNotFinal: await listUnfinishedRows(pool(), 20),
    })),
    part(async () => ({
      byStatus: await payoutCounts(pool()),
      open: await listPayouts(pool(), { statuses: ['failed', 'pending'], limit: 10 }),
      stuckMinutes: ctx.config.alerts.stuckPayoutMinutes,
    })),
    part(() => openAlerts(pool(), 10)),
    part(() => wallets(ctx)),
  ]);
  return { at: new Date().toISOString(), control, poller, schedules: sched, cashOuts, payouts, alerts, wallets: walletParts };
}

const unreachable = (p: Part<unknown>) => (p.ok ? null : `UNAVAILABLE: ${p.error}`);

function section(title: string, body: string): string {
  return `== ${title}\n${body}`;
}

export function formatStatus(r: StatusReport): string {
  const out: string[] = [];
  out.push(section('payouts switch', unreachable(r.control) ?? (r.control.ok && r.control.value.payoutsHalted
    ? `HALTED since ${r.control.value.haltedAt} by ${r.control.value.haltedBy}: ${r.control.value.haltedReason}`
    : 'running')));
  out.push(section('poller', unreachable(r.poller) ?? formatPoller((r.poller as { value: PollerView }).value)));
  out.push(section('schedules', unreachable(r.schedules) ?? table(['schedule', 'state', 'next runs', 'last run'],
    (r.schedules as { value: ScheduleView[] }).value.map((s) => [s.id, s.exists ? (s.paused ? `paused${s.note ? `: ${s.note}` : ''}` : 'active') : s.note, s.nextRuns.join(', '), s.lastRun]))));
  out.push(section('cash-outs', unreachable(r.cashOuts) ?? (() => {
    const v = (r.cashOuts as { value: CashOutsView }).value;
    const held = v.held.length ? `\nHELD (satmachine tx approve|reject <id> --reason …):\n${table(['lamassu tx', 'why'], v.held.map((h) => [h.lamassuId, h.reason]))}` : '';
    const unfinished = v.dispensedNotFinal.length
      ? `\ndispensed in Lamassu, not final (never paid until Lamassu confirms):\n${table(['lamassu tx', 'coin', 'fiat', 'lamassu status', 'dispense confirmed', 'created'], v.dispensedNotFinal.map((u) => [u.lamassuId, u.cryptoCode, `${u.fiat} ${u.fiatCode}`, u.lamassuStatus, String(u.dispenseConfirmed), u.created]))}`
      : '';
    return `${v.byStatus.length ? table(['status', 'count', 'crypto atoms'], v.byStatus.map((c) => [c.status, c.count, c.sats])) : 'none recorded'}\nlast recorded: ${v.lastRecordedAt ?? '-'}${held}${unfinished}`;
  })()));
  out.push(section('payouts', unreachable(r.payouts) ?? (() => {
    const v = (r.payouts as { value: { byStatus: CountRow[]; open: PayoutView[]; stuckMinutes: number } }).value;
    const counts = v.byStatus.length ? table(['status', 'count', 'sats', 'oldest'], v.byStatus.map((c) => [c.status, c.count, c.sats, c.oldest])) : 'none';
    const open = v.open.length
      ? `\nopen (oldest first):\n${table(['lamassu tx', 'kind', 'client', 'sats', 'status', 'age', 'last error'], v.open.map((p) => [p.lamassuId, p.kind, p.clientName ?? p.clientId, p.amountSats, `${p.status}${p.status === 'pending' && p.ageSeconds > v.stuckMinutes * 60 ? ' (STUCK)' : ''}`, `${Math.floor(p.ageSeconds / 60)}m`, p.waitingSince && p.status === 'pending' ? `waiting for ${/ledger|ECONNREFUSED|database|Connection terminated/i.test(p.lastError ?? '') && !/LNbits/.test(p.lastError ?? '') ? 'the ledger' : 'LNbits'} since ${p.waitingSince}: ${p.lastError ?? ''}` : p.lastError]))}`
      : '';
    return counts + open;
  })()));
  out.push(section('open alerts', unreachable(r.alerts) ?? (() => {
    const v = (r.alerts as { value: { total: number; unacknowledged?: number; alerts: AlertView[] } }).value;
    return v.total
      ? `${v.total} open, ${v.unacknowledged ?? v.total} unacknowledged (\`satmachine alerts ack <id>\`)\n${table(['id', 'severity', 'kind', 'at', 'ack', 'message'], v.alerts.map((a) => [a.id, a.severity, a.kind, a.createdAt, a.acknowledgedBy ? `by ${a.acknowledgedBy}` : 'NO', a.message]))}`
      : 'none';
  })()));
  out.push(section('wallets', unreachable(r.wallets) ?? table(['wallet', 'name', 'balance (sats)', 'problem'],
    (r.wallets as { value: WalletView[] }).value.map((w) => [w.wallet, w.name, w.balanceSats, w.error]))));
  return out.join('\n\n');
}

export function registerStatus(program: Command): void {
  program
    .command('status')
    .description('one screen: payouts switch, poller, schedules, cash-outs, payouts, alerts, wallet balances')
    .option('--json', 'print JSON')
    .action((o: { json?: boolean }) =>
      withContext(async (ctx) => {
        const report = await collectStatus(ctx);
        print(Boolean(o.json), report, () => formatStatus(report));
        const parts = [report.control, report.poller, report.schedules, report.cashOuts, report.payouts, report.alerts, report.wallets];
        const walletDown = report.wallets.ok && report.wallets.value.some((w) => w.configured && w.error);
        if (parts.some((p) => !p.ok) || walletDown) setExitCode(EXIT.unavailable);
      }),
    );
}
