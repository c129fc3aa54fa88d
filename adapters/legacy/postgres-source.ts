/**
 * Reads the satmachineadmin tables from LNbits' PostgreSQL (schema `satoshimachine`) in ONE
 * `READ ONLY` REPEATABLE READ transaction: a consistent snapshot, and the server refuses any write.
 */
import pg from 'pg';
import type { LegacySnapshot, RawRow } from '../../domain/legacy-plan';
import { LEGACY_SCHEMAS, LEGACY_TABLES, LegacyLayoutError, missingColumns, type ColumnKind } from './tables';

const quote = (ident: string) => `"${ident.replace(/"/g, '""')}"`;
const US = `'YYYY-MM-DD"T"HH24:MI:SS.US'`;

/** The SELECT expression that yields the column's exact text (see tables.ts for the kinds). */
function expression(column: string, kind: ColumnKind, dataType: string): string {
  const c = quote(column);
  if (kind === 'time') {
    // timestamp without time zone: LNbits writes UTC wall time; with zone: converted to UTC. Numbers: epoch seconds.
    if (dataType === 'timestamp without time zone') return `to_char(${c}, ${US})`;
    if (dataType === 'timestamp with time zone') return `to_char(${c} AT TIME ZONE 'UTC', ${US}) || 'Z'`;
  }
  // real/double precision print their shortest exact text (extra_float_digits ≥ 1, set below); numeric and integers are exact.
  return `${c}::text`;
}

export async function readPostgresLegacy(url: string, schemaOverride?: string): Promise<LegacySnapshot> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 10_000, statement_timeout: 60_000 });
  await client.connect();
  try {
    await client.query('BEGIN TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY');
    await client.query('SET LOCAL extra_float_digits = 1');
    const { rows: cols } = await client.query<{ table_schema: string; table_name: string; column_name: string; data_type: string }>(
      `SELECT table_schema::text, table_name::text, column_name::text, data_type::text FROM information_schema.columns
        WHERE table_schema = ANY ($1::text[]) AND table_name = ANY ($2::text[])`,
      [schemaOverride ? [schemaOverride] : [...LEGACY_SCHEMAS], LEGACY_TABLES.map((t) => t.table)],
    );
    const schema = (schemaOverride ? [schemaOverride] : LEGACY_SCHEMAS).find((s) => cols.some((c) => c.table_schema === s && c.table_name === 'dca_clients'));
    if (!schema) throw new LegacyLayoutError(`no satmachineadmin tables (dca_clients) in schema ${(schemaOverride ? [schemaOverride] : LEGACY_SCHEMAS).join(' or ')} of this database`);
    const snap: LegacySnapshot = { location: `postgres schema ${schema}`, clients: [], deposits: [], payments: [], cashOuts: [] };
    for (const spec of LEGACY_TABLES) {
      const types = new Map(cols.filter((c) => c.table_schema === schema && c.table_name === spec.table).map((c) => [c.column_name, c.data_type]));
      const missing = missingColumns(spec, new Set(types.keys()));
      if (missing.length) throw new LegacyLayoutError(`${schema}.${spec.table} lacks column(s) ${missing.join(', ')}: not a satmachineadmin layout this importer knows`);
      const list = Object.entries(spec.columns).map(([name, kind]) => (types.has(name) ? `${expression(name, kind, types.get(name)!)} AS ${quote(name)}` : `NULL::text AS ${quote(name)}`));
      const { rows } = await client.query<RawRow>(`SELECT ${list.join(', ')} FROM ${quote(schema)}.${quote(spec.table)} ORDER BY ${quote('id')}`);
      snap[spec.key] = rows;
    }
    await client.query('COMMIT');
    return snap;
  } finally {
    await client.end().catch(() => undefined);
  }
}
