/**
 * A sandbox that was killed outright (SIGKILL, a crash of the machine's session) cannot stop what it
 * started: its Temporal server, LNbits, sshd, PostgreSQL and worker keep running and would block the next
 * run (ports in use, a locked PostgreSQL data folder). Before starting, the sandbox finds such processes
 * by the data folder they were started with — in their command line or environment, so nothing else on
 * the machine is ever touched — and stops them.
 */
import { readFileSync, readdirSync } from 'node:fs';
import { sleep } from '../test/support/process-group';

export interface Leftover {
  pid: number;
  what: string;
  /** Signal its whole process group (it was started detached, as its group's leader). */
  group: boolean;
  signal: NodeJS.Signals;
}

function read(file: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch {
    return '';
  }
}

const alive = (pid: number) => {
  const stat = read(`/proc/${pid}/stat`);
  return stat !== '' && stat.slice(stat.lastIndexOf(')') + 2)[0] !== 'Z';
};

/** The pid recorded in sandbox.json belongs to a sandbox that is still running. */
export function runningSandboxPid(pid: number | undefined): number | undefined {
  if (!pid || pid === process.pid || !alive(pid)) return undefined;
  return read(`/proc/${pid}/cmdline`).includes('sandbox/main.ts') ? pid : undefined;
}

export function findLeftovers(dataDir: string, configPath: string): Leftover[] {
  const found: Leftover[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry) || Number(entry) === process.pid) continue;
    const pid = Number(entry);
    const stat = read(`/proc/${pid}/stat`);
    const leader = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[2]) === pid;
    // sshd and postgres rewrite their argv into one string: match on the joined command line.
    const cmd = read(`/proc/${pid}/cmdline`).split('\0').join(' ');
    const add = (what: string, signal: NodeJS.Signals = 'SIGTERM') => found.push({ pid, what, group: leader, signal });
    if (cmd.includes('start-dev') && cmd.includes(` ${dataDir}/temporal.sqlite`)) add('Temporal dev server');
    else if (cmd.startsWith('sshd') && cmd.includes(` ${dataDir}/sshd/sshd_config`)) add('sshd');
    else if (cmd.includes(` -D ${dataDir}/pg `) || cmd.endsWith(` -D ${dataDir}/pg`)) add('PostgreSQL', 'SIGINT');
    else if (leader && (cmd.includes('lnbits') || cmd.includes('worker/main.ts'))) {
      const env = read(`/proc/${pid}/environ`).split('\0');
      if (env.includes(`LNBITS_DATA_FOLDER=${dataDir}/lnbits`)) add('LNbits');
      else if (env.includes(`SATMACHINE_CONFIG=${configPath}`)) add('worker');
    }
  }
  return found;
}

/** Stops them (PostgreSQL with a fast shutdown), SIGKILL after 10 s. */
export async function stopLeftovers(leftovers: Leftover[]): Promise<void> {
  const send = (l: Leftover, sig: NodeJS.Signals) => {
    try {
      process.kill(l.group ? -l.pid : l.pid, sig);
    } catch {
      try {
        process.kill(l.pid, sig); // not a group leader after all
      } catch {
        /* gone */
      }
    }
  };
  for (const l of leftovers) send(l, l.signal);
  const deadline = Date.now() + 10_000;
  while (leftovers.some((l) => alive(l.pid)) && Date.now() < deadline) await sleep(100);
  for (const l of leftovers.filter((x) => alive(x.pid))) send(l, 'SIGKILL');
  while (leftovers.some((l) => alive(l.pid)) && Date.now() < deadline + 3_000) await sleep(100);
}
