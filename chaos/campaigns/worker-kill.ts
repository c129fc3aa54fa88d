/**
 * Campaign 1: the worker PROCESS killed with SIGKILL at random moments — half of the kills at a random time,
 * half aimed at an in-flight transfer (LNbits has been asked to pay and its answer is held back by the fault
 * proxy) — and started again each time, in both funding modes.
 */
import type { CampaignContext, StackRun } from '../campaign';
import { onStack } from '../campaign';
import type { ChaosStack, FundingMode } from '../stack';
import { readFileSync, writeFileSync } from 'node:fs';
import { between, insertRows, waitSettled } from '../workload';
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

/**
 * One stack for both funding modes: the first half of the kills with `prefunded`, then (once those cash-outs
 * settled) the worker's config switches to `superuser-credit` and the second half runs — the worker is
 * restarted after every kill anyway, so it picks the new config up like a redeploy would.
 */
export async function workerKillCampaign(ctx: CampaignContext): Promise<StackRun[]> {
  const cashOuts = ctx.quick ? 3 : 27; // per funding mode
  const kills = ctx.quick ? 2 : 32; // in all
  return [
    await onStack(ctx, { name: 'worker-kill', fundingMode: 'prefunded', clients: 4, depositMinor: 2_000_000, sourceSats: 40_000_000, settleMs: ctx.quick ? 60_000 : 180_000 }, async (stack) => {
      const faults: Record<string, number> = {};
      const ids: string[] = [];
      const modes: FundingMode[] = ['prefunded', 'superuser-credit'];
      for (const mode of modes) {
        if (mode !== stack.config.fundingMode) {
          const settled = await waitSettled(stack.ledger, ids, ctx.quick ? 45_000 : 120_000, { idleMs: 20_000, activity: () => stack.proxy.paysForwarded });
          ctx.log(`    ${ids.length} ${stack.config.fundingMode} cash-outs: ${JSON.stringify(settled.byStatus)}; switching the worker to ${mode}`);
          const input = JSON.parse(readFileSync(stack.configFile, 'utf8')) as Record<string, unknown>;
          writeFileSync(stack.configFile, JSON.stringify({ ...input, fundingMode: mode }), { mode: 0o600 });
          stack.config.fundingMode = mode;
          await stack.workers[0]!.kill();
          await stack.workers[0]!.start();
        }
        const r = await killWorkerLoop(stack, { cashOuts, kills: kills / 2 }, ctx.log);
        ids.push(...r.ids);
        for (const [k, n] of Object.entries(r.faults)) faults[`${mode}:${k}`] = n;
        faults[`${mode}:cashOuts`] = r.ids.length;
      }
      const total = (what: string) => Object.entries(faults).filter(([k]) => k.endsWith(`:${what}`)).reduce((s, [, n]) => s + n, 0);
      Object.assign(faults, { workerKills: total('workerKills'), killsDuringTransfer: total('killsDuringTransfer'), killsAtRandom: total('killsAtRandom'), modes: modes.length });
      return { ids, faults };
    }),
  ];
}
