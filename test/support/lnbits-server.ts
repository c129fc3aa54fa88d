/**
 * A throwaway LNbits 1.6.2 (FakeWallet, SQLite in dataDir) for one test run: spawn, wait, first install,
 * superuser token. Started once per run by test/run.ts.
 */
import { spawn } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { z } from 'zod';
import { repoRoot } from '../../config/load';
import { freePort } from './ports';

export interface TestLnbits {
  url: string;
  superuserId: string;
  superuserToken: string;
  stop: () => Promise<void>;
}

const START_TIMEOUT_MS = 90_000;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function lnbitsBin(): string {
  if (process.env.LNBITS_BIN) return process.env.LNBITS_BIN;
  try {
    return (JSON.parse(readFileSync(path.join(repoRoot, '.tools', 'env.json'), 'utf8')) as { lnbits: string }).lnbits;
  } catch {
    return path.join(repoRoot, '.tools', 'lnbits', 'bin', 'lnbits');
  }
}

/** LNbits mounts `lnbits/static` relative to its working directory: run it from the venv's site-packages. */
function sitePackages(bin: string): string {
  const lib = path.join(path.dirname(path.dirname(bin)), 'lib');
  const dir = readdirSync(lib).filter((d) => d.startsWith('python')).map((d) => path.join(lib, d, 'site-packages')).find((d) => existsSync(path.join(d, 'lnbits', 'static')));
  if (!dir) throw new Error(`LNbits package not found under ${lib}: run scripts/bootstrap.sh`);
  return dir;
}

/** Processes of the group that are alive (zombies do not count: they hold no port and no file). */
function groupAlive(pgid: number): boolean {
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const [state, , pgrp] = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      if (Number(pgrp) === pgid && state !== 'Z') return true;
    } catch {
      /* exited while we looked */
    }
  }
  return false;
}

async function killGroup(pgid: number): Promise<void> {
  const send = (sig: NodeJS.Signals) => {
    try {
      process.kill(-pgid, sig);
    } catch {
      /* group already gone */
    }
  };
  const waitGone = async (ms: number) => {
    for (const deadline = Date.now() + ms; Date.now() < deadline; await sleep(25)) if (!groupAlive(pgid)) return true;
    return !groupAlive(pgid);
  };
  send('SIGTERM');
  if (await waitGone(5_000)) return;
  send('SIGKILL');
  await waitGone(2_000);
}

function logTail(file: string): string {
  try {
    return readFileSync(file, 'utf8').slice(-4000);
  } catch {
    return '(no log)';
  }
}

const tokenSchema = z.object({ access_token: z.string().min(1), token_type: z.literal('bearer') });
const userSchema = z.object({ id: z.string().regex(/^[0-9a-f]{32}$/) });

/**
 * `superuserPassword`: for a data folder kept between runs (the sandbox). The first start sets it at
 * first install; later starts of the same folder log in with it instead (first install answers 403 then).
 */
export async function startLnbits(opts: { dataDir: string; port?: number; superuserPassword?: string }): Promise<TestLnbits> {
  const bin = lnbitsBin();
  const port = opts.port ?? (await freePort());
  const url = `http://127.0.0.1:${port}`;
  mkdirSync(opts.dataDir, { recursive: true });
  const logFile = path.join(opts.dataDir, 'lnbits.log');
  const out = openSync(logFile, 'a');
  // A minimal environment: LNbits' settings read any matching variable (HOST, PORT, DEBUG, LNBITS_*, …).
  const env: NodeJS.ProcessEnv = {
    PATH: process.env.PATH,
    HOME: process.env.HOME,
    LANG: process.env.LANG ?? 'C.UTF-8',
    PYTHONUNBUFFERED: '1',
    LNBITS_BACKEND_WALLET_CLASS: 'FakeWallet',
    LNBITS_DATA_FOLDER: opts.dataDir,
    LNBITS_RATE_LIMIT_NO: '100000',
    // Nothing may reach the network: no extension manifests, no exchange rates.
    LNBITS_EXTENSIONS_DEACTIVATE_ALL: 'true',
    LNBITS_EXTENSIONS_MANIFESTS: '[]',
    LNBITS_WASM_EXTENSIONS_MANIFESTS: '[]',
    LNBITS_PRICE_AGGREGATOR_ENABLED: 'false',
    LNBITS_EXCHANGE_RATE_PROVIDERS: '[]',
    LNBITS_ADMIN_UI: 'true', // needed for the superuser and /users/api/v1/balance
    AUTH_HTTPS_ONLY: 'false',
  };
  const child = spawn(bin, ['--host', '127.0.0.1', '--port', String(port)], {
    cwd: sitePackages(bin),
    env,
    detached: true, // own process group: stop() reaches the uvicorn worker that LNbits forks
    stdio: ['ignore', out, out],
  });
  closeSync(out);
  const pgid = child.pid!;
  let exited: string | undefined;
  child.once('exit', (code, sig) => (exited = `exited with ${sig ?? code}`));
  child.once('error', (err) => (exited = `failed to start: ${err.message}`));
  // Safety net: if the test process exits without stop() (e.g. the harness fails while we start), kill the group.
  const onExit = () => {
    try {
      process.kill(-pgid, 'SIGKILL');
    } catch {
      /* already gone */
    }
  };
  process.once('exit', onExit);
  const stop = async () => {
    process.removeListener('exit', onExit);
    await killGroup(pgid);
  };

  try {
    // The port opens only after startup (migrations, settings) is complete; the answer is then 307 → /first_install.
    const deadline = Date.now() + START_TIMEOUT_MS;
    for (;;) {
      if (exited) throw new Error(`LNbits ${exited}`);
      // The forked uvicorn worker can die while the parent keeps waiting forever.
      if (/Traceback \(most recent call last\)|error while attempting to bind|Application startup failed/.test(logTail(logFile))) throw new Error('LNbits failed during startup');
      if (Date.now() > deadline) throw new Error(`LNbits not up after ${START_TIMEOUT_MS / 1000} s`);
      const status = await fetch(`${url}/api/v1/health`, { redirect: 'manual', signal: AbortSignal.timeout(2_000) }).then((r) => r.status, () => 0);
      if (status === 200 || status === 307) break;
      await sleep(100);
    }
    const password = opts.superuserPassword ?? randomBytes(18).toString('base64url');
    const send = (method: string, route: string, body: unknown) =>
      fetch(`${url}${route}`, { method, headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(body), signal: AbortSignal.timeout(10_000) });
    let fi = await send('PUT', '/api/v1/auth/first_install', { username: 'superuser', password, password_repeat: password });
    // Already installed (a kept data folder): log in with the password chosen at its first install.
    if (fi.status === 403 && opts.superuserPassword) fi = await send('POST', '/api/v1/auth', { username: 'superuser', password });
    if (fi.status !== 200) throw new Error(`first install / login: HTTP ${fi.status} ${(await fi.text()).slice(0, 300)}`);
    const superuserToken = tokenSchema.parse(await fi.json()).access_token;
    const me = await fetch(`${url}/api/v1/auth`, { headers: { Authorization: `Bearer ${superuserToken}` }, signal: AbortSignal.timeout(10_000) });
    if (me.status !== 200) throw new Error(`GET /api/v1/auth: HTTP ${me.status}`);
    const superuserId = userSchema.parse(await me.json()).id;
    const fileId = readFileSync(path.join(opts.dataDir, '.super_user'), 'utf8').trim();
    if (fileId !== superuserId) throw new Error(`superuser mismatch: .super_user ${fileId}, token ${superuserId}`);
    return { url, superuserId, superuserToken, stop };
  } catch (err) {
    await stop();
    throw new Error(`${(err as Error).message} (port ${port}); tail of ${logFile}:\n${logTail(logFile)}`, { cause: err });
  }
}
