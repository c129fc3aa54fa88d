/**
 * The worker as a child process: `worker/main.ts` (the same entry as `npm run worker`) reading the
 * sandbox's config.json through SATMACHINE_CONFIG. A child keeps the worker's Temporal Runtime and its
 * signal handling to itself: SIGTERM makes it drain (running activities finish) and exit.
 */
import { spawn } from 'node:child_process';
import { createWriteStream } from 'node:fs';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { repoRoot } from '../config/load';
import { killGroup, killGroupOnExit, sleep } from '../test/support/process-group';

export interface SandboxWorker {
  pid: number;
  /** Resolves when the worker logged "worker started" (it polls its task queue). */
  started: Promise<void>;
  /** Settles when the process exits: resolves on exit code 0, rejects otherwise. */
  exited: Promise<void>;
  stop(): Promise<void>;
}

export function startSandboxWorker(opts: { configPath: string; logFile: string; logLevel: string; onLine?: (rec: { level: number; msg?: string; err?: unknown }) => void }): SandboxWorker {
  const log = createWriteStream(opts.logFile, { flags: 'a' });
  const child = spawn(process.execPath, ['--import', 'tsx', path.join(repoRoot, 'worker', 'main.ts')], {
    cwd: repoRoot,
    // Only what the worker needs: the sandbox's config file, never a deployment's variables.
    env: { PATH: process.env.PATH, HOME: process.env.HOME, LANG: process.env.LANG ?? 'C.UTF-8', SATMACHINE_CONFIG: opts.configPath, LOG_LEVEL: opts.logLevel },
    detached: true,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const pid = child.pid!;
  let markStarted: () => void = () => {};
  let failStart: (err: Error) => void = () => {};
  const started = new Promise<void>((resolve, reject) => ((markStarted = resolve), (failStart = reject)));
  void started.catch(() => undefined);
  for (const stream of [child.stdout, child.stderr]) {
    createInterface({ input: stream }).on('line', (line) => {
      log.write(`${line}\n`);
      try {
        const rec = JSON.parse(line) as { level: number; msg?: string; err?: unknown };
        if (rec.msg === 'worker started') markStarted();
        if (rec.msg === 'worker stopped') stoppedAt = Date.now();
        opts.onLine?.(rec);
      } catch {
        opts.onLine?.({ level: 50, msg: line });
      }
    });
  }
  let stopping = false;
  let stoppedAt: number | undefined;
  const exited = new Promise<void>((resolve, reject) => {
    child.once('error', (err) => reject(err));
    child.once('exit', (code, sig) => {
      const err = new Error(`worker exited with ${sig ?? code}`);
      failStart(err);
      // After stop() any ending is the expected one (it may need a SIGKILL, see below).
      if (code === 0 || stopping) resolve();
      else reject(err);
    });
  });
  void exited.catch(() => undefined);
  const removeExitHook = killGroupOnExit(pid);
  const gone = () => child.exitCode !== null || child.signalCode !== null;
  return {
    pid,
    started,
    exited,
    async stop() {
      stopping = true;
      removeExitHook();
      // SIGTERM: the worker's Runtime drains it (running activities finish). Once it has logged
      // "worker stopped" its work is done; connections its activities opened may still hold the
      // process open, so it gets 2 s to exit by itself before SIGKILL. A worker stuck 30 s is killed.
      try {
        process.kill(-pid, 'SIGTERM');
      } catch {
        /* already gone */
      }
      const deadline = Date.now() + 30_000;
      while (!gone() && Date.now() < deadline && !(stoppedAt && Date.now() - stoppedAt > 2_000)) await sleep(50);
      await killGroup(pid, 0);
      await exited.catch(() => undefined);
      await new Promise<void>((r) => log.end(r));
    },
  };
}
