/** Opens the old system's storage named by `--from`: a PostgreSQL URL (LNbits' database) or an SQLite file/folder. */
import type { LegacySnapshot } from '../../domain/legacy-plan';
import { readPostgresLegacy } from './postgres-source';
import { readSqliteLegacy } from './sqlite-source';

export { LegacyLayoutError } from './tables';

export const isPostgresUrl = (from: string): boolean => /^postgres(ql)?:\/\//i.test(from);

export function readLegacySnapshot(from: string, schema?: string): Promise<LegacySnapshot> {
  return isPostgresUrl(from) ? readPostgresLegacy(from, schema) : readSqliteLegacy(from, schema);
}
