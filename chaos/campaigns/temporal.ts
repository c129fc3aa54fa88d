/**
 * Campaign 3: the Temporal dev server killed with SIGKILL mid-run and started again on its SQLite state
 * (--db-filename); the workers and the client reconnect by themselves (a worker that died is started again
 * and counted).
 */
import { onStack, type CampaignContext, type StackRun } from '../campaign';
import { between, insertRows } from '../workload';
import { sleep } from '../../test/support/process-group';

export async function temporalCampaign(ctx: CampaignContext): Promise<StackRun[]> {
  const q = ctx.quick;
  const kills = q ? 1 : 5;
  return [
    await onStack(ctx, { name: 'temporal', fundingMode: 'superuser-credit', clients: 4, depositMinor: 2_000_000, sourceSats: 0, settleMs: q ? 60_000 : 180_000 }, async (stack) => {
      const ids: string[] = [];
      const faults = { temporalKills: 0, temporalKillsDuringTransfer: 0, workerRestartsNeeded: 0 };
      for (let k = 0; k < kills; k++) {
        ids.push(...(await insertRows(stack.lamassu, q ? 3 : 5)));
        const before = stack.proxy.paysForwarded;
        for (const deadline = Date.now() + between(1_000, 8_000); Date.now() < deadline && stack.proxy.paysForwarded === before; ) await sleep(50);
        if (stack.proxy.paysForwarded > before) faults.temporalKillsDuringTransfer++;
        await stack.temporal.kill();
        faults.temporalKills++;
        await sleep(between(2_000, 8_000));
        await stack.temporal.start();
        await sleep(3_000);
        for (const w of stack.workers) {
          if (!w.running()) {
            faults.workerRestartsNeeded++;
            await w.start();
          }
        }
        ctx.log(`    Temporal kill ${k + 1}/${kills}; restarted`);
      }
      return { ids, faults, notes: faults.workerRestartsNeeded ? [`${faults.workerRestartsNeeded} worker process(es) exited when Temporal went away and had to be started again`] : [] };
    }),
  ];
}
