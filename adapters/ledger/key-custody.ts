/**
 * Custody of SATMACHINE_ENCRYPTION_KEY, the key that encrypts the client invoice keys at rest. A wrong key is
 * found at start (config check, worker) by opening every stored box, not after minutes of failing payouts;
 * `rotateEncryptionKey` re-encrypts every box under a new key in one transaction (all or none). Losing the
 * key means re-entering every client's invoice key (`satmachine clients set-key`). Never returns a key.
 */
import type pg from 'pg';
import { decryptSecret, encryptSecret, SecretBoxError } from '../crypto/secret-box';
import { keyAad } from './clients';
import { type Queryable, withTransaction } from './db';

export interface KeyVerification {
  /** Stored client keys. */
  stored: number;
  /** Ids of the clients whose key does not open with the given encryption key. */
  unreadable: string[];
}

export async function verifyEncryptionKey(db: Queryable | pg.Client, encryptionKey: string): Promise<KeyVerification> {
  const { rows } = await db.query<{ id: string; wallet_id: string; invoice_key_enc: string }>(
    // Imported clients not linked yet have no key (NULL): nothing to open.
    'SELECT id, wallet_id, invoice_key_enc FROM satoshimachine.clients WHERE invoice_key_enc IS NOT NULL ORDER BY id',
  );
  const unreadable: string[] = [];
  for (const r of rows) {
    try {
      decryptSecret(r.invoice_key_enc, encryptionKey, keyAad(r.wallet_id));
    } catch (err) {
      if (!(err instanceof SecretBoxError)) throw err;
      unreadable.push(r.id);
    }
  }
  return { stored: rows.length, unreadable };
}

export class KeyRotationError extends Error {
  override name = 'KeyRotationError';
}

/**
 * Every client's invoice key re-encrypted under `newKey`, in one transaction with the rows locked: a box the
 * current key cannot open aborts the whole rotation (nothing changed). Returns how many keys were rotated.
 */
export async function rotateEncryptionKey(pool: pg.Pool, currentKey: string, newKey: string): Promise<number> {
  if (newKey === currentKey) throw new KeyRotationError('the new encryption key is the current one');
  if (newKey.length < 32) throw new KeyRotationError('the new encryption key must be at least 32 characters');
  return withTransaction(pool, async (c) => {
    const { rows } = await c.query<{ id: string; wallet_id: string; invoice_key_enc: string }>(
      'SELECT id, wallet_id, invoice_key_enc FROM satoshimachine.clients WHERE invoice_key_enc IS NOT NULL ORDER BY id FOR UPDATE',
    );
    for (const r of rows) {
      let plain: string;
      try {
        plain = decryptSecret(r.invoice_key_enc, currentKey, keyAad(r.wallet_id));
      } catch {
        throw new KeyRotationError(`client ${r.id}: its key does not open with the current SATMACHINE_ENCRYPTION_KEY; nothing was rotated`);
      }
      await c.query('UPDATE satoshimachine.clients SET invoice_key_enc = $2 WHERE id = $1', [r.id, encryptSecret(plain, newKey, keyAad(r.wallet_id))]);
    }
    return rows.length;
  });
}
