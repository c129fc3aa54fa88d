/**
 * `npm run chaos [-- --quick] [-- --campaign <name>]`: fault campaigns, each on its own stack on random ports,
 * each followed by the verifier (chaos/verify.ts). Progress on stderr; one JSON object and a short table on
 * stdout. Exit 1 when any campaign found a double payment, sats unaccounted or a ledger-vs-LNbits
 * disagreement (stuck cash-outs are reported, not failed: see docs/chaos.md). Everything started is stopped,
 * after failures and Ctrl-C too.
 */
import { appendFileSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { bundleWorkflowCode } from '@temporalio/worker';
import { repoRoot } from '../config/load';
import { machine } from '../bench/common';
import type { CampaignContext, StackRun } from './campaign';
import { duplicatesCampaign } from './campaigns/duplicates';
import { fuzzCampaign } from './campaigns/fuzz';
import { lnbitsCampaign } from './campaigns/lnbits';
import { postgresCampaign } from './campaigns/postgres';
import { temporalCampaign } from './campaigns/temporal';
import { workerKillCampaign } from './campaigns/worker-kill';
import { table } from './table';

const CAMPAIGNS: Record<string, (ctx: CampaignContext) => Promise<StackRun[]>> = {
  'worker-kill': workerKillCampaign,
  lnbits: lnbitsCampaign,
  temporal: temporalCampaign,
  postgres: postgresCampaign,
  duplicates: duplicatesCampaign,
  fuzz: fuzzCampaign,
};

function parseArgs(argv: string[]): { quick: boolean; campaigns: string[] } {
  let quick = false;
  const campaigns: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '--quick') quick = true;
    else if (a === '--campaign') {
      const name = argv[++i];
      if (!name || !CAMPAIGNS[name]) throw new Error(`--campaign: one of ${Object.keys(CAMPAIGNS).join(', ')}`);
      campaigns.push(name);
    } else throw new Error(`unknown argument ${a} (use --quick, --campaign <${Object.keys(CAMPAIGNS).join('|')}>)`);
  }
  return { quick, campaigns: campaigns.length ? campaigns : Object.keys(CAMPAIGNS) };
}

const quietLogger = {
  log: () => {}, trace: () => {}, debug: () => {}, info: () => {}, warn: () => {},
  error: (msg: string, meta?: unknown) => console.error(msg, meta ?? ''),
};

async function main(): Promise<number> {
  const { quick, campaigns } = parseArgs(process.argv.slice(2));
  const started = Date.now();
  const log = (line: string) => process.stderr.write(`[chaos ${((Date.now() - started) / 1000).toFixed(0).padStart(4)} s] ${line}\n`);
  // Everything any stack started, newest first: stopped on Ctrl-C / SIGTERM (a campaign stops its own when it ends).
  const live = new Map<number, [string, () => Promise<void>]>();
  let seq = 0;
  // One stop for Ctrl-C and the regular end alike: a second caller waits for the first one to finish.
  let stopping: Promise<void> | undefined;
  const stopAll = () =>
    (stopping ??= (async () => {
      for (const [, [name, stop]] of [...live].reverse()) await stop().catch((err: unknown) => log(`! stopping ${name}: ${(err as Error).message}`));
    })());
  for (const sig of ['SIGINT', 'SIGTERM'] as const) process.once(sig, () => void stopAll().then(() => process.exit(130)));
  const ctx: CampaignContext = {
    quick,
    log,
    register: (name, stop) => {
      const id = seq++;
      let done = false;
      // Stopped once: by the campaign when it ends, or by stopAll on Ctrl-C.
      const once = async () => {
        if (done) return;
        done = true;
        live.delete(id);
        await stop();
      };
      live.set(id, [name, once]);
      return once;
    },
  };
  // The workflow bundle, built once: every worker process of every campaign starts from it (test/support/worker-process.ts).
  const bundleDir = mkdtempSync(path.join(os.tmpdir(), 'satmachine-chaos-bundle-'));
  ctx.register('workflow bundle', async () => rmSync(bundleDir, { recursive: true, force: true }));
  const bundle = await bundleWorkflowCode({ workflowsPath: path.join(repoRoot, 'workflows', 'index.ts'), logger: quietLogger });
  process.env.SATMACHINE_WORKFLOW_BUNDLE = path.join(bundleDir, 'workflow-bundle.js');
  writeFileSync(process.env.SATMACHINE_WORKFLOW_BUNDLE, bundle.code);
  log(`workflow bundle built (${Math.round(bundle.code.length / 1024)} KiB)`);
  const load1mStart = os.loadavg()[0]!;
  const results: Array<{ campaign: string; durationS: number; runs: StackRun[]; error?: string }> = [];
  try {
    for (const name of campaigns) {
      const t0 = Date.now();
      log(`campaign ${name}${quick ? ' (quick)' : ''}`);
      try {
        results.push({ campaign: name, durationS: Math.round((Date.now() - t0) / 1000), runs: await CAMPAIGNS[name]!(ctx) });
        results[results.length - 1]!.durationS = Math.round((Date.now() - t0) / 1000);
      } catch (err) {
        log(`! campaign ${name} failed to run: ${(err as Error).stack ?? String(err)}`);
        results.push({ campaign: name, durationS: Math.round((Date.now() - t0) / 1000), runs: [], error: (err as Error).message });
      }
      const last = results[results.length - 1]!;
      log(`campaign ${name} done in ${last.durationS} s\n${table([last])}`);
      // Each campaign's figures as soon as it ends (a run cut short still leaves them): CHAOS_OUT=<file.jsonl>.
      if (process.env.CHAOS_OUT) appendFileSync(process.env.CHAOS_OUT, `${JSON.stringify(last)}\n`);
    }
  } finally {
    await stopAll();
  }
  const failed = results.some((r) => r.runs.some((x) => x.failed));
  const broken = results.some((r) => r.error);
  const report = {
    chaos: quick ? 'quick' : 'full',
    machine: { ...machine(), loadAvg1m: { atStart: Math.round(load1mStart * 100) / 100, atEnd: Math.round(os.loadavg()[0]! * 100) / 100 } },
    totalS: Math.round((Date.now() - started) / 1000),
    campaigns: results,
    verdict: failed ? 'FAILED: double payments, sats unaccounted or ledger-vs-LNbits disagreements found' : broken ? 'INCOMPLETE: a campaign could not run' : 'ok: no double payment, no sat unaccounted, ledger and LNbits agree',
  };
  process.stdout.write(`${JSON.stringify(report, null, 2)}\n\n${table(results)}\n${report.verdict}\n`);
  return failed || broken ? 1 : 0;
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    console.error('[chaos] failed:', err);
    process.exit(2);
  },
);
