/**
 * Campaign 1: the worker PROCESS killed with SIGKILL at random moments — half of the kills at a random time,
 * half aimed at an in-flight transfer (LNbits has been asked to pay and its answer is held back by the fault
 * proxy) — and started again each time, in both funding modes.
 */
import type { CampaignContext, StackRun } from '../campaign';
import { onStack } from '../campaign';
import type { ChaosStack, FundingMode } from '../stack';
import { between, insertRows } from '../workload';
import { sleep } from '../../test/support/process-group';

/** Waits up to `ms` for LNbits to be asked for one more payment than `before`; whether it was. */
async function nextPayment(stack: ChaosStack, before: number, ms: number): Promise<boolean> {
  for (const deadline = Date.now() + ms; Date.now() < deadline; await sleep(50)) if (stack.proxy.paysForwarded > before) return true;
  return false;
}

export async function killWorkerLoop(stack: ChaosStack, o: { cashOuts: number; kills: number }, log: (l: string) => void) {
  const ids: string[] = [];
  const faults = { workerKills: 0, killsDuringTransfer: 0, killsAtRandom: 0 };
  const perKill = Math.max(1, Math.floor(o.cashOuts / (o.kills + 1)));
  for (let k = 0; k < o.kills; k++) {
    ids.push(...(await insertRows(stack.lamassu, perKill)));
    const aimed = k % 2 === 0;
    const worker = stack.workers[0]!;
    if (aimed) {
      // LNbits pays at once; the worker hears of it only after the kill.
      stack.proxy.delayPayMs = 5_000;
      const hit = await nextPayment(stack, stack.proxy.paysForwarded, 30_000);
      await sleep(between(0, 300));
      await worker.kill();
      stack.proxy.delayPayMs = 0;
      if (hit) faults.killsDuringTransfer++;
      else faults.killsAtRandom++;
    } else {
      await sleep(between(200, 6_000));
      await worker.kill();
      faults.killsAtRandom++;
    }
    faults.workerKills++;
    await sleep(between(0, 2_000));
    await worker.start();
    log(`    kill ${k + 1}/${o.kills} (${aimed ? 'aimed at a transfer' : 'random'}); worker restarted`);
  }
  ids.push(...(await insertRows(stack.lamassu, Math.max(0, o.cashOuts - ids.length))));
  return { ids, faults };
}

export async function workerKillCampaign(ctx: CampaignContext): Promise<StackRun[]> {
  const runs: StackRun[] = [];
  const cashOuts = ctx.quick ? 4 : 27;
  const kills = ctx.quick ? 2 : 16;
  for (const fundingMode of ['prefunded', 'superuser-credit'] as FundingMode[]) {
    runs.push(
      await onStack(ctx, { name: `worker-kill-${fundingMode}`, fundingMode, clients: 4, depositMinor: 2_000_000, sourceSats: 60_000_000, settleMs: ctx.quick ? 60_000 : 180_000 }, (stack) =>
        killWorkerLoop(stack, { cashOuts, kills }, ctx.log),
      ),
    );
  }
  return runs;
}
