/**
 * Output and exit codes shared by every command. Exit codes: 0 ok, 1 the check found problems
 * (findings, failed steps), 2 bad input or config, 3 a dependency unreachable, 4 not found.
 *
 * Each `main(argv)` call runs in its own IO scope (stdout, stderr, environment, exit code), so tests can
 * run the CLI in-process and capture what it printed without touching the real process streams.
 */
import { AsyncLocalStorage } from 'node:async_hooks';

export const EXIT = { ok: 0, findings: 1, usage: 2, unavailable: 3, notFound: 4 } as const;

export class CliError extends Error {
  override name = 'CliError';
  constructor(message: string, readonly exitCode: number = EXIT.usage) {
    super(message);
  }
}

export interface Writer {
  write(text: string): unknown;
}

export interface CliIo {
  stdout: Writer;
  stderr: Writer;
  env: Record<string, string | undefined>;
  /** The command's verdict when it completes without throwing (findings, unreachable parts). */
  exitCode: number;
}

const scope = new AsyncLocalStorage<CliIo>();

export function runWithIo<T>(io: CliIo, fn: () => Promise<T>): Promise<T> {
  return scope.run(io, fn);
}

const current = (): CliIo | undefined => scope.getStore();
export const stdout = (): Writer => current()?.stdout ?? process.stdout;
export const stderr = (): Writer => current()?.stderr ?? process.stderr;
export const cliEnv = (): Record<string, string | undefined> => current()?.env ?? process.env;

/** Raise the command's exit code (the worst verdict wins: findings < unreachable). */
export function setExitCode(code: number): void {
  const io = current();
  if (io) io.exitCode = Math.max(io.exitCode, code);
  else process.exitCode = Math.max(Number(process.exitCode ?? 0), code);
}

/** Progress and warnings go to stderr, so `--json` output on stdout stays parseable. */
export function progress(message: string): void {
  stderr().write(`${message}\n`);
}

/** Prints `value` as JSON with --json, else the human text. bigint becomes a string. */
export function print(json: boolean, value: unknown, human: () => string): void {
  if (json) {
    stdout().write(`${JSON.stringify(value, (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v), 2)}\n`);
  } else {
    stdout().write(`${human()}\n`);
  }
}

/** Aligned two-column text block. */
export function kv(rows: Array<[string, string | number | boolean | null | undefined]>): string {
  const width = Math.max(...rows.map(([k]) => k.length));
  return rows.map(([k, v]) => `${k.padEnd(width)}  ${v ?? '-'}`).join('\n');
}

/** Fixed-width table. */
export function table(headers: string[], rows: Array<Array<string | number | boolean | null | undefined>>): string {
  const cells = [headers, ...rows.map((r) => r.map((c) => (c === null || c === undefined ? '-' : String(c))))];
  const widths = headers.map((_, i) => Math.max(...cells.map((r) => (r[i] ?? '').length)));
  return cells.map((r) => r.map((c, i) => (c ?? '').padEnd(widths[i]!)).join('  ').trimEnd()).join('\n');
}
