/**
 * AES-256-GCM for secrets at rest (client invoice keys). Box format: `v1.<iv>.<tag>.<ciphertext>`, base64url.
 * The 256-bit key is HKDF-SHA256 of config.encryptionKey (≥ 32 chars of operator-chosen secret), so any
 * textual key format works. `aad` binds a box to its row (e.g. the wallet id): a box copied onto another
 * row fails to open instead of silently handing out the wrong key.
 */
import { createCipheriv, createDecipheriv, hkdfSync, randomBytes } from 'node:crypto';

export class SecretBoxError extends Error {
  override name = 'SecretBoxError';
}

const VERSION = 'v1';
const IV_BYTES = 12;

function deriveKey(encryptionKey: string): Buffer {
  if (typeof encryptionKey !== 'string' || encryptionKey.length < 32) {
    throw new SecretBoxError('encryptionKey: must be at least 32 characters');
  }
  return Buffer.from(hkdfSync('sha256', Buffer.from(encryptionKey, 'utf8'), 'satoshimachine', 'secret-box v1', 32));
}

export function encryptSecret(plaintext: string, encryptionKey: string, aad = ''): string {
  const iv = randomBytes(IV_BYTES);
  const cipher = createCipheriv('aes-256-gcm', deriveKey(encryptionKey), iv);
  cipher.setAAD(Buffer.from(aad, 'utf8'));
  const ct = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);
  return [VERSION, iv.toString('base64url'), cipher.getAuthTag().toString('base64url'), ct.toString('base64url')].join('.');
}

export function decryptSecret(box: string, encryptionKey: string, aad = ''): string {
  const parts = box.split('.');
  if (parts.length !== 4 || parts[0] !== VERSION) throw new SecretBoxError('not a v1 secret box');
  const [, iv, tag, ct] = parts as [string, string, string, string];
  try {
    const decipher = createDecipheriv('aes-256-gcm', deriveKey(encryptionKey), Buffer.from(iv, 'base64url'));
    decipher.setAAD(Buffer.from(aad, 'utf8'));
    decipher.setAuthTag(Buffer.from(tag, 'base64url'));
    return Buffer.concat([decipher.update(Buffer.from(ct, 'base64url')), decipher.final()]).toString('utf8');
  } catch {
    // Never echo the box or the key: only say that it did not open.
    throw new SecretBoxError('cannot decrypt secret (wrong encryption key, wrong row or tampered data)');
  }
}
