/**
 * `satmachine export [--out DIR]`: the runbook's "Data Export for Audit" — a CSV per ledger table plus the
 * combined cash-out-to-payout audit report, from one consistent snapshot (encrypted invoice keys left out).
 * `satmachine backup [--out DIR]`: every table as JSON lines into a timestamped folder, with a manifest of
 * row counts and sha256 sums. Both stream through cursors (client/ledger-dump.ts); progress on stderr.
 */
import { existsSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { Command } from 'commander';
import { describeDatabaseUrl } from '../../adapters/lamassu/connection';
import { withContext } from '../context';
import { AUDIT_REPORT_SQL, dumpCsv, dumpJsonLines, inSnapshot, ledgerTables, tableSelect, type DumpedFile } from '../ledger-dump';
import { CliError, EXIT, print, progress, table } from '../output';

/** Secrets stay out of audit exports (they are encrypted, but an audit CSV travels further than a backup). */
const EXPORT_EXCLUDED_COLUMNS = ['invoice_key_enc'];

const stamp = () => new Date().toISOString().replace(/[-:]/g, '').replace(/\.\d+Z$/, 'Z').replace('T', '-');

function prepareDir(dir: string): string {
  const abs = path.resolve(dir);
  if (existsSync(abs) && readdirSync(abs).length > 0) throw new CliError(`--out: ${abs} exists and is not empty (an export never overwrites files)`, EXIT.usage);
  mkdirSync(abs, { recursive: true, mode: 0o700 });
  return abs;
}

function writeManifest(dir: string, manifest: Record<string, unknown>): string {
  const file = path.join(dir, 'manifest.json');
  writeFileSync(file, `${JSON.stringify(manifest, null, 2)}\n`, { mode: 0o600 });
  return file;
}

function summary(dir: string, files: DumpedFile[]): string {
  return `${table(['table', 'rows', 'file', 'sha256'], files.map((f) => [f.table, f.rows, path.basename(f.file), f.sha256.slice(0, 16)]))}\nwritten to ${dir}`;
}

async function migrations(c: import('pg').PoolClient): Promise<string[]> {
  const { rows } = await c.query(`SELECT name FROM satoshimachine.pgmigrations ORDER BY run_on, id`).catch(() => ({ rows: [] as Array<{ name: string }> }));
  return rows.map((r) => String(r.name));
}

export function registerExport(program: Command): void {
  program
    .command('export')
    .description('CSV of every ledger table plus the combined cash-out → payout audit report (one consistent snapshot)')
    .option('--out <dir>', 'directory to write (created; must be empty). Default: ./satmachine-export-<timestamp>')
    .option('--json', 'print JSON')
    .action((o: { out?: string; json?: boolean }) =>
      withContext(async (ctx) => {
        const dir = prepareDir(o.out ?? `satmachine-export-${stamp()}`);
        const createdAt = new Date().toISOString();
        const { files, applied } = await inSnapshot(ctx.pool(), async (c) => {
          const files: DumpedFile[] = [];
          for (const t of (await ledgerTables(c)).filter((t) => t !== 'pgmigrations')) {
            const f = await dumpCsv(c, await tableSelect(c, t, EXPORT_EXCLUDED_COLUMNS), t, path.join(dir, `${t}.csv`));
            progress(`exported ${t}: ${f.rows} rows`);
            files.push(f);
          }
          const report = await dumpCsv(c, AUDIT_REPORT_SQL, 'audit_report', path.join(dir, 'audit_report.csv'));
          progress(`exported audit_report: ${report.rows} rows`);
          files.push(report);
          return { files, applied: await migrations(c) };
        });
        const manifest = { kind: 'satmachine-export', createdAt, database: describeDatabaseUrl(ctx.config.databaseUrl!), migrations: applied, excludedColumns: EXPORT_EXCLUDED_COLUMNS, files: files.map((f) => ({ ...f, file: path.basename(f.file) })) };
        writeManifest(dir, manifest);
        print(Boolean(o.json), { dir, ...manifest }, () => summary(dir, files));
      }),
    );

  program
    .command('backup')
    .description('every ledger table as JSON lines into a timestamped folder, with manifest.json (row counts, sha256)')
    .option('--out <dir>', 'parent directory of the timestamped backup folder (default: .)')
    .option('--json', 'print JSON')
    .action((o: { out?: string; json?: boolean }) =>
      withContext(async (ctx) => {
        const dir = prepareDir(path.join(o.out ?? '.', `satmachine-backup-${stamp()}`));
        const createdAt = new Date().toISOString();
        const { files, applied } = await inSnapshot(ctx.pool(), async (c) => {
          const files: DumpedFile[] = [];
          for (const t of await ledgerTables(c)) {
            const f = await dumpJsonLines(c, await tableSelect(c, t), t, path.join(dir, `${t}.jsonl`));
            progress(`backed up ${t}: ${f.rows} rows`);
            files.push(f);
          }
          return { files, applied: await migrations(c) };
        });
        const manifest = { kind: 'satmachine-backup', format: 'jsonl', createdAt, database: describeDatabaseUrl(ctx.config.databaseUrl!), snapshot: 'repeatable read', migrations: applied, files: files.map((f) => ({ ...f, file: path.basename(f.file) })) };
        writeManifest(dir, manifest);
        print(Boolean(o.json), { dir, ...manifest }, () => summary(dir, files));
      }),
    );
}
