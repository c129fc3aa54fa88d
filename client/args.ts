/** Parsing of command-line values: each error names the argument and exits 2. */
import { readFileSync } from 'node:fs';
import { z } from 'zod';
import { parseDecimal, toScaledInteger } from '../domain/decimal';
import { DecimalError } from '../domain/errors';
import { type FiatMinor, fiatMinor } from '../domain/money';
import { CliError, EXIT } from './output';

/** Validate `raw` (commander's values) with `schema`; the first issues become one usage error. */
export function parseArgs<T extends z.ZodType>(schema: T, raw: unknown): z.infer<T> {
  const r = schema.safeParse(raw);
  if (r.success) return r.data;
  throw new CliError(r.error.issues.map((i) => (i.message.startsWith('--') || i.message.startsWith('<') ? i.message : `${i.path.join('.') || 'argument'}: ${i.message}`)).join('; '), EXIT.usage);
}

export const uuidArg = (name: string) => z.string({ error: `${name} is required` }).trim().pipe(z.uuid({ error: `${name}: expected a uuid` }));

/**
 * A fiat amount typed by the operator ("1500.50", "-20", "+3.5") → minor units, exactly. More decimal places
 * than the currency has (config.lamassu.fiatDecimals) are refused, never rounded.
 */
export function parseFiatAmount(text: string, decimals: number, name: string, opts: { signed?: boolean } = {}): FiatMinor {
  const trimmed = text.trim();
  if (!opts.signed && /^[+-]/.test(trimmed)) throw new CliError(`${name}: expected a positive amount like 1500.50, got ${JSON.stringify(text)}`, EXIT.usage);
  let minor: bigint;
  try {
    minor = toScaledInteger(parseDecimal(trimmed, name), decimals, name);
  } catch (err) {
    if (err instanceof DecimalError) {
      throw new CliError(`${name}: ${/more than/.test(err.message) ? `at most ${decimals} decimal place(s) for this currency` : 'expected an amount like 1500.50'} (got ${JSON.stringify(text.slice(0, 40))})`, EXIT.usage);
    }
    throw err;
  }
  if (minor === 0n) throw new CliError(`${name}: must not be zero`, EXIT.usage);
  if (minor > BigInt(Number.MAX_SAFE_INTEGER) || minor < -BigInt(Number.MAX_SAFE_INTEGER)) throw new CliError(`${name}: amount too large`, EXIT.usage);
  return fiatMinor(minor, name);
}

/** Minor units → "1500.50" (for output next to the raw minor units). */
export function formatFiat(minor: number | bigint | string, decimals: number): string {
  const v = BigInt(minor);
  const neg = v < 0n;
  const digits = (neg ? -v : v).toString().padStart(decimals + 1, '0');
  const text = decimals === 0 ? digits : `${digits.slice(0, -decimals)}.${digits.slice(-decimals)}`;
  return neg ? `-${text}` : text;
}

/** "15m", "2h", "90s", "1d" → seconds. */
export function parseDuration(text: string, name: string): number {
  const m = /^(\d+)\s*(s|m|h|d)$/.exec(text.trim());
  if (!m) throw new CliError(`${name}: expected a duration like 15m, 2h, 1d (got ${JSON.stringify(text)})`, EXIT.usage);
  return Number(m[1]) * { s: 1, m: 60, h: 3600, d: 86400 }[m[2] as 's' | 'm' | 'h' | 'd'];
}

export function positiveIntArg(text: string | undefined, name: string): number | undefined {
  if (text === undefined) return undefined;
  if (!/^\d+$/.test(text) || Number(text) < 1 || !Number.isSafeInteger(Number(text))) throw new CliError(`${name}: expected a positive whole number (got ${JSON.stringify(text)})`, EXIT.usage);
  return Number(text);
}

/**
 * A secret from an environment variable, a file or stdin — never from the command line, where it would be
 * kept in the shell history and shown by `ps`. Exactly one source must be given.
 */
export async function readSecret(
  opts: { env?: string; file?: string; stdin?: boolean },
  what: string,
  env: Record<string, string | undefined>,
  stdin: () => Promise<string> = readStdin,
): Promise<string> {
  const sources = [opts.env, opts.file, opts.stdin ? 'stdin' : undefined].filter((s) => s !== undefined);
  if (sources.length !== 1) throw new CliError(`${what}: give exactly one of --${what}-env VAR, --${what}-file PATH, --${what}-stdin`, EXIT.usage);
  let value: string | undefined;
  if (opts.env !== undefined) {
    value = env[opts.env];
    if (value === undefined) throw new CliError(`--${what}-env: environment variable ${opts.env} is not set`, EXIT.usage);
  } else if (opts.file !== undefined) {
    try {
      value = readFileSync(opts.file, 'utf8');
    } catch (err) {
      throw new CliError(`--${what}-file: cannot read ${opts.file} (${(err as NodeJS.ErrnoException).code ?? 'error'})`, EXIT.usage);
    }
  } else {
    value = await stdin();
  }
  value = value.trim();
  if (!value) throw new CliError(`${what}: empty`, EXIT.usage);
  if (!/^[\x21-\x7e]+$/.test(value)) throw new CliError(`${what}: contains whitespace or non-ASCII characters`, EXIT.usage);
  return value;
}

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(Buffer.from(chunk as Buffer));
  return Buffer.concat(chunks).toString('utf8');
}
