/**
 * The satmachineadmin tables we read (its migrations m001 + m002, schema `satoshimachine`; the same tables
 * under the older schema name `satmachineadmin`) and how each column is read: `amount` as the exact text of
 * the stored number, `time` as a text the domain turns into UTC, `text` as is. See docs/migration.md.
 */
export type ColumnKind = 'text' | 'amount' | 'time';

export interface TableSpec {
  /** The row type's name in LegacySnapshot. */
  key: 'clients' | 'deposits' | 'payments' | 'cashOuts';
  table: string;
  columns: Record<string, ColumnKind>;
  /** Columns added by later migrations: read as NULL where absent. */
  optional: string[];
}

export const LEGACY_TABLES: TableSpec[] = [
  { key: 'clients', table: 'dca_clients', columns: { id: 'text', user_id: 'text', wallet_id: 'text', username: 'text', dca_mode: 'text', status: 'text' }, optional: [] },
  {
    key: 'deposits',
    table: 'dca_deposits',
    columns: { id: 'text', client_id: 'text', amount: 'amount', currency: 'text', status: 'text', notes: 'text', created_at: 'time', confirmed_at: 'time' },
    optional: [],
  },
  {
    key: 'payments',
    table: 'dca_payments',
    columns: {
      id: 'text', client_id: 'text', amount_sats: 'amount', amount_fiat: 'amount', transaction_type: 'text', lamassu_transaction_id: 'text',
      payment_hash: 'text', status: 'text', created_at: 'time', transaction_time: 'time',
    },
    optional: ['transaction_time'],
  },
  {
    key: 'cashOuts',
    table: 'lamassu_transactions',
    columns: {
      id: 'text', lamassu_transaction_id: 'text', fiat_amount: 'amount', crypto_amount: 'amount', base_amount_sats: 'amount', commission_amount_sats: 'amount',
      distributions_total_sats: 'amount', fiat_code: 'text', transaction_time: 'time',
    },
    optional: [],
  },
];

/** Schema names the extension has used, newest first (its crud.py: Database("ext_satoshimachine")). */
export const LEGACY_SCHEMAS = ['satoshimachine', 'satmachineadmin'] as const;

/** A column list the importer does not know: no guessing, the operator gets the names. */
export class LegacyLayoutError extends Error {
  override name = 'LegacyLayoutError';
}

export function missingColumns(spec: TableSpec, have: Set<string>): string[] {
  return Object.keys(spec.columns).filter((c) => !have.has(c) && !spec.optional.includes(c));
}
