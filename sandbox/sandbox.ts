/**
 * `startSandbox(opts)`: the whole system on this machine — Temporal dev server (with Web UI), PostgreSQL
 * (ledger + simulated Lamassu database), LNbits FakeWallet with demo wallets and clients, an sshd so the
 * real SSH tunnel code reads the simulated Lamassu database, the worker, the setup (poller, schedules)
 * and a simulated ATM. `stop()` takes everything down in order: nothing the sandbox started is left.
 */
import { randomBytes } from 'node:crypto';
import { chmodSync, mkdirSync, readFileSync, rmSync } from 'node:fs';
import path from 'node:path';
import { Client, Connection } from '@temporalio/client';
import pg from 'pg';
import { loadConfig, repoRoot, sandboxConfigPath } from '../config/load';
import type { Config, ConfigInput } from '../config/schema';
import { migrateLedger } from '../db/migrate';
import { DEFAULT_TASK_QUEUE } from '../domain/constants';
import { startSshd } from '../test/support/sshd';
import { startAtm, type Atm, type AtmEvent } from './atm';
import { ensureDemoData, topUpClients, type DemoDeps } from './demo-data';
import { readPrevious, writePrivateJson, type SandboxInfo } from './files';
import { startSandboxLnbits } from './lnbits';
import { createSandboxLogger } from './log';
import { ensureDatabase, startSandboxPostgres, withDatabase } from './postgres';
import { runSandboxSetup } from './setup';
import { SandboxStartError, checkTemporalPorts, startSandboxTemporal } from './temporal';
import { findLeftovers, runningSandboxPid, stopLeftovers } from './leftovers';
import { watchOutcomes, type CashOutOutcome } from './watch';
import { startSandboxWorker, type SandboxWorker } from './worker';
import { hashPassword } from '../console/passwords';
import { SANDBOX_CONSOLE_PORT, SANDBOX_OPERATOR, startSandboxConsole } from './console';

export const DEFAULT_DATA_DIR = path.dirname(sandboxConfigPath);

export interface SandboxOptions {
  /** Everything the sandbox keeps: pg/, lnbits/, sshd/, temporal.sqlite, logs/, sandbox.json. */
  dataDir?: string;
  /** Where config.json goes; default .satmachine/config.json for the default data folder, else <dataDir>/config.json. */
  configPath?: string;
  /** Start over: remove what earlier runs kept in dataDir. */
  fresh?: boolean;
  /** Random ports instead of 7233/8233/5000 (tests, or a second sandbox). */
  randomPorts?: boolean;
  /** Seconds between simulated cash-outs; 0 = the ATM only inserts on request (atm.insertNow). */
  atmIntervalSeconds?: number;
  /** The poller's interval (seconds). */
  pollIntervalSeconds?: number;
  /** Try to reach the simulated Lamassu database through a local sshd (default true). */
  useSshd?: boolean;
  /** LNbits keeps its data in a database of the sandbox's PostgreSQL instead of SQLite (no single writer). */
  lnbitsPostgres?: boolean;
  /** A PostgreSQL of one's own (the ledger database); otherwise the embedded one. */
  databaseUrl?: string;
  logLevel?: string;
  /** Also print every log line (sandbox and worker) to the console. */
  verbose?: boolean;
  /** Human output (progress, cash-outs); default console.log. */
  out?: (line: string) => void;
  /** Time origin for the "first cash-out after N s" line; default now. */
  startedAtMs?: number;
}

export interface Sandbox {
  info: SandboxInfo;
  config: Config;
  atm: Atm;
  /** The worker process: `started` once it polls, `exited` when it is gone. */
  worker: SandboxWorker;
  stop(): Promise<void>;
}

type Stop = [name: string, stop: () => Promise<void>];

const seconds = (ms: number) => `${(ms / 1000).toFixed(1)} s`;
const fmt = (n: string | number | bigint) => BigInt(n).toLocaleString('en-US');

/** Only what earlier runs of the sandbox created: never the folder itself or anything else in it. */
function removeKeptData(dataDir: string, configPath: string): void {
  for (const name of ['pg', 'lnbits', 'sshd', 'logs', 'sandbox.json', 'temporal.sqlite', 'temporal.sqlite-shm', 'temporal.sqlite-wal']) {
    rmSync(path.join(dataDir, name), { recursive: true, force: true });
  }
  rmSync(configPath, { force: true });
}

export async function startSandbox(opts: SandboxOptions = {}): Promise<Sandbox> {
  const t0 = opts.startedAtMs ?? Date.now();
  const out = opts.out ?? ((line: string) => console.log(line));
  const dataDir = path.resolve(opts.dataDir ?? DEFAULT_DATA_DIR);
  const configPath = path.resolve(opts.configPath ?? (dataDir === DEFAULT_DATA_DIR ? sandboxConfigPath : path.join(dataDir, 'config.json')));
  const infoPath = path.join(dataDir, 'sandbox.json');
  const logDir = path.join(dataDir, 'logs');
  const rel = (p: string) => (p.startsWith(repoRoot + path.sep) ? path.relative(repoRoot, p) : p);
  const previous = readPrevious(infoPath, configPath);
  const running = runningSandboxPid(previous.info?.pid);
  if (running) throw new SandboxStartError(`a sandbox is already running with its data in ${rel(dataDir)} (pid ${running}); stop it first (Ctrl-C in its terminal)`);
  const previousKept = opts.fresh ? { info: undefined, config: undefined } : previous;
  out(`Starting the Satoshi Machine sandbox in ${rel(dataDir)}${opts.fresh ? ' (fresh)' : previousKept.info ? ' (reusing the previous run\'s data)' : ''} …`);
  const leftovers = findLeftovers(dataDir, configPath);
  if (leftovers.length) {
    out(`  ~ stopping what an earlier, killed run left running: ${leftovers.map((l) => `${l.what} (pid ${l.pid})`).join(', ')}`);
    await stopLeftovers(leftovers);
  }
  if (opts.fresh) removeKeptData(dataDir, configPath);
  mkdirSync(logDir, { recursive: true });
  // As root, embedded PostgreSQL runs as the OS user `postgres`, which must be able to reach pg/ inside.
  chmodSync(dataDir, 0o755);
  const log = createSandboxLogger({ file: path.join(logDir, 'sandbox.log'), level: opts.logLevel ?? 'info', echo: opts.verbose ? out : undefined, onError: (line) => out(`  ! ${line}`) });

  const stops: Stop[] = [];
  const stopAll = async () => {
    for (const [name, stop] of stops.splice(0).reverse()) {
      await stop().catch((err: unknown) => out(`  ! stopping ${name} failed: ${(err as Error).message}`));
    }
  };
  const timed = async <T extends { stop: () => Promise<void> }>(name: string, fn: () => Promise<T>, describe: (v: T) => string): Promise<T> => {
    const started = Date.now();
    const v = await fn();
    stops.push([name, v.stop]);
    out(`  ✓ ${describe(v)} (${seconds(Date.now() - started)})`);
    return v;
  };

  try {
    const randomPorts = !!opts.randomPorts;
    // The fixed ports first: a second sandbox or `npm run temporal` is the common reason a start fails.
    if (!randomPorts) await checkTemporalPorts();
    const pgStarting = timed('PostgreSQL', () => startSandboxPostgres({ dataDir, databaseUrl: opts.databaseUrl }), (p) =>
      p.embedded ? `PostgreSQL (embedded, data in ${rel(path.join(dataDir, 'pg'))})` : 'PostgreSQL (DATABASE_URL)',
    );
    const starting = [
      pgStarting,
      timed('Temporal', () => startSandboxTemporal({ dataDir, logDir, randomPorts }), (t) => `Temporal dev server ${t.address}, Web UI ${t.uiUrl}`),
      timed(
        'LNbits',
        async () => startSandboxLnbits({ dataDir, randomPorts, databaseUrl: opts.lnbitsPostgres ? await lnbitsDatabase((await pgStarting).adminUrl) : undefined }),
        (l) => `LNbits ${l.url} (FakeWallet, ${opts.lnbitsPostgres ? 'PostgreSQL' : 'SQLite'})`,
      ),
      opts.useSshd === false
        ? Promise.resolve({ ok: false as const, reason: 'disabled (--no-sshd)' })
        : timed('sshd', () => startSshd({ dir: path.join(dataDir, 'sshd') }), (s) => `sshd 127.0.0.1:${s.port} (the Lamassu link goes through a real SSH tunnel)`)
            .then((s) => ({ ok: true as const, sshd: s }))
            .catch((err: unknown) => ({ ok: false as const, reason: (err as Error).message.split('\n')[0]! })),
    ] as const;
    // When one fails, the others finish starting (and are stopped again by the catch below): none is left.
    const [postgres, temporal, lnbits, sshd] = await Promise.all(starting).catch(async (err: unknown) => {
      await Promise.allSettled(starting);
      throw err;
    });
    if (!sshd.ok) out(`  ~ no sshd (${sshd.reason}): the worker reads the simulated Lamassu database directly (lamassu.mode "direct")`);

    await migrateLedger(postgres.ledgerUrl, (m) => log.debug(m));
    const encryptionKey = previousKept.config?.encryptionKey ?? randomBytes(48).toString('base64url');
    // A fresh operator password each run, printed in the banner and kept in sandbox.json (0600).
    const consolePassword = randomBytes(12).toString('base64url');
    const pool = new pg.Pool({ connectionString: postgres.ledgerUrl, max: 4 });
    pool.on('error', (err) => log.warn({ err: err.message }, 'sandbox ledger pool error'));
    stops.push(['ledger pool', () => pool.end()]);
    const fiatCode = 'GTQ';
    const fiatDecimals = 2;
    const demoDeps: DemoDeps = { pool, lnbitsUrl: lnbits.url, superuserToken: lnbits.superuserToken, encryptionKey, currency: fiatCode, fiatDecimals, log };
    const prevWallet = (w: { id?: string; adminKey?: string; invoiceKey?: string } | undefined) =>
      w?.id && w.adminKey && w.invoiceKey ? { id: w.id, adminKey: w.adminKey, invoiceKey: w.invoiceKey } : undefined;
    const demo = await ensureDemoData(demoDeps, {
      source: prevWallet(previousKept.config?.lnbits.source),
      commission: prevWallet(previousKept.config?.lnbits.commission),
      clients: previousKept.info?.clients,
    });
    out(demo.created.length ? `  ✓ created ${demo.created.join(', ')}` : `  ✓ reusing the wallets and the ${demo.state.clients.length} demo clients of the previous run`);
    for (const t of await topUpClients(demoDeps, demo.state.clients)) out(`  ✓ ${t.name} deposited ${fmt(BigInt(t.amount) / 10n ** BigInt(fiatDecimals))} ${fiatCode} again`);

    const lamassu: ConfigInput['lamassu'] = {
      mode: sshd.ok ? 'ssh' : 'direct',
      databaseUrl: postgres.lamassuUrl,
      ssh: sshd.ok
        ? { host: sshd.sshd.host, port: sshd.sshd.port, username: sshd.sshd.username, privateKey: readFileSync(sshd.sshd.privateKeyPath, 'utf8'), hostKeySha256: sshd.sshd.hostKeySha256 }
        : undefined,
      fiatCode,
      fiatDecimals,
      pollIntervalSeconds: opts.pollIntervalSeconds ?? 5,
    };
    const configInput: ConfigInput = {
      temporal: { address: temporal.address, namespace: temporal.namespace, taskQueue: DEFAULT_TASK_QUEUE },
      databaseUrl: postgres.ledgerUrl,
      lnbits: {
        url: lnbits.url,
        source: demo.state.source,
        commission: demo.state.commission,
        superuserToken: lnbits.superuserToken,
      },
      lamassu,
      commissionModel: 'runbook',
      // The simulated ATM sells far more in a day than one real machine: the daily caps would hold everything.
      cashOutChecks: { maxDailySats: 1_000_000_000_000, maxDailyFiat: '1000000000' },
      // The ATM's sats do not really arrive in the source wallet: each cash-out workflow credits its
      // crypto_atoms there through LNbits' superuser endpoint before paying out.
      fundingMode: 'superuser-credit',
      encryptionKey,
      log: { level: (opts.logLevel ?? 'info') as 'info' },
      console: { port: randomPorts ? 0 : SANDBOX_CONSOLE_PORT, operators: [{ name: SANDBOX_OPERATOR, passwordHash: await hashPassword(consolePassword) }], temporalUiUrl: temporal.uiUrl },
    };
    // Validated by the one loader (no environment, no file): what the CLI will read back is valid.
    const config = loadConfig({ env: {}, file: null, overrides: configInput });
    writePrivateJson(configPath, configInput);

    const worker = startSandboxWorker({
      configPath,
      logFile: path.join(logDir, 'worker.log'),
      // At least info: the sandbox watches for the worker's "worker started" / "worker stopped" lines.
      logLevel: ['debug', 'trace'].includes(opts.logLevel ?? '') ? opts.logLevel! : 'info',
      onLine: (rec) => {
        const text = `worker ${rec.msg ?? ''}${rec.err ? ` — ${typeof rec.err === 'string' ? rec.err : JSON.stringify(rec.err)}` : ''}`;
        if (opts.verbose) out(`    ${text}`);
        else if (rec.level >= 50) out(`  ! ${text}`);
      },
    });
    stops.push(['worker', () => worker.stop()]);
    const workerStarted = Date.now();
    void worker.started.then(
      () => out(`  ✓ worker polling task queue "${config.temporal.taskQueue}" (${seconds(Date.now() - workerStarted)} to bundle the workflows and connect)`),
      () => undefined,
    );
    const connection = await Connection.connect({ address: temporal.address });
    stops.push(['Temporal client', () => connection.close()]);
    const client = new Client({ connection, namespace: temporal.namespace });
    const setup = await runSandboxSetup(client, config, log);
    out(`  ✓ ${setup}`);

    const webConsole = await timed('console', () => startSandboxConsole(config), (c) => `web console ${c.url}`);
    // The port it really got (random ports, or 8080 taken): `satmachine clients statement-link` builds links on it.
    const consolePort = Number(new URL(webConsole.url).port);
    if (consolePort !== configInput.console?.port) writePrivateJson(configPath, { ...configInput, console: { ...configInput.console, port: consolePort } });

    const info: SandboxInfo = {
      pid: process.pid,
      startedAt: new Date(t0).toISOString(),
      temporalAddress: temporal.address,
      namespace: temporal.namespace,
      taskQueue: config.temporal.taskQueue,
      temporalUiUrl: temporal.uiUrl,
      ledgerDatabaseUrl: postgres.ledgerUrl,
      lamassuDatabaseUrl: postgres.lamassuUrl,
      lamassuMode: lamassu.mode ?? 'direct',
      lnbitsUrl: lnbits.url,
      sourceWalletId: demo.state.source.id,
      commissionWalletId: demo.state.commission.id,
      clients: demo.state.clients,
      configPath,
      dataDir,
      logDir,
      consoleUrl: webConsole.url,
      consoleLogin: { name: SANDBOX_OPERATOR, password: consolePassword },
    };
    writePrivateJson(infoPath, info);

    let firstCompleted = false;
    const watcher = watchOutcomes(pool, (o) => {
      out(describeOutcome(o));
      if (o.status === 'completed' && !firstCompleted) {
        firstCompleted = true;
        out(`    (first completed cash-out ${seconds(Date.now() - t0)} after start)`);
      }
    }, { onError: (err) => log.warn({ err: err.message }, 'outcome watcher') });
    stops.push(['outcome watcher', () => watcher.stop()]);

    const atm = startAtm({
      lamassuUrl: postgres.lamassuUrl,
      intervalSeconds: opts.atmIntervalSeconds ?? 8,
      fiatCode,
      onEvent: (e) => out(describeAtmEvent(e)),
      onError: (err) => out(`  ! ATM: ${err.message}`),
    });
    stops.push(['ATM', () => atm.stop()]);
    const topUps = setInterval(() => {
      topUpClients(demoDeps, demo.state.clients)
        .then((done) => done.forEach((t) => out(`  $ ${t.name} deposited ${fmt(BigInt(t.amount) / 10n ** BigInt(fiatDecimals))} ${fiatCode} at the operator`)))
        .catch((err: Error) => log.warn({ err: err.message }, 'top-up'));
    }, 30_000);
    stops.push(['top-ups', async () => clearInterval(topUps)]);
    // The first customer is already at the machine: something to watch at once.
    if ((opts.atmIntervalSeconds ?? 8) > 0) await atm.insertNow('cashout');

    return { info, config, atm, worker, stop: stopAll };
  } catch (err) {
    await stopAll();
    throw err;
  }
}

function describeAtmEvent(e: AtmEvent): string {
  const what = `${e.cryptoCode.padEnd(3)} ${fmt(e.fiatWhole).padStart(5)} ${e.fiatCode}  ${fmt(e.cryptoAtoms).padStart(9)} sats`;
  const tag = e.kind === 'cashout' ? '' : `  (${e.note})`;
  return `  ATM  ${what}  ${e.id.slice(0, 8)}${tag}`;
}

function describeOutcome(o: CashOutOutcome): string {
  const id = o.lamassuId.slice(0, 8);
  if (o.status === 'completed') {
    return `  ✓ ${id} paid: ${fmt(o.paidSats)} sats to ${o.clientPayouts} client(s), commission ${fmt(o.commissionSats ?? 0)} sats`;
  }
  if (o.status === 'rejected') return `  ✗ ${id} rejected, not paid (${o.reason ?? 'invalid row'}) — an alert was raised`;
  return `  ! ${id} ${o.status}${o.reason ? `: ${o.reason}` : ''} (see the Web UI)`;
}

/** LNbits' own database on the sandbox's PostgreSQL (kept between runs like the rest), as LNbits wants its URL. */
async function lnbitsDatabase(adminUrl: string): Promise<string> {
  await ensureDatabase(adminUrl, 'satmachine_lnbits');
  return withDatabase(adminUrl, 'satmachine_lnbits').replace(/^postgresql:/, 'postgres:');
}
