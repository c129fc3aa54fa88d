/**
 * P2: a Lamassu row confirmed → its first client payout paid, through the whole production path: the row is
 * written into the simulated Lamassu database (real schema), the poller workflow reads it through the real
 * SSH tunnel at the DEFAULT poll interval, the worker is its own process (test/support/worker-process.ts runs
 * worker/main.ts), LNbits is real (FakeWallet). Rows are written one at a time at random moments, so each
 * lands somewhere in the poll cycle; the latency is split into "waiting for the poll" (confirmed → recorded
 * in the ledger) and "processing" (recorded → first payout proven paid in LNbits and marked completed).
 * Also prints the worker process's peak RSS (VmHWM) as a second P5 reading.
 *
 *   npx tsx bench/latency.ts [--rows 20] [--poll-interval-seconds <config default>] [--gap-max-seconds 40]
 * Prints one JSON object; everything started is stopped afterwards.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { bundleWorkflowCode } from '@temporalio/worker';
import { repoRoot } from '../config/load';
import { configSchema } from '../config/schema';
import { startChaosStack, type ChaosStack } from '../chaos/stack';
import { insertRows, between, waitSettled } from '../chaos/workload';
import { sleep } from '../test/support/process-group';
import { intArg, machine } from './common';

const DEFAULT_POLL_S = configSchema.parse({ databaseUrl: 'postgres://x/y' }).lamassu.pollIntervalSeconds;
const ROWS = intArg('rows', 20);
const POLL_S = intArg('poll-interval-seconds', DEFAULT_POLL_S);
const GAP_MAX_S = intArg('gap-max-seconds', 40);
const round = (n: number, d = 1) => Math.round(n * 10 ** d) / 10 ** d;
const pct = (xs: number[], p: number) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor((xs.length * p) / 100))]!;

/** Peak resident set of a process (kernel's high-water mark), MiB. */
function peakRssMiB(pid: number): number | null {
  try {
    const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? round(Number(m[1]) / 1024) : null;
  } catch {
    return null;
  }
}

function currentRssMiB(pid: number): number | null {
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? round(Number(m[1]) / 1024) : null;
  } catch {
    return null;
  }
}

async function main(): Promise<void> {
  const stops: Array<[string, () => Promise<void>]> = [];
  const stopAll = async () => {
    for (const [, stop] of stops.splice(0).reverse()) await stop().catch(() => undefined);
  };
  for (const sig of ['SIGINT', 'SIGTERM'] as const) process.once(sig, () => void stopAll().then(() => process.exit(130)));
  // Like the production build (dist/workflow-bundle.js): the worker loads a prebuilt workflow bundle instead of
  // running webpack at start, so its peak RSS is the worker's own.
  const bundleDir = mkdtempSync(path.join(os.tmpdir(), 'satmachine-bench-bundle-'));
  stops.push(['bundle', async () => rmSync(bundleDir, { recursive: true, force: true })]);
  const quiet = { log: () => {}, trace: () => {}, debug: () => {}, info: () => {}, warn: () => {}, error: (m: string) => console.error(m) };
  process.env.SATMACHINE_WORKFLOW_BUNDLE = path.join(bundleDir, 'workflow-bundle.js');
  writeFileSync(process.env.SATMACHINE_WORKFLOW_BUNDLE, (await bundleWorkflowCode({ workflowsPath: path.join(repoRoot, 'workflows', 'index.ts'), logger: quiet })).code);
  let stack: ChaosStack;
  try {
    stack = await startChaosStack(
      { name: 'bench-latency', fundingMode: 'prefunded', clients: 5, depositMinor: 50_000_000, sourceSats: 100_000_000, pollIntervalSeconds: POLL_S },
      (name, stop) => void stops.push([name, stop]),
    );
  } catch (err) {
    await stopAll();
    throw err;
  }
  try {
    const rssAtStartMiB = currentRssMiB(stack.workers[0]!.pid());
    // The poller's first poll happens at setup: start the clock after it, at a random point of the cycle.
    const ids: string[] = [];
    for (let i = 0; i < ROWS; i++) {
      await sleep(between(1_000, GAP_MAX_S * 1_000));
      ids.push(...(await insertRows(stack.lamassu, 1)));
      process.stderr.write(`[bench] latency: row ${i + 1}/${ROWS} written\n`);
    }
    const settled = await waitSettled(stack.ledger, ids, (POLL_S + 120) * 1_000, { idleMs: (POLL_S + 60) * 1_000 });
    const { rows } = await stack.ledger.query<{ id: string; confirmed: Date; recorded: Date; first_paid: Date | null }>(
      `SELECT t.lamassu_id::text AS id, t.confirmed_at AS confirmed, t.created_at AS recorded,
              (SELECT min(p.completed_at) FROM satoshimachine.payments p WHERE p.transaction_id = t.id AND p.kind = 'client' AND p.status = 'completed') AS first_paid
         FROM satoshimachine.lamassu_transactions t WHERE t.lamassu_id::text = ANY ($1)`,
      [ids],
    );
    const paid = rows.filter((r) => r.first_paid);
    const totalS = paid.map((r) => (r.first_paid!.getTime() - r.confirmed.getTime()) / 1000);
    const waitS = paid.map((r) => (r.recorded.getTime() - r.confirmed.getTime()) / 1000);
    const procS = paid.map((r) => (r.first_paid!.getTime() - r.recorded.getTime()) / 1000);
    const stat = (xs: number[]) => (xs.length ? { p50: round(pct(xs, 50)), p95: round(pct(xs, 95)), max: round(Math.max(...xs)) } : null);
    const p95 = totalS.length ? pct(totalS, 95) : Infinity;
    process.stdout.write(`${JSON.stringify({
      benchmark: 'poll-to-first-payout (P2)',
      machine: { ...machine(), loadAvg1m: round(os.loadavg()[0]!, 2) },
      workload: {
        rows: ROWS, pollIntervalSeconds: POLL_S, defaultPollIntervalSeconds: DEFAULT_POLL_S, gapBetweenRowsSeconds: `1–${GAP_MAX_S}, random`,
        clientsPerCashOut: 5, path: 'Lamassu row (real schema) → poller workflow → SSH tunnel → cash-out workflow in a separate worker process → LNbits (FakeWallet) → proof',
      },
      goal: `p50 and p95 ≤ poll interval + 2 s = ${POLL_S + 2} s`,
      settlement: settled.byStatus,
      firstPayoutS: stat(totalS),
      waitingForPollS: stat(waitS),
      processingS: stat(procS),
      meetsGoal: paid.length === ROWS && p95 <= POLL_S + 2,
      workerPeakRssMiB: peakRssMiB(stack.workers[0]!.pid()),
      workerRssMiB: { afterStart: rssAtStartMiB, atEnd: currentRssMiB(stack.workers[0]!.pid()), process: 'test/support/worker-process.ts (worker/main.ts runWorker under tsx, prebuilt workflow bundle)' },
    }, null, 2)}\n`);
    if (paid.length !== ROWS) throw new Error(`${ROWS - paid.length} of ${ROWS} cash-outs had no payout paid: ${JSON.stringify(settled.byStatus)}`);
  } finally {
    await stopAll();
  }
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    console.error('[bench] latency failed:', err);
    process.exit(1);
  },
);
