import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, readdirSync, writeFileSync, copyFileSync, chmodSync } from 'node:fs';
import { createHash } from 'node:crypto';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { freePort } from './ports';

export interface TestSshd {
  host: '127.0.0.1';
  port: number;
  username: string;
  privateKeyPath: string;
  hostKeySha256: string;
  stop: () => Promise<void>;
}

const SSHD = ['/usr/sbin/sshd', '/usr/bin/sshd'].find((p) => existsSync(p));

function keygen(file: string): void {
  if (!existsSync(file)) execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', 'satmachine-test', '-f', file]);
}

/** `SHA256:<base64, no padding>` of a .pub file, as `ssh-keygen -lf` prints it. */
function fingerprint(pubFile: string): string {
  const blob = Buffer.from(readFileSync(pubFile, 'utf8').trim().split(/\s+/)[1]!, 'base64');
  return `SHA256:${createHash('sha256').update(blob).digest('base64').replace(/=+$/, '')}`;
}

/**
 * Descendants of pid by depth ([children, grandchildren, ...]). sshd puts each session in its own session
 * (setsid), so a process-group kill misses them.
 */
function descendantsByDepth(pid: number): number[][] {
  const childrenOf = new Map<number, number[]>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      childrenOf.set(ppid, [...(childrenOf.get(ppid) ?? []), Number(entry)]);
    } catch {
      /* process exited while we looked */
    }
  }
  const levels: number[][] = [];
  for (let level = childrenOf.get(pid) ?? []; level.length; level = level.flatMap((p) => childrenOf.get(p) ?? [])) levels.push(level);
  return levels;
}

async function gone(pids: number[], timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (pids.some((p) => existsSync(`/proc/${p}`))) {
    if (Date.now() > deadline) return false;
    await new Promise((r) => setTimeout(r, 10));
  }
  return true;
}

function signal(pids: number[], sig: NodeJS.Signals): void {
  for (const p of pids) {
    try {
      // Only our sshd processes: never signal a pid that was reused by something else meanwhile.
      if (readFileSync(`/proc/${p}/comm`, 'utf8').trim().startsWith('sshd')) process.kill(p, sig);
    } catch {
      /* already gone */
    }
  }
}

function waitListening(port: number, child: ChildProcess, logFile: string, timeoutMs = 5_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  return new Promise((resolve, reject) => {
    const attempt = () => {
      if (child.exitCode !== null || child.signalCode !== null) {
        const log = existsSync(logFile) ? readFileSync(logFile, 'utf8').slice(-2000) : '';
        return reject(new Error(`sshd exited (${child.exitCode ?? child.signalCode}) before listening:\n${log}`));
      }
      const s = net.connect({ host: '127.0.0.1', port });
      s.once('connect', () => (s.destroy(), resolve()));
      s.once('error', () => {
        s.destroy();
        if (Date.now() > deadline) reject(new Error(`sshd did not listen on ${port} within ${timeoutMs} ms`));
        else setTimeout(attempt, 25);
      });
    };
    attempt();
  });
}

/**
 * A throwaway sshd on 127.0.0.1 for tests. Keys live in `dir` and are reused when present, so calling it
 * again with the same dir and `port` brings "the same server" back (for reconnect tests).
 */
export async function startSshd(opts: { dir: string; port?: number }): Promise<TestSshd> {
  if (!SSHD) throw new Error('sshd not found: install Debian\'s openssh-server (apt-get install openssh-server)');
  const dir = path.resolve(opts.dir);
  mkdirSync(dir, { recursive: true });
  mkdirSync('/run/sshd', { recursive: true, mode: 0o755 }); // privilege-separation dir sshd insists on

  const hostKey = path.join(dir, 'ssh_host_ed25519_key');
  const clientKey = path.join(dir, 'client_ed25519');
  keygen(hostKey);
  keygen(clientKey);
  const authorizedKeys = path.join(dir, 'authorized_keys');
  copyFileSync(`${clientKey}.pub`, authorizedKeys);
  chmodSync(authorizedKeys, 0o600);

  const port = opts.port ?? (await freePort());
  const cfg = path.join(dir, 'sshd_config');
  const logFile = path.join(dir, 'sshd.log');
  writeFileSync(cfg, [
    `Port ${port}`,
    'ListenAddress 127.0.0.1',
    `HostKey ${hostKey}`,
    `PidFile ${path.join(dir, 'sshd.pid')}`,
    `AuthorizedKeysFile ${authorizedKeys}`,
    'UsePAM no',
    'StrictModes no',
    'AllowTcpForwarding yes',
    'PermitRootLogin prohibit-password',
    'PasswordAuthentication no',
    'KbdInteractiveAuthentication no',
    'PubkeyAuthentication yes',
    'LogLevel VERBOSE',
    '',
  ].join('\n'));

  // -D: stay in the foreground so we own the pid; detached: own process group, not tied to our terminal.
  const child = spawn(SSHD, ['-D', '-f', cfg, '-E', logFile], { detached: true, stdio: 'ignore' });
  child.unref();
  const pid = child.pid!;
  const onExit = () => signal([...descendantsByDepth(pid).flat(), pid], 'SIGKILL'); // if the test process dies without stop()
  process.once('exit', onExit);

  let stopped: Promise<void> | undefined;
  const stop = () =>
    (stopped ??= (async () => {
      process.removeListener('exit', onExit);
      // Deepest sessions first, so their (live) parents reap them: orphans would be re-parented to a
      // container pid 1 that may never reap, and linger as zombies.
      for (const level of descendantsByDepth(pid).reverse()) {
        signal(level, 'SIGTERM');
        if (!(await gone(level, 1_000))) signal(level, 'SIGKILL');
        await gone(level, 1_000);
      }
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exited = new Promise<void>((r) => child.once('exit', () => r()));
      signal([pid], 'SIGTERM');
      const timer = setTimeout(() => signal([pid], 'SIGKILL'), 2_000);
      await exited;
      clearTimeout(timer);
    })());

  try {
    await waitListening(port, child, logFile);
  } catch (err) {
    await stop();
    throw err;
  }
  return {
    host: '127.0.0.1',
    port,
    username: os.userInfo().username,
    privateKeyPath: clientKey,
    hostKeySha256: fingerprint(`${hostKey}.pub`),
    stop,
  };
}
