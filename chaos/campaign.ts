/**
 * What every campaign shares: its own stack, the fault phase, then waiting for the cash-outs to settle, the
 * verifier, the documented operator commands (`satmachine tx retry`, then `tx cancel-failed`, docs/runbook.md)
 * on every cash-out left stuck, and a final verification with the workers stopped (nothing moves while it reads).
 */
import { cashOutWorkflowId } from '../domain/constants';
import { runBinary } from '../test/support/cli';
import { startChaosStack, type ChaosStack, type StackOptions } from './stack';
import { verify, type VerifyReport } from './verify';
import { waitSettled, type Settlement } from './workload';

export interface CampaignContext {
  quick: boolean;
  /** Registers a stop for Ctrl-C; returns the stop to call (at most once runs) when the campaign ends. */
  register: (name: string, stop: () => Promise<void>) => () => Promise<void>;
  log: (line: string) => void;
}

export interface FaultPhase {
  /** Lamassu ids the campaign expects to be paid (qualifying rows it inserted). */
  ids: string[];
  /** Every id it inserted (fuzz: bad rows too), for the verifier's scope. */
  allIds?: string[];
  faults: Record<string, number>;
  notes?: string[];
}

export interface Recovery {
  lamassuId: string;
  statusBefore: string;
  /** The cash-out workflow as Temporal shows it before the command (status, failure message). */
  workflow: string;
  /** The Lamassu row's amounts, to reproduce. */
  row: string;
  command: string;
  exitCode: number;
  output: string;
  statusAfter: string;
  recovered: boolean;
  /** The payouts' last errors after the command, when it did not recover the cash-out. */
  lastErrors: string[];
}

export interface StackRun {
  stack: string;
  fundingMode: string;
  workload: Record<string, unknown>;
  faults: Record<string, number>;
  notes: string[];
  settlement: Settlement;
  recoveries: Recovery[];
  verification: Omit<VerifyReport, 'failed'>;
  failed: boolean;
  durationS: number;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function ledgerStatus(stack: ChaosStack, id: string): Promise<string> {
  const { rows } = await stack.ledger.query(`SELECT status FROM satoshimachine.lamassu_transactions WHERE lamassu_id::text = $1`, [id]);
  return rows[0] ? String(rows[0].status) : 'not-ingested';
}

async function waitStatus(stack: ChaosStack, id: string, ok: (s: string) => boolean, ms: number): Promise<string> {
  let s = await ledgerStatus(stack, id);
  for (const deadline = Date.now() + ms; !ok(s) && Date.now() < deadline; ) {
    await sleep(1_000);
    s = await ledgerStatus(stack, id).catch(() => s);
  }
  return s;
}

/** "Activity task failed ← <the activity's error> ← …": every cause's message. */
function failureChain(err: unknown): string {
  const parts: string[] = [];
  for (let e: unknown = err; e instanceof Error && parts.length < 5; e = e.cause) parts.push(`${e.name}: ${e.message}`);
  return parts.slice(1).join(' ← ') || String(err);
}

/**
 * The runbook's recovery of one stuck cash-out through the real CLI binary: a payout LNbits lost settled
 * (`tx settle-lost-payment`), retry, then cancel-failed (§3). A
 * HELD cash-out (a plausibility check failed: the fuzz campaign's implausible rows) is the operator's decision,
 * not a failure: retry and cancel-failed refuse it; §7's `tx reject` settles it without paying (`rejected`).
 */
async function recover(stack: ChaosStack, id: string, statusBefore: string, waitMs: number): Promise<Recovery[]> {
  const env = { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', SATMACHINE_CONFIG: stack.configFile };
  const out: Recovery[] = [];
  const handle = stack.client.workflow.getHandle(cashOutWorkflowId(id));
  const workflow = await handle.describe().then(
    async (d) => `${d.status.name}${d.status.name === 'FAILED' ? `: ${await handle.result().then(() => '', failureChain)}` : ''}`,
    (e: unknown) => `not found (${(e as Error).message})`,
  );
  // Whatever columns this Lamassu schema has (older servers lack some): the whole row, for the reproduction.
  const row = await stack.lamassu.query(`SELECT to_jsonb(c) AS row FROM cash_out_txs c WHERE id::text = $1`, [id]).then(
    (r) => JSON.stringify(r.rows[0]?.row ?? null),
    (e: unknown) => `(unreadable: ${(e as Error).message})`,
  );
  const held = statusBefore === 'held';
  // A payout LNbits lost (defect 9: the source's row success, the client's failed): the runbook settles it
  // first with `tx settle-lost-payment`, which refuses unless LNbits shows exactly that signature.
  const lost = held
    ? []
    : (await stack.ledger.query(`SELECT p.id::text AS id FROM satoshimachine.payments p JOIN satoshimachine.lamassu_transactions t ON t.id = p.transaction_id
                                  WHERE t.lamassu_id::text = $1 AND p.status = 'failed' AND p.last_error LIKE '%row is failed but the payer wallet''s row is success%'`, [id])).rows;
  const commands = held
    ? [['tx', 'reject', id, '--reason', 'chaos campaign: implausible row, not paid']]
    : [
        ...lost.map((p) => ['tx', 'settle-lost-payment', id, '--payment', String(p.id), '--reason', 'chaos campaign: LNbits lost the payment']),
        ['tx', 'retry', id, '--reason', 'chaos campaign'],
        ['tx', 'cancel-failed', id, '--reason', 'chaos campaign'],
      ];
  const settled = (s: string) => s === (held ? 'rejected' : 'completed');
  for (const argv of commands) {
    const r = await runBinary(argv, env);
    const statusAfter = r.code === 0 ? await waitStatus(stack, id, settled, waitMs) : await ledgerStatus(stack, id);
    const recovered = settled(statusAfter);
    const lastErrors = recovered
      ? []
      : (await stack.ledger.query(`SELECT p.kind, p.status, p.last_error FROM satoshimachine.payments p JOIN satoshimachine.lamassu_transactions t ON t.id = p.transaction_id
                                    WHERE t.lamassu_id::text = $1 AND p.status <> 'completed'`, [id])).rows.map((p) => `${p.kind} ${p.status}: ${p.last_error ?? ''}`.slice(0, 200));
    out.push({ lastErrors, lamassuId: id, statusBefore, workflow, row, command: `satmachine ${argv.slice(0, 3).join(' ')}`, exitCode: r.code, output: (r.stdout + r.stderr).trim().slice(0, 300), statusAfter, recovered });
    if (recovered) break;
  }
  return out;
}

export async function onStack(
  ctx: CampaignContext,
  opts: StackOptions & { settleMs: number; recoverWaitMs?: number },
  faultPhase: (stack: ChaosStack) => Promise<FaultPhase>,
): Promise<StackRun> {
  const t0 = Date.now();
  const stops: Array<[string, () => Promise<void>]> = [];
  const start = () =>
    startChaosStack(opts, (name, stop) => void stops.push([name, ctx.register(`${opts.name} ${name}`, stop)])).catch(async (err: unknown) => {
      for (const [, stop] of stops.splice(0).reverse()) await stop().catch(() => {});
      throw err;
    });
  // On a shared machine a start can fail for reasons of its own (another user reinstalling .tools/, LNbits'
  // SQLite busy): one more try before the campaign counts as not run.
  const stack = await start().catch(async (err: unknown) => {
    ctx.log(`  ! stack ${opts.name} did not start (${(err as Error).message.split('\n')[0]}); trying once more in 20 s`);
    await sleep(20_000);
    return start();
  });
  ctx.log(`  stack ${opts.name} up in ${((Date.now() - t0) / 1000).toFixed(0)} s (${stack.dir})`);
  try {
    const phase = await faultPhase(stack);
    // Faults over: everything must be up for the settlement.
    stack.proxy.down = false;
    stack.proxy.delayPayMs = 0;
    stack.proxy.intercept = null;
    ctx.log(`  faults done ${JSON.stringify(phase.faults)}; waiting for ${phase.ids.length} cash-outs to settle`);
    const settlement = await waitSettled(stack.ledger, phase.ids, opts.settleMs, { idleMs: ctx.quick ? 20_000 : 45_000, activity: () => stack.proxy.paysForwarded });
    const scope = phase.allIds ?? phase.ids;
    const target = {
      ledger: stack.ledger, lamassu: stack.lamassu, lamassuIds: scope,
      lnbits: { url: stack.lnbits.url, dbFile: stack.lnbits.dbFile },
      lookbackHours: stack.config.lamassu.lookbackHours,
      source: { id: stack.source.id, adminKey: stack.source.adminKey },
      commission: { id: stack.commission.id, invoiceKey: stack.commission.invoiceKey },
      clients: stack.clients.map((c) => ({ id: c.id, wallet: { id: c.wallet.id, invoiceKey: c.wallet.invoiceKey } })),
    };
    const first = await verify(target);
    const recoveries: Recovery[] = [];
    for (const s of first.stuck) recoveries.push(...(await recover(stack, s.lamassuId, s.status, opts.recoverWaitMs ?? (ctx.quick ? 20_000 : 45_000))));
    // Nothing may move while the final verification reads LNbits and the ledger.
    for (const w of stack.workers) await w.stop();
    const final = await verify(target);
    const { failed, ...verification } = final;
    return {
      stack: opts.name, fundingMode: opts.fundingMode,
      workload: { clientsPerCashOut: opts.clients, cashOuts: phase.ids.length, rowsInserted: scope.length, workers: stack.workers.length },
      faults: phase.faults, notes: phase.notes ?? [], settlement, recoveries, verification, failed, durationS: Math.round((Date.now() - t0) / 1000),
    };
  } finally {
    for (const [name, stop] of stops.reverse()) await stop().catch((err: unknown) => ctx.log(`  ! stopping ${name}: ${(err as Error).message}`));
  }
}
