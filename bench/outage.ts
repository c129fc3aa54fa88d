/**
 * The LNbits-outage campaign of issue 19 at full size: 50 cash-outs started while LNbits is down for 10 minutes
 * (every payment, invoice and payment lookup answered 503 by the fault proxy), then LNbits back. Runs
 * test/cashout-outage.test.ts on its own real stack (test/run.ts: PostgreSQL, Temporal dev server, LNbits,
 * in-process worker) with OUTAGE_SECONDS / OUTAGE_CASHOUTS set, and prints one JSON object: whether every
 * cash-out completed without operator action, how long after the outage the last one completed, and the
 * payouts verified in LNbits (the test fails — exit 1 — on any double payment or unbalanced book).
 *
 *   npx tsx bench/outage.ts [--cashouts 50] [--outage-seconds 600]
 */
import { spawn } from 'node:child_process';
import path from 'node:path';
import { intArg, machine } from './common';

const CASHOUTS = intArg('cashouts', 50);
const OUTAGE_SECONDS = intArg('outage-seconds', 600);

async function main(): Promise<number> {
  const started = Date.now();
  const root = path.resolve(__dirname, '..');
  const child = spawn(process.execPath, [require.resolve('tsx/cli'), 'test/run.ts', 'test/cashout-outage.test.ts'], {
    cwd: root,
    env: { ...process.env, OUTAGE_SECONDS: String(OUTAGE_SECONDS), OUTAGE_CASHOUTS: String(CASHOUTS) },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  let out = '';
  child.stdout.on('data', (b: Buffer) => (out += b.toString()));
  const code = await new Promise<number>((r) => child.on('close', (c) => r(c ?? 1)));
  const line = out.split('\n').find((l) => /"cashOuts":/.test(l));
  const figures = line ? (JSON.parse(line.slice(line.indexOf('{'))) as Record<string, unknown>) : null;
  console.log(JSON.stringify({
    benchmark: 'lnbits-outage',
    ok: code === 0 && figures !== null,
    cashOuts: CASHOUTS,
    outageSeconds: OUTAGE_SECONDS,
    operatorActions: code === 0 ? 0 : null,
    ...(figures ?? {}),
    totalSeconds: Math.round((Date.now() - started) / 1000),
    machine: machine(),
    ...(code === 0 ? {} : { failure: out.split('\n').filter((l) => /✖|Error/.test(l)).slice(0, 10) }),
  }, null, 2));
  return code;
}

main().then((c) => process.exit(c), (err: unknown) => {
  console.error(err);
  process.exit(1);
});
