/**
 * The Temporal dev server of temporal-dev.yaml, spawned like `npm run temporal` (scripts/temporal-dev.ts)
 * so that its Web UI runs too: gRPC 7233 and UI 8233 by default, or random ports. Its SQLite file
 * (the yaml's dbFilename) lives in the sandbox's data folder, so workflows survive a restart.
 */
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { Connection } from '@temporalio/client';
import { devServerArgs, loadTemporalDev, toolPaths } from '../config/temporal-dev';
import { freePort, portFree } from '../test/support/ports';
import { logTail, sleep, spawnGroup } from '../test/support/process-group';

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
    port = await freePort();
    do uiPort = await freePort();
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
  // Own process group, so a Ctrl-C in the terminal does not kill it before the worker has drained.
  const group = spawnGroup(cli, args, { logFile, graceMs: 10_000 });
  const { pid, stop } = group;

  const address = `${dev.ip}:${port}`;
  try {
    const deadline = Date.now() + START_TIMEOUT_MS;
    for (;;) {
      const exited = group.exited();
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
