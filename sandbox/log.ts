/**
 * The sandbox's pino logger: everything (worker, SDK, activities) goes to logs/sandbox.log with the
 * project's secret redaction, so the terminal stays readable; errors are also shown on the terminal, and
 * with --verbose every line is.
 */
import { createWriteStream } from 'node:fs';
import { Writable } from 'node:stream';
import pino, { type Logger } from 'pino';
import { redactPaths } from '../log/logger';

const LEVEL_NAMES: Record<number, string> = { 10: 'trace', 20: 'debug', 30: 'info', 40: 'warn', 50: 'error', 60: 'fatal' };

export function createSandboxLogger(opts: { file: string; level: string; echo?: (line: string) => void; onError?: (line: string) => void }): Logger {
  const file = createWriteStream(opts.file, { flags: 'a' });
  const terminal = new Writable({
    write(chunk: Buffer, _enc, done) {
      for (const line of chunk.toString('utf8').split('\n')) {
        if (!line) continue;
        try {
          const rec = JSON.parse(line) as { level: number; msg?: string; component?: string; err?: unknown };
          const text = `${LEVEL_NAMES[rec.level] ?? rec.level} ${rec.component ? `[${rec.component}] ` : ''}${rec.msg ?? ''}${rec.err ? ` — ${typeof rec.err === 'string' ? rec.err : JSON.stringify(rec.err)}` : ''}`;
          if (opts.echo) opts.echo(`    ${text}`);
          else if (rec.level >= 50) opts.onError?.(text);
        } catch {
          /* not a JSON line */
        }
      }
      done();
    },
  });
  return pino(
    { name: 'satmachine-sandbox', level: opts.level, redact: { paths: redactPaths, censor: '[redacted]' } },
    pino.multistream([{ stream: file, level: 'trace' }, { stream: terminal, level: 'trace' }]),
  );
}
