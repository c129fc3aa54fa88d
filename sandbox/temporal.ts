/**
 * The Temporal dev server of temporal-dev.yaml, spawned like `npm run temporal` (scripts/temporal-dev.ts)
 * so that its Web UI runs too: gRPC 7233 and UI 8233 by default, or random ports. Its SQLite file
 * (the yaml's dbFilename) lives in the sandbox's data folder, so workflows survive a restart.
 */
import { spawn } from 'node:child_process';
import { closeSync, mkdirSync, openSync } from 'node:fs';
import path from 'node:path';
import { Connection } from '@temporalio/client';
import { devServerArgs, loadTemporalDev, toolPaths } from '../config/temporal-dev';
import { killGroup, logTail, portFree, randomPort, sleep } from './processes';

export class SandboxStartError extends Error {
  override name = 'SandboxStartError';
}

export interface SandboxTemporal {
  address: string;
  namespace: string;
  uiUrl: string;
  logFile: string;
  pid: number;
  stop(): Promise<void>;
}

const START_TIMEOUT_MS = 60_000;

/** The yaml's fixed ports (7233, 8233) must be free; say clearly why not. */
export async function checkTemporalPorts(): Promise<void> {
  const dev = loadTemporalDev();
  for (const [what, p] of [['gRPC', dev.port], ['Web UI', dev.uiPort]] as const) {
    if (!(await portFree(p, dev.ip))) {
      throw new SandboxStartError(
        `port ${p} (Temporal ${what}) is already in use — another Temporal server (\`npm run temporal\`?) or sandbox is running. ` +
          'Stop it, or start the sandbox on other ports with `npm start -- --random-ports`.',
      );
    }
  }
}

export async function startSandboxTemporal(opts: { dataDir: string; logDir: string; randomPorts: boolean }): Promise<SandboxTemporal> {
  const dev = loadTemporalDev();
  const cli = toolPaths().temporalCli;
  let port = dev.port;
  let uiPort = dev.uiPort;
  if (opts.randomPorts) {
    port = await randomPort();
    do uiPort = await randomPort();
    while (uiPort === port);
  } else {
    await checkTemporalPorts();
  }
  const args = ['server', 'start-dev', '--ip', dev.ip, '--port', String(port), '--ui-port', String(uiPort), '--namespace', dev.namespace, '--log-level', 'warn'];
  if (dev.dbFilename) {
    // The yaml names the file under .satmachine/; the sandbox keeps it in its own data folder.
    args.push('--db-filename', path.join(opts.dataDir, path.basename(dev.dbFilename)));
  }
  args.push(...devServerArgs(dev));
  mkdirSync(opts.logDir, { recursive: true });
  const logFile = path.join(opts.logDir, 'temporal.log');
  const out = openSync(logFile, 'a');
  // detached: own process group, so a Ctrl-C in the terminal does not kill it before the worker has drained.
  const child = spawn(cli, args, { detached: true, stdio: ['ignore', out, out] });
  closeSync(out);
  const pid = child.pid!;
  let exited: string | undefined;
  child.once('exit', (code, sig) => (exited = `exited with ${sig ?? code}`));
  child.once('error', (err) => (exited = `failed to start: ${err.message}`));
  const onExit = () => {
    try {
      process.kill(-pid, 'SIGKILL');
    } catch {
      /* already gone */
    }
  };
  process.once('exit', onExit);
  const stop = async () => {
    process.removeListener('exit', onExit);
    await killGroup(pid);
  };

  const address = `${dev.ip}:${port}`;
  try {
    const deadline = Date.now() + START_TIMEOUT_MS;
    for (;;) {
      if (exited) throw new SandboxStartError(`Temporal dev server ${exited}`);
      if (Date.now() > deadline) throw new SandboxStartError(`Temporal dev server not up after ${START_TIMEOUT_MS / 1000} s`);
      const ok = await Connection.connect({ address, connectTimeout: 1_000 })
        .then(async (c) => {
          try {
            await c.workflowService.describeNamespace({ namespace: dev.namespace });
            return true;
          } finally {
            await c.close();
          }
        })
        .catch(() => false);
      if (ok) break;
      await sleep(200);
    }
  } catch (err) {
    await stop();
    throw new SandboxStartError(`${(err as Error).message}; tail of ${logFile}:\n${logTail(logFile)}`, { cause: err });
  }
  return { address, namespace: dev.namespace, uiUrl: `http://localhost:${uiPort}`, logFile, pid, stop };
}
