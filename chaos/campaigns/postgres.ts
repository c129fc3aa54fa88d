/**
 * Campaign 4: the ledger's PostgreSQL (which also holds the simulated Lamassu database) killed with SIGKILL
 * mid-payment — LNbits has paid, the worker's ledger write comes next — and started again; then one long outage.
 */
import { onStack, type CampaignContext, type StackRun } from '../campaign';
import { between, insertRows } from '../workload';
import { sleep } from '../../test/support/process-group';

export async function postgresCampaign(ctx: CampaignContext): Promise<StackRun[]> {
  const q = ctx.quick;
  const kills = q ? 1 : 5;
  const outageMs = q ? 20_000 : 120_000;
  return [
    await onStack(ctx, { name: 'postgres', fundingMode: 'prefunded', clients: 4, depositMinor: 2_000_000, sourceSats: 40_000_000, settleMs: q ? 60_000 : 180_000 }, async (stack) => {
      const ids: string[] = [];
      const faults = { postgresKills: 0, postgresKillsAfterPayment: 0, outageSeconds: 0 };
      for (let k = 0; k < kills; k++) {
        ids.push(...(await insertRows(stack.lamassu, q ? 2 : 4)));
        stack.proxy.delayPayMs = 1_500; // the kill lands while the answer of a made payment is on its way
        const before = stack.proxy.paysForwarded;
        for (const deadline = Date.now() + 30_000; Date.now() < deadline && stack.proxy.paysForwarded === before; ) await sleep(50);
        if (stack.proxy.paysForwarded > before) faults.postgresKillsAfterPayment++;
        await sleep(between(0, 1_500));
        await stack.postgres.kill();
        stack.proxy.delayPayMs = 0;
        faults.postgresKills++;
        await sleep(between(2_000, 8_000));
        await stack.postgres.start();
        ctx.log(`    PostgreSQL kill ${k + 1}/${kills}; restarted`);
      }
      ids.push(...(await insertRows(stack.lamassu, q ? 2 : 4)));
      await sleep(between(500, 3_000));
      await stack.postgres.kill();
      await sleep(outageMs);
      await stack.postgres.start();
      faults.outageSeconds = outageMs / 1000;
      ctx.log(`    PostgreSQL down for ${outageMs / 1000} s; restarted`);
      ids.push(...(await insertRows(stack.lamassu, 2)));
      return { ids, faults };
    }),
  ];
}
