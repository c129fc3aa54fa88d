/**
 * Output and exit codes shared by every command. Exit codes: 0 ok, 1 the check found problems
 * (findings, failed steps), 2 bad input or config, 3 a dependency unreachable, 4 not found.
 */
export const EXIT = { ok: 0, findings: 1, usage: 2, unavailable: 3, notFound: 4 } as const;

export class CliError extends Error {
  override name = 'CliError';
  constructor(message: string, readonly exitCode: number = EXIT.usage) {
    super(message);
  }
}

/** Prints `value` as JSON with --json, else the human text. bigint becomes a string. */
export function print(json: boolean, value: unknown, human: () => string): void {
  if (json) {
    process.stdout.write(`${JSON.stringify(value, (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v), 2)}\n`);
  } else {
    process.stdout.write(`${human()}\n`);
  }
}

/** Aligned two-column text block. */
export function kv(rows: Array<[string, string | number | null | undefined]>): string {
  const width = Math.max(...rows.map(([k]) => k.length));
  return rows.map(([k, v]) => `${k.padEnd(width)}  ${v ?? '-'}`).join('\n');
}

/** Fixed-width table. */
export function table(headers: string[], rows: Array<Array<string | number | null | undefined>>): string {
  const cells = [headers, ...rows.map((r) => r.map((c) => (c === null || c === undefined ? '-' : String(c))))];
  const widths = headers.map((_, i) => Math.max(...cells.map((r) => (r[i] ?? '').length)));
  return cells.map((r) => r.map((c, i) => (c ?? '').padEnd(widths[i]!)).join('  ').trimEnd()).join('\n');
}
