/**
 * Running `satmachine` in tests: in-process through `main(argv, { env, stdout, stderr })` (fast, output
 * captured per call) or as the real binary `node bin/satmachine.cjs` (exit codes of the process). The config
 * reaches the CLI the way an operator's does: a config file named by SATMACHINE_CONFIG.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { main } from '../../client/cli';
import { repoRoot } from '../../config/load';
import type { Config, ConfigInput } from '../../config/schema';
import { createLedgerDatabase } from './ledger-db';
import { createWallet, type TestWallet } from './lnbits';
import { getStack } from './stack';

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
  /** stdout parsed as JSON (for --json runs). */
  json<T = any>(): T; // eslint-disable-line @typescript-eslint/no-explicit-any
}

/** Writes the config to a private temp file and returns the environment that points the CLI at it. */
export function cliEnvFor(config: Config | ConfigInput, extra: Record<string, string> = {}): Record<string, string> {
  const dir = mkdtempSync(path.join(tmpdir(), 'satmachine-cli-'));
  const file = path.join(dir, 'config.json');
  writeFileSync(file, JSON.stringify(config), { mode: 0o600 });
  return { SATMACHINE_CONFIG: file, PATH: process.env.PATH ?? '', ...extra };
}

export interface CliLedgerWorld {
  db: Awaited<ReturnType<typeof createLedgerDatabase>>;
  source: TestWallet;
  commission: TestWallet;
  /** The ledger and the LNbits wallets; Temporal on a closed port, to show how the Temporal parts degrade. */
  config: ConfigInput;
}

/** A migrated ledger, a funded source wallet and a commission wallet, and a config for CLI runs without Temporal. */
export async function createCliLedgerWorld(opts: {
  dbPrefix: string;
  taskQueue: string;
  sourceSats: number;
  encryptionKey: string;
  lamassu: ConfigInput['lamassu'];
}): Promise<CliLedgerWorld> {
  const { lnbits } = getStack();
  const db = await createLedgerDatabase(opts.dbPrefix);
  const [source, commission] = await Promise.all([
    createWallet(lnbits.url, lnbits.superuserToken, { name: 'source', fundSats: opts.sourceSats }),
    createWallet(lnbits.url, lnbits.superuserToken, { name: 'commission' }),
  ]);
  const config: ConfigInput = {
    databaseUrl: db.url,
    temporal: { address: '127.0.0.1:1', namespace: 'default', taskQueue: opts.taskQueue },
    lnbits: {
      url: lnbits.url,
      source: { id: source.id, adminKey: source.adminKey, invoiceKey: source.invoiceKey },
      commission: { id: commission.id, invoiceKey: commission.invoiceKey },
    },
    encryptionKey: opts.encryptionKey,
    lamassu: opts.lamassu,
  };
  return { db, source, commission, config };
}

function result(code: number, stdout: string, stderr: string): CliResult {
  return {
    code,
    stdout,
    stderr,
    json() {
      try {
        return JSON.parse(stdout);
      } catch {
        throw new Error(`stdout is not JSON (exit ${code}): ${stdout.slice(0, 500)}\nstderr: ${stderr.slice(0, 500)}`);
      }
    },
  };
}

export async function runCli(argv: string[], env: Record<string, string | undefined>): Promise<CliResult> {
  let out = '';
  let err = '';
  const code = await main(argv, { env, stdout: { write: (t: string) => (out += t) }, stderr: { write: (t: string) => (err += t) } });
  return result(code, out, err);
}

/** The real binary as a child process (optionally with stdin). */
export function runBinary(argv: string[], env: Record<string, string | undefined>, stdin?: string): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [path.join(repoRoot, 'bin', 'satmachine.cjs'), ...argv], { env: env as NodeJS.ProcessEnv, cwd: repoRoot });
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve(result(code ?? -1, out, err)));
    child.stdin.end(stdin ?? '');
  });
}
