/**
 * Reads the satmachineadmin tables from LNbits' SQLite storage. LNbits 1.x keeps each extension in its own
 * file `<LNBITS_DATA_FOLDER>/ext_<schema>.sqlite3` (lnbits/db.py: Database("ext_satoshimachine") ATTACHes it as
 * schema `satoshimachine`), so inside the file the tables have their plain names (dca_clients, …).
 *
 * Read-only by construction: sql.js (SQLite compiled to WebAssembly, no native install) loads a copy of the
 * file's bytes into memory and never writes the file. A database with un-checkpointed WAL content or a hot
 * rollback journal is refused: the main file alone would not hold the committed state.
 */
import { existsSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import initSqlJs from 'sql.js';
import type { LegacySnapshot, RawRow } from '../../domain/legacy-plan';
import { LEGACY_SCHEMAS, LEGACY_TABLES, LegacyLayoutError, missingColumns, type ColumnKind } from './tables';

const quote = (ident: string) => `"${ident.replace(/"/g, '""')}"`;

/** The extension's file: the path itself, or ext_<schema>.sqlite3 inside an LNbits data folder. */
export function locateSqliteFile(from: string, schemaOverride?: string): string {
  if (!existsSync(from)) throw new LegacyLayoutError(`--from: ${from} does not exist`);
  if (!statSync(from).isDirectory()) return from;
  for (const schema of schemaOverride ? [schemaOverride] : LEGACY_SCHEMAS) {
    const file = path.join(from, `ext_${schema}.sqlite3`);
    if (existsSync(file)) return file;
  }
  throw new LegacyLayoutError(`--from: no ext_${(schemaOverride ? [schemaOverride] : LEGACY_SCHEMAS).join('.sqlite3 or ext_')}.sqlite3 in ${from}`);
}

function refuseUncheckpointed(file: string): void {
  for (const suffix of ['-wal', '-journal']) {
    const side = file + suffix;
    if (existsSync(side) && statSync(side).size > 0) {
      throw new LegacyLayoutError(`${side} is not empty: stop LNbits (or checkpoint the database) so that ${path.basename(file)} holds every committed row, then import`);
    }
  }
}

/** Exact text of a stored value: integers and texts as stored, binary floats as their shortest round-trip text. */
function cell(type: unknown, asText: unknown, value: unknown, kind: ColumnKind): string | null {
  if (type === 'null') return null;
  if (type === 'real' && kind !== 'text') return String(value as number);
  if (type === 'blob') throw new LegacyLayoutError('a BLOB where text or a number was expected');
  return String(asText);
}

export async function readSqliteLegacy(from: string, schemaOverride?: string): Promise<LegacySnapshot> {
  const file = locateSqliteFile(from, schemaOverride);
  refuseUncheckpointed(file);
  const SQL = await initSqlJs();
  const db = new SQL.Database(readFileSync(file));
  try {
    const snap: LegacySnapshot = { location: `sqlite ${file}`, clients: [], deposits: [], payments: [], cashOuts: [] };
    for (const spec of LEGACY_TABLES) {
      const info = db.exec(`SELECT name FROM pragma_table_info(${`'${spec.table}'`})`);
      const have = new Set((info[0]?.values ?? []).map((r) => String(r[0])));
      if (have.size === 0) throw new LegacyLayoutError(`${file} has no table ${spec.table}: not the satmachineadmin extension's database`);
      const missing = missingColumns(spec, have);
      if (missing.length) throw new LegacyLayoutError(`${spec.table} lacks column(s) ${missing.join(', ')}: not a satmachineadmin layout this importer knows`);
      const names = Object.keys(spec.columns);
      const list = names.flatMap((n) => (have.has(n) ? [`typeof(${quote(n)})`, `CAST(${quote(n)} AS TEXT)`, quote(n)] : [`'null'`, 'NULL', 'NULL']));
      const stmt = db.prepare(`SELECT ${list.join(', ')} FROM ${quote(spec.table)} ORDER BY ${quote('id')}`);
      const rows: RawRow[] = [];
      while (stmt.step()) {
        const v = stmt.get();
        rows.push(Object.fromEntries(names.map((n, i) => [n, cell(v[3 * i], v[3 * i + 1], v[3 * i + 2], spec.columns[n]!)])));
      }
      stmt.free();
      snap[spec.key] = rows;
    }
    return snap;
  } finally {
    db.close();
  }
}
