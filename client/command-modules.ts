/**
 * The CLI's command modules, loaded only when needed: `satmachine status` loads the status command's module
 * and nothing else, and the top-level help is drawn from a manifest that `npm run build` writes
 * (dist/client/commands-manifest.json) without loading any. A new command module is added to this list.
 */
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import type { Command } from 'commander';

export const COMMAND_MODULES: ReadonlyArray<{ module: string; register: string }> = [
  { module: 'commission', register: 'registerCommission' },
  { module: 'setup', register: 'registerSetup' },
  { module: 'status', register: 'registerStatus' },
  { module: 'emergency', register: 'registerEmergency' },
  { module: 'poller', register: 'registerPoller' },
  { module: 'clients', register: 'registerClients' },
  { module: 'deposits', register: 'registerDeposits' },
  { module: 'tx', register: 'registerTx' },
  { module: 'payouts', register: 'registerPayouts' },
  { module: 'adjust', register: 'registerAdjust' },
  { module: 'checks', register: 'registerChecks' },
  { module: 'connection', register: 'registerConnection' },
  { module: 'config', register: 'registerConfig' },
  { module: 'export', register: 'registerExport' },
  { module: 'keys', register: 'registerKeys' },
  { module: 'alerts', register: 'registerAlerts' },
  { module: 'console', register: 'registerConsole' },
  { module: 'import', register: 'registerImport' },
];

/** One top-level command as the help lists it. */
export interface ManifestEntry {
  module: string;
  name: string;
  aliases: string[];
  /** The help's left column (`status [options]`). */
  term: string;
  description: string;
}

export const MANIFEST_PATH = path.join(__dirname, 'commands-manifest.json');

export function registerModule(program: Command, module: string): void {
  const entry = COMMAND_MODULES.find((m) => m.module === module);
  if (!entry) throw new Error(`unknown command module ${module}`);
  const mod = require(`./commands/${entry.module}`) as Record<string, (p: Command) => void>;
  mod[entry.register]!(program);
}

/** The manifest of a build (undefined from source, or when it does not list every module: then all load). */
export function loadManifest(): ManifestEntry[] | undefined {
  if (!__filename.endsWith('.js') || !existsSync(MANIFEST_PATH)) return undefined;
  const entries = JSON.parse(readFileSync(MANIFEST_PATH, 'utf8')) as ManifestEntry[];
  return COMMAND_MODULES.every((m) => entries.some((e) => e.module === m.module)) ? entries : undefined;
}
