/**
 * `satmachine connection test`: checks the path to Lamassu's cash_out_txs step by step (TCP, pinned host
 * key, SSH key, database, table) and prints where it breaks. Runs in the CLI process, no worker needed.
 */
import type { Config } from '../../config/schema';
import { testLamassuConnection, type ConnectionTestResult } from '../../adapters/lamassu/connection-test';

export interface ConnectionTestOptions {
  json?: boolean;
  /** Where to print (tests capture it); process.stdout by default. */
  out?: { write(text: string): unknown };
}

/** The human-readable report: one line per step, then the verdict. */
export function formatConnectionTest(result: ConnectionTestResult): string {
  const width = Math.max(...result.steps.map((s) => s.step.length), 4);
  const lines = result.steps.map((s) => `${s.ok ? 'ok  ' : 'FAIL'}  ${s.step.padEnd(width)}  ${s.detail} (${s.ms} ms)`);
  if (result.ok) lines.push(`Lamassu connection OK: ${result.rowCount} cash_out_txs rows; database clock offset ${result.clockOffsetMs} ms.`);
  else lines.push(`Lamassu connection FAILED at step "${result.steps.at(-1)?.step ?? 'config'}".`);
  return `${lines.join('\n')}\n`;
}

/** Prints the report and returns the process exit code (0 ok, 1 failed). */
export async function runConnectionTest(config: Config, opts: ConnectionTestOptions = {}): Promise<number> {
  const out = opts.out ?? process.stdout;
  const result = await testLamassuConnection(config.lamassu);
  out.write(opts.json ? `${JSON.stringify(result, null, 2)}\n` : formatConnectionTest(result));
  return result.ok ? 0 : 1;
}
