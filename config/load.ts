import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import YAML from 'yaml';
import { z } from 'zod';
import { configSchema, type Config, type ConfigInput } from './schema';

export class ConfigError extends Error {
  override name = 'ConfigError';
}

/**
 * The package root: the nearest folder above this file with a package.json. This file lives in <root>/config
 * when run from source and in <root>/dist/config when built; migrations and temporal-dev.yaml stay at the root.
 */
function packageRoot(from: string): string {
  for (let dir = from; ; dir = path.dirname(dir)) {
    if (existsSync(path.join(dir, 'package.json'))) return dir;
    if (path.dirname(dir) === dir) return path.resolve(from, '..');
  }
}
export const repoRoot = packageRoot(path.resolve(__dirname, '..'));
/** Written by the sandbox (`npm start`) so that `npx satmachine` works against it without flags. */
export const sandboxConfigPath = path.join(repoRoot, '.satmachine', 'config.json');

type Env = Record<string, string | undefined>;

/** Environment variable → config path. `<NAME>_FILE` reads the value from a file (for secrets). */
const ENV_MAP: Record<string, string> = {
  DATABASE_URL: 'databaseUrl',
  TEMPORAL_ADDRESS: 'temporal.address',
  TEMPORAL_NAMESPACE: 'temporal.namespace',
  TEMPORAL_TASK_QUEUE: 'temporal.taskQueue',
  TEMPORAL_TLS: 'temporal.tls',
  TEMPORAL_API_KEY: 'temporal.apiKey',
  TEMPORAL_TLS_CERT: 'temporal.tlsCert',
  TEMPORAL_TLS_KEY: 'temporal.tlsKey',
  TEMPORAL_TLS_CA: 'temporal.tlsCa',
  TEMPORAL_TLS_SERVER_NAME: 'temporal.tlsServerName',
  LNBITS_URL: 'lnbits.url',
  LNBITS_SOURCE_WALLET_ID: 'lnbits.source.id',
  LNBITS_SOURCE_ADMIN_KEY: 'lnbits.source.adminKey',
  LNBITS_SOURCE_INVOICE_KEY: 'lnbits.source.invoiceKey',
  LNBITS_COMMISSION_WALLET_ID: 'lnbits.commission.id',
  LNBITS_COMMISSION_ADMIN_KEY: 'lnbits.commission.adminKey',
  LNBITS_COMMISSION_INVOICE_KEY: 'lnbits.commission.invoiceKey',
  LNBITS_SUPERUSER_TOKEN: 'lnbits.superuserToken',
  LNBITS_INVOICE_EXPIRY_SECONDS: 'lnbits.invoiceExpirySeconds',
  LNBITS_ALLOW_INSECURE_HTTP: 'lnbits.allowInsecureHttp',
  LAMASSU_MODE: 'lamassu.mode',
  LAMASSU_DATABASE_URL: 'lamassu.databaseUrl',
  LAMASSU_SSH_HOST: 'lamassu.ssh.host',
  LAMASSU_SSH_PORT: 'lamassu.ssh.port',
  LAMASSU_SSH_USER: 'lamassu.ssh.username',
  LAMASSU_SSH_PRIVATE_KEY: 'lamassu.ssh.privateKey',
  LAMASSU_SSH_HOST_KEY_SHA256: 'lamassu.ssh.hostKeySha256',
  LAMASSU_FIAT_CODE: 'lamassu.fiatCode',
  LAMASSU_FIAT_DECIMALS: 'lamassu.fiatDecimals',
  LAMASSU_LOOKBACK_HOURS: 'lamassu.lookbackHours',
  LAMASSU_PAY_FROM: 'lamassu.payFrom',
  LAMASSU_POLL_INTERVAL_SECONDS: 'lamassu.pollIntervalSeconds',
  COMMISSION_MODEL: 'commissionModel',
  FUNDING_MODE: 'fundingMode',
  PAYOUT_CONCURRENCY: 'payoutConcurrency',
  SATMACHINE_ENCRYPTION_KEY: 'encryptionKey',
  ALERT_WEBHOOK_URL: 'alerts.webhookUrl',
  ALERT_SMTP_URL: 'alerts.smtpUrl',
  ALERT_EMAIL_TO: 'alerts.emailTo',
  RECONCILE_SINCE: 'reconcileSince',
  LOG_LEVEL: 'log.level',
  METRICS_PORT: 'metricsPort',
  SATMACHINE_HTTP_ADDRESS: 'httpAddress',
  SATMACHINE_READY_MAX_POLL_AGE_SECONDS: 'readyMaxPollAgeSeconds',
  SATMACHINE_SHUTDOWN_GRACE_SECONDS: 'shutdownGraceSeconds',
  SATMACHINE_MAX_CACHED_WORKFLOWS: 'maxCachedWorkflows',
  CONSOLE_HOST: 'console.host',
  CONSOLE_PORT: 'console.port',
  CONSOLE_PUBLIC_URL: 'console.publicUrl',
  TEMPORAL_UI_URL: 'console.temporalUiUrl',
};

const BOOLEAN_PATHS = new Set(['temporal.tls', 'lnbits.allowInsecureHttp']);

function setPath(target: Record<string, unknown>, dotted: string, value: unknown): void {
  const keys = dotted.split('.');
  let node = target;
  for (const key of keys.slice(0, -1)) {
    const next = node[key];
    if (typeof next !== 'object' || next === null) node[key] = {};
    node = node[key] as Record<string, unknown>;
  }
  node[keys[keys.length - 1]!] = value;
}

function deepMerge(base: Record<string, unknown>, over: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = { ...base };
  for (const [k, v] of Object.entries(over)) {
    const b = out[k];
    out[k] =
      v && typeof v === 'object' && !Array.isArray(v) && b && typeof b === 'object' && !Array.isArray(b)
        ? deepMerge(b as Record<string, unknown>, v as Record<string, unknown>)
        : v;
  }
  return out;
}

function fromEnv(env: Env): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [name, dotted] of Object.entries(ENV_MAP)) {
    let value = env[name];
    const file = env[`${name}_FILE`];
    if (value === undefined && file) {
      try {
        value = readFileSync(file, 'utf8').trim();
      } catch (err) {
        throw new ConfigError(`${name}_FILE: cannot read ${file} (${(err as NodeJS.ErrnoException).code ?? 'error'})`);
      }
    }
    if (value === undefined || value === '') continue;
    setPath(out, dotted, BOOLEAN_PATHS.has(dotted) ? value === 'true' || value === '1' : value);
  }
  return out;
}

function fromFile(file: string): Record<string, unknown> {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new ConfigError(`config file ${file}: cannot read (${(err as NodeJS.ErrnoException).code ?? 'error'})`);
  }
  const parsed: unknown = file.endsWith('.json') ? JSON.parse(text) : YAML.parse(text);
  if (parsed === null || typeof parsed !== 'object') throw new ConfigError(`config file ${file}: not an object`);
  return parsed as Record<string, unknown>;
}

/** `lamassu.ssh.hostKeySha256: expected …` — every problem, each naming its field. Never echoes values. */
export function describeZodError(err: z.ZodError, prefix = ''): string {
  return err.issues.map((i) => `${prefix}${i.path.join('.') || '(root)'}: ${i.message}`).join('; ');
}

/** Settings that are not about where money goes: present in every environment (tests, the sandbox's children). */
const NEUTRAL_ENV = new Set(['LOG_LEVEL']);

/** Deployment variables set in `env` (ENV_MAP names and their `_FILE` forms), sorted. */
export function deploymentVariables(env: Env): string[] {
  return Object.keys(ENV_MAP)
    .flatMap((name) => [name, `${name}_FILE`])
    .filter((name) => !NEUTRAL_ENV.has(name.replace(/_FILE$/, '')) && env[name] !== undefined && env[name] !== '')
    .sort();
}

/** A config written by the sandbox (`.satmachine/config.json`, or config.json in any `.satmachine` folder). */
export function isSandboxConfig(file: string, sandboxFile = sandboxConfigPath): boolean {
  const abs = path.resolve(file);
  return abs === path.resolve(sandboxFile) || path.basename(path.dirname(abs)) === '.satmachine';
}

/**
 * The config file to read: `opts.file`, else $SATMACHINE_CONFIG, else the sandbox's file — but the sandbox's file
 * only when no deployment variable is set (a real deployment never reads it by accident). The sandbox's file
 * together with deployment variables is refused: its keys and wallets would be mixed into the deployment's.
 */
function chooseConfigFile(env: Env, explicit: string | null | undefined, sandboxFile: string): string | undefined {
  if (explicit === null) return undefined;
  const deployment = deploymentVariables(env);
  const file = explicit ?? env.SATMACHINE_CONFIG ?? (deployment.length === 0 && existsSync(sandboxFile) ? sandboxFile : undefined);
  if (file && deployment.length > 0 && isSandboxConfig(file, sandboxFile)) {
    throw new ConfigError(
      `the sandbox's config ${path.relative(process.cwd(), path.resolve(file)) || file} is not mixed with deployment variables (${deployment.join(', ')}): ` +
        'unset them to use the sandbox, or configure the deployment without the sandbox file (SATMACHINE_CONFIG naming its own file)',
    );
  }
  return file;
}

export interface LoadOptions {
  env?: Env;
  /**
   * Config file (JSON or YAML). Default: $SATMACHINE_CONFIG, else .satmachine/config.json when present and no
   * deployment variable is set. null: none.
   */
  file?: string | null;
  /** Applied last; used by tests and the sandbox. */
  overrides?: ConfigInput;
  /** Where the sandbox writes its config (tests point it elsewhere). */
  sandboxFile?: string;
}

export function loadConfig(opts: LoadOptions = {}): Config {
  const env = opts.env ?? process.env;
  const file = chooseConfigFile(env, opts.file, opts.sandboxFile ?? sandboxConfigPath);
  let raw: Record<string, unknown> = file ? fromFile(file) : {};
  raw = deepMerge(raw, fromEnv(env));
  if (opts.overrides) raw = deepMerge(raw, opts.overrides as Record<string, unknown>);
  const result = configSchema.safeParse(raw);
  if (!result.success) throw new ConfigError(`invalid config: ${describeZodError(result.error)}`);
  return result.data;
}
