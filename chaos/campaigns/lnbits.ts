/**
 * Campaign 2: LNbits killed with SIGKILL mid-payment and started again on its SQLite data; LNbits slow (the
 * answers to payments held back past the worker's request timeout); LNbits answering 503 for minutes.
 */
import { onStack, type CampaignContext, type StackRun } from '../campaign';
import { between, insertRows } from '../workload';
import { sleep } from '../../test/support/process-group';

export async function lnbitsCampaign(ctx: CampaignContext): Promise<StackRun[]> {
  const q = ctx.quick;
  const kills = q ? 1 : 4;
  const slowMs = q ? 12_000 : 60_000;
  const outageMs = q ? 20_000 : 180_000;
  return [
    await onStack(ctx, { name: 'lnbits', fundingMode: 'prefunded', clients: 4, depositMinor: 2_000_000, sourceSats: 40_000_000, settleMs: q ? 60_000 : 240_000 }, async (stack) => {
      const ids: string[] = [];
      const faults = { lnbitsKills: 0, lnbitsKillsAfterPayment: 0, slowSeconds: 0, outageSeconds: 0 };
      for (let k = 0; k < kills; k++) {
        stack.proxy.delayPayMs = 3_000; // LNbits has paid; the kill lands before the worker hears of it
        const before = stack.proxy.paysForwarded;
        ids.push(...(await insertRows(stack.lamassu, 2)));
        for (const deadline = Date.now() + 30_000; Date.now() < deadline && stack.proxy.paysForwarded === before; ) await sleep(50);
        if (stack.proxy.paysForwarded > before) faults.lnbitsKillsAfterPayment++;
        await sleep(between(0, 500));
        await stack.lnbits.kill();
        faults.lnbitsKills++;
        stack.proxy.delayPayMs = 0;
        await sleep(between(2_000, 8_000));
        await stack.lnbits.start();
        ctx.log(`    LNbits kill ${k + 1}/${kills}; restarted`);
      }
      // Slow: every payment's answer arrives after the worker's 5 s request timeout.
      stack.proxy.delayPayMs = stack.config.lnbits.requestTimeoutMs + 2_000;
      ids.push(...(await insertRows(stack.lamassu, q ? 2 : 4)));
      await sleep(slowMs);
      stack.proxy.delayPayMs = 0;
      faults.slowSeconds = slowMs / 1000;
      ctx.log(`    LNbits slow for ${slowMs / 1000} s`);
      // Down: 503 to everything for minutes.
      ids.push(...(await insertRows(stack.lamassu, q ? 2 : 4)));
      await sleep(between(500, 3_000));
      stack.proxy.down = true;
      ids.push(...(await insertRows(stack.lamassu, q ? 1 : 3)));
      await sleep(outageMs);
      stack.proxy.down = false;
      faults.outageSeconds = outageMs / 1000;
      ctx.log(`    LNbits answered 503 for ${outageMs / 1000} s`);
      return { ids, faults };
    }),
  ];
}
