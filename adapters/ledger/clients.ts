/** DCA clients. The invoice key is encrypted here and decrypted only for the LNbits adapter. */
import type pg from 'pg';
import { z } from 'zod';
import { ClientNotEligibleError, LedgerNotFoundError, LedgerStateError } from '../../domain/errors';
import type { FiatMinor } from '../../domain/money';
import { decryptSecret, encryptSecret } from '../crypto/secret-box';
import { type Queryable, fiatCol, isoCol } from './db';

export const CLIENT_MODES = ['flow', 'fixed'] as const;
export const CLIENT_STATUSES = ['active', 'paused', 'closed'] as const;
export type ClientMode = (typeof CLIENT_MODES)[number];
export type ClientStatus = (typeof CLIENT_STATUSES)[number];

/** A client as other code sees it: no key material, not even encrypted. */
export interface ClientRow {
  id: string;
  name: string;
  walletId: string;
  mode: ClientMode;
  status: ClientStatus;
  balance: FiatMinor;
  currency: string;
  createdAt: string;
  updatedAt: string;
}

export const createClientInput = z.object({
  name: z.string().trim().min(1),
  walletId: z.string().trim().min(1),
  invoiceKey: z.string().min(1),
  currency: z.string().regex(/^[A-Z]{3}$/),
  mode: z.enum(CLIENT_MODES).default('flow'),
});
export type CreateClientInput = z.input<typeof createClientInput>;

const COLUMNS = 'id, name, wallet_id, mode, status, remaining_balance_fiat_minor, currency, created_at, updated_at';

export function mapClient(r: Record<string, unknown>): ClientRow {
  return {
    id: String(r.id),
    name: String(r.name),
    walletId: String(r.wallet_id),
    mode: z.enum(CLIENT_MODES).parse(r.mode),
    status: z.enum(CLIENT_STATUSES).parse(r.status),
    balance: fiatCol(r.remaining_balance_fiat_minor, 'remaining_balance_fiat_minor'),
    currency: String(r.currency),
    createdAt: isoCol(r.created_at),
    updatedAt: isoCol(r.updated_at),
  };
}

/** The AAD binds the encrypted key to its wallet id. */
export const keyAad = (walletId: string) => `client-invoice-key:${walletId}`;

/** New client with balance 0 (money arrives only through confirmed deposits or adjustments). */
export async function createClient(db: Queryable, input: CreateClientInput, encryptionKey: string): Promise<ClientRow> {
  const v = createClientInput.parse(input);
  const { rows } = await db.query(
    `INSERT INTO satoshimachine.clients (name, wallet_id, invoice_key_enc, mode, currency)
     VALUES ($1, $2, $3, $4, $5) RETURNING ${COLUMNS}`,
    [v.name, v.walletId, encryptSecret(v.invoiceKey, encryptionKey, keyAad(v.walletId)), v.mode, v.currency],
  );
  return mapClient(rows[0]);
}

export async function getClient(db: Queryable, clientId: string): Promise<ClientRow> {
  const { rows } = await db.query(`SELECT ${COLUMNS} FROM satoshimachine.clients WHERE id = $1`, [clientId]);
  if (rows.length === 0) throw new LedgerNotFoundError(`client ${clientId} not found`, 'client_id');
  return mapClient(rows[0]);
}

export async function listClients(db: Queryable): Promise<ClientRow[]> {
  const { rows } = await db.query(`SELECT ${COLUMNS} FROM satoshimachine.clients ORDER BY name, id`);
  return rows.map(mapClient);
}

export async function setClientStatus(db: Queryable, clientId: string, status: ClientStatus): Promise<ClientRow> {
  const { rows } = await db.query(`UPDATE satoshimachine.clients SET status = $2 WHERE id = $1 RETURNING ${COLUMNS}`, [clientId, z.enum(CLIENT_STATUSES).parse(status)]);
  if (rows.length === 0) throw new LedgerNotFoundError(`client ${clientId} not found`, 'client_id');
  return mapClient(rows[0]);
}

/** A new (verified) invoice key for the client's wallet — after the client rotated it in LNbits. */
export async function setClientInvoiceKey(db: Queryable, clientId: string, invoiceKey: string, encryptionKey: string): Promise<ClientRow> {
  const client = await getClient(db, clientId);
  const { rows } = await db.query(`UPDATE satoshimachine.clients SET invoice_key_enc = $2 WHERE id = $1 RETURNING ${COLUMNS}`, [
    clientId,
    encryptSecret(z.string().min(1).parse(invoiceKey), encryptionKey, keyAad(client.walletId)),
  ]);
  return mapClient(rows[0]);
}

/** For the LNbits adapter only: the client's wallet id and decrypted invoice key. Never log the result. */
export async function getClientInvoiceKey(db: Queryable, clientId: string, encryptionKey: string): Promise<{ walletId: string; invoiceKey: string }> {
  const { rows } = await db.query<{ wallet_id: string; invoice_key_enc: string | null }>(
    'SELECT wallet_id, invoice_key_enc FROM satoshimachine.clients WHERE id = $1',
    [clientId],
  );
  const r = rows[0];
  if (!r) throw new LedgerNotFoundError(`client ${clientId} not found`, 'client_id');
  // An imported client whose wallet was not linked yet (paused until `clients set-key`).
  if (r.invoice_key_enc === null) throw new ClientNotEligibleError(clientId, 'no invoice key linked yet (`satmachine clients set-key`)');
  return { walletId: r.wallet_id, invoiceKey: decryptSecret(r.invoice_key_enc, encryptionKey, keyAad(r.wallet_id)) };
}

/** Lock clients in id order (the one global lock order, so concurrent writers cannot deadlock). */
export async function lockClients(client: pg.PoolClient, clientIds: readonly string[]): Promise<Map<string, ClientRow>> {
  const { rows } = await client.query(`SELECT ${COLUMNS} FROM satoshimachine.clients WHERE id = ANY($1::uuid[]) ORDER BY id FOR UPDATE`, [[...clientIds]]);
  return new Map(rows.map((r) => [String(r.id), mapClient(r)]));
}

/**
 * A client named by the operator: its uuid, or its name (case-insensitive, trimmed) when exactly one client
 * has it. Several clients with the name → LedgerStateError listing their ids; none → LedgerNotFoundError.
 */
export async function findClient(db: Queryable, ref: string): Promise<ClientRow> {
  const text = ref.trim();
  if (z.uuid().safeParse(text).success) return getClient(db, text);
  const { rows } = await db.query(`SELECT ${COLUMNS} FROM satoshimachine.clients WHERE lower(btrim(name)) = lower($1) ORDER BY id`, [text]);
  if (rows.length === 1) return mapClient(rows[0]);
  if (rows.length === 0) throw new LedgerNotFoundError(`no client named ${JSON.stringify(text)} (give its id or its exact name; \`satmachine clients list\`)`, '<client>');
  throw new LedgerStateError(`client ${JSON.stringify(text)} is ambiguous: ${rows.length} clients have this name (${rows.map((r) => String(r.id)).join(', ')}): give the id`);
}

/** Moves the client to another wallet with its (verified) invoice key: the key's AAD binds it to the new wallet. */
export async function setClientWallet(db: Queryable, clientId: string, walletId: string, invoiceKey: string, encryptionKey: string): Promise<ClientRow> {
  const w = z.string().trim().min(1).parse(walletId);
  const { rows } = await db.query(`UPDATE satoshimachine.clients SET wallet_id = $2, invoice_key_enc = $3 WHERE id = $1 RETURNING ${COLUMNS}`, [
    clientId,
    w,
    encryptSecret(z.string().min(1).parse(invoiceKey), encryptionKey, keyAad(w)),
  ]);
  if (rows.length === 0) throw new LedgerNotFoundError(`client ${clientId} not found`, 'client_id');
  return mapClient(rows[0]);
}
