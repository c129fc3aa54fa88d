/**
 * A throwaway LNbits 1.6.2 (FakeWallet, SQLite in dataDir — or PostgreSQL with `databaseUrl`) for one test
 * run: spawn, wait, first install, superuser token. Started once per run by test/run.ts.
 */
import { existsSync, mkdirSync, readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { z } from 'zod';
import { toolPaths, toolsDir } from '../../config/temporal-dev';
import { freePort } from './ports';
import { logTail, sleep, spawnGroup } from './process-group';

export interface TestLnbits {
  url: string;
  superuserId: string;
  superuserToken: string;
  stop: () => Promise<void>;
}

const START_TIMEOUT_MS = 90_000;

function lnbitsBin(): string {
  if (process.env.LNBITS_BIN) return process.env.LNBITS_BIN;
  try {
    return toolPaths().lnbits;
  } catch {
    return path.join(toolsDir(), 'lnbits', 'bin', 'lnbits');
  }
}

/** LNbits mounts `lnbits/static` relative to its working directory: run it from the venv's site-packages. */
function sitePackages(bin: string): string {
  const lib = path.join(path.dirname(path.dirname(bin)), 'lib');
  const dir = readdirSync(lib).filter((d) => d.startsWith('python')).map((d) => path.join(lib, d, 'site-packages')).find((d) => existsSync(path.join(d, 'lnbits', 'static')));
  if (!dir) throw new Error(`LNbits package not found under ${lib}: run scripts/bootstrap.sh`);
  return dir;
}

const tokenSchema = z.object({ access_token: z.string().min(1), token_type: z.literal('bearer') });
const userSchema = z.object({ id: z.string().regex(/^[0-9a-f]{32}$/) });

/**
 * `superuserPassword`: for a data folder kept between runs (the sandbox). The first start sets it at
 * first install; later starts of the same folder log in with it instead (first install answers 403 then).
 */
/**
 * `databaseUrl` (postgres://…): LNbits keeps its data in that PostgreSQL database instead of one SQLite file,
 * so that payments are not serialised by SQLite's single writer (bench/, `npm start -- --lnbits-postgres`).
 */
export async function startLnbits(opts: { dataDir: string; port?: number; superuserPassword?: string; databaseUrl?: string }): Promise<TestLnbits> {
  const bin = lnbitsBin();
  const port = opts.port ?? (await freePort());
  const url = `http://127.0.0.1:${port}`;
  mkdirSync(opts.dataDir, { recursive: true });
  const logFile = path.join(opts.dataDir, 'lnbits.log');
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
    ...(opts.databaseUrl ? { LNBITS_DATABASE_URL: opts.databaseUrl } : {}),
  };
  // Own process group: stop() reaches the uvicorn worker that LNbits forks (SIGKILL 5 s after SIGTERM).
  const group = spawnGroup(bin, ['--host', '127.0.0.1', '--port', String(port)], { cwd: sitePackages(bin), env, logFile, graceMs: 5_000 });
  const { stop } = group;
  const tail = () => logTail(logFile, 4000);

  try {
    // The port opens only after startup (migrations, settings) is complete; the answer is then 307 → /first_install.
    const deadline = Date.now() + START_TIMEOUT_MS;
    for (;;) {
      const exited = group.exited();
      if (exited) throw new Error(`LNbits ${exited}`);
      // The forked uvicorn worker can die while the parent keeps waiting forever.
      if (/Traceback \(most recent call last\)|error while attempting to bind|Application startup failed/.test(tail())) throw new Error('LNbits failed during startup');
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
    throw new Error(`${(err as Error).message} (port ${port}); tail of ${logFile}:\n${tail()}`, { cause: err });
  }
}
