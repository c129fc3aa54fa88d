/**
 * `npm start`. Without configuration: the sandbox — the whole system on embedded defaults with a simulated
 * ATM (see sandbox.ts). With a configuration (SATMACHINE_CONFIG, or deployment variables such as LNBITS_URL,
 * LAMASSU_MODE, TEMPORAL_ADDRESS): only the worker, against that real deployment.
 *
 * The sandbox runs in a detached child (its own process group): a Ctrl-C in the terminal reaches only this
 * parent, which asks the child to stop everything in order. Without that, the terminal's SIGINT would hit
 * the embedded PostgreSQL directly and stop it under the draining worker.
 */
import { spawn } from 'node:child_process';
import path from 'node:path';
import { CommanderError } from 'commander';
import { buildProgram } from '../client/cli';
import { ConfigError, loadConfig, repoRoot } from '../config/load';
import { createLogger } from '../log/logger';
import { runWorker } from '../worker/main';
import { deploymentVariables, parseMainOptions, type MainOptions } from './options';
import { startSandbox, type Sandbox } from './sandbox';

const CHILD_ENV = 'SATMACHINE_SANDBOX_CHILD';
const T0_ENV = 'SATMACHINE_SANDBOX_T0';
const out = (line: string) => process.stdout.write(`${line}\n`);
const rel = (p: string) => (p.startsWith(repoRoot + path.sep) ? path.relative(repoRoot, p) : p);

/** With a configuration: the worker only, exactly as `npm run worker` runs it. */
async function workerOnly(vars: string[]): Promise<number> {
  const file = process.env.SATMACHINE_CONFIG;
  let config;
  try {
    // Never the sandbox's own .satmachine/config.json: a deployment is the file named or the environment.
    config = loadConfig({ file: file ?? null });
  } catch (err) {
    process.stderr.write(`satmachine: ${(err as Error).message}\n`);
    return 2;
  }
  process.stderr.write(
    `satmachine: configuration found (${vars.join(', ')}): running only the worker against Temporal ${config.temporal.address} ` +
      `(namespace ${config.temporal.namespace}, task queue ${config.temporal.taskQueue}${config.temporal.tls || config.temporal.apiKey ? ', TLS' : ''}), ` +
      `Lamassu ${config.lamassu.mode}, LNbits ${new URL(config.lnbits.url).origin}\n`,
  );
  const log = createLogger({ level: config.log.level });
  try {
    // The worker's Runtime drains it on SIGINT/SIGTERM; runWorker then returns.
    await runWorker(config, log);
    return 0;
  } catch (err) {
    log.fatal({ err: (err as Error).message }, 'worker failed');
    return err instanceof ConfigError ? 2 : 1;
  }
}

/** The parent: runs the sandbox in a detached child and forwards Ctrl-C / SIGTERM to it. */
function supervise(): Promise<number> {
  const child = spawn(process.execPath, ['--import', 'tsx', path.join(__dirname, 'main.ts'), ...process.argv.slice(2)], {
    cwd: process.cwd(),
    env: { ...process.env, [CHILD_ENV]: '1', [T0_ENV]: String(Math.round(performance.timeOrigin)) },
    detached: true,
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  let signalledAt = 0;
  const forward = () => {
    // One Ctrl-C can arrive several times (from the terminal, npm and tsx): only a later one is news.
    if (!signalledAt) out('\nStopping the sandbox (ATM, worker, LNbits, sshd, Temporal, PostgreSQL) …');
    else if (Date.now() - signalledAt > 2_000) out('  … still stopping, please wait');
    signalledAt ||= Date.now();
    // Several signals may arrive for one Ctrl-C (terminal, npm, tsx): the child stops once.
    child.kill('SIGTERM');
  };
  process.on('SIGINT', forward);
  process.on('SIGTERM', forward);
  process.on('SIGHUP', forward);
  return new Promise((resolve) => {
    child.once('exit', (code, sig) => resolve(code ?? (sig ? 1 : 0)));
    child.once('error', (err) => {
      process.stderr.write(`satmachine: could not start the sandbox: ${err.message}\n`);
      resolve(1);
    });
  });
}

/** Commands worth trying that this CLI has; a command group is shown with its status/list subcommand. */
function suggestedCommands(): string[] {
  try {
    const commands = new Map(buildProgram().commands.map((c) => [c.name(), c]));
    return ['status', 'payouts', 'clients', 'tx', 'poller', 'reconcile', 'connection', 'config']
      .filter((n) => commands.has(n))
      .map((n) => {
        const subs = commands.get(n)!.commands.map((c) => c.name());
        if (!subs.length) return n;
        const sub = ['status', 'list', 'test', 'check'].find((s) => subs.includes(s));
        // `payouts list` shows open (stuck) payouts by default: in a healthy sandbox, show what was paid.
        if (n === 'payouts' && sub === 'list') return 'payouts list --status completed';
        return sub ? `${n} ${sub}` : `${n} --help`;
      });
  } catch {
    return [];
  }
}

async function printBanner(s: Sandbox, o: MainOptions, t0: number): Promise<void> {
  const i = s.info;
  const mask = (url: string) => url.replace(/:\/\/([^:@/]+):[^@/]*@/, '://$1:***@');
  const defaultConfig = i.configPath === path.join(repoRoot, '.satmachine', 'config.json');
  const cli = defaultConfig ? 'npx satmachine' : `SATMACHINE_CONFIG=${i.configPath} npx satmachine`;
  const commands = suggestedCommands();
  out('');
  out(`Satoshi Machine sandbox is up (${((Date.now() - t0) / 1000).toFixed(1)} s).`);
  out('');
  out(`  Temporal Web UI   ${i.temporalUiUrl}/namespaces/${i.namespace}/workflows   (one workflow per cash-out: lamassu-tx-<id>)`);
  out(`  Temporal          ${i.temporalAddress}, namespace ${i.namespace}, task queue ${i.taskQueue}`);
  out(`  LNbits            ${i.lnbitsUrl}  (FakeWallet; source ${i.sourceWalletId.slice(0, 8)}…, commission ${i.commissionWalletId.slice(0, 8)}…, ${i.clients.length} clients)`);
  out(`  Web console       ${i.consoleUrl}   (log in as "${i.consoleLogin.name}", password ${i.consoleLogin.password})`);
  out(`  Ledger            ${mask(i.ledgerDatabaseUrl)}`);
  out(`  Lamassu (sim)     ${mask(i.lamassuDatabaseUrl)}  ${i.lamassuMode === 'ssh' ? 'read through the SSH tunnel' : 'read directly (no sshd)'}`);
  out(`  ATM               ${o.atmInterval > 0 ? `a cash-out every ${o.atmInterval} s (--atm-interval N)` : 'off (--atm-interval 0)'}; the poller looks every ${s.config.lamassu.pollIntervalSeconds} s`);
  out(`  Files             ${rel(path.join(i.dataDir, 'sandbox.json'))}, ${rel(i.configPath)} (keys, 0600), logs in ${rel(i.logDir)}/`);
  out('');
  out('Try, in another terminal:');
  for (const c of commands) out(`  ${cli} ${c}`);
  out(`  ${cli} --help`);
  out('');
  out(`Ctrl-C stops everything; the data stays in ${rel(i.dataDir)}/ (\`npm start -- --fresh\` starts over).`);
  out('');
}

async function runSandbox(o: MainOptions): Promise<number> {
  const t0 = Number(process.env[T0_ENV]) || Math.round(performance.timeOrigin);
  let requested = false;
  let wake: () => void = () => {};
  const stopRequested = new Promise<void>((r) => (wake = r));
  const request = () => {
    if (!requested) wake();
    requested = true;
  };
  process.on('SIGINT', request);
  process.on('SIGTERM', request);
  // The parent is gone (killed): nobody can stop us any more, so stop now.
  process.on('disconnect', request);

  let sandbox: Sandbox;
  try {
    sandbox = await startSandbox({
      dataDir: o.dataDir,
      fresh: o.fresh,
      randomPorts: o.randomPorts,
      atmIntervalSeconds: o.atmInterval,
      pollIntervalSeconds: o.pollInterval,
      useSshd: o.sshd,
      lnbitsPostgres: o.lnbitsPostgres,
      databaseUrl: process.env.DATABASE_URL || undefined,
      logLevel: o.logLevel,
      verbose: o.verbose,
      out,
      startedAtMs: t0,
    });
  } catch (err) {
    process.stderr.write(`\nsatmachine: the sandbox could not start: ${(err as Error).message}\n`);
    return 1;
  }
  if (!requested) await printBanner(sandbox, o, t0);
  let code = 0;
  await Promise.race([
    stopRequested,
    sandbox.worker.exited.then(
      () => {
        if (!requested) out('\nThe worker stopped; stopping the sandbox.');
      },
      (err: Error) => {
        if (requested) return;
        code = 1;
        out(`\nThe worker failed (${err.message}; see ${rel(path.join(sandbox.info.logDir, 'worker.log'))}); stopping the sandbox.`);
      },
    ),
  ]);
  const t = Date.now();
  await sandbox.stop();
  out(`Sandbox stopped in ${((Date.now() - t) / 1000).toFixed(1)} s; data kept in ${rel(sandbox.info.dataDir)}/.`);
  return code;
}

async function main(): Promise<number> {
  let o: MainOptions;
  try {
    o = parseMainOptions(process.argv.slice(2));
  } catch (err) {
    if (err instanceof CommanderError) return err.exitCode === 0 ? 0 : 2;
    process.stderr.write(`satmachine: ${(err as Error).message}\n`);
    return 2;
  }
  const vars = deploymentVariables(process.env);
  if (vars.length) return workerOnly(vars);
  if (o.detach && process.env[CHILD_ENV] !== '1') return supervise();
  return runSandbox(o);
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    process.stderr.write(`satmachine: ${(err as Error).stack ?? String(err)}\n`);
    process.exit(1);
  },
);
