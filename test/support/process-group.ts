/**
 * Child processes started in their own process group (detached), so that stopping them reaches whatever
 * they fork (LNbits' uvicorn worker, Temporal's UI server). Used by the test harness's starters and the sandbox.
 */
import { spawn } from 'node:child_process';
import { closeSync, openSync, readFileSync, readdirSync } from 'node:fs';

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** Whether the group has a live process (zombies do not count: they hold no port and no file). */
export function groupAlive(pgid: number): boolean {
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const [state, , pgrp] = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      if (Number(pgrp) === pgid && state !== 'Z') return true;
    } catch {
      /* exited while we looked */
    }
  }
  return false;
}

function signalGroup(pgid: number, sig: NodeJS.Signals): void {
  try {
    process.kill(-pgid, sig);
  } catch {
    /* group already gone */
  }
}

/** SIGTERM a process group, SIGKILL it after `graceMs`, and wait until it is gone. */
export async function killGroup(pgid: number, graceMs = 10_000): Promise<void> {
  const waitGone = async (ms: number) => {
    for (const deadline = Date.now() + ms; Date.now() < deadline; await sleep(25)) if (!groupAlive(pgid)) return true;
    return !groupAlive(pgid);
  };
  signalGroup(pgid, 'SIGTERM');
  if (await waitGone(graceMs)) return;
  signalGroup(pgid, 'SIGKILL');
  await waitGone(3_000);
}

/**
 * Safety net: SIGKILL the group if this process exits without stopping it (e.g. a start that fails
 * half-way). Returns the function that removes the hook, for a regular stop.
 */
export function killGroupOnExit(pgid: number): () => void {
  const onExit = () => signalGroup(pgid, 'SIGKILL');
  process.once('exit', onExit);
  return () => process.removeListener('exit', onExit);
}

export interface ProcessGroup {
  pid: number;
  /** Why the group's leader ended ("exited with …", "failed to start: …"); undefined while it runs. */
  exited: () => string | undefined;
  /** Removes the exit hook, then `killGroup(pid, graceMs)`. */
  stop: () => Promise<void>;
}

/** Spawns `command` as the leader of a new process group, stdout and stderr appended to `logFile`. */
export function spawnGroup(command: string, args: string[], opts: { logFile: string; graceMs: number; cwd?: string; env?: NodeJS.ProcessEnv }): ProcessGroup {
  const out = openSync(opts.logFile, 'a');
  const child = spawn(command, args, { cwd: opts.cwd, env: opts.env, detached: true, stdio: ['ignore', out, out] });
  closeSync(out);
  const pid = child.pid!;
  let exited: string | undefined;
  child.once('exit', (code, sig) => (exited = `exited with ${sig ?? code}`));
  child.once('error', (err) => (exited = `failed to start: ${err.message}`));
  const removeExitHook = killGroupOnExit(pid);
  return {
    pid,
    exited: () => exited,
    stop: async () => {
      removeExitHook();
      await killGroup(pid, opts.graceMs);
    },
  };
}

/** The last `chars` of a log file, for error messages. */
export function logTail(file: string, chars = 3000): string {
  try {
    return readFileSync(file, 'utf8').slice(-chars);
  } catch {
    return '(no log)';
  }
}
