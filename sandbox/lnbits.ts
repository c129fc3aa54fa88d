/**
 * LNbits (FakeWallet) for the sandbox, kept in `<dataDir>/lnbits` between runs: the test harness's
 * starter with a superuser password that is chosen once and stored next to LNbits' own data (0600),
 * so a second run logs in instead of installing again. Port 5000 when free (or random).
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import { z } from 'zod';
import { startLnbits, type TestLnbits } from '../test/support/lnbits-server';
import { freePort, portFree } from '../test/support/ports';

export const DEFAULT_LNBITS_PORT = 5000;

const secretSchema = z.object({ superuserPassword: z.string().min(16) });

function superuserPassword(dir: string): string {
  const file = path.join(dir, 'sandbox-superuser.json');
  if (existsSync(file)) {
    const parsed = secretSchema.safeParse(JSON.parse(readFileSync(file, 'utf8')));
    if (parsed.success) return parsed.data.superuserPassword;
  }
  const password = randomBytes(18).toString('base64url');
  writeFileSync(file, JSON.stringify({ superuserPassword: password }), { mode: 0o600 });
  return password;
}

export async function startSandboxLnbits(opts: { dataDir: string; randomPorts: boolean; databaseUrl?: string }): Promise<TestLnbits & { port: number; logFile: string }> {
  const dir = path.join(opts.dataDir, 'lnbits');
  mkdirSync(dir, { recursive: true });
  const port = !opts.randomPorts && (await portFree(DEFAULT_LNBITS_PORT)) ? DEFAULT_LNBITS_PORT : await freePort();
  const lnbits = await startLnbits({ dataDir: dir, port, superuserPassword: superuserPassword(dir), databaseUrl: opts.databaseUrl });
  return { ...lnbits, port, logFile: path.join(dir, 'lnbits.log') };
}
