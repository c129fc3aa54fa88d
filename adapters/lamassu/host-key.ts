import { createHash, timingSafeEqual } from 'node:crypto';

/** The presented SSH host key is not the pinned one. Fingerprints are public, so both are in the message. */
export class HostKeyMismatchError extends Error {
  override name = 'HostKeyMismatchError';
  constructor(
    readonly host: string,
    readonly expected: string,
    readonly presented: string,
  ) {
    super(`SSH host key mismatch for ${host}: expected ${expected}, presented ${presented}`);
  }
}

/** `SHA256:<base64 without padding>` of a raw SSH public key blob — what `ssh-keygen -lf` prints. */
export function sha256Fingerprint(keyBlob: Buffer): string {
  return `SHA256:${createHash('sha256').update(keyBlob).digest('base64').replace(/=+$/, '')}`;
}

/** Fingerprint of an OpenSSH public key line (`ssh-ed25519 AAAA... comment`). */
export function fingerprintOfPublicKeyLine(line: string): string {
  const b64 = line.trim().split(/\s+/)[1];
  if (!b64) throw new Error('not an OpenSSH public key line');
  return sha256Fingerprint(Buffer.from(b64, 'base64'));
}

function digestOf(fingerprint: string): Buffer {
  return Buffer.from(fingerprint.replace(/^SHA256:/, ''), 'base64');
}

/** Constant-time comparison of two `SHA256:` fingerprints (padding-insensitive). */
export function fingerprintsEqual(a: string, b: string): boolean {
  const da = digestOf(a);
  const db = digestOf(b);
  // A SHA-256 digest is always 32 bytes; a length mismatch leaks nothing about the pinned value.
  return da.length === 32 && db.length === 32 && timingSafeEqual(da, db);
}
