/**
 * Start-up of the production build (run `npm run build` first) on the real stack (test/support/stack-up.ts):
 * (a) `satmachine --help` and (b) `satmachine status --json` as an operator runs them (node bin/satmachine.cjs,
 * which runs dist/), wall time from spawn to exit; (c) the worker (`node dist/worker/main.js`) from spawn to
 * polling its task queue (its "worker started" log line) and from SIGTERM to exit. For reference, `--help`
 * from source through tsx. Load-sensitive: the machine's load average is printed with the figures.
 *
 *   npx tsx bench/startup.ts [--runs N] [--root DIR]
 * --root: the install to measure (default this clone), e.g. a copy after `npm ci --omit=dev` (no tsx in it).
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { repoRoot } from '../config/load';
import { createCashOutWorld } from '../test/support/cashout-fixture';
import { startStack } from '../test/support/stack-up';
import { uniqueTaskQueue } from '../test/support/temporal-client';
import { intArg, machine } from './common';

const RUNS = intArg('runs', 7);
const rootArg = process.argv.indexOf('--root');
const installRoot = rootArg >= 0 ? path.resolve(process.argv[rootArg + 1] ?? '.') : repoRoot;
const bin = path.join(installRoot, 'bin', 'satmachine.cjs');

function timed(args: string[], env: NodeJS.ProcessEnv): Promise<{ ms: number; code: number | null }> {
  const t0 = process.hrtime.bigint();
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, args, { env, stdio: ['ignore', 'ignore', 'ignore'] });
    child.on('error', reject);
    child.on('exit', (code) => resolve({ ms: Number(process.hrtime.bigint() - t0) / 1e6, code }));
  });
}

const stats = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return { runs: s.length, medianMs: Math.round(s[Math.floor(s.length / 2)]!), minMs: Math.round(s[0]!), maxMs: Math.round(s[s.length - 1]!) };
};

async function series(args: string[], env: NodeJS.ProcessEnv, runs = RUNS) {
  const ms: number[] = [];
  let code: number | null = null;
  for (let i = 0; i < runs; i++) ({ code } = await timed(args, env).then((r) => (ms.push(r.ms), r)));
  return { ...stats(ms), exitCode: code };
}

/** Spawn → "worker started" (polling), then SIGTERM → exit. */
function workerRun(env: NodeJS.ProcessEnv): Promise<{ startToPollingMs: number; sigtermToExitMs: number }> {
  const t0 = process.hrtime.bigint();
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [path.join(installRoot, 'dist', 'worker', 'main.js')], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let started = 0;
    let termAt = 0n;
    const onData = (b: Buffer) => {
      out += b.toString();
      if (!started && out.includes('"msg":"worker started"')) {
        started = Number(process.hrtime.bigint() - t0) / 1e6;
        termAt = process.hrtime.bigint();
        child.kill('SIGTERM');
      }
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    child.on('exit', (code) => {
      if (!started) return reject(new Error(`worker exited ${code} before polling:\n${out.slice(-2000)}`));
      resolve({ startToPollingMs: Math.round(started), sigtermToExitMs: Math.round(Number(process.hrtime.bigint() - termAt) / 1e6) });
    });
  });
}

async function main(): Promise<void> {
  if (!existsSync(path.join(installRoot, 'dist', 'build-info.json'))) throw new Error(`no build in ${installRoot}: run \`npm run build\` first`);
  const stack = await startStack();
  const world = await createCashOutWorld({ taskQueue: uniqueTaskQueue('bench-startup'), clients: 1 });
  try {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'satm-bench-'));
    const configFile = path.join(dir, 'config.json');
    writeFileSync(configFile, JSON.stringify({ ...world.config, log: { level: 'info' } }), { mode: 0o600 });
    const env = { PATH: process.env.PATH, HOME: process.env.HOME, SATMACHINE_CONFIG: configFile };
    const help = await series([bin, '--help'], env);
    const status = await series([bin, 'status', '--json'], env);
    const helpFromSource = installRoot === repoRoot ? await series([bin, '--help'], { ...env, SATMACHINE_FROM_SOURCE: '1' }, 3) : undefined;
    const worker: Array<{ startToPollingMs: number; sigtermToExitMs: number }> = [];
    for (let i = 0; i < 3; i++) worker.push(await workerRun(env));
    process.stdout.write(`${JSON.stringify({
      benchmark: 'startup',
      installRoot,
      machine: { ...machine(), loadAverage1m: Number(os.loadavg()[0]!.toFixed(2)) },
      cliHelp: help,
      cliStatusJson: status,
      cliHelpFromSourceTsx: helpFromSource,
      workerStartToPolling: stats(worker.map((w) => w.startToPollingMs)),
      workerSigtermToExit: stats(worker.map((w) => w.sigtermToExitMs)),
    }, null, 2)}\n`);
  } finally {
    await world.close();
    await stack.stop();
  }
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    console.error('[bench] startup failed:', err);
    process.exit(1);
  },
);
