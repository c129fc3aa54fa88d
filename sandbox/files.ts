/**
 * What the sandbox leaves for people and tools: `sandbox.json` (where everything is, the demo ids) and
 * `config.json` (the full config, keys included, that `npx satmachine` picks up through loadConfig).
 * Both 0600: config.json holds LNbits keys and the encryption key; sandbox.json database URLs.
 */
import { chmodSync, existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { z } from 'zod';
import type { ConfigInput } from '../config/schema';
import { fiatMinor } from '../domain/money';
import type { DemoClient } from './demo-data';

export interface SandboxInfo {
  pid: number;
  startedAt: string;
  temporalAddress: string;
  namespace: string;
  taskQueue: string;
  temporalUiUrl: string;
  ledgerDatabaseUrl: string;
  lamassuDatabaseUrl: string;
  lamassuMode: 'ssh' | 'direct';
  lnbitsUrl: string;
  sourceWalletId: string;
  commissionWalletId: string;
  clients: DemoClient[];
  configPath: string;
  dataDir: string;
  logDir: string;
  /** The web console and the sandbox's operator login (a new password each run). */
  consoleUrl: string;
  consoleLogin: { name: string; password: string };
}

/** Written atomically with mode 0600 (created with it, never world-readable for a moment). */
export function writePrivateJson(file: string, value: unknown): void {
  mkdirSync(path.dirname(file), { recursive: true });
  const tmp = `${file}.${process.pid}.tmp`;
  writeFileSync(tmp, `${JSON.stringify(value, null, 2)}\n`, { mode: 0o600 });
  chmodSync(tmp, 0o600);
  renameSync(tmp, file);
}

const previousInfoSchema = z.object({
  pid: z.number().int().optional(),
  sourceWalletId: z.string(),
  commissionWalletId: z.string(),
  clients: z.array(z.object({ id: z.string(), name: z.string(), walletId: z.string(), depositFiatMinor: z.number().int().transform((v) => fiatMinor(v, 'depositFiatMinor')) })),
});

const walletKeysSchema = z.object({ id: z.string(), adminKey: z.string(), invoiceKey: z.string() });
const previousConfigSchema = z.object({
  encryptionKey: z.string().min(32),
  lnbits: z.object({ source: walletKeysSchema.partial(), commission: walletKeysSchema.partial() }).partial(),
});

function readJson(file: string): unknown {
  if (!existsSync(file)) return undefined;
  try {
    return JSON.parse(readFileSync(file, 'utf8'));
  } catch {
    return undefined;
  }
}

/** What a previous run left, if it is readable; anything missing is simply created again. */
export function readPrevious(infoFile: string, configFile: string) {
  const info = previousInfoSchema.safeParse(readJson(infoFile));
  const config = previousConfigSchema.safeParse(readJson(configFile));
  return {
    info: info.success ? info.data : undefined,
    config: config.success ? (config.data as { encryptionKey: string; lnbits: { source?: Partial<z.infer<typeof walletKeysSchema>>; commission?: Partial<z.infer<typeof walletKeysSchema>> } }) : undefined,
  };
}

export type { ConfigInput };
